"""Function logs: what each execution environment prints, framed and kept per function.

Every environment is a log stream (named as on Lambda, `YYYY/MM/DD/[$LATEST]<hex>`). Its output
is cut into lines and appended to the function's log file as `<epoch ms>\t<stream>\t<line>`,
next to the START / END / REPORT lines the platform writes (`platform.*` JSON records under a
JSON `LoggingConfig`: `log_controls.py`). `fireside logs` reads these files.
Each invocation also keeps the last 4 KB of its own lines for `LogType=Tail`.

Lines longer than 256 KB are split, as CloudWatch Logs caps an event at 256 KB, so a function
that prints without newlines cannot grow Fireside's memory.

Log volume is bounded while it is written, not after an invoke (a function printing as fast as
it can wrote 2 GB in 8 s): each invocation keeps at most `invoke_bytes` of its own output (one
marker line says the rest was dropped; the pipe is still drained, so the function never blocks
on it), and each function's records on disk stay within `function_bytes`: the file is rotated
to `.log.1` (replacing the older half) whenever it reaches half of that.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from fireside.store.durable import replace_durably

log = logging.getLogger(__name__)

MAX_LINE = 256 * 1024
TAIL_BYTES = 4096
#: Defaults of the `log_invoke_bytes` and `log_function_bytes` settings.
INVOKE_BYTES = 4 * 1024 * 1024
FUNCTION_BYTES = 128 * 1024 * 1024


class TailBuffer:
    """The last `TAIL_BYTES` of an invocation's log, for `X-Amz-Log-Result`."""

    __slots__ = ("_data",)

    def __init__(self) -> None:
        self._data = bytearray()

    def add(self, text: bytes) -> None:
        self._data += text
        if len(self._data) > 2 * TAIL_BYTES:
            del self._data[: len(self._data) - TAIL_BYTES]

    def value(self) -> bytes:
        return bytes(self._data[-TAIL_BYTES:])


class OutputBudget:
    """How much more of its own output one invocation (or Init) may still log."""

    __slots__ = ("limit", "truncated", "used")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.truncated = False

    def reset(self) -> None:
        self.used = 0
        self.truncated = False

    def admit(self, size: int) -> bool:
        """Whether a line of `size` bytes is kept; False once the budget is spent."""
        if self.truncated:
            return False
        if self.used + size > self.limit:
            self.truncated = True
            return False
        self.used += size
        return True

    def exhausted(self) -> bool:
        return self.truncated

    def marker(self) -> bytes:
        return (
            f"[fireside] log output truncated: this invocation printed more than "
            f"{self.limit} bytes (log_invoke_bytes); the rest was discarded"
        ).encode()


