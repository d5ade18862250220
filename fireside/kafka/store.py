"""The broker's metadata: topics, committed group offsets and producer ids, in one SQLite file.

Record data lives in segment files (`fireside.kafka.log`); what is small and must be exact lives
here, committed (WAL, `synchronous=FULL`) before the broker answers: a topic exists once its row
does, and an OffsetCommit is acknowledged only after its rows are on disk. Writes run in a thread
so an fsync never holds the event loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from fireside.store.database import open_durable, write_transaction

__all__ = ["Committed", "KafkaStore", "TopicRow"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    name TEXT PRIMARY KEY,
    topic_id TEXT NOT NULL,
    partitions INTEGER NOT NULL,
    configs TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS offsets (
    grp TEXT NOT NULL,
    topic TEXT NOT NULL,
    part INTEGER NOT NULL,
    committed INTEGER NOT NULL,
    metadata TEXT,
    leader_epoch INTEGER NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (grp, topic, part)
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

#: Producer ids are reserved from SQLite in blocks, so InitProducerId rarely writes.
_PID_BLOCK = 1000


@dataclass(slots=True)
class TopicRow:
    name: str
    topic_id: str
    partitions: int
    configs: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Committed:
    offset: int
    metadata: str | None
    leader_epoch: int = -1


class KafkaStore:
    def __init__(self, path: Path) -> None:
        self._conn = open_durable(path)
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._next_pid = 0
        self._pid_limit = 0

    # ---- topics -----------------------------------------------------------------------------

    def topics(self) -> list[TopicRow]:
        rows = self._conn.execute("SELECT name, topic_id, partitions, configs FROM topics")
        return [TopicRow(n, i, p, json.loads(c)) for n, i, p, c in rows.fetchall()]

    def _put_topic(self, row: TopicRow) -> None:
        with self._lock, write_transaction(self._conn) as conn:
            conn.execute(
                "INSERT INTO topics VALUES (?, ?, ?, ?, ?)",
                (row.name, row.topic_id, row.partitions, json.dumps(row.configs), time.time()),
            )

    async def put_topic(self, name: str, partitions: int, configs: dict[str, str]) -> TopicRow:
        row = TopicRow(name, str(uuid.uuid4()), partitions, configs)
        await asyncio.to_thread(self._put_topic, row)
        return row

    def _delete_topic(self, name: str) -> None:
        with self._lock, write_transaction(self._conn) as conn:
            conn.execute("DELETE FROM topics WHERE name = ?", (name,))
            conn.execute("DELETE FROM offsets WHERE topic = ?", (name,))

    async def delete_topic(self, name: str) -> None:
        await asyncio.to_thread(self._delete_topic, name)

    def _set_partitions(self, name: str, count: int) -> None:
        with self._lock, write_transaction(self._conn) as conn:
            conn.execute("UPDATE topics SET partitions = ? WHERE name = ?", (count, name))

    async def set_partitions(self, name: str, count: int) -> None:
        await asyncio.to_thread(self._set_partitions, name, count)

    # ---- committed offsets ------------------------------------------------------------------

    def _commit(self, group: str, offsets: dict[tuple[str, int], Committed]) -> None:
        now = time.time()
        with self._lock, write_transaction(self._conn) as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO offsets VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (group, t, p, c.offset, c.metadata, c.leader_epoch, now)
                    for (t, p), c in offsets.items()
                ],
            )

    async def commit(self, group: str, offsets: dict[tuple[str, int], Committed]) -> None:
        """Durably record `offsets` for `group` (returns once committed to disk)."""
        if offsets:
            await asyncio.to_thread(self._commit, group, offsets)

    def committed(self, group: str) -> dict[tuple[str, int], Committed]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT topic, part, committed, metadata, leader_epoch FROM offsets WHERE grp = ?",
                (group,),
            ).fetchall()
        return {(t, p): Committed(o, m, e) for t, p, o, m, e in rows}

    def _delete_group(self, group: str) -> None:
        with self._lock, write_transaction(self._conn) as conn:
            conn.execute("DELETE FROM offsets WHERE grp = ?", (group,))

    async def delete_group(self, group: str) -> None:
        """Forget `group`'s committed offsets (DeleteGroups)."""
        await asyncio.to_thread(self._delete_group, group)

    def groups_with_offsets(self) -> list[str]:
        with self._lock:
            rows = self._conn.execute("SELECT DISTINCT grp FROM offsets").fetchall()
        return [r[0] for r in rows]

    # ---- producer ids -----------------------------------------------------------------------

    def _reserve_pids(self) -> None:
        with self._lock, write_transaction(self._conn) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key = 'next_pid'").fetchone()
            start = row[0] if row else 1000
            conn.execute(
                "INSERT OR REPLACE INTO meta VALUES ('next_pid', ?)", (start + _PID_BLOCK,)
            )
        self._next_pid, self._pid_limit = start, start + _PID_BLOCK

    async def next_producer_id(self) -> int:
        """A producer id never handed out before, across restarts."""
        if self._next_pid >= self._pid_limit:
            await asyncio.to_thread(self._reserve_pids)
        pid = self._next_pid
        self._next_pid += 1
        return pid

    def close(self) -> None:
        with self._lock:
            self._conn.close()
