"""Where SQS keeps its queues and messages: one SQLite file in the data directory, written by
one committer thread that makes many requests durable with one fsync (group commit).

Every write that acknowledges a request (a queue made, a message sent, received, deleted or
made visible again) is committed with `synchronous=FULL` before the answer leaves, so a
message whose SendMessage was answered survives a `kill -9`, and a receive's visibility
deadline survives a restart (the message becomes visible again when it passes, as on AWS).

How: the provider keeps the same state in memory (`fireside.sqs.queues`) and changes it at
once; each request puts the statements that write its change through in a `Writes` and awaits
`commit(writes)`. At the end of the event loop's turn the committer thread takes every
`Writes` waiting, runs them in order in one transaction (each in a savepoint, so one request's
failure is its own) and resolves their futures when the COMMIT, and so the fsync, is done.
While one commit's fsync runs, the event loop goes on parsing requests, and their writes make
up the next commit: sixteen clients cost about one fsync each round, not sixteen. (When the
committer is idle and a turn brought one write alone, the loop commits it itself: one client
waiting gains nothing from the thread and would pay its two hand-offs.) Because commits are applied in the order submitted,
an answer that depends on an earlier change (a receive of a message whose send is still
committing) is durable no sooner than that change: a receiver is never handed a message that
a crash could take back. `commit_now` is the blocking form, for callers that cannot await
(`fireside.sqs.targets`).

Message sequence numbers (arrival order, and part of receipt handles) are allocated here, in
memory, not by SQLite's AUTOINCREMENT (whose bookkeeping page costs a quarter of a one-message
commit): a range is reserved in `meta` before any number in it is used, and a restart starts
past the reserved range, so a number is never given to two messages.

`load()`-style reads (`queues()`, `messages()`) rebuild the provider's memory when the
server starts, before any write.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

from fireside.store.database import open_durable, write_transaction

__all__ = ["MessageRow", "QueueRow", "SqsStore", "Writes"]

log = logging.getLogger(__name__)

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS queues (
    account  TEXT NOT NULL,
    region   TEXT NOT NULL,
    name     TEXT NOT NULL,
    record   TEXT NOT NULL,         -- JSON: attributes, tags, created, modified, next sequence
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS messages (
    seq          INTEGER PRIMARY KEY,  -- arrival order, allocated by SqsStore.allocate
    account      TEXT NOT NULL,
    region       TEXT NOT NULL,
    queue        TEXT NOT NULL,
    id           TEXT NOT NULL,
    record       TEXT NOT NULL,     -- JSON: body, attributes, digests, group, dedup id...
    visible_at   REAL NOT NULL,     -- epoch seconds: delay or visibility deadline
    receives     INTEGER NOT NULL,
    first_receive REAL,
    receipt      TEXT               -- the token of the latest receive
);
CREATE TABLE IF NOT EXISTS deleted_queues (
    account  TEXT NOT NULL,
    region   TEXT NOT NULL,
    name     TEXT NOT NULL,
    at       REAL NOT NULL,          -- epoch seconds: when DeleteQueue was answered
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS move_tasks (
    handle   TEXT PRIMARY KEY,
    record   TEXT NOT NULL          -- JSON: source, destination, rate, counts, status
);
CREATE TABLE IF NOT EXISTS meta (
    name   TEXT PRIMARY KEY,
    value  INTEGER NOT NULL        -- seq_limit: sequence numbers below it may have been used
);
"""
_COLUMNS: Final = (
    "seq, account, region, queue, id, record, visible_at, receives, first_receive, receipt"
)
#: Sequence numbers reserved at a time (one small write per this many messages).
SEQ_BLOCK: Final = 1 << 20

QueueRow = tuple[str, str, str, dict[str, Any]]
MessageRow = tuple[int, str, str, str, str, dict[str, Any], float, int, float | None, str | None]
Key = tuple[str, str, str]
#: (sql, parameters, executemany?)
_Statement = tuple[str, Sequence[Any], bool]


