"""The `process` backend: the runtime is a plain child process in its own session.

No isolation beyond a private working directory and its own process group (so a kill takes its
children too). Exit is watched through a pidfd on the event loop: no thread, no SIGCHLD handler.
"""

from __future__ import annotations

import os
import subprocess
import sys

from fireside.sandbox.base import (
    HostPaths,
    Layout,
    ProcessSandbox,
    RuntimeFiles,
    Sandbox,
    SandboxBackend,
    SandboxMode,
    SandboxSpec,
)


class ProcessBackend(SandboxBackend):
    """No isolation: paths are the host's (the code is not remapped to /var/task)."""

    mode = SandboxMode.PROCESS

    def __init__(self, files: RuntimeFiles) -> None:
        # Runtimes run from Fireside's own package: the bootstrap's directory is the runtime dir.
        self._bootstrap = files.files[files.bootstrap]
        self._launcher = files.files[files.launcher]

    def layout(self, host: HostPaths) -> Layout:
        return Layout(
            task_root=str(host.task_root),
            runtime_dir=str(self._bootstrap.parent),
            bootstrap=str(self._bootstrap),
            sdk_paths=list(host.sdk_paths),
            opt_root=str(host.opt_root or host.work_dir / "opt"),
            launcher=[sys.executable, "-E", "-S", "-B", str(self._launcher)],
            tmp_dir=str(host.work_dir / "tmp"),
            binds=False,
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
