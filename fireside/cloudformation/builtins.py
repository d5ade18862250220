"""Resource types with no service behind them, provided by the engine itself.

`AWS::CloudFormation::WaitConditionHandle` (a no-op whose Ref is a URL),
`AWS::CloudFormation::WaitCondition` (completes at once: nothing signals Fireside's
handles yet), `AWS::CDK::Metadata` (CDK's analytics record), and the placeholder a stack
gets for a type Fireside does not provide when `cfn_unsupported_placeholders` is on.
"""

from __future__ import annotations

import uuid
from typing import Any

from fireside.cloudformation.resource_types import Created, ResourceContext

__all__ = ["ANY_ATTRIBUTE", "NoOp", "WaitConditionHandle"]


#: The attribute a placeholder answers for every `Fn::GetAtt` (its physical id).
ANY_ATTRIBUTE = "*"


class NoOp:
    """Creates nothing; its physical id is its generated name, and so is each attribute."""

    replace_on: frozenset[str] = frozenset()

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        physical = ctx.generated_name or ctx.logical_id
        return Created(physical, {ANY_ATTRIBUTE: physical})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        return Created(physical_id, {ANY_ATTRIBUTE: physical_id})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        return None


class WaitConditionHandle(NoOp):
    def __init__(self, endpoint_url: str) -> None:
        super().__init__("AWS::CloudFormation::WaitConditionHandle")
        self.endpoint_url = endpoint_url

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        return Created(f"{self.endpoint_url}/_fireside/cloudformation/wait/{uuid.uuid4().hex}")
