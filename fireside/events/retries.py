"""The durable retry outbox of EventBridge targets, and the supervised loop that drains it.

A delivery a target refuses with `retriable` set (`fireside.targets.Refused`: a full disk, a
store briefly unavailable) is not lost: it becomes a row of `retries` in `events.sqlite`,
committed before the PutEvents (or schedule firing, or earlier retry) that produced it goes on,
and is tried again after an exponential back-off with jitter until the target accepts it or
its `RetryPolicy` runs out: `MaximumRetryAttempts` (0-185, default 185) retries or
`MaximumEventAgeInSeconds` (60-86400, default 86400) since the first attempt, AWS's defaults.
What runs out, or is refused for good, goes to the target's dead-letter queue
(`Router.dead_letter`).

Each row holds everything a retry needs (who sends, the target as PutTargets took it, the
event, the payload): a retry does not depend on the rule still existing, as AWS keeps
retrying an event after its rule changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import sqlite3
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from fireside.store.database import write_transaction
from fireside.targets import Delivery, Sender

__all__ = [
    "DEFAULT_MAX_AGE",
    "DEFAULT_MAX_ATTEMPTS",
    "Attempt",
    "RetryOutbox",
    "backoff",
    "retry_limits",
]

DEFAULT_MAX_ATTEMPTS: Final = 185
DEFAULT_MAX_AGE: Final = 86400
#: The longest wait between two attempts, as AWS spreads 185 attempts over a day.
MAX_BACKOFF: Final = 300.0
#: Rows one pass of the loop takes (the rest wait for the next pass).
BATCH: Final = 100

_SCHEMA = """
CREATE TABLE IF NOT EXISTS retries (
    id     INTEGER PRIMARY KEY AUTOINCREMENT,
    due    REAL NOT NULL,
    record TEXT NOT NULL             -- JSON of Attempt
);
CREATE INDEX IF NOT EXISTS retries_due ON retries (due)
"""


@dataclass(slots=True)
class Attempt:
    """One event for one target: what is sent, and how many retries it has had."""

    sender: Sender
    target: Mapping[str, Any]
    event: Mapping[str, Any]
    delivery: Delivery
    #: Retries made so far (0 on the first attempt).
    attempts: int = 0
    #: When the first attempt was made (seconds since the epoch).
    first: float = 0.0
    #: The last refusal: (code, reason), for the dead-letter message's attributes.
    last: tuple[str, str] | None = None
    #: The outbox row, once the attempt has one.
    row: int | None = field(default=None, compare=False)

    @property
    def rule_arn(self) -> str:
        return self.sender.source_arn or ""

    def record(self) -> str:
        d = self.delivery
        return json.dumps(
            {
                "sender": [self.sender.account, self.sender.region, self.sender.service],
                "rule": self.sender.source_arn,
                "target": self.target,
                "event": self.event,
                "arn": d.arn,
                "body": d.body,
                "group_id": d.group_id,
                "extra": dict(d.extra),
                "attempts": self.attempts,
                "first": self.first,
                "last": self.last,
            }
        )

    @classmethod
    def from_record(cls, row: int, text: str) -> Attempt:
        r = json.loads(text)
        account, region, service = r["sender"]
        sender = Sender(account, region, service, r["rule"])
        delivery = Delivery(sender, r["arn"], r["body"], group_id=r["group_id"], extra=r["extra"])
        last = tuple(r["last"]) if r.get("last") else None
        return cls(
            sender,
            r["target"],
            r["event"],
            delivery,
            r["attempts"],
            r["first"],
            last,
            row,
        )


def retry_limits(target: Mapping[str, Any]) -> tuple[int, int]:
    """(MaximumRetryAttempts, MaximumEventAgeInSeconds) of a target, AWS's defaults filled in."""
    policy = target.get("RetryPolicy") or {}
    attempts = policy.get("MaximumRetryAttempts")
    age = policy.get("MaximumEventAgeInSeconds")
    return (
        DEFAULT_MAX_ATTEMPTS if attempts is None else int(attempts),
        DEFAULT_MAX_AGE if age is None else int(age),
    )


def backoff(retries: int, base: float) -> float:
    """Seconds before retry number `retries + 1`: exponential, capped, with full jitter's
    upper half (so a crowd of failures spreads out but never retries at once)."""
    ceiling = min(base * 2.0 ** min(retries, 30), MAX_BACKOFF)
    return ceiling * random.uniform(0.5, 1.0)


class RetryOutbox:
    """The `retries` table of `events.sqlite` (the connection `EventStore` opened)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        with write_transaction(conn) as c:
            for statement in _SCHEMA.split(";"):
                c.execute(statement)
        #: Set when a row is added, so the loop does not sleep past it.
        self.wake = asyncio.Event()

    def apply(
        self,
        *,
        add: Iterable[tuple[float, Attempt]] = (),
        update: Iterable[tuple[float, Attempt]] = (),
        delete: Iterable[int] = (),
    ) -> None:
        """Insert, reschedule and drop rows, all in one durable transaction."""
        add, update, delete = list(add), list(update), list(delete)
        if not (add or update or delete):
            return
        with write_transaction(self._conn) as conn:
            conn.executemany(
                "INSERT INTO retries (due, record) VALUES (?, ?)",
                [(due, attempt.record()) for due, attempt in add],
            )
            conn.executemany(
                "UPDATE retries SET due = ?, record = ? WHERE id = ?",
                [(due, attempt.record(), attempt.row) for due, attempt in update],
            )
            conn.executemany("DELETE FROM retries WHERE id = ?", [(row,) for row in delete])
        if add:
            self.wake.set()

    def due(self, now: float, limit: int = BATCH) -> list[Attempt]:
        rows = self._conn.execute(
            "SELECT id, record FROM retries WHERE due <= ? ORDER BY due LIMIT ?", (now, limit)
        ).fetchall()
        return [Attempt.from_record(row, record) for row, record in rows]

    def next_due(self) -> float | None:
        (due,) = self._conn.execute("SELECT MIN(due) FROM retries").fetchone()
        return None if due is None else float(due)

    def pending(self) -> int:
        (count,) = self._conn.execute("SELECT COUNT(*) FROM retries").fetchone()
        return int(count)


async def retry_forever(
    outbox: RetryOutbox,
    retry_due: Callable[[float], int],
    clock: Callable[[], float],
    *,
    tick: float = 1.0,
) -> None:
    """Run due retries, then sleep until the next one is due (at most `tick`, or until a new
    row is added). A crash ends the loop; the supervisor starts it again."""
    while True:
        while retry_due(clock()) >= BATCH:
            await asyncio.sleep(0)  # a full batch: more may be due, let requests in between
        outbox.wake.clear()
        upcoming = outbox.next_due()
        wait = tick if upcoming is None else min(tick, max(0.0, upcoming - clock()))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(outbox.wake.wait(), timeout=wait)
