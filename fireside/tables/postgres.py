"""The PostgreSQL storage engine: several Fireside nodes sharing one database.

`--tables-backend postgresql://user:password@host/db` (or FIRESIDE_TABLES_BACKEND) selects it.
Rows are the SQLite engine's (BYTEA keys compare with memcmp in PostgreSQL too), so everything
above the engine interface is shared.

Writes run concurrently, each job in its own transaction on a pool of connections. Every
write job first locks the items it will touch (`lock_items`: transaction-scoped advisory
locks, taken in one global order) and only then reads them, so jobs touching the same items
run one after the other and see each other's committed results: strict two-phase locking,
hence serializable, without the aborts optimistic serializable isolation would produce on hot
items. Table definitions change under a row lock (`lock_table`). A job that fails on a
deadlock or serialization error anyway runs again from the start, a few times with jittered
backoff; one that keeps losing answers as DynamoDB does for a write that hits an item in an
ongoing transaction: TransactionConflictException (transactions turn it into a
`TransactionConflict` cancellation reason). Commits are acknowledged after PostgreSQL's WAL
flush (`synchronous_commit` on), so an acknowledged write is durable.

Stream records must be numbered in commit order, which a sequence alone does not give under
concurrent commits; appending to a table's stream therefore takes a transaction-scoped advisory
lock on the table, held until commit.

Reads use `REPEATABLE READ READ ONLY` transactions (one snapshot per request) and server-side
cursors, so a 1 MB page never fetches more rows than it reads. Table metadata is cached per
node and refreshed from the database every second and on a miss; an item write to a table
another node deleted fails on the foreign key and answers ResourceNotFoundException.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from fireside.aws.errors import ServiceError
from fireside.tables.engine import BackupRow, Bound, ReadTxn, TableRow, WriteTxn

__all__ = ["PostgresEngine"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tables (
    id        BIGSERIAL PRIMARY KEY,
    account   TEXT NOT NULL,
    region    TEXT NOT NULL,
    name      TEXT NOT NULL,
    meta      TEXT NOT NULL,
    UNIQUE (account, region, name)
);
CREATE TABLE IF NOT EXISTS index_ids (
    id        BIGSERIAL PRIMARY KEY,
    tid       BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    tid       BIGINT NOT NULL REFERENCES tables (id) ON DELETE CASCADE,
    pk        BYTEA NOT NULL,
    sk        BYTEA NOT NULL,
    item      TEXT NOT NULL,
    size      INTEGER NOT NULL,
    expires   DOUBLE PRECISION,
    PRIMARY KEY (tid, pk, sk)
);
CREATE INDEX IF NOT EXISTS items_expiry ON items (tid, expires) WHERE expires IS NOT NULL;
CREATE TABLE IF NOT EXISTS index_items (
    iid       BIGINT NOT NULL,
    pk        BYTEA NOT NULL,
    sk        BYTEA NOT NULL,
    tpk       BYTEA NOT NULL,
    tsk       BYTEA NOT NULL,
    item      TEXT NOT NULL,
    size      INTEGER NOT NULL,
    PRIMARY KEY (iid, pk, sk, tpk, tsk)
);
CREATE TABLE IF NOT EXISTS tokens (
    account   TEXT NOT NULL,
    region    TEXT NOT NULL,
    token     TEXT NOT NULL,
    digest    TEXT NOT NULL,
    response  TEXT NOT NULL,
    at        DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (account, region, token)
);
CREATE INDEX IF NOT EXISTS tokens_age ON tokens (at);
CREATE TABLE IF NOT EXISTS stream_records (
    seq       BIGSERIAL PRIMARY KEY,
    tid       BIGINT NOT NULL,
    label     TEXT NOT NULL,
    at        DOUBLE PRECISION NOT NULL,
    record    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS stream_records_stream ON stream_records (tid, label, seq);
CREATE INDEX IF NOT EXISTS stream_records_age ON stream_records (at);
CREATE TABLE IF NOT EXISTS backups (
    id        BIGSERIAL PRIMARY KEY,
    account   TEXT NOT NULL,
    region    TEXT NOT NULL,
    arn       TEXT NOT NULL,
    meta      TEXT NOT NULL,
    UNIQUE (account, region, arn)
);
CREATE TABLE IF NOT EXISTS backup_items (
    bid       BIGINT NOT NULL REFERENCES backups (id) ON DELETE CASCADE,
    pk        BYTEA NOT NULL,
    sk        BYTEA NOT NULL,
    item      TEXT NOT NULL,
    size      INTEGER NOT NULL,
    PRIMARY KEY (bid, pk, sk)
);
CREATE TABLE IF NOT EXISTS backup_index_items (
    bid       BIGINT NOT NULL REFERENCES backups (id) ON DELETE CASCADE,
    iid       BIGINT NOT NULL,
    pk        BYTEA NOT NULL,
    sk        BYTEA NOT NULL,
    tpk       BYTEA NOT NULL,
    tsk       BYTEA NOT NULL,
    item      TEXT NOT NULL,
    size      INTEGER NOT NULL,
    PRIMARY KEY (bid, iid, pk, sk, tpk, tsk)
);
"""

