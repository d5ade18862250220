"""The durable store of EventBridge Scheduler: schedule groups and schedules, per account and
region, in `scheduler.sqlite`.

A schedule is small (an expression, one target, a few dates) and is read and changed as a
whole, so each is one JSON record rewritten in one fsynced transaction, together with its
firing state (`next_fire`: when it fires next, `planned`: the time it stands for), so a
restart picks up where the loop left off; so are the firings waiting to be retried. Everything is also held in memory, with a heap of
schedules by their next firing: the firing loop looks at what is due, not at every schedule,
and writes only what it changes.

Every account and region has a `default` group; it is created (and stored) the first time
it is asked for, so its creation time stays put across restarts.
"""

from __future__ import annotations

import heapq
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from fireside.store.database import open_durable, write_transaction

__all__ = ["DEFAULT_GROUP", "Group", "ScheduleRecord", "SchedulerStore"]

DEFAULT_GROUP = "default"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS groups (
    account TEXT NOT NULL,
    region  TEXT NOT NULL,
    name    TEXT NOT NULL,
    record  TEXT NOT NULL,           -- JSON of Group
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS schedules (
    account TEXT NOT NULL,
    region  TEXT NOT NULL,
    grp     TEXT NOT NULL,
    name    TEXT NOT NULL,
    record  TEXT NOT NULL,           -- JSON of ScheduleRecord
    PRIMARY KEY (account, region, grp, name)
);
CREATE TABLE IF NOT EXISTS retries (
    id      TEXT PRIMARY KEY,        -- the firing's execution id
    record  TEXT NOT NULL            -- JSON of the attempt (`fireside.scheduler.firing`)
)
"""


@dataclass(slots=True)
class Group:
    account: str
    region: str
    name: str
    created: float = field(default_factory=time.time)
    modified: float = field(default_factory=time.time)
    tags: dict[str, str] = field(default_factory=dict)
    client_token: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:scheduler:{self.region}:{self.account}:schedule-group/{self.name}"


@dataclass(slots=True)
class ScheduleRecord:
    account: str
    region: str
    group: str
    name: str
    expression: str
    #: The target as CreateSchedule took it (wire shape), with AWS's default RetryPolicy.
    target: dict[str, Any]
    flexible: dict[str, Any]
    timezone: str = "UTC"
    state: str = "ENABLED"
    description: str | None = None
    start: float | None = None
    end: float | None = None
    kms_key_arn: str | None = None
    after_completion: str = "NONE"
    client_token: str | None = None
    created: float = field(default_factory=time.time)
    modified: float = field(default_factory=time.time)
    #: When the loop fires it next (None: never again), and the scheduled time that firing
    #: stands for (they differ by a flexible window's random delay).
    next_fire: float | None = None
    planned: float | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:scheduler:{self.region}:{self.account}:schedule/{self.group}/{self.name}"

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.account, self.region, self.group, self.name)


class SchedulerStore:
    def __init__(self, path: Path) -> None:
        self._conn = open_durable(path)
        with write_transaction(self._conn) as conn:
            for statement in _SCHEMA.split(";"):
                conn.execute(statement)
        self._groups: dict[tuple[str, str, str], Group] = {}
        self._schedules: dict[tuple[str, str, str, str], ScheduleRecord] = {}
        #: (account, region) -> that scope's schedules, by key (ListSchedules, quotas).
        self._scopes: dict[tuple[str, str], dict[tuple[str, str, str, str], ScheduleRecord]] = {}
        for (record,) in self._conn.execute("SELECT record FROM groups"):
            group = Group(**json.loads(record))
            self._groups[(group.account, group.region, group.name)] = group
        #: (next firing, schedule key); entries a later put or delete left stale are skipped.
        self._heap: list[tuple[float, tuple[str, str, str, str]]] = []
        for (record,) in self._conn.execute("SELECT record FROM schedules"):
            self._keep(ScheduleRecord(**json.loads(record)))

    def _keep(self, schedule: ScheduleRecord) -> None:
        self._schedules[schedule.key] = schedule
        self._scopes.setdefault(schedule.key[:2], {})[schedule.key] = schedule
        self._index(schedule)

    def _drop(self, key: tuple[str, str, str, str]) -> None:
        self._schedules.pop(key, None)
        self._scopes.get(key[:2], {}).pop(key, None)

    def _index(self, schedule: ScheduleRecord) -> None:
        if schedule.next_fire is not None:
            heapq.heappush(self._heap, (schedule.next_fire, schedule.key))
        if len(self._heap) > 2 * len(self._schedules) + 1024:  # mostly stale: rebuild
            self._heap = [
                (s.next_fire, s.key) for s in self._schedules.values() if s.next_fire is not None
            ]
            heapq.heapify(self._heap)

    def due(self, now: float) -> list[ScheduleRecord]:
        """The schedules whose next firing is at or before `now` (taken off the heap: the
        caller stores each one again, with its next firing, or deletes it)."""
        found: dict[tuple[str, str, str, str], ScheduleRecord] = {}
        while self._heap and self._heap[0][0] <= now:
            moment, key = heapq.heappop(self._heap)
            schedule = self._schedules.get(key)
            if schedule is not None and schedule.next_fire == moment:
                found[key] = schedule
        return list(found.values())

    # -- groups ----------------------------------------------------------------------------------
    def group(self, account: str, region: str, name: str) -> Group | None:
        found = self._groups.get((account, region, name))
        if found is None and name == DEFAULT_GROUP:
            found = Group(account, region, DEFAULT_GROUP)
            self.put_group(found)
        return found

    def groups(self, account: str, region: str) -> list[Group]:
        self.group(account, region, DEFAULT_GROUP)
        return [g for (a, r, _), g in self._groups.items() if (a, r) == (account, region)]

    def put_group(self, group: Group) -> None:
        with write_transaction(self._conn) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO groups (account, region, name, record) VALUES (?, ?, ?, ?)",
                (group.account, group.region, group.name, json.dumps(asdict(group))),
            )
        self._groups[(group.account, group.region, group.name)] = group

    def delete_group(self, group: Group) -> None:
        """Delete a group and every schedule in it, in one transaction."""
        key = (group.account, group.region, group.name)
        with write_transaction(self._conn) as conn:
            conn.execute("DELETE FROM groups WHERE account = ? AND region = ? AND name = ?", key)
            conn.execute("DELETE FROM schedules WHERE account = ? AND region = ? AND grp = ?", key)
        self._groups.pop(key, None)
        for schedule_key in [k for k in self._scopes.get(key[:2], {}) if k[:3] == key]:
            self._drop(schedule_key)

    # -- schedules -------------------------------------------------------------------------------
    def schedule(self, account: str, region: str, group: str, name: str) -> ScheduleRecord | None:
        return self._schedules.get((account, region, group, name))

    def schedules(self, account: str, region: str) -> list[ScheduleRecord]:
        return list(self._scopes.get((account, region), {}).values())

    def count(self, account: str, region: str) -> int:
        return len(self._scopes.get((account, region), {}))

    def all_schedules(self) -> list[ScheduleRecord]:
        """Every schedule of every account and region (the firing loop's view)."""
        return list(self._schedules.values())

    def put_schedules(self, schedules: list[ScheduleRecord]) -> None:
        """Store `schedules` (new or changed), all in one transaction."""
        if not schedules:
            return
        with write_transaction(self._conn) as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO schedules (account, region, grp, name, record) "
                "VALUES (?, ?, ?, ?, ?)",
                [(*s.key, json.dumps(asdict(s))) for s in schedules],
            )
        for schedule in schedules:
            self._keep(schedule)

    def put_schedule(self, schedule: ScheduleRecord) -> None:
        self.put_schedules([schedule])

    def delete_schedules(self, schedules: list[ScheduleRecord]) -> None:
        if not schedules:
            return
        with write_transaction(self._conn) as conn:
            conn.executemany(
                "DELETE FROM schedules WHERE account = ? AND region = ? AND grp = ? AND name = ?",
                [s.key for s in schedules],
            )
        for schedule in schedules:
            self._drop(schedule.key)

    # -- retries ---------------------------------------------------------------------------------
    def retries(self) -> list[dict[str, Any]]:
        """The firings waiting to be tried again, as `save_retries` stored them."""
        return [
            json.loads(record) for (record,) in self._conn.execute("SELECT record FROM retries")
        ]

    def save_retries(self, pending: dict[str, dict[str, Any]], done: list[str]) -> None:
        """Store retries `pending` (by id) and forget those `done`, in one transaction."""
        if not pending and not done:
            return
        with write_transaction(self._conn) as conn:
            conn.executemany("DELETE FROM retries WHERE id = ?", [(i,) for i in done])
            conn.executemany(
                "INSERT OR REPLACE INTO retries (id, record) VALUES (?, ?)",
                [(i, json.dumps(record)) for i, record in pending.items()],
            )

    def close(self) -> None:
        self._conn.close()
