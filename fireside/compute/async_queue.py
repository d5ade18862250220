"""Durable asynchronous (`Event`) invocations: accepted means on disk, delivered at least once.

An Event invoke is inserted into the `async_events` table (committed with fsync) before the 202
goes out. A dispatcher task delivers due events with bounded concurrency and deletes each row only
after its invoke has finished, so a crash or `kill -9` at any moment re-delivers instead of losing.

What happens after a run follows the function's event invoke configuration (`AsyncPolicy`, from
`fireside.compute.event_config`), as on Lambda:

- a function error is retried after `async_retry_delays` (1st, 2nd retry), up to
  `MaximumRetryAttempts` (default 2); if the next retry would come after the event's
  `MaximumEventAgeInSeconds` (default `max_event_age`), the event fails at once, as AWS does;
- throttling (and Fireside's own errors) are retried with exponential backoff (1 s doubling to
  5 min) without using an attempt, until the event's age runs out;
- reserved concurrency 0 fails the event at once, without running it.

A finished event's invocation record goes to its `OnSuccess` or `OnFailure` destination, inserted
*in the transaction that deletes the source event*: a crash leaves either the source (to be
re-delivered) or the record, never neither. For a Lambda function destination the record is a
new Event invoke of it, in this queue; for an S3 bucket (OnFailure only) it is a row of the
record outbox (`fireside.compute.record_outbox`), which puts it into the bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fireside import targets
from fireside.aws.errors import ServiceError
from fireside.compute import destinations
from fireside.compute.destinations import (
    BucketTarget,
    Destination,
    Response,
    ServiceTarget,
    Target,
)
from fireside.compute.invocation import Outcome
from fireside.outbox import Outbox
from fireside.store.database import Database
from fireside.supervisor import TaskSet

log = logging.getLogger(__name__)

DEFAULT_RETRIES = 2
THROTTLE_BACKOFF_MAX = 300.0
#: Records go to a function destination as an Event invoke, which has this payload limit (an
#: S3 destination takes records of any size).
MAX_RECORD = 1_048_576


def _error_message(payload: bytes) -> str:
    """A function error's `errorMessage`, or its payload as text."""
    try:
        parsed = json.loads(payload)
    except ValueError:
        return payload.decode("utf-8", errors="replace")
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        return str(parsed["errorMessage"])
    return payload.decode("utf-8", errors="replace")


