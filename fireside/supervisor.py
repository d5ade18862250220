"""Supervision of the server's background loops, and an orderly shutdown.

Each long-lived loop (the environment reaper, the Event dispatcher, the S3 record outbox, the
tables' TTL sweep) runs as a task this supervisor owns. A loop must never end: one that raises
(or returns) is logged with its traceback and started again after a back-off (1 s, doubling up
to a minute, reset once it has run for a minute), so a bug costs a delay, never a silent stop
of Event delivery or TTL expiry. Health reports each loop's real state and each service's:
`running`, or `degraded` while one of its loops is waiting to restart.

Short-lived work (stopping an environment, unpacking code, delivering one event) is spawned
into a `TaskSet`: the set holds a reference until the task ends (so it is never collected
mid-flight), logs a failure instead of dropping it, and cancels what is left on `close`.

`close_all` runs shutdown steps in order and goes on past one that fails, so every part gets
its chance to close (and the failure is logged).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Supervisor", "TaskSet", "close_all"]

log = logging.getLogger(__name__)

LoopFactory = Callable[[], Coroutine[Any, Any, None]]


@dataclass(slots=True)
class _Loop:
    service: str
    name: str
    factory: LoopFactory
    state: str = "starting"
    restarts: int = 0
    last_error: str | None = None
    task: asyncio.Task[None] | None = field(default=None, repr=False)


class Supervisor:
    def __init__(self, *, first_delay: float = 1.0, max_delay: float = 60.0) -> None:
        self._first_delay = first_delay
        self._max_delay = max_delay
        self._loops: list[_Loop] = []
        self._services: set[str] = set()

    def declare(self, service: str) -> None:
        """A service with no loops of its own: reported `running` while the server is."""
        self._services.add(service)

    def start(self, service: str, name: str, factory: LoopFactory) -> None:
        """Run `factory()` for as long as the server runs, restarting it when it ends."""
        self._services.add(service)
        loop = _Loop(service, name, factory)
        loop.task = asyncio.get_running_loop().create_task(self._keep(loop), name=name)
        self._loops.append(loop)

    async def _keep(self, loop: _Loop) -> None:
        delay = self._first_delay
        while True:
            loop.state = "running"
            started = time.monotonic()
            try:
                await loop.factory()
            except asyncio.CancelledError:
                loop.state = "stopped"
                raise
            except Exception as exc:
                loop.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("%s: background loop %r crashed", loop.service, loop.name)
            else:
                loop.last_error = "ended without an error"
                log.error("%s: background loop %r ended; it must not", loop.service, loop.name)
            if time.monotonic() - started >= self._max_delay:
                delay = self._first_delay  # it ran well for a while: not a crash loop
            loop.state = "restarting"
            loop.restarts += 1
            log.error("%s: restarting %r in %.1f s", loop.service, loop.name, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_delay)

    def health(self) -> dict[str, Any]:
        """Each service's state, with its loops' (what `/_fireside/health` shows)."""
        report: dict[str, Any] = {}
        for service in sorted(self._services):
            loops = [loop for loop in self._loops if loop.service == service]
            healthy = all(loop.state in ("starting", "running") for loop in loops)
            entry: dict[str, Any] = {"status": "running" if healthy else "degraded"}
            if loops:
                entry["loops"] = {
                    loop.name: {
                        "state": loop.state,
                        "restarts": loop.restarts,
                        **({"last_error": loop.last_error} if loop.last_error else {}),
                    }
                    for loop in loops
                }
            report[service] = entry
        return report

    async def close(self) -> None:
        tasks = [loop.task for loop in self._loops if loop.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class TaskSet:
    """Tasks owned by one component: each logged if it fails, all cancelled on `close`."""

    def __init__(self, owner: str) -> None:
        self._owner = owner
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def spawn(self, work: Coroutine[Any, Any, None], name: str | None = None) -> None:
        task = asyncio.get_running_loop().create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "%s: background task %s failed", self._owner, task.get_name(),
                exc_info=task.exception(),
            )  # fmt: skip

    async def wait(self) -> None:
        """Wait for the tasks running now to end (their failures are logged, not raised)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await self.wait()


async def close_all(steps: list[tuple[str, Callable[[], object]]]) -> None:
    """Run each shutdown step (awaiting it if it returns an awaitable), in order, logging and
    skipping past a step that fails so that the later ones still run."""
    for name, step in steps:
        try:
            result = step()
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("shutdown: closing %s failed; closing the rest", name)
