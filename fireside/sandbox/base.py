"""The sandbox interface: how an execution environment's runtime process is started and contained.

A closed set of modes (`SandboxMode`); each backend turns a `SandboxSpec` into a running
`Sandbox`. The engine only ever sees this interface, so stronger isolation (namespaces, gVisor,
microVMs) plugs in without touching the invoke path.

Sandboxes know no language. What a runtime needs started is a `Program` (its command line,
environment, read-only binds, how it is launched and how it becomes a snapshot template), made
by `fireside.runtimes` and copied into the `SandboxSpec`; Fireside's own files for
`/var/runtime` arrive as `RuntimeFiles`. This package never imports `fireside.runtimes`
(`tests/test_import_graph.py`), and backends share code through this module and the helper
modules (`share`, `netns`, `limits`...), never through each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import signal
import socket
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

#: The unprivileged user isolating sandboxes run functions as.
NOBODY = 65534
#: Host files every isolating sandbox shows read-only under /etc.
ETC_FILES = (
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/nsswitch.conf",
    "/etc/passwd",
    "/etc/group",
    "/etc/localtime",
    "/etc/ld.so.cache",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/alternatives",
    "/etc/mime.types",
    "/etc/protocols",
    "/etc/services",
    "/etc/host.conf",
)


class SandboxMode(enum.Enum):
    PROCESS = "process"
    NAMESPACE = "namespace"
    GVISOR = "gvisor"
    MICROVM = "microvm"

    @classmethod
    def parse(cls, value: str) -> SandboxMode:
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(mode.value for mode in cls)
            raise ValueError(f"unknown sandbox {value!r}; this build offers: {choices}") from None


@dataclass(slots=True)
class HostPaths:
    """Where an environment's pieces are on the host, before any remapping."""

    task_root: Path
    #: Private scratch directory for this environment on the host.
    work_dir: Path
    #: The function's layers, merged (`fireside.sandbox.opt`); None when it has none.
    opt_root: Path | None = None


@dataclass(slots=True)
class Layout:
    """The same pieces as the runtime process sees them (remapped by sandboxes that can)."""

    task_root: str
    runtime_dir: str
    opt_root: str
    tmp_dir: str
    #: The address at which the runtime reaches Fireside's listeners (the Runtime API and the
    #: endpoint): 127.0.0.1 for a process or a namespace, the gateway address for a VM guest.
    host_address: str = "127.0.0.1"
    #: The command that starts a runtime through `fireside_exec` (extensions, Landlock, warm
    #: handoff) in this sandbox; empty when no Python is there to run it.
    launcher: list[str] = field(default_factory=list)
    #: Whether `Bind`s are honoured (false for the `process` backend, which shows host paths).
    binds: bool = True
    #: A host directory in the shared tree that sandboxes can read, where runtimes put what
    #: they build once to bind (None where nothing is bound).
    cache: Path | None = None

    def path_of(self, bind: Bind) -> str:
        """Where the runtime finds what `bind` shows."""
        return bind.target if self.binds else str(bind.source)


@dataclass(frozen=True, slots=True)
class Bind:
    """A host file or directory shown read-only inside the sandbox at `target`.

    The `process` backend shows host paths as they are, so a runtime names what it binds by
    `Layout.path_of`, which is `target` in an isolating sandbox and `source` in a process."""

    source: Path
    target: str


class Launcher(enum.Enum):
    """How a runtime's process starts inside an isolating sandbox."""

    #: The program applies Landlock and takes a warm spare's handoff itself (Fireside's Python
    #: bootstrap): it is started as it is, and a warm spare runs it before it is taken.
    SELF = "self"
    #: Started through `fireside_exec` (`RuntimeFiles.launcher`), which applies Landlock,
    #: waits for a warm spare's handoff, starts external extensions, then execs the program.
    EXEC = "exec"


