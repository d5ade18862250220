"""Nested stacks: `AWS::CloudFormation::Stack`, a stack made, updated and deleted as one
resource of its parent.

The child's template comes from its `TemplateURL` (Fireside's S3, read as the stack's
account); it takes the parent's capabilities and tags, and its name is the parent's, the
logical id and a random suffix, as on AWS. Its Ref is its stack id; `Fn::GetAtt
Child.Outputs.Name` reads its outputs. The child runs inline, under its own lock, so the
parent's resource completes when the child does; a failed child fails the resource and the
parent rolls back (deleting the child).
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from fireside.aws.errors import ServiceError
from fireside.cloudformation import operations
from fireside.cloudformation.api import StackApi
from fireside.cloudformation.intrinsics import Pseudo
from fireside.cloudformation.model import Stack
from fireside.cloudformation.plan import Plan, prepare
from fireside.cloudformation.resource_types import Created, ResourceContext, ResourceFailed
from fireside.cloudformation.template import MAX_URL_BODY, parse_template

__all__ = ["NestedStacks"]

_MAX_NAME: Final = 128
_MAX_DEPTH: Final = 10
_FAILING: Final = frozenset(
    {
        "ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "CREATE_FAILED",
        "UPDATE_FAILED",
        "DELETE_FAILED",
    }
)


def _given(properties: dict[str, Any]) -> list[dict[str, Any]]:
    values = properties.get("Parameters") or {}
    if not isinstance(values, dict):
        raise ResourceFailed("Parameters of a nested stack must be a map")
    return [
        {
            "ParameterKey": str(key),
            "ParameterValue": ",".join(map(str, value)) if isinstance(value, list) else str(value),
        }
        for key, value in values.items()
    ]


class NestedStacks:
    type_name = "AWS::CloudFormation::Stack"
    replace_on: frozenset[str] = frozenset()

    def __init__(self, api: StackApi) -> None:
        self.api = api
        self.engine = api.engine

    async def _plan(
        self, ctx: ResourceContext, parent: Stack, child: Stack, properties: dict[str, Any]
    ) -> tuple[str, Plan]:
        url = str(properties.get("TemplateURL", ""))
        try:
            raw = await self.api.sources.read_url(ctx.account, ctx.region, url)
            text = raw.decode("utf-8", errors="replace")
            plan = await prepare(
                parse_template(text, MAX_URL_BODY),
                given=_given(properties),
                previous=child.raw_parameters,
                capabilities=parent.capabilities,
                read_ssm=lambda name: self._ssm(ctx, name),
                known_types=self.api.known_types,
                pseudo=Pseudo(
                    ctx.account,
                    ctx.region,
                    child.name,
                    child.stack_id,
                    child.notification_arns,
                    url_suffix=self.engine.url_suffix,
                ),
                transform=None,
            )
        except ServiceError as error:
            raise ResourceFailed(error.message) from None
        return text, plan

    async def _ssm(self, ctx: ResourceContext, name: str) -> str:
        found = await ctx.call("ssm", "GetParameter", {"Name": name})
        return str(found["Parameter"]["Value"])

    def _tags(self, parent: Stack, properties: dict[str, Any]) -> list[dict[str, str]]:
        own = [
            {"Key": str(t["Key"]), "Value": str(t["Value"])} for t in properties.get("Tags") or []
        ]
        keys = {t["Key"] for t in own}
        return [t for t in parent.tags if t["Key"] not in keys] + own

    @staticmethod
    def _created(child: Stack) -> Created:
        return Created(
            child.stack_id, {f"Outputs.{o['OutputKey']}": o["OutputValue"] for o in child.outputs}
        )

    def _reason(self, child: Stack) -> str:
        """Why the child failed, as its own events say."""
        for record in self.engine.store.events(child.stack_id):
            if (
                record["LogicalResourceId"] == child.name
                and record.get("ResourceStatusReason")
                and record["ResourceStatus"] in _FAILING
            ):
                return str(record["ResourceStatusReason"])
        return child.reason

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        parent = self.engine.stacks[ctx.stack_id]
        depth, above = 1, parent
        while above.parent_id is not None and above.parent_id in self.engine.stacks:
            depth, above = depth + 1, self.engine.stacks[above.parent_id]
        if depth >= _MAX_DEPTH:  # a template that nests itself would never end
            raise ResourceFailed(f"Nested stacks may be at most {_MAX_DEPTH} levels deep")
        # `<parent>-<logical id>-<random>`, the random part kept whatever is cut.
        head, _, suffix = ctx.generated_name.rpartition("-")
        name = f"{head[: _MAX_NAME - len(suffix) - 1]}-{suffix}"
        child = Stack(
            f"arn:aws:cloudformation:{ctx.region}:{ctx.account}:stack/{name}/{uuid.uuid4()}",
            name,
            ctx.account,
            ctx.region,
            "CREATE_IN_PROGRESS",
            parent_id=parent.stack_id,
            root_id=parent.root_id or parent.stack_id,
            capabilities=parent.capabilities,
            notification_arns=[str(a) for a in properties.get("NotificationARNs") or []],
            disable_rollback=parent.disable_rollback,
            timeout=int(properties["TimeoutInMinutes"])
            if "TimeoutInMinutes" in properties
            else None,
            tags=self._tags(parent, properties),
        )
        text, plan = await self._plan(ctx, parent, child, properties)
        StackApi.apply_plan(child, text, plan)
        async with self.engine.lock_for(child.stack_id):
            self.engine.stacks[child.stack_id] = child
            await self.engine.set_status(child, "CREATE_IN_PROGRESS", "User Initiated")
            await operations.create(self.engine, child)
            if child.status != "CREATE_COMPLETE":
                reason = self._reason(child)
                # The resource has no physical id to delete later: the child goes now.
                await operations.delete(self.engine, child)
                raise ResourceFailed(
                    f"Embedded stack {child.stack_id} was not successfully created: {reason}"
                )
        return self._created(child)

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        child = self.engine.stacks.get(physical_id)
        if child is None:
            raise ResourceFailed(f"Stack with id {physical_id} does not exist")
        parent = self.engine.stacks[ctx.stack_id]
        text, plan = await self._plan(ctx, parent, child, new)
        tags = self._tags(parent, new)
        if (
            plan.template == child.template
            and plan.parameters.raw == child.raw_parameters
            and tags == child.tags
        ):
            return self._created(child)
        async with self.engine.lock_for(child.stack_id):
            self.api.stage_update(child, text, plan, {"Capabilities": parent.capabilities}, tags)
            await self.engine.set_status(child, "UPDATE_IN_PROGRESS", "User Initiated")
            await operations.update(self.engine, child)
        if child.status != "UPDATE_COMPLETE":
            raise ResourceFailed(
                f"Embedded stack {child.stack_id} was not successfully updated. "
                f"Currently in {child.status} with reason: {self._reason(child)}"
            )
        return self._created(child)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        child = self.engine.stacks.get(physical_id)
        if child is None or child.status == "DELETE_COMPLETE":
            return
        async with self.engine.lock_for(child.stack_id):
            await operations.delete(self.engine, child)
        if child.status != "DELETE_COMPLETE":
            raise ResourceFailed(
                f"Embedded stack {child.stack_id} was not successfully deleted: {child.reason}"
            )
