"""EventBridge Scheduler resources: Schedule and ScheduleGroup, built by Scheduler's served
operations as the stack's account.

UpdateSchedule replaces a schedule's whole definition, so an update sends every property. A
schedule's group is part of where it lives (its ARN), so moving it to another group makes
it anew there and deletes the old one; only the name forces a replacement, as in AWS's
resource schema. Template dates are ISO 8601 text; the service takes them decoded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fireside.aws.errors import ServiceError
from fireside.cloudformation.providers.support import (
    as_int,
    call,
    failed,
    name_for,
    require,
    tag_list,
)
from fireside.cloudformation.resource_types import (
    Created,
    ResourceContext,
    ResourceFailed,
    ResourceType,
)

__all__ = ["providers"]

_NAME_LIMIT = 64
_DEFAULT_GROUP = "default"


def _date(value: Any, where: str) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ResourceFailed(f"Value of property {where} must be an ISO 8601 date-time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _numbers(value: Any, where: str) -> dict[str, Any]:
    return {k: as_int(v, f"{where}/{k}") for k, v in dict(value).items()}


def _target(ctx: ResourceContext, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise ResourceFailed("Value of property Target must be an object")
    require(spec, "Arn", "RoleArn", resource=ctx.logical_id, path="#/Target")
    out = {k: v for k, v in spec.items() if v is not None}
    if out.get("RetryPolicy"):
        out["RetryPolicy"] = _numbers(out["RetryPolicy"], "Target/RetryPolicy")
    return out


def _schedule_params(ctx: ResourceContext, name: str, properties: dict[str, Any]) -> dict[str, Any]:
    require(
        properties,
        "FlexibleTimeWindow",
        "ScheduleExpression",
        "Target",
        resource=ctx.logical_id,
    )
    window = dict(properties["FlexibleTimeWindow"])
    if window.get("MaximumWindowInMinutes") is not None:
        window["MaximumWindowInMinutes"] = as_int(
            window["MaximumWindowInMinutes"], "FlexibleTimeWindow/MaximumWindowInMinutes"
        )
    params: dict[str, Any] = {
        "Name": name,
        "GroupName": properties.get("GroupName") or _DEFAULT_GROUP,
        "ScheduleExpression": properties["ScheduleExpression"],
        "FlexibleTimeWindow": window,
        "Target": _target(ctx, properties["Target"]),
    }
    for member in (
        "ScheduleExpressionTimezone",
        "State",
        "Description",
        "KmsKeyArn",
        "ActionAfterCompletion",
    ):
        if properties.get(member):
            params[member] = properties[member]
    for member in ("StartDate", "EndDate"):
        if properties.get(member):
            params[member] = _date(properties[member], member)
    return params


async def _gone_ok(ctx: ResourceContext, operation: str, params: dict[str, Any]) -> None:
    try:
        await ctx.call("scheduler", operation, params)
    except ServiceError as error:
        if error.code != "ResourceNotFoundException":
            raise failed(error) from None


class ScheduleType:
    type_name = "AWS::Scheduler::Schedule"
    replace_on = frozenset({"Name"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        name = name_for(ctx, properties.get("Name"), _NAME_LIMIT)
        result = await call(
            ctx, "scheduler", "CreateSchedule", _schedule_params(ctx, name, properties)
        )
        return Created(name, {"Arn": result["ScheduleArn"]})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        params = _schedule_params(ctx, physical_id, new)
        before = old.get("GroupName") or _DEFAULT_GROUP
        if params["GroupName"] != before:  # a schedule moves group by being made there anew
            result = await call(ctx, "scheduler", "CreateSchedule", params)
            await _gone_ok(ctx, "DeleteSchedule", {"Name": physical_id, "GroupName": before})
        else:
            result = await call(ctx, "scheduler", "UpdateSchedule", params)
        return Created(physical_id, {"Arn": result["ScheduleArn"]})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        group = properties.get("GroupName") or _DEFAULT_GROUP
        await _gone_ok(ctx, "DeleteSchedule", {"Name": physical_id, "GroupName": group})


class ScheduleGroupType:
    type_name = "AWS::Scheduler::ScheduleGroup"
    replace_on = frozenset({"Name"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        name = name_for(ctx, properties.get("Name"), _NAME_LIMIT)
        params: dict[str, Any] = {"Name": name}
        tags = tag_list(ctx, properties.get("Tags"))
        if tags:
            params["Tags"] = tags
        await call(ctx, "scheduler", "CreateScheduleGroup", params)
        return await self._created(ctx, name)

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        arn = (await self._created(ctx, physical_id)).attributes["Arn"]
        before = {t["Key"]: t["Value"] for t in tag_list(ctx, old.get("Tags"))}
        after = {t["Key"]: t["Value"] for t in tag_list(ctx, new.get("Tags"))}
        gone = [k for k in before if k not in after]
        if gone:
            params = {"ResourceArn": arn, "TagKeys": gone}
            await call(ctx, "scheduler", "UntagResource", params)
        changed = [{"Key": k, "Value": v} for k, v in after.items() if before.get(k) != v]
        if changed:
            await call(ctx, "scheduler", "TagResource", {"ResourceArn": arn, "Tags": changed})
        return await self._created(ctx, physical_id)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await _gone_ok(ctx, "DeleteScheduleGroup", {"Name": physical_id})

    @staticmethod
    async def _created(ctx: ResourceContext, name: str) -> Created:
        group = await call(ctx, "scheduler", "GetScheduleGroup", {"Name": name})
        return Created(
            name,
            {
                "Arn": group["Arn"],
                "State": group["State"],
                "CreationDate": group["CreationDate"].isoformat(),
                "LastModificationDate": group["LastModificationDate"].isoformat(),
            },
        )


def providers() -> list[ResourceType]:
    return [ScheduleType(), ScheduleGroupType()]
