"""Durable asynchronous (`Event`) invocations: accepted means on disk, delivered at least once.

An Event invoke is inserted into the `async_events` table (committed with fsync) before the 202
goes out. A dispatcher task delivers due events with bounded concurrency and deletes each row only
after its invoke has finished, so a crash or `kill -9` at any moment re-delivers instead of losing.
A function error is retried after `async_retry_delays` (two retries, as on Lambda); throttling is
retried without using up an attempt; events older than `max_event_age` are dropped with a log line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fireside.aws.errors import ServiceError
from fireside.compute.invocation import Outcome
from fireside.store.database import Database

log = logging.getLogger(__name__)

THROTTLE_RETRY = 1.0


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    id: int
    account: str
    region: str
    function: str
    qualifier: str
    request_id: str
    payload: bytes
    attempts: int
    created: float


Deliver = Callable[[QueuedEvent], Awaitable[Outcome]]


class AsyncQueue:
    def __init__(
        self,
        db: Database,
        *,
        retry_delays: tuple[float, ...],
        max_event_age: float,
        concurrency: int,
    ) -> None:
        self._db = db
        self._retry_delays = retry_delays
        self._max_age = max_event_age
        self._limit = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._in_flight: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def enqueue(
        self,
        account: str,
        region: str,
        function: str,
        qualifier: str,
        request_id: str,
        payload: bytes,
    ) -> None:
        now = time.time()
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO async_events (account, region, function, qualifier, request_id, "
                "payload, attempts, created, not_before) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
                (account, region, function, qualifier, request_id, payload, now, now),
            )
        self._wake.set()

    def pending(self) -> int:
        (count,) = self._db.query("SELECT COUNT(*) FROM async_events")[0]
        assert isinstance(count, int)
        return count

    def _due(self, now: float) -> tuple[list[QueuedEvent], float | None]:
        rows = self._db.query(
            "SELECT id, account, region, function, qualifier, request_id, payload, attempts, "
            "created, not_before FROM async_events ORDER BY not_before LIMIT 256"
        )
        due: list[QueuedEvent] = []
        next_at: float | None = None
        for row in rows:
            event = QueuedEvent(*row[:9])  # type: ignore[arg-type]
            not_before = float(row[9])  # type: ignore[arg-type]
            if event.id in self._in_flight:
                continue
            if not_before <= now:
                due.append(event)
            elif next_at is None or not_before < next_at:
                next_at = not_before
        return due, next_at

    async def run(self, deliver: Deliver) -> None:
        """Dispatch forever (cancel to stop; undelivered events stay on disk)."""
        try:
            while True:
                self._wake.clear()
                due, next_at = self._due(time.time())
                for event in due:
                    await self._limit.acquire()
                    self._in_flight.add(event.id)
                    task = asyncio.get_running_loop().create_task(self._deliver(event, deliver))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                timeout = None if next_at is None else max(0.0, next_at - time.time())
                if due:
                    timeout = 0.05 if timeout is None else min(timeout, 0.05)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout)
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _deliver(self, event: QueuedEvent, deliver: Deliver) -> None:
        try:
            if time.time() - event.created > self._max_age:
                log.warning(
                    "dropping event %s for %s: older than %ss",
                    event.request_id,
                    event.function,
                    self._max_age,
                )
                self._delete(event)
                return
            try:
                outcome = await deliver(event)
            except ServiceError as error:
                if error.status == 429:
                    self._reschedule(event, event.attempts, THROTTLE_RETRY)
                elif error.status == 404:
                    log.warning("dropping event %s: %s", event.request_id, error.message)
                    self._delete(event)
                else:
                    self._retry_or_drop(event, error.message)
                return
            except Exception:
                log.exception("delivering event %s failed", event.request_id)
                self._retry_or_drop(event, "internal error")
                return
            if outcome.function_error:
                self._retry_or_drop(event, outcome.payload[:200].decode(errors="replace"))
            else:
                self._delete(event)
        finally:
            self._in_flight.discard(event.id)
            self._limit.release()
            self._wake.set()

    def _retry_or_drop(self, event: QueuedEvent, reason: str) -> None:
        if event.attempts < len(self._retry_delays):
            self._reschedule(event, event.attempts + 1, self._retry_delays[event.attempts])
        else:
            log.warning(
                "event %s for %s failed after %d attempts: %s",
                event.request_id,
                event.function,
                event.attempts + 1,
                reason,
            )
            self._delete(event)

    def _reschedule(self, event: QueuedEvent, attempts: int, delay: float) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE async_events SET attempts = ?, not_before = ? WHERE id = ?",
                (attempts, time.time() + delay, event.id),
            )

    def _delete(self, event: QueuedEvent) -> None:
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM async_events WHERE id = ?", (event.id,))
