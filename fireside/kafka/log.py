"""A partition's log: its segments, appends with idempotent-producer checks, reads, retention.

Appends run on the event loop (a `write` into the page cache); `sync()` fsyncs in a thread, and
the broker awaits it before acknowledging a Produce with acks != 0, so an acknowledged record is
on disk. Readers blocked in a Fetch wait on `changed()`, which each append wakes.
"""

from __future__ import annotations

import asyncio
import bisect
import os
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from fireside.kafka.errors import Err
from fireside.kafka.records import Batch, rebase
from fireside.kafka.segment import Segment
from fireside.store.durable import fsync_dir

__all__ = ["AppendResult", "LogConfig", "PartitionLog"]

_START_FILE = "log-start-offset"

#: Batches per producer remembered for retried-batch detection (Kafka keeps five).
_PRODUCER_WINDOW = 5


@dataclass(slots=True)
class LogConfig:
    segment_bytes: int = 64 << 20
    segment_ms: int = 7 * 86_400_000
    retention_ms: int = 7 * 86_400_000  # -1: keep forever
    retention_bytes: int = -1  # -1: no size limit


@dataclass(slots=True)
class AppendResult:
    error: Err
    base_offset: int = -1


@dataclass(slots=True)
class _Producer:
    epoch: int
    last_sequence: int
    #: (first sequence, last sequence, base offset) of recent batches
    recent: deque[tuple[int, int, int]] = field(default_factory=lambda: deque(maxlen=5))


