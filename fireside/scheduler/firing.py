"""The firing loop of EventBridge Scheduler: due schedules invoke their targets through
`fireside.targets` (the one owner-checked path), with retries and a dead-letter queue.

The scheduler assumes the target's execution role, so it acts as the schedule's account
(`Sender(account, region, None, schedule_arn)`): the account's own queues, functions, topics
and buses need no grant; another account's need a resource-policy grant to the account.

A firing is handed to its target before the schedule's next firing is stored (at least once,
as AWS delivers): a crash between the two fires it again after the restart. A delivery the
target refuses as retriable (a full disk) is tried again with exponential backoff while the
target's RetryPolicy allows (MaximumRetryAttempts, MaximumEventAgeInSeconds); any other
refusal, or retries exhausted, goes to the target's DeadLetterConfig queue with the message
attributes AWS documents for Scheduler dead-letter events (ERROR_CODE, ERROR_MESSAGE,
EXECUTION_ID, EXHAUSTED_RETRY_CONDITION, IS_PAYLOAD_TRUNCATED, RETRY_ATTEMPTS,
SCHEDULED_TIME, SCHEDULE_ARN, TARGET_ARN), or, without one, is logged and counted
(`failed_invocations`). Pending retries are stored, and resumed after a restart.

Firings missed while the server was stopped: a one-time schedule whose time passed fires
once at start (as AWS fires a one-time schedule whose time is past); a recurring schedule
does not make up missed firings, it resumes at its next firing after the start.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from fireside.scheduler.store import ScheduleRecord, SchedulerStore
from fireside.scheduler.timing import is_one_time, upcoming
from fireside.targets import Delivery, Outcome, Refused, Sender, Targets, service_of

__all__ = ["Firer", "payload"]

log = logging.getLogger(__name__)

DEFAULT_MAX_AGE: Final = 86400
DEFAULT_MAX_RETRIES: Final = 185
_MAX_BACKOFF: Final = 300.0


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def payload(text: str, schedule_arn: str, planned: float, execution: str, attempt: int) -> str:
    """`Input` with the context attributes AWS substitutes."""
    for keyword, value in (
        ("<aws.scheduler.schedule-arn>", schedule_arn),
        ("<aws.scheduler.scheduled-time>", _iso(planned)),
        ("<aws.scheduler.execution-id>", execution),
        ("<aws.scheduler.attempt-number>", str(attempt)),
    ):
        text = text.replace(keyword, value)
    return text


@dataclass(order=True, slots=True)
class _Attempt:
    """One invocation of a schedule's target (a firing, or a retry of one)."""

    due: float
    arn: str = field(compare=False)
    account: str = field(compare=False)
    region: str = field(compare=False)
    target: dict[str, Any] = field(compare=False)
    planned: float = field(compare=False)
    first: float = field(compare=False)
    execution: str = field(compare=False)
    number: int = field(compare=False, default=1)


