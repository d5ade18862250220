"""The metadata store: one SQLite database in WAL mode inside the data directory.

A write that acknowledges a user's request commits with `synchronous=FULL`, so it is on disk
before the reply leaves. Calls are made from the event loop thread: each statement is a point
read or a single-row write (tens of microseconds), cheaper than a hop to a thread.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fireside.outbox import OUTBOX_TABLE

# Every statement is idempotent (IF NOT EXISTS): a database of any older version is brought up
# to date by running them all. 2: layers. 3: aliases. 4: provisioned concurrency.
# 5: event invoke configs and the last failure of retried Event invokes.
# 6: invocation records bound for S3 destinations. 7: Lambda resource policies.
# 8: Function URL configurations. 9: the outbox to other services (S3 records move there).
# 10: event-source mappings.
SCHEMA_VERSION = 10

_SCHEMA = """
CREATE TABLE IF NOT EXISTS functions (
    account   TEXT NOT NULL,
    region    TEXT NOT NULL,
    name      TEXT NOT NULL,
    version   TEXT NOT NULL,
    config    TEXT NOT NULL,           -- JSON of fireside.compute.functions.FunctionConfig
    PRIMARY KEY (account, region, name, version)
);
CREATE TABLE IF NOT EXISTS async_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    account     TEXT NOT NULL,
    region      TEXT NOT NULL,
    function    TEXT NOT NULL,
    qualifier   TEXT NOT NULL,
    request_id  TEXT NOT NULL,
    payload     BLOB NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created     REAL NOT NULL,
    not_before  REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS async_events_due ON async_events (not_before);
CREATE TABLE IF NOT EXISTS async_event_failures (
    event_id         INTEGER PRIMARY KEY,  -- async_events.id, deleted with it
    executed_version TEXT NOT NULL,
    function_error   TEXT,
    response         BLOB NOT NULL         -- the last failed run's answer, for a later record
);
CREATE TABLE IF NOT EXISTS event_source_mappings (
    uuid      TEXT PRIMARY KEY,
    account   TEXT NOT NULL,
    region    TEXT NOT NULL,
    record    TEXT NOT NULL            -- JSON of fireside.compute.mappings.EventSourceMapping
);
CREATE TABLE IF NOT EXISTS event_invoke_configs (
    account   TEXT NOT NULL,
    region    TEXT NOT NULL,
    function  TEXT NOT NULL,
    qualifier TEXT NOT NULL,           -- $LATEST, a version or an alias
    record    TEXT NOT NULL,           -- JSON of fireside.compute.event_config.EventInvokeConfig
    PRIMARY KEY (account, region, function, qualifier)
);
CREATE TABLE IF NOT EXISTS provisioned (
    account   TEXT NOT NULL,
    region    TEXT NOT NULL,
    function  TEXT NOT NULL,
    qualifier TEXT NOT NULL,
    record    TEXT NOT NULL,           -- JSON of fireside.compute.provisioned.ProvisionedConfig
    PRIMARY KEY (account, region, function, qualifier)
);
CREATE TABLE IF NOT EXISTS aliases (
    account   TEXT NOT NULL,
    region    TEXT NOT NULL,
    function  TEXT NOT NULL,
    name      TEXT NOT NULL,
    record    TEXT NOT NULL,           -- JSON of fireside.compute.aliases.Alias
    PRIMARY KEY (account, region, function, name)
);
CREATE TABLE IF NOT EXISTS function_policies (
    account   TEXT NOT NULL,
    region    TEXT NOT NULL,
    function  TEXT NOT NULL,
    qualifier TEXT NOT NULL,           -- $LATEST (the function itself), a version or an alias
    record    TEXT NOT NULL,           -- JSON: revision_id and statements (AWS's format)
    PRIMARY KEY (account, region, function, qualifier)
);
CREATE TABLE IF NOT EXISTS layers (
    account      TEXT NOT NULL,
    region       TEXT NOT NULL,
    name         TEXT NOT NULL,
    last_version INTEGER NOT NULL,     -- kept after every version is deleted: never reused
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS layer_versions (
    account   TEXT NOT NULL,
    region    TEXT NOT NULL,
    name      TEXT NOT NULL,
    version   INTEGER NOT NULL,
    deleted   INTEGER NOT NULL DEFAULT 0,  -- hidden from the API, still used by functions
    record    TEXT NOT NULL,           -- JSON of fireside.compute.layers.LayerVersion
    PRIMARY KEY (account, region, name, version)
);
CREATE TABLE IF NOT EXISTS function_urls (
    account   TEXT NOT NULL,
    region    TEXT NOT NULL,
    function  TEXT NOT NULL,
    qualifier TEXT NOT NULL,           -- $LATEST (the function's own URL) or an alias
    url_id    TEXT NOT NULL UNIQUE,
    record    TEXT NOT NULL,           -- JSON of fireside.compute.function_urls.FunctionUrlConfig
    PRIMARY KEY (account, region, function, qualifier)
);
"""


def open_durable(path: Path) -> sqlite3.Connection:
    """A connection to one of Fireside's own SQLite files: WAL, every commit fsynced
    (`synchronous=FULL`), waiting out another writer's lock; transactions are explicit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A write transaction on `conn`: committed (durably) on exit, rolled back on an exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def _move_records(conn: sqlite3.Connection) -> None:
    """Schema 8's S3 invocation records (`async_records`) become outbox deliveries."""
    if not conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'async_records'"
    ).fetchone():
        return
    rows = conn.execute("SELECT account, bucket, key, record, not_before FROM async_records")
    for account, bucket, key, record, not_before in rows.fetchall():
        meta = {"extra": {"key": key, "content_type": "application/json"}}
        conn.execute(
            "INSERT INTO outbox (account, region, service, source_arn, arn, body, meta, "
            "not_before) VALUES (?, '', NULL, NULL, ?, ?, ?, ?)",
            (
                account,
                f"arn:aws:s3:::{bucket}",
                bytes(record).decode("utf-8"),
                json.dumps(meta),
                not_before,
            ),
        )
    conn.execute("DROP TABLE async_records")


class Database:
    """A SQLite connection with the schema applied; `transaction()` commits or rolls back."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = open_durable(path)
        self._migrate()

    def _migrate(self) -> None:
        (version,) = self._conn.execute("PRAGMA user_version").fetchone()
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} was written by a newer Fireside (schema {version} > {SCHEMA_VERSION})"
            )
        with self.transaction() as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(OUTBOX_TABLE)
            _move_records(conn)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def transaction(self) -> contextlib.AbstractContextManager[sqlite3.Connection]:
        """A write transaction: committed (durably) on exit, rolled back on an exception."""
        return write_transaction(self._conn)

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        return list(self._conn.execute(sql, params).fetchall())

    def close(self) -> None:
        self._conn.close()
