"""SQS resource providers: AWS::SQS::Queue and AWS::SQS::QueuePolicy, through SQS's own
operations as the stack's account.

A queue's Ref is its URL; `Fn::GetAtt` gives Arn, QueueName and QueueUrl. Changing
QueueName or FifoQueue replaces the queue (AWS's "Update requires: Replacement"); other
properties are set in place, and a property removed from the template goes back to SQS's
default, as CloudFormation does.
"""

from __future__ import annotations

import json
from typing import Any, Final

from fireside.aws.errors import ServiceError
from fireside.cloudformation.resource_types import (
    Created,
    ResourceContext,
    ResourceFailed,
    ResourceType,
)

__all__ = ["providers"]

_MAX_NAME: Final = 80
_GONE: Final = frozenset({"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue"})
#: Queue properties that are queue attributes, and the value a removed one returns to.
_DEFAULTS: Final = {
    "DelaySeconds": "0",
    "MaximumMessageSize": "262144",
    "MessageRetentionPeriod": "345600",
    "ReceiveMessageWaitTimeSeconds": "0",
    "VisibilityTimeout": "30",
    "RedrivePolicy": "",
    "RedriveAllowPolicy": "",
    "KmsMasterKeyId": "",
    "KmsDataKeyReusePeriodSeconds": "300",
    "SqsManagedSseEnabled": "true",
    "ContentBasedDeduplication": "false",
    "DeduplicationScope": "queue",
    "FifoThroughputLimit": "perQueue",
}
_FIFO_ONLY: Final = frozenset(
    {"ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit"}
)


def failed(error: ServiceError) -> ResourceFailed:
    return ResourceFailed(
        f'Resource handler returned message: "{error.message}" (HandlerErrorCode: '
        f"{'InvalidRequest' if error.sender_fault else 'ServiceInternalError'})"
    )


def attribute_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _attributes(properties: dict[str, Any]) -> dict[str, str]:
    attributes = {k: attribute_text(v) for k, v in properties.items() if k in _DEFAULTS}
    if str(properties.get("FifoQueue", "false")).lower() == "true":
        attributes["FifoQueue"] = "true"
    return attributes


def _tags(properties: dict[str, Any]) -> dict[str, str]:
    return {str(t["Key"]): str(t["Value"]) for t in properties.get("Tags") or []}


class Queue:
    type_name = "AWS::SQS::Queue"
    replace_on = frozenset({"QueueName", "FifoQueue"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        fifo = str(properties.get("FifoQueue", "false")).lower() == "true"
        name = properties.get("QueueName")
        if name is None:
            base = ctx.generated_name[: _MAX_NAME - (5 if fifo else 0)]
            name = base + (".fifo" if fifo else "")
        params: dict[str, Any] = {"QueueName": str(name), "Attributes": _attributes(properties)}
        # A queue carries the stack's own tags but not CloudFormation's `aws:cloudformation:*`
        # (moto's AWS-verified test_base64_function lists a queue's tags as the template's).
        stack_tags = {k: v for k, v in ctx.tags.items() if not k.startswith("aws:")}
        tags = {**stack_tags, **_tags(properties)}
        if tags:
            params["tags"] = tags
        try:
            url = (await ctx.call("sqs", "CreateQueue", params))["QueueUrl"]
            return await self._read(ctx, url)
        except ServiceError as error:
            raise failed(error) from None

    async def _read(self, ctx: ResourceContext, url: str) -> Created:
        found = await ctx.call(
            "sqs", "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["QueueArn"]}
        )
        arn = found["Attributes"]["QueueArn"]
        return Created(url, {"Arn": arn, "QueueName": arn.rsplit(":", 1)[1], "QueueUrl": url})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        fifo = str(new.get("FifoQueue", "false")).lower() == "true"
        wanted = _attributes(new)
        changes = {k: v for k, v in wanted.items() if _attributes(old).get(k) != v}
        for key in _attributes(old):
            if key not in wanted and (fifo or key not in _FIFO_ONLY):
                changes[key] = _DEFAULTS[key]
        changes.pop("FifoQueue", None)
        try:
            if changes:
                await ctx.call(
                    "sqs", "SetQueueAttributes", {"QueueUrl": physical_id, "Attributes": changes}
                )
            old_tags, new_tags = _tags(old), _tags(new)
            gone = [k for k in old_tags if k not in new_tags]
            if gone:
                await ctx.call("sqs", "UntagQueue", {"QueueUrl": physical_id, "TagKeys": gone})
            if new_tags and new_tags != old_tags:
                await ctx.call("sqs", "TagQueue", {"QueueUrl": physical_id, "Tags": new_tags})
            return await self._read(ctx, physical_id)
        except ServiceError as error:
            raise failed(error) from None

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        try:
            await ctx.call("sqs", "DeleteQueue", {"QueueUrl": physical_id})
        except ServiceError as error:
            if error.code not in _GONE:
                raise failed(error) from None


class QueuePolicy:
    type_name = "AWS::SQS::QueuePolicy"
    replace_on: frozenset[str] = frozenset()

    async def _apply(self, ctx: ResourceContext, queues: list[str], policy: str) -> None:
        for url in queues:
            await ctx.call(
                "sqs", "SetQueueAttributes", {"QueueUrl": url, "Attributes": {"Policy": policy}}
            )

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        try:
            await self._apply(
                ctx,
                [str(q) for q in properties.get("Queues") or []],
                attribute_text(properties.get("PolicyDocument", {})),
            )
        except ServiceError as error:
            raise failed(error) from None
        return Created(ctx.generated_name, {"Id": ctx.generated_name})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        kept = [str(q) for q in new.get("Queues") or []]
        try:
            await self._apply(ctx, [q for q in old.get("Queues") or [] if q not in kept], "")
            await self._apply(ctx, kept, attribute_text(new.get("PolicyDocument", {})))
        except ServiceError as error:
            raise failed(error) from None
        return Created(physical_id, {"Id": physical_id})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        for url in properties.get("Queues") or []:
            try:
                await self._apply(ctx, [str(url)], "")
            except ServiceError as error:
                if error.code not in _GONE:
                    raise failed(error) from None


def providers() -> list[ResourceType]:
    return [Queue(), QueuePolicy()]
