"""Builds, once per machine, what the official runtime interface client tests ship in layers.

- `awslambdaric` (PyPI), pip-installed for the Python the sandboxes see (`/usr/bin/python3`:
  the host's `/usr` is mounted in them, pyenv's interpreters are not), at the version this
  virtualenv has (the dev dependency decides).
- `aws-lambda-ric` (npm), whose install scripts compile aws-lambda-cpp and curl into a native
  addon (`dist/rapid-client.node`): about 150 s on two cores, needs g++, make, cmake, autoconf,
  automake and libtool (`scripts/system-deps.sh --dev`, which `make test` runs).

Both land in a cache outside the repository (`/var/tmp/fireside-cache`, or
`FIRESIDE_TEST_CACHE`), built in a scratch folder beside it and renamed into place when
complete, under a lock so that concurrent test sessions build once. A test session then only
copies the cached tree into a layer folder and zips it with `fireside layer build`.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from fireside.runtimes.registry import find_python
from tests.conftest import ROOT

CACHE = Path(os.environ.get("FIRESIDE_TEST_CACHE", "/var/tmp/fireside-cache"))
#: What npm installs for Node.js 20 (4.x needs Node.js 22).
NODE_RIC_VERSION = "3.3.0"
BUILD_TOOLS = ("g++", "make", "cmake", "autoconf", "automake", "libtoolize")

Say = Callable[[str], None]


class Unavailable(Exception):
    """A prerequisite this machine cannot provide: the tests skip, saying which."""


class BuildFailed(Exception):
    """The build ran and failed: the tests fail, with the build's own output."""


@contextlib.contextmanager
def _locked(name: str) -> Iterator[None]:
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _staging(final: Path) -> Path:
    """A fresh scratch folder beside `final` (call with its lock held: scratch folders left by
    an interrupted build are removed first)."""
    for leftover in CACHE.glob(f"{final.name}.*"):
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{final.name}.", dir=CACHE))


def _install(staging: Path, final: Path) -> None:
    if final.exists():  # an older, incomplete attempt
        shutil.rmtree(final)
    os.rename(staging, final)


def sandbox_python() -> tuple[str, str]:
    """The interpreter a custom runtime's bootstrap can exec in every sandbox, and its X.Y."""
    if not os.access("/usr/bin/python3", os.X_OK):
        raise Unavailable("no /usr/bin/python3 for the awslambdaric bootstrap to run")
    python = os.path.realpath("/usr/bin/python3")
    out = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    )
    return python, out.stdout.strip()


