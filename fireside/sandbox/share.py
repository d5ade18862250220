"""The shared tree: what unprivileged sandboxes may mount, in a place they can reach.

Sandboxes run as an unprivileged user (`nobody`), and bubblewrap resolves every bind source with
that user's permissions. A pyenv interpreter under `/root`, or a data directory under a private
temporary directory, is out of its reach. So everything an environment mounts lives under one
directory that `nobody` can traverse but not list (mode 0711):

    <share>/code/<sha256>/           function code, unpacked once, read-only (see store.blobs)
    <share>/runtime-<hash>/          Fireside's bootstrap and the server's own boto3 (`sdk/`),
                                     seen as /var/runtime, with empty mount points for the
                                     runtimes' binds under it (`RuntimeFiles.mount_points`)
    <share>/...                      what runtimes build once to bind (`Layout.cache`): an
                                     interpreter's image (`runtimes/`), Node.js's module links
    <share>/trust/                   the certificates environments trust, copied into the
                                     runtime directory as /var/runtime/trust (written by the app)

Trees are built once, with hard links where the file system allows (no copy, no space),
atomically (a temporary name, then a rename), and reused across restarts.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import logging
import os
import re
import shutil
import stat
import sys
import tempfile
import threading
from pathlib import Path

from fireside.sandbox.base import HostPaths, Layout, RuntimeFiles
from fireside.store.durable import publish_tree

log = logging.getLogger(__name__)

#: Packages a Python function can import without packaging them, as on Lambda.
SDK_DISTRIBUTIONS = ("boto3",)


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


def sweep_orphans(base: Path = Path("/var/tmp")) -> int:
    """Remove shared trees under `base` whose data directory no longer exists, with the mounts
    left in them by a server that was killed (warm slots, /opt overlays); returns how many.

    Trees under /var/tmp outlive a killed server, and its slot mounts outlive it too; nothing
    else would ever release them once their data directory is gone."""
    from fireside.sandbox import mounts

    removed = 0
    for root in base.glob("fireside-share-*"):
        try:
            owner = Path((root / OWNER_FILE).read_text().strip())
        except OSError:
            continue  # not ours to judge
        if owner.exists():
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


def _distribution_closure(names: tuple[str, ...]) -> list[importlib.metadata.Distribution]:
    seen: dict[str, importlib.metadata.Distribution] = {}
    pending = list(names)
    while pending:
        name = pending.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        seen[key] = dist
        for requirement in dist.requires or []:
            if ";" in requirement and "extra" in requirement.split(";", 1)[1]:
                continue
            match = re.match(r"[A-Za-z0-9_.\-]+", requirement)
            if match:
                pending.append(match[0])
    return list(seen.values())


TRUST_DIR = "trust"


def runtime_dir(root: Path, files: RuntimeFiles) -> Path:
    """Fireside's bootstrap plus the AWS SDK, to mount at /var/runtime (SDK under `sdk/`), and
    the installation's trusted certificates from `<root>/trust` (under `trust/`)."""
    dists = _distribution_closure(SDK_DISTRIBUTIONS)
    trust = sorted((root / TRUST_DIR).glob("*.pem")) if (root / TRUST_DIR).is_dir() else []
    fingerprint = hashlib.sha256(
        b"".join(name.encode() + path.read_bytes() for name, path in files.files.items())
        + b"".join(path.name.encode() + path.read_bytes() for path in trust)
        + "".join(f"{d.metadata['Name']}=={d.version};" for d in dists).encode()
        + sys.version.encode()
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
    sdk = staging / "sdk"
    sdk.mkdir()
    for dist in dists:
        for file in dist.files or []:
            parts = Path(str(file)).parts
            if (
                not parts
                or parts[0].endswith((".dist-info", ".egg-info"))
                or parts[0] in ("..", "bin")
            ):
                continue
            source = Path(str(dist.locate_file(file)))
            if not source.is_file():
                continue
            target = sdk.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            link_file(source, target)
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

    /var/task is the code, /var/runtime Fireside's bootstrap and the AWS SDK; the rest is the
    runtime's own binds (`Program.binds`, an interpreter's image at /var/lang for one).
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
            bootstrap=f"/var/runtime/{self.files.bootstrap}",
            sdk_paths=["/var/runtime/sdk"],
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
