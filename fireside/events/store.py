"""The durable store of EventBridge: event buses and rules (with their targets), per account
and region, in their own SQLite file.

A rule is small (a pattern, at most five targets, a few tags) and is always read and changed
as a whole, so each rule is one JSON record rewritten in one fsynced transaction; so is each
bus. Everything is also held in memory, with each rule's pattern compiled once: PutEvents
matches against memory and never reads the disk.

Every account and region has a `default` bus; it is created (and stored) the first time it
is asked for, so its creation time stays put across restarts.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from fireside.patterns import Pattern, compile_pattern
from fireside.store.database import open_durable, write_transaction

__all__ = ["DEFAULT_BUS", "Bus", "EventStore", "Rule"]

DEFAULT_BUS = "default"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS buses (
    account TEXT NOT NULL,
    region  TEXT NOT NULL,
    name    TEXT NOT NULL,
    record  TEXT NOT NULL,           -- JSON of Bus
    PRIMARY KEY (account, region, name)
);
CREATE TABLE IF NOT EXISTS rules (
    account TEXT NOT NULL,
    region  TEXT NOT NULL,
    bus     TEXT NOT NULL,
    name    TEXT NOT NULL,
    record  TEXT NOT NULL,           -- JSON of Rule
    PRIMARY KEY (account, region, bus, name)
)
"""


@dataclass(slots=True)
class Bus:
    account: str
    region: str
    name: str
    description: str | None = None
    created: float = field(default_factory=time.time)
    modified: float = field(default_factory=time.time)
    tags: dict[str, str] = field(default_factory=dict)
    #: The bus's resource policy (JSON text), set by PutPermission; None when it has none.
    policy: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:events:{self.region}:{self.account}:event-bus/{self.name}"


@dataclass(slots=True)
class Rule:
    account: str
    region: str
    bus: str
    name: str
    event_pattern: str | None = None
    schedule: str | None = None
    state: str = "ENABLED"
    description: str | None = None
    role_arn: str | None = None
    managed_by: str | None = None
    #: Target id -> the target as PutTargets took it (wire shape), in the order put.
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    created: float = field(default_factory=time.time)
    _pattern: Pattern | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def arn(self) -> str:
        path = self.name if self.bus == DEFAULT_BUS else f"{self.bus}/{self.name}"
        return f"arn:aws:events:{self.region}:{self.account}:rule/{path}"

    @property
    def pattern(self) -> Pattern | None:
        """The compiled event pattern (None for a schedule-only rule)."""
        if self._pattern is None and self.event_pattern is not None:
            self._pattern = compile_pattern(self.event_pattern)
        return self._pattern

    def record(self) -> str:
        return json.dumps({f.name: getattr(self, f.name) for f in fields(self) if f.init})


class EventStore:
    def __init__(self, path: Path) -> None:
        self._conn = open_durable(path)
        with write_transaction(self._conn) as conn:
            for statement in _SCHEMA.split(";"):
                conn.execute(statement)
        #: The connection, shared by the archive and retry tables of the same file.
        self.conn = self._conn
        self._buses: dict[tuple[str, str, str], Bus] = {}
        self._rules: dict[tuple[str, str, str], dict[str, Rule]] = {}
        for (record,) in self._conn.execute("SELECT record FROM buses"):
            bus = Bus(**json.loads(record))
            self._buses[(bus.account, bus.region, bus.name)] = bus
        for (record,) in self._conn.execute("SELECT record FROM rules ORDER BY name"):
            rule = Rule(**json.loads(record))
            self._rules.setdefault((rule.account, rule.region, rule.bus), {})[rule.name] = rule

    # -- buses -----------------------------------------------------------------------------------
    def bus(self, account: str, region: str, name: str) -> Bus | None:
        found = self._buses.get((account, region, name))
        if found is None and name == DEFAULT_BUS:
            found = Bus(account, region, DEFAULT_BUS)
            self.put_bus(found)
        return found

    def buses(self, account: str, region: str) -> list[Bus]:
        self.bus(account, region, DEFAULT_BUS)
        return [b for (a, r, _), b in self._buses.items() if (a, r) == (account, region)]

    def put_bus(self, bus: Bus) -> None:
        with write_transaction(self._conn) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO buses (account, region, name, record) VALUES (?, ?, ?, ?)",
                (bus.account, bus.region, bus.name, json.dumps(asdict(bus))),
            )
        self._buses[(bus.account, bus.region, bus.name)] = bus

    def delete_bus(self, bus: Bus) -> None:
        """Delete a bus and every rule on it."""
        with write_transaction(self._conn) as conn:
            key = (bus.account, bus.region, bus.name)
            conn.execute("DELETE FROM buses WHERE account = ? AND region = ? AND name = ?", key)
            conn.execute("DELETE FROM rules WHERE account = ? AND region = ? AND bus = ?", key)
        self._buses.pop((bus.account, bus.region, bus.name), None)
        self._rules.pop((bus.account, bus.region, bus.name), None)

    # -- rules -----------------------------------------------------------------------------------
    def rule(self, account: str, region: str, bus: str, name: str) -> Rule | None:
        return self._rules.get((account, region, bus), {}).get(name)

    def rules(self, account: str, region: str, bus: str) -> list[Rule]:
        return list(self._rules.get((account, region, bus), {}).values())

    def all_rules(self, account: str, region: str) -> list[Rule]:
        return [
            rule
            for (a, r, _), rules in self._rules.items()
            if (a, r) == (account, region)
            for rule in rules.values()
        ]

    def scheduled_rules(self) -> list[Rule]:
        """Every rule with a schedule expression, of every account and region."""
        return [rule for rules in self._rules.values() for rule in rules.values() if rule.schedule]

    def put_rule(self, rule: Rule) -> None:
        rule._pattern = None  # recompiled on first use
        with write_transaction(self._conn) as conn:
            conn.execute(
                "INSERT OR REPLACE INTO rules (account, region, bus, name, record) "
                "VALUES (?, ?, ?, ?, ?)",
                (rule.account, rule.region, rule.bus, rule.name, rule.record()),
            )
        self._rules.setdefault((rule.account, rule.region, rule.bus), {})[rule.name] = rule

    def delete_rule(self, rule: Rule) -> None:
        with write_transaction(self._conn) as conn:
            conn.execute(
                "DELETE FROM rules WHERE account = ? AND region = ? AND bus = ? AND name = ?",
                (rule.account, rule.region, rule.bus, rule.name),
            )
        self._rules.get((rule.account, rule.region, rule.bus), {}).pop(rule.name, None)

    def close(self) -> None:
        self._conn.close()
