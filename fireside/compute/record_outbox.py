"""Invocation records bound for S3 bucket destinations: a durable outbox and the task that
empties it.

The async queue inserts a record (`insert`) in the transaction that deletes the failed event,
so a crash leaves either the event (to be re-delivered) or its record, never neither. `run`
puts each record into its bucket as an object and deletes the row only after the put has
returned: a `kill -9` in between puts the same bytes again under the same key, chosen when
the record was queued, so delivery is at least once and a repeat is invisible.

A bucket that does not exist or belongs to another account (NoSuchBucket, AccessDenied) loses
the record with a warning, as a failed delivery does on AWS (its `DestinationDeliveryFailures`
metric). Anything else (a full disk, a Fireside bug) is retried with backoff, 1 s doubling to
5 min, for as long as it takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time
from typing import Protocol

from fireside.aws.errors import ServiceError
from fireside.store.database import Database

__all__ = ["RecordOutbox", "RecordWriter"]

log = logging.getLogger(__name__)

BACKOFF_MAX = 300.0
CONTENT_TYPE = "application/json"
_BATCH = 64


class RecordWriter(Protocol):
    """What the outbox needs of S3 (`fireside.s3.access.StoredObjects` provides it)."""

    def put_object_as(
        self, account: str, bucket: str, key: str, data: bytes, content_type: str
    ) -> None: ...


class RecordOutbox:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._wake = asyncio.Event()
        self._failures: dict[int, int] = {}  # row id -> failed puts in a row (not durable)

    @staticmethod
    def insert(
        conn: sqlite3.Connection, account: str, bucket: str, key: str, record: bytes
    ) -> None:
        """Queue a record inside the caller's transaction (call `wake` after it commits)."""
        conn.execute(
            "INSERT INTO async_records (account, bucket, key, record, not_before) "
            "VALUES (?, ?, ?, ?, ?)",
            (account, bucket, key, record, time.time()),
        )

    def wake(self) -> None:
        self._wake.set()

    def pending(self) -> int:
        (count,) = self._db.query("SELECT COUNT(*) FROM async_records")[0]
        assert isinstance(count, int)
        return count

    async def run(self, writer: RecordWriter) -> None:
        """Deliver forever, one record at a time (cancel to stop; the rest stay on disk)."""
        while True:
            self._wake.clear()
            next_at = await self._deliver_due(writer)
            timeout = None if next_at is None else max(0.0, next_at - time.time())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _deliver_due(self, writer: RecordWriter) -> float | None:
        """Put every due record; returns when the next one is due (None: none is queued)."""
        while True:
            rows = self._db.query(
                "SELECT id, account, bucket, key, record, not_before FROM async_records "
                "ORDER BY not_before LIMIT ?",
                (_BATCH,),
            )
            now = time.time()
            due = [row for row in rows if float(row[5]) <= now]  # type: ignore[arg-type]
            if not due:
                return float(rows[0][5]) if rows else None  # type: ignore[arg-type]
            for row in due:
                await self._deliver(writer, row)

    async def _deliver(self, writer: RecordWriter, row: tuple[object, ...]) -> None:
        row_id, account, bucket, key, record = row[:5]
        assert isinstance(row_id, int) and isinstance(record, bytes)
        account, bucket, key = str(account), str(bucket), str(key)
        try:
            await asyncio.to_thread(
                writer.put_object_as, account, bucket, key, record, CONTENT_TYPE
            )
        except ServiceError as error:
            if error.status < 500:  # no such bucket, or not the function's account's
                log.warning(
                    "invocation record for s3://%s/%s not delivered (%s: %s); dropped",
                    bucket,
                    key,
                    error.code,
                    error.message,
                )
                self._delete(row_id)
            else:
                self._retry_later(row_id, f"{error.code}: {error.message}")
        except Exception as exc:  # keep it, and keep the outbox running
            log.exception("storing invocation record s3://%s/%s failed", bucket, key)
            self._retry_later(row_id, repr(exc))
        else:
            self._delete(row_id)

    def _delete(self, row_id: int) -> None:
        self._failures.pop(row_id, None)
        with self._db.transaction() as conn:
            conn.execute("DELETE FROM async_records WHERE id = ?", (row_id,))

    def _retry_later(self, row_id: int, why: str) -> None:
        count = self._failures.get(row_id, 0)
        self._failures[row_id] = count + 1
        delay = min(2.0**count, BACKOFF_MAX)
        log.warning("invocation record %d: %s; trying again in %.0f s", row_id, why, delay)
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE async_records SET not_before = ? WHERE id = ?",
                (time.time() + delay, row_id),
            )
