"""EventBridge archives: CreateArchive, DescribeArchive, ListArchives, UpdateArchive,
DeleteArchive, the durable store of archived events, and retention expiry.

An archive is built as AWS builds it: a managed rule `Events-Archive-<name>` on the archived
bus (`ManagedBy` EventBridge's archive service), whose pattern is the archive's pattern with
`"replay-name": [{"exists": false}]` added (a replayed event is never archived again), and
whose one target, `arn:aws:events:<region>:::`, receives the event wrapped with the archive's
ARN. That target is the archive sink of `fireside.events.targets`: so an event is archived
through the same routing as every delivery, before PutEvents answers.

Archived events are rows of `archived_events` in `events.sqlite`; `EventCount` and
`SizeBytes` are counted from them. An archive with `RetentionDays` > 0 drops events older than
that (by the time they were archived) in a supervised sweep.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from fireside.store.database import write_transaction

__all__ = [
    "ARCHIVE_MANAGER",
    "Archive",
    "ArchiveStore",
    "Replay",
    "event_time",
    "sink_arn",
]

#: The `ManagedBy` of an archive's rule, as AWS names its archive service.
ARCHIVE_MANAGER: Final = "prod.vhs.events.aws.internal"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS archives (
    account TEXT NOT NULL,
    region  TEXT NOT NULL,
    name    TEXT NOT NULL,
    record  TEXT NOT NULL,           -- JSON of Archive
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS archived_events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    account  TEXT NOT NULL,
    region   TEXT NOT NULL,
    archive  TEXT NOT NULL,
    at       REAL NOT NULL,          -- the event's time
    archived REAL NOT NULL,
    size     INTEGER NOT NULL,
    event    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS archived_by_archive ON archived_events (account, region, archive, id);
CREATE TABLE IF NOT EXISTS replays (
    account TEXT NOT NULL,
    region  TEXT NOT NULL,
    name    TEXT NOT NULL,
    record  TEXT NOT NULL,           -- JSON of Replay
    PRIMARY KEY (account, region, name)
)
"""


def sink_arn(region: str) -> str:
    """The target ARN of an archive's managed rule, as AWS shows it."""
    return f"arn:aws:events:{region}:::"


def event_time(event: dict[str, Any]) -> float:
    try:
        return (
            datetime.strptime(str(event.get("time")), "%Y-%m-%dT%H:%M:%SZ")
            .replace(tzinfo=UTC)
            .timestamp()
        )
    except ValueError:
        return time.time()


@dataclass(slots=True)
class Archive:
    account: str
    region: str
    name: str
    source_arn: str
    bus: str
    event_pattern: str | None = None
    description: str | None = None
    retention_days: int = 0
    state: str = "ENABLED"
    created: float = field(default_factory=time.time)

    @property
    def arn(self) -> str:
        return f"arn:aws:events:{self.region}:{self.account}:archive/{self.name}"

    @property
    def rule_name(self) -> str:
        return f"Events-Archive-{self.name}"


@dataclass(slots=True)
class Replay:
    account: str
    region: str
    name: str
    archive: str
    bus: str
    start: float
    end: float
    filter_arns: list[str] | None = None
    description: str | None = None
    state: str = "STARTING"
    reason: str | None = None
    started: float = field(default_factory=time.time)
    ended: float | None = None
    last_replayed: float | None = None
    #: The id of the last archived event replayed.
    cursor: int = 0

    @property
    def arn(self) -> str:
        return f"arn:aws:events:{self.region}:{self.account}:replay/{self.name}"

    @property
    def archive_arn(self) -> str:
        return f"arn:aws:events:{self.region}:{self.account}:archive/{self.archive}"

    @property
    def bus_arn(self) -> str:
        return f"arn:aws:events:{self.region}:{self.account}:event-bus/{self.bus}"


