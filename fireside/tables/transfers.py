"""What exports and imports share: their durable records, the S3 they read and write, and
the background jobs that run them.

A record (an export's `ExportDescription`, an import's `ImportTableDescription`, as JSON) is
written IN_PROGRESS before the call returns, and again when its job ends. Jobs run as tasks
owned by the Tables service (cancelled when it closes); a job a restart interrupted is run
again from the start when the server comes back (an export writes a fresh copy; an import
puts the same items again, which is idempotent).

Records live in `<data dir>/tables-transfers.sqlite`, on the node that ran the job.
S3 is reached through `ObjectStorage`, Fireside's own S3 store called in-process.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, Protocol

from fireside.aws.context import RequestContext
from fireside.aws.timestamps import epoch_seconds, parse_timestamp
from fireside.store.database import open_durable
from fireside.tables.service import Tables

__all__ = ["ObjectStorage", "TransferStore", "Transfers", "from_record", "to_record"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS transfers (
    arn       TEXT PRIMARY KEY,
    kind      TEXT NOT NULL,            -- 'export' or 'import'
    account   TEXT NOT NULL,
    region    TEXT NOT NULL,
    table_arn TEXT NOT NULL,
    started   REAL NOT NULL,
    status    TEXT NOT NULL,
    token     TEXT,                     -- the caller's ClientToken, if any
    record    TEXT NOT NULL             -- JSON of the description (timestamps as epoch seconds)
);
CREATE INDEX IF NOT EXISTS transfers_by_table ON transfers (kind, account, region, table_arn);
"""

#: Description members that are timestamps (stored as epoch seconds).
_TIMES = ("StartTime", "EndTime", "ExportTime")


class ObjectStorage(Protocol):
    """The S3 operations exports and imports need (synchronous; run in a worker thread).

    Each acts as `account`, the account that asked for the export or import, and raises S3's
    `ServiceError` (NoSuchBucket, AccessDenied, NoSuchKey) as S3 would answer that account.
    """

    def head_bucket_as(self, account: str, bucket: str) -> None: ...

    def list_objects_as(self, account: str, bucket: str, prefix: str) -> list[tuple[str, int]]:
        """(key, size) of every object under `prefix`, in key order."""
        ...

    def get_object_as(self, account: str, region: str | None, bucket: str, key: str) -> bytes: ...

    def put_object_as(
        self, account: str, bucket: str, key: str, data: bytes, content_type: str
    ) -> None: ...


def to_record(description: dict[str, Any]) -> str:
    out = dict(description)
    for name in _TIMES:
        if out.get(name) is not None:
            out[name] = epoch_seconds(out[name])
    return json.dumps(out, separators=(",", ":"))


def from_record(text: str) -> dict[str, Any]:
    description: dict[str, Any] = json.loads(text)
    for name in _TIMES:
        if description.get(name) is not None:
            description[name] = parse_timestamp(description[name])
    return description


class TransferStore:
    """The records, in a small SQLite database (WAL, synchronous=FULL, one locked connection)."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._conn = open_durable(path)
        with self._lock:
            self._conn.executescript(_SCHEMA)

    def save(
        self,
        kind: str,
        arn: str,
        ctx_account: str,
        ctx_region: str,
        table_arn: str,
        description: dict[str, Any],
        status: str,
        token: str | None = None,
    ) -> None:
        started = description.get("StartTime")
        with self._lock:
            self._conn.execute(
                "INSERT INTO transfers VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (arn) "
                "DO UPDATE SET status = excluded.status, record = excluded.record",
                (
                    arn, kind, ctx_account, ctx_region, table_arn,
                    epoch_seconds(started) if started is not None else 0.0,
                    status, token, to_record(description),
                ),
            )  # fmt: skip

    def get(self, kind: str, arn: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT record FROM transfers WHERE kind = ? AND arn = ?", (kind, arn)
            ).fetchone()
        return None if row is None else from_record(row[0])

    def by_token(self, kind: str, account: str, region: str, token: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT record FROM transfers WHERE kind = ? AND account = ? AND region = ? "
                "AND token = ?",
                (kind, account, region, token),
            ).fetchone()
        return None if row is None else from_record(row[0])

    def records(
        self, kind: str, account: str, region: str, table_arn: str | None
    ) -> list[dict[str, Any]]:
        sql = "SELECT record FROM transfers WHERE kind = ? AND account = ? AND region = ?"
        params: tuple[Any, ...] = (kind, account, region)
        if table_arn is not None:
            sql += " AND table_arn = ?"
            params += (table_arn,)
        with self._lock:
            rows = self._conn.execute(sql + " ORDER BY started, arn", params).fetchall()
        return [from_record(row[0]) for row in rows]

    def owned(self, kind: str, account: str, arn: str) -> dict[str, Any] | None:
        """The record of `arn`, if it is there and belongs to `account`."""
        record = self.get(kind, arn)
        return record if record is not None and f":{account}:" in arn else None

    def page(
        self,
        kind: str,
        ctx: RequestContext,
        table_arn: str | None,
        token: object,
        limit: int,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the caller's records (oldest first) and the token of the next, if any."""
        records = self.records(kind, ctx.account_id, ctx.region, table_arn)
        start = int(token) if isinstance(token, str) and token.isdigit() else 0
        more = start + limit < len(records)
        return records[start : start + limit], str(start + limit) if more else None

    def unfinished(self) -> list[tuple[str, str, str, dict[str, Any]]]:
        """(kind, account, region, description) of every job still IN_PROGRESS."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT kind, account, region, record FROM transfers "
                "WHERE status = 'IN_PROGRESS' ORDER BY started"
            ).fetchall()
        return [(kind, account, region, from_record(rec)) for kind, account, region, rec in rows]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


Job = Callable[["Transfers", RequestContext, dict[str, Any]], Coroutine[Any, Any, None]]


class Transfers:
    """Exports and imports of one Tables service."""

    def __init__(self, tables: Tables, store: TransferStore, storage: ObjectStorage) -> None:
        self.tables = tables
        self.store = store
        self.storage = storage
        #: The job runner of each kind ("export", "import"), registered by their modules.
        self.runners: dict[str, Job] = {}

    def start(self, kind: str, ctx: RequestContext, description: dict[str, Any]) -> None:
        """Run the job of a just-saved record in the background (owned by the service)."""
        arn = description["ExportArn" if kind == "export" else "ImportArn"]
        runner = self.runners[kind]
        self.tables.spawn(runner(self, ctx, description), f"{kind} {arn}")

    def resume(self, endpoint_url: str = "") -> None:
        """Start again the jobs a restart interrupted."""
        for kind, account, region, description in self.store.unfinished():
            ctx = RequestContext(account, region, "resumed", endpoint_url)
            self.start(kind, ctx, description)

    def close(self) -> None:
        self.store.close()
