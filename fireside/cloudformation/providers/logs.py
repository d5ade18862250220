"""CloudFormation providers for CloudWatch Logs: `AWS::Logs::LogGroup` and
`AWS::Logs::LogStream`, through the `logs` service's own operations as the stack's account.

A LogGroup's Ref is its name and its `Arn` attribute ends in `:*`, as CloudFormation's
documentation gives it. Declaring `/aws/lambda/<function>` in a template (to set its retention)
is the common case: it is the function's own group, whose events the function writes.
"""

from __future__ import annotations

from typing import Any, Final

from fireside.aws.errors import ServiceError
from fireside.cloudformation.providers.support import as_int, call, failed, name_for, require
from fireside.cloudformation.providers.support import tag_list as stack_and_own_tags
from fireside.cloudformation.resource_types import (
    Created,
    ResourceContext,
    ResourceFailed,
    ResourceType,
)

__all__ = ["providers"]

#: CloudWatch Logs' limit on a group's (and a stream's) name.
MAX_NAME: Final = 512


def _tags(ctx: ResourceContext, properties: dict[str, Any]) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in stack_and_own_tags(ctx, properties.get("Tags"))}


def _retention(properties: dict[str, Any]) -> int | None:
    value = properties.get("RetentionInDays")
    return None if value is None else as_int(value, "RetentionInDays")


class LogGroupType:
    type_name = "AWS::Logs::LogGroup"
    replace_on = frozenset({"LogGroupName"})

    def _created(self, ctx: ResourceContext, name: str) -> Created:
        arn = f"arn:aws:logs:{ctx.region}:{ctx.account}:log-group:{name}:*"
        return Created(name, {"Arn": arn})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        name = name_for(ctx, properties.get("LogGroupName"), MAX_NAME)
        params: dict[str, Any] = {"logGroupName": name}
        tags = _tags(ctx, properties)
        if tags:
            params["tags"] = tags
        if properties.get("KmsKeyId"):
            params["kmsKeyId"] = str(properties["KmsKeyId"])
        retention = _retention(properties)
        try:
            await call(ctx, "logs", "CreateLogGroup", params)
        except ResourceFailed as refused:
            if "HandlerErrorCode: AlreadyExists" in str(refused):
                # CloudFormation's own words for a group that is already there.
                identifier = f"Resource of type '{self.type_name}' with identifier '{name}'"
                exists = ServiceError(
                    "ResourceAlreadyExistsException", f"{identifier} already exists."
                )
                raise failed(exists) from None
            raise
        if retention is not None:
            try:
                await call(
                    ctx,
                    "logs",
                    "PutRetentionPolicy",
                    {"logGroupName": name, "retentionInDays": retention},
                )
            except ResourceFailed:
                # Nothing half-made is left behind: the group goes with the failure.
                await ctx.call("logs", "DeleteLogGroup", {"logGroupName": name})
                raise
        return self._created(ctx, name)

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        retention = _retention(new)
        if retention != _retention(old):
            if retention is None:
                await call(ctx, "logs", "DeleteRetentionPolicy", {"logGroupName": physical_id})
            else:
                await call(
                    ctx,
                    "logs",
                    "PutRetentionPolicy",
                    {"logGroupName": physical_id, "retentionInDays": retention},
                )
        before, after = _tags(ctx, old), _tags(ctx, new)
        arn = f"arn:aws:logs:{ctx.region}:{ctx.account}:log-group:{physical_id}"
        gone = [key for key in before if key not in after]
        if gone:
            await call(ctx, "logs", "UntagResource", {"resourceArn": arn, "tagKeys": gone})
        changed = {k: v for k, v in after.items() if before.get(k) != v}
        if changed:
            await call(ctx, "logs", "TagResource", {"resourceArn": arn, "tags": changed})
        return self._created(ctx, physical_id)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        try:
            await ctx.call("logs", "DeleteLogGroup", {"logGroupName": physical_id})
        except ServiceError as error:
            if error.code != "ResourceNotFoundException":
                raise failed(error) from None


class LogStreamType:
    type_name = "AWS::Logs::LogStream"
    replace_on = frozenset({"LogGroupName", "LogStreamName"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        require(properties, "LogGroupName", resource=ctx.logical_id)
        group = str(properties["LogGroupName"])
        name = name_for(ctx, properties.get("LogStreamName"), MAX_NAME)
        await call(ctx, "logs", "CreateLogStream", {"logGroupName": group, "logStreamName": name})
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
                raise failed(error) from None


def providers() -> list[ResourceType]:
    return [LogGroupType(), LogStreamType()]
