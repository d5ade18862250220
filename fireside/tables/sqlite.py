"""The embedded storage engine: one SQLite file (`<data dir>/tables.sqlite`), WAL, fsync on commit.

Writes: one writer thread owns the only read-write connection, so writes are serialized
(that is what makes transactions and conditional writes serializable) and never block the
event loop. It commits in groups: the jobs waiting when a commit starts share it, each inside
its own SAVEPOINT so a failing job (a condition that does not hold) rolls back alone (a job
alone in its commit needs none). The loop hands the jobs submitted during one pass of its
callbacks to the writer together, waking it once for them all. With
`synchronous=FULL` every commit is fsynced before any job in it is answered, so an
acknowledged write survives `kill -9` and power loss, and many concurrent writers share one
fsync instead of paying one each.

Reads: a small pool of threads, each with its own connection. A read job runs inside one
read transaction, so it sees a single committed snapshot. A job the caller marks `quick` (a
GetItem, a Query page without a large Limit) runs at once on the calling thread, the event
loop, with that thread's own connection: a WAL reader never waits for the writer, and the hop
to a reader thread and back (and the GIL handover it costs) is most of such a read's time. A
quick job is held to a budget of rows (`QUICK_ROWS`); one that goes past it is abandoned and
run again on a reader thread, so the loop is never blocked by a long read. A quick read is
first tried as one statement without BEGIN and COMMIT (a statement is a snapshot of its own);
one that needs a second statement runs again inside a read transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from fireside.tables.engine import ReadTxn, WriteTxn
from fireside.tables.sqltxn import SqlTxn
from fireside.tables.streamshards import backfill

__all__ = ["SqliteEngine"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: 1: tables, items, indexes, tokens, streams. 2: on-demand backups (tables added; a
#: version 1 file is migrated by creating them). 3: stream shards (`stream_shards` added; a
#: stream without shard rows is read as one shard, see `streamshards.py`).
SCHEMA_VERSION = 3
_SCHEMA = """
CREATE TABLE IF NOT EXISTS tables (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    account   TEXT NOT NULL,
    region    TEXT NOT NULL,
    name      TEXT NOT NULL,
    meta      TEXT NOT NULL,               -- JSON of fireside.tables.schema.TableInfo
    UNIQUE (account, region, name)
);
CREATE TABLE IF NOT EXISTS index_ids (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    tid       INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    tid       INTEGER NOT NULL,
    pk        BLOB NOT NULL,               -- crc32(partition key) || encoded partition key
    sk        BLOB NOT NULL,               -- encoded sort key, or x'' without one
    item      TEXT NOT NULL,               -- DynamoDB JSON
    size      INTEGER NOT NULL,
    expires   REAL,                        -- TTL attribute value, when TTL is enabled
    PRIMARY KEY (tid, pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_expiry ON items (tid, expires) WHERE expires IS NOT NULL;
CREATE TABLE IF NOT EXISTS index_items (
    iid       INTEGER NOT NULL,
    pk        BLOB NOT NULL,
    sk        BLOB NOT NULL,
    tpk       BLOB NOT NULL,
    tsk       BLOB NOT NULL,
    item      TEXT NOT NULL,               -- the projected item
    size      INTEGER NOT NULL,
    PRIMARY KEY (iid, pk, sk, tpk, tsk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens (
    account   TEXT NOT NULL,
    region    TEXT NOT NULL,
    token     TEXT NOT NULL,
    digest    TEXT NOT NULL,
    response  TEXT NOT NULL,
    at        REAL NOT NULL,
    PRIMARY KEY (account, region, token)
);
CREATE INDEX IF NOT EXISTS tokens_age ON tokens (at);
CREATE TABLE IF NOT EXISTS stream_records (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,   -- commit order: the sequence number
    tid       INTEGER NOT NULL,
    label     TEXT NOT NULL,                       -- the stream (a table's StreamLabel)
    at        REAL NOT NULL,
    record    TEXT NOT NULL                        -- the record's JSON, without its number
);
CREATE INDEX IF NOT EXISTS stream_records_stream ON stream_records (tid, label, seq);
CREATE INDEX IF NOT EXISTS stream_records_age ON stream_records (at);
CREATE TABLE IF NOT EXISTS stream_shards (
    tid       INTEGER NOT NULL,
    label     TEXT NOT NULL,
    shard     TEXT NOT NULL,                       -- the ShardId
    parent    TEXT,                                -- the ParentShardId
    view      TEXT NOT NULL,                       -- the stream's StreamViewType
    start_seq INTEGER NOT NULL,                    -- no record of the shard is numbered lower
    end_seq   INTEGER,                             -- the last number, once closed
    opened    REAL NOT NULL,
    closed    REAL,
    trimmed_seq INTEGER NOT NULL DEFAULT 0,        -- the highest number trimmed away
    PRIMARY KEY (tid, label, shard)
);
CREATE TABLE IF NOT EXISTS backups (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    account   TEXT NOT NULL,
    region    TEXT NOT NULL,
    arn       TEXT NOT NULL,
    meta      TEXT NOT NULL,               -- JSON: the backup's details and its table's definition
    UNIQUE (account, region, arn)
);
CREATE TABLE IF NOT EXISTS backup_items (
    bid       INTEGER NOT NULL,
    pk        BLOB NOT NULL,
    sk        BLOB NOT NULL,
    item      TEXT NOT NULL,
    size      INTEGER NOT NULL,
    PRIMARY KEY (bid, pk, sk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS backup_index_items (
    bid       INTEGER NOT NULL,
    iid       INTEGER NOT NULL,            -- the index's id in the backed-up table
    pk        BLOB NOT NULL,
    sk        BLOB NOT NULL,
    tpk       BLOB NOT NULL,
    tsk       BLOB NOT NULL,
    item      TEXT NOT NULL,
    size      INTEGER NOT NULL,
    PRIMARY KEY (bid, iid, pk, sk, tpk, tsk)
) WITHOUT ROWID;
"""

_BATCH_LIMIT = 256
#: Rows (and statements) a quick read may touch on the event loop before it is handed to a
#: reader thread instead (about a millisecond of work).
QUICK_ROWS = 256


class _OverBudget(Exception):
    """A quick read went past `QUICK_ROWS`: it is run again on a reader thread."""


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=10000")
    return conn


class _Txn(SqlTxn):
    """`ReadTxn`/`WriteTxn` over one connection (the writer's, or a reader's)."""

    def _execute(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> Any:
        return self._conn.execute(sql, args)

    def lock_items(self, keys: list[tuple[int, bytes, bytes]]) -> None:
        return None  # one writer: jobs never overlap

    def share_table(self, tid: int) -> str | None:
        return self.lock_table(tid)  # one writer: reading is enough

    def lock_table(self, tid: int) -> str | None:
        row = self._one("SELECT meta FROM tables WHERE id = ?", (tid,))
        return None if row is None else str(row[0])


class _QuickTxn(_Txn):
    """A read on the event loop: each statement and each streamed row spends the budget."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        self._left = QUICK_ROWS

    def _execute(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> Any:
        self._left -= 1
        if self._left < 0:
            raise _OverBudget()
        return self._conn.execute(sql, args)

    def _stream(self, sql: str, args: list[Any]) -> Iterator[Any]:
        cursor = self._execute(sql, args)
        try:
            for row in cursor:
                self._left -= 1
                if self._left < 0:
                    raise _OverBudget()
                yield row
        finally:
            cursor.close()


class _NeedsTransaction(Exception):
    """A quick read tried without a transaction went on to a second statement."""


class _OneStatementTxn(_QuickTxn):
    """A quick read's first try, without BEGIN and COMMIT: one statement is a snapshot of its
    own (most quick reads are one: a GetItem, a Query page). A second statement raises
    `_NeedsTransaction`, and the job runs again inside a read transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(conn)
        self._used = False

    def _execute(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> Any:
        if self._used:
            raise _NeedsTransaction()
        self._used = True
        return super()._execute(sql, args)


_Job = tuple[Callable[[Any], Any], "asyncio.Future[Any]", asyncio.AbstractEventLoop]


class SqliteEngine:
    """See the module docstring. Implements `fireside.tables.engine.Engine`."""

    name = "sqlite"

    def __init__(self, path: Path, *, readers: int = 3) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._conn = _connect(path)
        self._migrate()
        #: Lists of jobs for the writer (None: stop). A loop hands over the jobs submitted
        #: during one pass of its callbacks together: one wake-up of the writer for them all.
        self._queue: queue.SimpleQueue[list[_Job] | None] = queue.SimpleQueue()
        self._local = threading.local()
        self._reader_conns: list[sqlite3.Connection] = []
        self._reader_lock = threading.Lock()
        self._readers = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="tables-read")
        self._writer = threading.Thread(target=self._write_loop, name="tables-writer", daemon=True)
        self._writer.start()

    def _migrate(self) -> None:
        (version,) = self._conn.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} was written by a newer Fireside (schema {version} > {SCHEMA_VERSION})"
            )
        self._conn.execute("BEGIN IMMEDIATE")
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                self._conn.execute(statement)
        if version < 3:
            backfill(_Txn(self._conn), time.time())
        self._conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        self._conn.execute("COMMIT")

    # -- writes --------------------------------------------------------------------------------

    async def write(self, job: Callable[[WriteTxn], T]) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        pending: list[_Job] | None = getattr(self._local, "pending", None)
        if pending is None:
            pending = self._local.pending = []
        pending.append((job, future, loop))
        if len(pending) == 1:  # the first of this pass: hand them over once the pass ends
            loop.call_soon(self._hand_over, pending)
        return await future

    def _hand_over(self, pending: list[_Job]) -> None:
        jobs = pending[:]
        pending.clear()
        self._queue.put(jobs)

    def _write_loop(self) -> None:
        conn = self._conn
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = list(first)
            stopping = False
            while len(batch) < _BATCH_LIMIT:
                try:
                    following = self._queue.get_nowait()
                except queue.Empty:
                    break
                if following is None:
                    stopping = True
                    break
                batch.extend(following)
            self._run_batch(conn, batch)
            if stopping:
                return

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Job]) -> None:
        outcomes: list[tuple[asyncio.Future[Any], bool, Any]] = []
        committed: list[Callable[[], None]] = []
        undo: list[Callable[[], None]] = []
        if len(batch) == 1:
            self._run_alone(conn, batch[0])
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job, future, _ in batch:
                txn = _Txn(conn)
                conn.execute("SAVEPOINT job")
                try:
                    value = job(txn)
                except BaseException as exc:
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    for callback in reversed(txn.on_rollback):
                        callback()
                    outcomes.append((future, False, exc))
                else:
                    conn.execute("RELEASE job")
                    committed.extend(txn.after_commit)
                    undo.extend(txn.on_rollback)
                    outcomes.append((future, True, value))
            conn.execute("COMMIT")
        except Exception as exc:
            log.exception("tables: a write batch of %d jobs failed to commit", len(batch))
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for callback in reversed(undo):
                callback()
            outcomes = [(future, False, exc) for _, future, _ in batch]
        else:
            for callback in committed:
                callback()
        loops = {id(loop): loop for _, _, loop in batch}
        for loop in loops.values():
            mine = [o for o, (_, _, lp) in zip(outcomes, batch, strict=True) if lp is loop]
            # A closed loop means nobody is waiting any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_resolve, mine)

    def _run_alone(self, conn: sqlite3.Connection, entry: _Job) -> None:
        """A batch of one job (a lone writer): its own transaction, without the savepoint a
        job sharing a commit needs (two statements fewer on the one-client path)."""
        job, future, loop = entry
        txn = _Txn(conn)
        outcome: tuple[asyncio.Future[Any], bool, Any]
        failed: BaseException | None = None
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                value = job(txn)
            except BaseException as exc:  # the job's own failure (a condition that fails...)
                failed = exc
                conn.execute("ROLLBACK")
            else:
                conn.execute("COMMIT")
        except Exception as exc:
            log.exception("tables: a write of one job failed to commit")
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failed = failed or exc
        if failed is not None:
            for callback in reversed(txn.on_rollback):
                callback()
            outcome = (future, False, failed)
        else:
            for callback in txn.after_commit:
                callback()
            outcome = (future, True, value)
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is waiting any more
            loop.call_soon_threadsafe(_resolve, [outcome])

    # -- reads ---------------------------------------------------------------------------------

    async def read(self, job: Callable[[ReadTxn], T], *, quick: bool = False) -> T:
        if quick:
            try:
                return self._read_quick(job)
            except _OverBudget:
                pass  # longer than a quick read may be: on a reader thread instead
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self.read_now, job)

    def read_now(self, job: Callable[[ReadTxn], T]) -> T:
        return self._read_on(job, _Txn)

    def _read_quick(self, job: Callable[[ReadTxn], T]) -> T:
        """A quick read: as one statement without a transaction, else inside one."""
        try:
            return job(_OneStatementTxn(self._connection()))
        except _NeedsTransaction:
            pass  # (its first statement's cursor is closed as the traceback goes)
        return self._read_on(job, _QuickTxn)

    def _connection(self) -> sqlite3.Connection:
        """This thread's own read connection."""
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = _connect(self.path)
            with self._reader_lock:
                self._reader_conns.append(conn)
        return conn

    def _read_on(self, job: Callable[[ReadTxn], T], kind: type[_Txn]) -> T:
        """`job` in a read transaction on this thread's own connection."""
        conn = self._connection()
        conn.execute("BEGIN")
        try:
            return job(kind(conn))
        finally:
            conn.execute("COMMIT")

    def close(self) -> None:
        self._queue.put(None)
        self._writer.join(timeout=30)
        self._readers.shutdown(wait=True)
        with self._reader_lock:
            for conn in self._reader_conns:
                conn.close()
        self._conn.close()


def _resolve(outcomes: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for future, ok, value in outcomes:
        if future.done():  # the caller went away (cancelled); the write stands regardless
            continue
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)
