"""Which Lambda runtime ids this host can run, and the command that starts each.

`python3.X` runs Fireside's own bootstrap on a real CPython 3.X interpreter found on the host
(never a pyenv shim: a shim costs ~100 ms per start). `nodejs<N>.x` (18 and later) and `rubyX.Y`
(3.2 and later) run Fireside's Node.js and Ruby bootstraps on a host interpreter of that version
(`fireside.runtimes.interpreters`). `provided`, `provided.al2` and `provided.al2023` run the
function's own `bootstrap` executable. A runtime the host cannot run is refused at CreateFunction
with a message saying what is missing, not at invoke time.
"""

from __future__ import annotations

import enum
import glob
import os
import re
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from fireside.runtimes import node, python, ruby, sdks
from fireside.sandbox.base import Layout

CUSTOM_RUNTIMES = frozenset({"provided", "provided.al2", "provided.al2023"})


class RuntimeUnavailable(Exception):
    """The runtime id is valid on Lambda but this host cannot run it; the message says why."""


class Language(enum.Enum):
    PYTHON = "python"
    NODE = "node"
    RUBY = "ruby"
    CUSTOM = "custom"


@dataclass(frozen=True, slots=True)
class RuntimeCommand:
    runtime: str
    #: Host path of the CPython interpreter (python3.x only: isolating sandboxes mount an image
    #: of its installation); None for every other runtime.
    interpreter: str | None
    #: "3.11" for python3.11; the interpreter's full version ("20.20.2") for node and ruby.
    version: str | None
    #: AWS_EXECUTION_ENV value (unset for custom runtimes, as on Lambda).
    execution_env: str | None
    language: Language = Language.PYTHON
    #: Host path of node or ruby. Sandboxes show the host's /usr as it is (no image is made),
    #: so only one under /usr runs outside the `process` sandbox.
    program: str | None = None

    def argv(
        self, layout: Layout, memory_mb: int = 128, variables: Mapping[str, str] | None = None
    ) -> list[str]:
        """The runtime process's command line, in the paths the sandbox shows it.

        Node's depends on the function: its heap is sized from `memory_mb`, and `NODE_OPTIONS`
        in its `variables` can turn experimental features Lambda disables back on.
        """
        if self.language is Language.NODE:
            assert self.program is not None and self.version is not None
            version = tuple(int(part) for part in self.version.split("."))
            major = self.id_version[0]
            files = runtime_files(layout)
            return node.argv(self.program, version, major, files, memory_mb, variables or {})
        if self.language is Language.RUBY:
            assert self.program is not None
            return ruby.argv(self.program, runtime_files(layout))
        if layout.interpreter is not None:
            return [layout.interpreter, "-S", "-u", "-B", layout.bootstrap]
        return [f"{layout.task_root}/bootstrap"]

    def environment(self, layout: Layout) -> dict[str, str]:
        """Runtime-specific variables (NODE_PATH, GEM_PATH...): defaults a function may override."""
        if self.language is Language.NODE:
            return node.environment(self.id_version[0], layout, sdk_dir(layout, "nodejs"))
        if self.language is Language.RUBY:
            major, minor = self.id_version[:2]
            return ruby.environment((major, minor), layout, sdk_dir(layout, "ruby"))
        return {}

    @property
    def id_version(self) -> tuple[int, ...]:
        """The language version the runtime id names: (20,) for nodejs20.x, (3, 2) for ruby3.2."""
        return tuple(int(part) for part in re.findall(r"\d+", self.runtime))


def runtime_files(layout: Layout) -> str:
    """Where Fireside's runtime files are as the runtime sees them: the sandbox's copy at its
    runtime dir, or this package itself under the `process` backend, which shows host paths."""
    if layout.bootstrap == str(python.BOOTSTRAP_PATH):
        return str(Path(__file__).resolve().parent)
    return layout.runtime_dir


def sdk_dir(layout: Layout, tree: str) -> str:
    """Where the runtime sees an SDK tree of `fireside.runtimes.sdks`: in the sandbox's
    runtime dir, or in the SDK cache itself under the `process` backend."""
    if layout.bootstrap == str(python.BOOTSTRAP_PATH):
        return str(sdks.cache_root() / tree)
    return layout.runtime_dir


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