def awslambdaric_packages(say: Say) -> tuple[Path, str, str]:
    """A folder holding awslambdaric and its dependencies (pip --target) for the sandboxes'
    Python; that interpreter; and the awslambdaric version."""
    python, version = sandbox_python()
    ric_version = importlib.metadata.version("awslambdaric")
    final = CACHE / f"awslambdaric-{ric_version}-py{version}"
    if (final / "python" / "awslambdaric").is_dir():
        return final / "python", python, ric_version
    with _locked(final.name):
        if (final / "python" / "awslambdaric").is_dir():
            return final / "python", python, ric_version
        installer = find_python(version)  # the same X.Y, so its wheels (a C extension) fit
        if installer is None:
            raise Unavailable(f"no CPython {version} with pip to install awslambdaric for")
        staging = _staging(final)
        say(f"pip-installing awslambdaric=={ric_version} for Python {version} into {final}")
        result = subprocess.run(
            [installer, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check",
             "--target", str(staging / "python"), f"awslambdaric=={ric_version}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if result.returncode != 0 or not (staging / "python" / "awslambdaric").is_dir():
            shutil.rmtree(staging, ignore_errors=True)
            raise BuildFailed(f"pip install awslambdaric failed:\n{result.stdout}{result.stderr}")
        _install(staging, final)
    return final / "python", python, ric_version


def host_node() -> tuple[str, int]:
    """The Node.js under /usr that the sandboxes can run, and its major version."""
    node = shutil.which("node")
    if node is None:
        raise Unavailable("no Node.js (node) on this host")
    node = os.path.realpath(node)
    if not node.startswith("/usr/"):
        raise Unavailable(f"Node.js at {node} is outside /usr, where sandboxes cannot see it")
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    match = re.match(r"v(\d+)\.", out.stdout)
    if match is None or int(match[1]) < 18:
        raise Unavailable(f"aws-lambda-ric {NODE_RIC_VERSION} needs Node.js 18 or later")
    return node, int(match[1])


def _build_tools_missing() -> list[str]:
    return [tool for tool in BUILD_TOOLS if shutil.which(tool) is None]


def _ensure_build_tools(say: Say) -> None:
    missing = _build_tools_missing()
    if missing:
        say(f"missing {', '.join(missing)}: running scripts/system-deps.sh --dev")
        subprocess.run([str(ROOT / "scripts" / "system-deps.sh"), "--dev"], check=False)
        missing = _build_tools_missing()
    if missing:
        raise Unavailable(
            f"building aws-lambda-ric's native addon needs {', '.join(missing)} "
            "(scripts/system-deps.sh --dev installs them as root)"
        )


def _strip_sources(package: Path) -> None:
    """Remove the unpacked curl and aws-lambda-cpp sources under `deps/` (about 150 MB).

    The package's postinstall script means to (`rm -rf deps/curl*[^gz]`), but runs under
    `/bin/sh`, and Debian's dash reads `[^gz]` as "^, g or z": it deletes the tarballs and keeps
    the sources. The addon links both statically, so nothing at run time needs them."""
    for child in (package / "deps").iterdir():
        if child.is_dir() and child.name.startswith(("aws-lambda-cpp", "curl")):
            shutil.rmtree(child)


def aws_lambda_ric_modules(node: str, say: Say) -> Path:
    """A `node_modules` folder with aws-lambda-ric and its built addon."""
    final = CACHE / f"aws-lambda-ric-{NODE_RIC_VERSION}"
    addon = Path("node_modules/aws-lambda-ric/dist/rapid-client.node")
    if (final / addon).is_file():
        return final / "node_modules"
    npm = shutil.which("npm")
    if npm is None:
        raise Unavailable("no npm to install aws-lambda-ric with")
    with _locked(final.name):
        if (final / addon).is_file():
            return final / "node_modules"
        _ensure_build_tools(say)
        staging = _staging(final)
        (staging / "package.json").write_text('{"private": true}\n')
        env = dict(os.environ)
        prefix = Path(node).parent.parent
        if (prefix / "include" / "node" / "node_api.h").is_file():
            env["npm_config_nodedir"] = str(prefix)  # node-gyp: headers here, not nodejs.org
        log_path = staging / "build.log"
        say(
            f"building aws-lambda-ric {NODE_RIC_VERSION} (compiles curl and aws-lambda-cpp: "
            f"about 150 s, once per machine) into {final}; log: {final}/build.log"
        )
        started = time.monotonic()
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                [npm, "install", "--no-save", "--no-package-lock", "--no-audit", "--no-fund",
                 "--foreground-scripts", f"aws-lambda-ric@{NODE_RIC_VERSION}"],
                cwd=staging, stdout=log, stderr=subprocess.STDOUT, env=env,
            )  # fmt: skip
            while True:
                try:
                    status = process.wait(timeout=20)
                    break
                except subprocess.TimeoutExpired:
                    lines = log_path.read_text(errors="replace").strip().splitlines()
                    last = lines[-1].strip()[:80] if lines else ""
                    say(f"  ... {time.monotonic() - started:.0f} s: {last}")
        if status != 0 or not (staging / addon).is_file():
            tail = "".join(log_path.read_text(errors="replace").splitlines(True)[-40:])
            raise BuildFailed(
                f"npm install aws-lambda-ric@{NODE_RIC_VERSION} failed (status {status}); "
                f"the log is in {staging}/build.log; its end:\n{tail}"
            )
        _strip_sources(staging / "node_modules" / "aws-lambda-ric")
        _install(staging, final)
        say(f"built aws-lambda-ric {NODE_RIC_VERSION} in {time.monotonic() - started:.0f} s")
    return final / "node_modules"


def build_layer(folder: Path, output: Path) -> Path:
    """`fireside layer build <folder> -o <output>`, as a user would run it."""
    result = subprocess.run(
        [sys.executable, "-m", "fireside", "layer", "build", str(folder), "-o", str(output)],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise BuildFailed(f"fireside layer build failed:\n{result.stdout}{result.stderr}")
    return output
