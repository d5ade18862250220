"""Fireside's runtime for ``python3.x`` functions.

The runtime itself is ``bootstrap.py``, a standalone standard-library script that each execution
environment runs on the function's own interpreter; this package only says where it is.
"""

from __future__ import annotations

import pathlib

BOOTSTRAP_PATH: pathlib.Path = pathlib.Path(__file__).resolve().with_name("bootstrap.py")
#: Landlock for runtime processes in sandboxes (imported by the bootstrap; a shim for others).
LANDLOCK_PATH: pathlib.Path = BOOTSTRAP_PATH.with_name("fireside_landlock.py")

__all__ = ["BOOTSTRAP_PATH", "LANDLOCK_PATH"]
