"""The archive and replay operations of the `events` API: CreateArchive, DescribeArchive,
ListArchives, UpdateArchive, DeleteArchive, StartReplay, DescribeReplay, ListReplays,
CancelReplay, with AWS's validation messages (`archives.py` keeps the data, `replay.py` runs
replays)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, Protocol, TypeVar

from fireside.aws.context import RequestContext
from fireside.aws.errors import ModelledErrors, ServiceError
from fireside.aws.pagination import token_page
from fireside.events.archives import ARCHIVE_MANAGER, Archive, ArchiveStore, Replay, sink_arn
from fireside.events.store import EventStore, Rule
from fireside.patterns import PatternError, compile_pattern

__all__ = ["ArchiveOperations"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
error = ModelledErrors("events")

_BUS_ARN: Final = re.compile(
    r"arn:aws[\w-]*:events:(?P<region>[^:]+):(?P<account>\d{12}):event-bus/(?P<name>.+)"
)
_ARCHIVE_ARN: Final = re.compile(
    r"arn:aws[\w-]*:events:(?P<region>[^:]+):(?P<account>\d{12}):archive/(?P<name>.+)"
)
#: At most this many replays of one account and region run at once (AWS's quota is 10).
MAX_ACTIVE_REPLAYS: Final = 10


def _invalid(message: str) -> ServiceError:
    return ServiceError("ValidationException", message, 400)


def _when(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def _seconds(value: Any) -> float:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
    return float(value)


def _archive_pattern(pattern: str | None) -> str:
    """The managed rule's pattern: the archive's, never matching a replayed event."""
    document: dict[str, Any] = json.loads(pattern) if pattern else {}
    document["replay-name"] = [{"exists": False}]
    return json.dumps(document)


def _check_pattern(pattern: str | None) -> None:
    if not pattern:
        return
    try:
        compiled = compile_pattern(pattern)
    except PatternError as exc:
        raise error("InvalidEventPatternException", exc.message) from None
    del compiled


class ArchiveOperations:
    def __init__(self, store: EventStore, archives: ArchiveStore) -> None:
        self.store = store
        self.archives = archives

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateArchive": self.create_archive,
            "DescribeArchive": self.describe_archive,
            "ListArchives": self.list_archives,
            "UpdateArchive": self.update_archive,
            "DeleteArchive": self.delete_archive,
            "StartReplay": self.start_replay,
            "DescribeReplay": self.describe_replay,
            "ListReplays": self.list_replays,
            "CancelReplay": self.cancel_replay,
        }

    def _archive(self, ctx: RequestContext, name: str) -> Archive:
        found = self.archives.archives.get((ctx.account_id, ctx.region, name))
        if found is None:
            raise error("ResourceNotFoundException", f"Archive {name} does not exist.")
        return found

    def _replay(self, ctx: RequestContext, name: str) -> Replay:
        found = self.archives.replays.get((ctx.account_id, ctx.region, name))
        if found is None:
            raise error("ResourceNotFoundException", f"Replay {name} does not exist.")
        return found

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

    def _managed_rule(self, archive: Archive) -> Rule:
        rule = Rule(
            archive.account,
            archive.region,
            archive.bus,
            archive.rule_name,
            event_pattern=_archive_pattern(archive.event_pattern),
        )
        rule.managed_by = ARCHIVE_MANAGER
        template = (
            f'{{"archive-arn": "{archive.arn}", "event": <aws.events.event.json>, '
            '"ingestion-time": <aws.events.event.ingestion-time>}'
        )
        rule.targets[archive.rule_name] = {
            "Id": archive.rule_name,
            "Arn": sink_arn(archive.region),
            "InputTransformer": {"InputPathsMap": {}, "InputTemplate": template},
        }
        return rule

    # -- archives --------------------------------------------------------------------------------
    async def create_archive(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, source = params["ArchiveName"], params["EventSourceArn"]
        match = _BUS_ARN.fullmatch(source)
        bus = None
        if match is not None and (match["account"], match["region"]) == (
            ctx.account_id,
            ctx.region,
        ):
            bus = self.store.bus(ctx.account_id, ctx.region, match["name"])
        if bus is None:
            bus_name = match["name"] if match else source.rsplit("/", 1)[-1]
            raise error("ResourceNotFoundException", f"Event bus {bus_name} does not exist.")
        _check_pattern(params.get("EventPattern"))
        if (ctx.account_id, ctx.region, name) in self.archives.archives:
            raise error("ResourceAlreadyExistsException", f"Archive {name} already exists.")
        archive = Archive(
            ctx.account_id,
            ctx.region,
            name,
            bus.arn,
            bus.name,
            event_pattern=params.get("EventPattern") or None,
            description=params.get("Description"),
            retention_days=int(params.get("RetentionDays") or 0),
        )
        self.store.put_rule(self._managed_rule(archive))
        self.archives.put_archive(archive)
        return {
            "ArchiveArn": archive.arn,
            "State": archive.state,
            "CreationTime": _when(archive.created),
        }

    def _archive_wire(self, archive: Archive, *, full: bool) -> dict[str, Any]:
        count, size = self.archives.counts(archive)
        out: dict[str, Any] = {
            "ArchiveName": archive.name,
            "EventSourceArn": archive.source_arn,
            "State": archive.state,
            "RetentionDays": archive.retention_days,
            "SizeBytes": size,
            "EventCount": count,
            "CreationTime": _when(archive.created),
        }
        if full:
            out["ArchiveArn"] = archive.arn
            if archive.description is not None:
                out["Description"] = archive.description
            if archive.event_pattern is not None:
                out["EventPattern"] = archive.event_pattern
        return out

    async def describe_archive(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._archive_wire(self._archive(ctx, params["ArchiveName"]), full=True)

    async def list_archives(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found, filters = _listed(
            ctx, params, self.archives.archives, lambda a: a.source_arn, "ListArchives"
        )
        page, more = self._page(found, lambda a: a.name, params, f"archives:{filters}")
        return {"Archives": [self._archive_wire(a, full=False) for a in page], **more}

    async def update_archive(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        archive = self._archive(ctx, params["ArchiveName"])
        _check_pattern(params.get("EventPattern"))
        if params.get("Description") is not None:
            archive.description = params["Description"]
        if params.get("EventPattern") is not None:
            archive.event_pattern = params["EventPattern"] or None
        if params.get("RetentionDays") is not None:
            archive.retention_days = int(params["RetentionDays"])
        self.store.put_rule(self._managed_rule(archive))
        self.archives.put_archive(archive)
        return {
            "ArchiveArn": archive.arn,
            "State": archive.state,
            "CreationTime": _when(archive.created),
        }

    async def delete_archive(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        archive = self._archive(ctx, params["ArchiveName"])
        rule = self.store.rule(archive.account, archive.region, archive.bus, archive.rule_name)
        if rule is not None:
            self.store.delete_rule(rule)
        self.archives.delete_archive(archive)
        return {}

    # -- replays ---------------------------------------------------------------------------------
    async def start_replay(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, destination = params["ReplayName"], params["Destination"]
        match = _BUS_ARN.fullmatch(destination["Arn"])
        if match is None:
            raise _invalid(
                "Parameter Destination.Arn is not valid. Reason: Must contain an event bus ARN."
            )
        bus = None
        if (match["account"], match["region"]) == (ctx.account_id, ctx.region):
            bus = self.store.bus(ctx.account_id, ctx.region, match["name"])
        if bus is None:
            raise error("ResourceNotFoundException", f"Event bus {match['name']} does not exist.")
        source = _ARCHIVE_ARN.fullmatch(params["EventSourceArn"])
        archive_name = source["name"] if source else params["EventSourceArn"]
        archive = self.archives.archives.get((ctx.account_id, ctx.region, archive_name))
        if source is None or archive is None or source["account"] != ctx.account_id:
            raise _invalid(
                "Parameter EventSourceArn is not valid. "
                f"Reason: Archive {archive_name} does not exist."
            )
        if archive.source_arn != bus.arn:
            raise _invalid(
                "Parameter Destination.Arn is not valid. "
                "Reason: Cross event bus replay is not permitted."
            )
        start, end = _seconds(params["EventStartTime"]), _seconds(params["EventEndTime"])
        if start >= end:
            raise _invalid(
                "Parameter EventEndTime is not valid. "
                "Reason: EventStartTime must be before EventEndTime."
            )
        filters = list(destination.get("FilterArns") or [])
        rules = {r.arn for r in self.store.rules(ctx.account_id, ctx.region, bus.name)}
        for arn in filters:
            if arn not in rules:
                raise _invalid(
                    f"Parameter Destination.FilterArns is not valid. Reason: Rule {arn} "
                    f"does not exist on event bus {bus.name}."
                )
        if (ctx.account_id, ctx.region, name) in self.archives.replays:
            raise error("ResourceAlreadyExistsException", f"Replay {name} already exists.")
        active = [
            r
            for (a, g, _), r in self.archives.replays.items()
            if (a, g) == (ctx.account_id, ctx.region) and r.state in ("STARTING", "RUNNING")
        ]
        if len(active) >= MAX_ACTIVE_REPLAYS:
            raise error(
                "LimitExceededException",
                "The requested resource exceeds the maximum number allowed.",
            )
        replay = Replay(
            ctx.account_id,
            ctx.region,
            name,
            archive.name,
            bus.name,
            start,
            end,
            filter_arns=filters or None,
            description=params.get("Description"),
        )
        self.archives.put_replay(replay)
        self.archives.wake.set()
        return {
            "ReplayArn": replay.arn,
            "State": replay.state,
            "ReplayStartTime": _when(replay.started),
        }

    def _replay_wire(self, replay: Replay, *, full: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ReplayName": replay.name,
            "EventSourceArn": replay.archive_arn,
            "State": replay.state,
            "EventStartTime": _when(replay.start),
            "EventEndTime": _when(replay.end),
            "ReplayStartTime": _when(replay.started),
        }
        for member, value in (
            ("StateReason", replay.reason),
            ("EventLastReplayedTime", replay.last_replayed),
            ("ReplayEndTime", replay.ended),
        ):
            if value is not None:
                out[member] = _when(value) if isinstance(value, float) else value
        if full:
            out["ReplayArn"] = replay.arn
            destination: dict[str, Any] = {"Arn": replay.bus_arn}
            if replay.filter_arns:
                destination["FilterArns"] = replay.filter_arns
            out["Destination"] = destination
            if replay.description is not None:
                out["Description"] = replay.description
        return out

    async def describe_replay(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._replay_wire(self._replay(ctx, params["ReplayName"]), full=True)

    async def list_replays(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found, filters = _listed(
            ctx, params, self.archives.replays, lambda r: r.archive_arn, "ListReplays"
        )
        page, more = self._page(found, lambda r: r.name, params, f"replays:{filters}")
        return {"Replays": [self._replay_wire(r, full=False) for r in page], **more}

    async def cancel_replay(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        replay = self._replay(ctx, params["ReplayName"])
        if replay.state not in ("STARTING", "RUNNING"):
            raise error(
                "IllegalStatusException",
                f"Replay {replay.name} is not in a valid state for this operation.",
            )
        replay.state = "CANCELLING"
        self.archives.put_replay(replay)
        self.archives.wake.set()
        return {"ReplayArn": replay.arn, "State": replay.state}


class _Listed(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def state(self) -> str: ...


T = TypeVar("T", bound=_Listed)


def _listed(
    ctx: RequestContext,
    params: dict[str, Any],
    items: Mapping[tuple[str, str, str], T],
    source: Callable[[T], str],
    operation: str,
) -> tuple[list[T], list[str]]:
    """The caller's archives or replays that pass ListArchives'/ListReplays' one filter
    (NamePrefix, EventSourceArn or State), by name; and the filter named."""
    filters = [m for m in ("NamePrefix", "EventSourceArn", "State") if params.get(m)]
    if len(filters) > 1:
        raise _invalid(
            f"At most one filter is allowed for {operation}. "
            "Use either : State, EventSourceArn, or NamePrefix."
        )
    found = [
        item
        for (account, region, _), item in items.items()
        if (account, region) == (ctx.account_id, ctx.region)
        and item.name.startswith(params.get("NamePrefix") or "")
        and params.get("EventSourceArn") in (None, source(item))
        and params.get("State") in (None, item.state)
    ]
    found.sort(key=lambda item: item.name)
    return found, filters
