"""AWS::CloudFormation::WaitConditionHandle: a resource that makes nothing.

Templates use a handle as a placeholder (a stack must have a resource; a handle changes
nothing when it is replaced) far more often than to receive wait-condition signals. Its Ref
is the URL a signal would be PUT to; AWS makes it a presigned S3 URL naming the stack and the
handle. Fireside returns that URL's shape, unsigned: nothing listens on it, and
AWS::CloudFormation::WaitCondition (which waits for such signals) has no provider here.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fireside.cloudformation.resource_types import Created, ResourceContext, ResourceType

__all__ = ["WaitConditionHandleType", "providers"]


class WaitConditionHandleType:
    type_name = "AWS::CloudFormation::WaitConditionHandle"
    replace_on: frozenset[str] = frozenset()

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        host = f"cloudformation-waitcondition-{ctx.region}.s3.amazonaws.com"
        return Created(f"https://{host}/{quote(ctx.stack_id, safe='')}/{ctx.logical_id}")

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        return Created(physical_id)  # a handle has no properties to change

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        return None


def providers() -> list[ResourceType]:
    return [WaitConditionHandleType()]
