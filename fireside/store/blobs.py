"""Content-addressed archives: each zip stored once under its sha256, unpacked once, shared.

Layout in the data directory:

    blobs/<aa>/<sha256>.zip     the archive as uploaded
    code/<sha256>/              its unpacked tree, made read-only, shared by every environment
    code/<sha256>.complete      written last: the tree's manifest (path, kind, size per entry)

Writes go to a temporary name, are fsynced, then renamed, and the rename is made durable by
fsyncing the parent directory (`store.durable`), so neither a crash nor a power loss leaves a
half-written archive under its final name. A tree is published the same way, its files and
directories fsynced before the rename; its marker is written after it. A tree is never trusted
because it exists: the first use in each run checks it against its marker, and one without a
valid marker (a power loss before the marker reached the disk, a hand-made or damaged tree) is
removed and unpacked again.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import stat
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fireside.store.durable import fsync_dir, mkdirs_durably, publish_tree, write_durably

MAX_UNZIPPED_BYTES = 262_144_000  # 250 MB, code and layers together, as on Lambda
MAX_LINK_BYTES = 4096  # PATH_MAX: a symlink's target


@dataclass(frozen=True, slots=True)
class ArchiveInfo:
    sha256_hex: str
    size: int
    unzipped_size: int


class ArchiveError(ValueError):
    """An archive the store refuses; the Lambda service words it (`compute.errors.archive`)."""


class InvalidArchive(ArchiveError):
    """Not a zip Lambda would accept: unreadable, or a member or link leaving the tree."""


class ArchiveTooLarge(ArchiveError):
    """Unpacked, the archive would exceed `limit` bytes."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"unzipped size over {limit} bytes")
        self.limit = limit


def _invalid_zip() -> InvalidArchive:
    return InvalidArchive("not a zip Lambda would accept")


def _safe_member(name: str) -> bool:
    path = PurePosixPath(name.replace("\\", "/"))
    return not path.is_absolute() and ".." not in path.parts and not name.startswith("/")


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return (info.external_attr >> 16) & 0o170000 == stat.S_IFLNK


def _key(name: str) -> str:
    return "/".join(PurePosixPath(name).parts)


def _link_stays_inside(member: str, links: dict[str, str]) -> bool:
    """Whether the link `member`, followed through any links of the archive it passes, stays in
    the tree. Resolving lexically is not enough: `a -> x/..` is harmless until `x` is a link."""
    parts = member.split("/")[:-1]
    pending = links[member].split("/")[::-1]  # a stack: the next component is last
    hops = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return False
            parts.pop()
            continue
        parts.append(part)
        target = links.get("/".join(parts))
        if target is not None:
            hops += 1
            if hops > 40 or target.startswith("/"):  # 40: the kernel's own ELOOP limit
                return False
            parts.pop()
            pending.extend(target.split("/")[::-1])
    return True


def inspect_zip(data: bytes) -> ArchiveInfo:
    """Check that `data` is a zip Lambda would accept; raise `ArchiveError` when it is not.

    Besides unreadable archives, members that would land outside the tree (`../`, absolute
    paths) and symlinks that point outside it are refused here, before anything is stored.
    """
    links: dict[str, str] = {}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            for info in infos:
                if _is_symlink(info) and _safe_member(info.filename):
                    if info.file_size > MAX_LINK_BYTES:  # not a path: refuse, never inflate it
                        raise _invalid_zip()
                    links[_key(info.filename)] = archive.read(info).decode()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise _invalid_zip() from exc
    unzipped = 0
    for info in infos:
        if not _safe_member(info.filename):
            raise _invalid_zip()
        unzipped += info.file_size
    for member, target in links.items():
        if target.startswith("/") or not _link_stays_inside(member, links):
            raise _invalid_zip()
    if unzipped > MAX_UNZIPPED_BYTES:
        raise ArchiveTooLarge(MAX_UNZIPPED_BYTES)
    return ArchiveInfo(hashlib.sha256(data).hexdigest(), len(data), unzipped)


Manifest = list[tuple[str, str, int | str]]


