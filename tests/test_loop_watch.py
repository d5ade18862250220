"""The event-loop watch: a stall is counted, measured and named by the stack that caused it."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from fireside.loop_watch import LoopWatch


def _hold_the_loop(seconds: float) -> None:
    time.sleep(seconds)  # a blocking call on the loop: the stall being watched for


def test_a_stall_is_counted_and_named(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> LoopWatch:
        watch = LoopWatch(asyncio.get_running_loop(), 0.05)
        watch.start()
        try:
            await asyncio.sleep(0.1)
            _hold_the_loop(0.3)
            deadline = time.monotonic() + 5
            while watch.stalls == 0 and time.monotonic() < deadline:
                await asyncio.sleep(0.01)  # the next beat measures the stall
        finally:
            watch.stop()
        return watch

    with caplog.at_level(logging.WARNING, logger="fireside.loop_watch"):
        watch = asyncio.run(main())
    # A busy machine may add a stall of its own (a descheduled process): at least this one.
    assert watch.stalls >= 1
    assert 0.25 <= watch.longest < 2.0
    assert watch.stats() == {"stalls": watch.stalls, "longest_ms": round(watch.longest * 1000, 3)}
    reports = [r.getMessage() for r in caplog.records if "event loop stalled" in r.getMessage()]
    assert any("_hold_the_loop" in report for report in reports)


def test_a_threshold_must_be_positive() -> None:
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises(ValueError):
            LoopWatch(loop, 0)
    finally:
        loop.close()
