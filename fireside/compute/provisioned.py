"""Provisioned concurrency: environments initialised ahead of invokes for a version or alias.

PutProvisionedConcurrencyConfig asks for N environments of a published version (or of the
version an alias points at). Fireside starts them in the background, runs their Init with
`AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency`, and keeps them: they are never reaped
when idle and are replaced when one dies. Status goes IN_PROGRESS -> READY (or FAILED, with a
reason, when an Init fails). Invokes use them like any warm environment, so their first invoke
has no Init phase. Configurations are durable (the metadata store's `provisioned` table) and
are provisioned again after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.aws.pagination import marker_page
from fireside.compute.errors import invalid, invalid_marker, lambda_error
from fireside.compute.functions import LATEST, FunctionConfig, now_iso
from fireside.compute.registry import parse_function_name
from fireside.compute.versions import Versions, alias_not_found, is_version
from fireside.store.database import Database

log = logging.getLogger(__name__)

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
ConfigKey = tuple[str, str, str, str]  # (account, region, function, qualifier)
#: Starts (at most `count`) provisioned environments of a version; returns how many are ready.
Provision = Callable[[FunctionConfig, int], Awaitable[int]]
Release = Callable[[FunctionConfig], None]
CHECK_INTERVAL = 1.0  # seconds between checks that every provisioned environment is alive


@dataclass(slots=True)
class ProvisionedConfig:
    account: str
    region: str
    function: str
    qualifier: str
    requested: int
    last_modified: str = field(default_factory=now_iso)
    # Runtime state (not persisted).
    allocated: int = 0
    status: str = "IN_PROGRESS"
    status_reason: str | None = None

    @property
    def key(self) -> ConfigKey:
        return (self.account, self.region, self.function, self.qualifier)

    def to_json(self) -> str:
        return json.dumps(
            {k: v for k, v in dataclasses.asdict(self).items()
             if k not in ("allocated", "status", "status_reason")}
        )  # fmt: skip

    def to_wire(self, arn: str | None = None) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "RequestedProvisionedConcurrentExecutions": self.requested,
            "AvailableProvisionedConcurrentExecutions": self.allocated,
            "AllocatedProvisionedConcurrentExecutions": self.allocated,
            "Status": self.status,
            "LastModified": self.last_modified,
        }
        if arn is not None:
            wire["FunctionArn"] = arn
        if self.status_reason:
            wire["StatusReason"] = self.status_reason
        return wire


class Provisioner:
    """The stored configurations and the background work that keeps them allocated."""

    def __init__(self, db: Database, versions: Versions) -> None:
        self._db = db
        self._versions = versions
        self._configs: dict[ConfigKey, ProvisionedConfig] = {}
        self._tasks: dict[ConfigKey, asyncio.Task[None]] = {}
        self._provision: Provision | None = None
        self._release: Release | None = None
        for (text,) in db.query("SELECT record FROM provisioned"):
            config = ProvisionedConfig(**json.loads(str(text)))
            self._configs[config.key] = config

    def start(self, provision: Provision, release: Release) -> None:
        """Begin (or resume, after a restart) keeping every configuration allocated."""
        self._provision, self._release = provision, release
        for config in self._configs.values():
            self._run(config)

    def get(self, key: ConfigKey) -> ProvisionedConfig | None:
        return self._configs.get(key)

    def of_function(self, account: str, region: str, function: str) -> list[ProvisionedConfig]:
        return sorted(
            (c for c in self._configs.values() if c.key[:3] == (account, region, function)),
            key=lambda c: c.qualifier,
        )

    def put(self, config: ProvisionedConfig) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO provisioned (account, region, function, qualifier, "
                "record) VALUES (?, ?, ?, ?, ?)",
                (*config.key, config.to_json()),
            )
        previous = self._configs.get(config.key)
        self._configs[config.key] = config
        if previous is not None:
            self._stop(previous)
        self._run(config)

    def delete(self, config: ProvisionedConfig) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "DELETE FROM provisioned WHERE account = ? AND region = ? AND function = ? "
                "AND qualifier = ?",
                config.key,
            )
        self._configs.pop(config.key, None)
        self._stop(config)

    def forget_function(self, account: str, region: str, function: str) -> None:
        """The function was deleted: its configurations go with it."""
        for config in self.of_function(account, region, function):
            self.delete(config)

    def _version(self, config: ProvisionedConfig) -> FunctionConfig | None:
        try:
            version, _ = self._versions.resolve(
                config.account, config.region, config.function, config.qualifier
            )
        except ServiceError:
            return None
        return version

    def _run(self, config: ProvisionedConfig) -> None:
        if self._provision is None:
            return  # not started yet: start() picks it up
        task = asyncio.get_running_loop().create_task(self._keep(config))
        self._tasks[config.key] = task

    def _stop(self, config: ProvisionedConfig) -> None:
        task = self._tasks.pop(config.key, None)
        if task is not None:
            task.cancel()
        version = self._version(config)
        if version is not None and self._release is not None:
            self._release(version)

    async def _keep(self, config: ProvisionedConfig) -> None:
        assert self._provision is not None
        while self._configs.get(config.key) is config:
            version = self._version(config)
            if version is None or version.state != "Active":
                config.status = "FAILED"
                config.status_reason = "The function version is not active."
            else:
                config.allocated = await self._provision(version, config.requested)
                if config.allocated >= config.requested:
                    config.status, config.status_reason = "READY", None
                else:  # an Init failed, or the machine's environment bound was reached
                    config.status = "FAILED"
                    config.status_reason = "FUNCTION_ERROR_INIT_FAILURE"
            await asyncio.sleep(CHECK_INTERVAL)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class ProvisionedApi:
    def __init__(self, provisioner: Provisioner, versions: Versions) -> None:
        self._provisioner = provisioner
        self._versions = versions

    def operations(self) -> dict[str, Operation]:
        return {
            "PutProvisionedConcurrencyConfig": self.put,
            "GetProvisionedConcurrencyConfig": self.get,
            "DeleteProvisionedConcurrencyConfig": self.delete,
            "ListProvisionedConcurrencyConfigs": self.list,
        }

    def _target(
        self, ctx: RequestContext, params: dict[str, Any], on_latest: str
    ) -> tuple[FunctionConfig, ConfigKey]:
        name, qualifier = parse_function_name(
            params["FunctionName"], ctx.account_id, ctx.region, params.get("Qualifier")
        )
        if qualifier in (None, LATEST):
            raise invalid(on_latest)
        assert qualifier is not None
        version, _ = self._versions.resolve(
            ctx.account_id, ctx.region, name, qualifier, missing_alias=alias_not_found
        )
        return version, (ctx.account_id, ctx.region, name, qualifier)

    async def put(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        version, key = self._target(
            ctx, params,
            "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
        )  # fmt: skip
        if version.is_latest:  # an alias pointing at $LATEST
            raise invalid(
                "Provisioned Concurrency Configs cannot be applied to unpublished function "
                "versions."
            )
        qualifier = key[3]
        others = self._provisioner.of_function(*key[:3])
        if not is_version(qualifier):
            if any(c.qualifier == version.version for c in others):
                raise lambda_error(
                    "ResourceConflictException",
                    "Alias can't be used for Provisioned Concurrency configuration on an "
                    "already Provisioned version",
                    Type="User",
                )
        else:
            aliases = self._versions.aliases.of_function(*key[:3])
            pointing = {a.name for a in aliases if a.function_version == qualifier}
            if any(c.qualifier in pointing for c in others):
                raise lambda_error(
                    "ResourceConflictException",
                    "Version is pointed by a Provisioned Concurrency alias",
                    Type="User",
                )
        latest = self._versions.functions.require(*key[:3])
        reserved = latest.reserved_concurrency
        wanted = params["ProvisionedConcurrentExecutions"]
        if (
            reserved is not None
            and sum(c.requested for c in others if c.key != key) + wanted > reserved
        ):  # all versions count, as on AWS
            raise invalid(
                "Requested Provisioned Concurrency should not be greater than the "
                "reservedConcurrentExecution for function"
            )
        config = ProvisionedConfig(*key, requested=wanted)
        self._provisioner.put(config)
        return config.to_wire()

    async def get(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, key = self._target(
            ctx, params, "The function resource provided must be an alias or a published version."
        )
        config = self._provisioner.get(key)
        if config is None:
            raise lambda_error(
                "ProvisionedConcurrencyConfigNotFoundException",
                "No Provisioned Concurrency Config found for this function",
                Type="User",
            )
        return config.to_wire()

    async def delete(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        _, key = self._target(
            ctx, params, "The function resource provided must be an alias or a published version."
        )
        config = self._provisioner.get(key)
        if config is not None:
            self._provisioner.delete(config)
        return {}

    async def list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, _ = parse_function_name(params["FunctionName"], ctx.account_id, ctx.region)
        latest = self._versions.functions.require(ctx.account_id, ctx.region, name)
        configs = self._provisioner.of_function(ctx.account_id, ctx.region, name)
        page, marker = marker_page(
            configs,
            lambda c: (c.qualifier,),
            params,
            scope=f"ListProvisionedConcurrencyConfigs:{latest.arn}",
            invalid=invalid_marker,
        )
        result: dict[str, Any] = {
            "ProvisionedConcurrencyConfigs": [
                c.to_wire(f"{latest.arn}:{c.qualifier}") for c in page
            ]
        }
        if marker:
            result["NextMarker"] = marker
        return result
