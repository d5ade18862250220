"""LocalStack for the benchmarks that compare with it, without Docker.

As `../shared/reference/peers.md` says: PyPI's `localstack-core` needs Python 3.12+ and pinned
dependencies, so it gets its own virtualenv (`.bench-venvs/localstack`, made on first use); it
runs in-process (no Docker, so no Lambda), with its gateway bound to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from common import ROOT, log

LOCALSTACK_VENV = ROOT / ".bench-venvs" / "localstack"
LOCALSTACK_PINS = [
    "localstack-core[runtime]",
    "cbor2<6",
    "pyopenssl<26",
    "localstack-twisted==25.5.0",
]
#: Binds LocalStack's Twisted gateway to loopback (it binds 0.0.0.0 whatever GATEWAY_LISTEN
#: says), then runs LocalStack as `python -m localstack.runtime.main` would.
LAUNCHER = """
import runpy
from twisted.internet import endpoints

_init = endpoints.TCP4ServerEndpoint.__init__
def _loopback(self, reactor, port, backlog=50, interface=""):
    _init(self, reactor, port, backlog, "127.0.0.1")
endpoints.TCP4ServerEndpoint.__init__ = _loopback
runpy.run_module("localstack.runtime.main", run_name="__main__")
"""
PYTHONS = ("python3.13", "python3.12")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _runs(python: str) -> bool:
    check = "import sys; sys.exit(sys.version_info < (3, 12))"
    return subprocess.run([python, "-c", check], capture_output=True, check=False).returncode == 0


def localstack_python() -> Path:
    """The virtualenv's Python with LocalStack installed (made on first use)."""
    python = LOCALSTACK_VENV / "bin" / "python"
    if python.exists():
        return python
    pyenv = Path.home() / ".pyenv" / "versions"
    candidates = [found for p in PYTHONS if (found := shutil.which(p))]
    if pyenv.is_dir():
        candidates += [str(p) for p in sorted(pyenv.glob("3.1[23]*/bin/python"), reverse=True)]
    # A pyenv shim is on PATH even where its version is not selected, and then fails: try each.
    base = next((c for c in candidates if _runs(c)), None)
    if base is None:
        raise RuntimeError("LocalStack needs Python 3.12 or later, and none was found")
    log(f"installing LocalStack into {LOCALSTACK_VENV} ...")
    subprocess.run([base, "-m", "venv", str(LOCALSTACK_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *LOCALSTACK_PINS], check=True)
    return python


def start_localstack(workdir: Path, services: str) -> tuple[subprocess.Popen[bytes], int]:
    """LocalStack serving `services` (its `SERVICES`, e.g. "apigateway") on a free port,
    its files and log (`localstack.log`) under `workdir`; returns once its health answers."""
    python = localstack_python()
    port = free_port()
    launcher = workdir / "launch_localstack.py"
    launcher.write_text(LAUNCHER)
    env = {
        **os.environ,
        "OVERRIDE_IN_DOCKER": "0",
        "FILESYSTEM_ROOT": str(workdir / "fs"),
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "SERVICES": services,
        "PERSISTENCE": "0",
        "DISABLE_EVENTS": "1",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DNS_ADDRESS": "0",
    }
    process = subprocess.Popen(
        [str(python), str(launcher)],
        stdout=open(workdir / "localstack.log", "wb"),  # noqa: SIM115 (owned by the process)
        stderr=subprocess.STDOUT,
        env=env,
        cwd=workdir,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                "LocalStack exited:\n" + (workdir / "localstack.log").read_text()[-3000:]
            )
        with contextlib.suppress(OSError):
            url = f"http://127.0.0.1:{port}/_localstack/health"
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return process, port
        time.sleep(0.3)
    process.terminate()
    raise RuntimeError("LocalStack did not answer its health check in 120 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(20)
    if process.poll() is None:
        process.kill()
