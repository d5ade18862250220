"""The /etc a namespace sandbox shows: one directory, bound once, instead of a bind per file.

bubblewrap makes each bind with a mount and a read of the whole mount table (0.5-1 ms each on
a host with ~70 mounts, measured alone), and /etc's files were a dozen of them on every start.
Now its plain files (world-readable ones: the sandbox reads them as `nobody`) and Fireside's
resolv.conf are copied into one directory of the shared tree, bound read-only at /etc; its
directories (/etc/ssl...) are still bound, onto mount points made in that directory, and so is
anything else (a file `nobody` may not read stays what it is: there, unreadable).

A copy is remade when any source changes (inode, size or time: a few stats at each start), so
an environment sees the host's files as of its start, as with binds (a bind of a file that an
editor then replaces never showed the new one either).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from pathlib import Path

from fireside.sandbox.share import publish


class EtcTree:
    def __init__(self, root: Path, paths: list[str], resolv: Path) -> None:
        self._root = root
        #: name -> host path, copied; host paths bound one by one (directories and the rest).
        self._copied: dict[str, str] = {"resolv.conf": str(resolv)}
        self.bound: list[str] = []
        for path in paths:
            try:
                info = os.stat(path)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode) and info.st_mode & stat.S_IROTH:
                self._copied[os.path.basename(path)] = path
            else:
                self.bound.append(path)
        self._signature: tuple[object, ...] | None = None
        self._current: Path | None = None

    def current(self) -> Path:
        """The directory to bind at /etc, remade if a source changed since the last start."""
        signature = self._sources()
        if signature != self._signature or self._current is None:
            self._current = self._build(signature)
            self._signature = signature
        return self._current

    def built(self) -> Path | None:
        """The directory to bind at /etc if it is up to date (a few stats), else None:
        `current()` then builds it, copying and syncing files (blocking: run it in a thread)."""
        if self._current is None or self._sources() != self._signature:
            return None
        return self._current

    def _sources(self) -> tuple[object, ...]:
        found: list[object] = []
        for path in self._copied.values():
            try:
                info = os.stat(path)
            except OSError:
                found.append((path, None))
                continue
            found.append((path, info.st_ino, info.st_size, info.st_mtime_ns))
        return tuple(found)

    def _build(self, signature: tuple[object, ...]) -> Path:
        digest = hashlib.sha256(repr((signature, self.bound)).encode()).hexdigest()[:16]
        final = self._root / f"etc-{digest}"
        if final.exists():
            return final
        staging = Path(tempfile.mkdtemp(dir=self._root, prefix=".build-etc-"))
        for name, path in self._copied.items():
            try:
                shutil.copyfile(path, staging / name)  # a link's target, as a bind shows it
            except OSError:
                continue  # gone since: not in this sandbox, as with a bind that failed
            os.chmod(staging / name, os.stat(path).st_mode & 0o755)
        for path in self.bound:
            target = staging / os.path.basename(path)
            if os.path.isdir(path):
                target.mkdir()
            else:
                target.touch(mode=0o644)
        return publish(staging, final)
