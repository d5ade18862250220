"""The sandbox package knows no language: it never imports the runtimes (or anything above it),
and its backends share code through `fireside.sandbox.base` and the helper modules, never
through each other (STYLE.md, practice 10; issue 12, item 7)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

SANDBOX = Path(__file__).resolve().parent.parent / "fireside" / "sandbox"
#: The backends' own modules; `__init__` (the factory choosing one) may import them all.
BACKENDS = frozenset({"process", "namespace", "gvisor", "microvm"})
#: What the sandbox package may import of Fireside besides itself.
ALLOWED = ("fireside.sandbox", "fireside.store")


def imports(path: Path) -> set[str]:
    """Every module `path` imports, anywhere in it (functions and TYPE_CHECKING blocks too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_sandbox_imports_nothing_above_it() -> None:
    offending = {
        f"{path.name}: {name}"
        for path in SANDBOX.glob("*.py")
        for name in imports(path)
        if name.startswith("fireside") and not name.startswith(ALLOWED)
    }
    assert not offending, sorted(offending)


def test_backends_do_not_import_each_other() -> None:
    offending = set()
    for path in SANDBOX.glob("*.py"):
        if path.stem == "__init__":
            continue
        for name in imports(path):
            parts = name.split(".")
            if parts[:2] == ["fireside", "sandbox"] and len(parts) > 2:
                target = parts[2]
                if target in BACKENDS and target != path.stem:
                    offending.add(f"{path.name}: {name}")
    assert not offending, sorted(offending)


def test_importing_every_backend_loads_no_runtime() -> None:
    code = (
        "import sys\n"
        "import fireside.sandbox, fireside.sandbox.namespace, fireside.sandbox.gvisor\n"
        "import fireside.sandbox.microvm, fireside.sandbox.process\n"
        "print(sorted(m for m in sys.modules if m.startswith(('fireside.runtimes',"
        " 'fireside.compute'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