class FunctionLog:
    """Append-only log file of one function (all its streams), at most `max_bytes` on disk
    with its rotated half."""

    def __init__(
        self, path: Path, max_bytes: int = FUNCTION_BYTES, invoke_bytes: int = INVOKE_BYTES
    ) -> None:
        self.path = path
        self.invoke_bytes = invoke_bytes
        # Two halves (the file and `.log.1`), so dropping the older one keeps recent records.
        self._rotate_at = max(max_bytes // 2, 2 * MAX_LINE)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = open(path, "ab")  # noqa: SIM115 (kept open across writes)
        self._size = self._file.tell()
        self._flush_pending = False
        #: Called with (epoch ms, stream, line) for each record: CloudWatch Logs' Live Tail
        #: sessions (`fireside.logs.live_tail`). Empty almost always: one test per line.
        self.listeners: list[Callable[[int, str, bytes], None]] = []

    def write(self, stream: str, line: bytes, stamp_ms: int | None = None) -> None:
        """Append one record, stamped now (or at `stamp_ms`: PutLogEvents into the group)."""
        millis = int(time.time() * 1000) if stamp_ms is None else stamp_ms
        record = str(millis).encode() + b"\t" + stream.encode() + b"\t" + line + b"\n"
        if self._size + len(record) > self._rotate_at:
            self._rotate()
        self._file.write(record)
        self._size += len(record)
        if self.listeners:
            self._notify(millis, stream, line)

    def _notify(self, millis: int, stream: str, line: bytes) -> None:
        for listener in list(self.listeners):
            try:
                listener(millis, stream, line)
            except Exception:  # a listener's bug must not stop a function's logging
                log.exception("a log listener of %s failed", self.path.name)

    def clear(self) -> None:
        """Drop every record (DeleteLogGroup of the function's group); writers carry on."""
        self._file.flush()
        self._file.truncate(0)
        self._size = 0
        with contextlib.suppress(FileNotFoundError):
            self.path.with_suffix(".log.1").unlink()

    def _rotate(self) -> None:
        self._file.close()
        replace_durably(self.path, self.path.with_suffix(".log.1"))
        self._file = open(self.path, "ab")  # noqa: SIM115
        self._size = 0

    def flush_soon(self, delay: float = 0.05) -> None:
        """Flush within `delay` seconds: one write for many invokes on a busy function."""
        if self._flush_pending:
            return
        self._flush_pending = True
        asyncio.get_running_loop().call_later(delay, self.flush)

    def flush(self) -> None:
        self._flush_pending = False
        if self._file.closed:
            return
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class LogStore:
    """Opens each function's log file once; `path()` is shared with the `fireside logs` reader."""

    def __init__(
        self, root: Path, function_bytes: int = FUNCTION_BYTES, invoke_bytes: int = INVOKE_BYTES
    ) -> None:
        self.root = root
        self._function_bytes = function_bytes
        self._invoke_bytes = invoke_bytes
        self._open: dict[tuple[str, str, str], FunctionLog] = {}

    def path(self, account: str, region: str, function: str) -> Path:
        return self.root / account / region / f"{function}.log"

    def get(self, account: str, region: str, function: str) -> FunctionLog:
        key = (account, region, function)
        log = self._open.get(key)
        if log is None:
            path = self.path(account, region, function)
            log = FunctionLog(path, self._function_bytes, self._invoke_bytes)
            self._open[key] = log
        return log

    def clear(self, account: str, region: str, function: str) -> None:
        """Drop a function's records (its CloudWatch Logs group was deleted)."""
        log = self._open.get((account, region, function))
        if log is not None:
            log.clear()
            return
        path = self.path(account, region, function)
        for stale in (path, path.with_suffix(".log.1")):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()

    def close(self) -> None:
        for log in self._open.values():
            log.close()
        self._open.clear()


class LineSplitter:
    """Turns an environment's output chunks into whole lines (bounded to `MAX_LINE`)."""

    __slots__ = ("_partial",)

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        data = self._partial + chunk if self._partial else chunk
        lines = data.split(b"\n")
        self._partial = lines.pop()
        while len(self._partial) > MAX_LINE:
            lines.append(self._partial[:MAX_LINE])
            self._partial = self._partial[MAX_LINE:]
        return lines

    def flush(self) -> list[bytes]:
        rest, self._partial = self._partial, b""
        return [rest] if rest else []


def read_records(path: Path, follow: bool = False, poll: float = 0.25) -> Iterator[str]:
    """Yield formatted lines of a function log file; with `follow`, keep waiting for more."""
    rotated = path.with_suffix(".log.1")
    for source in ([rotated] if rotated.exists() else []) + [path]:
        if not source.exists():
            continue
        handle = open(source, "rb")  # noqa: SIM115 (reopened when the file is rotated)
        try:
            yield from _format(handle)
            while follow and source == path:
                chunk = list(_format(handle))
                if chunk:
                    yield from chunk
                elif _rotated_away(path, handle):
                    yield from _format(handle)  # the rest of the file that was rotated
                    handle.close()
                    handle = open(path, "rb")  # noqa: SIM115
                else:
                    time.sleep(poll)
        finally:
            handle.close()


def _rotated_away(path: Path, handle: IO[bytes]) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return False  # between the rename and the new file: look again next poll


def _format(handle: IO[bytes]) -> Iterator[str]:
    for raw in handle:
        if not raw.endswith(b"\n"):  # a record still being written: read it next time
            handle.seek(-len(raw), os.SEEK_CUR)
            return
        stamp, _, rest = raw.rstrip(b"\n").partition(b"\t")
        stream, _, line = rest.partition(b"\t")
        try:
            when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(stamp) / 1000))
            millis = int(stamp) % 1000
        except ValueError:
            yield raw.decode(errors="replace").rstrip("\n")
            continue
        # Lambda's runtimes join a traceback's lines with "\r" so it stays one log event;
        # a terminal would overprint them, so show each on its own line.
        text = line.decode(errors="replace").replace("\r", "\n    ")
        yield f"{when}.{millis:03d}Z {stream.decode()} {text}"
