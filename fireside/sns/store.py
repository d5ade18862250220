"""Where SNS keeps its topics, subscriptions, confirmation tokens and FIFO deduplication
records: one SQLite file (`sns.sqlite`) in the data directory.

Every write that acknowledges a request commits with `synchronous=FULL` before the answer
leaves (`fireside.store.database.open_durable`), so a topic, a subscription or a FIFO
publish's deduplication record survives a `kill -9`. Messages themselves are not kept here:
a publish is durable once every subscriber's target accepted it (`fireside.targets`).
The provider keeps the same state in memory and writes through this store; `load()` methods
rebuild that memory when the server starts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fireside.outbox import OUTBOX_TABLE
from fireside.store.database import open_durable, write_transaction

__all__ = ["SnsStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    arn     TEXT PRIMARY KEY,
    record  TEXT NOT NULL            -- JSON: attributes, tags, counters, next sequence
);
CREATE TABLE IF NOT EXISTS subscriptions (
    arn     TEXT PRIMARY KEY,
    topic   TEXT NOT NULL,
    record  TEXT NOT NULL            -- JSON: protocol, endpoint, owner, attributes
);
CREATE INDEX IF NOT EXISTS subscriptions_topic ON subscriptions (topic);
CREATE TABLE IF NOT EXISTS tokens (
    token        TEXT PRIMARY KEY,
    topic        TEXT NOT NULL,
    subscription TEXT NOT NULL,
    expires      REAL NOT NULL,
    restore      TEXT               -- JSON: the subscription an UnsubscribeConfirmation restores
);
CREATE TABLE IF NOT EXISTS dedup (
    topic     TEXT NOT NULL,
    id        TEXT NOT NULL,
    expires   REAL NOT NULL,
    message   TEXT NOT NULL,
    sequence  TEXT NOT NULL,
    PRIMARY KEY (topic, id)
);
"""


class SnsStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = open_durable(path)
        with write_transaction(self._conn) as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(OUTBOX_TABLE)  # deliveries to retry (`fireside.outbox`)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with write_transaction(self._conn) as conn:
            yield conn

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        return list(self._conn.execute(sql, params).fetchall())

    # -- loading ----------------------------------------------------------------------------

    def topics(self) -> list[tuple[str, dict[str, Any]]]:
        rows = self._conn.execute("SELECT arn, record FROM topics ORDER BY rowid")
        return [(arn, json.loads(record)) for arn, record in rows]

    def subscriptions(self) -> list[tuple[str, dict[str, Any]]]:
        rows = self._conn.execute("SELECT arn, record FROM subscriptions ORDER BY rowid")
        return [(arn, json.loads(record)) for arn, record in rows]

    def dedup(self, now: float) -> list[tuple[str, str, float, str, str]]:
        rows = self._conn.execute(
            "SELECT topic, id, expires, message, sequence FROM dedup WHERE expires > ?", (now,)
        )
        return list(rows)

    def token(self, token: str) -> tuple[str, str, float, dict[str, Any] | None] | None:
        """(topic, subscription, expires, the subscription to restore) of a token."""
        row = self._conn.execute(
            "SELECT topic, subscription, expires, restore FROM tokens WHERE token=?", (token,)
        ).fetchone()
        if row is None:
            return None
        return row[0], row[1], row[2], json.loads(row[3]) if row[3] else None

    # -- writes (inside `transaction()`) ------------------------------------------------------

    @staticmethod
    def put_topic(conn: sqlite3.Connection, arn: str, record: dict[str, Any]) -> None:
        conn.execute(
            "INSERT INTO topics (arn, record) VALUES (?, ?)"
            " ON CONFLICT (arn) DO UPDATE SET record=excluded.record",
            (arn, json.dumps(record)),
        )

    @staticmethod
    def delete_topic(conn: sqlite3.Connection, arn: str) -> None:
        conn.execute("DELETE FROM topics WHERE arn=?", (arn,))
        conn.execute("DELETE FROM subscriptions WHERE topic=?", (arn,))
        conn.execute("DELETE FROM tokens WHERE topic=?", (arn,))
        conn.execute("DELETE FROM dedup WHERE topic=?", (arn,))

    @staticmethod
    def put_subscription(
        conn: sqlite3.Connection, arn: str, topic: str, record: dict[str, Any]
    ) -> None:
        conn.execute(
            "INSERT INTO subscriptions (arn, topic, record) VALUES (?, ?, ?)"
            " ON CONFLICT (arn) DO UPDATE SET record=excluded.record",
            (arn, topic, json.dumps(record)),
        )

    @staticmethod
    def delete_subscription(conn: sqlite3.Connection, arn: str) -> None:
        conn.execute("DELETE FROM subscriptions WHERE arn=?", (arn,))
        conn.execute("DELETE FROM tokens WHERE subscription=?", (arn,))

    @staticmethod
    def put_token(
        conn: sqlite3.Connection,
        token: str,
        topic: str,
        subscription: str,
        expires: float,
        restore: dict[str, Any] | None = None,
    ) -> None:
        conn.execute(
            "INSERT INTO tokens (token, topic, subscription, expires, restore)"
            " VALUES (?, ?, ?, ?, ?)",
            (token, topic, subscription, expires, json.dumps(restore) if restore else None),
        )

    @staticmethod
    def expire_tokens(conn: sqlite3.Connection, now: float) -> None:
        conn.execute("DELETE FROM tokens WHERE expires <= ?", (now,))

    @staticmethod
    def put_dedup(
        conn: sqlite3.Connection, topic: str, dedup_id: str, expires: float, message: str, seq: str
    ) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO dedup (topic, id, expires, message, sequence)"
            " VALUES (?, ?, ?, ?, ?)",
            (topic, dedup_id, expires, message, seq),
        )

    @staticmethod
    def expire_dedup(conn: sqlite3.Connection, now: float) -> None:
        conn.execute("DELETE FROM dedup WHERE expires <= ?", (now,))

    def close(self) -> None:
        self._conn.close()
