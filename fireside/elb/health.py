"""Health checks of Lambda targets, and the health DescribeTargetHealth reports.

As on AWS, a Lambda target group checks its function only when health checks are enabled
(they are off by default for Lambda) and a listener or rule forwards to it: every
`HealthCheckIntervalSeconds` the function gets a health-check event (`GET` of
`HealthCheckPath`, `user-agent: ELB-HealthChecker/2.0`), and its answer's `statusCode` must
match the `Matcher`. A target is `initial` until its first check, `healthy` after one pass,
`unhealthy` after `UnhealthyThresholdCount` failures in a row, and healthy again after
`HealthyThresholdCount` passes in a row. Health lives in memory only: after a restart targets
start `initial` again, as a new load balancer node would see them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from fireside.elb.actions import users_of
from fireside.elb.state import ElbState, Resource

__all__ = ["Probe", "TargetHealth", "matches"]

log = logging.getLogger(__name__)

#: (target group, target id, timeout) -> (passed, reason, description) of one check.
Probe = Callable[[Resource, str, float], Awaitable[tuple[bool, str, str]]]

_TICK: Final = 1.0
_CONCURRENT: Final = 16


@dataclass(slots=True)
class _Health:
    state: str = "initial"
    reason: str = "Elb.InitialHealthChecking"
    description: str = "Initial health checks in progress"
    passes: int = 0
    fails: int = 0
    due: float = 0.0
    running: bool = False


def matches(code: int, matcher: str) -> bool:
    """Whether status `code` matches a Matcher's HttpCode ("200", "200-299", "200,302")."""
    for part in matcher.split(","):
        low, _, high = part.partition("-")
        if low.isdigit() and int(low) <= code <= int(high or low):
            return True
    return False


class TargetHealth:
    def __init__(self, state: ElbState, probe: Probe | None = None) -> None:
        self.state = state
        self.probe = probe
        self._health: dict[tuple[str, str], _Health] = {}
        self._slots = asyncio.Semaphore(_CONCURRENT)
        self._tasks: set[asyncio.Task[None]] = set()

    def registered(self, group: str, key: str) -> None:
        self._health[(group, key)] = _Health()

    def forget(self, group: str, key: str | None = None) -> None:
        for found in [k for k in self._health if k[0] == group and key in (None, k[1])]:
            del self._health[found]

    def describe(self, group: Resource, key: str, in_use: bool) -> dict[str, Any]:
        if group.data["TargetType"] != "lambda":
            if not in_use:
                return _unused()
            return {
                "State": "unavailable",
                "Reason": "Elb.InternalError",
                "Description": f"Fireside does not send traffic to targets of type "
                f"'{group.data['TargetType']}'",
            }
        if not group.data.get("HealthCheckEnabled"):
            return {
                "State": "unavailable",
                "Reason": "Target.HealthCheckDisabled",
                "Description": "Health checks are disabled",
            }
        if not in_use:
            return _unused()
        health = self._health.setdefault((group.arn, key), _Health())
        out = {"State": health.state}
        if health.state != "healthy":
            out["Reason"] = health.reason
            out["Description"] = health.description
        return out

    # -- checking ---------------------------------------------------------------------------
    async def run(self) -> None:
        try:
            while True:
                now = time.monotonic()
                for group in list(self.state.resources.values()):
                    if (
                        group.kind != "targetgroup"
                        or group.data.get("TargetType") != "lambda"
                        or not group.data.get("HealthCheckEnabled")
                        or not group.targets
                        or not users_of(self.state, group.arn)
                    ):
                        continue
                    for key in list(group.targets):
                        health = self._health.setdefault((group.arn, key), _Health())
                        if health.running or health.due > now:
                            continue
                        health.running = True
                        health.due = now + float(group.data["HealthCheckIntervalSeconds"])
                        task = asyncio.create_task(self._check(group, key, health))
                        self._tasks.add(task)
                        task.add_done_callback(self._tasks.discard)
                await asyncio.sleep(_TICK)
        finally:
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(BaseException):
                    await task

    async def _check(self, group: Resource, key: str, health: _Health) -> None:
        try:
            if self.probe is None:
                return
            async with self._slots:
                try:
                    passed, reason, description = await self.probe(
                        group, key, float(group.data["HealthCheckTimeoutSeconds"])
                    )
                except Exception:
                    log.exception("health check of %s in %s failed", key, group.arn)
                    passed, reason, description = False, "Elb.InternalError", "Health check failed"
            self._record(group, health, passed, reason, description)
        finally:
            health.running = False

    @staticmethod
    def _record(
        group: Resource, health: _Health, passed: bool, reason: str, description: str
    ) -> None:
        if passed:
            health.passes, health.fails = health.passes + 1, 0
            if health.state == "initial" or health.passes >= group.data["HealthyThresholdCount"]:
                health.state = "healthy"
            return
        health.passes, health.fails = 0, health.fails + 1
        health.reason, health.description = reason, description
        if health.fails >= group.data["UnhealthyThresholdCount"]:
            health.state = "unhealthy"


def _unused() -> dict[str, Any]:
    return {
        "State": "unused",
        "Reason": "Target.NotInUse",
        "Description": "Target group is not configured to receive traffic from the load balancer",
    }