class PartitionLog:
    def __init__(self, directory: Path, config: LogConfig) -> None:
        self.directory = directory
        self.config = config
        directory.mkdir(parents=True, exist_ok=True)
        self.segments: list[Segment] = []
        self._producers: dict[int, _Producer] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._dirty: set[Segment] = set()
        self._appended = self._synced = 0  # appends made, appends known to be on disk
        self._syncing: asyncio.Task[None] | None = None
        #: A log start offset moved past the first segment's base by DeleteRecords.
        self._start = 0
        self._open()

    def _open(self) -> None:
        bases = sorted(int(p.stem) for p in self.directory.glob("*.log") if p.stem.isdigit())
        for i, base in enumerate(bases):
            segment = Segment(self.directory, base)
            last = i == len(bases) - 1
            for batch in segment.recover(verify=last):
                self._remember(batch)
            if not last:
                segment.seal()
            self.segments.append(segment)
        if not self.segments:
            self.segments.append(self._new_segment(0))
        try:
            self._start = int((self.directory / _START_FILE).read_text())
        except (FileNotFoundError, ValueError):
            self._start = 0

    def _new_segment(self, base: int) -> Segment:
        segment = Segment(self.directory, base)
        segment.recover(verify=True)  # empty: creates its index file
        fsync_dir(self.directory)
        return segment

    # ---- offsets ----------------------------------------------------------------------------

    @property
    def log_start_offset(self) -> int:
        return max(self.segments[0].base_offset, min(self._start, self.end_offset))

    def delete_records(self, before: int) -> tuple[Err, int]:
        """Move the log start to `before` (-1: the end), dropping whole segments below it;
        (error, new log start). The new start is on disk before this returns."""
        before = self.end_offset if before == -1 else before
        if not 0 <= before <= self.end_offset:
            return Err.OFFSET_OUT_OF_RANGE, self.log_start_offset
        if before > self._start:
            self._start = before
            tmp = self.directory / (_START_FILE + ".tmp")
            with tmp.open("w") as f:
                f.write(str(before))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.directory / _START_FILE)
            fsync_dir(self.directory)
        if self.segments[-1].size and self.segments[-1].next_offset <= before:
            self._maybe_roll(force=True)
        while len(self.segments) > 1 and self.segments[1].base_offset <= before:
            self.segments.pop(0).delete()
        return Err.NONE, self.log_start_offset

    @property
    def end_offset(self) -> int:
        """The high watermark: the offset the next record will get (one broker: all in sync)."""
        return self.segments[-1].next_offset

    def offset_for_timestamp(self, timestamp: int) -> tuple[int, int]:
        """(offset, timestamp) of the first record at or after `timestamp`; (-1, -1) if none."""
        for segment in self.segments:
            if segment.max_timestamp >= timestamp:
                found = segment.offset_for_timestamp(timestamp)
                if found is not None:
                    return found
        return -1, -1

    # ---- appends ----------------------------------------------------------------------------

    def append(self, records: bytes, batches: list[Batch]) -> AppendResult:
        """Re-base and write `batches` (parsed from `records`); the caller awaits `sync()`."""
        first = batches[0]
        if first.producer_id >= 0:
            checked = self._check_sequence(first, batches)
            if checked is not None:
                return checked
        buf = bytearray(records)
        offset = base = self.end_offset
        for batch in batches:
            rebase(buf, batch, offset)
            batch.base_offset = offset
            offset += batch.last_offset_delta + 1
        self._maybe_roll()
        active = self.segments[-1]
        active.append(buf, batches)
        self._dirty.add(active)
        self._appended += 1
        for batch in batches:
            self._remember(batch)
        self._wake()
        return AppendResult(Err.NONE, base)

    def _check_sequence(self, first: Batch, batches: list[Batch]) -> AppendResult | None:
        state = self._producers.get(first.producer_id)
        if state is None:
            return None  # a producer new to this partition (or older than our memory)
        if first.producer_epoch < state.epoch:
            return AppendResult(Err.INVALID_PRODUCER_EPOCH)
        if first.producer_epoch > state.epoch:
            return (
                None if first.base_sequence == 0 else AppendResult(Err.OUT_OF_ORDER_SEQUENCE_NUMBER)
            )
        for seq_first, _seq_last, base in state.recent:
            if seq_first == first.base_sequence:  # a retry of a batch we already have
                return AppendResult(Err.NONE, base)
        if first.base_sequence != (state.last_sequence + 1) & 0x7FFFFFFF:
            return AppendResult(Err.OUT_OF_ORDER_SEQUENCE_NUMBER)
        return None

    def _remember(self, batch: Batch) -> None:
        if batch.producer_id < 0:
            return
        state = self._producers.get(batch.producer_id)
        if state is None or batch.producer_epoch != state.epoch:
            state = _Producer(batch.producer_epoch, -1, deque(maxlen=_PRODUCER_WINDOW))
            self._producers[batch.producer_id] = state
        last_seq = (batch.base_sequence + batch.last_offset_delta) & 0x7FFFFFFF
        state.last_sequence = last_seq
        state.recent.append((batch.base_sequence, last_seq, batch.base_offset))

    def _maybe_roll(self, force: bool = False) -> None:
        active = self.segments[-1]
        if active.size == 0:
            return
        too_old = (time.time() - active.created) * 1000 >= self.config.segment_ms
        if active.size < self.config.segment_bytes and not too_old and not force:
            return
        active.seal()
        self._dirty.discard(active)
        self.segments.append(self._new_segment(active.next_offset))

    async def sync(self) -> None:
        """Return once every append made before the call is on disk.

        Group commit: one fsync (in a thread, so the loop keeps serving) covers every append
        made before it started; callers arriving while it runs share the next one."""
        target = self._appended
        while self._synced < target:
            task = self._syncing
            if task is None or task.done():
                task = self._syncing = asyncio.ensure_future(self._sync_once())
            await asyncio.shield(task)

    async def _sync_once(self) -> None:
        upto = self._appended
        dirty, self._dirty = self._dirty, set()
        try:
            for segment in dirty:
                if segment.fd >= 0:
                    await asyncio.to_thread(segment.sync)
        except BaseException:
            self._dirty |= dirty
            raise
        self._synced = max(self._synced, upto)

    # ---- reads ------------------------------------------------------------------------------

    def read(self, offset: int, max_bytes: int) -> tuple[Err, bytes]:
        if offset < self.log_start_offset or offset > self.end_offset:
            return Err.OFFSET_OUT_OF_RANGE, b""
        if offset == self.end_offset:
            return Err.NONE, b""
        i = bisect.bisect_right([s.base_offset for s in self.segments], offset) - 1
        for segment in self.segments[i:]:
            data = segment.read(offset, max_bytes)
            if data:
                return Err.NONE, data
        return Err.NONE, b""

    def changed(self) -> asyncio.Future[None]:
        """A future that completes at the next append."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(future)
        return future

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)

    # ---- retention --------------------------------------------------------------------------

    def enforce_retention(self, now_ms: int | None = None) -> int:
        """Delete closed segments past the time or size limit; returns how many."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        config, removed = self.config, 0
        active = self.segments[-1]
        if active.size and 0 <= config.retention_ms < now_ms - active.max_timestamp:
            self._maybe_roll(force=True)  # an expired active segment is closed, then deleted
        total = sum(s.size for s in self.segments)
        while len(self.segments) > 1:
            oldest = self.segments[0]
            expired = 0 <= config.retention_ms < now_ms - oldest.max_timestamp
            oversize = 0 <= config.retention_bytes < total - oldest.size
            if not (expired or oversize):
                break
            total -= oldest.size
            oldest.delete()
            self.segments.pop(0)
            removed += 1
        return removed

    def close(self) -> None:
        for segment in self.segments:
            segment.close()
        self._wake()
