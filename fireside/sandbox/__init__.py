"""Sandboxes that contain execution environments, behind one small interface."""

import logging
from pathlib import Path

from fireside.sandbox import lifeline
from fireside.sandbox.base import (
    Bind,
    HostPaths,
    Launcher,
    Layout,
    Program,
    RuntimeFiles,
    Sandbox,
    SandboxBackend,
    SandboxMode,
    SandboxSpec,
    SnapshotHooks,
    TemplatePlan,
)
from fireside.sandbox.process import ProcessBackend
from fireside.sandbox.warm import DEFAULT_WARM, WarmSettings

log = logging.getLogger(__name__)


def default_mode() -> tuple[SandboxMode, str | None]:
    """The strongest fast backend this host supports, and why a stronger one is not used."""
    from fireside.sandbox.namespace import unavailable_reason

    reason = unavailable_reason()
    if reason is None:
        return SandboxMode.NAMESPACE, None
    return SandboxMode.PROCESS, reason


def create_backend(
    mode: SandboxMode,
    share_root: Path,
    state_dir: Path,
    files: RuntimeFiles,
    *,
    warm: WarmSettings = DEFAULT_WARM,
) -> SandboxBackend:
    """The backend for a mode, showing Fireside's runtime `files` at /var/runtime; raises
    ValueError when this host cannot run it."""
    swept = lifeline.sweep(lifeline.instance_of(share_root))
    if swept:
        log.info("killed %d helper processes left by a previous run", swept)
    if mode is SandboxMode.PROCESS:
        return ProcessBackend(files)
    if mode is SandboxMode.GVISOR:
        from fireside.sandbox import gvisor

        reason = gvisor.unavailable_reason()
        if reason is not None:
            raise ValueError(f"the gvisor sandbox is not available: {reason}")
        return gvisor.GvisorBackend(share_root, state_dir / "runsc", files)
    if mode is SandboxMode.MICROVM:
        from fireside.sandbox import microvm

        reason = microvm.unavailable_reason()
        if reason is not None:
            raise ValueError(f"the microvm sandbox is not available: {reason}")
        return microvm.MicrovmBackend(share_root, files, warm)
    from fireside.sandbox.namespace import NamespaceBackend, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        raise ValueError(f"the {mode.value} sandbox is not available: {reason}")
    return NamespaceBackend(share_root, files, warm)


__all__ = [
    "Bind",
    "HostPaths",
    "Launcher",
    "Layout",
    "Program",
    "RuntimeFiles",
    "Sandbox",
    "SandboxBackend",
    "SandboxMode",
    "SandboxSpec",
    "SnapshotHooks",
    "TemplatePlan",
    "WarmSettings",
    "create_backend",
    "default_mode",
]
