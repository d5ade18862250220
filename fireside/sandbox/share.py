"""The shared tree: what unprivileged sandboxes may mount, in a place they can reach.

Sandboxes run as an unprivileged user (`nobody`), and bubblewrap resolves every bind source with
that user's permissions. A pyenv interpreter under `/root`, or a data directory under a private
temporary directory, is out of its reach. So everything an environment mounts lives under one
directory that `nobody` can traverse but not list (mode 0711):

    <share>/code/<sha256>/           function code, unpacked once, read-only (see store.blobs)
    <share>/runtime-<hash>/          Fireside's runtime files, seen as /var/runtime, with empty
                                     mount points for the runtimes' binds under it
                                     (`RuntimeFiles.mount_points`)
    <share>/...                      what runtimes build once to bind (`Layout.cache`): an
                                     interpreter's image or a fallback SDK (`runtimes/`),
                                     Node.js's module links
    <share>/trust/                   the certificates environments trust, copied into the
                                     runtime directory as /var/runtime/trust (written by the app)

Trees are built once, with hard links where the file system allows (no copy, no space),
atomically (a temporary name, then a rename), and reused across restarts.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import shutil
import stat
import tempfile
import threading
from pathlib import Path

from fireside.sandbox.base import HostPaths, Layout, RuntimeFiles
from fireside.store.durable import publish_tree

log = logging.getLogger(__name__)


def reachable_by_others(path: Path) -> bool:
    """True when every ancestor of `path` can be traversed by any user."""
    current = path.resolve()
    for part in [current, *current.parents]:
        try:
            if not os.stat(part).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def choose_share_root(data_dir: Path) -> Path:
    """`<data_dir>/share` when unprivileged users can reach it, else a per-data-dir /var/tmp dir."""
    preferred = data_dir.resolve() / "share"
    if reachable_by_others(data_dir):
        return preferred
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:16]
    return Path("/var/tmp") / f"fireside-share-{digest}"


def prepare_share_root(root: Path, data_dir: Path | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    os.chmod(root, 0o711)
    for sub in ("code", "runtimes"):
        (root / sub).mkdir(exist_ok=True)
        os.chmod(root / sub, 0o711)
    if data_dir is not None:  # lets a later run tell an orphaned tree (its data dir is gone)
        (root / OWNER_FILE).write_text(str(data_dir.resolve()))
    return root


OWNER_FILE = "data-dir"
#: Held (a shared `flock`) for as long as a server uses the tree: a tree in use is never swept,
#: even when its data directory was removed under the running server.
IN_USE_FILE = "in-use"
_held: dict[Path, int] = {}


def hold(root: Path) -> None:
    """Mark `root` as in use by this process until it exits (the lock dies with it)."""
    if root in _held:
        return
    fd = os.open(root / IN_USE_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_SH)
    _held[root] = fd


def _in_use(root: Path) -> bool:
    try:
        fd = os.open(root / IN_USE_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False  # never held: a server from before the lock, or one that never started
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # releases the probe's own lock too
    return False


def sweep_orphans(base: Path = Path("/var/tmp")) -> int:
    """Remove shared trees under `base` whose data directory no longer exists and that no
    running server holds, with the mounts left in them by a server that was killed (warm
    slots, /opt overlays); returns how many.

    Trees under /var/tmp outlive a killed server, and its slot mounts outlive it too; nothing
    else would ever release them once their data directory is gone."""
    from fireside.sandbox import mounts

    removed = 0
    for root in base.glob("fireside-share-*"):
        try:
            owner = Path((root / OWNER_FILE).read_text().strip())
        except OSError:
            continue  # not ours to judge
        if owner.exists() or _in_use(root):
            continue
        mounts.cleanup(root)
        shutil.rmtree(root, ignore_errors=True)
        removed += 1
    return removed


def link_tree(source: Path, target: Path, *, skip: re.Pattern[str] | None = None) -> None:
    """Mirror `source` into `target` with hard links (copies across file systems)."""

    def link(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)

    def ignore(directory: str, names: list[str]) -> set[str]:
        if skip is None:
            return set()
        return {n for n in names if skip.search(os.path.join(directory, n))}

    shutil.copytree(
        source, target, symlinks=True, copy_function=link, ignore=ignore, dirs_exist_ok=True
    )


def publish(staging: Path, final: Path) -> Path:
    """Make a finished image world-readable and move it into place (losing a race is fine)."""
    for dirpath, dirnames, filenames in os.walk(staging):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                mode = os.stat(path).st_mode
                # Hard links share the inode with the original: only ever add read bits.
                if mode & 0o444 != 0o444:
                    with contextlib.suppress(OSError):
                        os.chmod(path, mode | 0o444)
        del dirnames  # walked anyway
    try:
        publish_tree(staging, final)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if not final.exists():
            raise
    return final


def link_file(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


TRUST_DIR = "trust"


def runtime_dir(root: Path, files: RuntimeFiles) -> Path:
    """Fireside's runtime files, to mount at /var/runtime, with the runtimes' mount points and
    the installation's trusted certificates from `<root>/trust` (under `trust/`)."""
    trust = sorted((root / TRUST_DIR).glob("*.pem")) if (root / TRUST_DIR).is_dir() else []
    fingerprint = hashlib.sha256(
        b"".join(name.encode() + path.read_bytes() for name, path in files.files.items())
        + b"".join(path.name.encode() + path.read_bytes() for path in trust)
        + ";".join(files.mount_points).encode()
    ).hexdigest()[:16]
    final = root / f"runtime-{fingerprint}"
    if final.exists():
        return final
    staging = Path(tempfile.mkdtemp(dir=root, prefix=".build-"))
    for name, path in files.files.items():
        (staging / name).parent.mkdir(exist_ok=True)
        shutil.copy2(path, staging / name)
    for mount_point in files.mount_points:
        (staging / mount_point).mkdir(parents=True)
    if trust:
        (staging / TRUST_DIR).mkdir()
        for path in trust:
            shutil.copy2(path, staging / TRUST_DIR / path.name)
    return publish(staging, final)


def system_python() -> str | None:
    """A real Python 3 in the host's /usr (which every sandbox mounts), for `fireside_exec`."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        real = os.path.realpath(candidate)
        if real.startswith("/usr/") and os.access(real, os.X_OK):
            return real
    return None


class RuntimeTrees:
    """What every isolating backend mounts, and the paths the runtime sees them at.

    /var/task is the code, /var/runtime Fireside's runtime files; the rest is the runtime's
    own binds (`Program.binds`: an interpreter's image at /var/lang, an AWS SDK...).
    """

    def __init__(self, share_root: Path, files: RuntimeFiles) -> None:
        self.root = prepare_share_root(share_root)
        self.files = files
        self._runtime_dir: Path | None = None
        self._lock = threading.Lock()
        python = system_python()
        self.launcher = (
            [python, "-E", "-S", "-B", f"/var/runtime/{files.launcher}"] if python else []
        )
        #: Where runtimes build what they bind (`Layout.cache`, `SnapshotHooks`).
        self.cache = self.root

    def layout(self, host: HostPaths, host_address: str = "127.0.0.1") -> Layout:
        return Layout(
            task_root="/var/task",
            runtime_dir="/var/runtime",
            opt_root="/opt",
            tmp_dir="/tmp",
            host_address=host_address,
            launcher=self.launcher,
            cache=self.cache,
        )

    def prepare(self) -> Path:
        """The runtime dir, built once (blocking: a thread)."""
        with self._lock:  # concurrent cold starts build it once
            if self._runtime_dir is None:
                self._runtime_dir = runtime_dir(self.root, self.files)
            return self._runtime_dir
