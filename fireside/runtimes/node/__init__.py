"""Fireside's runtime for ``nodejs*.x`` functions.

The runtime itself is ``bootstrap.js`` and the CommonJS modules beside it (Node's standard
library only), run on a host Node.js of the runtime's major version. This module finds that
Node.js and builds the command line and environment the way Lambda's own bootstrap script does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from fireside.runtimes import interpreters

if TYPE_CHECKING:
    from fireside.sandbox.base import Layout

PACKAGE_DIR: Path = Path(__file__).resolve().parent
#: What sandboxes copy to /var/runtime/node/.
RUNTIME_FILES: tuple[Path, ...] = tuple(
    sorted([*PACKAGE_DIR.glob("*.js"), *PACKAGE_DIR.glob("*.mjs")])
)
BOOTSTRAP = "bootstrap.js"
VERSION_PATTERN = r"^v(\d+)\.(\d+)\.(\d+)"

#: Experimental features Lambda turns off on these runtimes (NODE_OPTIONS turning one back on
#: drops its flag), with the first Node.js release that knows the flag.
DISABLED_FEATURES = (
    ("--no-experimental-require-module", frozenset({20, 22}), (20, 17)),
    ("--no-experimental-detect-module", frozenset({22}), (20, 10)),
)


def find(major: int) -> interpreters.Search:
    return interpreters.find(
        f"FIRESIDE_NODE_{major}", ["node", "nodejs"], VERSION_PATTERN, (major,)
    )


def argv(
    node: str,
    version: tuple[int, ...],
    major: int,
    files: str,
    memory_mb: int,
    variables: Mapping[str, str],
) -> list[str]:
    """The command line of a `nodejs<major>.x` runtime; `files` holds `node/bootstrap.js`."""
    # As Lambda's bootstrap: a heap sized from the function's memory, gc() exposed, 80 KB headers.
    new_space = memory_mb // 10
    args = [
        node,
        "--expose-gc",
        "--max-http-header-size",
        "81920",
        f"--max-semi-space-size={new_space // 2}",
        f"--max-old-space-size={memory_mb - new_space}",
    ]
    options = variables.get("NODE_OPTIONS", "").split()
    for flag, runtimes, known_since in DISABLED_FEATURES:
        enable = flag.replace("--no-", "--", 1)
        if major in runtimes and version >= known_since and enable not in options:
            args.append(flag)
    return [*args, f"{files}/node/{BOOTSTRAP}"]


def environment(major: int, layout: Layout, sdk: str) -> dict[str, str]:
    """Variables the runtime gets unless the function sets them itself; `sdk` holds the AWS
    SDK's `node_modules` (the runtime dir, where sandboxes show it)."""
    opt, runtime, task = layout.opt_root, layout.runtime_dir, layout.task_root
    paths = [
        f"{opt}/nodejs/node{major}/node_modules",
        f"{opt}/nodejs/node_modules",
        f"{sdk}/node_modules",
        runtime,
        task,
    ]
    return {"NODE_PATH": ":".join(paths)}
