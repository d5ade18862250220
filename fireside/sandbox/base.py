"""The sandbox interface: how an execution environment's runtime process is started and contained.

A closed set of modes (`SandboxMode`); each backend turns a `SandboxSpec` into a running
`Sandbox`. The engine only ever sees this interface, so stronger isolation (namespaces, gVisor,
microVMs) plugs in without touching the invoke path.
"""

from __future__ import annotations

import enum
import socket
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


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
    #: The runtime's interpreter (python3.x) or None for custom runtimes.
    interpreter: str | None
    interpreter_version: str | None
    #: Directories appended to a Python function's sys.path (the AWS SDK).
    sdk_paths: list[str]
    #: Private scratch directory for this environment on the host.
    work_dir: Path
    #: The function's layers, merged (`fireside.sandbox.opt`); None when it has none.
    opt_root: Path | None = None


@dataclass(slots=True)
class Layout:
    """The same pieces as the runtime process sees them (remapped by sandboxes that can)."""

    task_root: str
    runtime_dir: str
    interpreter: str | None
    bootstrap: str
    sdk_paths: list[str]
    opt_root: str
    tmp_dir: str
    library_path: list[str] = field(default_factory=list)
    #: The address at which the runtime reaches Fireside's listeners (the Runtime API and the
    #: endpoint): 127.0.0.1 for a process or a namespace, the gateway address for a VM guest.
    host_address: str = "127.0.0.1"
    #: The command that starts a runtime through `fireside_exec` (extensions, Landlock, warm
    #: handoff) in this sandbox; empty when no Python is there to run it.
    launcher: list[str] = field(default_factory=list)


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
    #: Snapshot starts: environments with the same key are forked from one initialised
    #: template (backends that cannot ignore it); `template_session` is called once per
    #: template made, for the credentials its Init runs with.
    snapshot_key: str | None = None
    template_session: Callable[[], TemplateSession] | None = None


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

    def describe(self) -> str:
        return self.mode.value

    def stats(self) -> dict[str, int]:
        """Counters for /_fireside/health (warm spares, hits and misses)."""
        return {}

    def forks_snapshots(self, runtime: str) -> bool:
        """Whether snapshot starts of `runtime` fork from an initialised template here (else
        the platform keeps initialised spare environments instead)."""
        return False

    async def forget_snapshots(self, prefix: str) -> None:
        """Versions whose snapshot keys start with `prefix` are gone: revoke their templates'
        credentials now and stop the templates once none of their environments is left."""
        return None

    async def close(self) -> None:
        """Stop what the backend keeps between environments (spares)."""
        return None
