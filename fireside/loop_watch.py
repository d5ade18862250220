"""Event-loop stalls, found and named: what held the server's one thread too long.

Everything the server does runs on one event loop, so a blocking call on it (a write to a
cgroup that waits for an RCU grace period, a large computation) holds back every request in
flight. Such a stall shows in no benchmark's median, only as noise. With
`FIRESIDE_LOOP_WATCH_MS` set, a heartbeat on the loop notes when it last ran, and a thread
that wakes at the same pace logs the loop thread's stack once per stall longer than the
threshold: where the loop is stuck, taken while it is. The heartbeat logs how long each
lasted, and counts the stalls and the longest, for `/_fireside/health`.

Off by default: it wakes the loop and the thread about every half threshold. A process
descheduled by a busy machine looks stalled too; the stack then shows the loop waiting for
events (`run_forever`, `select`), which tells the two apart.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback

log = logging.getLogger(__name__)


class LoopWatch:
    """Watches `loop` for stalls longer than `threshold` seconds once `start()`ed."""

    def __init__(self, loop: asyncio.AbstractEventLoop, threshold: float) -> None:
        if threshold <= 0:
            raise ValueError("the threshold of a loop watch must be positive")
        self.threshold = threshold
        self._loop = loop
        self._period = threshold / 2
        self._last = time.monotonic()
        self._loop_thread = 0
        self._handle: asyncio.TimerHandle | None = None
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="loop-watch", daemon=True)
        #: Stalls past the threshold the heartbeat saw end, and the longest, in seconds.
        self.stalls = 0
        self.longest = 0.0
        #: The stack of the latest stall, as the thread saw it (for tests and the log).
        self.last_stack = ""

    def start(self) -> None:
        """Start watching; call on the loop's own thread."""
        self._loop_thread = threading.get_ident()
        self._last = time.monotonic()
        self._handle = self._loop.call_later(self._period, self._beat)
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self._thread.is_alive():
            self._thread.join()

    def stats(self) -> dict[str, float]:
        return {"stalls": self.stalls, "longest_ms": round(self.longest * 1000, 3)}

    def _beat(self) -> None:
        now = time.monotonic()
        late = now - self._last - self._period
        if late > self.threshold:
            self.stalls += 1
            self.longest = max(self.longest, late)
            log.warning("event loop stall over: it lasted %.1f ms", late * 1000)
        self._last = now
        if not self._stopped.is_set():
            self._handle = self._loop.call_later(self._period, self._beat)

    def _watch(self) -> None:
        reported: float | None = None  # the beat whose stall was reported
        while not self._stopped.wait(self._period):
            last = self._last
            late = time.monotonic() - last - self._period
            if late <= self.threshold or last == reported:
                continue
            reported = last  # once per stall: the next report needs a beat in between
            frame = sys._current_frames().get(self._loop_thread)
            if frame is None:
                continue
            stack = "".join(traceback.format_stack(frame))
            del frame
            self.last_stack = stack
            log.warning(
                "event loop stalled for %.1f ms so far, in:\n%s", late * 1000, stack.rstrip()
            )
