"""One segment of a partition's log: a file of record batches and its sparse offset index.

`<base offset>.log` holds batches back to back exactly as produced (re-based); `<base>.index`
holds 8-byte entries (offset relative to the base, file position) every `INDEX_INTERVAL` bytes, so
a Fetch seeks near its offset and walks batch headers from there instead of from the start.

Recovery (`open`): the active segment is re-read batch by batch with its CRC checked, and a torn
tail (a batch cut short by a crash, or garbage after the last whole one) is truncated away; its
index is rebuilt. Older segments were closed after an fsync, so their index is trusted and only
the batches after its last entry are walked to find where the segment ends.
"""

from __future__ import annotations

import bisect
import os
import struct
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from fireside.kafka.records import (
    HEADER,
    Batch,
    BatchError,
    crc_ok,
    first_at_or_after,
    peek_header,
)

__all__ = ["INDEX_INTERVAL", "Segment"]

INDEX_INTERVAL = 4096
_ENTRY = struct.Struct(">II")
_BASE_LEN = struct.Struct(">qi")
_SCAN_CHUNK = 1 << 20


class Segment:
    def __init__(self, directory: Path, base_offset: int) -> None:
        self.base_offset = base_offset
        self.path = directory / f"{base_offset:020d}.log"
        self.index_path = directory / f"{base_offset:020d}.index"
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self.size = 0
        self.next_offset = base_offset
        self.max_timestamp = -1
        self.created = os.stat(self.path).st_mtime
        self._rel: list[int] = []  # index: relative offsets ...
        self._pos: list[int] = []  # ... and their file positions
        self._since_index = 0
        self._index_fd = -1

    # ---- recovery -------------------------------------------------------------------------

    def recover(self, *, verify: bool) -> list[Batch]:
        """Find the segment's end; with `verify`, check CRCs and truncate a torn tail.
        Returns the batches walked (the whole segment when verifying)."""
        start = 0 if verify else self._load_index()
        walked = list(self._walk(start, verify))
        end = walked[-1].start + walked[-1].size if walked else start
        file_size = os.fstat(self.fd).st_size
        if end < file_size:
            os.ftruncate(self.fd, end)
            os.fsync(self.fd)
        self.size = end
        if walked:
            self.next_offset = walked[-1].last_offset + 1
        elif self._rel:
            raise BatchError(f"{self.path}: index points past the data")
        for batch in walked:
            self.max_timestamp = max(self.max_timestamp, batch.max_timestamp)
            self._note_index(batch, write=False)
        self._rewrite_index()
        return walked

    def _walk(self, pos: int, verify: bool) -> Iterator[Batch]:
        file_size = os.fstat(self.fd).st_size
        while pos < file_size:
            buf = os.pread(self.fd, min(_SCAN_CHUNK, file_size - pos), pos)
            off = 0
            while True:
                try:
                    batch = peek_header(buf, off)
                except BatchError:
                    return
                if batch is None:
                    break
                if verify and not crc_ok(buf, batch):
                    return
                batch.start += pos
                yield batch
                off += batch.size
            if off == 0:  # one batch larger than the chunk: read it whole
                if len(buf) < HEADER:
                    return
                size = int.from_bytes(buf[8:12], "big", signed=True) + 12
                if size < HEADER or pos + size > file_size:
                    return
                whole = os.pread(self.fd, size, pos)
                try:
                    batch = peek_header(whole, 0)
                except BatchError:
                    return
                if batch is None or (verify and not crc_ok(whole, batch)):
                    return
                batch.start = pos
                yield batch
                off = size
            pos += off

    def _load_index(self) -> int:
        try:
            data = self.index_path.read_bytes()
        except FileNotFoundError:
            return 0
        for i in range(len(data) // _ENTRY.size):
            rel, pos = _ENTRY.unpack_from(data, i * _ENTRY.size)
            self._rel.append(rel)
            self._pos.append(pos)
        # Keep the last entry out: the walk re-adds it.
        if self._pos:
            self._rel.pop()
            return self._pos.pop()
        return 0

    def _rewrite_index(self) -> None:
        data = b"".join(_ENTRY.pack(r, p) for r, p in zip(self._rel, self._pos, strict=True))
        tmp = self.index_path.with_suffix(".index.tmp")
        tmp.write_bytes(data)
        os.replace(tmp, self.index_path)
        self._index_fd = os.open(self.index_path, os.O_WRONLY | os.O_APPEND)

    def _note_index(self, batch: Batch, *, write: bool) -> None:
        self._since_index += batch.size
        if not self._pos or self._since_index >= INDEX_INTERVAL:
            self._rel.append(batch.base_offset - self.base_offset)
            self._pos.append(batch.start)
            self._since_index = 0
            if write:
                os.write(self._index_fd, _ENTRY.pack(self._rel[-1], self._pos[-1]))

    # ---- the hot path ---------------------------------------------------------------------

    def append(self, data: bytes | bytearray | memoryview, batches: list[Batch]) -> None:
        """Append `data` (the given re-based batches, back to back); the caller fsyncs."""
        view = memoryview(data)
        written = 0
        while written < len(view):
            written += os.write(self.fd, view[written:])
        start = self.size
        for batch in batches:
            self._note_index(replace(batch, start=start + batch.start), write=True)
            self.max_timestamp = max(self.max_timestamp, batch.max_timestamp)
        self.size += len(view)
        self.next_offset = batches[-1].last_offset + 1

    def read(self, offset: int, max_bytes: int) -> bytes:
        """Whole batches from the one holding `offset`, up to `max_bytes` (at least one batch)."""
        i = bisect.bisect_right(self._rel, offset - self.base_offset) - 1
        pos = self._pos[i] if i >= 0 else 0
        while pos < self.size:  # walk headers to the batch holding `offset`
            head = os.pread(self.fd, 27, pos)
            base, size = _BASE_LEN.unpack_from(head)
            if base + int.from_bytes(head[23:27], "big", signed=True) >= offset:
                break
            pos += size + 12
        if pos >= self.size:
            return b""
        want = min(max(max_bytes, 0), self.size - pos)
        chunk = os.pread(self.fd, max(want, HEADER), pos)
        end = 0
        while end + HEADER <= len(chunk):
            size = int.from_bytes(chunk[end + 8 : end + 12], "big", signed=True) + 12
            if end + size > len(chunk):
                break
            end += size
        if end == 0:  # the first batch is bigger than max_bytes: send it whole (KIP-74)
            size = int.from_bytes(chunk[8:12], "big", signed=True) + 12
            return os.pread(self.fd, size, pos)
        return chunk[:end]

    def offset_for_timestamp(self, timestamp: int) -> tuple[int, int] | None:
        """(offset, timestamp) of the first record stamped at or after `timestamp`."""
        for batch in self._walk(0, verify=False):
            if batch.max_timestamp >= timestamp:
                found = first_at_or_after(os.pread(self.fd, batch.size, batch.start), timestamp)
                if found is not None:
                    return found
        return None

    def sync(self) -> None:
        os.fsync(self.fd)

    def seal(self) -> None:
        """No more appends (the segment rolled): fsync it and its index, close the index."""
        self.sync()
        if self._index_fd >= 0:
            os.fsync(self._index_fd)
            os.close(self._index_fd)
            self._index_fd = -1

    def close(self) -> None:
        for fd in (self.fd, self._index_fd):
            if fd >= 0:
                os.close(fd)
        self.fd = self._index_fd = -1

    def delete(self) -> None:
        self.close()
        for path in (self.path, self.index_path):
            path.unlink(missing_ok=True)
