"""Where Parameter Store keeps parameters: one SQLite file (`ssm.sqlite`) in the data
directory, per account and region.

A parameter is one row (its name, latest version, tier and tags) and one row per version
(value, type, description, labels...: a JSON record). A SecureString's value is stored as
its ciphertext only (`fireside.ssm.secrets`). Every write commits with `synchronous=FULL`
before the answer leaves (`fireside.store.database.open_durable`).

The store is not thread-safe by itself: the provider runs each operation, reads and writes
together, in a worker thread under one lock, so an operation sees and changes a consistent
state and the event loop never waits on an fsync.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from fireside.store.database import open_durable, write_transaction

__all__ = ["Parameter", "SsmStore", "Version"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS parameters (
    account  TEXT NOT NULL,
    region   TEXT NOT NULL,
    key      TEXT NOT NULL,           -- fireside.ssm.names.key_of(name)
    name     TEXT NOT NULL,           -- as created
    version  INTEGER NOT NULL,        -- the latest
    tier     TEXT NOT NULL,
    tags     TEXT NOT NULL,           -- JSON object
    PRIMARY KEY (account, region, key)
);
CREATE TABLE IF NOT EXISTS versions (
    account  TEXT NOT NULL,
    region   TEXT NOT NULL,
    key      TEXT NOT NULL,
    version  INTEGER NOT NULL,
    record   TEXT NOT NULL,           -- JSON of Version
    PRIMARY KEY (account, region, key, version)
)
"""


@dataclass(slots=True)
class Version:
    version: int
    type: str
    #: The plaintext of a String or StringList; a SecureString's ciphertext.
    value: str
    modified: float
    user: str
    tier: str = "Standard"
    data_type: str = "text"
    description: str | None = None
    allowed_pattern: str | None = None
    key_id: str | None = None
    labels: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, text: str) -> Version:
        record: dict[str, Any] = json.loads(text)
        return cls(**record)


@dataclass(slots=True)
class Parameter:
    key: str
    name: str
    latest: Version
    tags: dict[str, str] = field(default_factory=dict)


class SsmStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = open_durable(path)
        with write_transaction(self._conn) as conn:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)

    # -- reads ----------------------------------------------------------------------------

    def get(self, account: str, region: str, key: str) -> Parameter | None:
        row = self._conn.execute(
            "SELECT p.key, p.name, p.tags, v.record FROM parameters p JOIN versions v"
            " ON v.account = p.account AND v.region = p.region AND v.key = p.key"
            " AND v.version = p.version WHERE p.account = ? AND p.region = ? AND p.key = ?",
            (account, region, key),
        ).fetchone()
        return None if row is None else _parameter(row)

    def listing(self, account: str, region: str, prefix: str = "") -> list[Parameter]:
        """Every parameter of the account and region whose key starts with `prefix`, by key."""
        sql = (
            "SELECT p.key, p.name, p.tags, v.record FROM parameters p JOIN versions v"
            " ON v.account = p.account AND v.region = p.region AND v.key = p.key"
            " AND v.version = p.version WHERE p.account = ? AND p.region = ?"
        )
        params: tuple[object, ...] = (account, region)
        if prefix:  # a key range: the index does the work
            sql += " AND p.key >= ? AND p.key < ?"
            params += (prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1))
        rows = self._conn.execute(sql + " ORDER BY p.key", params).fetchall()
        return [_parameter(row) for row in rows]

    def versions(self, account: str, region: str, key: str) -> list[Version]:
        rows = self._conn.execute(
            "SELECT record FROM versions WHERE account = ? AND region = ? AND key = ?"
            " ORDER BY version",
            (account, region, key),
        ).fetchall()
        return [Version.from_json(record) for (record,) in rows]

    def count(self, account: str, region: str, tier: str) -> int:
        (found,) = self._conn.execute(
            "SELECT count(*) FROM parameters WHERE account = ? AND region = ? AND tier = ?",
            (account, region, tier),
        ).fetchone()
        return int(found)

    # -- writes (each one durable transaction) --------------------------------------------

    def save(
        self,
        account: str,
        region: str,
        parameter: Parameter,
        changed: list[Version],
        dropped: list[int] | None = None,
    ) -> None:
        """Write `parameter` (its latest version, tier and tags), the versions in `changed`
        (new or relabelled), and forget the versions numbered in `dropped`."""
        with write_transaction(self._conn) as conn:
            conn.execute(
                "INSERT INTO parameters (account, region, key, name, version, tier, tags)"
                " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account, region, key) DO UPDATE"
                " SET version = excluded.version, tier = excluded.tier, tags = excluded.tags",
                (
                    account,
                    region,
                    parameter.key,
                    parameter.name,
                    parameter.latest.version,
                    parameter.latest.tier,
                    json.dumps(parameter.tags),
                ),
            )
            for number in dropped or []:
                conn.execute(
                    "DELETE FROM versions WHERE account = ? AND region = ? AND key = ?"
                    " AND version = ?",
                    (account, region, parameter.key, number),
                )
            conn.executemany(
                "INSERT OR REPLACE INTO versions (account, region, key, version, record)"
                " VALUES (?, ?, ?, ?, ?)",
                [
                    (account, region, parameter.key, v.version, json.dumps(asdict(v)))
                    for v in changed
                ],
            )

    def delete(self, account: str, region: str, keys: list[str]) -> None:
        with write_transaction(self._conn) as conn:
            for key in keys:
                conn.execute(
                    "DELETE FROM parameters WHERE account = ? AND region = ? AND key = ?",
                    (account, region, key),
                )
                conn.execute(
                    "DELETE FROM versions WHERE account = ? AND region = ? AND key = ?",
                    (account, region, key),
                )

    def close(self) -> None:
        self._conn.close()


def _parameter(row: tuple[Any, ...]) -> Parameter:
    key, name, tags, record = row
    return Parameter(key, name, Version.from_json(record), json.loads(tags))
