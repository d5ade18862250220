"""CloudFormation providers for CloudWatch Logs: `AWS::Logs::LogGroup` and
`AWS::Logs::LogStream`, through the `logs` service's own operations as the stack's account.

A LogGroup's Ref is its name and its `Arn` attribute ends in `:*`, as CloudFormation's
documentation gives it. Declaring `/aws/lambda/<function>` in a template (to set its retention)
is the common case: it is the function's own group, whose events the function writes.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from fireside.aws.errors import ServiceError
from fireside.cloudformation.resource_types import (
    Created,
    ResourceContext,
    ResourceFailed,
    ResourceType,
)

__all__ = ["providers"]

#: CloudWatch Logs' limit on a group's (and a stream's) name.
MAX_NAME: Final = 512
_HANDLER_CODES: Final = {
    "ResourceAlreadyExistsException": "AlreadyExists",
    "ResourceNotFoundException": "NotFound",
    "InvalidParameterException": "InvalidRequest",
    "ValidationException": "InvalidRequest",
}


def _failed(error: ServiceError, message: str | None = None) -> ResourceFailed:
    code = _HANDLER_CODES.get(error.code, "GeneralServiceException")
    return ResourceFailed(
        f'Resource handler returned message: "{message or error.message}" '
        f"(RequestToken: {uuid.uuid4()}, HandlerErrorCode: {code})"
    )


def _tags(ctx: ResourceContext, properties: dict[str, Any]) -> dict[str, str]:
    tags = dict(ctx.tags)
    for tag in properties.get("Tags") or []:
        tags[str(tag["Key"])] = str(tag["Value"])
    return tags


def _retention(properties: dict[str, Any]) -> int | None:
    value = properties.get("RetentionInDays")
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ResourceFailed(
            f"Properties validation failed: RetentionInDays {value!r} is not an integer"
        ) from None


class LogGroupType:
    type_name = "AWS::Logs::LogGroup"
    replace_on = frozenset({"LogGroupName", "KmsKeyId"})

    def _created(self, ctx: ResourceContext, name: str) -> Created:
        arn = f"arn:aws:logs:{ctx.region}:{ctx.account}:log-group:{name}:*"
        return Created(name, {"Arn": arn})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        name = str(properties.get("LogGroupName") or ctx.generated_name[:MAX_NAME])
        params: dict[str, Any] = {"logGroupName": name}
        tags = _tags(ctx, properties)
        if tags:
            params["tags"] = tags
        if properties.get("KmsKeyId"):
            params["kmsKeyId"] = str(properties["KmsKeyId"])
        retention = _retention(properties)
        try:
            await ctx.call("logs", "CreateLogGroup", params)
        except ServiceError as error:
            if error.code == "ResourceAlreadyExistsException":
                raise _failed(
                    error,
                    f"Resource of type '{self.type_name}' with identifier '{name}' already exists.",
                ) from None
            raise _failed(error) from None
        if retention is not None:
            try:
                await ctx.call(
                    "logs",
                    "PutRetentionPolicy",
                    {"logGroupName": name, "retentionInDays": retention},
                )
            except ServiceError as error:
                # Nothing half-made is left behind: the group goes with the failure.
                await ctx.call("logs", "DeleteLogGroup", {"logGroupName": name})
                raise _failed(error) from None
        return self._created(ctx, name)

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        try:
            retention = _retention(new)
            if retention != _retention(old):
                if retention is None:
                    await ctx.call("logs", "DeleteRetentionPolicy", {"logGroupName": physical_id})
                else:
                    await ctx.call(
                        "logs",
                        "PutRetentionPolicy",
                        {"logGroupName": physical_id, "retentionInDays": retention},
                    )
            before, after = _tags(ctx, old), _tags(ctx, new)
            arn = f"arn:aws:logs:{ctx.region}:{ctx.account}:log-group:{physical_id}"
            gone = [key for key in before if key not in after]
            if gone:
                await ctx.call("logs", "UntagResource", {"resourceArn": arn, "tagKeys": gone})
            changed = {k: v for k, v in after.items() if before.get(k) != v}
            if changed:
                await ctx.call("logs", "TagResource", {"resourceArn": arn, "tags": changed})
        except ServiceError as error:
            raise _failed(error) from None
        return self._created(ctx, physical_id)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        try:
            await ctx.call("logs", "DeleteLogGroup", {"logGroupName": physical_id})
        except ServiceError as error:
            if error.code != "ResourceNotFoundException":
                raise _failed(error) from None


class LogStreamType:
    type_name = "AWS::Logs::LogStream"
    replace_on = frozenset({"LogGroupName", "LogStreamName"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        group = str(properties["LogGroupName"]) if properties.get("LogGroupName") else None
        if group is None:
            raise ResourceFailed("Properties validation failed: LogGroupName is required")
        # A stream's name may not hold ':' or '*'; the generated one never does.
        name = str(properties.get("LogStreamName") or ctx.generated_name[:MAX_NAME])
        try:
            await ctx.call(
                "logs", "CreateLogStream", {"logGroupName": group, "logStreamName": name}
            )
        except ServiceError as error:
            raise _failed(error) from None
        return Created(name)

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        return Created(physical_id)  # every property replaces the stream

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        try:
            await ctx.call(
                "logs",
                "DeleteLogStream",
                {"logGroupName": str(properties["LogGroupName"]), "logStreamName": physical_id},
            )
        except ServiceError as error:
            if error.code != "ResourceNotFoundException":
                raise _failed(error) from None


def providers() -> list[ResourceType]:
    return [LogGroupType(), LogStreamType()]
