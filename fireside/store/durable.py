"""Durable file-system steps: what survives a power loss, not only a `kill -9`.

A rename, a new file or a new directory is an entry in its parent directory, and that entry
reaches the disk only when the parent is fsynced: fsyncing the file alone can leave, after a
power loss, a file whose data is on disk under no name, or a directory that never existed.
Every place Fireside publishes a file by renaming it, or makes a directory others rely on,
goes through these helpers, so the parent is fsynced after each such step.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def fsync_dir(path: Path) -> None:
    """Make `path`'s entries (files renamed or made in it, subdirectories) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_durably(source: Path, target: Path) -> None:
    """Rename `source` to `target` (replacing it) and make the rename durable: the parent of
    `target`, and of `source` when it is another directory, is fsynced."""
    os.replace(source, target)
    fsync_dir(target.parent)
    if source.parent != target.parent:
        fsync_dir(source.parent)


def mkdirs_durably(path: Path, mode: int = 0o777) -> None:
    """`mkdir -p` whose new directories survive a power loss: each one made is fsynced into
    its parent. Directories that already exist are left as they are (and cost one stat)."""
    if path.is_dir():
        return
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another writer
            os.mkdir(directory, mode)
        fsync_dir(directory.parent)


def write_durably(path: Path, data: bytes) -> None:
    """Write `data` to `path` all or nothing: a temporary file in the same directory,
    fsynced, then renamed into place durably."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        replace_durably(Path(temporary), path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def fsync_file(path: Path) -> None:
    """Make a file's data durable (before a marker or a rename says it is complete)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """fsync every file's data, then every directory's entries, deepest first."""
    for directory, _subdirs, files in os.walk(root, topdown=False):
        for name in files:
            path = Path(directory, name)
            if not path.is_symlink():
                fsync_file(path)
        fsync_dir(Path(directory))


def publish_tree(staging: Path, target: Path) -> None:
    """Rename a finished tree into place so that, after a power loss, `target` is either
    absent or complete: its contents reach the disk before the rename does."""
    fsync_tree(staging)
    replace_durably(staging, target)
