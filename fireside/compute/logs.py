"""Function logs: what each execution environment prints, framed and kept per function.

Every environment is a log stream (named as on Lambda, `YYYY/MM/DD/[$LATEST]<hex>`). Its output
is cut into lines and appended to the function's log file as `<epoch ms>\t<stream>\t<line>`,
next to the START / END / REPORT lines the platform writes. `fireside logs` reads these files.
Each invocation also keeps the last 4 KB of its own lines for `LogType=Tail`.

Lines longer than 256 KB are split, as CloudWatch Logs caps an event at 256 KB, so a function
that prints without newlines cannot grow Fireside's memory.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

MAX_LINE = 256 * 1024
TAIL_BYTES = 4096
ROTATE_BYTES = 64 * 1024 * 1024


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


class FunctionLog:
    """Append-only log file of one function (all its streams)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = open(path, "ab")  # noqa: SIM115 (kept open across writes)
        self._flush_pending = False

    def write(self, stream: str, line: bytes) -> None:
        stamp = str(int(time.time() * 1000)).encode()
        self._file.write(stamp + b"\t" + stream.encode() + b"\t" + line + b"\n")

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
        if self._file.tell() > ROTATE_BYTES:
            self._file.close()
            os.replace(self.path, self.path.with_suffix(".log.1"))
            self._file = open(self.path, "ab")  # noqa: SIM115

    def close(self) -> None:
        self._file.close()


class LogStore:
    """Opens each function's log file once; `path()` is shared with the `fireside logs` reader."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._open: dict[tuple[str, str, str], FunctionLog] = {}

    def path(self, account: str, region: str, function: str) -> Path:
        return self.root / account / region / f"{function}.log"

    def get(self, account: str, region: str, function: str) -> FunctionLog:
        key = (account, region, function)
        log = self._open.get(key)
        if log is None:
            log = self._open[key] = FunctionLog(self.path(account, region, function))
        return log

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
        with open(source, "rb") as handle:
            yield from _format(handle)
            if follow and source == path:
                while True:
                    chunk = list(_format(handle))
                    if chunk:
                        yield from chunk
                    else:
                        time.sleep(poll)


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
