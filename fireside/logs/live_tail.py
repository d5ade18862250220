"""StartLiveTail: an event stream of the log events written to up to ten groups from now on.

The answer is `sessionStart`, then a `sessionUpdate` whenever events arrived (at most 500 an
update, a few times a second) and an empty one each second otherwise, so a client that left is
noticed at the next write. A session is fed by listeners on its groups (a function's log file
or a group's PutLogEvents): they filter and buffer synchronously, in the writer's stride; a
session whose reader falls behind by more than `MAX_BUFFERED` events drops the excess and says
so (`sampled`), as AWS samples a busy tail. It ends when the client disconnects or after
AWS's three hours.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.logs.patterns import compile_pattern
from fireside.logs.provider import LogsProvider, group_name_of, invalid, not_found

__all__ = ["LiveTail"]

MAX_SESSION: Final = 3 * 3600.0
MAX_BUFFERED: Final = 10_000
MAX_UPDATE: Final = 500
_INTERVAL: Final = 0.25
_HEARTBEAT: Final = 1.0


class _Session:
    def __init__(
        self,
        names: list[str] | None,
        prefixes: list[str] | None,
        pattern: Callable[[str], bool],
        identifiers: dict[str, str],
    ) -> None:
        self._names = set(names) if names else None
        self._prefixes = tuple(prefixes) if prefixes else None
        self._pattern = pattern
        self._identifiers = identifiers
        self.buffer: list[dict[str, Any]] = []
        self.sampled = False
        self.wake = asyncio.Event()

    def offer(self, group: str, stream: str, timestamp: int, ingestion: int, message: str) -> None:
        if self._names is not None and stream not in self._names:
            return
        if self._prefixes is not None and not stream.startswith(self._prefixes):
            return
        if not self._pattern(message):
            return
        if len(self.buffer) >= MAX_BUFFERED:
            self.sampled = True
            return
        self.buffer.append(
            {
                "logStreamName": stream,
                "logGroupIdentifier": self._identifiers.get(group, group),
                "message": message,
                "timestamp": timestamp,
                "ingestionTime": ingestion,
            }
        )
        self.wake.set()


class LiveTail:
    def __init__(self, provider: LogsProvider, clock: Callable[[], float] = time.monotonic) -> None:
        self.provider = provider
        self._clock = clock
        #: Sessions streaming now (the health endpoint shows it: a client that left is gone).
        self.sessions = 0

    def operations(self) -> dict[str, Any]:
        return {"StartLiveTail": self.start_live_tail}

    async def start_live_tail(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        identifiers: list[str] = params["logGroupIdentifiers"]
        names, prefixes = params.get("logStreamNames"), params.get("logStreamNamePrefixes")
        if names is not None and prefixes is not None:
            raise invalid("Only one of logStreamNames or logStreamNamePrefixes can be provided.")
        if (names is not None or prefixes is not None) and len(identifiers) > 1:
            raise invalid(
                "logStreamNames and logStreamNamePrefixes can only be used with a single log group."
            )
        groups = []
        by_name: dict[str, str] = {}
        for identifier in identifiers:
            if not identifier.startswith("arn:"):
                raise invalid(f"logGroupIdentifier must be a log group ARN: {identifier}")
            if identifier.endswith(":*"):
                raise invalid("A log group ARN ending in :* is not allowed in logGroupIdentifiers.")
            name = group_name_of(identifier, ctx)
            group = self.provider.groups.find(ctx.account_id, ctx.region, name)
            if group is None:
                raise not_found(f"Log group {identifier} does not exist.")
            groups.append(group)
            by_name[name] = identifier
        pattern_text = params.get("logEventFilterPattern")
        session = _Session(names, prefixes, compile_pattern(pattern_text), by_name)
        undo = [self.provider.groups.listen(group, session.offer) for group in groups]
        start: dict[str, Any] = {
            "requestId": ctx.request_id,
            "sessionId": str(uuid.uuid4()),
            "logGroupIdentifiers": identifiers,
            "logStreamNames": names or [],
            "logStreamNamePrefixes": prefixes or [],
        }
        if pattern_text is not None:
            start["logEventFilterPattern"] = pattern_text
        return {"responseStream": self._events(session, start, undo)}

    async def _events(
        self, session: _Session, start: dict[str, Any], undo: list[Callable[[], None]]
    ) -> AsyncIterator[dict[str, Any]]:
        deadline = self._clock() + MAX_SESSION
        self.sessions += 1
        try:
            yield {"sessionStart": start}
            while self._clock() < deadline:
                idle = False
                try:
                    await asyncio.wait_for(session.wake.wait(), _HEARTBEAT)
                    await asyncio.sleep(_INTERVAL)  # gather a burst into one update
                except TimeoutError:
                    idle = True  # a heartbeat: an empty update each idle second
                session.wake.clear()
                batch, session.buffer = session.buffer[:MAX_UPDATE], session.buffer[MAX_UPDATE:]
                if session.buffer:
                    session.wake.set()
                if batch or idle:
                    sampled, session.sampled = session.sampled, False
                    yield {
                        "sessionUpdate": {
                            "sessionMetadata": {"sampled": sampled},
                            "sessionResults": batch,
                        }
                    }
        finally:
            self.sessions -= 1
            for stop in undo:
                stop()
