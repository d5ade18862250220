"""Where Elastic Load Balancing keeps its load balancers, listeners, rules and target groups:
one SQLite file (`elb.sqlite`) in the data directory, one JSON record per resource.

Every change a client is told about is committed (WAL, `synchronous=FULL`, through
`fireside.store.database.open_durable`) before the answer leaves. The records are small (a
few KB at most: rules and target groups are capped), so a write costs one fsync and runs on
the event loop, as SNS's does. The provider keeps the same records in memory
(`fireside.elb.state`); `records()` rebuilds that memory when the server starts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fireside.store.database import open_durable, write_transaction

__all__ = ["ElbStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    arn     TEXT PRIMARY KEY,
    kind    TEXT NOT NULL,           -- loadbalancer | listener | rule | targetgroup
    record  TEXT NOT NULL            -- JSON: the resource (`fireside.elb.state.Resource`)
)
"""


class ElbStore:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = open_durable(path)
        with write_transaction(self._conn) as conn:
            conn.execute(_SCHEMA)

    def records(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(arn, kind, record) of every resource, in the order they were made."""
        rows = self._conn.execute("SELECT arn, kind, record FROM resources ORDER BY rowid")
        return [(arn, kind, json.loads(record)) for arn, kind, record in rows]

    def write(
        self, put: Iterable[tuple[str, str, dict[str, Any]]], delete: Iterable[str] = ()
    ) -> None:
        """Upsert `put` (arn, kind, record) and remove `delete`, in one durable transaction."""
        with write_transaction(self._conn) as conn:
            for arn in delete:
                conn.execute("DELETE FROM resources WHERE arn=?", (arn,))
            for arn, kind, record in put:
                conn.execute(
                    "INSERT INTO resources (arn, kind, record) VALUES (?, ?, ?)"
                    " ON CONFLICT (arn) DO UPDATE SET record=excluded.record",
                    (arn, kind, json.dumps(record)),
                )

    def close(self) -> None:
        self._conn.close()
