"""The durable metadata of CloudWatch Logs: log groups, the streams clients created, and the
streams they deleted, per account and region, in `logs.sqlite` (WAL, every commit fsynced).

Events are not here: they live in files (`fireside.logs.files`). A deleted stream is kept as a
tombstone (its name and when it was deleted), because a function's file still holds its old
records: reads skip a stream's records ingested before its tombstone. Everything is also held
in memory; each change is one small transaction, committed before the answer.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from fireside.store.database import open_durable, write_transaction

__all__ = ["LogGroup", "LogsStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (
    account TEXT NOT NULL,
    region  TEXT NOT NULL,
    name    TEXT NOT NULL,
    record  TEXT NOT NULL,            -- JSON: created, retention, tags, kind
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS streams (
    account TEXT NOT NULL,
    region  TEXT NOT NULL,
    grp     TEXT NOT NULL,
    name    TEXT NOT NULL,
    created INTEGER NOT NULL,         -- epoch ms
    PRIMARY KEY (account, region, grp, name)
);
CREATE TABLE IF NOT EXISTS tombstones (
    account TEXT NOT NULL,
    region  TEXT NOT NULL,
    grp     TEXT NOT NULL,
    name    TEXT NOT NULL,
    deleted INTEGER NOT NULL,         -- epoch ms: records ingested up to then are gone
    PRIMARY KEY (account, region, grp, name)
)
"""


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(slots=True)
class LogGroup:
    account: str
    region: str
    name: str
    created: int = field(default_factory=now_ms)
    retention: int | None = None
    tags: dict[str, str] = field(default_factory=dict)
    #: Its events are a function's log file (`/aws/lambda/<name>`), not a file of its own.
    function: str | None = None
    #: Kept and shown as given: Fireside does not encrypt log files with KMS keys.
    kms_key_id: str | None = None
    streams: dict[str, int] = field(default_factory=dict)
    tombstones: dict[str, int] = field(default_factory=dict)

    @property
    def arn(self) -> str:
        return f"arn:aws:logs:{self.region}:{self.account}:log-group:{self.name}"

    def record(self) -> str:
        return json.dumps(
            {
                "created": self.created,
                "retention": self.retention,
                "tags": self.tags,
                "function": self.function,
                "kms_key_id": self.kms_key_id,
            }
        )


class LogsStore:
    def __init__(self, path: Path) -> None:
        self.conn = open_durable(path)
        self.conn.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._groups: dict[tuple[str, str, str], LogGroup] = {}
        for account, region, name, record in self.conn.execute(
            "SELECT account, region, name, record FROM groups"
        ):
            data = json.loads(record)
            self._groups[(account, region, name)] = LogGroup(
                account,
                region,
                name,
                data["created"],
                data["retention"],
                data["tags"],
                data.get("function"),
                data.get("kms_key_id"),
            )
        for table, attribute in (("streams", "streams"), ("tombstones", "tombstones")):
            column = "created" if table == "streams" else "deleted"
            for account, region, grp, name, when in self.conn.execute(
                f"SELECT account, region, grp, name, {column} FROM {table}"
            ):
                group = self._groups.get((account, region, grp))
                if group is not None:
                    getattr(group, attribute)[name] = when

    def group(self, account: str, region: str, name: str) -> LogGroup | None:
        return self._groups.get((account, region, name))

    def groups(self, account: str, region: str) -> list[LogGroup]:
        return sorted(
            (g for (a, r, _), g in self._groups.items() if a == account and r == region),
            key=lambda g: g.name,
        )

    def every_group(self) -> list[LogGroup]:
        return list(self._groups.values())

    def save_group(self, *groups: LogGroup) -> None:
        """Create or update groups' records, in one transaction (durable on return)."""
        with self._lock, write_transaction(self.conn) as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO groups (account, region, name, record) VALUES (?,?,?,?)",
                [(g.account, g.region, g.name, g.record()) for g in groups],
            )
        for group in groups:
            self._groups[(group.account, group.region, group.name)] = group

    def delete_group(self, group: LogGroup) -> None:
        key = (group.account, group.region, group.name)
        with self._lock, write_transaction(self.conn) as conn:
            conn.execute("DELETE FROM groups WHERE account = ? AND region = ? AND name = ?", key)
            for table in ("streams", "tombstones"):
                conn.execute(
                    f"DELETE FROM {table} WHERE account = ? AND region = ? AND grp = ?",
                    key,
                )
        self._groups.pop(key, None)

    def create_stream(self, group: LogGroup, name: str, created: int) -> None:
        key = (group.account, group.region, group.name, name)
        with self._lock, write_transaction(self.conn) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO streams (account, region, grp, name, created) "
                "VALUES (?,?,?,?,?)",
                (*key, created),
            )
        group.streams[name] = created

    def delete_stream(self, group: LogGroup, name: str, deleted: int) -> None:
        key = (group.account, group.region, group.name, name)
        with self._lock, write_transaction(self.conn) as conn:
            conn.execute(
                "DELETE FROM streams WHERE account = ? AND region = ? AND grp = ? AND name = ?",
                key,
            )
            conn.execute(
                "INSERT OR REPLACE INTO tombstones (account, region, grp, name, deleted) "
                "VALUES (?,?,?,?,?)",
                (*key, deleted),
            )
        group.streams.pop(name, None)
        group.tombstones[name] = deleted

    def close(self) -> None:
        self.conn.close()