class Writes:
    """The statements one request commits: applied together, in the order added, in the
    next group commit. Values are captured when added (records as JSON text), so the memory
    they came from may change at once."""

    __slots__ = ("scans", "statements")

    def __init__(self) -> None:
        self.statements: list[_Statement] = []
        #: A statement scans the messages table: never committed on the event loop.
        self.scans = False

    def __bool__(self) -> bool:
        return bool(self.statements)

    def note_deleted(self, key: Key, at: float, forget_before: float) -> None:
        """Remember when a queue was deleted (`QueueDeletedRecently`); forget older ones."""
        self.statements.append(("DELETE FROM deleted_queues WHERE at < ?", (forget_before,), False))
        self.statements.append(
            (
                "INSERT OR REPLACE INTO deleted_queues (account, region, name, at)"
                " VALUES (?, ?, ?, ?)",
                (*key, at),
                False,
            )
        )

    def put_move_task(self, handle: str, record: dict[str, Any]) -> None:
        self.statements.append(
            (
                "INSERT OR REPLACE INTO move_tasks (handle, record) VALUES (?, ?)",
                (handle, json.dumps(record)),
                False,
            )
        )

    def delete_move_tasks(self, handles: Iterable[str]) -> None:
        rows = [(h,) for h in handles]
        if rows:
            self.statements.append(("DELETE FROM move_tasks WHERE handle=?", rows, True))

    def put_queue(self, key: Key, record: dict[str, Any]) -> None:
        self.statements.append(
            (
                "INSERT OR REPLACE INTO queues (account, region, name, record) VALUES (?, ?, ?, ?)",
                (*key, json.dumps(record)),
                False,
            )
        )

    def delete_queue(self, key: Key) -> None:
        self.statements.append(
            ("DELETE FROM queues WHERE account=? AND region=? AND name=?", key, False)
        )
        self.purge(key)

    def purge(self, key: Key) -> None:
        # A scan (no index: it would cost every send a page): rare, and off the event loop.
        self.scans = True
        self.statements.append(
            ("DELETE FROM messages WHERE account=? AND region=? AND queue=?", key, False)
        )

    def add_message(
        self, seq: int, key: Key, message_id: str, record: dict[str, Any], visible_at: float
    ) -> None:
        self.statements.append(
            (
                "INSERT INTO messages (seq, account, region, queue, id, record, visible_at,"
                " receives) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                (seq, *key, message_id, json.dumps(record), visible_at),
                False,
            )
        )

    def update_messages(
        self, changes: Iterable[tuple[float, int, float | None, str | None, int]]
    ) -> None:
        """(visible_at, receives, first_receive, receipt, seq) of each message changed."""
        self.statements.append(
            (
                "UPDATE messages SET visible_at=?, receives=?, first_receive=?, receipt=?"
                " WHERE seq=?",
                list(changes),
                True,
            )
        )

    def move_message(self, seq: int, key: Key, record: dict[str, Any], visible_at: float) -> None:
        """Hand a message to another queue (a dead-letter queue, or back from one)."""
        self.statements.append(
            (
                "UPDATE messages SET account=?, region=?, queue=?, record=?, visible_at=?,"
                " receipt=NULL, receives=0, first_receive=NULL WHERE seq=?",
                (*key, json.dumps(record), visible_at, seq),
                False,
            )
        )

    def delete_messages(self, seqs: Iterable[int]) -> None:
        rows = [(s,) for s in seqs]
        if rows:
            self.statements.append(("DELETE FROM messages WHERE seq=?", rows, True))

    def apply(self, conn: sqlite3.Connection) -> None:
        for sql, parameters, many in self.statements:
            if many:
                conn.executemany(sql, parameters)
            else:
                conn.execute(sql, parameters)


class _Waiter:
    """A `commit_now` caller's: an event set when its writes are durable (or failed)."""

    __slots__ = ("error", "event")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.error: BaseException | None = None


_Pending = tuple[Writes, "asyncio.Future[None] | _Waiter"]


class SqsStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = open_durable(path)
        # One connection, in this process, uses the file: holding its locks for good saves
        # the lock and unlock calls of every transaction.
        self._conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        with write_transaction(self._conn) as conn:
            _migrate(conn)
            (limit,) = conn.execute(
                "SELECT max(coalesce((SELECT value FROM meta WHERE name='seq_limit'), 1),"
                " coalesce((SELECT max(seq) + 1 FROM messages), 1))"
            ).fetchone()
            self._next_seq: int = limit
            self._seq_limit: int = limit + SEQ_BLOCK
            conn.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES ('seq_limit', ?)",
                (self._seq_limit,),
            )
        self._pending: list[_Pending] = []
        self._wake = threading.Condition()
        #: The connection is committing (on the committer thread or the event loop).
        self._busy = False
        #: The event loop a `_flush` is scheduled on (at the end of its current turn).
        self._flush_on: asyncio.AbstractEventLoop | None = None
        self._closing = False
        #: Transactions committed (each holds the writes of one or more requests).
        self.commits = 0
        self._thread = threading.Thread(target=self._commit_forever, name="sqs-commits")
        self._thread.daemon = True
        self._thread.start()

    # -- loading (before any write) ---------------------------------------------------------

    def queues(self) -> list[QueueRow]:
        rows = self._conn.execute("SELECT account, region, name, record FROM queues")
        return [(a, r, n, json.loads(record)) for a, r, n, record in rows]

    def messages(self) -> list[MessageRow]:
        rows = self._conn.execute(f"SELECT {_COLUMNS} FROM messages ORDER BY seq")
        return [
            (s, a, r, q, i, json.loads(rec), v, n, f, t) for s, a, r, q, i, rec, v, n, f, t in rows
        ]

    def deleted_queues(self) -> dict[tuple[str, str, str], float]:
        rows = self._conn.execute("SELECT account, region, name, at FROM deleted_queues")
        return {(a, r, n): at for a, r, n, at in rows}

    def move_tasks(self) -> list[dict[str, Any]]:
        rows = self._conn.execute("SELECT record FROM move_tasks ORDER BY rowid")
        return [json.loads(record) for (record,) in rows]

    # -- writing ----------------------------------------------------------------------------

    def allocate(self, count: int) -> range:
        """Sequence numbers for `count` new messages. Once every `SEQ_BLOCK` numbers the next
        range is reserved first, durably (so a number past the stored mark is never used)."""
        first = self._next_seq
        if first + count > self._seq_limit:
            limit = first + count + SEQ_BLOCK
            reserve = Writes()
            reserve.statements.append(
                ("UPDATE meta SET value=? WHERE name='seq_limit'", (limit,), False)
            )
            self.commit_now(reserve)
            self._seq_limit = limit
        self._next_seq = first + count
        return range(first, first + count)

    async def commit(self, writes: Writes) -> None:
        """Returns when `writes`, and everything submitted before them, are durable; raises
        the `sqlite3.Error` that kept them from being so."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        with self._wake:
            self._check_open()
            self._pending.append((writes, future))
            if self._flush_on is not loop:  # not yet asked for this turn (of this loop)
                self._flush_on = loop
                loop.call_soon(self._flush)
        await future

    def commit_now(self, writes: Writes) -> None:
        """`commit`, blocking the calling thread until it is done (committing on it when
        nothing else is waiting or committing: the hand-off would only add to the wait)."""
        waiter = _Waiter()
        with self._wake:
            self._check_open()
            inline = not (self._busy or self._pending or writes.scans)
            self._pending.append((writes, waiter))
            if inline:
                batch, self._pending = self._pending, []
                self._busy = True
            else:
                self._wake.notify()
        if inline:
            try:
                errors = self._commit(batch)
            finally:
                with self._wake:
                    self._busy = False
                    if self._pending:
                        self._wake.notify()
            _settle(batch, errors)
        waiter.event.wait()
        if waiter.error is not None:
            raise waiter.error

    def _check_open(self) -> None:
        if self._closing:
            raise sqlite3.ProgrammingError("the SQS store is closed")

    def _flush(self) -> None:
        """At the end of the event loop's turn: the writes it queued go to the committer
        thread; or, when that is idle and one request alone wrote (one client, nothing to
        batch with), they are committed here, which saves two thread hand-offs."""
        with self._wake:
            self._flush_on = None
            if (
                self._busy
                or len(self._pending) != 1
                or self._pending[0][0].scans
                or not isinstance(future := self._pending[0][1], asyncio.Future)
            ):
                self._wake.notify()
                return
            batch, self._pending = self._pending, []
            self._busy = True
        try:
            errors = self._commit(batch)
        finally:
            with self._wake:
                self._busy = False
                if self._pending:
                    self._wake.notify()
        _resolve([(future, errors[0])])

    def _commit_forever(self) -> None:
        while True:
            with self._wake:
                while (self._busy or not self._pending) and not self._closing:
                    self._wake.wait()
                if not self._pending:
                    return  # closing, and everything submitted is committed
                while self._busy:  # closing while the event loop commits
                    self._wake.wait()
                batch, self._pending = self._pending, []
                self._busy = True
            try:
                errors = self._commit(batch)
            finally:
                with self._wake:
                    self._busy = False
            try:
                _settle(batch, errors)
            except Exception:  # a bug here must not stop every later commit
                log.exception("SQS: telling %d requests their commit's outcome failed", len(batch))

    def _commit(self, batch: list[_Pending]) -> list[BaseException | None]:
        """Apply `batch` in one transaction; each entry's error (None: durable)."""
        conn = self._conn
        errors: list[BaseException | None] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            if len(batch) == 1:
                batch[0][0].apply(conn)
                errors.append(None)
            else:
                for writes, _ in batch:
                    if not writes:
                        errors.append(None)
                        continue
                    conn.execute("SAVEPOINT request")
                    try:
                        writes.apply(conn)
                    except sqlite3.Error as exc:
                        conn.execute("ROLLBACK TO request")
                        errors.append(exc)
                    else:
                        errors.append(None)
                    conn.execute("RELEASE request")
            conn.execute("COMMIT")
            self.commits += 1
        except Exception as exc:  # a full disk, a lost file: nothing of the batch is durable
            log.exception("SQS commit of %d requests failed", len(batch))
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            return [exc] * len(batch)
        return errors

    def close(self) -> None:
        """Commit what is pending, stop the committer, close the file."""
        with self._wake:
            self._closing = True
            self._wake.notify()
        self._thread.join()
        self._conn.close()


