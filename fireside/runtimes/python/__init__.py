"""Fireside's runtime for ``python3.x`` functions.

The runtime itself is ``bootstrap.py``, a standalone standard-library script that each execution
environment runs on the function's own interpreter; this package only says where it is.
"""

from __future__ import annotations

import pathlib

BOOTSTRAP_PATH: pathlib.Path = pathlib.Path(__file__).resolve().with_name("bootstrap.py")

__all__ = ["BOOTSTRAP_PATH"]