@dataclass(slots=True)
class TemplatePlan:
    """How a snapshot template's runtime starts, where it differs from an environment's."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    binds: list[Bind] = field(default_factory=list)


class SnapshotHooks:
    """How a runtime becomes a snapshot template (its Init run once, then forked per
    environment). The default needs nothing more than the runtime's own command."""

    def available(self, cache_dir: Path) -> bool:
        """Whether templates of this runtime can be made on this host."""
        return True

    def template(self, argv: list[str], cache_dir: Path) -> TemplatePlan:
        """The template's command, variables and binds (blocking: called in a thread);
        `cache_dir` is a directory of the shared tree for what the runtime builds once.
        Raises OSError when no template can be made."""
        return TemplatePlan(list(argv))


@dataclass(slots=True)
class Program:
    """What a runtime asks a sandbox to start: the description `fireside.runtimes` hands over.

    `env` holds the runtime's own variables (NODE_PATH, GEM_PATH...): the function's
    variables override them. Adding a file or tree to every environment of a runtime is one
    `Bind` in `binds` and, when the runtime must be told where it is, one variable in `env`
    naming `Layout.path_of(bind)`."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    binds: list[Bind] = field(default_factory=list)
    #: Directories put first in LD_LIBRARY_PATH (an interpreter's own libraries).
    library_path: list[str] = field(default_factory=list)
    launcher: Launcher = Launcher.EXEC
    #: None: the runtime cannot be a snapshot template (custom runtimes).
    snapshot: SnapshotHooks | None = None
    #: Variables the process reads only when it starts (SELF launchers: a warm spare, started
    #: before the function is known, must have been started with the function's values).
    startup_prefixes: tuple[str, ...] = ()
    startup_names: frozenset[str] = frozenset()

    def read_at_startup(self, name: str) -> bool:
        return name in self.startup_names or name.startswith(self.startup_prefixes)


@dataclass(frozen=True, slots=True)
class RuntimeFiles:
    """Fireside's own runtime files, shown in every isolating sandbox at `/var/runtime`."""

    #: Name under /var/runtime (may hold one directory level) -> host file.
    files: Mapping[str, Path]
    #: Where the runtime dir is on the host, for the `process` backend, which remaps nothing.
    host_dir: Path
    #: The name of the launcher (`Launcher.EXEC`), among `files`.
    launcher: str
    #: The host kernel's Landlock ABI version (0: none), as the launcher will find it.
    landlock_abi: int = 0
    #: Empty directories under /var/runtime where runtimes bind trees of their own (the AWS
    #: SDKs): a bind needs its mount point, and /var/runtime itself is read-only.
    mount_points: tuple[str, ...] = ()


@dataclass(slots=True)
class SandboxSpec:
    """What to run and with which limits."""

    argv: list[str]
    env: dict[str, str]
    host: HostPaths
    memory_mb: int = 128
    tmp_mb: int = 512
    egress: bool = True
    #: With egress: may it reach private, link-local and the host's own addresses
    #: (`fireside.sandbox.egress`)?
    private_egress: bool = False
    #: Ports on the environment's own 127.0.0.1 that Fireside will listen on (private networks).
    inside_ports: list[int] = field(default_factory=list)
    #: From the runtime's `Program`: extra read-only binds, how it is launched, and how it
    #: becomes a snapshot template (None: it cannot).
    binds: list[Bind] = field(default_factory=list)
    launcher: Launcher = Launcher.EXEC
    snapshot: SnapshotHooks | None = None
    #: Variables of `env` the process reads only at start-up (part of a warm spare's key).
    startup_env: dict[str, str] = field(default_factory=dict)
    #: Snapshot starts: environments with the same key are forked from one initialised
    #: template (backends that cannot ignore it); `template_session` is called once per
    #: template made, for the credentials its Init runs with.
    snapshot_key: str | None = None
    template_session: Callable[[], TemplateSession] | None = None
    #: What Fireside serves on a template's network while its Init runs (the resolver its
    #: copies' resolv.conf names too): called with the template; returns what stops it.
    template_network: Callable[[Sandbox], Awaitable[Callable[[], None]]] | None = None
    #: What Fireside serves on an environment's network besides its Runtime API (its
    #: endpoint, AWS's names): a backend that parks environments ahead (snapshot copies)
    #: serves it then, and `Sandbox.served_ahead` hands back what stops it.
    serve_network: Callable[[Sandbox], Awaitable[Callable[[], Awaitable[None]]]] | None = None


