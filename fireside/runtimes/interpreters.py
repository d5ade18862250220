"""Finding a host interpreter (node, ruby) of a given version for a Lambda runtime id.

A runtime id names a language version (`nodejs20.x`, `ruby3.3`); Fireside runs it on an
interpreter of that version found on the host, or on the one an operator names in an override
variable (`FIRESIDE_NODE_20`, `FIRESIDE_RUBY_3_3`), which is used whatever its version.
Versions are asked of each candidate once (`--version`, a few milliseconds) and remembered.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache

#: Where interpreters are looked for after PATH. Sandboxes show the host's /usr as it is, so
#: an interpreter there runs in every sandbox.
SYSTEM_DIRS = ("/usr/local/bin", "/usr/bin")


@dataclass(frozen=True, slots=True)
class Interpreter:
    path: str
    version: tuple[int, ...]

    @property
    def version_text(self) -> str:
        return ".".join(map(str, self.version))


@cache
def probe(path: str, pattern: str) -> Interpreter | None:
    """The interpreter at `path` with the version its `--version` output matches, or None."""
    real = os.path.realpath(path)
    if not (os.path.isfile(real) and os.access(real, os.X_OK)):
        return None
    try:
        result = subprocess.run(
            [real, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(pattern, result.stdout)
    if match is None:
        return None
    return Interpreter(real, tuple(int(part) for part in match.groups()))


def candidates(names: list[str]) -> list[str]:
    """Paths worth probing for any of `names`: PATH first, then the system directories."""
    found: list[str] = []
    for name in names:
        on_path = shutil.which(name)
        if on_path:
            found.append(on_path)
        found += [os.path.join(directory, name) for directory in SYSTEM_DIRS]
    seen: set[str] = set()
    unique = []
    for path in found:
        real = os.path.realpath(path)
        if real not in seen and os.path.exists(real):
            seen.add(real)
            unique.append(path)
    return unique


@dataclass(frozen=True, slots=True)
class Search:
    """The outcome of looking for an interpreter: what was chosen, and what was seen."""

    chosen: Interpreter | None
    seen: tuple[Interpreter, ...] = ()
    #: The override variable was set but names no runnable interpreter.
    bad_override: str | None = None

    def describe_seen(self) -> str:
        return ", ".join(f"{i.version_text} at {i.path}" for i in self.seen) or "none"


def find(override: str, names: list[str], pattern: str, wanted: tuple[int, ...]) -> Search:
    """The interpreter for a runtime: the override's, else the first of `names` whose version
    starts with `wanted` (a major version, or major and minor)."""
    named = os.environ.get(override)
    if named:
        chosen = probe(named, pattern)
        return Search(chosen, bad_override=None if chosen else named)
    seen = []
    for path in candidates(names):
        interpreter = probe(path, pattern)
        if interpreter is None:
            continue
        if interpreter.version[: len(wanted)] == wanted:
            return Search(interpreter)
        seen.append(interpreter)
    return Search(None, tuple(seen))
