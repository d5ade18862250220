"""AWS::Lambda::Function, ::Version and ::Alias, through Lambda's own operations.

A function is created with CreateFunction and is not handed back until it is usable (State
`Active`, LastUpdateStatus `Successful`), as CloudFormation waits; a function that fails to
become ready is deleted again, so a rolled-back stack leaves nothing behind. Updates are in
place: the code with UpdateFunctionCode, the rest with one UpdateFunctionConfiguration
carrying every configuration property (a property dropped from the template goes back to
Lambda's default, as CloudFormation resets it). Only a new `FunctionName` needs a new
function. The rest of Lambda's resource types are in `awslambda_wiring`.
"""

from __future__ import annotations

from typing import Any

from fireside.cloudformation.providers.awslambda_wiring import wiring_providers
from fireside.cloudformation.providers.inline_code import package_inline
from fireside.cloudformation.providers.service_support import (
    Provider,
    changed,
    retag,
    tags_of,
    wait_until,
)
from fireside.cloudformation.providers.support import (
    call,
    name_for,
    refused,
)
from fireside.cloudformation.resource_types import Created, ResourceContext, ResourceType

__all__ = ["providers"]

#: A function name's length limit (CloudFormation cuts generated names to it).
MAX_FUNCTION_NAME = 64
#: CloudFormation's limit on the zip it makes of `Code.ZipFile`.
MAX_INLINE_ZIP = 4 * 1024 * 1024
#: Configuration properties and the value Lambda falls back to when the template drops one.
_CONFIG_DEFAULTS: dict[str, Any] = {
    "Description": "",
    "Timeout": 3,
    "MemorySize": 128,
    "Environment": {"Variables": {}},
    "Layers": [],
    "TracingConfig": {"Mode": "PassThrough"},
    "DeadLetterConfig": {},
    "EphemeralStorage": {"Size": 512},
    "LoggingConfig": {"LogFormat": "Text"},
    "SnapStart": {"ApplyOn": "None"},
    "VpcConfig": {"SubnetIds": [], "SecurityGroupIds": []},
    "KmsKeyArn": "",
    "Handler": None,
    "Runtime": None,
    "Role": None,
}
_CONFIG = frozenset(_CONFIG_DEFAULTS)
#: Lambda's tagging operations and member names (see `retag`).
_LAMBDA_TAGS = ("TagResource", "UntagResource", "Resource", "Tags")
#: Accepted and kept by the service (or by CloudFormation alone) with no effect on Fireside.
_INERT = ("CodeSigningConfigArn",)


def _code(properties: dict[str, Any]) -> dict[str, Any]:
    """CreateFunction's `Code` (UpdateFunctionCode takes the same members at its top)."""
    code = dict(properties.get("Code") or {})
    if code.get("ImageUri"):
        raise refused(
            "Fireside does not support container image functions (Code.ImageUri) yet: "
            "deploy the function as a .zip package (Code.ZipFile or Code.S3Bucket/S3Key)."
        )
    code.pop("SourceKMSKeyArn", None)
    if "ZipFile" in code:
        runtime = str(properties.get("Runtime") or "")
        package = package_inline(runtime, str(code["ZipFile"]))
        if package is None:
            raise refused(
                f"ZipFile can only be used with Node.js and Python runtimes, not '{runtime}'."
            )
        if len(package) > MAX_INLINE_ZIP:
            raise refused("The inline code's zip file cannot exceed 4MB (Code.ZipFile).")
        code["ZipFile"] = package
    return code


def _check_supported(properties: dict[str, Any]) -> None:
    if properties.get("PackageType") == "Image":
        raise refused("Fireside does not support container image functions (PackageType Image).")
    if properties.get("FileSystemConfigs"):
        raise refused("Fireside does not support Amazon EFS file systems (FileSystemConfigs).")


def _snap_start(config: dict[str, Any]) -> dict[str, Any]:
    snap = dict(config.get("SnapStart") or {"ApplyOn": "None", "OptimizationStatus": "Off"})
    return {
        "SnapStartResponse": snap,
        "SnapStartResponse.ApplyOn": snap.get("ApplyOn", "None"),
        "SnapStartResponse.OptimizationStatus": snap.get("OptimizationStatus", "Off"),
    }


