"""Where a Node.js function's packages come from: NODE_PATH, for `require` and for `import`.

Lambda's Node.js runtimes set NODE_PATH to the layer paths AWS documents for the runtime's major
version (`/opt/nodejs/node<N>/node_modules`, then `/opt/nodejs/node_modules`), then the
runtime's own `node_modules`, the runtime directory and the task root. CommonJS `require`
searches NODE_PATH after the `node_modules` directories above the requiring file. ES modules
ignore NODE_PATH in Node.js itself, but AWS's runtimes (nodejs18.x and later) search it too,
so an `index.mjs` can `import _ from "lodash"` with lodash in a layer. Fireside gets the same
result two ways, neither of which costs a start anything:

- isolating sandboxes bind a directory of links at `/node_modules`, the last directory every
  ES module (and CommonJS) lookup visits before NODE_PATH: one link per package found in
  NODE_PATH's `node_modules` directories, the first directory listing a name winning, exactly
  as NODE_PATH's order decides (`link_tree`). Each link leads to the package's real place, so
  what it imports in turn resolves from there;
- the `process` sandbox, which cannot bind, preloads a module resolution hook instead
  (`node/node_path_hook.mjs`, only when a layer has packages: its worker thread costs tens of
  milliseconds), which retries a bare specifier that was not found in each NODE_PATH
  `node_modules` directory in order (a NODE_PATH the function sets itself included).

NODE_PATH entries that are not `node_modules` directories (the runtime directory, the task
root) are searched by `require` only.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from functools import lru_cache
from pathlib import Path

from fireside.sandbox.base import Bind

#: Where isolating sandboxes show the links: the root of every module lookup's walk.
TARGET = "/node_modules"


def node_path(major: int, opt: str, runtime: str, task: str, sdk: str) -> list[str]:
    """Lambda's NODE_PATH for `nodejs<major>.x`, in the paths the runtime sees; `sdk` is the
    AWS SDK's `node_modules` (`<runtime>/node_modules` in a sandbox, as on Lambda)."""
    return [
        f"{opt}/nodejs/node{major}/node_modules",
        f"{opt}/nodejs/node_modules",
        sdk,
        runtime,
        task,
    ]


def layer_dirs(major: int, opt_host: Path | None, opt: str) -> list[tuple[Path, str]]:
    """The layer directories of NODE_PATH: (host path, the path the runtime sees), in order."""
    if opt_host is None:
        return []
    return [
        (opt_host / relative, f"{opt}/{relative}")
        for relative in (f"nodejs/node{major}/node_modules", "nodejs/node_modules")
    ]


def packages(dirs: tuple[tuple[Path, str], ...]) -> dict[str, str]:
    """Package name -> where the runtime sees it, the first directory listing a name winning
    (a scope's packages are merged across directories, as a lookup would find them)."""
    found: dict[str, str] = {}
    for host, seen in dirs:
        for name in _entries(host):
            if name.startswith("@"):
                for member in _entries(host / name):
                    found.setdefault(f"{name}/{member}", f"{seen}/{name}/{member}")
            else:
                found.setdefault(name, f"{seen}/{name}")
    return found


def _entries(directory: Path) -> list[str]:
    try:
        names = sorted(os.listdir(directory))
    except OSError:  # absent, or not a directory
        return []
    return [name for name in names if not name.startswith(".")]  # .bin, .package-lock.json


@lru_cache(maxsize=256)
def link_tree(dirs: tuple[tuple[Path, str], ...], cache: Path) -> Path | None:
    """The directory of links to bind at `/node_modules` for these NODE_PATH directories,
    made once under `cache` (layers are immutable); None when they hold no package."""
    links = packages(dirs)
    if not links:
        return None
    digest = hashlib.sha256(json.dumps(links, sort_keys=True).encode()).hexdigest()[:24]
    final = cache / "node_modules" / digest
    if final.exists():
        return final
    final.parent.mkdir(mode=0o711, parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=final.parent, prefix=".build-"))
    try:
        for name, target in links.items():
            path = staging / name
            path.parent.mkdir(mode=0o755, exist_ok=True)
            os.symlink(target, path)
        staging.chmod(0o755)
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if not final.exists():  # else another start made it first
            raise
    return final


def bind(dirs: list[tuple[Path, str]], cache: Path | None) -> Bind | None:
    """The `/node_modules` bind for an isolating sandbox, or None (nothing to show)."""
    if cache is None:
        return None
    tree = link_tree(tuple(dirs), cache)
    return Bind(tree, TARGET) if tree is not None else None
