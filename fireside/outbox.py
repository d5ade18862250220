"""Deliveries to other services that must outlive a crash: a durable outbox and the task
that empties it through `fireside.targets`.

A service that decides, inside one of its own transactions, to send something on (Lambda
deleting a finished Event invoke and sending its record to a destination or its event to a
dead-letter queue) inserts the `Delivery` into the outbox in that same transaction
(`insert`), so a crash leaves either the cause (to be handled again) or the delivery, never
neither. `run` hands due deliveries to `Targets.send_many` and deletes each row only after
its target has answered: a `kill -9` in between sends it again, so delivery is at least
once (a repeat of an S3 record lands on the same key, chosen when it was queued).

A refusal the target calls final (no such queue, a policy that does not allow the sender)
drops the delivery with a warning and counts it (`dropped`), as a failed delivery is lost on
AWS (Lambda's `DestinationDeliveryFailures` metric); a retriable one (a full disk) is tried
again with backoff, 1 s doubling to 5 min, for as long as it takes.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import Mapping
from typing import Any, Protocol

from fireside.targets import Accepted, Delivery, Refused, Sender, Targets

__all__ = ["OUTBOX_TABLE", "Outbox", "OutboxStore"]

#: The outbox's table, in whichever store the deliveries are decided in.
OUTBOX_TABLE = """
CREATE TABLE IF NOT EXISTS outbox (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    account    TEXT NOT NULL,          -- the sender: its account and region,
    region     TEXT NOT NULL,
    service    TEXT,                   -- the service acting for it (NULL: the account's role)
    source_arn TEXT,                   -- and the resource it acts for
    arn        TEXT NOT NULL,          -- the target
    body       TEXT NOT NULL,
    meta       TEXT NOT NULL,          -- JSON: attributes, FIFO ids, subject, extra
    not_before REAL NOT NULL
)"""


class OutboxStore(Protocol):
    """The store that holds the outbox table (`fireside.store.database.Database`, the S3
    store): reads, and durable write transactions."""

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]: ...

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]: ...


log = logging.getLogger(__name__)

BACKOFF_MAX = 300.0
_BATCH = 64


def _attributes_to_json(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in attributes.items():
        copy = dict(value)
        if isinstance(copy.get("BinaryValue"), bytes | bytearray):
            copy["BinaryValue"] = base64.b64encode(copy["BinaryValue"]).decode("ascii")
            copy["_b64"] = True
        out[name] = copy
    return out


def _attributes_from_json(stored: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, value in stored.items():
        copy = dict(value)
        if copy.pop("_b64", False):
            copy["BinaryValue"] = base64.b64decode(copy["BinaryValue"])
        out[name] = copy
    return out


class Outbox:
    """Deliveries queued in `db` (its `outbox` table), sent on by `run`."""

    def __init__(self, db: OutboxStore, targets: Targets) -> None:
        self._db = db
        self._targets = targets
        self._wake = asyncio.Event()
        self._failures: dict[int, int] = {}  # row id -> retriable refusals in a row
        #: Deliveries their target refused for good, since the server started.
        self.dropped = 0

    @staticmethod
    def insert(conn: sqlite3.Connection, delivery: Delivery) -> None:
        """Queue `delivery` inside the caller's transaction (call `wake` after it commits)."""
        sender = delivery.sender
        meta = {
            "attributes": _attributes_to_json(delivery.attributes),
            "group_id": delivery.group_id,
            "dedup_id": delivery.dedup_id,
            "subject": delivery.subject,
            "extra": dict(delivery.extra),
        }
        conn.execute(
            "INSERT INTO outbox (account, region, service, source_arn, arn, body, meta, "
            "not_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sender.account,
                sender.region,
                sender.service,
                sender.source_arn,
                delivery.arn,
                delivery.body,
                json.dumps(meta),
                time.time(),
            ),
        )

    def insert_many(self, deliveries: list[Delivery]) -> None:
        """Queue `deliveries` in a transaction of their own (durable on return), and wake
        the sender."""
        with self._db.transaction() as conn:
            for delivery in deliveries:
                self.insert(conn, delivery)
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def pending(self) -> int:
        (count,) = self._db.query("SELECT COUNT(*) FROM outbox")[0]
        assert isinstance(count, int)
        return count

    async def run(self) -> None:
        """Deliver forever (cancel to stop; what is left stays on disk)."""
        while True:
            self._wake.clear()
            sent = self._send_batch()
            if isinstance(sent, list):
                # What was just accepted (an invoke, a message) starts before this
                # bookkeeping write: a lost delete only repeats a delivery, as at-least-once
                # allows.
                await asyncio.sleep(0)
                self._forget(sent)
                continue
            timeout = None if sent is None else max(0.0, sent - time.time())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wake.wait()

    def deliver_due(self) -> float | None:
        """Send every due delivery; returns when the next one is due (None: none is queued)."""
        while True:
            sent = self._send_batch()
            if not isinstance(sent, list):
                return sent
            self._forget(sent)

    def _send_batch(self) -> list[int] | float | None:
        """Send a batch of due deliveries: the rows done with (accepted, or refused for
        good), to delete; when nothing is due, when the next row is (None: none is queued)."""
        rows = self._db.query(
            "SELECT id, account, region, service, source_arn, arn, body, meta, not_before "
            "FROM outbox ORDER BY not_before, id LIMIT ?",
            (_BATCH,),
        )
        now = time.time()
        due = [row for row in rows if float(row[8]) <= now]  # type: ignore[arg-type]
        if not due:
            return float(rows[0][8]) if rows else None  # type: ignore[arg-type]
        deliveries = [self._delivery(row) for row in due]
        try:
            outcomes = self._targets.send_many(deliveries)
        except Exception:  # a bug in a handler must not stop the outbox
            log.exception("outbox: delivering %d item(s) failed", len(deliveries))
            outcomes = [Refused("InternalError", "handler failed", retriable=True)] * len(due)
        done: list[int] = []
        for row, delivery, outcome in zip(due, deliveries, outcomes, strict=True):
            row_id = row[0]
            assert isinstance(row_id, int)
            if isinstance(outcome, Accepted) or not outcome.retriable:
                if isinstance(outcome, Refused):
                    self.dropped += 1
                    log.warning(
                        "delivery from %s to %s dropped: %s: %s",
                        delivery.sender.source_arn or delivery.sender.account,
                        delivery.arn,
                        outcome.code,
                        outcome.reason,
                    )
                done.append(row_id)
            else:
                self._retry_later(row_id, f"{outcome.code}: {outcome.reason}")
        return done

    @staticmethod
    def _delivery(row: tuple[object, ...]) -> Delivery:
        _, account, region, service, source_arn, arn, body, meta_text, _ = row
        meta = json.loads(str(meta_text))
        return Delivery(
            Sender(
                str(account),
                str(region),
                None if service is None else str(service),
                None if source_arn is None else str(source_arn),
            ),
            str(arn),
            str(body),
            attributes=_attributes_from_json(meta.get("attributes") or {}),
            group_id=meta.get("group_id"),
            dedup_id=meta.get("dedup_id"),
            subject=meta.get("subject"),
            extra=meta.get("extra") or {},
        )

    def _forget(self, row_ids: list[int]) -> None:
        if not row_ids:
            return
        for row_id in row_ids:
            self._failures.pop(row_id, None)
        with self._db.transaction() as conn:
            conn.executemany("DELETE FROM outbox WHERE id = ?", [(i,) for i in row_ids])

    def _retry_later(self, row_id: int, why: str) -> None:
        count = self._failures.get(row_id, 0)
        self._failures[row_id] = count + 1
        delay = min(2.0**count, BACKOFF_MAX)
        log.warning("outbox delivery %d: %s; trying again in %.0f s", row_id, why, delay)
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE outbox SET not_before = ? WHERE id = ?", (time.time() + delay, row_id)
            )
