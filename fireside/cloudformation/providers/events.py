"""EventBridge resources: EventBus, Rule, EventBusPolicy and Archive, built by EventBridge's
served operations as the stack's account.

A rule is PutRule (which replaces the whole rule, so an update sends every property) plus
PutTargets / RemoveTargets for the targets that changed. CloudFormation's Ref of a rule is its
name, or `<EventBusName>|<name>` when the template names a bus; the provider reads either
back. An EventBusPolicy adds its one statement to the bus's policy document and removes only
that statement on delete, so several policies (and the bus's own `Policy`) live side by side.
Connections and API destinations are not served by Fireside, so they have no providers.
"""

from __future__ import annotations

import json
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

_RULE_NAME_LIMIT = 64
_ARCHIVE_NAME_LIMIT = 48
_TARGETS_PER_CALL = 10  # PutTargets' limit


def _json_text(value: Any) -> str | None:
    """A `Json` property (an object, or a string holding JSON) as the JSON text APIs take."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


async def _gone_ok(ctx: ResourceContext, operation: str, params: dict[str, Any]) -> None:
    """A delete call for which "not there" is success."""
    try:
        await ctx.call("events", operation, params)
    except ServiceError as error:
        if error.code != "ResourceNotFoundException":
            raise failed(error) from None


# -- event buses -------------------------------------------------------------------------------
class EventBusType:
    type_name = "AWS::Events::EventBus"
    replace_on = frozenset({"Name", "EventSourceName"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        require(properties, "Name", resource=ctx.logical_id)
        name = str(properties["Name"])
        params: dict[str, Any] = {"Name": name}
        for member in ("EventSourceName", "Description", "KmsKeyIdentifier", "DeadLetterConfig"):
            if properties.get(member):
                params[member] = properties[member]
        tags = tag_list(ctx, properties.get("Tags"))
        if tags:
            params["Tags"] = tags
        await call(ctx, "events", "CreateEventBus", params)
        try:
            policy = _json_text(properties.get("Policy"))
            if policy is not None:
                await call(ctx, "events", "PutPermission", {"EventBusName": name, "Policy": policy})
        except ResourceFailed:
            await _gone_ok(ctx, "DeleteEventBus", {"Name": name})
            raise
        return await self._created(ctx, name)

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        changed = [
            m
            for m in ("Description", "KmsKeyIdentifier", "DeadLetterConfig")
            if old.get(m) != new.get(m)
        ]
        if changed:  # UpdateEventBus: Fireside's answer says whether it is served
            params = {"Name": physical_id, **{m: new[m] for m in changed if new.get(m)}}
            await call(ctx, "events", "UpdateEventBus", params)
        policy = _json_text(new.get("Policy"))
        if policy != _json_text(old.get("Policy")):
            if policy is None:
                params = {"EventBusName": physical_id, "RemoveAllPermissions": True}
                await call(ctx, "events", "RemovePermission", params)
            else:
                params = {"EventBusName": physical_id, "Policy": policy}
                await call(ctx, "events", "PutPermission", params)
        arn = (await self._created(ctx, physical_id)).attributes["Arn"]
        await _retag(ctx, arn, old.get("Tags"), new.get("Tags"))
        return await self._created(ctx, physical_id)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await _gone_ok(ctx, "DeleteEventBus", {"Name": physical_id})

    @staticmethod
    async def _created(ctx: ResourceContext, name: str) -> Created:
        bus = await call(ctx, "events", "DescribeEventBus", {"Name": name})
        attributes = {"Arn": bus["Arn"], "Name": bus["Name"]}
        if bus.get("Policy"):
            attributes["Policy"] = bus["Policy"]
        return Created(name, attributes)


async def _retag(ctx: ResourceContext, arn: str, old: Any, new: Any) -> None:
    before = {t["Key"]: t["Value"] for t in tag_list(ctx, old)}
    after = {t["Key"]: t["Value"] for t in tag_list(ctx, new)}
    gone = [k for k in before if k not in after]
    if gone:
        await call(ctx, "events", "UntagResource", {"ResourceARN": arn, "TagKeys": gone})
    changed = [{"Key": k, "Value": v} for k, v in after.items() if before.get(k) != v]
    if changed:
        await call(ctx, "events", "TagResource", {"ResourceARN": arn, "Tags": changed})


# -- rules -------------------------------------------------------------------------------------
def _target(spec: dict[str, Any]) -> dict[str, Any]:
    """A template target as PutTargets takes it: numbers coerced, Input as JSON text."""
    if not isinstance(spec, dict) or not spec.get("Id") or not spec.get("Arn"):
        raise ResourceFailed("Each of Targets requires an Id and an Arn")
    out = {k: v for k, v in spec.items() if v is not None}
    if "Input" in out and not isinstance(out["Input"], str):
        out["Input"] = json.dumps(out["Input"])
    retry = out.get("RetryPolicy")
    if retry:
        out["RetryPolicy"] = {
            k: as_int(v, f"Targets/{spec['Id']}/RetryPolicy/{k}") for k, v in retry.items()
        }
    transformer = out.get("InputTransformer")
    if transformer and not isinstance(transformer.get("InputPathsMap", {}), dict):
        raise ResourceFailed(f"Targets/{spec['Id']}/InputTransformer/InputPathsMap must be a map")
    return out


def _rule_ref(properties: dict[str, Any], name: str) -> str:
    bus = properties.get("EventBusName")
    return f"{bus}|{name}" if bus else name


def _rule_of(physical_id: str) -> tuple[str | None, str]:
    bus, _, name = physical_id.rpartition("|")
    return bus or None, name


class RuleType:
    type_name = "AWS::Events::Rule"
    replace_on = frozenset({"Name", "EventBusName"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        name = name_for(ctx, properties.get("Name"), _RULE_NAME_LIMIT)
        bus = properties.get("EventBusName")
        arn = await self._put_rule(ctx, name, properties)
        try:
            await self._put_targets(ctx, bus, name, [_target(t) for t in _targets(properties)])
        except ResourceFailed:
            await self._drop(ctx, bus, name)
            raise
        return Created(_rule_ref(properties, name), {"Arn": arn})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        bus, name = _rule_of(physical_id)
        arn = await self._put_rule(ctx, name, new)
        before = {t["Id"]: t for t in map(_target, _targets(old))}
        after = {t["Id"]: t for t in map(_target, _targets(new))}
        gone = [i for i in before if i not in after]
        if gone:
            params = {"Rule": name, "Ids": gone, **_bus_param(bus)}
            await call(ctx, "events", "RemoveTargets", params)
        changed = [t for i, t in after.items() if before.get(i) != t]
        await self._put_targets(ctx, bus, name, changed)
        return Created(physical_id, {"Arn": arn})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        bus, name = _rule_of(physical_id)
        await self._drop(ctx, bus, name)

    @staticmethod
    async def _put_rule(ctx: ResourceContext, name: str, properties: dict[str, Any]) -> str:
        params: dict[str, Any] = {"Name": name, **_bus_param(properties.get("EventBusName"))}
        pattern = _json_text(properties.get("EventPattern"))
        if pattern is not None:
            params["EventPattern"] = pattern
        for member in ("ScheduleExpression", "State", "Description", "RoleArn"):
            if properties.get(member):
                params[member] = properties[member]
        result = await call(ctx, "events", "PutRule", params)
        arn: str = result["RuleArn"]
        return arn

    @staticmethod
    async def _put_targets(
        ctx: ResourceContext, bus: str | None, name: str, targets: list[dict[str, Any]]
    ) -> None:
        for start in range(0, len(targets), _TARGETS_PER_CALL):
            chunk = targets[start : start + _TARGETS_PER_CALL]
            params = {"Rule": name, "Targets": chunk, **_bus_param(bus)}
            result = await call(ctx, "events", "PutTargets", params)
            for entry in result.get("FailedEntries") or []:
                raise ResourceFailed(
                    f"Target {entry.get('TargetId')}: {entry.get('ErrorMessage')} "
                    f"({entry.get('ErrorCode')})"
                )

    @staticmethod
    async def _drop(ctx: ResourceContext, bus: str | None, name: str) -> None:
        where = _bus_param(bus)
        try:
            listed = await ctx.call("events", "ListTargetsByRule", {"Rule": name, **where})
        except ServiceError as error:
            if error.code == "ResourceNotFoundException":
                return  # the rule (or its bus) is gone already
            raise failed(error) from None
        ids = [t["Id"] for t in listed.get("Targets") or []]
        for start in range(0, len(ids), _TARGETS_PER_CALL):
            params = {"Rule": name, "Ids": ids[start : start + _TARGETS_PER_CALL], **where}
            await call(ctx, "events", "RemoveTargets", params)
        await _gone_ok(ctx, "DeleteRule", {"Name": name, **where})


def _targets(properties: dict[str, Any]) -> list[dict[str, Any]]:
    targets = properties.get("Targets") or []
    if not isinstance(targets, list):
        raise ResourceFailed("Value of property Targets must be of type List")
    return targets


def _bus_param(bus: str | None) -> dict[str, str]:
    return {"EventBusName": bus} if bus else {}


# -- bus policies ------------------------------------------------------------------------------
class EventBusPolicyType:
    type_name = "AWS::Events::EventBusPolicy"
    replace_on = frozenset({"StatementId", "EventBusName"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        require(properties, "StatementId", resource=ctx.logical_id)
        await self._put(ctx, properties)
        return Created(str(properties["StatementId"]))

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        await self._put(ctx, new)
        return Created(physical_id)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        params = {"StatementId": physical_id, **_bus_param(properties.get("EventBusName"))}
        try:
            await ctx.call("events", "RemovePermission", params)
        except ServiceError as error:  # no such bus, policy or statement: gone already
            if error.code != "ResourceNotFoundException":
                raise failed(error) from None

    @staticmethod
    async def _put(ctx: ResourceContext, properties: dict[str, Any]) -> None:
        sid = str(properties["StatementId"])
        where = _bus_param(properties.get("EventBusName"))
        statement = properties.get("Statement")
        if statement is None:  # the older form: one account (or "*") may PutEvents
            params: dict[str, Any] = {"StatementId": sid, **where}
            for member in ("Action", "Principal", "Condition"):
                if properties.get(member) is not None:
                    params[member] = properties[member]
            await call(ctx, "events", "PutPermission", params)
            return
        if isinstance(statement, str):
            try:
                statement = json.loads(statement)
            except ValueError:
                raise ResourceFailed("Statement must be a JSON object") from None
        if not isinstance(statement, dict):
            raise ResourceFailed("Statement must be a JSON object")
        bus = await call(ctx, "events", "DescribeEventBus", {"Name": where.get("EventBusName")})
        document = json.loads(bus["Policy"]) if bus.get("Policy") else {}
        kept = [s for s in document.get("Statement") or [] if s.get("Sid") != sid]
        document = {"Version": "2012-10-17", "Statement": [*kept, {**statement, "Sid": sid}]}
        params = {"Policy": json.dumps(document), **where}
        await call(ctx, "events", "PutPermission", params)


# -- archives ----------------------------------------------------------------------------------
class ArchiveType:
    type_name = "AWS::Events::Archive"
    replace_on = frozenset({"ArchiveName", "SourceArn"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        require(properties, "SourceArn", resource=ctx.logical_id)
        name = name_for(ctx, properties.get("ArchiveName"), _ARCHIVE_NAME_LIMIT)
        params: dict[str, Any] = {"ArchiveName": name, "EventSourceArn": properties["SourceArn"]}
        params.update(self._settings(properties))
        result = await call(ctx, "events", "CreateArchive", params)
        return Created(name, {"Arn": result["ArchiveArn"]})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        params: dict[str, Any] = {"ArchiveName": physical_id, **self._settings(new)}
        if old.get("EventPattern") and not new.get("EventPattern"):
            params["EventPattern"] = ""  # the archive takes every event again
        if old.get("RetentionDays") is not None and new.get("RetentionDays") is None:
            params["RetentionDays"] = 0  # indefinitely, as an archive made without it
        result = await call(ctx, "events", "UpdateArchive", params)
        return Created(physical_id, {"Arn": result["ArchiveArn"]})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await _gone_ok(ctx, "DeleteArchive", {"ArchiveName": physical_id})

    @staticmethod
    def _settings(properties: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if properties.get("Description") is not None:
            out["Description"] = properties["Description"]
        pattern = _json_text(properties.get("EventPattern"))
        if pattern is not None:
            out["EventPattern"] = pattern
        if properties.get("RetentionDays") is not None:
            out["RetentionDays"] = as_int(properties["RetentionDays"], "RetentionDays")
        if properties.get("KmsKeyIdentifier"):
            out["KmsKeyIdentifier"] = properties["KmsKeyIdentifier"]
        return out


def providers() -> list[ResourceType]:
    return [EventBusType(), RuleType(), EventBusPolicyType(), ArchiveType()]
