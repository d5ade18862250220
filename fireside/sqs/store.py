"""Where SQS keeps its queues and messages: one SQLite file in the data directory.

Every write that acknowledges a request (a queue made, a message sent, received, deleted or
made visible again) commits with `synchronous=FULL` before the answer leaves, so a message
whose SendMessage was answered survives a `kill -9`, and a receive's visibility deadline
survives a restart (the message becomes visible again when it passes, as on AWS).

The provider keeps the same state in memory (`fireside.sqs.queues`) and writes through this
store; `load()` rebuilds that memory when the server starts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fireside.store.database import open_durable, write_transaction

__all__ = ["MessageRow", "QueueRow", "SqsStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (
    account  TEXT NOT NULL,
    region   TEXT NOT NULL,
    name     TEXT NOT NULL,
    record   TEXT NOT NULL,         -- JSON: attributes, tags, created, modified, next sequence
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS messages (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,  -- arrival order
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
CREATE INDEX IF NOT EXISTS messages_queue ON messages (account, region, queue);
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
"""

QueueRow = tuple[str, str, str, dict[str, Any]]
MessageRow = tuple[int, str, str, str, str, dict[str, Any], float, int, float | None, str | None]


class SqsStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = open_durable(path)
        with write_transaction(self._conn) as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with write_transaction(self._conn) as conn:
            yield conn

    # -- loading ----------------------------------------------------------------------------

    def queues(self) -> list[QueueRow]:
        rows = self._conn.execute("SELECT account, region, name, record FROM queues")
        return [(a, r, n, json.loads(record)) for a, r, n, record in rows]

    def messages(self) -> list[MessageRow]:
        rows = self._conn.execute(
            "SELECT seq, account, region, queue, id, record, visible_at, receives,"
            " first_receive, receipt FROM messages ORDER BY seq"
        )
        return [
            (s, a, r, q, i, json.loads(rec), v, n, f, t) for s, a, r, q, i, rec, v, n, f, t in rows
        ]

    def deleted_queues(self) -> dict[tuple[str, str, str], float]:
        rows = self._conn.execute("SELECT account, region, name, at FROM deleted_queues")
        return {(a, r, n): at for a, r, n, at in rows}

    def move_tasks(self) -> list[dict[str, Any]]:
        rows = self._conn.execute("SELECT record FROM move_tasks ORDER BY rowid")
        return [json.loads(record) for (record,) in rows]

    # -- writes (inside `transaction()`) --------------------------------------------------

    @staticmethod
    def note_deleted(
        conn: sqlite3.Connection, key: tuple[str, str, str], at: float, forget_before: float
    ) -> None:
        """Remember when a queue was deleted (`QueueDeletedRecently`); forget older ones."""
        conn.execute("DELETE FROM deleted_queues WHERE at < ?", (forget_before,))
        conn.execute(
            "INSERT OR REPLACE INTO deleted_queues (account, region, name, at) VALUES (?, ?, ?, ?)",
            (*key, at),
        )

    @staticmethod
    def put_move_task(conn: sqlite3.Connection, handle: str, record: dict[str, Any]) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO move_tasks (handle, record) VALUES (?, ?)",
            (handle, json.dumps(record)),
        )

    @staticmethod
    def delete_move_tasks(conn: sqlite3.Connection, handles: Iterable[str]) -> None:
        conn.executemany("DELETE FROM move_tasks WHERE handle=?", [(h,) for h in handles])

    @staticmethod
    def put_queue(
        conn: sqlite3.Connection, key: tuple[str, str, str], record: dict[str, Any]
    ) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO queues (account, region, name, record) VALUES (?, ?, ?, ?)",
            (*key, json.dumps(record)),
        )

    @staticmethod
    def delete_queue(conn: sqlite3.Connection, key: tuple[str, str, str]) -> None:
        conn.execute("DELETE FROM queues WHERE account=? AND region=? AND name=?", key)
        conn.execute("DELETE FROM messages WHERE account=? AND region=? AND queue=?", key)

    @staticmethod
    def purge(conn: sqlite3.Connection, key: tuple[str, str, str]) -> None:
        conn.execute("DELETE FROM messages WHERE account=? AND region=? AND queue=?", key)

    @staticmethod
    def add_message(
        conn: sqlite3.Connection,
        key: tuple[str, str, str],
        message_id: str,
        record: dict[str, Any],
        visible_at: float,
    ) -> int:
        cursor = conn.execute(
            "INSERT INTO messages (account, region, queue, id, record, visible_at, receives)"
            " VALUES (?, ?, ?, ?, ?, ?, 0)",
            (*key, message_id, json.dumps(record), visible_at),
        )
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    @staticmethod
    def update_messages(
        conn: sqlite3.Connection,
        changes: Iterable[tuple[float, int, float | None, str | None, int]],
    ) -> None:
        """(visible_at, receives, first_receive, receipt, seq) of each message changed."""
        conn.executemany(
            "UPDATE messages SET visible_at=?, receives=?, first_receive=?, receipt=? WHERE seq=?",
            changes,
        )

    @staticmethod
    def move_message(
        conn: sqlite3.Connection,
        seq: int,
        key: tuple[str, str, str],
        record: dict[str, Any],
        visible_at: float,
    ) -> None:
        """Hand a message to another queue (a dead-letter queue, or back from one)."""
        conn.execute(
            "UPDATE messages SET account=?, region=?, queue=?, record=?, visible_at=?,"
            " receipt=NULL, receives=0, first_receive=NULL WHERE seq=?",
            (*key, json.dumps(record), visible_at, seq),
        )

    @staticmethod
    def delete_messages(conn: sqlite3.Connection, seqs: Iterable[int]) -> None:
        conn.executemany("DELETE FROM messages WHERE seq=?", [(s,) for s in seqs])

    def close(self) -> None:
        self._conn.close()
