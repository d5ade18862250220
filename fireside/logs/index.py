"""Which streams a group's files hold, where, and how big: built by scanning, kept in memory.

Function logs interleave every environment's stream in one file and name a stream nowhere
else, so DescribeLogStreams and a read of one stream need an index: per file (by inode), each
stream's first and last timestamps, bytes, and the byte range its records lie in (so reading
one stream scans only that range). The index is caught up incrementally from where it last
stopped, at most `budget` bytes a call, so a large file is indexed over a few calls and a
call never stalls; the file's writer is never slowed by it. It is rebuilt after a restart.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from fireside.logs.files import GroupFiles, Record

__all__ = ["StreamIndex", "StreamStats"]

_BUDGET = 32 * 1024 * 1024
_CHUNK = 1024 * 1024


@dataclass(slots=True)
class StreamStats:
    first_timestamp: int
    last_timestamp: int
    last_ingestion: int
    stored_bytes: int = 0
    #: Byte range of its records per file inode: (first record's offset, last record's end).
    spans: dict[int, tuple[int, int]] = field(default_factory=dict)

    def add(self, record: Record) -> None:
        self.first_timestamp = min(self.first_timestamp, record.timestamp)
        self.last_timestamp = max(self.last_timestamp, record.timestamp)
        self.last_ingestion = max(self.last_ingestion, record.ingestion)
        self.stored_bytes += len(record.message.encode())
        first, _ = self.spans.get(record.inode, (record.offset, record.end))
        self.spans[record.inode] = (first, record.end)


class _FileIndex:
    __slots__ = ("offset", "streams")

    def __init__(self) -> None:
        self.offset = 0
        self.streams: dict[str, StreamStats] = {}


class StreamIndex:
    """The stream index of one group's files (thread-safe: scans run off the event loop)."""

    def __init__(self, files: GroupFiles) -> None:
        self.files = files
        self._by_inode: dict[int, _FileIndex] = {}
        self._lock = threading.Lock()

    def refresh(self, budget: int = _BUDGET) -> bool:
        """Index what was written since the last refresh; True when caught up."""
        with self._lock:
            halves = self.files.halves()
            live = {inode for inode, _ in halves}
            for gone in set(self._by_inode) - live:
                del self._by_inode[gone]
            caught_up = True
            for inode, path in halves:
                entry = self._by_inode.setdefault(inode, _FileIndex())
                try:
                    if entry.offset > os.stat(path).st_size:  # cleared (DeleteLogGroup)
                        entry = self._by_inode[inode] = _FileIndex()
                    done = _index_file(self.files, entry, inode, path, budget)
                except FileNotFoundError:
                    continue
                if not done:
                    caught_up = False
                    break
            return caught_up

    def streams(self) -> dict[str, StreamStats]:
        """Every indexed stream, merged across the files."""
        with self._lock:
            merged: dict[str, StreamStats] = {}
            for entry in self._by_inode.values():
                for name, stats in entry.streams.items():
                    into = merged.get(name)
                    if into is None:
                        merged[name] = StreamStats(
                            stats.first_timestamp,
                            stats.last_timestamp,
                            stats.last_ingestion,
                            stats.stored_bytes,
                            dict(stats.spans),
                        )
                        continue
                    into.first_timestamp = min(into.first_timestamp, stats.first_timestamp)
                    into.last_timestamp = max(into.last_timestamp, stats.last_timestamp)
                    into.last_ingestion = max(into.last_ingestion, stats.last_ingestion)
                    into.stored_bytes += stats.stored_bytes
                    into.spans.update(stats.spans)
            return merged

    def newest_in(self, inode: int) -> int | None:
        """The latest timestamp in one file, None if it holds no indexed record."""
        with self._lock:
            entry = self._by_inode.get(inode)
            if entry is None or not entry.streams:
                return None
            return max(stats.last_timestamp for stats in entry.streams.values())

    def stored_bytes(self) -> int:
        with self._lock:
            return sum(
                stats.stored_bytes
                for entry in self._by_inode.values()
                for stats in entry.streams.values()
            )


def _index_file(files: GroupFiles, entry: _FileIndex, inode: int, path: Path, budget: int) -> bool:
    """Index one file from `entry.offset`, at most `budget` bytes; True when at its end.
    Only the timestamp and stream of each line are parsed: an index pass reads every line."""
    with open(path, "rb") as handle:
        handle.seek(entry.offset)
        read = 0
        while read < budget:
            size = min(_CHUNK, max(budget - read, 4096))
            chunk = handle.read(size)
            if not chunk:
                return True
            last = chunk.rfind(b"\n")
            if last < 0 and len(chunk) == size:
                chunk += handle.read(_CHUNK)  # a line longer than the read: the rest of it
                last = chunk.rfind(b"\n")
            if last < 0:
                return True  # a record still being written
            whole = chunk[: last + 1]
            handle.seek(entry.offset + len(whole))
            _index_lines(files, entry, inode, whole)
            read += len(whole)
    return False


def _index_lines(files: GroupFiles, entry: _FileIndex, inode: int, data: bytes) -> None:
    offset = entry.offset
    streams = entry.streams
    for line in data.split(b"\n")[:-1]:
        end = offset + len(line) + 1
        first_tab = line.find(b"\t")
        second_tab = line.find(b"\t", first_tab + 1)
        if first_tab > 0 and second_tab > 0:
            stamp = line[:first_tab]
            comma = stamp.find(b",")
            try:
                timestamp = int(stamp[:comma] if comma >= 0 else stamp)
                ingestion = int(stamp[comma + 1 :]) if comma >= 0 else timestamp
            except ValueError:
                offset = end
                continue
            name = line[first_tab + 1 : second_tab].decode(errors="replace")
            if "\\" in name and files.is_escaped(inode):
                name = files.parse(line + b"\n", inode, offset).stream  # type: ignore[union-attr]
            size = len(line) - second_tab - 1
            stats = streams.get(name)
            if stats is None:
                streams[name] = stats = StreamStats(timestamp, timestamp, ingestion)
            if timestamp < stats.first_timestamp:
                stats.first_timestamp = timestamp
            if timestamp > stats.last_timestamp:
                stats.last_timestamp = timestamp
            if ingestion > stats.last_ingestion:
                stats.last_ingestion = ingestion
            stats.stored_bytes += size
            span = stats.spans.get(inode)
            stats.spans[inode] = (span[0] if span else offset, end)
        offset = end
    entry.offset = offset
