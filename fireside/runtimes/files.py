"""The files of Fireside's own runtimes, by the path sandboxes give them under /var/runtime."""

from __future__ import annotations

from pathlib import Path

from fireside.runtimes import node, python, ruby

#: `bootstrap.py` (and its helpers) at the top, where other code expects them; the Node.js and
#: Ruby runtimes in `node/` and `ruby/`.
RUNTIME_FILES: dict[str, Path] = {
    **{path.name: path for path in python.RUNTIME_FILES},
    **{f"node/{path.name}": path for path in node.RUNTIME_FILES},
    **{f"ruby/{path.name}": path for path in ruby.RUNTIME_FILES},
}
