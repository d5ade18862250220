"""The sandbox interface: how an execution environment's runtime process is started and contained.

A closed set of modes (`SandboxMode`); each backend turns a `SandboxSpec` into a running
`Sandbox`. The engine only ever sees this interface, so stronger isolation (namespaces, gVisor,
microVMs) plugs in without touching the invoke path.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path


class SandboxMode(enum.Enum):
    PROCESS = "process"

    @classmethod
    def parse(cls, value: str) -> SandboxMode:
        try:
            return cls(value)
        except ValueError:
            choices = ", ".join(mode.value for mode in cls)
            raise ValueError(f"unknown sandbox {value!r}; this build offers: {choices}") from None


@dataclass(slots=True)
class SandboxSpec:
    """What to run and with which limits."""

    argv: list[str]
    env: dict[str, str]
    #: The function's code, read-only (seen as /var/task where the backend can remap paths).
    task_root: Path
    #: Private scratch directory for this environment (its /tmp).
    work_dir: Path
    memory_mb: int = 128
    extra_paths: list[Path] = field(default_factory=list)


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


class SandboxBackend(ABC):
    mode: SandboxMode

    @abstractmethod
    async def start(self, spec: SandboxSpec) -> Sandbox: ...

    def describe(self) -> str:
        return self.mode.value