class ArchiveStore:
    """Archives, their events and replays, in `events.sqlite` (the `EventStore`'s connection);
    archives and replays are also held in memory."""

    def __init__(self, conn: Any, clock: Callable[[], float] = time.time) -> None:
        self._conn = conn
        self._clock = clock
        with write_transaction(conn) as c:
            for statement in _SCHEMA.split(";"):
                c.execute(statement)
        self.archives: dict[tuple[str, str, str], Archive] = {}
        self.replays: dict[tuple[str, str, str], Replay] = {}
        for (record,) in conn.execute("SELECT record FROM archives ORDER BY name"):
            archive = Archive(**json.loads(record))
            self.archives[(archive.account, archive.region, archive.name)] = archive
        for (record,) in conn.execute("SELECT record FROM replays ORDER BY name"):
            replay = Replay(**json.loads(record))
            self.replays[(replay.account, replay.region, replay.name)] = replay
        #: Set when a replay starts or is cancelled, so the replay loop wakes.
        self.wake = asyncio.Event()

    # -- archives --------------------------------------------------------------------------------
    def put_archive(self, archive: Archive) -> None:
        with write_transaction(self._conn) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO archives (account, region, name, record) "
                "VALUES (?, ?, ?, ?)",
                (archive.account, archive.region, archive.name, json.dumps(asdict(archive))),
            )
        self.archives[(archive.account, archive.region, archive.name)] = archive

    def delete_archive(self, archive: Archive) -> None:
        key = (archive.account, archive.region, archive.name)
        with write_transaction(self._conn) as conn:
            conn.execute("DELETE FROM archives WHERE account = ? AND region = ? AND name = ?", key)
            conn.execute(
                "DELETE FROM archived_events WHERE account = ? AND region = ? AND archive = ?",
                key,
            )
        self.archives.pop(key, None)

    def store_events(self, archive: Archive, events: list[dict[str, Any]]) -> None:
        """Archive `events` durably (committed when this returns)."""
        now = self._clock()
        rows = []
        for event in events:
            text = json.dumps(event, separators=(",", ":"))
            rows.append(
                (
                    archive.account,
                    archive.region,
                    archive.name,
                    event_time(event),
                    now,
                    len(text.encode()),
                    text,
                )
            )
        with write_transaction(self._conn) as conn:
            conn.executemany(
                "INSERT INTO archived_events (account, region, archive, at, archived, size, event)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def counts(self, archive: Archive) -> tuple[int, int]:
        """(EventCount, SizeBytes) of an archive."""
        count, size = self._conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM archived_events "
            "WHERE account = ? AND region = ? AND archive = ?",
            (archive.account, archive.region, archive.name),
        ).fetchone()
        return int(count), int(size)

    def events_after(
        self, archive: str, account: str, region: str, cursor: int, start: float, end: float
    ) -> list[tuple[int, dict[str, Any]]]:
        """The next archived events (at most 100) after `cursor` whose time is in [start, end)."""
        rows = self._conn.execute(
            "SELECT id, event FROM archived_events WHERE account = ? AND region = ? "
            "AND archive = ? AND id > ? AND at >= ? AND at < ? ORDER BY id LIMIT 100",
            (account, region, archive, cursor, start, end),
        ).fetchall()
        return [(int(row), json.loads(text)) for row, text in rows]

    def expire(self, now: float) -> int:
        """Drop events older than their archive's retention; answers how many went."""
        dropped = 0
        for archive in list(self.archives.values()):
            if archive.retention_days <= 0:
                continue
            with write_transaction(self._conn) as conn:
                dropped += conn.execute(
                    "DELETE FROM archived_events WHERE account = ? AND region = ? "
                    "AND archive = ? AND archived < ?",
                    (
                        archive.account,
                        archive.region,
                        archive.name,
                        now - archive.retention_days * 86400,
                    ),
                ).rowcount
        return dropped

    async def expire_forever(self, interval: float = 3600.0) -> None:
        while True:
            self.expire(self._clock())
            await asyncio.sleep(interval)

    # -- replays ---------------------------------------------------------------------------------
    def put_replay(self, replay: Replay) -> None:
        with write_transaction(self._conn) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO replays (account, region, name, record) "
                "VALUES (?, ?, ?, ?)",
                (replay.account, replay.region, replay.name, json.dumps(asdict(replay))),
            )
        self.replays[(replay.account, replay.region, replay.name)] = replay
