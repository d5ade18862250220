"""The Lambda service: one method per operation, typed params in, result dict or ServiceError out.

No HTTP here: the wire layer parses requests from botocore's model into `params` and serializes
what these methods return. Invocation itself lives in `fireside.compute.invoker`.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError, validation_error
from fireside.aws.model import load_service
from fireside.aws.pagination import marker_page
from fireside.aws.restjson import RestJsonProtocol
from fireside.compute.code_links import CodeLinks
from fireside.compute.code_source import ObjectReader, read_package
from fireside.compute.concurrency import Concurrency, ConcurrencyApi
from fireside.compute.destinations import service_target
from fireside.compute.errors import archive as archive_error
from fireside.compute.errors import (
    conflict,
    entity_too_large,
    invalid,
    invalid_marker,
    precondition_failed,
    update_in_progress,
)
from fireside.compute.event_config import EventConfigs
from fireside.compute.event_config_api import EventConfigApi
from fireside.compute.function_url_api import FunctionUrlApi
from fireside.compute.function_urls import FunctionUrls
from fireside.compute.functions import FunctionConfig, new_revision, now_iso, version_order
from fireside.compute.invoker import Invoker
from fireside.compute.layers import LayerApi, LayerStore, check_combined_size, reference
from fireside.compute.log_controls import logging_settings
from fireside.compute.policies import Policies
from fireside.compute.policy_api import PolicyApi
from fireside.compute.provisioned import ProvisionedApi, Provisioner
from fireside.compute.registry import FunctionRegistry, parse_function_name
from fireside.compute.tags_api import TagsApi
from fireside.compute.versions import VersionApi, Versions
from fireside.runtimes import registry as runtimes
from fireside.store.blobs import ArchiveError, BlobStore, inspect_zip
from fireside.supervisor import TaskSet

log = logging.getLogger(__name__)

MAX_ZIP_BYTES = 52_428_800  # 50 MB direct upload
MAX_ENVIRONMENT_BYTES = 4096
MAX_NAME = 64  # a function name's length
#: The runtimes AWS's refusal of an unknown one lists, in its order (recorded 2026-01-12;
#: AWS's list changes as runtimes come and go).
AWS_RUNTIMES = (
    "nodejs20.x", "python3.14", "provided.al2023", "python3.12", "python3.13", "nodejs24.x",
    "nodejs22.x", "java25", "python3.10", "python3.11", "java21", "ruby3.3", "ruby3.4",
    "ruby3.2", "python3.8", "python3.9", "java17", "nodejs16.x", "dotnet10", "dotnet8",
    "java11", "dotnet6", "nodejs18.x", "provided.al2", "java8.al2",
)  # fmt: skip


@functools.cache
def _model_runtimes() -> frozenset[str]:
    shape = load_service("lambda").operation("CreateFunction").input
    assert shape is not None
    return frozenset(shape.members["Runtime"].enum or ())


#: Runtimes in the model that AWS no longer lets a function be created with or updated to
#: (its deprecation table's "block function create/update" dates have passed). AWS's refusal
#: was recorded on 2026-01-12 for dotnetcore3.1, go1.x, java8, nodejs12.x, nodejs14.x,
#: provided, python3.7 and ruby2.7; the others were deprecated before those.
BLOCKED_RUNTIMES = frozenset(
    {
        "nodejs", "nodejs4.3", "nodejs4.3-edge", "nodejs6.10", "nodejs8.10", "nodejs10.x",
        "nodejs12.x", "nodejs14.x", "java8", "python2.7", "python3.6", "python3.7",
        "dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1", "go1.x",
        "ruby2.5", "ruby2.7", "provided",
    }
)  # fmt: skip
MAX_TIMEOUT = 900
MAX_MEMORY = 10_240
RESERVED_ENV_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)


def lambda_protocol() -> RestJsonProtocol:
    """Lambda's wire protocol. The model's enum of Runtime is checked here, not by the model
    validator: AWS refuses an unknown runtime as InvalidParameterValueException listing the
    runtimes it accepts (`_check_runtime`), not with Coral's ValidationException."""
    return RestJsonProtocol(
        load_service("lambda"),
        unchecked={
            "CreateFunction": frozenset({"Runtime"}),
            "UpdateFunctionConfiguration": frozenset({"Runtime"}),
        },
    )