async def function_ready(
    ctx: ResourceContext, name: str, qualifier: str | None = None
) -> dict[str, Any]:
    """The function's configuration once Active with its last update Successful."""
    params: dict[str, Any] = {"FunctionName": name}
    if qualifier:
        params["Qualifier"] = qualifier

    async def probe() -> dict[str, Any] | None:
        config = await call(ctx, "lambda", "GetFunctionConfiguration", params)
        if config.get("State") == "Failed":
            raise refused(str(config.get("StateReason") or "The function failed to activate."))
        if config.get("LastUpdateStatus") == "Failed":
            raise refused(str(config.get("LastUpdateStatusReason") or "The update failed."))
        if config.get("State") == "Active" and config.get("LastUpdateStatus") in (
            None,
            "Successful",
        ):
            return config
        return None

    return await wait_until(probe, f"function {name} to become Active")


class Function(Provider):
    type_name = "AWS::Lambda::Function"
    replace_on = frozenset({"FunctionName"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        _check_supported(properties)
        name = name_for(ctx, properties.get("FunctionName"), MAX_FUNCTION_NAME)
        params: dict[str, Any] = {
            key: properties[key]
            for key in (*_CONFIG, "Architectures", "PackageType", *_INERT)
            if properties.get(key) is not None
        }
        params["FunctionName"] = name
        params["Code"] = _code(properties)
        tags = tags_of(ctx, properties.get("Tags"))
        tags.update(_stack_tags(ctx))
        params["Tags"] = tags
        await call(ctx, "lambda", "CreateFunction", params)
        try:
            if properties.get("ReservedConcurrentExecutions") is not None:
                await call(
                    ctx,
                    "lambda",
                    "PutFunctionConcurrency",
                    {
                        "FunctionName": name,
                        "ReservedConcurrentExecutions": properties["ReservedConcurrentExecutions"],
                    },
                )
            config = await function_ready(ctx, name)
        except BaseException:
            await call(ctx, "lambda", "DeleteFunction", {"FunctionName": name}, missing_ok=True)
            raise
        return self._created(config)

    @staticmethod
    def _created(config: dict[str, Any]) -> Created:
        return Created(
            str(config["FunctionName"]), {"Arn": config["FunctionArn"], **_snap_start(config)}
        )

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        _check_supported(new)
        inline = "ZipFile" in (new.get("Code") or {})
        code_changed = changed(old, new, frozenset({"Code", "Architectures"})) or (
            inline and old.get("Runtime") != new.get("Runtime")
        )
        config_changed = changed(old, new, _CONFIG)
        # The code before the configuration: a new runtime may need the new code's handler.
        if code_changed:
            params: dict[str, Any] = {"FunctionName": physical_id, **_code(new)}
            if new.get("Architectures"):
                params["Architectures"] = new["Architectures"]
            await call(ctx, "lambda", "UpdateFunctionCode", params)
            await function_ready(ctx, physical_id)
        if config_changed:
            params = {"FunctionName": physical_id}
            for key, default in _CONFIG_DEFAULTS.items():
                value = new.get(key)
                if value is None:
                    value = default
                if value is not None:
                    params[key] = value
            await call(ctx, "lambda", "UpdateFunctionConfiguration", params)
        if old.get("ReservedConcurrentExecutions") != new.get("ReservedConcurrentExecutions"):
            if new.get("ReservedConcurrentExecutions") is None:
                await call(
                    ctx, "lambda", "DeleteFunctionConcurrency", {"FunctionName": physical_id}
                )
            else:
                await call(
                    ctx,
                    "lambda",
                    "PutFunctionConcurrency",
                    {
                        "FunctionName": physical_id,
                        "ReservedConcurrentExecutions": new["ReservedConcurrentExecutions"],
                    },
                )
        config = await function_ready(ctx, physical_id)
        before, after = tags_of(ctx, old.get("Tags")), tags_of(ctx, new.get("Tags"))
        await retag(ctx, "lambda", str(config["FunctionArn"]), before, after, _LAMBDA_TAGS)
        return self._created(config)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await call(ctx, "lambda", "DeleteFunction", {"FunctionName": physical_id}, missing_ok=True)


def _stack_tags(ctx: ResourceContext) -> dict[str, str]:
    """The tags CloudFormation puts on what a stack creates."""
    return {
        "aws:cloudformation:stack-name": ctx.stack_name,
        "aws:cloudformation:stack-id": ctx.stack_id,
        "aws:cloudformation:logical-id": ctx.logical_id,
    }


async def _put_provisioned(
    ctx: ResourceContext, function: str, qualifier: str, config: Any, previous: Any = None
) -> None:
    """ProvisionedConcurrencyConfig of a version or alias: set (and waited for until READY,
    as CloudFormation waits), changed or removed."""
    address = {"FunctionName": function, "Qualifier": qualifier}
    if config:
        await call(
            ctx,
            "lambda",
            "PutProvisionedConcurrencyConfig",
            {
                **address,
                "ProvisionedConcurrentExecutions": config["ProvisionedConcurrentExecutions"],
            },
        )

        async def probe() -> bool | None:
            got = await call(ctx, "lambda", "GetProvisionedConcurrencyConfig", address)
            if got.get("Status") == "FAILED":
                raise refused(str(got.get("StatusReason") or "Provisioned concurrency failed."))
            return True if got.get("Status") == "READY" else None

        await wait_until(probe, f"provisioned concurrency of {function}:{qualifier}")
    elif previous:
        await call(
            ctx,
            "lambda",
            "DeleteProvisionedConcurrencyConfig",
            {"FunctionName": function, "Qualifier": qualifier},
            missing_ok=True,
        )


def _split_version_arn(arn: str) -> tuple[str, str]:
    """(function ARN, qualifier) of a qualified ARN."""
    function, _, qualifier = arn.rpartition(":")
    return function, qualifier


class Version(Provider):
    """A published version never changes: every property but its provisioned concurrency
    needs a new version."""

    type_name = "AWS::Lambda::Version"
    replace_on = frozenset({"CodeSha256", "Description", "FunctionName", "RuntimePolicy", "Policy"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        if properties.get("Policy"):
            raise refused("Fireside does not support a Version's resource Policy yet.")
        function = str(properties["FunctionName"])
        await function_ready(ctx, function)
        params = {
            key: properties[key]
            for key in ("FunctionName", "CodeSha256", "Description")
            if properties.get(key) is not None
        }
        published = await call(ctx, "lambda", "PublishVersion", params)
        arn, version = str(published["FunctionArn"]), str(published["Version"])
        await function_ready(ctx, function, version)
        await _put_provisioned(
            ctx, function, version, properties.get("ProvisionedConcurrencyConfig")
        )
        return Created(
            arn, {"Version": version, "FunctionArn": _split_version_arn(arn)[0], "Id": arn}
        )

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        function, version = _split_version_arn(physical_id)
        await _put_provisioned(
            ctx, function, version, new.get("ProvisionedConcurrencyConfig"),
            old.get("ProvisionedConcurrencyConfig"),
        )  # fmt: skip
        return Created(
            physical_id, {"Version": version, "FunctionArn": function, "Id": physical_id}
        )

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        function, version = _split_version_arn(physical_id)
        await call(
            ctx,
            "lambda",
            "DeleteFunction",
            {"FunctionName": function, "Qualifier": version},
            missing_ok=True,
        )


class Alias(Provider):
    type_name = "AWS::Lambda::Alias"
    replace_on = frozenset({"FunctionName", "Name"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params = {
            key: properties[key]
            for key in ("FunctionName", "Name", "FunctionVersion", "Description", "RoutingConfig")
            if properties.get(key) is not None
        }
        alias = await call(ctx, "lambda", "CreateAlias", params)
        arn = str(alias["AliasArn"])
        await _put_provisioned(
            ctx, str(properties["FunctionName"]), str(properties["Name"]),
            properties.get("ProvisionedConcurrencyConfig"),
        )  # fmt: skip
        return Created(arn, {"AliasArn": arn})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        function, name = str(new["FunctionName"]), str(new["Name"])
        await call(
            ctx,
            "lambda",
            "UpdateAlias",
            {
                "FunctionName": function,
                "Name": name,
                "FunctionVersion": new["FunctionVersion"],
                "Description": new.get("Description") or "",
                "RoutingConfig": new.get("RoutingConfig") or {"AdditionalVersionWeights": {}},
            },
        )
        if old.get("ProvisionedConcurrencyConfig") != new.get("ProvisionedConcurrencyConfig"):
            await _put_provisioned(
                ctx, function, name, new.get("ProvisionedConcurrencyConfig"),
                old.get("ProvisionedConcurrencyConfig"),
            )  # fmt: skip
        return Created(physical_id, {"AliasArn": physical_id})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        function, name = _split_version_arn(physical_id)
        await call(
            ctx, "lambda", "DeleteAlias", {"FunctionName": function, "Name": name}, missing_ok=True
        )


def providers() -> list[ResourceType]:
    return [Function(), Version(), Alias(), *wiring_providers()]
