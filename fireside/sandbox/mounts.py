"""Bind mounts that reach into already-running sandboxes, by mount propagation.

A pre-started (warm) environment is created before Fireside knows which function it will run,
so its `/var/task` is bound from an empty *slot* directory on the host. The slot is a shared
mount point; bubblewrap makes the sandbox's copy of it a slave, so when Fireside later
bind-mounts the function's code onto the slot (on the host), the mount propagates into the
sandbox, read-only, and the sandbox cannot undo it (mounts propagated into a less privileged
user namespace are locked).

Needs CAP_SYS_ADMIN on the host (Fireside running as root); `available()` says whether it works.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from pathlib import Path

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
MS_SHARED = 1 << 20
MNT_DETACH = 0x2

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_void_p,
]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]


def _mount(source: str | None, target: str, flags: int) -> None:
    src = source.encode() if source is not None else None
    if _libc.mount(src, target.encode(), None, flags, None) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount {source or ''} on {target}: {os.strerror(err)}")


def make_slot(path: Path) -> None:
    """Make the directory `path` a shared mount point (a bind of itself)."""
    path.mkdir(mode=0o755)
    _mount(str(path), str(path), MS_BIND)
    _mount(None, str(path), MS_SHARED)


def bind_readonly(source: Path, slot: Path) -> None:
    """Mount `source` read-only on `slot`; it appears in every sandbox that binds the slot.

    Propagation copies mounts, not later changes to their flags: a bind made on the slot and
    then remounted read-only would stay writable inside. So the read-only bind is made aside
    first, and that mount (flags and all) is what gets bound onto the slot.
    """
    staging = slot.with_name(slot.name + ".ro")
    staging.mkdir(mode=0o700)
    try:
        _mount(str(source), str(staging), MS_BIND)
        _mount(None, str(staging), MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)
        _mount(str(staging), str(slot), MS_BIND)
    finally:
        _libc.umount2(str(staging).encode(), MNT_DETACH)
        with contextlib.suppress(OSError):
            staging.rmdir()


def release_slot(path: Path) -> None:
    """Detach everything mounted on `path` (the code, then the slot itself) and remove it."""
    for _ in range(4):  # at most the code and the slot's own bind; bounded all the same
        if _libc.umount2(str(path).encode(), MNT_DETACH) != 0:
            break
    with contextlib.suppress(OSError):
        path.rmdir()


def mounts_under(root: Path) -> list[Path]:
    """Mount points at or below `root` in this mount namespace, deepest first."""
    prefix = str(root).rstrip("/") + "/"
    found: list[Path] = []
    with open("/proc/self/mountinfo") as table:
        for line in table:
            point = _unescape(line.split()[4])
            if point.startswith(prefix):
                found.append(Path(point))
    return sorted(set(found), key=lambda p: len(p.parts), reverse=True)


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    return (
        field.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
    )


def cleanup(root: Path) -> int:
    """Release slots left under `root` by a previous run that crashed; returns how many."""
    points = mounts_under(root)
    for point in points:
        for _ in range(8):  # mounts stack (a slot's own bind, the code bound on it)
            if _libc.umount2(str(point).encode(), MNT_DETACH) != 0:
                break
    if root.is_dir():
        for entry in root.iterdir():
            with contextlib.suppress(OSError):
                entry.rmdir()
    return len(points)


def available(scratch: Path) -> str | None:
    """None when slots work here (tried in `scratch`), else why not."""
    probe = scratch / f"probe-{os.getpid()}"
    try:
        make_slot(probe)
    except OSError as exc:
        with contextlib.suppress(OSError):
            probe.rmdir()
        return f"cannot create shared bind mounts ({exc.strerror})"
    release_slot(probe)
    return None
