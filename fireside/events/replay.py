"""Replays: the supervised loop that re-sends archived events to a bus's rules.

StartReplay records a replay in state STARTING and wakes this loop; the loop moves it to
RUNNING and sends the archive's events whose time falls in [EventStartTime, EventEndTime),
in the order they were archived, a hundred at a time, each with `"replay-name"` added as AWS
adds it, to the destination bus's rules (only those `FilterArns` names, when given). After each
batch the replay's cursor (the last archived event sent) is stored, so a replay interrupted
by a restart goes on from there (events of the batch in flight may be sent twice: at least
once, as EventBridge delivers). A replay ends COMPLETED; CancelReplay makes it CANCELLING, and
the loop CANCELLED at its next batch. Events are routed as PutEvents routes them, so a replay's
deliveries are owner-checked, retried and dead-lettered alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from fireside.events.archives import ArchiveStore, Replay
from fireside.events.delivery import Router

__all__ = ["Replayer"]

log = logging.getLogger(__name__)

ACTIVE = ("STARTING", "RUNNING", "CANCELLING")


class Replayer:
    def __init__(
        self, archives: ArchiveStore, router: Router, clock: Callable[[], float] = time.time
    ) -> None:
        self._archives = archives
        self._router = router
        self._clock = clock

    def step(self) -> bool:
        """Advance every active replay by one batch; answers whether any is still active."""
        busy = False
        for replay in list(self._archives.replays.values()):
            if replay.state in ACTIVE:
                self._advance(replay)
                busy = busy or replay.state in ACTIVE
        return busy

    def _advance(self, replay: Replay) -> None:
        if replay.state == "CANCELLING":
            replay.state, replay.ended = "CANCELLED", self._clock()
            self._archives.put_replay(replay)
            return
        replay.state = "RUNNING"
        batch = self._archives.events_after(
            replay.archive, replay.account, replay.region, replay.cursor, replay.start, replay.end
        )
        if not batch:
            replay.state, replay.ended = "COMPLETED", self._clock()
            self._archives.put_replay(replay)
            return
        events = [{**event, "replay-name": replay.name} for _, event in batch]
        try:
            self._router.route(
                replay.account,
                replay.region,
                replay.bus,
                events,
                only_rules=set(replay.filter_arns) if replay.filter_arns else None,
            )
        except OSError as exc:  # the store is failing: the replay cannot go on
            replay.state, replay.reason, replay.ended = "FAILED", str(exc), self._clock()
            self._archives.put_replay(replay)
            return
        replay.cursor = batch[-1][0]
        replay.last_replayed = self._clock()
        self._archives.put_replay(replay)

    async def run(self) -> None:
        """Replay forever (cancel to stop); a crash restarts under the supervisor."""
        while True:
            self._archives.wake.clear()
            while self.step():
                await asyncio.sleep(0)  # one batch per replay, then requests get a turn
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._archives.wake.wait(), timeout=1.0)
