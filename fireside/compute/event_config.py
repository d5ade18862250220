"""Event invoke configurations: how Lambda handles asynchronous invokes of a function, version
or alias (`MaximumRetryAttempts`, `MaximumEventAgeInSeconds`, `DestinationConfig`).

One configuration per (function, qualifier), the qualifier being `$LATEST`, a version or an
alias, exactly as invoked: an Event invoke of alias `live` follows `live`'s configuration, not
that of the version `live` points at. Stored in the metadata store's `event_invoke_configs`
table behind an in-memory map; the async queue asks `policy()` for every event it delivers, so
a change applies to events already queued. A value left unset reads as Lambda's default (2
retries, 6 hours), and the API shows it unset, as AWS does.
"""

from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from typing import Any

from fireside.aws.errors import ServiceError
from fireside.compute.async_queue import AsyncPolicy, QueuedEvent
from fireside.compute.destinations import destination
from fireside.compute.versions import Versions
from fireside.store.database import Database

ConfigKey = tuple[str, str, str, str]  # (account, region, function, qualifier)


@dataclass(frozen=True, slots=True)
class EventInvokeConfig:
    account: str
    region: str
    function: str
    qualifier: str
    last_modified: float
    maximum_retry_attempts: int | None = None
    maximum_event_age: int | None = None
    on_success: str | None = None  # destination ARNs
    on_failure: str | None = None

    @property
    def key(self) -> ConfigKey:
        return (self.account, self.region, self.function, self.qualifier)

    @property
    def function_arn(self) -> str:
        return (
            f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function}:{self.qualifier}"
        )

    def evolve(self, **changes: Any) -> EventInvokeConfig:
        return dataclasses.replace(self, last_modified=time.time(), **changes)

    def to_wire(self) -> dict[str, Any]:
        def destination(arn: str | None) -> dict[str, str]:
            return {} if arn is None else {"Destination": arn}

        wire: dict[str, Any] = {
            "LastModified": self.last_modified,
            "FunctionArn": self.function_arn,
            "DestinationConfig": {
                "OnSuccess": destination(self.on_success),
                "OnFailure": destination(self.on_failure),
            },
        }
        if self.maximum_retry_attempts is not None:
            wire["MaximumRetryAttempts"] = self.maximum_retry_attempts
        if self.maximum_event_age is not None:
            wire["MaximumEventAgeInSeconds"] = self.maximum_event_age
        return wire


class EventConfigs:
    """Every event invoke configuration, and the policy the async queue applies per event."""

    def __init__(self, db: Database, versions: Versions) -> None:
        self._db = db
        self._versions = versions
        self._configs: dict[ConfigKey, EventInvokeConfig] = {}
        for (text,) in db.query("SELECT record FROM event_invoke_configs"):
            config = EventInvokeConfig(**json.loads(str(text)))
            self._configs[config.key] = config
        # A crash between deleting a function (or version, alias) and its configuration
        # leaves one behind; it must not come back with a new function of that name.
        for config in [c for c in self._configs.values() if not versions.exists(*c.key)]:
            self.delete(config)

    def get(self, key: ConfigKey) -> EventInvokeConfig | None:
        return self._configs.get(key)

    def of_function(self, account: str, region: str, function: str) -> list[EventInvokeConfig]:
        return sorted(
            (c for c in self._configs.values() if c.key[:3] == (account, region, function)),
            key=lambda c: c.function_arn,
        )

    def put(self, config: EventInvokeConfig) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO event_invoke_configs (account, region, function, "
                "qualifier, record) VALUES (?, ?, ?, ?, ?)",
                (*config.key, json.dumps(dataclasses.asdict(config))),
            )
        self._configs[config.key] = config

    def delete(self, config: EventInvokeConfig) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "DELETE FROM event_invoke_configs WHERE account = ? AND region = ? "
                "AND function = ? AND qualifier = ?",
                config.key,
            )
        self._configs.pop(config.key, None)

    def forget(self, account: str, region: str, function: str, qualifier: str) -> None:
        """A version or alias was deleted: its configuration goes with it."""
        config = self._configs.get((account, region, function, qualifier))
        if config is not None:
            self.delete(config)

    def forget_function(self, account: str, region: str, function: str) -> None:
        """The function was deleted: every configuration of it goes with it."""
        for config in self.of_function(account, region, function):
            self.delete(config)

    # -- what the async queue asks -------------------------------------------------------------
    def _dead_letter(self, event: QueuedEvent) -> str | None:
        """The DeadLetterConfig of the version the event ran (or would have run)."""
        try:
            function, _ = self._versions.resolve(
                event.account, event.region, event.function, event.qualifier
            )
        except ServiceError:
            return None  # deleted since: nowhere to send it
        return function.dead_letter_arn

    def policy(self, event: QueuedEvent) -> AsyncPolicy:
        latest = self._versions.functions.get(event.account, event.region, event.function)
        zero = latest is not None and latest.reserved_concurrency == 0
        config = self._configs.get((event.account, event.region, event.function, event.qualifier))
        dead_letter = self._dead_letter(event)
        if config is None:
            return AsyncPolicy(zero_concurrency=zero, dead_letter=dead_letter)
        return AsyncPolicy(
            dead_letter=dead_letter,
            max_retries=config.maximum_retry_attempts,
            max_age=None if config.maximum_event_age is None else float(config.maximum_event_age),
            on_success=None if config.on_success is None else destination(config.on_success),
            on_failure=None if config.on_failure is None else destination(config.on_failure),
            zero_concurrency=zero,
        )