class BlobStore:
    def __init__(self, root: Path, code_root: Path | None = None) -> None:
        self.root = root
        self._blobs = root / "blobs"
        # Unpacked trees may live elsewhere: sandboxes mount them as an unprivileged user.
        self._code = code_root or root / "code"
        mkdirs_durably(self._blobs)
        mkdirs_durably(self._code)
        #: Trees checked against their marker in this run (a set add is atomic under the GIL).
        self._verified: set[str] = set()
        self._guard = threading.Lock()
        self._unpacking: dict[str, threading.Lock] = {}

    def archive_path(self, digest: str) -> Path:
        return self._blobs / digest[:2] / f"{digest}.zip"

    def put(self, data: bytes, digest: str) -> Path:
        """Store an archive under its (already computed) sha256; idempotent."""
        path = self.archive_path(digest)
        if not path.exists():
            mkdirs_durably(path.parent)
            write_durably(path, data)
        return path

    def unzipped_size(self, digest: str) -> int:
        """The unpacked size of a stored archive, from its central directory alone."""
        with zipfile.ZipFile(self.archive_path(digest)) as archive:
            return sum(info.file_size for info in archive.infolist())

    def tree(self, digest: str) -> Path:
        return self._code / digest

    def verified(self, digest: str) -> bool:
        """Whether the tree of `digest` was checked (or made) in this run: `unpack` is then
        a no-op, so callers on the event loop skip the thread hop."""
        return digest in self._verified

    def unpack(self, digest: str) -> Path:
        """The unpacked tree of an archive, checked against its marker the first time in this
        run and made again if it does not match (blocking: run in a thread)."""
        target = self.tree(digest)
        if digest in self._verified:
            return target
        with self._guard:
            lock = self._unpacking.setdefault(digest, threading.Lock())
        with lock:  # one unpack per archive at a time: another must not remove this one's tree
            if digest in self._verified:
                return target
            if not _intact(target, self._marker(digest)):
                self._remove(digest)
                self._extract_tree(digest, target)
            self._verified.add(digest)
        return target

    def _marker(self, digest: str) -> Path:
        # Beside the tree, not in it: the tree is the function's /var/task.
        return self._code / f"{digest}.complete"

    def _remove(self, digest: str) -> None:
        """Remove a tree that cannot be trusted, its marker first."""
        self._marker(digest).unlink(missing_ok=True)
        target = self.tree(digest)
        if target.is_symlink() or target.is_file():
            target.unlink()
        elif target.exists():
            _make_writable(target)
            shutil.rmtree(target)
        fsync_dir(self._code)

    def _extract_tree(self, digest: str, target: Path) -> None:
        staging = Path(tempfile.mkdtemp(dir=self._code, prefix=".unpack-"))
        try:
            with zipfile.ZipFile(self.archive_path(digest)) as archive:
                for info in archive.infolist():
                    _extract(archive, info, staging)
            manifest = _manifest(staging)
            _make_read_only(staging)
            publish_tree(staging, target)  # data and entries first: the marker vouches for them
        finally:
            if staging.exists():
                _make_writable(staging)
                shutil.rmtree(staging, ignore_errors=True)
        write_durably(self._marker(digest), json.dumps(manifest).encode())


def _manifest(root: Path) -> Manifest:
    """Every entry of a tree: (relative path, kind, size of a file or target of a link)."""
    entries: Manifest = []
    for directory, subdirs, files in os.walk(root):
        relative = os.path.relpath(directory, root)
        for name in subdirs + files:
            path = os.path.join(directory, name)
            key = os.path.normpath(os.path.join(relative, name))
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                entries.append((key, "link", os.readlink(path)))
            elif stat.S_ISDIR(info.st_mode):
                entries.append((key, "dir", 0))
            else:
                entries.append((key, "file", info.st_size))
    return sorted(entries)


def _intact(target: Path, marker: Path) -> bool:
    """Whether the tree at `target` is exactly what its marker lists."""
    try:
        listed = [tuple(entry) for entry in json.loads(marker.read_bytes())]
    except (OSError, ValueError, TypeError):
        return False
    if not target.is_dir() or target.is_symlink():
        return False
    try:
        return listed == _manifest(target)
    except OSError:
        return False


def _extract(archive: zipfile.ZipFile, info: zipfile.ZipInfo, root: Path) -> None:
    if not _safe_member(info.filename):
        raise _invalid_zip()
    dest = root / info.filename
    mode = (info.external_attr >> 16) & 0o7777
    kind = (info.external_attr >> 16) & 0o170000
    if info.is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    if kind == stat.S_IFLNK:
        link = archive.read(info).decode()
        # A link may only point inside the tree, never at the host.
        resolved = (dest.parent / link).resolve()
        if PurePosixPath(link).is_absolute() or not resolved.is_relative_to(root.resolve()):
            raise _invalid_zip()
        os.symlink(link, dest)
        return
    with archive.open(info) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 1024 * 1024)
    # Keep the executable bits (a custom runtime's `bootstrap` needs them); default 644.
    os.chmod(dest, (mode & 0o755) | 0o444 if mode else 0o644)


def _make_read_only(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode & ~0o222)
        os.chmod(dirpath, 0o555)


def _make_writable(root: Path) -> None:
    for dirpath, _dirs, _files in os.walk(root):
        os.chmod(dirpath, 0o755)