def _dead_letter(params: dict[str, Any]) -> str | None:
    """DeadLetterConfig's TargetArn (None or "" clears it): an SQS queue or SNS topic."""
    arn = (params.get("DeadLetterConfig") or {}).get("TargetArn") or None
    if arn is not None:
        target = service_target(arn)
        if target is None or target.service not in ("sqs", "sns"):
            raise invalid(
                f"The provided target arn {arn} is invalid. DeadLetterConfig's TargetArn must "
                "be an Amazon SQS queue or an Amazon SNS topic."
            )
    return arn


def _unsupported(what: str) -> ServiceError:
    return invalid(f"Fireside does not support {what} yet.")


class LambdaProvider:
    def __init__(
        self,
        functions: FunctionRegistry,
        blobs: BlobStore,
        invoker: Invoker,
        layers: LayerStore,
        versions: Versions,
        concurrency: Concurrency,
        provisioner: Provisioner,
        event_configs: EventConfigs,
        objects: ObjectReader,
        links: CodeLinks,
        function_urls: FunctionUrls,
        policies: Policies,
    ) -> None:
        self._functions = functions
        self._links = links
        self._blobs = blobs
        self._objects = objects
        self._invoker = invoker
        self._layers = layers
        self._layer_api = LayerApi(layers, blobs, objects, links)
        self._versions = versions
        self._version_api = VersionApi(versions)
        self._concurrency_api = ConcurrencyApi(
            concurrency,
            functions,
            lambda account, region, name: sum(
                c.requested for c in provisioner.of_function(account, region, name)
            ),
        )
        self._provisioner = provisioner
        self._provisioned_api = ProvisionedApi(provisioner, versions)
        self._event_configs = event_configs
        self._event_config_api = EventConfigApi(event_configs, versions, policies)
        self._policies = policies
        self._policy_api = PolicyApi(policies, versions)
        self._function_urls = function_urls
        self._function_url_api = FunctionUrlApi(function_urls, versions)
        self._tags_api = TagsApi(functions)
        self._tasks = TaskSet("lambda")

    def operations(
        self,
    ) -> dict[str, Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]]:
        return {
            "CreateFunction": self.create_function,
            "GetFunction": self.get_function,
            "GetFunctionConfiguration": self.get_function_configuration,
            "ListFunctions": self.list_functions,
            "UpdateFunctionCode": self.update_function_code,
            "UpdateFunctionConfiguration": self.update_function_configuration,
            "DeleteFunction": self.delete_function,
            "Invoke": self._invoker.invoke,
            "InvokeWithResponseStream": self._invoker.invoke_with_response_stream,
            **self._layer_api.operations(),
            **self._version_api.operations(),
            **self._concurrency_api.operations(),
            **self._provisioned_api.operations(),
            **self._event_config_api.operations(),
            **self._function_url_api.operations(),
            **self._policy_api.operations(),
            **self._tags_api.operations(),
            "DeleteAlias": self.delete_alias,
            "GetFunctionCodeSigningConfig": self.get_function_code_signing_config,
        }

    async def get_function_code_signing_config(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        """No function has a code-signing config (Fireside serves none): answered as AWS
        answers for such a function, with an empty ARN. Terraform's AWS provider reads it for
        every zip function."""
        config = self._lookup(ctx, {"FunctionName": params["FunctionName"]})
        return {"CodeSigningConfigArn": "", "FunctionName": config.name}

    # -- start-up ------------------------------------------------------------------------------
    def resume(self) -> None:
        """Finish preparing functions a previous run left Pending or InProgress."""
        for config in self._functions.every():
            if config.state == "Pending" or config.last_update_status == "InProgress":
                self._prepare_later(config)
            elif config.state == "Active":
                self._invoker.activate(config)

    # -- helpers -------------------------------------------------------------------------------
    def _lookup(self, ctx: RequestContext, params: dict[str, Any]) -> FunctionConfig:
        """`$LATEST`, or the version a `Qualifier` (version or alias) names."""
        name, qualifier = parse_function_name(
            params["FunctionName"], ctx.account_id, ctx.region, params.get("Qualifier")
        )
        return self._versions.resolve(ctx.account_id, ctx.region, name, qualifier)[0]

    def _lookup_latest(self, ctx: RequestContext, params: dict[str, Any]) -> FunctionConfig:
        """`$LATEST`, for operations that change a function (a qualifier must be `$LATEST`)."""
        config = self._lookup(ctx, params)
        if not config.is_latest:
            raise invalid("Updating a published version is not supported; use $LATEST.")
        return config

    @staticmethod
    def _check_revision(config: FunctionConfig, params: dict[str, Any]) -> None:
        revision = params.get("RevisionId")
        if revision is not None and revision != config.revision_id:
            raise precondition_failed()

    @staticmethod
    def _check_not_updating(config: FunctionConfig) -> None:
        if config.last_update_status == "InProgress" or config.state == "Pending":
            raise update_in_progress(config.arn)

    @staticmethod
    def _check_limits(params: dict[str, Any]) -> None:
        problems = []
        if params.get("Timeout", 0) > MAX_TIMEOUT:
            problems.append(
                f"Value '{params['Timeout']}' at 'timeout' failed to satisfy constraint: "
                f"Member must have value less than or equal to {MAX_TIMEOUT}"
            )
        if params.get("MemorySize", 0) > MAX_MEMORY:
            problems.append(
                f"Value '{params['MemorySize']}' at 'memorySize' failed to satisfy constraint: "
                f"Member must have value less than or equal to {MAX_MEMORY}"
            )
        if problems:
            raise validation_error(problems)
        variables = (params.get("Environment") or {}).get("Variables")
        if variables:
            reserved = sorted(RESERVED_ENV_KEYS.intersection(variables))
            if reserved:
                raise invalid(
                    "Lambda was unable to configure your environment variables because the "
                    "environment variables you have provided contains reserved keys that are "
                    f"currently not supported for modification. Reserved keys used in this "
                    f"request: {', '.join(reserved)}"
                )
            # AWS measures the variables as one compact JSON object, and quotes it.
            measured = json.dumps(variables, separators=(",", ":"), ensure_ascii=False)
            if len(measured.encode()) > MAX_ENVIRONMENT_BYTES:
                raise invalid(
                    "Lambda was unable to configure your environment variables because the "
                    "environment variables you have provided exceeded the 4KB limit. "
                    f"String measured: {measured}"
                )

    @staticmethod
    def _snap_start(params: dict[str, Any], runtime: str) -> str:
        """SnapStart's ApplyOn. Every runtime has snapshot starts here (Python's fork from an
        initialised template; the others start from an initialised spare), so unlike AWS,
        which offers SnapStart for a few runtimes only, none is refused."""
        return str((params.get("SnapStart") or {}).get("ApplyOn", "None"))

    @staticmethod
    def _check_runtime(runtime: str) -> None:
        if runtime not in _model_runtimes():
            raise invalid(
                f"Value {runtime} at 'runtime' failed to satisfy constraint: Member must "
                f"satisfy enum value set: [{', '.join(AWS_RUNTIMES)}] or be a valid ARN"
            )
        if runtime in BLOCKED_RUNTIMES:
            raise invalid(
                f"The runtime parameter of {runtime} is no longer supported for creating or "
                "updating AWS Lambda functions. We recommend you use a supported runtime while "
                "creating or updating functions."
            )
        try:
            runtimes.resolve(runtime)
        except runtimes.RuntimeUnavailable as exc:
            raise invalid(str(exc)) from exc

    async def _store_code(
        self, ctx: RequestContext, code: dict[str, Any], layers_size: int = 0
    ) -> tuple[str, str, int]:
        """Validate and durably store a deployment package, uploaded (`ZipFile`) or named by
        an S3 object; returns (sha256 b64, hex, size).

        `layers_size` is the unzipped size of the function's layers, which counts toward the
        same limit as the code's own.
        """
        if "ImageUri" in code:
            raise _unsupported("container image functions")
        data, from_s3 = await read_package(
            self._objects, ctx, code, missing="Please provide a source for function code."
        )
        if not from_s3 and len(data) > MAX_ZIP_BYTES:  # S3 packages: 250 MB unzipped only
            raise entity_too_large(f"Zipped size must be smaller than {MAX_ZIP_BYTES} bytes")
        try:
            info = inspect_zip(data)
        except ArchiveError as exc:
            raise archive_error(exc) from exc
        if layers_size:
            check_combined_size(info.unzipped_size + layers_size)
        self._blobs.put(data, info.sha256_hex)
        digest_b64 = base64.b64encode(bytes.fromhex(info.sha256_hex)).decode()
        return digest_b64, info.sha256_hex, info.size

    def _layers_size(self, layers: list[dict[str, Any]]) -> int:
        return sum(self._blobs.unzipped_size(layer["digest"]) for layer in layers)

    def _prepare_later(self, config: FunctionConfig) -> None:
        self._tasks.spawn(self._prepare(config), f"prepare {config.name}")

    async def _prepare(self, config: FunctionConfig) -> None:
        """Unpack the code and layers (once per archive) and make the function Active /
        Successful, so that no invoke ever waits for an unpack."""
        error: str | None = None
        try:
            await asyncio.to_thread(self._blobs.unpack, config.code_digest)
            for layer in config.layers:
                await asyncio.to_thread(self._blobs.unpack, layer["digest"])
            # What the runtime builds once (an interpreter's image) is built now, beside the
            # unpack: never inside an environment's Init.
            await self._invoker.build_runtime(runtimes.resolve(config.runtime))
        except (OSError, runtimes.RuntimeUnavailable, ValueError) as exc:
            error = str(exc)
        current = self._functions.get(config.account, config.region, config.name)
        if current is None or current.revision_id != config.revision_id:
            return  # deleted or replaced meanwhile
        if error is None:
            ready = current.evolve(
                state="Active",
                state_reason=None,
                state_reason_code=None,
                last_update_status="Successful",
                last_update_status_reason=None,
                last_update_status_reason_code=None,
            )
        elif current.state == "Pending":
            ready = current.evolve(
                state="Failed",
                state_reason=error,
                state_reason_code="InternalError",
                last_update_status="Failed",
            )
        else:
            ready = current.evolve(
                last_update_status="Failed",
                last_update_status_reason=error,
                last_update_status_reason_code="InternalError",
            )
        # Versions published with this code (Publish=True) are ready or failed with it.
        fingerprint = config.fingerprint()
        pending = [
            version.evolve(
                state="Active" if error is None else "Failed",
                state_reason=None if error is None else error,
                state_reason_code=None if error is None else "InternalError",
            )
            for version in self._functions.versions(config.account, config.region, config.name)
            if version.state == "Pending" and version.published_from == fingerprint
        ]
        self._functions.put(ready, *pending)
        if error is None:
            self._invoker.activate(ready)
        else:
            log.error("function %s could not be prepared: %s", config.arn, error)

    # -- operations ----------------------------------------------------------------------------
    async def create_function(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, qualifier = parse_function_name(params["FunctionName"], ctx.account_id, ctx.region)
        if qualifier:
            raise invalid(f"Function name {params['FunctionName']} must not include a qualifier.")
        if name == params["FunctionName"] and len(name) > MAX_NAME:
            # The model allows 140 (an ARN's length); a bare name is held to 64, and AWS says so
            # with a validation message under InvalidParameterValueException.
            raise invalid(
                f"1 validation error detected: Value '{name}' at 'functionName' failed to "
                f"satisfy constraint: Member must have length less than or equal to {MAX_NAME}"
            )
        if params.get("PackageType", "Zip") == "Image":
            raise _unsupported("container image functions")
        runtime, handler = params.get("Runtime"), params.get("Handler")
        if not runtime or not handler:
            raise invalid(
                "Runtime and Handler are mandatory parameters for functions created with "
                "deployment packages."
            )
        self._check_limits(params)
        # In a thread: finding the runtime's interpreter searches the disk (and runs it once
        # to learn its version), which held the event loop 12-25 ms on a runtime's first use.
        await asyncio.to_thread(self._check_runtime, runtime)
        if self._functions.get(ctx.account_id, ctx.region, name) is not None:
            raise conflict(f"Function already exist: {name}")
        logging_config = logging_settings({}, params.get("LoggingConfig") or {})
        layers = self._layers.resolve(params.get("Layers") or [], ctx.account_id, ctx.region)
        code_sha256, digest, size = await self._store_code(
            ctx, params["Code"], sum(layer.unzipped_size for layer in layers)
        )
        if self._functions.get(ctx.account_id, ctx.region, name) is not None:
            # Created by another request while the code was read from S3.
            raise conflict(f"Function already exist: {name}")
        config = FunctionConfig(
            account=ctx.account_id,
            region=ctx.region,
            name=name,
            runtime=runtime,
            handler=handler,
            role=params["Role"],
            code_sha256=code_sha256,
            code_digest=digest,
            code_size=size,
            description=params.get("Description", ""),
            timeout=params.get("Timeout", 3),
            memory_size=params.get("MemorySize", 128),
            environment=dict((params.get("Environment") or {}).get("Variables") or {}),
            architectures=list(params.get("Architectures") or ["x86_64"]),
            ephemeral_storage=(params.get("EphemeralStorage") or {}).get("Size", 512),
            tags=dict(params.get("Tags") or {}),
            layers=[reference(layer) for layer in layers],
            snap_start=self._snap_start(params, runtime),
            tracing_mode=(params.get("TracingConfig") or {}).get("Mode", "PassThrough"),
            dead_letter_arn=_dead_letter(params),
            logging=logging_config,
        )
        self._functions.put(config)
        self._prepare_later(config)
        if params.get("Publish"):  # version 1, Active once $LATEST is
            return self._versions.publish(config, state="Pending").to_wire()
        return config.to_wire()

    async def get_function(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        config = self._lookup(ctx, params)
        result: dict[str, Any] = {
            "Configuration": config.to_wire(),
            "Code": {
                "RepositoryType": "S3",
                "Location": self._links.url(ctx.endpoint_url, config.code_digest),
            },
        }
        if config.tags:
            result["Tags"] = dict(config.tags)
        return result

    async def get_function_configuration(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._lookup(ctx, params).to_wire()

    async def list_functions(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        configs = self._functions.in_region(ctx.account_id, ctx.region)
        every = params.get("FunctionVersion") == "ALL"  # the model allows ALL only
        if every:  # each function's $LATEST, then its published versions
            configs = [
                version
                for latest in configs
                for version in (
                    latest,
                    *self._functions.versions(latest.account, latest.region, latest.name),
                )
            ]
        page, marker = marker_page(
            configs,
            lambda c: (c.name, *version_order(c.version)),
            params,
            scope=f"ListFunctions:{'ALL' if every else ''}",
            invalid=invalid_marker,
        )
        result: dict[str, Any] = {"Functions": [c.to_wire(qualified=every) for c in page]}
        if marker:
            result["NextMarker"] = marker
        return result

    async def update_function_code(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        config = self._lookup_latest(ctx, params)
        self._check_revision(config, params)
        self._check_not_updating(config)
        if params.get("ImageUri"):
            raise _unsupported("container image functions")
        code: dict[str, Any] = {
            k: params[k] for k in ("ZipFile", "S3Bucket", "S3Key", "S3ObjectVersion") if k in params
        }
        code_sha256, digest, size = await self._store_code(
            ctx, code, self._layers_size(config.layers)
        )
        if "S3Bucket" in code:  # the read from S3 let other requests in: check again
            config = self._lookup_latest(ctx, params)
            self._check_revision(config, params)
            self._check_not_updating(config)
        if params.get("DryRun"):
            return config.evolve(code_sha256=code_sha256, code_size=size).to_wire()
        updated = self._begin_update(
            config, code_sha256=code_sha256, code_digest=digest, code_size=size
        )
        if params.get("Publish"):  # a version of the new code, Active once $LATEST is
            return self._versions.publish(updated, state="Pending").to_wire()
        return updated.to_wire()

    async def update_function_configuration(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        if "Runtime" in params:  # first, off the event loop (`create_function`)
            await asyncio.to_thread(self._check_runtime, params["Runtime"])
        config = self._lookup_latest(ctx, params)
        self._check_revision(config, params)
        self._check_limits(params)
        self._check_not_updating(config)
        changes: dict[str, Any] = {}
        simple = {
            "Handler": "handler",
            "Timeout": "timeout",
            "MemorySize": "memory_size",
            "Description": "description",
            "Role": "role",
            "Runtime": "runtime",
        }
        for key, attr in simple.items():
            if key in params:
                changes[attr] = params[key]
        if "Environment" in params:
            changes["environment"] = dict((params["Environment"] or {}).get("Variables") or {})
        if "EphemeralStorage" in params:
            changes["ephemeral_storage"] = params["EphemeralStorage"]["Size"]
        if "Mode" in (params.get("TracingConfig") or {}):
            changes["tracing_mode"] = params["TracingConfig"]["Mode"]
        if "DeadLetterConfig" in params:
            changes["dead_letter_arn"] = _dead_letter(params)
        if "LoggingConfig" in params:
            changes["logging"] = logging_settings(config.logging, params["LoggingConfig"] or {})
        if "SnapStart" in params or "Runtime" in params:
            runtime = params.get("Runtime", config.runtime)
            merged = (
                params if "SnapStart" in params else {"SnapStart": {"ApplyOn": config.snap_start}}
            )
            changes["snap_start"] = self._snap_start(merged, runtime)
        if "Layers" in params:  # the whole list is replaced
            layers = self._layers.resolve(params["Layers"] or [], ctx.account_id, ctx.region)
            check_combined_size(
                self._blobs.unzipped_size(config.code_digest)
                + sum(layer.unzipped_size for layer in layers)
            )
            changes["layers"] = [reference(layer) for layer in layers]
        return self._begin_update(config, **changes).to_wire()

    def _begin_update(self, config: FunctionConfig, **changes: Any) -> FunctionConfig:
        updated = config.evolve(
            **changes,
            revision_id=new_revision(),
            last_modified=now_iso(),
            last_update_status="InProgress",
            last_update_status_reason="The function is being created.",
            last_update_status_reason_code="Creating",
        )
        self._functions.put(updated)
        self._prepare_later(updated)
        return updated

    async def delete_function(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, qualifier = parse_function_name(
            params["FunctionName"], ctx.account_id, ctx.region, params.get("Qualifier")
        )
        latest = self._functions.require(ctx.account_id, ctx.region, name)
        if qualifier is not None:  # one version only
            version = self._version_api.delete_version(latest, qualifier)
            self._invoker.retire_version(version)
            self._event_configs.forget(ctx.account_id, ctx.region, name, version.version)
            self._policies.forget(ctx.account_id, ctx.region, name, version.version)
            return {}
        self._provisioner.forget_function(ctx.account_id, ctx.region, name)
        self._event_configs.forget_function(ctx.account_id, ctx.region, name)
        self._function_urls.forget_function(ctx.account_id, ctx.region, name)
        self._policies.forget_function(ctx.account_id, ctx.region, name)
        self._functions.delete(latest)
        self._versions.aliases.forget_function(ctx.account_id, ctx.region, name)
        self._invoker.deactivate(latest)
        return {}

    async def delete_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """DeleteAlias, and the alias's event invoke configuration, policy and URL with it."""
        result = await self._version_api.delete_alias(ctx, params)
        name, _ = parse_function_name(params["FunctionName"], ctx.account_id, ctx.region)
        self._event_configs.forget(ctx.account_id, ctx.region, name, params["Name"])
        self._policies.forget(ctx.account_id, ctx.region, name, params["Name"])
        self._function_urls.forget(ctx.account_id, ctx.region, name, params["Name"])
        return result

    async def close(self) -> None:
        await self._tasks.close()
