"""Spare, pre-started sandboxes, so that a cold start skips creating one (Lambda keeps pools of
booted microVMs for the same reason).

A spare is made before anyone asks for it, from what every environment of one *key* shares (the
runtime, the interpreter's start-up environment, the network and `/tmp` size), and handed the
function's own parts when taken. Each spare serves exactly one environment and is never reused:
nothing of one function's run can reach another's.

Keys are learnt from demand: a key gets spares only after a start asked for it, and loses them
when nobody has asked for `lifetime` seconds. At most `max_keys` keys keep spares.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
S = TypeVar("S")


@dataclass(frozen=True)
class WarmSettings:
    """What a backend's pools keep: `spares` ready per kind of environment (0: none), for
    `lifetime` seconds after a start last asked for that kind."""

    spares: int = 1
    lifetime: float = 600.0


DEFAULT_WARM = WarmSettings()


class WarmPool(Generic[K, S]):
    def __init__(
        self,
        make: Callable[[K], Coroutine[object, object, S]],
        discard: Callable[[S], Coroutine[object, object, None]],
        alive: Callable[[S], bool],
        *,
        spares: int = 1,
        lifetime: float = 600.0,
        max_keys: int = 4,
        refill_delay: float = 0.1,
    ) -> None:
        self._make, self._discard, self._alive = make, discard, alive
        self.spares, self.lifetime, self.max_keys = spares, lifetime, max_keys
        #: Making a spare takes CPU; started at once, it would slow the very start it replaces.
        self.refill_delay = refill_delay
        self._ready: dict[K, list[S]] = {}
        self._wanted: dict[K, float] = {}  # key -> when a start last asked for it
        self._fillers: dict[K, asyncio.Task[None]] = {}
        self._janitor: asyncio.Task[None] | None = None
        self.hits = 0
        self.misses = 0

    def take(self, key: K) -> S | None:
        """A live spare for `key`, or None; either way the pool starts refilling `key`."""
        if self.spares <= 0:
            return None
        self._wanted[key] = time.monotonic()
        self._wanted[key] = self._wanted.pop(key)  # most recently wanted last
        found: S | None = None
        ready = self._ready.get(key, [])
        while ready:
            spare = ready.pop(0)
            if self._alive(spare):
                found = spare
                break
            self._spawn_discard(spare)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        self._evict_extra_keys()
        self._refill(key)
        if self._janitor is None:
            self._janitor = asyncio.get_running_loop().create_task(self._expire_forever())
        return found

    def stats(self) -> dict[str, int]:
        return {
            "spares": sum(len(v) for v in self._ready.values()),
            #: Kinds of environment with demand, and how many of them have a spare ready.
            "kinds": len(self._wanted),
            "kinds_ready": sum(1 for key in self._wanted if self._ready.get(key)),
            "hits": self.hits,
            "misses": self.misses,
        }

    def _refill(self, key: K) -> None:
        filler = self._fillers.get(key)
        if filler is None or filler.done():
            self._fillers[key] = asyncio.get_running_loop().create_task(self._fill(key))

    async def _fill(self, key: K) -> None:
        await asyncio.sleep(self.refill_delay)
        while key in self._wanted and len(self._ready.get(key, [])) < self.spares:
            try:
                spare = await self._make(key)
            except Exception:
                # Not retried until the next start asks for this key: a broken key must not
                # spin, and a cold start still works (it reports its own error).
                log.warning("could not pre-start a spare environment", exc_info=True)
                return
            if key not in self._wanted:  # expired meanwhile
                await self._discard(spare)
                return
            self._ready.setdefault(key, []).append(spare)

    def prune(self, key: K) -> None:
        """Discard `key`'s spares that died while waiting, and make new ones if still wanted
        (for backends that learn of a spare's death: one not pruned waits for a `take`)."""
        ready = self._ready.get(key, [])
        dead = [spare for spare in ready if not self._alive(spare)]
        for spare in dead:
            ready.remove(spare)
            self._spawn_discard(spare)
        if dead and key in self._wanted:
            self._refill(key)

    def _evict_extra_keys(self) -> None:
        while len(self._wanted) > self.max_keys:
            oldest = next(iter(self._wanted))
            self._drop(oldest)

    def forget(self, key: K) -> None:
        """No more spares for `key` (its version is gone); those made are discarded."""
        self._drop(key)

    def _drop(self, key: K) -> None:
        self._wanted.pop(key, None)
        for spare in self._ready.pop(key, []):
            self._spawn_discard(spare)

    def _spawn_discard(self, spare: S) -> None:
        asyncio.get_running_loop().create_task(self._discard(spare))

    async def _expire_forever(self) -> None:
        while True:
            await asyncio.sleep(max(1.0, self.lifetime / 4))
            now = time.monotonic()
            for key, when in list(self._wanted.items()):
                if now - when > self.lifetime:
                    self._drop(key)

    async def close(self) -> None:
        # Fillers are not cancelled mid-start (that could strand a half-made sandbox): with no
        # key wanted, each discards what it is making and ends.
        self._wanted.clear()
        if self._janitor is not None:
            self._janitor.cancel()
        fillers = list(self._fillers.values())
        if fillers:
            await asyncio.wait(fillers, timeout=30)
        spares = [spare for ready in self._ready.values() for spare in ready]
        self._ready.clear()
        await asyncio.gather(*(self._discard(s) for s in spares), return_exceptions=True)
