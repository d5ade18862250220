"""The EventBridge provider (`events`, JSON 1.1): event buses and their policies, rules,
targets, PutEvents, TestEventPattern and tags; the archive and replay operations come from
`archive_api.py`, bus policies' logic from `policy.py`.

Buses and rules live in `EventStore` per account and region; a rule's pattern is checked and
compiled by `fireside.patterns`; PutEvents hands accepted events to the `Router`
(`fireside.events.delivery`), which has handed every delivery to its target (or to the retry
outbox) durably before the answer goes out. Operations not in `operations()` are answered by
the edge as not implemented.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.aws.errors import ModelledErrors, ServiceError
from fireside.aws.pagination import token_page
from fireside.events.archive_api import ArchiveOperations
from fireside.events.delivery import Router
from fireside.events.policy import may_put, put_permission, remove_permission
from fireside.events.schedule import parse_schedule
from fireside.events.store import DEFAULT_BUS, Bus, EventStore, Rule
from fireside.events.transform import PathError, TemplateError, check_transformer, parse_path
from fireside.patterns import PatternError, compile_pattern
from fireside.targets import Sender

__all__ = ["EventsProvider"]

log = logging.getLogger(__name__)

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

error = ModelledErrors("events")

#: PutEvents' limit on a request's entries, counted as AWS documents ("Calculating PutEvents
#: event entry size").
MAX_PUT_EVENTS: Final = 256 * 1024
MAX_TARGETS: Final = 5
_BUS_ARN: Final = re.compile(
    r"arn:aws[\w-]*:events:(?P<region>[^:]+):(?P<account>\d{12}):event-bus/(?P<name>.+)"
)
_RULE_ARN: Final = re.compile(
    r"arn:aws[\w-]*:events:(?P<region>[^:]+):(?P<account>\d{12}):rule/"
    r"(?:(?P<bus>[^/]+)/)?(?P<name>[^/]+)"
)
_EVENT_FIELDS: Final = ("id", "account", "source", "time", "region", "detail-type")


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _tags(tags: list[dict[str, str]] | None) -> dict[str, str]:
    found = {tag["Key"]: tag["Value"] for tag in tags or []}
    if len(found) < len(tags or []):
        raise _invalid("Invalid parameter: Duplicated keys are not allowed.")
    return found


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _not_found(message: str) -> ServiceError:
    return error("ResourceNotFoundException", message)


def _invalid(message: str) -> ServiceError:
    return ServiceError("ValidationException", message, 400)


def _denied(ctx: RequestContext, bus_arn: str) -> str:
    return (
        f"User: arn:aws:iam::{ctx.account_id}:root is not authorized to perform: "
        f"events:PutEvents on resource: {bus_arn} because no resource-based policy allows "
        "the events:PutEvents action"
    )


def _unmanaged(rule: Rule, force: bool = False) -> Rule:
    """`rule`, unless an AWS service manages it (an archive's rule): changing one needs `Force`
    where the operation has it (DeleteRule, RemoveTargets) and is refused elsewhere."""
    if rule.managed_by is not None and not force:
        raise error(
            "ManagedRuleException",
            f"Rule {rule.name} is managed by {rule.managed_by} and cannot be changed "
            "without Force.",
        )
    return rule


def _entry_size(entry: dict[str, Any]) -> int:
    size = 14 if entry.get("Time") is not None else 0
    for member in ("Source", "DetailType", "Detail"):
        if entry.get(member):
            size += len(entry[member].encode())
    for resource in entry.get("Resources") or []:
        size += len(resource.encode())
    return size


def _entry_error(entry: dict[str, Any]) -> tuple[str, str] | None:
    for member in ("Source", "DetailType", "Detail"):
        if not entry.get(member):
            return (
                "InvalidArgument",
                f"Parameter {member} is not valid. Reason: {member} is a required argument.",
            )
    try:
        detail = json.loads(entry["Detail"])
    except ValueError:
        detail = None
    if not isinstance(detail, dict):
        return "MalformedDetail", "Detail is malformed."
    return None


def _check_target(target: dict[str, Any]) -> None:
    if not target["Arn"].startswith("arn:") or len(target["Arn"].split(":")) < 6:
        raise _invalid(
            f"Parameter {target['Arn']} is not valid. Reason: Provided Arn is not in correct format."
        )
    dead_letter = (target.get("DeadLetterConfig") or {}).get("Arn")
    if dead_letter is not None and not re.fullmatch(
        r"arn:aws[\w-]*:sqs:[^:]+:\d{12}:[\w-]{1,80}", dead_letter
    ):
        raise _invalid(
            "Parameter DeadLetterConfig.Arn is not valid. "
            "Reason: Provided Arn is not in correct format."
        )
    fifo = ":sqs:" in target["Arn"] and target["Arn"].endswith(".fifo")
    if fifo and not (target.get("SqsParameters") or {}).get("MessageGroupId"):
        raise _invalid(f"Parameter(s) SqsParameters must be specified for target: {target['Id']}.")
    given = [m for m in ("Input", "InputPath", "InputTransformer") if target.get(m) is not None]
    if given and _BUS_ARN.fullmatch(target["Arn"]):  # a bus takes the event as it is
        raise _invalid(f"Modifying the input for target {target['Id']} is not supported")
    if len(given) > 1:
        raise _invalid(
            "Only one of Input, InputPath, or InputTransformer must be provided for target "
            f"{target['Id']}."
        )
    if target.get("Input") is not None:
        try:
            json.loads(target["Input"])
        except ValueError:
            raise _invalid(
                f"Target {target['Id']} has invalid Input: the Input must be valid JSON."
            ) from None
    if target.get("InputPath") is not None:
        try:
            parse_path(target["InputPath"])
        except PathError:
            raise _invalid(
                f"Target {target['Id']} has an invalid InputPath: {target['InputPath']}."
            ) from None
    if target.get("InputTransformer") is not None:
        try:
            check_transformer(target["InputTransformer"], target["Id"])
        except TemplateError as exc:
            raise _invalid(str(exc)) from None


class EventsProvider:
    def __init__(
        self, store: EventStore, router: Router, archives: ArchiveOperations | None = None
    ) -> None:
        self.store = store
        self.router = router
        self.archives = archives

    def operations(self) -> dict[str, Operation]:
        extra = self.archives.operations() if self.archives is not None else {}
        return {
            **extra,
            "PutPermission": self.put_permission,
            "RemovePermission": self.remove_permission,
            "CreateEventBus": self.create_event_bus,
            "DescribeEventBus": self.describe_event_bus,
            "DeleteEventBus": self.delete_event_bus,
            "ListEventBuses": self.list_event_buses,
            "PutRule": self.put_rule,
            "DescribeRule": self.describe_rule,
            "ListRules": self.list_rules,
            "EnableRule": self.enable_rule,
            "DisableRule": self.disable_rule,
            "DeleteRule": self.delete_rule,
            "ListRuleNamesByTarget": self.list_rule_names_by_target,
            "PutTargets": self.put_targets,
            "RemoveTargets": self.remove_targets,
            "ListTargetsByRule": self.list_targets_by_rule,
            "PutEvents": self.put_events,
            "TestEventPattern": self.test_event_pattern,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
        }

    # -- lookups ---------------------------------------------------------------------------------
    def _bus_name(self, ctx: RequestContext, name_or_arn: str | None) -> str:
        """The bus a request names (default: `default`); another account's or region's bus
        is one the caller cannot see."""
        if not name_or_arn:
            return DEFAULT_BUS
        match = _BUS_ARN.fullmatch(name_or_arn)
        if match is None:
            return name_or_arn
        if (match["account"], match["region"]) != (ctx.account_id, ctx.region):
            raise _not_found(f"Event bus {match['name']} does not exist.")
        return match["name"]

    def _bus(self, ctx: RequestContext, name_or_arn: str | None) -> Bus:
        name = self._bus_name(ctx, name_or_arn)
        bus = self.store.bus(ctx.account_id, ctx.region, name)
        if bus is None:
            raise _not_found(f"Event bus {name} does not exist.")
        return bus

    def _rule(self, ctx: RequestContext, params: dict[str, Any], member: str = "Name") -> Rule:
        bus = self._bus(ctx, params.get("EventBusName"))
        rule = self.store.rule(ctx.account_id, ctx.region, bus.name, params[member])
        if rule is None:
            raise _not_found(f"Rule {params[member]} does not exist on EventBus {bus.name}.")
        return rule

    def _page(
        self, items: list[Any], key: Callable[[Any], str], params: dict[str, Any], scope: str
    ) -> tuple[list[Any], dict[str, Any]]:
        return token_page(
            items,
            key,
            params.get("NextToken"),
            params.get("Limit"),
            scope=scope,
            invalid=lambda: _invalid("The provided NextToken is not valid."),
        )

    # -- event buses -----------------------------------------------------------------------------
    def _bus_wire(self, bus: Bus) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Name": bus.name,
            "Arn": bus.arn,
            "CreationTime": datetime.fromtimestamp(bus.created, UTC),
            "LastModifiedTime": datetime.fromtimestamp(bus.modified, UTC),
        }
        if bus.description is not None:
            out["Description"] = bus.description
        if bus.policy is not None:
            out["Policy"] = bus.policy
        return out

    async def put_permission(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        put_permission(self.store, self._bus(ctx, params.get("EventBusName")), params)
        return {}

    async def remove_permission(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        remove_permission(self.store, self._bus(ctx, params.get("EventBusName")), params)
        return {}

    async def create_event_bus(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params["Name"]
        if params.get("EventSourceName"):
            raise _not_found(f"Event source {params['EventSourceName']} does not exist.")
        if "/" in name:
            raise _invalid("Event bus name must not contain '/'.")
        if self.store.bus(ctx.account_id, ctx.region, name) is not None:
            raise error("ResourceAlreadyExistsException", f"Event bus {name} already exists.")
        bus = Bus(
            ctx.account_id,
            ctx.region,
            name,
            description=params.get("Description"),
            tags=_tags(params.get("Tags")),
        )
        self.store.put_bus(bus)
        out: dict[str, Any] = {"EventBusArn": bus.arn}
        if bus.description is not None:
            out["Description"] = bus.description
        return out

    async def describe_event_bus(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._bus_wire(self._bus(ctx, params.get("Name")))

    async def delete_event_bus(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = self._bus_name(ctx, params["Name"])
        if name == DEFAULT_BUS:
            raise _invalid("Cannot delete event bus default.")
        bus = self.store.bus(ctx.account_id, ctx.region, name)
        if bus is not None:
            self.store.delete_bus(bus)
        return {}

    async def list_event_buses(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("NamePrefix") or ""
        buses = [
            b for b in self.store.buses(ctx.account_id, ctx.region) if b.name.startswith(prefix)
        ]
        page, more = self._page(buses, lambda b: b.name, params, f"buses:{prefix}")
        return {"EventBuses": [self._bus_wire(b) for b in page], **more}

    # -- rules -----------------------------------------------------------------------------------
    async def put_rule(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        pattern, schedule = params.get("EventPattern"), params.get("ScheduleExpression")
        if not pattern and not schedule:
            raise _invalid("Parameter(s) EventPattern or ScheduleExpression must be specified.")
        bus = self._bus(ctx, params.get("EventBusName"))
        if schedule:
            if bus.name != DEFAULT_BUS:
                raise _invalid("ScheduleExpression is supported only on the default event bus.")
            if parse_schedule(schedule) is None:
                raise _invalid("Parameter ScheduleExpression is not valid.")
        if pattern:
            try:
                compile_pattern(pattern)
            except PatternError as exc:
                raise error("InvalidEventPatternException", exc.message) from None
        existing = self.store.rule(ctx.account_id, ctx.region, bus.name, params["Name"])
        if existing is not None:
            _unmanaged(existing)
        rule = Rule(
            ctx.account_id,
            ctx.region,
            bus.name,
            params["Name"],
            event_pattern=pattern or None,
            schedule=schedule or None,
            state=params.get("State") or "ENABLED",
            description=params.get("Description"),
            role_arn=params.get("RoleArn"),
        )
        if existing is not None:
            rule.targets, rule.tags, rule.created = (
                existing.targets,
                existing.tags,
                existing.created,
            )
            rule.tags.update(_tags(params.get("Tags")))
        else:
            rule.tags = _tags(params.get("Tags"))
        self.store.put_rule(rule)
        return {"RuleArn": rule.arn}

    def _rule_wire(self, rule: Rule) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Name": rule.name,
            "Arn": rule.arn,
            "State": rule.state,
            "EventBusName": rule.bus,
        }
        for member, value in (
            ("EventPattern", rule.event_pattern),
            ("ScheduleExpression", rule.schedule),
            ("Description", rule.description),
            ("RoleArn", rule.role_arn),
            ("ManagedBy", rule.managed_by),
        ):
            if value is not None:
                out[member] = value
        return out

    async def describe_rule(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rule = self._rule(ctx, params)
        return {**self._rule_wire(rule), "CreatedBy": rule.account}

    async def list_rules(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        bus = self._bus(ctx, params.get("EventBusName"))
        prefix = params.get("NamePrefix") or ""
        rules = [
            r
            for r in self.store.rules(ctx.account_id, ctx.region, bus.name)
            if r.name.startswith(prefix)
        ]
        page, more = self._page(rules, lambda r: r.name, params, f"rules:{bus.name}:{prefix}")
        return {"Rules": [self._rule_wire(r) for r in page], **more}

    async def _set_state(self, ctx: RequestContext, params: dict[str, Any], state: str) -> None:
        rule = _unmanaged(self._rule(ctx, params))
        if rule.state != state:
            rule.state = state
            self.store.put_rule(rule)

    async def enable_rule(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        await self._set_state(ctx, params, "ENABLED")
        return {}

    async def disable_rule(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        await self._set_state(ctx, params, "DISABLED")
        return {}

    async def delete_rule(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        try:
            rule = self._rule(ctx, params)
        except ServiceError:
            return {}  # AWS answers success for a rule (or bus) that is not there
        _unmanaged(rule, bool(params.get("Force")))
        if rule.targets and rule.managed_by is None:
            raise _invalid("Rule can't be deleted since it has targets.")
        self.store.delete_rule(rule)
        return {}

    async def list_rule_names_by_target(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        bus = self._bus(ctx, params.get("EventBusName"))
        arn = params["TargetArn"]
        names = [
            r.name
            for r in self.store.rules(ctx.account_id, ctx.region, bus.name)
            if any(t["Arn"] == arn for t in r.targets.values())
        ]
        page, more = self._page(names, lambda n: n, params, f"by-target:{bus.name}:{arn}")
        return {"RuleNames": page, **more}

    # -- targets ---------------------------------------------------------------------------------
    async def put_targets(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        for target in params["Targets"]:
            _check_target(target)  # before the rule is looked up, as AWS does
        rule = _unmanaged(self._rule(ctx, params, "Rule"))
        ids = {t["Id"] for t in params["Targets"]} | set(rule.targets)
        if len(ids) > MAX_TARGETS:
            raise error(
                "LimitExceededException",
                "The requested resource exceeds the maximum number allowed.",
            )
        for target in params["Targets"]:
            rule.targets[target["Id"]] = target
        self.store.put_rule(rule)
        return {"FailedEntryCount": 0, "FailedEntries": []}

    async def remove_targets(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rule = _unmanaged(self._rule(ctx, params, "Rule"), bool(params.get("Force")))
        for target_id in params["Ids"]:
            rule.targets.pop(target_id, None)
        self.store.put_rule(rule)
        return {"FailedEntryCount": 0, "FailedEntries": []}

    async def list_targets_by_rule(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        rule = self._rule(ctx, params, "Rule")
        page, more = self._page(
            list(rule.targets.values()), lambda t: t["Id"], params, f"targets:{rule.arn}"
        )
        return {"Targets": page, **more}

    # -- events ----------------------------------------------------------------------------------
    async def put_events(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        entries = params["Entries"]
        if sum(_entry_size(e) for e in entries) > MAX_PUT_EVENTS:
            raise _invalid("Total size of the entries in the request is over the limit.")
        results: list[dict[str, Any]] = []
        by_bus: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for entry in entries:
            problem = _entry_error(entry)
            if problem is not None:
                results.append({"ErrorCode": problem[0], "ErrorMessage": problem[1]})
                continue
            bus, denied = self._target_bus(ctx, entry.get("EventBusName"))
            if denied is not None:
                results.append({"ErrorCode": "AccessDeniedException", "ErrorMessage": denied})
                continue
            event_id = str(uuid.uuid4())
            when = entry.get("Time")
            event = {
                "version": "0",
                "id": event_id,
                "detail-type": entry["DetailType"],
                "source": entry["Source"],
                "account": ctx.account_id,
                "time": (
                    when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                    if isinstance(when, datetime)
                    else _iso(datetime.now(UTC).timestamp())
                ),
                "region": ctx.region,
                "resources": list(entry.get("Resources") or []),
                "detail": json.loads(entry["Detail"]),
            }
            caller = Sender(ctx.account_id, ctx.region)
            if bus is not None and not may_put(bus, caller, event):  # another account's bus
                results.append(
                    {"ErrorCode": "AccessDeniedException", "ErrorMessage": _denied(ctx, bus.arn)}
                )
                continue
            if bus is not None:
                by_bus.setdefault((bus.account, bus.name), []).append(event)
            results.append({"EventId": event_id})
        for (account, bus_name), events in by_bus.items():
            self.router.route(account, ctx.region, bus_name, events)
        failed = sum(1 for r in results if "ErrorCode" in r)
        return {"FailedEntryCount": failed, "Entries": results}

    def _target_bus(
        self, ctx: RequestContext, name_or_arn: str | None
    ) -> tuple[Bus | None, str | None]:
        """The bus a PutEvents entry names: the caller's own (None, and the event dropped, when
        it does not exist, as AWS answers), or another account's in the caller's region, which
        only its bus policy opens (`policy.may_put`, checked per event)."""
        match = _BUS_ARN.fullmatch(name_or_arn or "")
        if match is not None and match["account"] != ctx.account_id:
            bus = None
            if match["region"] == ctx.region:
                bus = self.store.bus(match["account"], match["region"], match["name"])
            if bus is None:  # as a bus that is there but closed: its existence is not told
                return None, _denied(ctx, str(name_or_arn))
            return bus, None
        try:
            return self._bus(ctx, name_or_arn), None
        except ServiceError:
            log.info("PutEvents: no event bus %s; event dropped", name_or_arn)
            return None, None

    async def test_event_pattern(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            pattern = compile_pattern(params["EventPattern"])
        except PatternError as exc:
            raise error("InvalidEventPatternException", exc.message) from None
        try:
            event = json.loads(params["Event"])
        except ValueError:
            event = None
        if not isinstance(event, dict) or any(f not in event for f in _EVENT_FIELDS):
            raise _invalid("Parameter Event is not valid.")
        return {"Result": pattern.matches(event)}

    # -- tags ------------------------------------------------------------------------------------
    def _tagged(self, ctx: RequestContext, arn: str) -> Bus | Rule:
        match = _RULE_ARN.fullmatch(arn)
        if match is not None and (match["account"], match["region"]) == (
            ctx.account_id,
            ctx.region,
        ):
            bus = match["bus"] or DEFAULT_BUS
            rule = self.store.rule(ctx.account_id, ctx.region, bus, match["name"])
            if rule is None:
                raise _not_found(f"Rule {match['name']} does not exist on EventBus {bus}.")
            return rule
        match = _BUS_ARN.fullmatch(arn)
        if match is not None and (match["account"], match["region"]) == (
            ctx.account_id,
            ctx.region,
        ):
            found = self.store.bus(ctx.account_id, ctx.region, match["name"])
            if found is None:
                raise _not_found(f"Event bus {match['name']} does not exist.")
            return found
        raise _not_found(f"Resource {arn} does not exist.")

    def _save(self, resource: Bus | Rule) -> None:
        if isinstance(resource, Rule):
            self.store.put_rule(resource)
        else:
            self.store.put_bus(resource)

    async def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        resource = self._tagged(ctx, params["ResourceARN"])
        resource.tags.update(_tags(params["Tags"]))
        self._save(resource)
        return {}

    async def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        resource = self._tagged(ctx, params["ResourceARN"])
        for key in params["TagKeys"]:
            resource.tags.pop(key, None)
        self._save(resource)
        return {}

    async def list_tags_for_resource(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return {"Tags": _tag_list(self._tagged(ctx, params["ResourceARN"]).tags)}
