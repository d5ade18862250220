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
ongoing transaction: `WriteConflict`, which the service answers with TransactionConflictException
(transactions turn it into a `TransactionConflict` cancellation reason). Commits are acknowledged after PostgreSQL's WAL
flush (`synchronous_commit` on), so an acknowledged write is durable.

Stream records must be numbered in commit order, which a sequence alone does not give under
concurrent commits; appending to a table's stream therefore takes a transaction-scoped advisory
lock on the table, held until commit.

Reads use `REPEATABLE READ READ ONLY` transactions (one snapshot per request) and server-side
cursors, so a 1 MB page never fetches more rows than it reads. Table metadata is cached per
node and refreshed from the database every second and on a miss; an item write to a table
another node deleted fails on the foreign key (`TableGone`, answered with
ResourceNotFoundException).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from fireside.tables.engine import ReadTxn, TableGone, WriteConflict, WriteTxn
from fireside.tables.sqltxn import SqlTxn
from fireside.tables.streamshards import backfill

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
CREATE TABLE IF NOT EXISTS stream_shards (
    tid       BIGINT NOT NULL,
    label     TEXT NOT NULL,
    shard     TEXT NOT NULL,
    parent    TEXT,
    view      TEXT NOT NULL,
    start_seq BIGINT NOT NULL,
    end_seq   BIGINT,
    opened    DOUBLE PRECISION NOT NULL,
    closed    DOUBLE PRECISION,
    trimmed_seq BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tid, label, shard)
);
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


@functools.lru_cache(maxsize=256)
def _placeholders(sql: str) -> str:
    """psycopg's `%s` for the shared statements' `?` (none of them holds a literal `?` or `%`)."""
    return sql.replace("?", "%s")


class _Txn(SqlTxn):
    """`ReadTxn`/`WriteTxn` over one psycopg connection inside an open transaction."""

    def _execute(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> Any:
        return self._conn.execute(_placeholders(sql), args)

    def _stream(self, sql: str, args: list[Any]) -> Iterator[Any]:
        # A server-side cursor: rows arrive in batches as the caller iterates.
        cursor = self._conn.cursor(name=f"fireside_{next(_cursor_names)}")
        cursor.itersize = 200
        cursor.execute(_placeholders(sql), args)
        return iter(cursor)

    def lock_items(self, keys: list[tuple[int, bytes, bytes]]) -> None:
        # In one global order (the lock ids), so two jobs never wait on each other in a cycle.
        for lock in sorted({_item_lock(tid, pk, sk) for tid, pk, sk in keys}):
            self._execute("SELECT pg_advisory_xact_lock(?)", (lock,))

    def share_table(self, tid: int) -> str | None:
        row = self._one("SELECT meta FROM tables WHERE id = ? FOR SHARE", (tid,))
        return None if row is None else str(row[0])

    def lock_table(self, tid: int) -> str | None:
        row = self._one("SELECT meta FROM tables WHERE id = ? FOR UPDATE", (tid,))
        return None if row is None else str(row[0])

    def append_stream(self, tid: int, label: str, at: float, record: str) -> int:
        # Held to commit: a table's records are numbered in the order their writes commit.
        self._execute("SELECT pg_advisory_xact_lock(?, ?)", (_STREAM_LOCK, tid))
        return super().append_stream(tid, label, at, record)


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
        (shards,) = conn.execute("SELECT to_regclass('stream_shards')").fetchone()
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        if shards is None:  # a database from before streams had stored shards
            backfill(_Txn(conn), time.time())
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
                raise TableGone() from None
            except BaseException:
                self._abandon(conn, txn)
                raise
            for callback in txn.after_commit:
                callback()
            return result
        raise WriteConflict()

    @staticmethod
    def _abandon(conn: Any, txn: _Txn) -> None:
        if not conn.closed:
            conn.execute("ROLLBACK")
        for callback in reversed(txn.on_rollback):
            callback()

    # -- reads ---------------------------------------------------------------------------------

    async def read(self, job: Callable[[ReadTxn], T], *, quick: bool = False) -> T:
        # Never on the event loop: every statement is a round trip to the database.
        return await asyncio.get_running_loop().run_in_executor(self._readers, self.read_now, job)

    def read_now(self, job: Callable[[ReadTxn], T]) -> T:
        conn = self._connection()
        if conn.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE:
            # A read inside this thread's own write job (the catalog reloading the tables to
            # look up a name the job creates): it joins that transaction. Beginning and
            # committing one here would commit the job half-done and leave the rest of it
            # running outside any transaction (a CreateTable seen by other nodes with an
            # empty definition, and not atomic).
            return job(_Txn(conn))
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
