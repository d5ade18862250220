"""The sandbox package knows no language: it never imports the runtimes (or anything above it),
and its backends share code through `fireside.sandbox.base` and the helper modules, never
through each other (STYLE.md, practice 10; issue 12, item 7)."""

from __future__ import annotations

import ast
import re
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


#: What would make a sandbox module language-specific: a runtime id, an interpreter's image, an
#: SDK or a language's search-path variable, in the module's code (docstrings and comments
#: may explain what runtimes do with the sandbox).
LANGUAGE_SPECIFIC = re.compile(
    r"python3\.\d|nodejs\d|ruby\d|boto3|botocore|aws-sdk|node_modules|/var/lang|/var/runtime/"
    r"(sdk|python|gems|specifications)|NODE_PATH|GEM_PATH|RUBYLIB|PYTHONPATH"
)


def code_strings(path: Path) -> list[str]:
    """The string constants of `path`'s code, docstrings aside."""
    tree = ast.parse(path.read_text(), str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and id(node) not in docstrings
    ]  # fmt: skip


def test_sandbox_names_no_runtime_or_sdk() -> None:
    offending = {
        f"{path.name}: {text!r}"
        for path in SANDBOX.glob("*.py")
        for text in code_strings(path)
        if LANGUAGE_SPECIFIC.search(text)
    }
    assert not offending, sorted(offending)
