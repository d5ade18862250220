"""Which Lambda runtime ids this host can run, and the command that starts each.

`python3.X` runs Fireside's own bootstrap on a real CPython 3.X interpreter found on the host
(never a pyenv shim: a shim costs ~100 ms per start). `nodejs<N>.x` (18 and later) and `rubyX.Y`
(3.2 and later) run Fireside's Node.js and Ruby bootstraps on a host interpreter of that version
(`fireside.runtimes.interpreters`). `provided`, `provided.al2` and `provided.al2023` run the
function's own `bootstrap` executable (or a layer's `/opt/bootstrap`). A runtime the host cannot
run is refused at CreateFunction with a message saying what is missing, not at invoke time.

What a sandbox starts for a runtime is its `Program` (`RuntimeCommand.program`): everything
language-specific about starting a runtime lives here and in the per-language packages.
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
from fireside.runtimes.files import runtime_files as runtime_files_of_sandboxes
from fireside.runtimes.interpreters import probe
from fireside.runtimes.node import fork_addon, module_paths
from fireside.runtimes.python import bytecode, image, server_sdk
from fireside.sandbox import opt, share
from fireside.sandbox.base import Bind, HostPaths, Launcher, Layout, Program, SnapshotHooks

CUSTOM_RUNTIMES = frozenset({"provided", "provided.al2", "provided.al2023"})


class RuntimeUnavailable(Exception):
    """The runtime id is valid on Lambda but this host cannot run it; the message says why."""


class InvalidEntrypoint(Exception):
    """A custom runtime has no bootstrap to run (Lambda's `Runtime.InvalidEntrypoint`)."""


#: Python and Ruby templates need nothing beyond their own command; Node.js's a fork server.
_FORKS_AS_IS = SnapshotHooks()
_NODE_SNAPSHOT = fork_addon.NodeSnapshot()


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
    #: The interpreter's version: "3.11" (X.Y) for Python, which is the runtime id's unless an
    #: override names another; the full version ("20.20.2") for node and ruby.
    version: str | None
    #: AWS_EXECUTION_ENV value (unset for custom runtimes, as on Lambda).
    execution_env: str | None
    language: Language = Language.PYTHON
    #: Host path of node or ruby. Sandboxes show the host's /usr as it is (no image is made),
    #: so only one under /usr runs outside the `process` sandbox.
    program_path: str | None = None

    @property
    def snapshot(self) -> SnapshotHooks | None:
        """How this runtime becomes a snapshot template; None when it cannot."""
        if self.language is Language.NODE:
            return _NODE_SNAPSHOT
        if self.language is Language.CUSTOM:
            return None
        return _FORKS_AS_IS

    def program(
        self,
        layout: Layout,
        host: HostPaths,
        memory_mb: int = 128,
        variables: Mapping[str, str] | None = None,
    ) -> Program:
        """What the sandbox starts, in the paths it shows (`layout`). Node's command line
        depends on the function: its heap is sized from `memory_mb`, and `NODE_OPTIONS` in its
        `variables` can turn experimental features Lambda disables back on. Raises
        InvalidEntrypoint when a custom runtime has no bootstrap (blocking: reads /opt)."""
        if self.language is Language.NODE:
            return self._node(layout, host, memory_mb, variables or {})
        if self.language is Language.RUBY:
            assert self.program_path is not None
            major, minor = self.id_version[:2]
            binds = sdk_binds(layout, "ruby", self.runtime, "The AWS SDK for Ruby")
            # /var/runtime (gems/, specifications/) is on GEM_PATH, as on Lambda.
            gems = str(Path(layout.path_of(binds[0])).parent) if binds else layout.runtime_dir
            return Program(
                ruby.argv(self.program_path, runtime_files(layout)),
                ruby.environment((major, minor), layout, gems),
                [bind for bind in binds if layout.binds],
                snapshot=_FORKS_AS_IS,
            )
        if self.language is Language.CUSTOM:
            return Program([_custom_bootstrap(layout, host)])
        return self._python(layout)

    def build(self, cache: Path) -> None:
        """Build what this runtime binds the same way for every function, under the shared
        tree's `cache`, once (blocking: a thread). Called before an environment starts (when
        a function is prepared, and before an invoke starts one), so that Init Duration counts
        the runtime's and the function's Init, as on Lambda, not a tree built once per host."""
        if self.language is Language.PYTHON:
            assert self.interpreter is not None and self.version is not None
            if image.needs_image(self.interpreter):
                image.bind(self.interpreter, self.version, cache)
            # The runtime's own files, compiled for this interpreter (`bytecode`).
            names = [path.name for path in python.RUNTIME_FILES]
            runtime_dir = share.runtime_dir(cache, runtime_files_of_sandboxes())
            bytecode.build(runtime_dir, "/var/runtime", self.interpreter, names)
            installed = sdks.tree(sdks.python_tree_name(self.version)) is not None
            if not installed and sdks.host_boto3_supports(self.version):
                server_sdk.bind(cache)  # the fallback, where no tree is installed

    def _python(self, layout: Layout) -> Program:
        assert self.interpreter is not None and self.version is not None
        interpreter, binds, libraries = self.interpreter, [], []
        if layout.binds and layout.cache is not None and image.needs_image(interpreter):
            # Outside the host's /usr, which sandboxes show as it is: an image at /var/lang.
            binds = [image.bind(interpreter, self.version, layout.cache)]
            interpreter = f"{image.TARGET}/bin/python{self.version}"
            libraries = [f"{image.TARGET}/lib"]
        # boto3 for this Python version (and setuptools where AWS's image has it), in AWS's
        # sys.path order: the interpreter's site-packages, then the runtime's directory.
        found = sdk_binds(
            layout,
            sdks.python_tree_name(self.version),
            self.runtime,
            "The AWS SDK for Python (boto3)",
        )
        sdk_paths: list[str] = []
        if found:
            binds += [bind for bind in found if layout.binds]
            base = layout.path_of(found[0])
            sdk_paths = [f"{base}/site-packages", f"{base}/runtime"]
        elif sdks.host_boto3_supports(self.version):
            # Without one, the server's own boto3, where it supports this Python version.
            if not layout.binds:
                sdk_paths = server_sdk.host_paths()
            elif layout.cache is not None:
                fallback = server_sdk.bind(layout.cache)
                binds.append(fallback)
                sdk_paths = [fallback.target]
        bootstrap = f"{layout.runtime_dir}/{python.BOOTSTRAP_PATH.name}"
        return Program(
            [interpreter, "-S", "-u", "-B", "-c", bytecode.start_code(bootstrap)],
            {"FIRESIDE_RUNTIME_PATH": os.pathsep.join(sdk_paths)},
            binds=binds,
            library_path=libraries,
            launcher=Launcher.SELF,
            snapshot=_FORKS_AS_IS,
            startup_prefixes=python.STARTUP_PREFIXES,
            startup_names=python.STARTUP_NAMES,
        )

    def _node(
        self, layout: Layout, host: HostPaths, memory_mb: int, variables: Mapping[str, str]
    ) -> Program:
        assert self.program_path is not None and self.version is not None
        version = tuple(int(part) for part in self.version.split("."))
        major = self.id_version[0]
        # ES modules search NODE_PATH's layer directories as on AWS's runtimes: through a bind
        # at /node_modules, or a resolution hook where nothing can be bound (`module_paths`).
        dirs = module_paths.layer_dirs(major, host.opt_root, layout.opt_root)
        # The AWS SDK for JavaScript v3 comes after the layers, as on NODE_PATH.
        sdk = sdk_binds(layout, "nodejs", self.runtime, "The AWS SDK for JavaScript v3")
        sdk_modules = f"{layout.runtime_dir}/node_modules"
        if sdk:
            sdk_modules = layout.path_of(sdk[0])
            dirs.append((sdk[0].source, sdk_modules))
        found = module_paths.bind(dirs, layout.cache) if layout.binds else None
        binds = [found] if found is not None else []
        binds += [bind for bind in sdk if layout.binds]
        hook = not layout.binds and bool(module_paths.packages(tuple(dirs)))
        argv = node.argv(
            self.program_path, version, major, runtime_files(layout), memory_mb, variables,
            node_path_hook=hook,
        )  # fmt: skip
        env = node.environment(major, layout, sdk_modules)
        return Program(argv, env, binds, snapshot=_NODE_SNAPSHOT)

    @property
    def id_version(self) -> tuple[int, ...]:
        """The language version the runtime id names: (20,) for nodejs20.x, (3, 2) for ruby3.2."""
        return tuple(int(part) for part in re.findall(r"\d+", self.runtime))


def runtime_files(layout: Layout) -> str:
    """Where Fireside's runtime files are as the runtime sees them: the sandbox's copy at its
    runtime dir, or this package itself under the `process` backend, which shows host paths."""
    if not layout.binds:
        return str(Path(__file__).resolve().parent)
    return layout.runtime_dir


def sdk_binds(layout: Layout, tree: str, runtime: str, what: str) -> list[Bind]:
    """The SDK cache's `tree` (`fireside.runtimes.sdks`) as binds where the runtime finds it,
    under /var/runtime: its `Layout.path_of` is the cache's own path under `process`. Empty,
    with a warning in the log (once), when it is not installed or the sandbox's user cannot
    reach it."""
    found = sdks.tree(tree)
    if found is None:
        sdks.warn_missing(f"{what} for {runtime}")
        return []
    if layout.binds and not sdks.reachable(found.path):
        sdks.warn_unreachable(found.path)
        return []
    if tree == "nodejs":
        return [Bind(found.path / "node_modules", "/var/runtime/node_modules")]
    if tree == "ruby":
        return [Bind(found.path / part, f"/var/runtime/{part}") for part in sdks.RUBY_PARTS]
    return [Bind(found.path, f"/var/runtime/{tree}")]


def _custom_bootstrap(layout: Layout, host: HostPaths) -> str:
    """Lambda runs /var/task/bootstrap, else a layer's /opt/bootstrap."""
    if os.access(host.task_root / "bootstrap", os.X_OK):
        return f"{layout.task_root}/bootstrap"
    if host.opt_root is not None and opt.is_executable_in(host.opt_root, "bootstrap"):
        return f"{layout.opt_root}/bootstrap"
    raise InvalidEntrypoint(
        f"Couldn't find valid bootstrap(s): [{layout.task_root}/bootstrap {layout.opt_root}/bootstrap]"
    )


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
        # An override is used whatever its version, so the interpreter's own X.Y names its
        # stdlib and executable in the image mounted at /var/lang, not the runtime id's.
        found = probe(python, r"Python (\d+)\.(\d+)")
        actual = found.version_text if found else version
        return RuntimeCommand(runtime, python, actual, f"AWS_Lambda_{runtime}")
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
