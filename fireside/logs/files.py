"""The files a log group's events live in, and bounded scans over them.

A function's group reads the file its environments already append to
(`fireside.compute.logs`: `<epoch ms>\\t<stream>\\t<line>`, rotated to `.log.1`); a group made
with CreateLogGroup gets a file of its own in the same two-half form, written by PutLogEvents
as `<epoch ms>,<ingestion ms>\\t<stream>\\t<message>` with `\\`, newline and tab escaped
(a function's lines never hold a newline, and are kept exactly as written). A group may also
show other files of the function log store: those of functions whose LoggingConfig names it,
and API Gateway access logs whose DestinationArn does.

Events are never loaded whole: every read is a scan from a `Position` (the file's inode and a
byte offset; a rotation renames the file, so its inode and offsets stay valid) that stops
after `limit` accepted events or `budget` bytes read, and says where it stopped. The caller
turns that place into a pagination token, so every call makes progress however large the file
and however rare the matching events.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NamedTuple

__all__ = ["GroupFiles", "Position", "Record", "Scan", "escape", "scan_backward", "scan_forward"]

_CHUNK = 1024 * 1024
#: Bytes a single read call may scan before it answers with a token to continue from.
SCAN_BUDGET = 16 * 1024 * 1024


class Position(NamedTuple):
    """A place in a group's files: the file's inode and a byte offset in it."""

    inode: int
    offset: int


@dataclass(frozen=True, slots=True)
class Record:
    timestamp: int
    ingestion: int
    stream: str
    message: str
    inode: int
    offset: int
    end: int

    @property
    def event_id(self) -> str:
        """Stable while the record exists: made from its place, as long as AWS's ids."""
        return f"{self.timestamp:020d}{self.inode % 10**18:018d}{self.offset:018d}"

    @property
    def size(self) -> int:
        return self.end - self.offset


def escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "\\" and i + 1 < n:
            nxt = text[i + 1]
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


class GroupFiles:
    """The files of one log group: its own `path` (and that file's rotated older half), then
    any `extra` files it also shows (a function's log file, when the function names this
    group in its LoggingConfig; an API Gateway stage's access log), each with its half."""

    def __init__(self, path: Path, escaped: bool, extra: Sequence[Path] = ()) -> None:
        self.path = path
        self.escaped = escaped
        self.extra = tuple(extra)
        self._escaped_inodes: set[int] = set()

    @property
    def rotated(self) -> Path:
        return self.path.with_suffix(".log.1")

    @property
    def seekable(self) -> bool:
        """One function-written file, in time order: a time can be found by bisection."""
        return not self.escaped and not self.extra

    def halves(self) -> list[tuple[int, Path]]:
        """(inode, path) of each existing file, each file's older half first."""
        found = []
        sources = [(self.path, self.escaped)] + [(path, False) for path in self.extra]
        for source, escaped in sources:
            for path in (source.with_suffix(".log.1"), source):
                try:
                    inode = os.stat(path).st_ino
                except FileNotFoundError:
                    continue
                found.append((inode, path))
                if escaped:
                    self._escaped_inodes.add(inode)
        return found

    def is_escaped(self, inode: int) -> bool:
        return inode in self._escaped_inodes

    def parse(self, raw: bytes, inode: int, offset: int) -> Record | None:
        stamp, _, rest = raw.partition(b"\t")
        stream, _, line = rest.partition(b"\t")
        first, _, second = stamp.partition(b",")
        try:
            timestamp = int(first)
            ingestion = int(second) if second else timestamp
        except ValueError:
            return None
        text = line.rstrip(b"\n").decode(errors="replace")
        name = stream.decode(errors="replace")
        if inode in self._escaped_inodes:
            text, name = _unescape(text), _unescape(name)
        return Record(timestamp, ingestion, name, text, inode, offset, offset + len(raw))


@dataclass(slots=True)
class Scan:
    #: Accepted records in the order scanned (backward scans: newest first).
    records: list[Record]
    #: Where the next scan in the same direction continues from.
    position: Position
    #: True when the scan reached the end (or start) of the files.
    finished: bool
    scanned: int


def _start(files: GroupFiles, start: Position | None) -> tuple[list[tuple[int, Path]], int]:
    """The halves from the one holding `start` onward, and the offset in the first."""
    halves = files.halves()
    if start is None:
        return halves, 0
    for index, (inode, _) in enumerate(halves):
        if inode == start.inode:
            return halves[index:], start.offset
    return halves, 0  # its half was dropped: what remains is newer


