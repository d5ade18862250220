"""Assembles a Fireside server from settings and runs it until told to stop.

Owns every long-lived piece (store, environment manager, async dispatcher, reaper, listener) and
their lifetimes: `run()` starts them, serves until the stop event, then stops every environment,
cancels the background tasks and closes the store.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fireside import __version__
from fireside.aws.auth import Authenticator
from fireside.aws.errors import ServiceError
from fireside.aws.jsonproto import JsonProtocol
from fireside.aws.model import load_service
from fireside.aws.protocol import Deferred, protocol_for
from fireside.aws.restjson import RestJsonProtocol
from fireside.cloudformation.providers import all_providers
from fireside.cloudformation.service import CloudFormation
from fireside.compute.aliases import AliasStore
from fireside.compute.async_queue import AsyncQueue
from fireside.compute.aws_names import AwsNames
from fireside.compute.code_links import CodeLinks
from fireside.compute.concurrency import Concurrency
from fireside.compute.credentials import EnvironmentCredentials
from fireside.compute.event_config import EventConfigs
from fireside.compute.function_urls import FunctionUrls
from fireside.compute.invoker import Invoker
from fireside.compute.kafka_mapping import MappingCredentials
from fireside.compute.kafka_sources import KafkaClusters
from fireside.compute.layers import LayerStore
from fireside.compute.logs import LogStore
from fireside.compute.mapping_api import MappingApi
from fireside.compute.mapping_runner import MappingRunner
from fireside.compute.mappings import EventSourceMapping, MappingStore
from fireside.compute.permissions import invoke_allowed
from fireside.compute.policies import Policies
from fireside.compute.pool import EnvironmentManager
from fireside.compute.provider import LambdaProvider, lambda_protocol
from fireside.compute.provisioned import Provisioner
from fireside.compute.registry import FunctionRegistry
from fireside.compute.targets import FunctionTargets
from fireside.compute.versions import Versions
from fireside.config import Settings
from fireside.ec2.provider import Ec2Provider
from fireside.ecr import EcrProvider, EcrStore
from fireside.edge import Edge, Service, json_response
from fireside.elb.provider import ElbProvider, LambdaFunctions
from fireside.events import (
    ArchiveOperations,
    ArchiveStore,
    BusTargets,
    EventsProvider,
    EventStore,
    Replayer,
    Router,
    Scheduler,
    retry_forever,
)
from fireside.gateway.addresses import EXECUTE_API, LAMBDA_URL, FrontDoors
from fireside.gateway.connections_api import MAX_REQUEST as _CONNECTIONS_MAX_REQUEST
from fireside.gateway.connections_api import ManagementApi, management_path
from fireside.gateway.function_urls import FunctionUrlDoor
from fireside.gateway.http_api_authorizers import Authorizers
from fireside.gateway.http_api_door import HttpApiDoor
from fireside.gateway.http_api_provider import HttpApiProvider, apigatewayv2_protocol
from fireside.gateway.http_api_store import HttpApiStore
from fireside.gateway.integration import FunctionCaller, resource_policy
from fireside.gateway.rest_api_authorizers import LambdaAuthorizers
from fireside.gateway.rest_api_door import RestApiDoor
from fireside.gateway.rest_api_provider import RestApiProvider
from fireside.gateway.rest_api_proxy import LambdaProxy
from fireside.gateway.rest_api_services import RestIntegrations, ServiceIntegration
from fireside.gateway.rest_api_store import RestApiStore
from fireside.gateway.websocket_connections import WebSocketConnections
from fireside.gateway.websocket_door import WebSocketDoor
from fireside.gateway.websocket_echo import PATH as _WEBSOCKET_ECHO
from fireside.gateway.websocket_echo import EchoDoor
from fireside.http.certificates import CertificateAuthority
from fireside.http.limits import raise_open_file_limit
from fireside.http.server import HttpServer
from fireside.http.types import Request, Response
from fireside.iam import IamProvider, IamStore
from fireside.ids import trace_id
from fireside.kafka.broker import Broker, BrokerConfig
from fireside.kafka.sasl import IamVerifier, SaslGate
from fireside.kafka.service import KafkaService
from fireside.logs import LogGroups, LogsService, LogsStore
from fireside.loop_watch import LoopWatch
from fireside.msk import Clusters, MskProvider, MskStore
from fireside.msk.inventory import report as topics_report
from fireside.outbox import Outbox
from fireside.runtimes.files import runtime_files
from fireside.s3.access import StoredObjects
from fireside.s3.provider import S3Provider, s3_protocol
from fireside.s3.targets import BucketTargets
from fireside.sandbox import SandboxMode, WarmSettings, create_backend, default_mode
from fireside.sandbox.opt import OptTrees
from fireside.sandbox.share import (
    TRUST_DIR,
    choose_share_root,
    hold,
    prepare_share_root,
    sweep_orphans,
)
from fireside.scheduler import Firer, SchedulerProvider, SchedulerStore
from fireside.service_calls import LocalServiceCalls
from fireside.sns import SnsProvider, SnsStore, TopicTargets
from fireside.sns.fanout import Fanout
from fireside.sns.http_delivery import HttpDelivery, HttpMessage
from fireside.sns.signing import Signer
from fireside.sqs import SqsProtocol, SqsProvider, SqsStore
from fireside.sqs.reader import QueueReader
from fireside.sqs.targets import QueueTargets
from fireside.ssm import SecretBox, SsmProvider, SsmStore
from fireside.store.blobs import BlobStore
from fireside.store.database import Database
from fireside.sts import StsProvider
from fireside.supervisor import Supervisor, close_all
from fireside.tables.engines import open_engine
from fireside.tables.provider import TablesProvider
from fireside.tables.reader import StreamReader
from fireside.tables.service import Tables
from fireside.tables.transfers import Transfers, TransferStore
from fireside.targets import Delivery, Refused, Sender, Targets

log = logging.getLogger(__name__)

_CODE_PATH = re.compile(r"^/_fireside/code/([0-9a-f]{64})\.zip$")
# Request bodies per service: DynamoDB's documented 16 MB request limit (BatchWriteItem),
# plus slack so near-limit requests still get the service's own validation error; STS and
# DynamoDB Streams requests are a few KB. Lambda and S3 take the server's `max_body`.
_DYNAMODB_MAX_REQUEST = 16 * 1024 * 1024
_BODY_SLACK = 1024 * 1024
_SMALL_REQUEST = 1024 * 1024
# SQS: a batch of ten messages of at most 1 MiB in all, plus JSON escaping (up to 6 bytes a
# character) so an oversized message still gets SQS's own error.
_SQS_MAX_REQUEST = 8 * 1024 * 1024
# SNS: PublishBatch's 256 KB of messages and attributes, form-encoded (up to 3 bytes a byte),
# so an oversized message still gets SNS's own error.
_SNS_MAX_REQUEST = 2 * 1024 * 1024
# PutLogEvents: 1 MiB of messages, JSON escaping (up to 6 bytes a character) and 10,000
# events' framing, so an oversized batch still gets the service's own error.
_LOGS_MAX_REQUEST = 8 * 1024 * 1024
# ImportApi's (and ImportRestApi's) OpenAPI bodies: API Gateway takes definitions of a few MB.
# (The edge bounds bodies by signing name, which both API Gateway APIs share.)
_HTTP_API_MAX_REQUEST = 8 * 1024 * 1024
#: The first path segments of API Gateway (v1) operations: how the edge tells them from
#: apigatewayv2's (`/v2/...`), which sign with the same name.
_APIGATEWAY_V1_PREFIXES = (
    "/restapis",
    "/apikeys",
    "/usageplans",
    "/account",
    "/tags",
    "/domainnames",
    "/clientcertificates",
    "/vpclinks",
    "/sdktypes",
)


@dataclass(slots=True)
class Started:
    """What a caller of `run()` learns once the server is listening."""

    host: str
    port: int
    data_dir: Path
    sandbox: str
    extra: dict[str, str] = field(default_factory=dict)


class Fireside:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        data = settings.data_dir
        data.mkdir(parents=True, exist_ok=True)
        self.sandbox_warning: str | None = None
        if settings.sandbox:
            self.sandbox_mode = SandboxMode.parse(settings.sandbox)
        else:
            self.sandbox_mode, reason = default_mode()
            if reason is not None:
                self.sandbox_warning = f"no isolation between functions and the host: {reason}"
        if os.geteuid() == 0:  # only root leaves mounts behind
            swept = sweep_orphans()
            if swept:
                log.info("removed %d shared trees left by servers whose data dir is gone", swept)
        self.share_root = prepare_share_root(choose_share_root(data), data)
        hold(self.share_root)
        self.backend = create_backend(
            self.sandbox_mode,
            self.share_root,
            data,
            runtime_files(),
            # Spares of a kind outlive idle environments: keeping one costs ~16 MB.
            warm=WarmSettings(
                spares=settings.warm_spares, lifetime=max(settings.idle_timeout, 600.0)
            ),
        )
        self.db = Database(data / "fireside.sqlite")
        self.blobs = BlobStore(data, self.share_root / "code")
        self.opt_trees = OptTrees(self.share_root / "opt")
        self.logs = LogStore(data / "logs", settings.log_function_bytes, settings.log_invoke_bytes)
        self.manager = EnvironmentManager(
            self.backend,
            self.logs,
            max_environments=settings.max_environments,
            idle_timeout=settings.idle_timeout,
        )
        #: The one owner-checked path by which a service acts on another's resources, and
        #: the durable outbox for deliveries decided inside Lambda's transactions.
        self.targets = Targets()
        self.outbox = Outbox(self.db, self.targets)
        self.queue = AsyncQueue(
            self.db,
            retry_delays=settings.async_retry_delays,
            max_event_age=settings.max_event_age,
            concurrency=settings.max_environments,
            outbox=self.outbox,
        )
        self.authenticator = Authenticator(settings.credentials, default_region=settings.region)
        self.environment_credentials = EnvironmentCredentials(self.authenticator)
        self.functions = FunctionRegistry(self.db)
        self.versions = Versions(self.functions, AliasStore(self.db))
        self.concurrency = Concurrency(self.functions, settings.account_concurrency)
        self.provisioner = Provisioner(self.db, self.versions)
        self.event_configs = EventConfigs(self.db, self.versions)
        self.policies = Policies(self.db, self.versions)
        self.function_urls = FunctionUrls(self.db, self.versions)
        self.layers = LayerStore(self.db)
        #: CloudWatch Logs: groups over the function logs above and groups of their own.
        self.cloudwatch_logs = LogsService(
            LogGroups(
                LogsStore(data / "logs.sqlite"),
                self.logs,
                self.functions,
                data / "logs-groups",
                settings.log_function_bytes,
            )
        )
        self.code_links = CodeLinks()
        self.supervisor = Supervisor()
        #: The Kafka-wire broker on its own port (`fireside.kafka`); None with kafka_port -1.
        self.kafka: KafkaService | None = None
        #: SASL/IAM (MSK's mechanisms) on Kafka listeners, verified as any AWS request is.
        kafka_iam = IamVerifier(self.authenticator.authenticate, self.authenticator.identity)
        if settings.kafka_port >= 0:
            self.kafka = KafkaService(
                data / "kafka",
                BrokerConfig(
                    auto_create_topics=settings.kafka_auto_create_topics,
                    default_partitions=settings.kafka_default_partitions,
                    max_message_bytes=settings.kafka_max_message_bytes,
                ),
                max_request_bytes=settings.kafka_max_request_bytes,
                # The default broker is the operator's, no account's: SASL/IAM is offered, and
                # demanded (of any account's valid credentials) with kafka_require_auth.
                gate=SaslGate(kafka_iam, required=settings.kafka_require_auth),
            )
        #: MSK clusters: a broker of their own each, beside the default one (`fireside.msk`).
        self.msk_clusters = Clusters(
            MskStore(data / "msk.sqlite"),
            data / "kafka" / "clusters",
            lambda: BrokerConfig(
                auto_create_topics=settings.kafka_auto_create_topics,
                default_partitions=settings.kafka_default_partitions,
                max_message_bytes=settings.kafka_max_message_bytes,
            ),
            max_request_bytes=settings.kafka_max_request_bytes,
            activation_delay=settings.msk_activation_seconds,
            verifier=kafka_iam,
        )
        self.msk = MskProvider(self.msk_clusters)
        self._http = HttpServer(self._handle, limits=settings.http, body_limit=self._body_limit)
        self._loop_watch: LoopWatch | None = None
        self._edge: Edge | None = None
        #: The HTTP front doors of functions, registered by kind (`fireside.gateway`).
        self.front_doors = FrontDoors()
        self.rest_apis = RestApiProvider(RestApiStore(data / "apigateway.sqlite"))
        self.rest_api_door = RestApiDoor(self.rest_apis, self.authenticator, access_logs=self.logs)
        self.front_doors.register(EXECUTE_API, self.rest_api_door)
        self._invoker: Invoker | None = None
        #: How every front door runs a function (`fireside.gateway.integration`).
        self.function_caller: FunctionCaller | None = None
        self._provider: LambdaProvider | None = None
        self.tables = TablesProvider(
            Tables(
                open_engine(settings.tables_backend, data),
                ttl_interval=settings.tables_ttl_interval,
                shard_lifetime=settings.tables_shard_lifetime,
            )
        )
        self.s3 = S3Provider.open(data / "s3")
        self.sqs = SqsProvider(
            SqsStore(data / "sqs.sqlite"), name_reuse_wait=settings.sqs_name_reuse_wait
        )
        self.targets.register("sqs", QueueTargets(self.sqs))
        #: Lambda event-source mappings (SQS queues) and their pollers.
        self.mappings = MappingStore(self.db)
        #: The MSK clusters Kafka mappings resolve cluster ARNs with (self-managed sources
        #: name their brokers).
        self.kafka_clusters: KafkaClusters = self.msk_clusters
        self.mapping_runner = MappingRunner(
            self.mappings,
            QueueReader(self.sqs),
            StreamReader(self.tables.tables),
            self._run_batch,
            self._send_mapping_failure,
            self.kafka_clusters,
            MappingCredentials(self._mapping_credentials, self.environment_credentials.revoke),
        )
        self.targets.register("lambda", FunctionTargets(self.queue, self.policies))
        #: SNS: topics fan out through `targets`; other services publish through it too.
        #: HTTP(S) subscriptions are posted to by `sns_http`, a durable outbox; every
        #: envelope is signed with `sns_signer` (bound to the endpoint once it listens).
        self.sns_signer = Signer(data / "sns-signing")
        self.sns_http = HttpDelivery(
            data / "sns-http.sqlite",
            self.sns_signer,
            self.targets,
            verify_tls=settings.sns_https_verify,
        )
        sns_store = SnsStore(data / "sns.sqlite")
        self.sns_retries = Outbox(sns_store, self.targets)
        self.sns = SnsProvider(
            sns_store,
            Fanout(
                self.targets,
                http=self.sns_http,
                http_message=HttpMessage,
                retries=self.sns_retries,
            ),
        )
        self.targets.register("sns", TopicTargets(self.sns))
        #: EventBridge: buses and rules; PutEvents hands matched events to `targets`.
        self.event_store = EventStore(data / "events.sqlite")
        self.event_archives = ArchiveStore(self.event_store.conn)
        router = Router(self.event_store, self.targets)
        self.targets.register("events", BusTargets(self.event_store, router, self.event_archives))
        self.events = EventsProvider(
            self.event_store, router, ArchiveOperations(self.event_store, self.event_archives)
        )
        self.event_schedules = Scheduler(self.event_store, router)
        #: EventBridge Scheduler: schedules fired to their targets through `targets`.
        scheduler_store = SchedulerStore(data / "scheduler.sqlite")
        self.schedule_firer = Firer(scheduler_store, self.targets)
        self.scheduler = SchedulerProvider(scheduler_store, self.schedule_firer)
        self.event_replays = Replayer(self.event_archives, router)
        #: SSM Parameter Store: parameters per account and region; SecureStrings sealed with
        #: a key of this data directory.
        self.ssm = SsmProvider(SsmStore(data / "ssm.sqlite"), SecretBox(data / "ssm.key"))
        #: ECR: repositories only (no images), for `cdk bootstrap` and templates.
        self.ecr = EcrProvider(EcrStore(data / "ecr.sqlite"))
        #: What API Gateway's service integrations call (filled in when the edge is built).
        self.service_calls = LocalServiceCalls()
        #: CloudFormation: stacks whose resources the providers make through `service_calls`,
        #: as the stack's account.
        self.cloudformation = CloudFormation(
            data / "cloudformation.sqlite",
            all_providers(),
            self.service_calls.run,
            placeholders=settings.cfn_unsupported_placeholders,
            custom_timeout=settings.cfn_custom_resource_timeout,
            minute=settings.cfn_minute,
        )
        #: Open WebSocket connections of every WebSocket API (in memory: ids survive no
        #: restart, as on AWS), served to functions by the `@connections` API.
        self.websocket_connections = WebSocketConnections(
            idle_timeout=settings.websocket_idle_timeout,
            lifetime=settings.websocket_lifetime,
            connect_rate=settings.websocket_connect_rate,
            max_frame=settings.websocket_max_frame,
            max_message=settings.websocket_max_message,
            max_connections=settings.websocket_max_connections,
            send_timeout=settings.websocket_send_timeout,
        )
        self.websocket_echo = EchoDoor(self.websocket_connections, settings.region)
        #: API Gateway HTTP APIs (`apigatewayv2`): their control plane and store.
        self.http_apis = HttpApiProvider(HttpApiStore(data / "http-apis.sqlite"))
        #: In-process S3 for the other services: table exports, code from S3, destinations.
        self.objects = StoredObjects(self.s3.store)
        self.targets.register("s3", BucketTargets(self.objects))
        #: S3 event notifications: queued with each change in the S3 store's own outbox.
        self.s3_outbox = self.s3.attach_notifications(
            Outbox(self.s3.store, self.targets), self.targets
        )
        #: IAM: global, per account; roles and policies stored and returned, not enforced.
        self.iam = IamProvider(IamStore(data / "iam.sqlite"), self.authenticator.identity)
        #: EC2's networking control plane (VPCs, subnets, security groups...): records only.
        self.ec2 = Ec2Provider(data)
        #: Application Load Balancers (`elbv2`): listeners are ports on the listen host.
        self.elb = ElbProvider(
            data,
            settings.host,
            LambdaFunctions(self.versions, self.policies),
            limits=settings.http,
            networks=self.ec2,
        )
        self.tables.attach_transfers(
            Transfers(
                self.tables.tables,
                TransferStore(data / "tables-transfers.sqlite"),
                self.objects,
            )
        )

    def _aws_names(self) -> AwsNames | None:
        """AWS's hostnames inside environments with a network of their own: Fireside's edge
        over TLS, with a certificate authority made once per data directory."""
        if not self.backend.private_network:
            return None  # a process sandbox uses the host's resolver: AWS_ENDPOINT_URL only
        authority = CertificateAuthority(self.settings.data_dir / "tls")
        authority.write_trust(self.share_root / TRUST_DIR)
        return AwsNames(self._http.adopt, authority.server_context())

    async def _run_batch(
        self, mapping: EventSourceMapping, payload: bytes
    ) -> tuple[bytes, str | None]:
        """An event-source mapping's synchronous invoke of its function with one batch."""
        assert self._invoker is not None
        _, outcome = await self._invoker.call(
            mapping.account,
            mapping.region,
            mapping.function,
            mapping.qualifier,
            payload,
            request_id=str(uuid.uuid4()),
            trace=trace_id(),
        )
        return outcome.payload, outcome.function_error

    def _mapping_credentials(self, mapping: EventSourceMapping) -> tuple[str, str, str] | None:
        """Keys a Kafka mapping signs in to an IAM cluster with: its own account's, a session
        of its function's execution role (None when the function is gone)."""
        function = self.functions.get(mapping.account, mapping.region, mapping.function)
        if function is None:
            return None
        return self.environment_credentials.issue(mapping.account, function.role, function.name)

    def _send_mapping_failure(self, mapping: EventSourceMapping, record: dict[str, Any]) -> None:
        """A stream mapping's given-up batch, to its OnFailure destination, as the function's
        account (its execution role)."""
        if mapping.on_failure is None:
            return
        extra: dict[str, Any] = {}
        if mapping.on_failure.startswith("arn:aws:s3:::"):
            if "KafkaBatchInfo" in record:  # the first topic-partition of the batch
                shard = next(iter(record["KafkaBatchInfo"]["recordsInfo"]))
            else:
                shard = record["DDBStreamBatchInfo"]["shardId"]
            when = time.strftime("%Y/%m/%d/%Y-%m-%dT%H.%M.%S", time.gmtime())
            extra = {
                "key": f"aws/lambda/{mapping.uuid}/{shard}/{when}-{uuid.uuid4()}",
                "content_type": "application/json",
            }
        outcome = self.targets.send(
            Delivery(
                Sender(mapping.account, mapping.region, None, mapping.arn),
                mapping.on_failure,
                json.dumps(record),
                extra=extra,
            )
        )
        if isinstance(outcome, Refused):
            log.warning(
                "event-source mapping %s: on-failure record not delivered to %s: %s: %s",
                mapping.uuid,
                mapping.on_failure,
                outcome.code,
                outcome.reason,
            )

    def _build(self, endpoint_url: str) -> Edge:
        self._invoker = Invoker(
            self.functions,
            self.blobs,
            self.manager,
            self.queue,
            endpoint_url=endpoint_url,
            work_root=self.settings.data_dir / "envs",
            credentials_for=self.environment_credentials.issue,
            revoke_credentials=self.environment_credentials.revoke,
            serve_endpoint=self._http.adopt,
            aws_names=self._aws_names(),
            egress=self.settings.egress,
            private_egress=self.settings.egress_private,
            opt_trees=self.opt_trees,
            versions=self.versions,
            concurrency=self.concurrency,
            policies=self.policies,
        )
        self._provider = LambdaProvider(
            self.functions,
            self.blobs,
            self._invoker,
            self.layers,
            self.versions,
            self.concurrency,
            self.provisioner,
            self.event_configs,
            self.objects,
            self.code_links,
            self.function_urls,
            self.policies,
        )
        self.function_caller = FunctionCaller(self._invoker, resource_policy(self.policies))
        self.rest_api_door.integrate = RestIntegrations(
            LambdaProxy(self.function_caller), ServiceIntegration(self.service_calls)
        )
        self.rest_api_door.authorize = LambdaAuthorizers(self.function_caller)
        self.elb.bind(self.function_caller)
        self.front_doors.register(
            LAMBDA_URL,
            FunctionUrlDoor(self.function_urls, self.function_caller, self.authenticator),
        )
        # WebSocket APIs before HTTP APIs (each door answers None for the other's APIs).
        self.front_doors.register(
            EXECUTE_API,
            WebSocketDoor(
                self.http_apis.store,
                self.function_caller,
                self.websocket_connections,
                authenticator=self.authenticator,
            ),
        )
        self.front_doors.register(
            EXECUTE_API,
            HttpApiDoor(
                self.http_apis.store,
                self.function_caller,
                Authorizers(
                    self.function_caller,
                    self.authenticator,
                    jwks_files=self.settings.jwks_dir or self.settings.data_dir / "jwks",
                ),
                logs=self.logs,
                services=self.service_calls,
            ),
        )
        services = [
            Service(
                "lambda",
                lambda_protocol(),
                {
                    **self._provider.operations(),
                    **MappingApi(
                        self.mappings,
                        self.mapping_runner,
                        self.versions,
                        QueueReader(self.sqs),
                        StreamReader(self.tables.tables),
                    ).operations(),
                },
                path_prefixes=(
                    "/2015-03-31/",
                    "/2016-08-19/",
                    "/2017-03-31/",
                    "/2017-10-31/",
                    "/2018-10-31/",
                    "/2019-09-25/",
                    "/2019-09-30/",
                    "/2020-04-22/",
                    "/2020-06-30/",
                    "/2021-10-31/",
                    "/2021-11-15/",
                    "/2014-11-13/",
                ),
            )
        ]
        services.append(
            Service(
                "dynamodb",
                protocol_for(load_service("dynamodb")),
                self.tables.operations(),
                target_prefix="DynamoDB_20120810",
                max_body=_DYNAMODB_MAX_REQUEST + _BODY_SLACK,
            )
        )
        services.append(
            Service(
                "dynamodbstreams",
                protocol_for(load_service("dynamodbstreams")),
                self.tables.stream_operations(),
                target_prefix="DynamoDBStreams_20120810",
                max_body=_SMALL_REQUEST,
            )
        )
        services.append(
            Service(
                "sts",
                protocol_for(load_service("sts")),
                StsProvider(self.authenticator).operations(),
                max_body=_SMALL_REQUEST,
            )
        )
        services.append(Service("s3", s3_protocol(), self.s3.operations()))
        services.append(
            Service(
                "sqs",
                SqsProtocol(),
                self.sqs.operations(),
                target_prefix="AmazonSQS",
                max_body=_SQS_MAX_REQUEST,
            )
        )
        self.sns.fanout.endpoint_url = endpoint_url
        self.sns.fanout.signer = self.sns_signer.bound(endpoint_url)
        services.append(
            Service(
                "sns",
                protocol_for(load_service("sns")),
                self.sns.operations(),
                # Publish takes 256 KB; form encoding can triple it.
                max_body=_SNS_MAX_REQUEST,
                # The links SNS puts in its messages: SubscribeURL, UnsubscribeURL.
                unsigned_actions=frozenset({"ConfirmSubscription", "Unsubscribe"}),
            )
        )
        services.append(
            Service(
                "events",
                protocol_for(load_service("events")),
                self.events.operations(),
                target_prefix="AWSEvents",
                # PutEvents takes 256 KB of entries; JSON escaping can double that.
                max_body=_SMALL_REQUEST,
            )
        )
        services.append(
            Service(
                "apigateway",
                protocol_for(load_service("apigateway")),
                self.rest_apis.operations(),
                path_prefixes=_APIGATEWAY_V1_PREFIXES,
                prefixes_only=True,
                max_body=_HTTP_API_MAX_REQUEST,
            )
        )
        services.append(
            Service(
                "apigatewayv2",
                apigatewayv2_protocol(),
                self.http_apis.operations(),
                path_prefixes=("/v2/",),
                max_body=_HTTP_API_MAX_REQUEST,
            )
        )
        services.append(
            Service(
                "execute-api",
                # Data over 128 KB is PayloadTooLargeException (413), not a validation error.
                RestJsonProtocol(
                    load_service("apigatewaymanagementapi"),
                    unchecked={"PostToConnection": frozenset({"Data"})},
                ),
                ManagementApi(self.websocket_connections).operations(),
                path_prefixes=("/@connections/",),
                max_body=_CONNECTIONS_MAX_REQUEST,
                path_rewrite=management_path,
            )
        )
        services.append(
            Service(
                "scheduler",
                protocol_for(load_service("scheduler")),
                self.scheduler.operations(),
                path_prefixes=("/schedules", "/schedule-groups"),
                # A schedule's target Input is at most 256 KB; JSON escaping can double it.
                max_body=_SMALL_REQUEST,
            )
        )
        services.append(
            Service(
                "kafka",
                protocol_for(load_service("kafka")),
                self.msk.operations(),
                path_prefixes=("/v1/clusters", "/api/v2/clusters"),
                max_body=_SMALL_REQUEST,
            )
        )
        services.append(
            Service(
                "ssm",
                protocol_for(load_service("ssm")),
                self.ssm.operations(),
                target_prefix="AmazonSSM",
                # PutParameter takes 8 KB values; JSON escaping can multiply them.
                max_body=_SMALL_REQUEST,
            )
        )
        services.append(
            Service(
                "ecr",
                # ECR refuses a bad repository name in its own words, not Coral's: the
                # provider checks constraints itself (`fireside.ecr.provider`).
                JsonProtocol(load_service("ecr"), constraints=False),
                self.ecr.operations(),
                target_prefix="AmazonEC2ContainerRegistry_V20150921",
                max_body=_SMALL_REQUEST,
            )
        )
        services.append(
            Service(
                "iam",
                protocol_for(load_service("iam")),
                self.iam.operations(),
                # A policy document is at most 128 KB; form encoding can triple it.
                max_body=_SMALL_REQUEST,
            )
        )
        services.append(
            Service(
                "logs",
                JsonProtocol(
                    load_service("logs"),
                    validation_code="InvalidParameterException",
                    echo_values=False,
                ),
                self.cloudwatch_logs.operations(),
                target_prefix="Logs_20140328",
                max_body=_LOGS_MAX_REQUEST,
            )
        )
        services.append(
            Service(
                "elbv2",
                protocol_for(load_service("elbv2")),
                self.elb.operations(),
                max_body=_SMALL_REQUEST,
            )
        )
        services.append(
            Service(
                "ec2",
                Deferred(lambda: protocol_for(load_service("ec2"))),
                self.ec2.operations(),
                max_body=_SMALL_REQUEST,
                signing_name="ec2",
            )
        )
        self.cloudformation.bind(endpoint_url, aws_names=self.backend.private_network)
        services.append(
            Service(
                "cloudformation",
                protocol_for(load_service("cloudformation")),
                self.cloudformation.operations(),
                # TemplateBody is at most 51,200 bytes; form encoding can triple it.
                max_body=_SMALL_REQUEST,
            )
        )
        self.service_calls.serve(services, endpoint_url)
        return Edge(
            self.authenticator,
            services,
            self._internal,
            endpoint_url,
            self.settings.region,
            front_doors=self.front_doors,
        )

    def _body_limit(self, path: str, headers: Mapping[str, str]) -> int | None:
        return self._edge.body_limit(path, headers) if self._edge is not None else None

    async def _handle(self, request: Request) -> Response:
        assert self._edge is not None
        return await self._edge(request)

    async def _internal(self, request: Request) -> Response:
        path = request.path
        if path == "/_fireside/health":
            if self._may_see_details(request):
                return json_response(200, self.health())
            return json_response(200, {"status": "running"})
        if path == "/_fireside/kafka/topics" and request.method == "GET":
            if not self._may_see_details(request):
                return json_response(403, {"message": "Signed by a configured key only."})
            return json_response(200, topics_report(self._brokers()))
        if path.startswith("/_fireside/cloudformation/"):
            answered = await self.cloudformation.internal(request)
            if answered is not None:
                return answered
        if path == self.sns_signer.cert_path and request.method in ("GET", "HEAD"):
            # SNS's signing certificate: endpoints fetch it, unsigned, to verify messages.
            return Response(
                200, [("Content-Type", "application/x-pem-file")], self.sns_signer.certificate_pem()
            )
        if path == "/_fireside/echo" and self.settings.bench_echo:
            return Response(200, [("Content-Type", "application/json")], request.body)
        if path.startswith(_WEBSOCKET_ECHO) and self.settings.bench_echo:
            return self.websocket_echo(request)
        match = _CODE_PATH.match(path)
        if match and request.method in ("GET", "HEAD"):
            refused = self.code_links.check(match[1], request.query)
            if refused is not None:  # as S3 refuses a presigned URL
                return Response(
                    403,
                    [("Content-Type", "application/xml")],
                    f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
                    f"<Message>{refused}</Message></Error>".encode(),
                )
            archive = self.blobs.archive_path(match[1])
            if archive.exists():
                data = await asyncio.to_thread(archive.read_bytes)
                return Response(200, [("Content-Type", "application/zip")], data)
        return json_response(404, {"message": f"No such Fireside resource: {path}"})

    def _brokers(self) -> list[tuple[str, str, Broker]]:
        """Every running Kafka broker: the default one, then each MSK cluster's."""
        found: list[tuple[str, str, Broker]] = []
        if self.kafka is not None and self.kafka.server.port:
            config = self.kafka.broker.config
            found.append(("default broker", f"{config.host}:{config.port}", self.kafka.broker))
        clusters = self.msk_clusters
        for arn, service in sorted(clusters.services.items()):
            record = clusters.records[arn]
            found.append((f"MSK cluster {arn}", clusters.bootstrap_of(record), service.broker))
        return found

    def _may_see_details(self, request: Request) -> bool:
        """Health details (functions' counts, queues, the sandbox) are for the operator: anyone
        on a server without credentials, else a request signed by a configured key (not a
        function's or an STS session's)."""
        if not self.settings.credentials:
            return True
        try:
            caller = self.authenticator.authenticate(request)
        except ServiceError:
            return False
        return caller.signed and not self.authenticator.is_temporary(caller.access_key_id)

    def health(self) -> dict[str, object]:
        return {
            "status": "running",
            "version": __version__,
            "sandbox": self.sandbox_mode.value,
            "sandbox_detail": self.backend.describe(),
            "services": self.supervisor.health(),
            "environments": self.manager.stats(),
            "warm": self.backend.stats(),
            "pending_async_events": self.queue.pending(),
            "pending_deliveries": self.outbox.pending(),
            "dropped_deliveries": self.outbox.dropped,
            "events_failed_invocations": sum(self.events.router.failed_invocations.values()),
            "sns_http_deliveries": self.sns_http.stats(),
            "scheduler_failed_invocations": sum(self.schedule_firer.failed_invocations.values()),
            "events_sent_to_dlq": sum(self.events.router.sent_to_dlq.values()),
            "events_pending_retries": self.events.router.outbox.pending(),
            "sns_failed_deliveries": sum(self.sns.fanout.failed.values()),
            "sns_dead_lettered": sum(self.sns.fanout.dead_lettered.values()),
            "sns_pending_retries": self.sns_retries.pending(),
            "logs_live_tail_sessions": self.cloudwatch_logs.live_tail.sessions,
            **({"loop_stalls": self._loop_watch.stats()} if self._loop_watch else {}),
        }

    async def run(
        self,
        stop: asyncio.Event,
        on_started: Callable[[Started], None] | None = None,
    ) -> None:
        settings = self.settings
        # One descriptor per connection: the cap, not the default soft limit, should bind.
        raise_open_file_limit(
            settings.http.max_connections + settings.websocket_max_connections + 1024
        )
        port = await self._http.listen(settings.host, settings.port)
        settings.port = port
        self._edge = self._build(settings.endpoint_url)
        assert self._provider is not None and self._invoker is not None
        self._provider.resume()
        self.provisioner.start(self._invoker.provision, self._invoker.release_provisioned)
        self.tables.start()
        invoker, supervisor = self._invoker, self.supervisor
        supervisor.start("lambda", "reaper", self.manager.reap_forever)
        supervisor.start(
            "lambda",
            "async-dispatch",
            lambda: self.queue.run(
                invoker.deliver,
                self.event_configs.policy,
                functools.partial(invoke_allowed, policies=self.policies),
            ),
        )
        supervisor.start("lambda", "outbox", self.outbox.run)
        supervisor.start("s3", "notifications", self.s3_outbox.run)
        supervisor.start("sns", "retries", self.sns_retries.run)
        supervisor.start("lambda", "event-source-mappings", self.mapping_runner.run)
        supervisor.start("dynamodb", "ttl-sweep", self.tables.sweep_forever)
        if self.tables.shared:
            supervisor.start("dynamodb", "catalog-refresh", self.tables.refresh_forever)
        supervisor.start("events", "schedules", self.event_schedules.run)
        self.sns_http.endpoint_url = settings.endpoint_url
        supervisor.start("sns", "http-delivery", self.sns_http.run)
        supervisor.start("scheduler", "firing", self.schedule_firer.run)
        events_router = self.events.router
        supervisor.start(
            "events",
            "retries",
            lambda: retry_forever(events_router.outbox, events_router.retry_due, time.time),
        )
        supervisor.start("events", "replays", self.event_replays.run)
        supervisor.start("events", "archive-retention", self.event_archives.expire_forever)
        supervisor.start("sqs", "move-tasks", self.sqs.run_moves)
        supervisor.start("cloudformation", "stack-operations", self.cloudformation.run)
        supervisor.start("logs", "retention", self.cloudwatch_logs.expire_forever)
        supervisor.start("apigatewayv2", "websocket-deadlines", self.websocket_connections.run)
        supervisor.declare("apigatewaymanagementapi")
        await self.elb.start()
        supervisor.start("elbv2", "health-checks", self.elb.health.run)
        for service in ("s3", "sts", "apigateway", "apigatewayv2", "ssm", "ecr", "iam", "ec2"):
            supervisor.declare(service)
        extra: dict[str, str] = {}
        if self.kafka is not None:
            extra["kafka"] = await self._start_kafka(self.kafka)
        await self.msk_clusters.start(settings.host, self._kafka_host())
        supervisor.start("kafka", "msk-clusters", self.msk_clusters.run)
        if settings.loop_watch_ms > 0:  # once started: loading the service models takes long
            self._loop_watch = LoopWatch(asyncio.get_running_loop(), settings.loop_watch_ms / 1000)
            self._loop_watch.start()
        if on_started is not None:
            on_started(
                Started(settings.host, port, settings.data_dir, self.backend.describe(), extra)
            )
        try:
            await stop.wait()
        finally:
            await self._shutdown()

    def _kafka_host(self) -> str:
        """The host Kafka clients are told to connect to."""
        settings = self.settings
        return settings.kafka_advertised_host or (
            "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host
        )

    async def _start_kafka(self, kafka: KafkaService) -> str:
        """Bind the broker's listener and serve it under the supervisor; where it listens."""
        settings = self.settings
        host = self._kafka_host()
        kafka.broker.config.host = host
        try:
            kafka_port = await kafka.start(settings.host, settings.kafka_port)
        except OSError as exc:
            log.error("kafka: cannot listen on port %d: %s", settings.kafka_port, exc)
            return f"not started (port {settings.kafka_port}: {exc.strerror})"
        self.supervisor.start("kafka", "listener", kafka.server.serve_forever)
        self.supervisor.start("kafka", "retention", kafka.broker.retain_forever)
        return f"{host}:{kafka_port}"

    async def _close_kafka(self) -> None:
        if self.kafka is not None:
            await self.kafka.close()
        await self.msk_clusters.close()

    async def _shutdown(self) -> None:
        if self._loop_watch is not None:  # what shutting down holds the loop for is expected
            self._loop_watch.stop()
        provider = self._provider
        await close_all(
            [
                # First: each $disconnect may run a function, whose Runtime API is served by
                # the HTTP listener.
                ("WebSocket connections", self.websocket_connections.close_all),
                ("the HTTP listener", self._http.close),
                ("ALB listeners", self.elb.ports.close_all),
                ("the Kafka broker", self._close_kafka),
                ("background loops", self.supervisor.close),
                ("Lambda", provider.close if provider is not None else lambda: None),
                ("provisioned concurrency", self.provisioner.close),
                ("execution environments", self.manager.close),
                ("the sandbox backend", self.backend.close),
                ("layer trees", self.opt_trees.close),
                ("logs", self.logs.close),
                ("CloudWatch Logs", self.cloudwatch_logs.close),
                ("tables", self.tables.close),
                ("S3", self.s3.close),
                ("SQS", self.sqs.close),
                ("SNS", self.sns.close),
                ("SSM", self.ssm.close),
                ("ECR", self.ecr.close),
                ("REST APIs", self.rest_apis.store.close),
                ("HTTP APIs", self.http_apis.store.close),
                ("CloudFormation", self.cloudformation.close),
                ("EventBridge", self.event_store.close),
                ("EventBridge Scheduler", self.scheduler.store.close),
                ("SNS HTTP deliveries", self.sns_http.close),
                ("IAM", self.iam.close),
                ("Elastic Load Balancing", self.elb.state.close),
                ("EC2", self.ec2.close),
                ("MSK", self.msk_clusters.store.close),
                ("the Lambda store", self.db.close),
            ]
        )