@dataclass(frozen=True, slots=True)
class TemplateSession:
    """Credentials a snapshot template's Init runs with. Clients made at Init keep them, in the
    template and in every environment forked from it, so they live and die with the template."""

    #: Variables that replace the environment's own for the template's Init.
    env: dict[str, str]
    #: Called once the template is stopped or its version deleted (idempotent).
    revoke: Callable[[], None]
    #: Seconds after its Init during which environments may be forked from the template: the
    #: last of them must be done before these credentials expire. A new template is made then.
    fork_for: float


class Sandbox(ABC):
    """A running environment process; its stdout and stderr arrive merged on `output_fd`."""

    pid: int
    output_fd: int

    @abstractmethod
    async def wait(self) -> int:
        """Wait for the process to exit; returns its exit status (negative: killed by signal)."""

    @abstractmethod
    def kill(self) -> None:
        """Stop the process and everything it started, at once."""

    @abstractmethod
    def peak_memory_mb(self) -> int:
        """Peak resident memory of the environment so far, in MB."""

    def out_of_memory(self) -> bool:
        """Whether the environment was killed for exceeding its memory limit."""
        return False

    def socket_inside(self, port: int) -> socket.socket:
        """A socket listening on 127.0.0.1:`port` of the environment's private network."""
        raise NotImplementedError("this sandbox shares the host network")

    def network_socket(self, kind: int) -> socket.socket:
        """A new, unbound IPv4 socket of `kind` (SOCK_STREAM, SOCK_DGRAM) in the environment's
        private network: Fireside's own listeners there, and its DNS forwarding out of it."""
        raise NotImplementedError("this sandbox shares the host network")

    def end_of_init(self) -> None:
        """Init is over: apply limits that Lambda lifts during Init (burst CPU)."""
        return None

    def served_ahead(self) -> Callable[[], Awaitable[None]] | None:
        """What stops `SandboxSpec.serve_network`, when the backend served it ahead (the
        caller owns it from here); None when the caller serves it."""
        return None

    async def runtime_started(self) -> None:
        """Returns once the runtime process has been started: at once, except where the
        sandbox boots first (a VM), whose boot is not the function's Init."""
        return None

    def release(self) -> None:
        """Let the runtime start (backends that hold it until Fireside is listening)."""
        return None

    async def close(self) -> None:
        """Release what the sandbox holds on the host (after the process is gone)."""
        return None


class ProcessSandbox(Sandbox):
    """A runtime that is a child process of Fireside (or whose sandbox is: bubblewrap, runsc,
    QEMU): exit watched through a pidfd, peak memory from procfs. Backends subclass it."""

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


class SandboxBackend(ABC):
    mode: SandboxMode
    #: Each environment has its own network namespace: the Runtime API and Fireside's
    #: endpoint are served on sockets inside it (`Sandbox.socket_inside`).
    private_network: bool = False

    @abstractmethod
    def layout(self, host: HostPaths) -> Layout:
        """How the runtime process sees the paths of `host`."""

    @abstractmethod
    async def start(self, spec: SandboxSpec) -> Sandbox: ...

    @property
    def cache(self) -> Path | None:
        """The shared tree's directory where runtimes build what they bind (`Layout.cache`),
        so that it can be built before an environment starts; None where nothing is bound."""
        return None

    def describe(self) -> str:
        return self.mode.value

    def stats(self) -> dict[str, int]:
        """Counters for /_fireside/health (warm spares, hits and misses)."""
        return {}

    def forks_snapshots(self, snapshot: SnapshotHooks | None) -> bool:
        """Whether snapshot starts of a runtime with these hooks fork from an initialised
        template here (else the platform keeps initialised spare environments instead)."""
        return False

    async def forget_snapshots(self, prefix: str) -> None:
        """Versions whose snapshot keys start with `prefix` are gone: revoke their templates'
        credentials now and stop the templates once none of their environments is left."""
        return None

    async def close(self) -> None:
        """Stop what the backend keeps between environments (spares)."""
        return None
