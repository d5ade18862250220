"""CloudWatch Logs' event operations: PutLogEvents, GetLogEvents and FilterLogEvents.

Reads are bounded scans of the group's files (`fireside.logs.files`) run in a thread: each
call reads at most `SCAN_BUDGET` bytes and `limit` events (1 MB of messages at most, as AWS),
and its tokens carry the place it stopped, so a caller paging through a large file always
moves on, and pages never repeat or skip an event. GetLogEvents' tokens have AWS's form
(`f/<digits>` forward, `b/<digits>` backward) and, read past the newest event, come back
unchanged, which is how clients know they are done. Events older than the group's retention
are never returned; nor are a deleted stream's.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.logs.files import GroupFiles, Position, Record, Scan, scan_backward, scan_forward
from fireside.logs.patterns import compile_pattern, required_terms
from fireside.logs.provider import (
    LogsProvider,
    decode_token,
    encode_token,
    invalid,
    not_found,
)
from fireside.logs.store import LogGroup, now_ms

__all__ = ["EventsApi"]

MAX_BATCH: Final = 1_048_576
MAX_EVENT: Final = 262_144
EVENT_OVERHEAD: Final = 26
MAX_RESPONSE: Final = 1_048_576
_DAY_MS: Final = 86_400_000
_TOKEN: Final = re.compile(r"([fb])/(\d{28})(\d{28})")


def _visible(group: LogGroup) -> Callable[[Record], bool]:
    cutoff = now_ms() - group.retention * _DAY_MS if group.retention is not None else None
    tombstones = group.tombstones

    def visible(record: Record) -> bool:
        if cutoff is not None and record.timestamp < cutoff:
            return False
        deleted = tombstones.get(record.stream)
        return deleted is None or record.ingestion > deleted

    return visible


def _trim(records: list[Record]) -> tuple[list[Record], bool]:
    """At most 1 MB of messages; True when some were cut."""
    total = 0
    for index, record in enumerate(records):
        total += len(record.message.encode()) + EVENT_OVERHEAD
        if total > MAX_RESPONSE and index > 0:
            return records[:index], True
    return records, False


def _get_token(direction: str, position: Position) -> str:
    return f"{direction}/{position.inode:028d}{position.offset:028d}"  # 56 digits, as AWS


class EventsApi:
    def __init__(self, provider: LogsProvider) -> None:
        self.provider = provider
        self.groups = provider.groups

    def operations(self) -> dict[str, Any]:
        return {
            "PutLogEvents": self.put_log_events,
            "GetLogEvents": self.get_log_events,
            "FilterLogEvents": self.filter_log_events,
        }

    # -- PutLogEvents ----------------------------------------------------------------------------
    async def put_log_events(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self.provider.group(ctx, {"logGroupName": params["logGroupName"]})
        stream = params["logStreamName"]
        if stream not in group.streams and stream not in await self.provider.streams(group):
            raise not_found("The specified log stream does not exist.")
        events = params["logEvents"]
        size = 0
        previous = None
        for event in events:
            event_size = len(event["message"].encode()) + EVENT_OVERHEAD
            if event_size > MAX_EVENT:
                raise invalid(
                    f"Log event too large: {event_size} bytes exceeds limit of {MAX_EVENT}"
                )
            size += event_size
            if previous is not None and event["timestamp"] < previous:
                raise invalid(
                    "Log events in a single PutLogEvents request must be in chronological order."
                )
            previous = event["timestamp"]
        if size > MAX_BATCH:
            raise invalid(f"Upload too large: {size} bytes exceeds limit of {MAX_BATCH}")
        if events and events[-1]["timestamp"] - events[0]["timestamp"] > _DAY_MS:
            raise invalid(
                "The batch of log events in a single PutLogEvents request cannot span more "
                "than 24 hours."
            )
        now = now_ms()
        too_old, too_new, expired = now - 14 * _DAY_MS, now + 2 * 3_600_000, None
        if group.retention is not None:
            expired = now - group.retention * _DAY_MS
        rejected: dict[str, int] = {}
        accepted: list[tuple[int, str]] = []
        for index, event in enumerate(events):
            stamp = event["timestamp"]
            if stamp > too_new:
                rejected.setdefault("tooNewLogEventStartIndex", index)
            elif stamp < too_old:
                rejected["tooOldLogEventEndIndex"] = index
            elif expired is not None and stamp < expired:
                rejected["expiredLogEventEndIndex"] = index
            else:
                accepted.append((stamp, event["message"]))
        if accepted:
            await self.groups.append(group, stream, accepted)
        # Sequence tokens are no longer checked by AWS, but still answered (56 digits).
        result: dict[str, Any] = {"nextSequenceToken": f"{time.time_ns():056d}"}
        if rejected:
            result["rejectedLogEventsInfo"] = rejected
        return result

    # -- GetLogEvents ----------------------------------------------------------------------------
    async def get_log_events(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self.provider.group(ctx, params)
        name = params["logStreamName"]
        streams = await self.provider.streams(group)
        if name not in streams:
            raise not_found("The specified log stream does not exist.")
        stats = streams[name]
        files = self.groups.files(group)
        limit = params.get("limit") or 10_000
        start, end = params.get("startTime"), params.get("endTime")
        visible = _visible(group)

        def accept(record: Record) -> bool:
            if record.stream != name or not visible(record):
                return False
            if start is not None and record.timestamp < start:
                return False
            return end is None or record.timestamp < end

        # The stream's records lie within its spans: a scan stops at their ends.
        halves = [inode for inode, _ in files.halves()]
        spans = sorted(
            (
                (halves.index(i), i, span)
                for i, span in (stats.spans if stats else {}).items()
                if i in halves
            ),
        )
        first = Position(spans[0][1], spans[0][2][0]) if spans else None
        last = Position(spans[-1][1], spans[-1][2][1]) if spans else None
        order = {inode: n for n, inode in enumerate(halves)}

        def after_last(record: Record) -> bool:
            if last is None:
                return True
            return (order.get(record.inode, -1), record.offset) >= (order[last.inode], last.offset)

        def before_first(record: Record) -> bool:
            if first is None:
                return True
            return (order.get(record.inode, -1), record.end) <= (order[first.inode], first.offset)

        token = params.get("nextToken")
        if token:
            match = _TOKEN.fullmatch(token)
            if match is None:
                raise invalid("The specified nextToken is invalid.")
            direction, at = match[1], Position(int(match[2]), int(match[3]))
        else:
            direction = "f" if params.get("startFromHead") else "b"
            chosen = first if direction == "f" else last
            if chosen is None:  # an empty stream
                empty = Position(halves[-1] if halves else 0, 0)
                return {
                    "events": [],
                    "nextForwardToken": _get_token("f", empty),
                    "nextBackwardToken": _get_token("b", empty),
                }
            at = chosen
        if direction == "f":
            scan = await asyncio.to_thread(
                scan_forward, files, at, accept, limit, stop_at=after_last
            )
            records, cut = _trim(scan.records)
            forward = Position(records[-1].inode, records[-1].end) if cut else scan.position
            backward = Position(records[0].inode, records[0].offset) if records else at
        else:
            scan = await asyncio.to_thread(
                scan_backward, files, at, accept, limit, stop_at=before_first
            )
            records, cut = _trim(scan.records)
            backward = Position(records[-1].inode, records[-1].offset) if cut else scan.position
            forward = Position(records[0].inode, records[0].end) if records else at
            records = list(reversed(records))
        return {
            "events": [
                {"timestamp": r.timestamp, "message": r.message, "ingestionTime": r.ingestion}
                for r in records
            ],
            "nextForwardToken": _get_token("f", forward),
            "nextBackwardToken": _get_token("b", backward),
        }

    # -- FilterLogEvents -------------------------------------------------------------------------
    async def filter_log_events(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        group = self.provider.group(ctx, params)
        names, prefix = params.get("logStreamNames"), params.get("logStreamNamePrefix")
        if names is not None and prefix is not None:
            raise invalid(
                "logStreamNames and logStreamNamePrefix are mutually exclusive parameters."
            )
        wanted = set(names) if names is not None else None
        matches = compile_pattern(params.get("filterPattern"))
        start, end = params.get("startTime"), params.get("endTime")
        limit = params.get("limit") or 10_000
        visible = _visible(group)
        seen: set[str] = set()

        def accept(record: Record) -> bool:
            stream = record.stream
            if wanted is not None and stream not in wanted:
                return False
            if prefix is not None and not stream.startswith(prefix):
                return False
            if start is not None and record.timestamp < start:
                return False
            if end is not None and record.timestamp > end:
                return False
            if not visible(record):
                return False
            seen.add(stream)
            return matches(record.message)

        files = self.groups.files(group)
        at: Position | None = None
        if params.get("nextToken"):
            found = decode_token(params["nextToken"])
            if not (isinstance(found, list) and len(found) == 2 and found[0] == group.name):
                raise invalid("The specified nextToken is invalid.")
            try:
                at = Position(int(found[1][0]), int(found[1][1]))
            except (TypeError, ValueError, IndexError):
                raise invalid("The specified nextToken is invalid.") from None
        elif start is not None and files.seekable:
            at = await asyncio.to_thread(_seek_time, files, start)
        scan: Scan = await asyncio.to_thread(
            scan_forward, files, at, accept, limit, quick=_quick(params, files)
        )
        records, cut = _trim(scan.records)
        result: dict[str, Any] = {
            "events": [
                {
                    "logStreamName": r.stream,
                    "timestamp": r.timestamp,
                    "message": r.message,
                    "ingestionTime": r.ingestion,
                    "eventId": r.event_id,
                }
                for r in records
            ],
            "searchedLogStreams": [
                {"logStreamName": s, "searchedCompletely": scan.finished and not cut}
                for s in sorted(seen)
            ],
        }
        if cut:
            result["nextToken"] = encode_token([group.name, [records[-1].inode, records[-1].end]])
        elif not scan.finished:
            result["nextToken"] = encode_token([group.name, list(scan.position)])
        return result


def _quick(params: dict[str, Any], files: GroupFiles) -> Callable[[bytes], bool] | None:
    """A test on raw lines that passes over most lines a term pattern cannot match."""
    raw = [
        term.encode()
        for term in required_terms(params.get("filterPattern"))
        if not any(char in term for char in "\\\n\t\r")
    ]
    if not raw:
        return None
    return lambda line: all(term in line for term in raw)


def _seek_time(files: GroupFiles, start: int) -> Position | None:
    """Where a function's file reaches `start` (its records are in time order, as written):
    a binary search over byte offsets, a few reads instead of a scan of the whole file."""
    target = start - 1000  # a second of slack for records written out of order
    halves = files.halves()
    if not halves:
        return None
    inode, path = halves[0]
    for candidate, candidate_path in halves[1:]:
        first = _record_at(files, candidate, candidate_path, 0)
        if first is not None and first[0] < target:
            inode, path = candidate, candidate_path
    try:
        low, high = 0, path.stat().st_size
    except FileNotFoundError:
        return None
    while high - low > 64 * 1024:
        middle = (low + high) // 2
        found = _record_at(files, inode, path, middle)
        if found is None or found[0] >= target or found[1] >= high:
            high = middle
        else:
            low = found[1]  # a record's start, older than the target
    return Position(inode, low)


def _record_at(files: GroupFiles, inode: int, path: Path, offset: int) -> tuple[int, int] | None:
    """The timestamp and offset of the first whole record starting at or after `offset`."""
    try:
        handle = open(path, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return None
    with handle:
        at = 0
        if offset > 0:
            handle.seek(offset - 1)
            at = offset - 1 + len(handle.readline())
        line = handle.readline()
    if not line.endswith(b"\n"):
        return None
    record = files.parse(line, inode, at)
    return (record.timestamp, at) if record is not None else None