class Firer:
    """Fires due schedules; `run()` is the supervised loop, `fire_due(now)` one pass."""

    def __init__(
        self,
        store: SchedulerStore,
        targets: Targets,
        *,
        clock: Callable[[], float] = time.time,
        tick: float = 0.5,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._targets = targets
        self._clock = clock
        self._tick = tick
        self._rng = rng or random.Random()
        self._retries: list[_Attempt] = []
        self._started = False
        #: Schedule ARN -> firings that reached no target (not retried), since the start.
        self.failed_invocations: Counter[str] = Counter()
        #: Schedule ARN -> deliveries accepted by their target, since the start.
        self.invocations: Counter[str] = Counter()

    def arm(self, schedule: ScheduleRecord, now: float) -> None:
        """Set a new or updated schedule's first firing (the caller stores it)."""
        planned = upcoming(schedule, now)
        schedule.planned = planned
        schedule.next_fire = None if planned is None else planned + self._delay(schedule)

    def _delay(self, schedule: ScheduleRecord) -> float:
        """A flexible window's random delay, in seconds."""
        window = schedule.flexible
        if window.get("Mode") != "FLEXIBLE":
            return 0.0
        return self._rng.uniform(0.0, float(window.get("MaximumWindowInMinutes") or 0) * 60)

    def _resume(self, now: float) -> None:
        """At start: recurring schedules skip the firings missed while stopped; stored
        retries are due again."""
        for record in self._store.retries():
            heapq.heappush(self._retries, _Attempt(**record))
        resumed = []
        for schedule in self._store.all_schedules():
            if schedule.next_fire is None or schedule.next_fire >= now:
                continue
            if not is_one_time(schedule.expression):
                self.arm(schedule, now)
                resumed.append(schedule)
        self._store.put_schedules(resumed)

    def fire_due(self, now: float) -> int:
        """Fire every schedule due at `now` and every retry due; answers the attempts made."""
        if not self._started:
            self._resume(now)
            self._started = True
        attempts: list[_Attempt] = []
        changed: list[ScheduleRecord] = []
        finished: list[ScheduleRecord] = []
        for schedule in self._store.due(now):
            if schedule.state != "ENABLED" or schedule.planned is None:
                continue  # stored again when it is enabled (UpdateSchedule arms it)
            attempts.append(
                _Attempt(
                    now,
                    schedule.arn,
                    schedule.account,
                    schedule.region,
                    schedule.target,
                    schedule.planned,
                    now,
                    secrets.token_hex(8),
                )
            )
            following = None
            if not is_one_time(schedule.expression):
                following = upcoming(schedule, schedule.planned + 0.001)
                if following is not None and following <= now:  # fell behind: no bursts
                    following = upcoming(schedule, now)
            schedule.planned = following
            schedule.next_fire = None if following is None else following + self._delay(schedule)
            if following is None and schedule.after_completion == "DELETE":
                finished.append(schedule)
            else:
                changed.append(schedule)
        while self._retries and self._retries[0].due <= now:
            attempts.append(heapq.heappop(self._retries))
        retried = self._send(attempts, now)
        # Stored after the deliveries: a crash in between fires again (at least once).
        again = {a.execution: asdict(a) for a in retried}
        self._store.save_retries(
            again, [a.execution for a in attempts if a.number > 1 and a.execution not in again]
        )
        self._store.put_schedules(changed)
        self._store.delete_schedules(finished)
        return len(attempts)

    def _delivery(self, attempt: _Attempt) -> Delivery:
        target = attempt.target
        text = target.get("Input")
        body = (
            "{}"
            if text is None
            else payload(text, attempt.arn, attempt.planned, attempt.execution, attempt.number)
        )
        sender = Sender(attempt.account, attempt.region, None, attempt.arn)
        delivery = Delivery(sender, target["Arn"], body)
        group = (target.get("SqsParameters") or {}).get("MessageGroupId")
        if group:
            delivery.group_id = group
        bridge = target.get("EventBridgeParameters")
        if service_of(target["Arn"]) == "events" and bridge:
            delivery.extra = {
                "DetailType": bridge["DetailType"],
                "Source": bridge["Source"],
                "Resources": [attempt.arn],
            }
        return delivery

    def _send_many(self, deliveries: list[Delivery]) -> list[Outcome]:
        """`Targets.send_many`, but a handler's bug fails only its own deliveries: the loop
        goes on (and does not fire the others again after a supervisor restart)."""
        try:
            return self._targets.send_many(deliveries)
        except Exception:
            log.exception("a target handler failed; delivering one by one")
        outcomes: list[Outcome] = []
        for delivery in deliveries:
            try:
                outcomes.append(self._targets.send(delivery))
            except Exception as exc:
                outcomes.append(Refused("InternalError", f"{type(exc).__name__}: {exc}"))
        return outcomes

    def _send(self, attempts: list[_Attempt], now: float) -> list[_Attempt]:
        """Deliver `attempts`; answers those to be tried again (queued for it)."""
        if not attempts:
            return []
        retried: list[_Attempt] = []
        outcomes = self._send_many([self._delivery(a) for a in attempts])
        dead: list[tuple[_Attempt, Refused, str | None]] = []
        for attempt, outcome in zip(attempts, outcomes, strict=True):
            if not isinstance(outcome, Refused):
                self.invocations[attempt.arn] += 1
                continue
            policy = attempt.target.get("RetryPolicy") or {}
            max_retries = policy.get("MaximumRetryAttempts", DEFAULT_MAX_RETRIES)
            max_age = policy.get("MaximumEventAgeInSeconds", DEFAULT_MAX_AGE)
            if not outcome.retriable:
                dead.append((attempt, outcome, None))
            elif attempt.number > max_retries:
                dead.append((attempt, outcome, "MaximumRetryAttempts"))
            else:
                backoff = min(_MAX_BACKOFF, 2.0 ** (attempt.number - 1))
                due = now + backoff * self._rng.uniform(0.5, 1.0)
                if due - attempt.first > max_age:
                    dead.append((attempt, outcome, "MaximumEventAgeInSeconds"))
                else:
                    attempt.due, attempt.number = due, attempt.number + 1
                    heapq.heappush(self._retries, attempt)
                    retried.append(attempt)
        self._dead_letters(dead)
        return retried

    def _dead_letters(self, dead: list[tuple[_Attempt, Refused, str | None]]) -> None:
        letters: list[tuple[_Attempt, Refused, Delivery]] = []
        for attempt, refused, condition in dead:
            self.failed_invocations[attempt.arn] += 1
            queue = (attempt.target.get("DeadLetterConfig") or {}).get("Arn")
            log.warning(
                "schedule %s: target %s not invoked (%s: %s)%s",
                attempt.arn,
                attempt.target["Arn"],
                refused.code,
                refused.reason,
                f"; to dead-letter queue {queue}" if queue else "",
            )
            if not queue:
                continue
            values = {
                "ERROR_CODE": refused.code,
                "ERROR_MESSAGE": refused.reason,
                "EXECUTION_ID": attempt.execution,
                "IS_PAYLOAD_TRUNCATED": "false",
                "RETRY_ATTEMPTS": str(attempt.number - 1),
                "SCHEDULED_TIME": _iso(attempt.planned),
                "SCHEDULE_ARN": attempt.arn,
                "TARGET_ARN": attempt.target["Arn"],
            }
            if condition is not None:
                values["EXHAUSTED_RETRY_CONDITION"] = condition
            letter = self._delivery(attempt)
            letter.arn, letter.group_id, letter.extra = queue, None, {}
            letter.attributes = {
                name: {"DataType": "String", "StringValue": value[:1024] or "-"}
                for name, value in values.items()
            }
            letters.append((attempt, refused, letter))
        if not letters:
            return
        outcomes = self._send_many([letter for _, _, letter in letters])
        for (attempt, _, letter), outcome in zip(letters, outcomes, strict=True):
            if isinstance(outcome, Refused):
                log.warning(
                    "schedule %s: dead-letter queue %s refused the event (%s: %s)",
                    attempt.arn,
                    letter.arn,
                    outcome.code,
                    outcome.reason,
                )

    async def run(self) -> None:
        """Fire forever (cancel to stop); a crash ends it and the supervisor restarts it."""
        while True:
            self.fire_due(self._clock())
            await asyncio.sleep(self._tick)
