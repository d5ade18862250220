"""The server's own boto3: what a Python function imports when the SDK cache has no tree for
its Python version (`fireside.runtimes.sdks`), and that boto3 supports the version.

Isolating sandboxes get its installed files (boto3 and its dependencies, without metadata or
scripts) mirrored once into the shared tree with hard links and bound at /var/runtime/sdk.
The `process` sandbox, which binds nothing, puts the server's own site-packages directory on
the function's sys.path instead.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import re
import sys
import tempfile
import threading
import time
from pathlib import Path

from fireside.sandbox.base import Bind
from fireside.sandbox.share import link_file, publish

log = logging.getLogger(__name__)

#: Packages a Python function can import without packaging them, as on Lambda.
DISTRIBUTIONS = ("boto3",)
#: Where isolating sandboxes show it (an empty mount point in /var/runtime).
TARGET = "/var/runtime/sdk"
MOUNT_POINT = "sdk"
_lock = threading.Lock()
#: Trees built or found in this run, by cache directory (a dict lookup per start after that).
_trees: dict[Path, Path] = {}


def host_paths() -> list[str]:
    """The server's site-packages directory holding boto3 (the `process` sandbox's path)."""
    import boto3

    return [str(Path(boto3.__file__).resolve().parent.parent)]


def bind(cache: Path) -> Bind:
    """The bind of the server's boto3 closure, built under `cache` once (blocking)."""
    with _lock:  # concurrent cold starts build it once
        if cache not in _trees:
            _trees[cache] = tree(cache)
        return Bind(_trees[cache], TARGET)


def tree(root: Path) -> Path:
    """The files of `DISTRIBUTIONS` and what they require, mirrored under `root`, named by
    their versions (a server upgraded to another boto3 builds a new one)."""
    dists = closure(DISTRIBUTIONS)
    versions = "".join(f"{d.metadata['Name']}=={d.version};" for d in dists) + sys.version
    final = root / "runtimes" / ("sdk-" + hashlib.sha256(versions.encode()).hexdigest()[:16])
    if final.exists():
        return final
    log.info("linking the server's boto3 into %s (once)", final)
    started = time.monotonic()
    (root / "runtimes").mkdir(mode=0o711, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root / "runtimes", prefix=".build-"))
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
            target = staging.joinpath(*parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            link_file(source, target)
    published = publish(staging, final)
    log.info("linked the server's boto3 in %.2f s", time.monotonic() - started)
    return published


def closure(names: tuple[str, ...]) -> list[importlib.metadata.Distribution]:
    """The installed distributions `names` and everything they require (extras aside)."""
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
