"""The EventBridge Scheduler provider (`scheduler`, rest-json): schedule groups, schedules and
group tags, per account and region, in `SchedulerStore`.

The protocol layer checks the model's constraints (name patterns, lengths, enums, required
members); this module checks what the model cannot say, in the words AWS answers with: the
expression, the time zone, the dates, the flexible window, the target. Firing is
`fireside.scheduler.firing`'s; a create or update arms the schedule's first firing before it
is stored, so the answer goes out with the schedule durable and armed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.aws.errors import ModelledErrors, ServiceError
from fireside.aws.pagination import token_page
from fireside.scheduler.firing import Firer
from fireside.scheduler.store import DEFAULT_GROUP, Group, ScheduleRecord, SchedulerStore
from fireside.scheduler.timing import is_one_time, valid_expression, zone_of
from fireside.targets import service_of

__all__ = ["SchedulerProvider"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

error = ModelledErrors("scheduler")

#: EventBridge Scheduler's quota on a target's payload.
MAX_INPUT: Final = 256 * 1024
#: Services whose templated targets take JSON input (AWS: Lambda, Step Functions, EventBridge).
_JSON_INPUT: Final = frozenset({"lambda", "states", "events"})
_DEFAULT_RETRY: Final = {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}
_START_GRACE: Final = 300.0
#: AWS's default quotas: schedule groups, and schedules, per account and region.
MAX_GROUPS: Final = 500
MAX_SCHEDULES: Final = 1_000_000


def _invalid(message: str) -> ServiceError:
    return error("ValidationException", message)


def _not_found(message: str) -> ServiceError:
    return error("ResourceNotFoundException", message)


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


def _check_target(target: dict[str, Any]) -> None:
    arn = target["Arn"]
    if arn.startswith("arn:aws:scheduler:::"):
        raise _invalid(
            f"Fireside does not support universal targets ({arn}): use a templated target "
            "(a Lambda function, an SQS queue, an SNS topic or an EventBridge event bus ARN)."
        )
    service = service_of(arn)
    if not service:
        raise _invalid(f"Invalid target ARN {arn}.")
    text = target.get("Input")
    if text is not None:
        if len(text.encode()) > MAX_INPUT:
            raise _invalid(f"Target Input exceeds the maximum size of {MAX_INPUT} bytes.")
        if service in _JSON_INPUT:
            try:
                json.loads(text)
            except ValueError:
                raise _invalid("Target Input must be a well-formed JSON for this target.") from None
    if service == "events" and not target.get("EventBridgeParameters"):
        raise _invalid("EventBridgeParameters must be specified for an EventBridge target.")
    fifo = service == "sqs" and arn.endswith(".fifo")
    if fifo and not (target.get("SqsParameters") or {}).get("MessageGroupId"):
        raise _invalid("SqsParameters.MessageGroupId must be specified for a FIFO queue target.")


def _check_window(window: dict[str, Any]) -> None:
    if window["Mode"] == "FLEXIBLE" and window.get("MaximumWindowInMinutes") is None:
        raise _invalid("MaximumWindowInMinutes must be specified when Mode is FLEXIBLE.")


class SchedulerProvider:
    def __init__(
        self, store: SchedulerStore, firer: Firer, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.firer = firer
        self._clock = clock

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateScheduleGroup": self.create_schedule_group,
            "GetScheduleGroup": self.get_schedule_group,
            "ListScheduleGroups": self.list_schedule_groups,
            "DeleteScheduleGroup": self.delete_schedule_group,
            "CreateSchedule": self.create_schedule,
            "GetSchedule": self.get_schedule,
            "UpdateSchedule": self.update_schedule,
            "DeleteSchedule": self.delete_schedule,
            "ListSchedules": self.list_schedules,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
        }

    # -- helpers ---------------------------------------------------------------------------------
    def _group(self, ctx: RequestContext, name: str | None) -> Group:
        name = name or DEFAULT_GROUP
        group = self.store.group(ctx.account_id, ctx.region, name)
        if group is None:
            raise _not_found(f"Schedule group {name} does not exist.")
        return group

    def _schedule(self, ctx: RequestContext, params: dict[str, Any]) -> ScheduleRecord:
        group = self._group(ctx, params.get("GroupName"))
        found = self.store.schedule(ctx.account_id, ctx.region, group.name, params["Name"])
        if found is None:
            raise _not_found(f"Schedule {params['Name']} does not exist.")
        return found

    def _page(
        self, items: list[Any], key: Callable[[Any], str], params: dict[str, Any], scope: str
    ) -> tuple[list[Any], dict[str, Any]]:
        return token_page(
            items,
            key,
            params.get("NextToken"),
            params.get("MaxResults"),
            scope=scope,
            invalid=lambda: _invalid("The NextToken provided is invalid."),
        )

    # -- groups ----------------------------------------------------------------------------------
    def _group_wire(self, group: Group) -> dict[str, Any]:
        return {
            "Arn": group.arn,
            "Name": group.name,
            "State": "ACTIVE",
            "CreationDate": datetime.fromtimestamp(group.created, UTC),
            "LastModificationDate": datetime.fromtimestamp(group.modified, UTC),
        }

    async def create_schedule_group(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        name, token = params["Name"], params.get("ClientToken")
        existing = self.store.group(ctx.account_id, ctx.region, name)
        if existing is not None:
            if token is not None and existing.client_token == token:
                return {"ScheduleGroupArn": existing.arn}
            raise error("ConflictException", f"Schedule group {name} already exists.")
        if len(self.store.groups(ctx.account_id, ctx.region)) >= MAX_GROUPS:
            raise error(
                "ServiceQuotaExceededException",
                f"The number of schedule groups has reached the limit of {MAX_GROUPS}.",
            )
        tags = {tag["Key"]: tag["Value"] for tag in params.get("Tags") or []}
        group = Group(ctx.account_id, ctx.region, name, tags=tags, client_token=token)
        self.store.put_group(group)
        return {"ScheduleGroupArn": group.arn}

    async def get_schedule_group(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._group_wire(self._group(ctx, params["Name"]))

    async def list_schedule_groups(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        prefix = params.get("NamePrefix") or ""
        groups = [
            g for g in self.store.groups(ctx.account_id, ctx.region) if g.name.startswith(prefix)
        ]
        page, more = self._page(groups, lambda g: g.name, params, f"groups:{prefix}")
        return {"ScheduleGroups": [self._group_wire(g) for g in page], **more}

    async def delete_schedule_group(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        if params["Name"] == DEFAULT_GROUP:
            raise _invalid("Cannot delete the default schedule group.")
        self.store.delete_group(self._group(ctx, params["Name"]))
        return {}

    # -- schedules -------------------------------------------------------------------------------
    def _record(self, ctx: RequestContext, params: dict[str, Any], group: Group) -> ScheduleRecord:
        """A schedule from a CreateSchedule or UpdateSchedule request, checked."""
        expression = params["ScheduleExpression"]
        if not valid_expression(expression):
            raise _invalid(f"Invalid Schedule Expression {expression}.")
        timezone = params.get("ScheduleExpressionTimezone") or "UTC"
        if zone_of(timezone) is None:
            raise _invalid(f"Invalid ScheduleExpressionTimezone {timezone}.")
        _check_window(params["FlexibleTimeWindow"])
        target = dict(params["Target"])
        _check_target(target)
        target["RetryPolicy"] = {**_DEFAULT_RETRY, **(target.get("RetryPolicy") or {})}
        start, end = _epoch(params.get("StartDate")), _epoch(params.get("EndDate"))
        now = self._clock()
        if not is_one_time(expression):
            if start is not None and start < now - _START_GRACE:
                raise _invalid("The StartDate you specify cannot be earlier than 5 minutes ago.")
            if end is not None and end <= now:
                raise _invalid("The EndDate you specify cannot be earlier than the current time.")
            if start is not None and end is not None and start >= end:
                raise _invalid("The StartDate must come before the EndDate.")
        return ScheduleRecord(
            ctx.account_id,
            ctx.region,
            group.name,
            params["Name"],
            expression,
            target,
            dict(params["FlexibleTimeWindow"]),
            timezone=timezone,
            state=params.get("State") or "ENABLED",
            description=params.get("Description"),
            start=start,
            end=end,
            kms_key_arn=params.get("KmsKeyArn"),
            after_completion=params.get("ActionAfterCompletion") or "NONE",
            client_token=params.get("ClientToken"),
            created=now,
            modified=now,
        )

    async def create_schedule(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(ctx, params.get("GroupName"))
        existing = self.store.schedule(ctx.account_id, ctx.region, group.name, params["Name"])
        if existing is not None:
            token = params.get("ClientToken")
            if token is not None and existing.client_token == token:
                return {"ScheduleArn": existing.arn}
            raise error("ConflictException", f"Schedule {params['Name']} already exists.")
        if self.store.count(ctx.account_id, ctx.region) >= MAX_SCHEDULES:
            raise error(
                "ServiceQuotaExceededException",
                f"The number of schedules has reached the limit of {MAX_SCHEDULES}.",
            )
        schedule = self._record(ctx, params, group)
        self.firer.arm(schedule, schedule.created)
        self.store.put_schedule(schedule)
        return {"ScheduleArn": schedule.arn}

    async def update_schedule(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        existing = self._schedule(ctx, params)
        schedule = self._record(ctx, params, self._group(ctx, existing.group))
        schedule.created = existing.created
        self.firer.arm(schedule, schedule.modified)
        self.store.put_schedule(schedule)
        return {"ScheduleArn": schedule.arn}

    async def delete_schedule(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        self.store.delete_schedules([self._schedule(ctx, params)])
        return {}

    def _schedule_wire(self, schedule: ScheduleRecord) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Arn": schedule.arn,
            "Name": schedule.name,
            "GroupName": schedule.group,
            "ScheduleExpression": schedule.expression,
            "ScheduleExpressionTimezone": schedule.timezone,
            "FlexibleTimeWindow": schedule.flexible,
            "Target": schedule.target,
            "State": schedule.state,
            "ActionAfterCompletion": schedule.after_completion,
            "CreationDate": datetime.fromtimestamp(schedule.created, UTC),
            "LastModificationDate": datetime.fromtimestamp(schedule.modified, UTC),
        }
        if schedule.description is not None:
            out["Description"] = schedule.description
        if schedule.kms_key_arn is not None:
            out["KmsKeyArn"] = schedule.kms_key_arn
        if schedule.start is not None:
            out["StartDate"] = datetime.fromtimestamp(schedule.start, UTC)
        if schedule.end is not None:
            out["EndDate"] = datetime.fromtimestamp(schedule.end, UTC)
        return out

    async def get_schedule(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._schedule_wire(self._schedule(ctx, params))

    async def list_schedules(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = params.get("GroupName")
        if group is not None:
            self._group(ctx, group)
        prefix, state = params.get("NamePrefix") or "", params.get("State")
        found = [
            s
            for s in self.store.schedules(ctx.account_id, ctx.region)
            if (group is None or s.group == group)
            and s.name.startswith(prefix)
            and (state is None or s.state == state)
        ]
        page, more = self._page(
            found, lambda s: f"{s.group}/{s.name}", params, f"schedules:{group}:{prefix}:{state}"
        )
        summaries = [
            {
                "Arn": s.arn,
                "Name": s.name,
                "GroupName": s.group,
                "State": s.state,
                "CreationDate": datetime.fromtimestamp(s.created, UTC),
                "LastModificationDate": datetime.fromtimestamp(s.modified, UTC),
                "Target": {"Arn": s.target["Arn"]},
            }
            for s in page
        ]
        return {"Schedules": summaries, **more}

    # -- tags (schedule groups only, as AWS) ---------------------------------------------------
    def _tagged(self, ctx: RequestContext, arn: str) -> Group:
        prefix = f"arn:aws:scheduler:{ctx.region}:{ctx.account_id}:schedule-group/"
        if not arn.startswith(prefix):
            raise _not_found(f"Resource {arn} does not exist.")
        return self._group(ctx, arn[len(prefix) :])

    async def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self._tagged(ctx, params["ResourceArn"])
        tags = {**group.tags, **{tag["Key"]: tag["Value"] for tag in params["Tags"]}}
        if len(tags) > 50:
            raise _invalid("A schedule group can have at most 50 tags.")
        group.tags = tags
        self.store.put_group(group)
        return {}

    async def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self._tagged(ctx, params["ResourceArn"])
        for key in params["TagKeys"]:
            group.tags.pop(key, None)
        self.store.put_group(group)
        return {}

    async def list_tags_for_resource(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        group = self._tagged(ctx, params["ResourceArn"])
        return {"Tags": [{"Key": k, "Value": v} for k, v in group.tags.items()]}
