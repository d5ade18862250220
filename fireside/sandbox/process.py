"""The `process` backend: the runtime is a plain child process in its own session.

No isolation beyond a private working directory and its own process group (so a kill takes its
children too). Exit is watched through a pidfd on the event loop: no thread, no SIGCHLD handler.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys

from fireside.runtimes.python import BOOTSTRAP_PATH, EXEC_PATH
from fireside.sandbox.base import (
    HostPaths,
    Layout,
    Sandbox,
    SandboxBackend,
    SandboxMode,
    SandboxSpec,
)


class ProcessSandbox(Sandbox):
    def __init__(self, process: subprocess.Popen[bytes], output_fd: int) -> None:
        self._process = process
        self.pid = process.pid
        self.output_fd = output_fd
        self._status_fd: int | None = None
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._watch()

    def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self._poller = loop.create_task(self._poll_exit())
            return

        def on_exit() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            self._reap()

        loop.add_reader(pidfd, on_exit)

    async def _poll_exit(self) -> None:
        while self._process.poll() is None:
            await asyncio.sleep(0.05)
        self._reap()

    def _reap(self) -> None:
        self._close_status()
        status = self._process.wait()
        if not self._exited.done():
            self._exited.set_result(status)

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def running(self) -> bool:
        return not self._exited.done()

    def kill(self) -> None:
        if self._exited.done():
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def peak_memory_mb(self) -> int:
        # Read on every invoke for the REPORT line: keep the procfs file open and pread it.
        try:
            if self._status_fd is None:
                self._status_fd = os.open(f"/proc/{self.pid}/status", os.O_RDONLY)
            data = os.pread(self._status_fd, 4096, 0)
            start = data.index(b"VmHWM:") + 6
            kilobytes = int(data[start : data.index(b"kB", start)])
        except (OSError, ValueError):
            return 0
        return max(1, round(kilobytes / 1024))

    def _close_status(self) -> None:
        if self._status_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._status_fd)
            self._status_fd = None


class ProcessBackend(SandboxBackend):
    """No isolation: paths are the host's (the code is not remapped to /var/task)."""

    mode = SandboxMode.PROCESS

    def layout(self, host: HostPaths) -> Layout:
        return Layout(
            task_root=str(host.task_root),
            runtime_dir=str(BOOTSTRAP_PATH.parent),
            interpreter=host.interpreter,
            bootstrap=str(BOOTSTRAP_PATH),
            sdk_paths=list(host.sdk_paths),
            opt_root=str(host.opt_root or host.work_dir / "opt"),
            launcher=[sys.executable, "-E", "-S", "-B", str(EXEC_PATH)],
            tmp_dir=str(host.work_dir / "tmp"),
        )

    async def start(self, spec: SandboxSpec) -> Sandbox:
        (spec.host.work_dir / "tmp").mkdir(parents=True, exist_ok=True)
        read_fd, write_fd = os.pipe()
        try:
            process = subprocess.Popen(
                spec.argv,
                stdin=subprocess.DEVNULL,
                stdout=write_fd,
                stderr=write_fd,
                env=spec.env,
                cwd=spec.host.task_root,
                start_new_session=True,
                close_fds=True,
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        os.set_blocking(read_fd, False)
        return ProcessSandbox(process, read_fd)
