"""Which Lambda runtime ids this host can run, and the command that starts each.

`python3.X` runs Fireside's own bootstrap on a real CPython 3.X interpreter found on the host
(never a pyenv shim: a shim costs ~100 ms per start). `provided`, `provided.al2` and
`provided.al2023` run the function's own `bootstrap` executable. A runtime the host cannot run is
refused at CreateFunction with a message saying what is missing, not at invoke time.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fireside.sandbox.base import Layout

CUSTOM_RUNTIMES = frozenset({"provided", "provided.al2", "provided.al2023"})


class RuntimeUnavailable(Exception):
    """The runtime id is valid on Lambda but this host cannot run it; the message says why."""


@dataclass(frozen=True, slots=True)
class RuntimeCommand:
    runtime: str
    #: Host path of the interpreter (python3.x runtimes); None for custom runtimes.
    interpreter: str | None
    #: "3.11" for python3.11.
    version: str | None
    #: AWS_EXECUTION_ENV value (unset for custom runtimes, as on Lambda).
    execution_env: str | None

    def argv(self, layout: Layout) -> list[str]:
        """The runtime process's command line, in the paths the sandbox shows it."""
        if layout.interpreter is not None:
            return [layout.interpreter, "-S", "-u", "-B", layout.bootstrap]
        return [f"{layout.task_root}/bootstrap"]


def _is_shim(path: str) -> bool:
    return "/shims/" in path or path.endswith("/shims")


@cache
def find_python(version: str) -> str | None:
    """A real `python<version>` executable on this host, or None."""
    override = os.environ.get(f"FIRESIDE_PYTHON_{version.replace('.', '_')}")
    if override:
        return override
    current = f"{sys.version_info.major}.{sys.version_info.minor}"
    if current == version:
        return os.path.realpath(sys.executable)
    candidates: list[str] = []
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates += sorted(glob.glob(f"{pyenv_root}/versions/{version}.*/bin/python{version}"))[::-1]
    candidates += [f"/usr/local/bin/python{version}", f"/usr/bin/python{version}"]
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if directory and not _is_shim(directory):
            candidates.append(os.path.join(directory, f"python{version}"))
    for candidate in candidates:
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return os.path.realpath(candidate)
    found = shutil.which(f"python{version}")
    if found and not _is_shim(found):
        return os.path.realpath(found)
    return None


def resolve(runtime: str) -> RuntimeCommand:
    """The command for a runtime id; raises RuntimeUnavailable when this host cannot run it."""
    if runtime.startswith("python3."):
        version = runtime.removeprefix("python")
        python = find_python(version)
        if python is None:
            raise RuntimeUnavailable(
                f"The runtime {runtime} needs a CPython {version} interpreter on this host and "
                f"none was found (looked in pyenv, /usr/bin, /usr/local/bin and PATH; set "
                f"FIRESIDE_PYTHON_{version.replace('.', '_')} to its path)."
            )
        return RuntimeCommand(runtime, python, version, f"AWS_Lambda_{runtime}")
    if runtime in CUSTOM_RUNTIMES:
        return RuntimeCommand(runtime, None, None, None)
    raise RuntimeUnavailable(
        f"Fireside cannot run the runtime {runtime} yet: this build runs python3.x and "
        f"custom (provided.*) runtimes."
    )


def sdk_paths() -> list[str]:
    """Directories that give functions `import boto3` without packaging it, as on Lambda."""
    import boto3

    return [str(Path(boto3.__file__).resolve().parent.parent)]
