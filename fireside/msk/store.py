"""The durable record of MSK clusters, in `<data>/msk.sqlite`.

A cluster is small and changes as a whole (its state, its tags), so each is one JSON row
rewritten in one fsynced transaction. Writes run in a thread: an fsync must not stall the
event loop that also serves the brokers.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fireside.store.database import open_durable, write_transaction

__all__ = ["ClusterRecord", "MskStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS clusters (
    arn     TEXT PRIMARY KEY,
    account TEXT NOT NULL,
    region  TEXT NOT NULL,
    record  TEXT NOT NULL            -- JSON of ClusterRecord
)
"""


@dataclass(slots=True)
class ClusterRecord:
    account: str
    region: str
    name: str
    uuid: str
    #: PROVISIONED or SERVERLESS.
    cluster_type: str
    #: CREATING, ACTIVE or DELETING.
    state: str = "CREATING"
    created: float = field(default_factory=time.time)
    #: The listener's port (kept across restarts when it is still free).
    port: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    #: The request's Provisioned / Serverless settings (wire shape), echoed by Describe.
    settings: dict[str, Any] = field(default_factory=dict)
    kafka_version: str = "3.6.0"
    brokers: int = 1
    current_version: str = "K3AEGXETSR30VB"

    @property
    def iam(self) -> bool:
        """IAM client authentication is on: always on a serverless cluster (AWS's only kind),
        on a provisioned one when `ClientAuthentication.Sasl.Iam.Enabled`."""
        if self.cluster_type == "SERVERLESS":
            return True
        auth = self.settings.get("ClientAuthentication") or {}
        return bool(((auth.get("Sasl") or {}).get("Iam") or {}).get("Enabled"))

    @property
    def unauthenticated(self) -> bool:
        """Unauthenticated access is on: a provisioned cluster created without
        `ClientAuthentication` has it (as on AWS), else `Unauthenticated.Enabled` says."""
        if self.cluster_type == "SERVERLESS":
            return False
        auth = self.settings.get("ClientAuthentication")
        if not auth:
            return True
        return bool((auth.get("Unauthenticated") or {}).get("Enabled"))

    @property
    def arn(self) -> str:
        return f"arn:aws:kafka:{self.region}:{self.account}:cluster/{self.name}/{self.uuid}-25"


class MskStore:
    def __init__(self, path: Path) -> None:
        self._conn = open_durable(path)
        self._lock = threading.Lock()
        self._conn.executescript(_SCHEMA)

    def clusters(self) -> list[ClusterRecord]:
        with self._lock:
            rows = self._conn.execute("SELECT record FROM clusters").fetchall()
        return [ClusterRecord(**json.loads(row[0])) for row in rows]

    def _put(self, record: ClusterRecord) -> None:
        with self._lock, write_transaction(self._conn) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO clusters (arn, account, region, record) VALUES (?,?,?,?)",
                (record.arn, record.account, record.region, json.dumps(asdict(record))),
            )

    async def put(self, record: ClusterRecord) -> None:
        await asyncio.to_thread(self._put, record)

    def _delete(self, arn: str) -> None:
        with self._lock, write_transaction(self._conn) as conn:
            conn.execute("DELETE FROM clusters WHERE arn = ?", (arn,))

    async def delete(self, arn: str) -> None:
        await asyncio.to_thread(self._delete, arn)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
