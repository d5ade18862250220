"""Sandboxes that contain execution environments, behind one small interface."""

from fireside.sandbox.base import Sandbox, SandboxBackend, SandboxMode, SandboxSpec
from fireside.sandbox.process import ProcessBackend


def create_backend(mode: SandboxMode) -> SandboxBackend:
    """The backend for a mode (one per mode; the set grows with the isolation work)."""
    backends: dict[SandboxMode, type[SandboxBackend]] = {SandboxMode.PROCESS: ProcessBackend}
    return backends[mode]()


__all__ = ["Sandbox", "SandboxBackend", "SandboxMode", "SandboxSpec", "create_backend"]