def _settle(batch: list[_Pending], errors: list[BaseException | None]) -> None:
    """Tell each waiter of `batch` its outcome: a blocked thread at once, a coroutine on its
    event loop (one call per loop, however many of its requests were in the batch)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[None], Any]]] = {}
    for (_, waiter), error in zip(batch, errors, strict=True):
        if isinstance(waiter, _Waiter):
            waiter.error = error
            waiter.event.set()
        else:
            by_loop.setdefault(waiter.get_loop(), []).append((waiter, error))
    for loop, outcomes in by_loop.items():
        with contextlib.suppress(RuntimeError):  # a closed loop: no one waits any more
            loop.call_soon_threadsafe(_resolve, outcomes)


def _resolve(outcomes: list[tuple[asyncio.Future[None], BaseException | None]]) -> None:
    for future, error in outcomes:
        if future.done():  # its request was cancelled (the client left); the write stands
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring a store of any earlier layout up to date (inside a write transaction)."""
    found = conn.execute("SELECT sql FROM sqlite_master WHERE name='messages'").fetchone()
    if found is not None and "AUTOINCREMENT" in found[0].upper():
        # Before sequence numbers were allocated here: keep AUTOINCREMENT's high-water mark
        # as the first number a new message may take.
        (high,) = conn.execute(
            "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name='messages'), 0),"
            " coalesce((SELECT max(seq) FROM messages), 0))"
        ).fetchone()
        conn.execute("DROP INDEX IF EXISTS messages_queue")
        conn.execute("ALTER TABLE messages RENAME TO messages_before")
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    if found is not None and "AUTOINCREMENT" in found[0].upper():
        conn.execute(f"INSERT INTO messages ({_COLUMNS}) SELECT {_COLUMNS} FROM messages_before")
        conn.execute("DROP TABLE messages_before")
        conn.execute(
            "INSERT OR REPLACE INTO meta (name, value) VALUES ('seq_limit', ?)", (high + 1,)
        )
