"""The files of Fireside's own runtimes, by the path sandboxes give them under /var/runtime."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from fireside.runtimes import node, python, ruby, sdks
from fireside.runtimes.python import fireside_landlock
from fireside.sandbox.base import RuntimeFiles

#: `bootstrap.py` (and its helpers) at the top, where other code expects them; the Node.js and
#: Ruby runtimes in `node/` and `ruby/`.
RUNTIME_FILES: dict[str, Path] = {
    **{path.name: path for path in python.RUNTIME_FILES},
    **{f"node/{path.name}": path for path in node.RUNTIME_FILES},
    **{f"ruby/{path.name}": path for path in ruby.RUNTIME_FILES},
}


@cache
def runtime_files() -> RuntimeFiles:
    """What sandbox backends show at /var/runtime (`fireside.sandbox.create_backend`)."""
    return RuntimeFiles(
        files=RUNTIME_FILES,
        bootstrap=python.BOOTSTRAP_PATH.name,
        launcher=python.EXEC_PATH.name,
        landlock_abi=fireside_landlock.abi_version(),
        mount_points=sdks.MOUNT_POINTS,
    )
