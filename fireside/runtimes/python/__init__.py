"""Fireside's runtime for ``python3.x`` functions.

The runtime itself is ``bootstrap.py``, a standalone standard-library script that each execution
environment runs on the function's own interpreter; this package only says where it is.
"""

from __future__ import annotations

import pathlib

BOOTSTRAP_PATH: pathlib.Path = pathlib.Path(__file__).resolve().with_name("bootstrap.py")
#: Landlock for runtime processes in sandboxes (imported by the bootstrap and by the launcher).
LANDLOCK_PATH: pathlib.Path = BOOTSTRAP_PATH.with_name("fireside_landlock.py")
#: The launcher of every other runtime in a sandbox (Landlock, warm handoff, then exec).
EXEC_PATH: pathlib.Path = BOOTSTRAP_PATH.with_name("fireside_exec.py")
#: Snapshot starts: the template's fork loop, and AWS's hook API for function code.
SNAPSHOT_PATHS = (
    BOOTSTRAP_PATH.with_name("fireside_snapshot.py"),
    BOOTSTRAP_PATH.with_name("snapshot_restore_py.py"),
)
#: Environment variables a Python process reads only when it starts (the dynamic loader,
#: CPython's start-up, libc's locale and time zone): a warm spare, whose interpreter starts
#: before the function is known, must be started with the function's values.
STARTUP_PREFIXES = ("PYTHON", "LD_", "LC_", "MALLOC_", "GLIBC_")
STARTUP_NAMES = frozenset({"LANG", "LANGUAGE", "TZ"})
#: What sandboxes mount at /var/runtime besides the AWS SDK.
RUNTIME_FILES = (BOOTSTRAP_PATH, LANDLOCK_PATH, EXEC_PATH, *SNAPSHOT_PATHS)

__all__ = ["BOOTSTRAP_PATH", "EXEC_PATH", "LANDLOCK_PATH", "RUNTIME_FILES"]
