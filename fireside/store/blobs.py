"""Content-addressed archives: each zip stored once under its sha256, unpacked once, shared.

Layout in the data directory:

    blobs/<aa>/<sha256>.zip     the archive as uploaded
    code/<sha256>/              its unpacked tree, made read-only, shared by every environment

Writes go to a temporary name, are fsynced, then renamed, so a crash never leaves a half-written
archive or tree under its final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from fireside.aws.errors import ServiceError

MAX_UNZIPPED_BYTES = 262_144_000  # 250 MB, code and layers together, as on Lambda
MAX_LINK_BYTES = 4096  # PATH_MAX: a symlink's target


@dataclass(frozen=True, slots=True)
class ArchiveInfo:
    sha256_hex: str
    size: int
    unzipped_size: int


def _invalid_zip() -> ServiceError:
    return ServiceError(
        "InvalidParameterValueException",
        "Could not unzip uploaded file. Please check your file, then try to upload again.",
        400,
        Type="User",
    )


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
    """Check that `data` is a zip Lambda would accept; raise AWS's error when it is not.

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
        raise ServiceError(
            "InvalidParameterValueException",
            f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes",
            400,
            Type="User",
        )
    return ArchiveInfo(hashlib.sha256(data).hexdigest(), len(data), unzipped)


def _fsync_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class BlobStore:
    def __init__(self, root: Path, code_root: Path | None = None) -> None:
        self.root = root
        self._blobs = root / "blobs"
        # Unpacked trees may live elsewhere: sandboxes mount them as an unprivileged user.
        self._code = code_root or root / "code"
        self._blobs.mkdir(parents=True, exist_ok=True)
        self._code.mkdir(parents=True, exist_ok=True)

    def archive_path(self, digest: str) -> Path:
        return self._blobs / digest[:2] / f"{digest}.zip"

    def put(self, data: bytes, digest: str) -> Path:
        """Store an archive under its (already computed) sha256; idempotent."""
        path = self.archive_path(digest)
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _fsync_write(path, data)
        return path

    def unzipped_size(self, digest: str) -> int:
        """The unpacked size of a stored archive, from its central directory alone."""
        with zipfile.ZipFile(self.archive_path(digest)) as archive:
            return sum(info.file_size for info in archive.infolist())

    def tree(self, digest: str) -> Path:
        return self._code / digest

    def unpack(self, digest: str) -> Path:
        """The unpacked tree of an archive, extracting it the first time (blocking: run in a thread)."""
        target = self.tree(digest)
        if target.exists():
            return target
        staging = Path(tempfile.mkdtemp(dir=self._code, prefix=".unpack-"))
        try:
            with zipfile.ZipFile(self.archive_path(digest)) as archive:
                for info in archive.infolist():
                    _extract(archive, info, staging)
            _make_read_only(staging)
            try:
                staging.rename(target)
            except OSError:
                if not target.exists():  # not a lost race with another unpack: a real failure
                    raise
        finally:
            if staging.exists():
                _make_writable(staging)
                shutil.rmtree(staging, ignore_errors=True)
        return target


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
