"""The MSK provider (`kafka`, rest-json): clusters (V1 and V2 shapes), bootstrap brokers,
nodes and tags, per account and region. Topic operations are `fireside.msk.topics`'.

The protocol layer checks what the model says (required members, types); this module checks
the rest in MSK's words. A cluster is Fireside's own broker (`fireside.msk.clusters`), so
settings that shape AWS infrastructure (subnets, instance types, storage, encryption) are
recorded and echoed, not acted on. Another account's cluster is NotFound everywhere.
"""

from __future__ import annotations

import re
import uuid as uuidlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.aws.errors import ModelledErrors, ServiceError
from fireside.aws.pagination import token_page
from fireside.msk.clusters import Clusters
from fireside.msk.store import ClusterRecord
from fireside.msk.topics import TopicOperations

__all__ = ["MskProvider"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

error = ModelledErrors("kafka")

_NAME: Final = re.compile(r"^[0-9A-Za-z][0-9A-Za-z-]{0,63}$")
_MAX_TAGS: Final = 50
_CLUSTER_ARN: Final = re.compile(r"^arn:aws[a-z-]*:kafka:[a-z0-9-]+:\d{12}:cluster/[^/]+/[^/]+$")
#: MSK's quota: clusters per account and region (Fireside's bound on listeners and files).
MAX_CLUSTERS: Final = 100


def bad_request(message: str, field: str | None = None) -> ServiceError:
    extra: dict[str, Any] = {"InvalidParameter": field} if field else {}
    return error("BadRequestException", message, **extra)


def not_found(arn: str) -> ServiceError:
    return error(
        "NotFoundException",
        f"The requested resource {arn} could not be found.",
        InvalidParameter="clusterArn",
    )


def _time(value: float) -> datetime:
    return datetime.fromtimestamp(value, UTC)


def _check_tags(tags: dict[str, str]) -> None:
    if len(tags) > _MAX_TAGS:
        raise bad_request(f"A resource can have at most {_MAX_TAGS} tags.", "tags")
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or len(value) > 256:
            raise bad_request(f"The tag {key!r} is not valid.", "tags")


class MskProvider:
    def __init__(self, clusters: Clusters) -> None:
        self.clusters = clusters
        self.topics = TopicOperations(clusters, self.cluster)
        #: (account, region, name) of clusters being created (not yet in `clusters.records`).
        self._naming: set[tuple[str, str, str]] = set()

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateCluster": self.create_cluster,
            "CreateClusterV2": self.create_cluster_v2,
            "DescribeCluster": self.describe_cluster,
            "DescribeClusterV2": self.describe_cluster_v2,
            "ListClusters": self.list_clusters,
            "ListClustersV2": self.list_clusters_v2,
            "DeleteCluster": self.delete_cluster,
            "GetBootstrapBrokers": self.get_bootstrap_brokers,
            "ListNodes": self.list_nodes,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
            **self.topics.operations(),
        }

    def cluster(self, ctx: RequestContext, arn: str) -> ClusterRecord:
        record = self.clusters.find(ctx.account_id, ctx.region, arn)
        if record is None:
            raise not_found(arn)
        return record

    # -- create --------------------------------------------------------------------------------
    async def _create(
        self,
        ctx: RequestContext,
        name: str,
        cluster_type: str,
        settings: dict[str, Any],
        tags: dict[str, str],
        brokers: int,
        version: str,
    ) -> ClusterRecord:
        if not _NAME.match(name):
            raise bad_request(
                "The parameter value contains one or more characters that are not valid.",
                "clusterName",
            )
        _check_tags(tags)
        mine = [
            r
            for r in self.clusters.records.values()
            if r.account == ctx.account_id and r.region == ctx.region
        ]
        key = (ctx.account_id, ctx.region, name)
        if any(r.name == name for r in mine) or key in self._naming:
            raise error(
                "ConflictException",
                "A resource with this name already exists.",
                InvalidParameter="clusterName",
            )
        if len(mine) >= MAX_CLUSTERS:
            raise bad_request(f"You have reached the limit of {MAX_CLUSTERS} clusters.")
        record = ClusterRecord(
            ctx.account_id,
            ctx.region,
            name,
            str(uuidlib.uuid4()),
            cluster_type,
            tags=tags,
            settings=settings,
            brokers=brokers,
            kafka_version=version,
        )
        self._naming.add(key)  # two concurrent creates of one name: the second is refused
        try:
            await self.clusters.create(record)
        finally:
            self._naming.discard(key)
        return record

    async def create_cluster(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        brokers = params["NumberOfBrokerNodes"]
        if not 1 <= brokers <= 30:
            raise bad_request(
                "The number of broker nodes must be between 1 and 30.", "numberOfBrokerNodes"
            )
        settings = {k: v for k, v in params.items() if k not in ("ClusterName", "Tags")}
        record = await self._create(
            ctx,
            params["ClusterName"],
            "PROVISIONED",
            settings,
            params.get("Tags") or {},
            brokers,
            params["KafkaVersion"],
        )
        return {"ClusterArn": record.arn, "ClusterName": record.name, "State": record.state}

    async def create_cluster_v2(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        provisioned, serverless = params.get("Provisioned"), params.get("Serverless")
        if (provisioned is None) == (serverless is None):
            raise bad_request("Specify either Provisioned or Serverless, not both or neither.")
        if provisioned is not None:
            brokers = provisioned["NumberOfBrokerNodes"]
            if not 1 <= brokers <= 30:
                raise bad_request("The number of broker nodes must be between 1 and 30.")
            version, kind, settings = provisioned["KafkaVersion"], "PROVISIONED", provisioned
        else:
            brokers, version, kind, settings = 1, "3.6.0", "SERVERLESS", serverless or {}
        record = await self._create(
            ctx, params["ClusterName"], kind, settings, params.get("Tags") or {}, brokers, version
        )
        return {
            "ClusterArn": record.arn,
            "ClusterName": record.name,
            "State": record.state,
            "ClusterType": record.cluster_type,
        }

    # -- describe / list -----------------------------------------------------------------------
    def _info_v1(self, record: ClusterRecord) -> dict[str, Any]:
        s = record.settings
        info: dict[str, Any] = {
            "ClusterArn": record.arn,
            "ClusterName": record.name,
            "CreationTime": _time(record.created),
            "CurrentVersion": record.current_version,
            "State": record.state,
            "Tags": record.tags,
            "NumberOfBrokerNodes": record.brokers,
            "CurrentBrokerSoftwareInfo": {"KafkaVersion": record.kafka_version},
            "EnhancedMonitoring": s.get("EnhancedMonitoring", "DEFAULT"),
            "StorageMode": s.get("StorageMode", "LOCAL"),
        }
        for member in (
            "BrokerNodeGroupInfo",
            "ClientAuthentication",
            "EncryptionInfo",
            "OpenMonitoring",
            "LoggingInfo",
        ):
            if member in s:
                info[member] = s[member]
        return info

    def _info_v2(self, record: ClusterRecord) -> dict[str, Any]:
        info: dict[str, Any] = {
            "ClusterArn": record.arn,
            "ClusterName": record.name,
            "ClusterType": record.cluster_type,
            "CreationTime": _time(record.created),
            "CurrentVersion": record.current_version,
            "State": record.state,
            "Tags": record.tags,
        }
        if record.cluster_type == "SERVERLESS":
            info["Serverless"] = {
                "VpcConfigs": record.settings.get("VpcConfigs", []),
                **(
                    {"ClientAuthentication": record.settings["ClientAuthentication"]}
                    if "ClientAuthentication" in record.settings
                    else {}
                ),
            }
        else:
            v1 = self._info_v1(record)
            keep = set(ClusterInfoV2Provisioned)
            info["Provisioned"] = {k: v for k, v in v1.items() if k in keep}
        return info

    async def describe_cluster(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"ClusterInfo": self._info_v1(self.cluster(ctx, params["ClusterArn"]))}

    async def describe_cluster_v2(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return {"ClusterInfo": self._info_v2(self.cluster(ctx, params["ClusterArn"]))}

    def _mine(self, ctx: RequestContext, params: dict[str, Any]) -> list[ClusterRecord]:
        prefix = params.get("ClusterNameFilter") or ""
        kind = params.get("ClusterTypeFilter")
        found = [
            r
            for r in self.clusters.records.values()
            if r.account == ctx.account_id
            and r.region == ctx.region
            and r.name.startswith(prefix)
            and (kind is None or r.cluster_type == kind)
        ]
        return sorted(found, key=lambda r: (r.name, r.arn))

    def _page(
        self, ctx: RequestContext, params: dict[str, Any], records: list[ClusterRecord]
    ) -> tuple[list[ClusterRecord], dict[str, Any]]:
        limit = params.get("MaxResults")
        if limit is not None and not 1 <= limit <= 100:
            raise bad_request("MaxResults must be between 1 and 100.", "maxResults")
        return token_page(
            records,
            lambda r: r.arn,
            params.get("NextToken"),
            limit,
            scope=f"msk:{ctx.account_id}:{ctx.region}",
            invalid=lambda: bad_request("The NextToken is not valid.", "nextToken"),
        )

    async def list_clusters(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        page, more = self._page(ctx, params, self._mine(ctx, {**params, "ClusterTypeFilter": None}))
        return {"ClusterInfoList": [self._info_v1(r) for r in page], **more}

    async def list_clusters_v2(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        page, more = self._page(ctx, params, self._mine(ctx, params))
        return {"ClusterInfoList": [self._info_v2(r) for r in page], **more}

    # -- delete, brokers, nodes ----------------------------------------------------------------
    async def delete_cluster(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self.cluster(ctx, params["ClusterArn"])
        version = params.get("CurrentVersion")
        if version is not None and version != record.current_version:
            raise bad_request(
                "The cluster version does not match the current version.", "currentVersion"
            )
        if record.state != "DELETING":
            await self.clusters.delete(record)
        return {"ClusterArn": record.arn, "State": "DELETING"}

    async def get_bootstrap_brokers(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self.cluster(ctx, params["ClusterArn"])
        if record.state != "ACTIVE":
            raise bad_request(
                f"You can't get bootstrap broker nodes for a cluster in {record.state} state."
            )
        servers = self.clusters.bootstrap_of(record)
        answer: dict[str, Any] = {}
        if record.iam:
            # SASL/IAM required on the listener (SASL_PLAINTEXT: Fireside's listeners have no
            # TLS; AWS's port 9098 is SASL_SSL). Serverless clusters have nothing else.
            answer["BootstrapBrokerStringSaslIam"] = servers
        if not record.iam or record.unauthenticated:
            # Open to any client that reaches the port (SCRAM and mTLS are not enforced).
            answer["BootstrapBrokerString"] = servers
        return answer

    async def list_nodes(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self.cluster(ctx, params["ClusterArn"])
        if record.cluster_type == "SERVERLESS":
            raise bad_request("This operation cannot be performed on serverless clusters.")
        group = record.settings.get("BrokerNodeGroupInfo") or {}
        subnets = group.get("ClientSubnets") or [""]
        node = {
            "AddedToClusterTime": _time(record.created).isoformat(),
            "InstanceType": group.get("InstanceType", "kafka.m5.large"),
            "NodeARN": f"arn:aws:kafka:{record.region}:{record.account}:broker/"
            f"{record.name}/{record.uuid}-25/1",
            "NodeType": "BROKER",
            "BrokerNodeInfo": {
                "BrokerId": 1.0,
                "ClientSubnet": subnets[0],
                "ClientVpcIpAddress": self.clusters.advertised_host,
                "CurrentBrokerSoftwareInfo": {"KafkaVersion": record.kafka_version},
                "Endpoints": [self.clusters.advertised_host],
            },
        }
        page, more = token_page(
            [node],
            lambda n: str(n["NodeARN"]),
            params.get("NextToken"),
            params.get("MaxResults"),
            scope=f"msk-nodes:{record.arn}",
            invalid=lambda: bad_request("The NextToken is not valid.", "nextToken"),
        )
        return {"NodeInfoList": page, **more}

    # -- tags ----------------------------------------------------------------------------------
    def _tagged(self, ctx: RequestContext, arn: str) -> ClusterRecord:
        if not _CLUSTER_ARN.match(arn):
            raise bad_request("Invalid input resource arn", "resourceArn")
        return self.cluster(ctx, arn)

    async def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._tagged(ctx, params["ResourceArn"])
        tags = {**record.tags, **params["Tags"]}
        _check_tags(tags)
        record.tags = tags
        await self.clusters.put(record)
        return {}

    async def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        record = self._tagged(ctx, params["ResourceArn"])
        record.tags = {k: v for k, v in record.tags.items() if k not in set(params["TagKeys"])}
        await self.clusters.put(record)
        return {}

    async def list_tags_for_resource(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return {"Tags": self._tagged(ctx, params["ResourceArn"]).tags}


#: ClusterInfo members that DescribeClusterV2 nests under `Provisioned`.
ClusterInfoV2Provisioned: Final = (
    "BrokerNodeGroupInfo",
    "ClientAuthentication",
    "CurrentBrokerSoftwareInfo",
    "EncryptionInfo",
    "EnhancedMonitoring",
    "OpenMonitoring",
    "LoggingInfo",
    "NumberOfBrokerNodes",
    "StorageMode",
)
