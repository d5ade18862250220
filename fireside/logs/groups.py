"""Log groups and where their events are: the one place that maps a group to its files.

`/aws/lambda/<function>` is a function's group: its events are the file the function's
environments write (`fireside.compute.logs.LogStore`), and it appears (is stored) once that
file has records, or when a client creates it first, as on AWS. Any other group's events are
in a file of its own under `logs-groups/`, appended by PutLogEvents and fsynced before the
answer, plus the function log store's files that write to it: functions whose LoggingConfig
names the group, and API Gateway stages whose access logs do. Each group's files have a stream
index (`fireside.logs.index`), and every appended record is offered to the group's live
listeners (Live Tail sessions).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from fireside.compute.logs import LogStore
from fireside.compute.registry import FunctionRegistry
from fireside.gateway.access_log import destination_name
from fireside.logs.files import GroupFiles, escape
from fireside.logs.index import StreamIndex
from fireside.logs.store import LogGroup, LogsStore, now_ms
from fireside.store.durable import fsync_dir, mkdirs_durably, replace_durably

__all__ = ["FUNCTION_PREFIX", "Listener", "LogGroups"]

FUNCTION_PREFIX = "/aws/lambda/"
_FUNCTION_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
#: (group name, stream, timestamp ms, ingestion ms, message)
Listener = Callable[[str, str, int, int, str], None]


class _UserLog:
    """Appends PutLogEvents batches to a group's own file, durably, in two rotated halves."""

    def __init__(self, files: GroupFiles, max_bytes: int) -> None:
        self.files = files
        self._rotate_at = max(max_bytes // 2, 1024 * 1024)
        self._lock = threading.Lock()

    def append(self, records: list[tuple[int, int, str, str]]) -> None:
        """(timestamp, ingestion, stream, message) records, on disk on return."""
        data = b"".join(
            f"{ts},{ingest}\t{escape(stream)}\t{escape(message)}\n".encode()
            for ts, ingest, stream, message in records
        )
        path = self.files.path
        with self._lock:
            mkdirs_durably(path.parent)
            try:
                size = os.stat(path).st_size
            except FileNotFoundError:
                size = 0
            if size and size + len(data) > self._rotate_at:
                replace_durably(path, self.files.rotated)
            new = not path.exists()
            with open(path, "ab") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            if new:
                fsync_dir(path.parent)  # the new file's name is durable too

    def remove(self) -> None:
        with self._lock:
            for path in (self.files.path, self.files.rotated):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()


class LogGroups:
    def __init__(
        self,
        store: LogsStore,
        function_logs: LogStore,
        functions: FunctionRegistry,
        root: Path,
        max_bytes: int,
    ) -> None:
        self.store = store
        self.function_logs = function_logs
        self.functions = functions
        self.root = root
        #: On-disk bound of a group's own file with its rotated half (`log_function_bytes`).
        self.max_bytes = max_bytes
        self._indexes: dict[tuple[str, str, str], StreamIndex] = {}
        self._user_logs: dict[tuple[str, str, str], _UserLog] = {}
        self._listeners: dict[tuple[str, str, str], list[Listener]] = {}

    # -- which groups exist ----------------------------------------------------------------------
    @staticmethod
    def function_of(name: str) -> str | None:
        """The function whose group `name` is, if it is one (`/aws/lambda/<function>`)."""
        if not name.startswith(FUNCTION_PREFIX):
            return None
        function = name[len(FUNCTION_PREFIX) :]
        return function if _FUNCTION_NAME.fullmatch(function) else None

    def discover(self, account: str, region: str) -> None:
        """Store the groups of functions that have logged but whose group is not stored yet
        (one transaction for all of them)."""
        directory = self.function_logs.root / account / region
        try:
            entries = list(os.scandir(directory))
        except FileNotFoundError:
            return
        found: dict[str, LogGroup] = {}
        for entry in entries:
            if not entry.name.endswith(".log"):
                continue
            function = entry.name[: -len(".log")]
            # Access logs of API Gateway stages share the directory: only functions' files.
            config = self.functions.get(account, region, function)
            if config is None:
                continue
            name = config.log_group  # `/aws/lambda/<function>` unless LoggingConfig names one
            if name in found or self.store.group(account, region, name) is not None:
                continue
            try:
                stat = entry.stat()
            except FileNotFoundError:
                continue
            if stat.st_size == 0:
                continue
            found[name] = LogGroup(
                account, region, name, int(stat.st_mtime * 1000), function=self.function_of(name)
            )
        if found:
            self.store.save_group(*found.values())

    def find(self, account: str, region: str, name: str) -> LogGroup | None:
        group = self.store.group(account, region, name)
        if group is None:
            self.discover(account, region)
            group = self.store.group(account, region, name)
        return group

    def create(
        self, account: str, region: str, name: str, tags: dict[str, str], kms_key_id: str | None
    ) -> LogGroup:
        group = LogGroup(
            account, region, name, tags=tags, function=self.function_of(name), kms_key_id=kms_key_id
        )
        self.store.save_group(group)
        return group

    def delete(self, group: LogGroup) -> None:
        """Forget the group and its events (a function's group comes back when it logs)."""
        key = (group.account, group.region, group.name)
        self.store.delete_group(group)
        self._indexes.pop(key, None)
        if group.function is not None:
            self.function_logs.clear(group.account, group.region, group.function)
            return
        for writer in self._writers(group):
            self.function_logs.clear(group.account, group.region, writer)
        self._user_log(group).remove()

    # -- where events are ------------------------------------------------------------------------
    def files(self, group: LogGroup) -> GroupFiles:
        if group.function is not None:
            path = self.function_logs.path(group.account, group.region, group.function)
            return GroupFiles(path, escaped=False)
        encoded = quote(group.name, safe="")
        if len(encoded) > 200:
            encoded = hashlib.sha256(group.name.encode()).hexdigest()
        own = self.root / group.account / group.region / f"{encoded}.log"
        extra = [
            self.function_logs.path(group.account, group.region, name)
            for name in self._writers(group)
        ]
        return GroupFiles(own, True, extra)

    def _writers(self, group: LogGroup) -> list[str]:
        """The names in the function log store whose lines this (non-function) group shows:
        functions whose LoggingConfig names it, and the access log of API Gateway stages
        whose DestinationArn does."""
        account, region = group.account, group.region
        names = [
            config.name
            for config in self.functions.in_region(account, region)
            if config.logging.get("LogGroup") == group.name
        ]
        access = destination_name(group.arn)
        if (
            access is not None
            and self.functions.get(account, region, access) is None
            and self.function_logs.path(account, region, access).exists()
        ):
            names.append(access)
        return names

    def index(self, group: LogGroup) -> StreamIndex:
        key = (group.account, group.region, group.name)
        files = self.files(group)
        index = self._indexes.get(key)
        if index is None:
            index = self._indexes[key] = StreamIndex(files)
        else:
            index.files = files  # its sources may have changed; entries are kept by inode
        return index

    def _user_log(self, group: LogGroup) -> _UserLog:
        key = (group.account, group.region, group.name)
        log = self._user_logs.get(key)
        if log is None:
            log = self._user_logs[key] = _UserLog(self.files(group), self.max_bytes)
        return log

    # -- writing ---------------------------------------------------------------------------------
    async def append(self, group: LogGroup, stream: str, events: list[tuple[int, str]]) -> None:
        """PutLogEvents' accepted (timestamp, message) events, on disk on return."""
        ingestion = now_ms()
        if group.function is not None:
            log = self.function_logs.get(group.account, group.region, group.function)
            for timestamp, message in events:
                # A function's file holds one line per record: newlines become "\r", as
                # Lambda's runtimes write a multi-line message. Its listeners see each one.
                log.write(stream, message.replace("\n", "\r").encode(), stamp_ms=timestamp)
            log.flush()
            await asyncio.to_thread(_fsync, log.path)
            return
        await asyncio.to_thread(
            self._user_log(group).append,
            [(timestamp, ingestion, stream, message) for timestamp, message in events],
        )
        for listener in list(self._listeners.get((group.account, group.region, group.name), [])):
            for timestamp, message in events:
                listener(group.name, stream, timestamp, ingestion, message)

    # -- live listeners --------------------------------------------------------------------------
    def listen(self, group: LogGroup, listener: Listener) -> Callable[[], None]:
        """Offer `listener` every record appended to `group` from now on; returns the undo."""
        name = group.name

        def on_line(millis: int, stream: str, line: bytes) -> None:
            listener(name, stream, millis, millis, line.decode(errors="replace"))

        writers = [group.function] if group.function is not None else self._writers(group)
        logs = [self.function_logs.get(group.account, group.region, w) for w in writers]
        for log in logs:
            log.listeners.append(on_line)
        key = (group.account, group.region, group.name)
        if group.function is None:
            self._listeners.setdefault(key, []).append(listener)

        def stop() -> None:
            for log in logs:
                if on_line in log.listeners:
                    log.listeners.remove(on_line)
            listeners = self._listeners.get(key, [])
            if listener in listeners:
                listeners.remove(listener)

        return stop

    # -- retention -------------------------------------------------------------------------------
    def retained(self) -> list[tuple[LogGroup, StreamIndex]]:
        """The groups with a retention policy and their indexes (on the event loop: it reads
        the function registry, which the loop changes)."""
        return [(g, self.index(g)) for g in self.store.every_group() if g.retention is not None]

    @staticmethod
    def drop_expired(retained: list[tuple[LogGroup, StreamIndex]]) -> int:
        """Delete each rotated older half whose every record is past its group's retention
        (a current file, which writers hold open, is never deleted); blocking."""
        dropped = 0
        for group, index in retained:
            assert group.retention is not None
            cutoff = now_ms() - group.retention * 86_400_000
            index.refresh()
            for inode, path in index.files.halves():
                if not path.name.endswith(".log.1"):
                    continue
                newest = index.newest_in(inode)
                if newest is not None and newest < cutoff:
                    with contextlib.suppress(FileNotFoundError):
                        path.unlink()
                        dropped += 1
        return dropped

    def expire(self) -> int:
        return self.drop_expired(self.retained())


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())
