"""Where IAM keeps its roles, managed policies, instance profiles, users and groups: one SQLite file
(`iam.sqlite`) in the data directory, one JSON record per entity.

Every write that acknowledges a request is one row's upsert or delete committed with
`synchronous=FULL` (`fireside.store.database.open_durable`) before the answer leaves, so a
role survives a `kill -9`. The rows are small (a role with its inline policies is at most a
few tens of KB), so the writes stay on the event loop as SNS's do. The provider keeps the same
state in memory and writes through this store; `load()` rebuilds that memory at start.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

from fireside.store.database import open_durable, write_transaction

__all__ = ["IamStore"]

ROLE: Final = "role"
POLICY: Final = "policy"
PROFILE: Final = "profile"
USER: Final = "user"
GROUP: Final = "group"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entities (
    account  TEXT NOT NULL,
    kind     TEXT NOT NULL,          -- role, policy, profile, user or group
    key      TEXT NOT NULL,          -- the lower-cased name: IAM names ignore case
    record   TEXT NOT NULL,          -- JSON of fireside.iam.entities.<kind>.record()
    PRIMARY KEY (account, kind, key)
)
"""


class IamStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = open_durable(path)
        with write_transaction(self._conn) as conn:
            conn.execute(_SCHEMA)

    def load(self) -> list[tuple[str, dict[str, Any]]]:
        """Every entity as (kind, record), oldest first."""
        rows = self._conn.execute("SELECT kind, record FROM entities ORDER BY rowid")
        return [(kind, json.loads(record)) for kind, record in rows]

    def get(self, account: str, kind: str, key: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT record FROM entities WHERE account=? AND kind=? AND key=?", (account, kind, key)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def put(self, account: str, kind: str, key: str, record: dict[str, Any]) -> None:
        with write_transaction(self._conn) as conn:
            conn.execute(
                "INSERT INTO entities (account, kind, key, record) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (account, kind, key) DO UPDATE SET record=excluded.record",
                (account, kind, key, json.dumps(record)),
            )

    def delete(self, account: str, kind: str, key: str) -> None:
        with write_transaction(self._conn) as conn:
            conn.execute(
                "DELETE FROM entities WHERE account=? AND kind=? AND key=?", (account, kind, key)
            )

    def close(self) -> None:
        self._conn.close()
