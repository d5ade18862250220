"""Fireside's runtime for ``nodejs*.x`` functions.

The runtime itself is ``bootstrap.js`` and the CommonJS modules beside it (Node's standard
library only), run on a host Node.js of the runtime's major version. This module finds that
Node.js and builds the command line and environment the way Lambda's own bootstrap script does.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fireside.runtimes import interpreters
from fireside.runtimes.node import module_paths
from fireside.sandbox.base import Layout

PACKAGE_DIR: Path = Path(__file__).resolve().parent
#: What sandboxes copy to /var/runtime/node/.
RUNTIME_FILES: tuple[Path, ...] = tuple(
    sorted([*PACKAGE_DIR.glob("*.js"), *PACKAGE_DIR.glob("*.mjs")])
)
BOOTSTRAP = "bootstrap.js"
#: Registers the ES module hook that searches NODE_PATH where no bind can (`module_paths`).
NODE_PATH_HOOK = "node_path_hook.mjs"
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
    *,
    node_path_hook: bool = False,
) -> list[str]:
    """The command line of a `nodejs<major>.x` runtime; `files` holds `node/bootstrap.js`.
    With `node_path_hook`, ES modules search NODE_PATH through a resolution hook."""
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
    if node_path_hook:
        args.append(f"--import={files}/node/{NODE_PATH_HOOK}")
    return [*args, f"{files}/node/{BOOTSTRAP}"]


def environment(major: int, layout: Layout, sdk_modules: str) -> dict[str, str]:
    """Variables the runtime gets unless the function sets them itself; `sdk_modules` is the
    AWS SDK's `node_modules` as the runtime sees it (/var/runtime/node_modules in a sandbox)."""
    paths = module_paths.node_path(
        major, layout.opt_root, layout.runtime_dir, layout.task_root, sdk_modules
    )
    return {"NODE_PATH": ":".join(paths)}