#: Serialization failures a job is retried after, before answering a conflict.
_ATTEMPTS = 12
_MIGRATION_LOCK = 0x66697265  # "fire": one node migrates at a time
_STREAM_LOCK = 0x73747265  # "stre": per-table stream append lock namespace
_cursor_names = itertools.count()


def _item_lock(tid: int, pk: bytes, sk: bytes) -> int:
    """A 64-bit advisory lock id for one item (a collision only over-serializes)."""
    digest = hashlib.blake2b(
        tid.to_bytes(8, "big") + len(pk).to_bytes(4, "big") + pk + sk, digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


def _range_sql(column: str, low: Bound | None, high: Bound | None, args: list[Any]) -> str:
    sql = ""
    if low is not None:
        sql += f" AND {column} {'>=' if low.inclusive else '>'} %s"
        args.append(low.key)
    if high is not None:
        sql += f" AND {column} {'<=' if high.inclusive else '<'} %s"
        args.append(high.key)
    return sql


class _Txn:
    """`ReadTxn`/`WriteTxn` over one psycopg connection inside an open transaction."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self.after_commit: list[Callable[[], None]] = []
        self.on_rollback: list[Callable[[], None]] = []

    def _one(self, sql: str, args: tuple[Any, ...]) -> Any:
        return self._conn.execute(sql, args).fetchone()

    def _stream(self, sql: str, args: list[Any]) -> Iterator[Any]:
        # A server-side cursor: rows arrive in batches as the caller iterates.
        cursor = self._conn.cursor(name=f"fireside_{next(_cursor_names)}")
        cursor.itersize = 200
        cursor.execute(sql, args)
        return iter(cursor)

    # -- reads ---------------------------------------------------------------------------------

    def get(self, tid: int, pk: bytes, sk: bytes) -> str | None:
        row = self._one(
            "SELECT item FROM items WHERE tid = %s AND pk = %s AND sk = %s", (tid, pk, sk)
        )
        return None if row is None else str(row[0])

    def query(
        self, tid: int, pk: bytes, low: Bound | None, high: Bound | None, forward: bool
    ) -> Iterator[tuple[bytes, str]]:
        args: list[Any] = [tid, pk]
        sql = "SELECT sk, item FROM items WHERE tid = %s AND pk = %s" + _range_sql(
            "sk", low, high, args
        )
        return self._stream(sql + " ORDER BY sk" + ("" if forward else " DESC"), args)

    def scan(
        self, tid: int, after: tuple[bytes, bytes] | None, start: bytes | None, end: bytes | None
    ) -> Iterator[tuple[bytes, bytes, str]]:
        args: list[Any] = [tid]
        sql = "SELECT pk, sk, item FROM items WHERE tid = %s"
        if after is not None:
            sql += " AND (pk, sk) > (%s, %s)"
            args += after
        if start is not None:
            sql += " AND pk >= %s"
            args.append(start)
        if end is not None:
            sql += " AND pk < %s"
            args.append(end)
        return self._stream(sql + " ORDER BY pk, sk", args)

    def index_query(
        self,
        iid: int,
        pk: bytes,
        low: Bound | None,
        high: Bound | None,
        forward: bool,
        after: tuple[bytes, bytes, bytes] | None,
    ) -> Iterator[tuple[bytes, bytes, bytes, str]]:
        args: list[Any] = [iid, pk]
        sql = "SELECT sk, tpk, tsk, item FROM index_items WHERE iid = %s AND pk = %s"
        sql += _range_sql("sk", low, high, args)
        if after is not None:
            sql += f" AND (sk, tpk, tsk) {'>' if forward else '<'} (%s, %s, %s)"
            args += after
        order = "" if forward else " DESC"
        return self._stream(sql + f" ORDER BY sk{order}, tpk{order}, tsk{order}", args)

    def index_scan(
        self,
        iid: int,
        after: tuple[bytes, bytes, bytes, bytes] | None,
        start: bytes | None,
        end: bytes | None,
    ) -> Iterator[tuple[bytes, bytes, bytes, bytes, str]]:
        args: list[Any] = [iid]
        sql = "SELECT pk, sk, tpk, tsk, item FROM index_items WHERE iid = %s"
        if after is not None:
            sql += " AND (pk, sk, tpk, tsk) > (%s, %s, %s, %s)"
            args += after
        if start is not None:
            sql += " AND pk >= %s"
            args.append(start)
        if end is not None:
            sql += " AND pk < %s"
            args.append(end)
        return self._stream(sql + " ORDER BY pk, sk, tpk, tsk", args)

    def stats(self, tid: int) -> tuple[int, int]:
        count, size = self._one(
            "SELECT count(*), coalesce(sum(size), 0) FROM items WHERE tid = %s", (tid,)
        )
        return int(count), int(size)

    def index_stats(self, iid: int) -> tuple[int, int]:
        count, size = self._one(
            "SELECT count(*), coalesce(sum(size), 0) FROM index_items WHERE iid = %s", (iid,)
        )
        return int(count), int(size)

    def tables(self) -> list[TableRow]:
        rows = self._conn.execute("SELECT id, account, region, name, meta FROM tables ORDER BY id")
        return [(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows]

    def token(self, account: str, region: str, token: str) -> tuple[str, str, float] | None:
        row = self._one(
            "SELECT digest, response, at FROM tokens WHERE account = %s AND region = %s "
            "AND token = %s",
            (account, region, token),
        )
        return None if row is None else (str(row[0]), str(row[1]), float(row[2]))

    def expired(
        self, tid: int, not_before: float, now: float, limit: int
    ) -> list[tuple[bytes, bytes]]:
        rows = self._conn.execute(
            "SELECT pk, sk FROM items WHERE tid = %s AND expires BETWEEN %s AND %s LIMIT %s",
            (tid, not_before, now, limit),
        )
        return [(bytes(r[0]), bytes(r[1])) for r in rows]

    def stream_records(
        self, tid: int, label: str, after: int, limit: int
    ) -> list[tuple[int, float, str]]:
        rows = self._conn.execute(
            "SELECT seq, at, record FROM stream_records WHERE tid = %s AND label = %s "
            "AND seq > %s ORDER BY seq LIMIT %s",
            (tid, label, after, limit),
        )
        return [(int(r[0]), float(r[1]), str(r[2])) for r in rows]

    def stream_bounds(self, tid: int, label: str) -> tuple[int, int] | None:
        low, high = self._one(
            "SELECT min(seq), max(seq) FROM stream_records WHERE tid = %s AND label = %s",
            (tid, label),
        )
        return None if low is None else (int(low), int(high))

    def stream_position(self, tid: int, label: str, before: float) -> int:
        (found,) = self._one(
            "SELECT max(seq) FROM stream_records WHERE tid = %s AND label = %s AND at < %s",
            (tid, label, before),
        )
        return int(found or 0)

    def backups(self, account: str, region: str) -> list[BackupRow]:
        rows = self._conn.execute(
            "SELECT id, arn, meta FROM backups WHERE account = %s AND region = %s ORDER BY id",
            (account, region),
        )
        return [(int(r[0]), str(r[1]), str(r[2])) for r in rows]

    def backup(self, account: str, region: str, arn: str) -> BackupRow | None:
        row = self._one(
            "SELECT id, arn, meta FROM backups WHERE account = %s AND region = %s AND arn = %s",
            (account, region, arn),
        )
        return None if row is None else (int(row[0]), str(row[1]), str(row[2]))

    # -- writes --------------------------------------------------------------------------------

    def lock_items(self, keys: list[tuple[int, bytes, bytes]]) -> None:
        # In one global order (the lock ids), so two jobs never wait on each other in a cycle.
        for lock in sorted({_item_lock(tid, pk, sk) for tid, pk, sk in keys}):
            self._conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))

    def share_table(self, tid: int) -> str | None:
        row = self._one("SELECT meta FROM tables WHERE id = %s FOR SHARE", (tid,))
        return None if row is None else str(row[0])

    def lock_table(self, tid: int) -> str | None:
        row = self._one("SELECT meta FROM tables WHERE id = %s FOR UPDATE", (tid,))
        return None if row is None else str(row[0])

    def put(
        self, tid: int, pk: bytes, sk: bytes, item: str, size: int, expires: float | None
    ) -> None:
        self._conn.execute(
            "INSERT INTO items (tid, pk, sk, item, size, expires) VALUES (%s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (tid, pk, sk) DO UPDATE SET item = EXCLUDED.item, size = EXCLUDED.size, "
            "expires = EXCLUDED.expires",
            (tid, pk, sk, item, size, expires),
        )

    def delete(self, tid: int, pk: bytes, sk: bytes) -> None:
        self._conn.execute(
            "DELETE FROM items WHERE tid = %s AND pk = %s AND sk = %s", (tid, pk, sk)
        )

    def index_put(
        self, iid: int, pk: bytes, sk: bytes, tpk: bytes, tsk: bytes, item: str, size: int
    ) -> None:
        self._conn.execute(
            "INSERT INTO index_items (iid, pk, sk, tpk, tsk, item, size) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (iid, pk, sk, tpk, tsk) "
            "DO UPDATE SET item = EXCLUDED.item, size = EXCLUDED.size",
            (iid, pk, sk, tpk, tsk, item, size),
        )

    def index_delete(self, iid: int, pk: bytes, sk: bytes, tpk: bytes, tsk: bytes) -> None:
        self._conn.execute(
            "DELETE FROM index_items WHERE iid = %s AND pk = %s AND sk = %s AND tpk = %s "
            "AND tsk = %s",
            (iid, pk, sk, tpk, tsk),
        )

    def drop_index(self, iid: int) -> None:
        self._conn.execute("DELETE FROM index_items WHERE iid = %s", (iid,))

    def new_table(self, account: str, region: str, name: str, meta: str) -> int:
        (tid,) = self._one(
            "INSERT INTO tables (account, region, name, meta) VALUES (%s, %s, %s, %s) RETURNING id",
            (account, region, name, meta),
        )
        return int(tid)

    def new_index_id(self, tid: int) -> int:
        (iid,) = self._one("INSERT INTO index_ids (tid) VALUES (%s) RETURNING id", (tid,))
        return int(iid)

    def save_table(self, tid: int, meta: str) -> None:
        self._conn.execute("UPDATE tables SET meta = %s WHERE id = %s", (meta, tid))

    def drop_table(self, tid: int, index_ids: list[int]) -> None:
        self._conn.execute("DELETE FROM tables WHERE id = %s", (tid,))  # items cascade
        self._conn.execute("DELETE FROM stream_records WHERE tid = %s", (tid,))
        for iid in index_ids:
            self.drop_index(iid)

    def set_expiry(self, tid: int, pk: bytes, sk: bytes, expires: float | None) -> None:
        self._conn.execute(
            "UPDATE items SET expires = %s WHERE tid = %s AND pk = %s AND sk = %s",
            (expires, tid, pk, sk),
        )

    def clear_expiry(self, tid: int) -> None:
        self._conn.execute(
            "UPDATE items SET expires = NULL WHERE tid = %s AND expires IS NOT NULL", (tid,)
        )

    def append_stream(self, tid: int, label: str, at: float, record: str) -> int:
        # Held to commit: a table's records are numbered in the order their writes commit.
        self._conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (_STREAM_LOCK, tid))
        (seq,) = self._one(
            "INSERT INTO stream_records (tid, label, at, record) VALUES (%s, %s, %s, %s) "
            "RETURNING seq",
            (tid, label, at, record),
        )
        return int(seq)

    def trim_streams(self, before: float) -> None:
        self._conn.execute("DELETE FROM stream_records WHERE at < %s", (before,))

    def save_token(
        self, account: str, region: str, token: str, digest: str, response: str, at: float
    ) -> None:
        self._conn.execute(
            "INSERT INTO tokens (account, region, token, digest, response, at) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (account, region, token) "
            "DO UPDATE SET digest = EXCLUDED.digest, response = EXCLUDED.response, at = EXCLUDED.at",
            (account, region, token, digest, response, at),
        )

    def forget_tokens(self, before: float) -> None:
        self._conn.execute("DELETE FROM tokens WHERE at < %s", (before,))

    def new_backup(self, account: str, region: str, arn: str, meta: str) -> int:
        (bid,) = self._one(
            "INSERT INTO backups (account, region, arn, meta) VALUES (%s, %s, %s, %s) RETURNING id",
            (account, region, arn, meta),
        )
        return int(bid)

    def save_backup(self, bid: int, meta: str) -> None:
        self._conn.execute("UPDATE backups SET meta = %s WHERE id = %s", (meta, bid))

    def copy_to_backup(self, bid: int, tid: int, index_ids: list[int]) -> None:
        # One statement per source: each reads a single snapshot. The caller holds the table's
        # row lock and item writes share it, so no write commits between the statements.
        self._conn.execute(
            "INSERT INTO backup_items (bid, pk, sk, item, size) "
            "SELECT %s, pk, sk, item, size FROM items WHERE tid = %s",
            (bid, tid),
        )
        for iid in index_ids:
            self._conn.execute(
                "INSERT INTO backup_index_items (bid, iid, pk, sk, tpk, tsk, item, size) "
                "SELECT %s, iid, pk, sk, tpk, tsk, item, size FROM index_items WHERE iid = %s",
                (bid, iid),
            )

    def restore_backup(self, bid: int, tid: int, index_ids: dict[int, int]) -> None:
        self._conn.execute(
            "INSERT INTO items (tid, pk, sk, item, size, expires) "
            "SELECT %s, pk, sk, item, size, NULL FROM backup_items WHERE bid = %s",
            (tid, bid),
        )
        for old, new in index_ids.items():
            self._conn.execute(
                "INSERT INTO index_items (iid, pk, sk, tpk, tsk, item, size) "
                "SELECT %s, pk, sk, tpk, tsk, item, size FROM backup_index_items "
                "WHERE bid = %s AND iid = %s",
                (new, bid, old),
            )

    def drop_backup(self, bid: int) -> None:
        self._conn.execute("DELETE FROM backups WHERE id = %s", (bid,))  # entries cascade


class PostgresEngine:
    """See the module docstring. Implements `fireside.tables.engine.Engine`."""

    name = "postgresql"

    def __init__(self, url: str, *, writers: int = 8, readers: int = 4) -> None:
        import psycopg

        self._psycopg = psycopg
        self.url = url
        self._local = threading.local()
        self._conns: list[Any] = []
        self._lock = threading.Lock()
        self._writers = ThreadPoolExecutor(max_workers=writers, thread_name_prefix="tables-pg-w")
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="tables-pg-r")
        conn = self._connection()
        conn.execute("BEGIN")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute("COMMIT")

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._psycopg.connect(self.url, autocommit=True)
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    # -- writes --------------------------------------------------------------------------------

    async def write(self, job: Callable[[WriteTxn], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._writers, self._write, job)

    def _write(self, job: Callable[[WriteTxn], T]) -> T:
        errors = self._psycopg.errors
        retryable = (errors.SerializationFailure, errors.DeadlockDetected, errors.UniqueViolation)
        for attempt in range(_ATTEMPTS):
            conn = self._connection()
            txn = _Txn(conn)
            conn.execute("BEGIN ISOLATION LEVEL READ COMMITTED")
            try:
                result = job(txn)
                conn.execute("COMMIT")
            except retryable:
                self._abandon(conn, txn)
                time.sleep(random.uniform(0.001, 0.004) * (attempt + 1))
                continue
            except errors.ForeignKeyViolation:
                self._abandon(conn, txn)
                raise ServiceError(
                    "ResourceNotFoundException", "Requested resource not found"
                ) from None
            except BaseException:
                self._abandon(conn, txn)
                raise
            for callback in txn.after_commit:
                callback()
            return result
        raise ServiceError("TransactionConflictException", "Transaction is ongoing for the item")

    @staticmethod
    def _abandon(conn: Any, txn: _Txn) -> None:
        if not conn.closed:
            conn.execute("ROLLBACK")
        for callback in reversed(txn.on_rollback):
            callback()

    # -- reads ---------------------------------------------------------------------------------

    async def read(self, job: Callable[[ReadTxn], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._readers, self.read_now, job)

    def read_now(self, job: Callable[[ReadTxn], T]) -> T:
        conn = self._connection()
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            return job(_Txn(conn))
        finally:
            if not conn.closed:
                conn.execute("COMMIT")

    def close(self) -> None:
        self._writers.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        with self._lock:
            for conn in self._conns:
                conn.close()