_NODE = re.compile(r"nodejs(\d+)\.x")
_RUBY = re.compile(r"ruby(\d+)\.(\d+)")


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
        return RuntimeCommand(runtime, None, None, None, Language.CUSTOM)
    if match := _NODE.fullmatch(runtime):
        return _resolve_node(runtime, int(match[1]))
    if match := _RUBY.fullmatch(runtime):
        return _resolve_ruby(runtime, (int(match[1]), int(match[2])))
    raise RuntimeUnavailable(
        f"Fireside cannot run the runtime {runtime}: this build runs python3.x, nodejs18.x and "
        f"later, ruby3.2 and later, and custom (provided.*) runtimes."
    )


def _resolve_node(runtime: str, major: int) -> RuntimeCommand:
    if major < 18:
        raise RuntimeUnavailable(
            f"The runtime {runtime} is no longer supported for creating or updating functions; "
            f"Fireside runs nodejs18.x and later."
        )
    search = node.find(major)
    variable = f"FIRESIDE_NODE_{major}"
    if search.bad_override:
        raise RuntimeUnavailable(
            f"The runtime {runtime} is set to run on {variable}={search.bad_override}, "
            f"which is not a Node.js executable."
        )
    if search.chosen is None:
        raise RuntimeUnavailable(
            f"The runtime {runtime} needs Node.js {major} on this host and none was found "
            f"(looked for node on PATH, in /usr/local/bin and /usr/bin; found: "
            f"{search.describe_seen()}). Install it, or set {variable} to its path."
        )
    chosen = search.chosen
    return RuntimeCommand(
        runtime, None, chosen.version_text, f"AWS_Lambda_{runtime}", Language.NODE, chosen.path
    )


def _resolve_ruby(runtime: str, version: tuple[int, int]) -> RuntimeCommand:
    if version < (3, 2):
        raise RuntimeUnavailable(
            f"The runtime {runtime} is no longer supported for creating or updating functions; "
            f"Fireside runs ruby3.2 and later."
        )
    search = ruby.find(version)
    variable = ruby.override_variable(version)
    dotted = f"{version[0]}.{version[1]}"
    if search.bad_override:
        raise RuntimeUnavailable(
            f"The runtime {runtime} is set to run on {variable}={search.bad_override}, "
            f"which is not a Ruby executable."
        )
    if search.chosen is None:
        raise RuntimeUnavailable(
            f"The runtime {runtime} needs Ruby {dotted} on this host and none was found "
            f"(looked for ruby{dotted} and ruby on PATH, in /usr/local/bin and /usr/bin; found: "
            f"{search.describe_seen()}). Install it, or set {variable} to the path of a Ruby "
            f"to run {runtime} functions on (any version: it is used as is)."
        )
    chosen = search.chosen
    return RuntimeCommand(
        runtime, None, chosen.version_text, f"AWS_Lambda_{runtime}", Language.RUBY, chosen.path
    )


@cache
def sdk_paths(command: RuntimeCommand) -> list[str]:
    """Host directories that give a Python function `import boto3` without packaging it, as
    on Lambda (the `process` sandbox uses them as they are; the others show the same trees
    under /var/runtime). Logs, once, which runtime's SDK is missing."""
    if command.language is Language.PYTHON and command.version is not None:
        found = sdks.python_sdk_dirs(command.version)
        if found:
            return [str(path) for path in found]
        sdks.warn_missing(f"The AWS SDK for Python (boto3) for {command.runtime}")
        if command.version == sdks.host_minor():
            return [str(path) for path in sdks.host_boto3_dirs()]
    elif command.language is Language.NODE and sdks.tree("nodejs") is None:
        sdks.warn_missing(f"The AWS SDK for JavaScript v3 for {command.runtime}")
    elif command.language is Language.RUBY and sdks.tree("ruby") is None:
        sdks.warn_missing(f"The AWS SDK for Ruby for {command.runtime}")
    return []
