"""`/opt`: a function's layers merged in the order listed, the last one winning on a conflict.

Each layer is unpacked once (content-addressed, read-only, by the blob store). An environment's
`/opt` is then:
- no layers: nothing (backends show an empty directory);
- one layer: that layer's tree itself;
- several: a merged view, made once per ordered list of layers and shared by every environment
  that uses the same list. As root it is a read-only overlayfs whose lower directories are the
  layers, last listed on top: no copying, a millisecond. Without root it is a tree of hard links
  built once (layers are immutable, so links are as good as copies).
Merged views live under `<share>/opt/`; overlays are unmounted when Fireside stops, and any left
by a crash are released at the next start.

Host code that reads a function's `/opt` (the extension scan, the custom runtime's bootstrap)
resolves paths *inside* it (`open_in`): each layer's links are checked to stay in that layer,
but a merged view joins them, and two links harmless alone (`extensions -> a/link/../..` in
one layer, `a/link -> ..` in another) can lead out of `/opt` into the host's directories.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import logging
import os
import shutil
import stat
import tempfile
import threading
from pathlib import Path

from fireside.sandbox import mounts
from fireside.store.durable import publish_tree

log = logging.getLogger(__name__)

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_SYS_OPENAT2 = {"x86_64": 437, "aarch64": 437}.get(os.uname().machine)
_RESOLVE_NO_MAGICLINKS, _RESOLVE_IN_ROOT = 0x02, 0x10


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def open_in(root: Path, relative: str, flags: int = os.O_PATH) -> int:
    """An fd for `relative` resolved with `root` as `/`: links, absolute or `..`, never leave
    it (openat2 with RESOLVE_IN_ROOT, as a chroot would resolve them). Without openat2
    (Linux < 5.6), links are refused instead (ELOOP). The caller closes the fd."""
    root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if _SYS_OPENAT2 is not None:
            how = _OpenHow(flags | os.O_CLOEXEC, 0, _RESOLVE_IN_ROOT | _RESOLVE_NO_MAGICLINKS)
            fd = _libc.syscall(_SYS_OPENAT2, root_fd, relative.encode(), ctypes.byref(how),
                               ctypes.sizeof(how))  # fmt: skip
            if fd >= 0:
                return int(fd)
            err = ctypes.get_errno()
            if err != errno.ENOSYS:
                raise OSError(err, os.strerror(err), relative)
        return _open_without_links(root_fd, relative, flags)
    finally:
        os.close(root_fd)


def _open_without_links(root_fd: int, relative: str, flags: int) -> int:
    parts = [part for part in relative.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise OSError(errno.EXDEV, "'..' in a path inside /opt", relative)
    current = os.dup(root_fd)
    try:
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            mode = (flags if last else os.O_PATH | os.O_DIRECTORY) | os.O_NOFOLLOW | os.O_CLOEXEC
            following = os.open(part, mode, dir_fd=current)
            os.close(current)
            current = following
        result, current = current, -1
        return result
    finally:
        if current >= 0:
            os.close(current)


def executables_in(root: Path, directory: str) -> list[str]:
    """Names of the executable regular files in `root`/`directory`, resolved inside `root`,
    in name order (blocking)."""
    try:
        fd = open_in(root, directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return []
    try:
        names = sorted(os.listdir(fd))
    finally:
        os.close(fd)
    return [name for name in names if is_executable_in(root, f"{directory}/{name}")]


def is_executable_in(root: Path, relative: str) -> bool:
    """Whether `root`/`relative`, resolved inside `root`, is a regular file with an execute bit."""
    try:
        fd = open_in(root, relative)
    except OSError:
        return False
    try:
        info = os.fstat(fd)
    finally:
        os.close(fd)
    return stat.S_ISREG(info.st_mode) and bool(info.st_mode & 0o111)


class OptTrees:
    def __init__(self, root: Path, *, overlay: bool | None = None) -> None:
        self.root = root
        self.root.mkdir(mode=0o711, parents=True, exist_ok=True)
        if mounts.cleanup(self.root):
            log.info("released /opt overlays left by a previous run")
        self._merged: dict[tuple[Path, ...], Path] = {}
        self._lock = threading.Lock()
        #: Merge with overlayfs (needs root); None: whenever running as root.
        self._overlay = os.geteuid() == 0 if overlay is None else overlay

    def merged(self, layers: list[Path]) -> Path | None:
        """The host directory to show at /opt for these layers (blocking when it must be made)."""
        if not layers:
            return None
        if len(layers) == 1:
            return layers[0]
        key = tuple(layers)
        found = self._merged.get(key)
        if found is not None:
            return found
        with self._lock:
            found = self._merged.get(key)
            if found is None:
                found = self._make(key)
                self._merged[key] = found
            return found

    def _make(self, layers: tuple[Path, ...]) -> Path:
        name = hashlib.sha256("\0".join(map(str, layers)).encode()).hexdigest()[:24]
        target = self.root / name
        if self._overlay:
            try:
                _mount_overlay(layers, target)
                return target
            except OSError as exc:
                log.warning("no overlayfs for /opt (%s): merging layers with hard links", exc)
                self._overlay = False
        if not target.exists():
            _link_merge(layers, target)
        return target

    def close(self) -> None:
        with self._lock:
            mounts.cleanup(self.root)
            self._merged.clear()


def _mount_overlay(layers: tuple[Path, ...], target: Path) -> None:
    if target.is_dir() and os.path.ismount(target):
        return  # made by this run already (the cache was cleared) or raced
    target.mkdir(mode=0o755, exist_ok=True)
    # overlayfs lists the uppermost lower directory first: the last layer wins.
    lower = ":".join(str(layer).replace(":", "\\:") for layer in reversed(layers))
    flags = mounts.MS_RDONLY | mounts.MS_NOSUID | mounts.MS_NODEV
    result = _libc.mount(b"overlay", str(target).encode(), b"overlay", flags,
                         f"lowerdir={lower}".encode())  # fmt: skip
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount overlay on {target}: {os.strerror(err)}")


def _link_merge(layers: tuple[Path, ...], target: Path) -> None:
    """Hard-link every layer's files into one tree, in order, so later layers replace earlier
    ones; published by a rename, so a half-made tree is never seen."""
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".merge-"))
    try:
        for layer in layers:
            _link_tree(layer, staging)
        staging.chmod(0o755)
        publish_tree(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _link_tree(source: Path, target: Path) -> None:
    for directory, subdirs, files in os.walk(source):
        relative = os.path.relpath(directory, source)
        here = target if relative == "." else target / relative
        for name in subdirs:
            path = here / name
            src = Path(directory, name)
            if src.is_symlink():
                _replace(path)
                os.symlink(os.readlink(src), path)
            elif not path.is_dir() or path.is_symlink():
                _replace(path)
                path.mkdir(mode=0o755)
        for name in files:
            path, src = here / name, Path(directory, name)
            _replace(path)
            if src.is_symlink():
                os.symlink(os.readlink(src), path)
            else:
                os.link(src, path)


def _replace(path: Path) -> None:
    """Remove what an earlier layer put at `path` (a later layer wins)."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
