"""Execution environments per function version: reuse warm ones, start new ones, bound, reap.

Environments are grouped by a function's (qualified ARN, RevisionId): an update changes the
revision, so new invokes start fresh environments while the old ones finish what they are doing
and are retired. The number of environments alive at once is bounded; past the bound an invoke
gets Lambda's 429 `TooManyRequestsException` at once instead of waiting in an unbounded queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from fireside.compute.credentials import REUSE_AGE
from fireside.compute.environment import Environment, Launch, State
from fireside.compute.errors import throttled
from fireside.compute.invocation import Invocation, Outcome, error_payload
from fireside.compute.logs import LogStore
from fireside.sandbox import SandboxBackend
from fireside.supervisor import TaskSet

log = logging.getLogger(__name__)

PoolKey = tuple[str, str]  # (qualified function ARN, revision id)
_DELIVERY_ATTEMPTS = 3  # environments an invocation may be handed to before it fails


@dataclass(slots=True)
class _Pool:
    idle: list[Environment] = field(default_factory=list)
    members: set[Environment] = field(default_factory=set)
    #: Environments kept initialised for provisioned concurrency: never reaped when idle.
    provisioned: set[Environment] = field(default_factory=set)
    #: Snapshot starts by initialised spares (runtimes that cannot be forked): an environment
    #: that ran Init ahead and has served nothing yet; a new one is made when it is taken.
    spare: Environment | None = None
    refilling: bool = False


class EnvironmentManager:
    def __init__(
        self,
        backend: SandboxBackend,
        logs: LogStore,
        *,
        max_environments: int,
        idle_timeout: float,
    ) -> None:
        self.backend = backend
        self._logs = logs
        self.max_environments = max_environments
        self.idle_timeout = idle_timeout
        self._pools: dict[PoolKey, _Pool] = {}
        self._all: set[Environment] = set()
        self._tasks = TaskSet("environments")

    def stats(self) -> dict[str, int]:
        idle = sum(len(pool.idle) for pool in self._pools.values())
        return {"environments": len(self._all), "idle": idle, "busy": len(self._all) - idle}

    async def invoke(
        self, launch_for: Callable[[], Launch], key: PoolKey, invocation: Invocation
    ) -> tuple[Outcome, str]:
        """Run `invocation` in a warm environment of `key`, or a new one built from `launch_for()`.

        An environment whose runtime exits before taking the invocation (its exit not yet seen
        when it was picked) never ran it: the invocation goes to another one.
        """
        for _ in range(_DELIVERY_ATTEMPTS):
            outcome, tail = await self._invoke_once(launch_for, key, invocation)
            if not outcome.undelivered:
                return outcome, tail
            invocation.outcome = asyncio.get_running_loop().create_future()
        message = (
            f"RequestId: {invocation.request_id} Error: Runtime exited before taking the event"
        )
        return Outcome(error_payload("Runtime.ExitError", message), "Unhandled", fatal=True), ""

    async def _invoke_once(
        self, launch_for: Callable[[], Launch], key: PoolKey, invocation: Invocation
    ) -> tuple[Outcome, str]:
        environment = self._take_idle(key)
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool()
        if environment is None:
            if len(self._all) >= self.max_environments:
                self._evict_idle_elsewhere(key)
            if len(self._all) >= self.max_environments:
                raise throttled("ConcurrentInvocationLimitExceeded")
            environment = self._new_environment(launch_for, pool)
            try:
                await environment.start()
            except BaseException:
                self._forget(key, environment)
                await environment.stop()
                raise
        try:
            outcome, tail = await environment.invoke(invocation)
        except BaseException:
            self._forget(key, environment)
            self._spawn(environment.stop())
            raise
        if environment.settling is not None:  # its extensions are still at work
            self._spawn(self._after_settling(key, pool, environment))
        else:
            self._put_back(key, pool, environment)
        return outcome, tail

    def _new_environment(self, launch_for: Callable[[], Launch], pool: _Pool) -> Environment:
        """A new (not yet started) environment, counted toward the bound and its pool."""
        launch = launch_for()
        environment = Environment(
            launch,
            self.backend,
            self._logs.get(launch.config.account, launch.config.region, launch.config.name),
        )
        self._all.add(environment)
        pool.members.add(environment)
        return environment

    def _take_idle(self, key: PoolKey) -> Environment | None:
        """A warm environment of `key`. One whose runtime exited since its last invoke (Ruby's and
        Node's runtimes exit after reporting a fatal error) is dropped, not handed an event."""
        pool = self._pools.get(key)
        while pool is not None and pool.idle:
            environment = pool.idle.pop()
            if pool.spare is environment:
                pool.spare = None  # an ordinary environment from now on
            if environment.state is not State.DEAD and not _too_old(environment):
                return environment
            self._forget(key, environment)
            self._spawn(environment.stop())
        return None

    async def _after_settling(self, key: PoolKey, pool: _Pool, environment: Environment) -> None:
        settling, environment.settling = environment.settling, None
        if settling is not None:
            await settling
        self._put_back(key, pool, environment)

    def _put_back(self, key: PoolKey, pool: _Pool, environment: Environment) -> None:
        if environment.state is State.IDLE and self._pools.get(key) is pool:
            pool.idle.append(environment)
        else:
            self._forget(key, environment)
            if environment.state is not State.DEAD:
                self._spawn(environment.stop())

    def _forget(self, key: PoolKey, environment: Environment) -> None:
        self._all.discard(environment)
        pool = self._pools.get(key)
        if pool is not None and environment in pool.members:
            pool.members.discard(environment)
            pool.provisioned.discard(environment)
            if pool.spare is environment:
                pool.spare = None
            with contextlib.suppress(ValueError):
                pool.idle.remove(environment)
            if not pool.members:
                del self._pools[key]

    def _evict_idle_elsewhere(self, key: PoolKey) -> None:
        """At the bound, an idle environment of another function makes room (oldest first)."""
        candidates = [
            (env.last_used, pool_key, env)
            for pool_key, pool in self._pools.items()
            if pool_key != key
            for env in pool.idle
            if env not in pool.provisioned  # paid-for capacity is not evicted
        ]
        if candidates:
            _, pool_key, env = min(candidates, key=lambda item: item[0])
            self._forget(pool_key, env)
            self._spawn(env.stop())

    def retire(self, function_arn: str, qualifier: str | None = None) -> None:
        """Stop serving new invokes from every environment of a function (all revisions), or
        of one of its versions.

        Idle environments stop now; busy ones finish their invoke, find their pool gone and
        are stopped then (see `invoke`).
        """
        wanted = f"{function_arn}:{qualifier}" if qualifier else None
        for key in [
            k
            for k in self._pools
            if (k[0] == wanted if wanted else k[0].rsplit(":", 1)[0] == function_arn)
        ]:
            pool = self._pools.pop(key)
            for env in pool.idle:
                self._all.discard(env)
                self._spawn(env.stop())
        # Snapshot templates of what was retired, and the credentials baked into them.
        prefix = f"{wanted}#" if wanted else f"{function_arn}:"
        self._spawn(self.backend.forget_snapshots(prefix))

    async def reap_forever(self) -> None:
        """Stop environments idle for longer than `idle_timeout`."""
        while True:
            await asyncio.sleep(min(5.0, max(0.5, self.idle_timeout / 4)))
            self.reap()

    async def provision(self, launch_for: Callable[[], Launch], key: PoolKey, count: int) -> int:
        """Keep `count` initialised environments for `key` (provisioned concurrency), starting
        what is missing, one at a time; returns how many are ready. Extra ones are released
        to the idle reaper."""
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool()
        pool.provisioned = {env for env in pool.provisioned if env.state is not State.DEAD}
        while len(pool.provisioned) > count:
            pool.provisioned.pop()
        while len(pool.provisioned) < count and self._pools.get(key) is pool:
            if len(self._all) >= self.max_environments:
                self._evict_idle_elsewhere(key)
            if len(self._all) >= self.max_environments:
                break  # the machine's bound: the rest stays unallocated (status says so)
            environment = self._new_environment(launch_for, pool)
            await environment.start()
            if not await environment.initialize():
                self._forget(key, environment)
                break
            pool.provisioned.add(environment)
            pool.idle.append(environment)
        return len(pool.provisioned)

    async def keep_spare(self, launch_for: Callable[[], Launch], key: PoolKey) -> None:
        """Keep one initialised spare environment for `key` (snapshot starts of runtimes that
        cannot be forked): Init runs ahead, so the next start that needs a new environment
        finds one ready."""
        pool = self._pools.get(key)
        if pool is None:
            pool = self._pools[key] = _Pool()
        if pool.refilling or (pool.spare is not None and pool.spare.state is not State.DEAD):
            return
        if len(self._all) >= self.max_environments:
            return  # spares never take an invoke's place
        pool.refilling = True
        try:
            environment = self._new_environment(launch_for, pool)
            await environment.start()
            if not await environment.initialize():
                self._forget(key, environment)
                return
            if self._pools.get(key) is not pool:  # retired meanwhile
                self._forget(key, environment)
                await environment.stop()
                return
            pool.spare = environment
            pool.idle.insert(0, environment)  # taken only when no used one is idle
        finally:
            pool.refilling = False

    def prepare_spare(self, launch_for: Callable[[], Launch], key: PoolKey) -> None:
        """Start making a spare for `key` in the background, unless one exists or is coming."""
        pool = self._pools.get(key)
        if pool is not None and (
            pool.refilling or (pool.spare is not None and pool.spare.state is not State.DEAD)
        ):
            return
        self._spawn(self.keep_spare(launch_for, key))

    def release_provisioned(self, key: PoolKey) -> None:
        pool = self._pools.get(key)
        if pool is not None:
            pool.provisioned.clear()

    def reap(self) -> None:
        deadline = time.monotonic() - self.idle_timeout
        for key, pool in list(self._pools.items()):
            for env in [
                env
                for env in pool.idle
                if _too_old(env)  # provisioned ones too: the provisioner starts a new one
                or (
                    env.last_used < deadline
                    and env not in pool.provisioned
                    and env is not pool.spare
                )
            ]:
                self._forget(key, env)
                self._spawn(env.stop())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        self._tasks.spawn(coro)

    async def close(self) -> None:
        """Stop every environment (shutdown)."""
        environments = list(self._all)
        self._pools.clear()
        self._all.clear()
        await asyncio.gather(*(env.stop() for env in environments), return_exceptions=True)
        await self._tasks.wait()


def _too_old(environment: Environment) -> bool:
    """Past the age after which an invoke could outlive the environment's credentials."""
    return time.monotonic() - environment.created > REUSE_AGE