@dataclass(frozen=True, slots=True)
class QueuedEvent:
    id: int
    account: str
    region: str
    function: str
    qualifier: str
    request_id: str
    payload: bytes
    #: Runs that ended in a function error so far.
    attempts: int
    created: float

    @property
    def function_arn(self) -> str:
        """The ARN the event was sent to, qualified (`$LATEST`, a version or an alias)."""
        return (
            f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function}:{self.qualifier}"
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One run of a queued event: what the function answered, and which version ran."""

    outcome: Outcome
    executed_version: str


@dataclass(frozen=True, slots=True)
class AsyncPolicy:
    """The event invoke configuration that applies to one event (None: Lambda's default)."""

    max_retries: int | None = None
    max_age: float | None = None
    on_success: Destination | None = None
    on_failure: Destination | None = None
    #: The function's `DeadLetterConfig` target (an SQS queue or SNS topic ARN).
    dead_letter: str | None = None
    #: The function's reserved concurrency is 0: events fail without running.
    zero_concurrency: bool = False


Deliver = Callable[[QueuedEvent], Awaitable[Delivery]]
PolicyFor = Callable[[QueuedEvent], AsyncPolicy]
#: Whether an account may have Lambda invoke a function (`fireside.compute.permissions`).
MayInvoke = Callable[[str, Target], bool]


def _default_policy(event: QueuedEvent) -> AsyncPolicy:
    return AsyncPolicy()


def _own_only(account: str, target: Target) -> bool:
    return target.account == account


class AsyncQueue:
    def __init__(
        self,
        db: Database,
        *,
        retry_delays: tuple[float, ...],
        max_event_age: float,
        concurrency: int,
        outbox: Outbox | None = None,
    ) -> None:
        self._db = db
        self._outbox = outbox
        self._retry_delays = retry_delays
        self._max_age = max_event_age
        self._limit = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()
        self._in_flight: set[int] = set()
        self._throttles: dict[int, int] = {}  # event id -> throttles in a row (not durable)
        self._tasks = TaskSet("async-dispatch")
        self._policy: PolicyFor = _default_policy
        self._may_invoke: MayInvoke = _own_only

    def enqueue(
        self,
        account: str,
        region: str,
        function: str,
        qualifier: str,
        request_id: str,
        payload: bytes,
    ) -> None:
        with self._db.transaction() as conn:
            self._insert(conn, Target(account, region, function, qualifier), request_id, payload)
        self._wake.set()

    def enqueue_many(self, events: list[tuple[str, str, str, str, str, bytes]]) -> None:
        """Queue several Event invokes, each `(account, region, function, qualifier,
        request_id, payload)`, in one durable transaction (all or none)."""
        with self._db.transaction() as conn:
            for account, region, function, qualifier, request_id, payload in events:
                self._insert(
                    conn, Target(account, region, function, qualifier), request_id, payload
                )
        self._wake.set()

    @staticmethod
    def _insert(conn: sqlite3.Connection, to: Target, request_id: str, payload: bytes) -> None:
        now = time.time()
        conn.execute(
            "INSERT INTO async_events (account, region, function, qualifier, request_id, "
            "payload, attempts, created, not_before) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
            (to.account, to.region, to.function, to.qualifier, request_id, payload, now, now),
        )

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

    async def run(
        self,
        deliver: Deliver,
        policy: PolicyFor = _default_policy,
        may_invoke: MayInvoke = _own_only,
    ) -> None:
        """Dispatch forever (cancel to stop; undelivered events stay on disk)."""
        self._policy = policy
        self._may_invoke = may_invoke
        try:
            while True:
                self._wake.clear()
                due, next_at = self._due(time.time())
                for event in due:
                    await self._limit.acquire()
                    self._in_flight.add(event.id)
                    self._tasks.spawn(self._deliver(event, deliver), f"deliver {event.request_id}")
                timeout = None if next_at is None else max(0.0, next_at - time.time())
                if due:
                    timeout = 0.05 if timeout is None else min(timeout, 0.05)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):  # (wait_for could swallow a cancel)
                        await self._wake.wait()
        finally:
            await self._tasks.close()

    # -- one event -----------------------------------------------------------------------------
    async def _deliver(self, event: QueuedEvent, deliver: Deliver) -> None:
        try:
            policy = self._policy(event)
            deadline = event.created + (self._max_age if policy.max_age is None else policy.max_age)
            if time.time() > deadline:
                self._finish(event, policy, destinations.EVENT_AGE_EXCEEDED, None)
            elif policy.zero_concurrency:
                self._finish(event, policy, destinations.ZERO_RESERVED_CONCURRENCY, None)
            else:
                await self._run(event, policy, deadline, deliver)
        except Exception:  # the dispatcher must outlive any one event: keep it for later
            log.exception("handling event %s failed", event.request_id)
            with contextlib.suppress(Exception):
                self._reschedule(event, event.attempts, THROTTLE_BACKOFF_MAX)
        finally:
            self._in_flight.discard(event.id)
            self._limit.release()
            self._wake.set()

    async def _run(
        self, event: QueuedEvent, policy: AsyncPolicy, deadline: float, deliver: Deliver
    ) -> None:
        try:
            delivery = await deliver(event)
        except ServiceError as error:
            if error.status == 404:  # the function (or its alias) is gone, and its config
                log.warning("dropping event %s: %s", event.request_id, error.message)
                self._finish(event, AsyncPolicy(), None, None)
            else:  # throttled, not ready yet, or a Fireside error: no attempt used
                self._back_off(event, policy, deadline)
            return
        except Exception:
            log.exception("delivering event %s failed", event.request_id)
            self._back_off(event, policy, deadline)
            return
        self._throttles.pop(event.id, None)
        outcome = delivery.outcome
        response = Response(delivery.executed_version, outcome.payload, outcome.function_error)
        if not outcome.function_error:
            self._finish(event, policy, destinations.SUCCESS, response)
            return
        retries = DEFAULT_RETRIES if policy.max_retries is None else policy.max_retries
        if event.attempts >= retries:
            self._finish(event, policy, destinations.RETRIES_EXHAUSTED, response)
            return
        delay = self._retry_delay(event.attempts)
        if time.time() + delay > deadline:  # no time left for the next retry: fail now
            self._finish(event, policy, destinations.EVENT_AGE_EXCEEDED, response)
            return
        self._reschedule(event, event.attempts + 1, delay, response)

    def _retry_delay(self, retry: int) -> float:
        if not self._retry_delays:
            return 0.0
        return self._retry_delays[min(retry, len(self._retry_delays) - 1)]

    def _back_off(self, event: QueuedEvent, policy: AsyncPolicy, deadline: float) -> None:
        """Try again later without using an attempt: 1 s, doubling up to 5 min, and never
        past the event's maximum age (then it fails as too old)."""
        now = time.time()
        if now >= deadline:
            self._finish(event, policy, destinations.EVENT_AGE_EXCEEDED, None)
            return
        count = self._throttles.get(event.id, 0)
        self._throttles[event.id] = count + 1
        delay = min(2.0**count, THROTTLE_BACKOFF_MAX, deadline - now)
        self._reschedule(event, event.attempts, delay)

    # -- durable state changes -----------------------------------------------------------------
    def _reschedule(
        self, event: QueuedEvent, attempts: int, delay: float, failure: Response | None = None
    ) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE async_events SET attempts = ?, not_before = ? WHERE id = ?",
                (attempts, time.time() + delay, event.id),
            )
            if failure is not None:  # kept for a record sent if the event later ages out
                conn.execute(
                    "INSERT OR REPLACE INTO async_event_failures (event_id, executed_version, "
                    "function_error, response) VALUES (?, ?, ?, ?)",
                    (event.id, failure.executed_version, failure.function_error, failure.payload),
                )

    def _last_failure(self, event: QueuedEvent) -> Response | None:
        rows = self._db.query(
            "SELECT executed_version, function_error, response FROM async_event_failures "
            "WHERE event_id = ?",
            (event.id,),
        )
        if not rows:
            return None
        version, error, payload = rows[0]
        assert isinstance(payload, bytes)
        return Response(str(version), payload, None if error is None else str(error))

    def _finish(
        self,
        event: QueuedEvent,
        policy: AsyncPolicy,
        condition: str | None,
        response: Response | None,
    ) -> None:
        """Delete the event and, in the same transaction, queue its record for the
        destination its `condition` calls for (None: just drop it)."""
        self._throttles.pop(event.id, None)
        target: Destination | None = (
            policy.on_success if condition == destinations.SUCCESS else policy.on_failure
        )
        if not isinstance(target, Target | None) and self._outbox is None:
            log.warning("no outbox to send the record of event %s through", event.request_id)
            target = None
        if isinstance(target, Target) and not self._may_invoke(event.account, target):
            # Checked when configured too; a configuration stored before that check (or a
            # grant since revoked) must not invoke another account's function either.
            log.warning(
                "event %s: account %s may not invoke its destination %s; record dropped",
                event.request_id,
                event.account,
                target.function,
            )
            target = None
        record = None
        now = time.time()
        if condition is not None and target is not None:
            limit = None if isinstance(target, BucketTarget) else MAX_RECORD
            record = self._record(event, condition, response, now, limit)
        sends: list[targets.Delivery] = []
        if record is not None and target is not None and not isinstance(target, Target):
            sends.append(self._record_delivery(event, condition, target, record, now))
        failed = condition not in (None, destinations.SUCCESS)
        if failed and policy.dead_letter is not None and self._outbox is not None:
            sends.append(self._dead_letter(event, policy.dead_letter, response, condition))
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM async_events WHERE id = ?", (event.id,))
            conn.execute("DELETE FROM async_event_failures WHERE event_id = ?", (event.id,))
            if record is not None and isinstance(target, Target):
                self._insert(conn, target, str(uuid.uuid4()), record)
            for delivery in sends:
                Outbox.insert(conn, delivery)
        if sends and self._outbox is not None:
            self._outbox.wake()
        if condition not in (None, destinations.SUCCESS):
            log.warning(
                "event %s for %s failed (%s) after %d run(s)%s",
                event.request_id,
                event.function_arn,
                condition,
                event.attempts + (response is not None),
                "; its record goes to the OnFailure destination" if record else "",
            )

    @staticmethod
    def _sender(event: QueuedEvent) -> targets.Sender:
        # Lambda sends records and dead letters with the function's execution role: as the
        # function's account, not as a service.
        return targets.Sender(event.account, event.region, None, event.function_arn)

    def _record_delivery(
        self,
        event: QueuedEvent,
        condition: str | None,
        target: BucketTarget | ServiceTarget,
        record: bytes,
        now: float,
    ) -> targets.Delivery:
        body = record.decode("utf-8")
        if isinstance(target, BucketTarget):
            key = destinations.record_key(event.function, now, str(uuid.uuid4()))
            return targets.Delivery(
                self._sender(event),
                f"arn:aws:s3:::{target.bucket}",
                body,
                extra={"key": key, "content_type": "application/json"},
            )
        extra: dict[str, object] = {}
        if target.service == "events":
            outcome = "Success" if condition == destinations.SUCCESS else "Failure"
            extra = {
                "Source": "lambda",
                "DetailType": f"Lambda Function Invocation Result - {outcome}",
                "Resources": [target.arn, event.function_arn],
            }
        return targets.Delivery(self._sender(event), target.arn, body, extra=extra)

    def _dead_letter(
        self, event: QueuedEvent, arn: str, response: Response | None, condition: str | None
    ) -> targets.Delivery:
        """The event as it came, to the function's dead-letter queue or topic, with the
        attributes AWS adds: RequestID, ErrorCode (an HTTP status) and ErrorMessage (its
        first KB)."""
        response = response or self._last_failure(event)
        if response is not None and response.function_error is not None:
            code, message = "200", _error_message(response.payload)
        else:
            code, message = "429", f"The event was not run: {condition}"
        return targets.Delivery(
            self._sender(event),
            arn,
            event.payload.decode("utf-8", errors="replace"),
            attributes={
                "RequestID": {"DataType": "String", "StringValue": event.request_id},
                "ErrorCode": {"DataType": "Number", "StringValue": code},
                "ErrorMessage": {"DataType": "String", "StringValue": message[:1024] or "-"},
            },
        )

    def _record(
        self,
        event: QueuedEvent,
        condition: str,
        response: Response | None,
        now: float,
        limit: int | None,
    ) -> bytes | None:
        if condition == destinations.ZERO_RESERVED_CONCURRENCY:
            response, count = None, event.attempts
        elif response is not None:  # this run's answer
            count = event.attempts + 1
        else:  # never ran since its last failure (throttled): that failure's answer, if any
            response, count = self._last_failure(event), event.attempts
        record = destinations.invocation_record(
            request_id=event.request_id,
            function_arn=event.function_arn,
            condition=condition,
            invoke_count=count,
            request_payload=event.payload,
            response=response,
            at=now,
        )
        if limit is not None and len(record) > limit:
            log.warning(
                "the %s record of event %s is %d bytes, over the %d-byte Event payload limit: "
                "not sent to its destination",
                condition,
                event.request_id,
                len(record),
                MAX_RECORD,
            )
            return None
        return record
