"""Where EC2's networking records live: one SQLite file (`ec2.sqlite`) in the data directory,
one JSON record per resource (VPC, subnet, security group, gateway, route table, address).

Every change a client is told about is committed (WAL, `synchronous=FULL`, through
`fireside.store.database.open_durable`) before the answer leaves. The records are small (a
security group's rules are capped), so a write is one fsync on the event loop, as ELB's and
SNS's are. `fireside.ec2.state` keeps the same records in memory and rebuilds from `records()`
when the server starts.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from fireside.store.database import open_durable, write_transaction

__all__ = ["Ec2Store"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    id      TEXT PRIMARY KEY,        -- vpc-..., subnet-..., sg-..., or a marker's key
    record  TEXT NOT NULL            -- JSON: the resource (`fireside.ec2.state.Resource`)
)
"""


class Ec2Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = open_durable(path)
        with write_transaction(self._conn) as conn:
            conn.execute(_SCHEMA)

    def records(self) -> list[dict[str, Any]]:
        """Every stored record, in the order they were made."""
        rows = self._conn.execute("SELECT record FROM resources ORDER BY rowid")
        return [json.loads(record) for (record,) in rows]

    def write(self, put: Iterable[tuple[str, dict[str, Any]]], delete: Iterable[str] = ()) -> None:
        """Upsert `put` (id, record) and remove `delete`, in one durable transaction."""
        with write_transaction(self._conn) as conn:
            for key in delete:
                conn.execute("DELETE FROM resources WHERE id=?", (key,))
            for key, record in put:
                conn.execute(
                    "INSERT INTO resources (id, record) VALUES (?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET record=excluded.record",
                    (key, json.dumps(record)),
                )

    def close(self) -> None:
        self._conn.close()