def scan_forward(
    files: GroupFiles,
    start: Position | None,
    accept: Callable[[Record], bool],
    limit: int,
    budget: int = SCAN_BUDGET,
    stop_at: Callable[[Record], bool] | None = None,
    one_file: bool = False,
    quick: Callable[[bytes], bool] | None = None,
) -> Scan:
    """Records from `start` onward that `accept` takes, oldest first; stops after `limit` of
    them, `budget` bytes, the end of the files (of `start`'s file with `one_file`), or a
    record `stop_at` is true for."""
    halves, offset = _start(files, start)
    if one_file:
        halves = halves[:1]
    found: list[Record] = []
    scanned = 0
    position = start or Position(halves[0][0] if halves else 0, 0)
    for inode, path in halves:
        position = Position(inode, offset)
        try:
            handle = open(path, "rb")  # noqa: SIM115
        except FileNotFoundError:
            offset = 0
            continue
        with handle:
            handle.seek(offset)
            for raw, at in _lines_forward(handle, offset):
                scanned += len(raw)
                if quick is not None and stop_at is None and not quick(raw):
                    position = Position(inode, at + len(raw))
                    if scanned >= budget:
                        return Scan(found, position, False, scanned)
                    continue
                record = files.parse(raw, inode, at)
                if record is not None:
                    if stop_at is not None and stop_at(record):
                        return Scan(found, Position(inode, at), True, scanned)
                    if accept(record):
                        found.append(record)
                position = Position(inode, at + len(raw))
                if len(found) >= limit or scanned >= budget:
                    return Scan(found, position, False, scanned)
        offset = 0
    return Scan(found, position, True, scanned)


def _lines_forward(handle: IO[bytes], offset: int) -> Iterator[tuple[bytes, int]]:
    """Whole lines from the handle's position, with their offsets; a last line still being
    written (no newline yet) is left for a later scan."""
    read = handle.read
    pending = b""
    at = offset
    while True:
        chunk = read(_CHUNK)
        if not chunk:
            return
        data = pending + chunk if pending else chunk
        start = 0
        while True:
            newline = data.find(b"\n", start)
            if newline < 0:
                break
            yield data[start : newline + 1], at
            at += newline + 1 - start
            start = newline + 1
        pending = data[start:]


def scan_backward(
    files: GroupFiles,
    end: Position | None,
    accept: Callable[[Record], bool],
    limit: int,
    budget: int = SCAN_BUDGET,
    stop_at: Callable[[Record], bool] | None = None,
) -> Scan:
    """Records before `end` (all, when None) that `accept` takes, newest first."""
    halves = files.halves()
    if end is not None:
        for index, (inode, _) in enumerate(halves):
            if inode == end.inode:
                halves = halves[: index + 1]
                break
        else:
            halves = []  # its half was dropped: nothing older remains
    found: list[Record] = []
    scanned = 0
    position = end or Position(halves[-1][0] if halves else 0, 0)
    for inode, path in reversed(halves):
        try:
            handle = open(path, "rb")  # noqa: SIM115
        except FileNotFoundError:
            continue
        with handle:
            size = os.fstat(handle.fileno()).st_size
            limit_at = end.offset if end is not None and end.inode == inode else size
            position = Position(inode, limit_at)
            for raw, at in _lines_backward(handle, min(limit_at, size)):
                scanned += len(raw)
                record = files.parse(raw, inode, at)
                if record is not None:
                    if stop_at is not None and stop_at(record):
                        return Scan(found, Position(inode, at + len(raw)), True, scanned)
                    if accept(record):
                        found.append(record)
                position = Position(inode, at)
                if len(found) >= limit or scanned >= budget:
                    return Scan(found, position, False, scanned)
    return Scan(found, position, True, scanned)


def _lines_backward(handle: IO[bytes], end: int) -> Iterator[tuple[bytes, int]]:
    """Whole lines ending at or before `end`, newest first, with their offsets."""
    seek, read = handle.seek, handle.read
    pos = end
    tail = b""  # the start of a line whose beginning lies further back
    while pos > 0:
        size = min(_CHUNK, pos)
        pos -= size
        seek(pos)
        data = read(size) + tail
        lines_end = len(data)
        while True:
            newline = data.rfind(b"\n", 0, lines_end - 1) if lines_end > 0 else -1
            if newline < 0:
                break
            line = data[newline + 1 : lines_end]
            if line.endswith(b"\n"):
                yield line, pos + newline + 1
            lines_end = newline + 1
        tail = data[:lines_end]
    if tail.endswith(b"\n"):
        yield tail, 0
