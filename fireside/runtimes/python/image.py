"""The image of a CPython installation that isolating sandboxes show at /var/lang.

Sandboxes show the host's `/usr` as it is, so an interpreter there runs as it is. One that
lives elsewhere (pyenv's, under a home directory `nobody` cannot reach) is mirrored once into
the shared tree, without its site-packages, and bound at /var/lang; its executable is then
`/var/lang/bin/python3.X` and its libraries `/var/lang/lib`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
from pathlib import Path

from fireside.sandbox.base import Bind
from fireside.sandbox.share import link_file, link_tree, publish

log = logging.getLogger(__name__)

TARGET = "/var/lang"
_lock = threading.Lock()


def needs_image(interpreter: str) -> bool:
    """Interpreters outside /usr (pyenv's, say) are mounted from a runtime image at /var/lang."""
    return not os.path.realpath(interpreter).startswith("/usr/")


def python_prefix(interpreter: str) -> Path:
    """The installation prefix of a CPython executable (`<prefix>/bin/pythonX.Y`)."""
    return Path(os.path.realpath(interpreter)).parent.parent


def bind(interpreter: str, version: str, cache: Path) -> Bind:
    """The bind of `interpreter`'s image, built under `cache` once (blocking)."""
    with _lock:  # concurrent cold starts build each image once
        return Bind(python_image(cache, interpreter, version), TARGET)


def python_image(root: Path, interpreter: str, version: str) -> Path:
    """An image of a CPython installation without its site-packages, to mount at /var/lang."""
    prefix = python_prefix(interpreter)
    name = f"python{version}-" + hashlib.sha256(str(prefix).encode()).hexdigest()[:12]
    final = root / "runtimes" / name
    if final.exists():
        return final
    log.info("building the %s runtime image from %s (once)", version, prefix)
    (root / "runtimes").mkdir(mode=0o711, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=root / "runtimes", prefix=".build-"))
    (staging / "bin").mkdir()
    executable = Path(os.path.realpath(interpreter))
    link_tree(executable.parent, staging / "bin", skip=re.compile(r"/bin/(?!python)[^/]*$"))
    lib = prefix / "lib"
    (staging / "lib").mkdir()
    for entry in lib.iterdir():
        if entry.name.startswith("libpython"):
            target = staging / "lib" / entry.name
            if entry.is_symlink():
                os.symlink(os.readlink(entry), target)
            else:
                link_file(entry, target)
    stdlib = lib / f"python{version}"
    link_tree(
        stdlib,
        staging / "lib" / f"python{version}",
        skip=re.compile(r"/(site-packages|test|idlelib|tkinter|turtledemo|ensurepip)$"),
    )
    (staging / "lib" / f"python{version}" / "site-packages").mkdir(exist_ok=True)
    return publish(staging, final)
