"""Fixtures: a live Fireside server in a subprocess, boto3 clients for it, function factories."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

ROOT = Path(__file__).resolve().parent.parent
#: Backends whose absence fails the run instead of skipping the tests that need them, e.g.
#: `FIRESIDE_TEST_REQUIRE=namespace,gvisor,microvm,postgresql,chromium` (CI sets it: a skipped test
#: proves nothing, and a missing sandbox must not pass as a green run).
REQUIRED = frozenset(
    name.strip() for name in os.environ.get("FIRESIDE_TEST_REQUIRE", "").split(",") if name.strip()
)
ROLE = "arn:aws:iam::000000000000:role/lambda-role"

_microvm_assets: list[str] = []  # the shared build's directory, "" if it failed
_microvm_build: list[threading.Thread] = []
_microvm_build_lock = threading.Lock()


def _build_microvm_assets() -> None:
    import fcntl
    import hashlib

    from fireside.sandbox.microvm_assets import build_assets

    # Kept between runs, like the SDK cache, under a name that changes with the code that
    # builds the guest (its /init, its modules); a lock makes parallel runs build it once.
    source = (ROOT / "fireside" / "sandbox" / "microvm_assets.py").read_bytes()
    root = Path("/var/tmp") / f"fireside-test-microvm-{hashlib.sha256(source).hexdigest()[:16]}"
    try:
        root.mkdir(mode=0o755, exist_ok=True)
        with open(root.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            build_assets(root)
    except Exception:  # the servers then build their own, and report what failed
        _microvm_assets.append("")
    else:
        _microvm_assets.append(str(root))


def start_microvm_assets() -> threading.Thread:
    """Start (once per run) finding or making the one build of the microvm guest's kernel and
    initramfs that every microvm server uses (`FIRESIDE_MICROVM_ASSETS`): each server would
    otherwise download and unpack a kernel package for its own, 8-15 s here."""
    with _microvm_build_lock:
        if not _microvm_build:
            import atexit

            _microvm_build.append(threading.Thread(target=_build_microvm_assets, daemon=True))
            _microvm_build[0].start()
            # A run that ends first lets the build finish, not leave half a tree in the cache.
            atexit.register(_microvm_build[0].join, 120)
        return _microvm_build[0]


def shared_microvm_assets() -> str | None:
    """The shared build's directory once it is done; None if it could not be made here."""
    start_microvm_assets().join()
    return _microvm_assets[0] if _microvm_assets and _microvm_assets[0] else None


#: Fixtures that start a server (tmp_path: test_helper_processes starts its own); a microvm
#: test that uses none (a unit test) needs no guest.
_SERVER_FIXTURES = {"server", "vm_server", "sandboxed", "servers", "fresh_server", "tmp_path"}


def pytest_collection_finish(session: pytest.Session) -> None:
    """A run with microvm tests builds their guest while the tests before them run."""
    if not session.config.option.collectonly and any(
        "microvm" in item.nodeid and _SERVER_FIXTURES & set(getattr(item, "fixturenames", ()))
        for item in session.items
    ):
        from fireside.sandbox import microvm

        if microvm.unavailable_reason() is None:
            start_microvm_assets()


@dataclass
class Server:
    """A `fireside up` process on a random port with its own data dir."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None
    port: int = 0
    #: The Kafka broker's port (FIRESIDE_KAFKA_PORT defaults to 0 here: any free port).
    kafka_port: int = 0
    output: list[str] = field(default_factory=list)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def kafka_bootstrap(self) -> str:
        return f"127.0.0.1:{self.kafka_port}"

    def start(self, timeout: float = 30) -> Server:
        env = {**os.environ, "FIRESIDE_KAFKA_PORT": "0", **self.env}
        microvm = env.get("FIRESIDE_SANDBOX") == "microvm"
        if microvm and "FIRESIDE_MICROVM_ASSETS" not in env and (assets := shared_microvm_assets()):
            env["FIRESIDE_MICROVM_ASSETS"] = assets
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fireside",
                "up",
                "--port",
                "0",
                "--data-dir",
                str(self.data_dir),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError("fireside exited early:\n" + "".join(self.output))
            self.output.append(line)
            match = re.search(r"listening on http://[^:]+:(\d+)", line)
            if match:
                self.port = int(match[1])
            kafka = re.search(r"^  kafka: +[^:]+:(\d+)", line)
            if kafka:
                self.kafka_port = int(kafka[1])
            if self.port and (kafka or "Ctrl-C" in line):
                break
        else:
            raise RuntimeError("fireside did not start:\n" + "".join(self.output))
        threading.Thread(target=self._drain, daemon=True).start()
        return self

    def _drain(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                self.output.append(line)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        status = self.process.wait(timeout)
        return status

    def health(self) -> dict[str, Any]:
        """`/_fireside/health` with its details: signed by the server's first configured key
        when it has credentials (unsigned callers then see only the status)."""
        request = AWSRequest(method="GET", url=f"{self.endpoint}/_fireside/health")
        configured = self.env.get("FIRESIDE_CREDENTIALS", "").split(",")[0]
        if configured:
            key, _, secret = configured.partition(":")
            SigV4Auth(Credentials(key, secret), "fireside", "us-east-1").add_auth(request)
        prepared = urllib.request.Request(request.url, headers=dict(request.headers))
        with urllib.request.urlopen(prepared, timeout=30) as response:
            found: dict[str, Any] = json.loads(response.read())
        return found

    def client(self, service: str = "lambda", **kwargs: Any) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=kwargs.pop("region_name", "us-east-1"),
            aws_access_key_id=kwargs.pop("aws_access_key_id", "test"),
            aws_secret_access_key=kwargs.pop("aws_secret_access_key", "test"),
            config=Config(retries={"max_attempts": 1}, read_timeout=120, **kwargs),
        )


def unavailable(backend: str, reason: str) -> NoReturn:
    """Skip a test whose `backend` this host lacks, or fail it if the run requires it."""
    if backend in REQUIRED:
        pytest.fail(f"{backend} is required (FIRESIDE_TEST_REQUIRE) but unavailable: {reason}")
    pytest.skip(f"{backend} unavailable: {reason}")


T = TypeVar("T")


def wait_for(
    condition: Callable[[], T],
    timeout: float = 30.0,
    what: object = "condition",
    every: float = 0.05,
) -> T:
    """Poll `condition` until it returns something truthy and return that; fail the test after
    `timeout` seconds, naming `what` (read only then, so it can be a growing log)."""
    deadline = time.monotonic() + timeout
    while True:
        found = condition()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not met within {timeout} s: {what}")
        time.sleep(every)


def make_zip(files: dict[str, str | bytes], modes: dict[str, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = ((modes or {}).get(name, 0o644) | 0o100000) << 16
            data = content.encode() if isinstance(content, str) else content
            archive.writestr(info, data)
    return buffer.getvalue()


def python_zip(source: str, module: str = "app") -> bytes:
    return make_zip({f"{module}.py": textwrap.dedent(source)})


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    data_dir = tmp_path_factory.mktemp("fireside-data")
    srv = Server(
        data_dir, env={"FIRESIDE_ASYNC_RETRY_DELAYS": "0.2,0.2", "FIRESIDE_SECRET_OF_SERVER": "x"}
    ).start()
    yield srv
    srv.stop()


@pytest.fixture()
def fresh_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Factory for servers of one test (restarts, credentials); all stopped at the end."""
    started: list[Server] = []

    def make(data_dir: Path | None = None, **env: str) -> Server:
        srv = Server(data_dir or tmp_path / "data", env=env).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        if srv.process is not None and srv.process.poll() is None:
            try:
                srv.stop(signal.SIGTERM, timeout=10)  # lets it remove its resource groups
            except subprocess.TimeoutExpired:
                srv.stop(signal.SIGKILL)


@pytest.fixture()
def lam(server: Server) -> Any:
    return server.client()


FunctionFactory = Callable[..., str]


@pytest.fixture()
def make_function(lam: Any) -> Iterator[FunctionFactory]:
    """Create (and later delete) a Python function from source; waits until it is Active."""
    created: list[str] = []

    def make(source: str, *, client: Any = None, wait: bool = True, **kwargs: Any) -> str:
        client = client or lam
        name = kwargs.pop("FunctionName", f"fn-{uuid.uuid4().hex[:10]}")
        params = {
            "FunctionName": name,
            "Runtime": "python3.11",
            "Handler": "app.handler",
            "Role": ROLE,
            "Code": {"ZipFile": python_zip(source)},
            **kwargs,
        }
        client.create_function(**params)
        created.append(name)
        if wait:
            client.get_waiter("function_active_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
            )
        return name

    yield make
    for name in created:
        with contextlib.suppress(lam.exceptions.ResourceNotFoundException):
            lam.delete_function(FunctionName=name)


def marked(source: str) -> str:
    """Function code that starts, at Init, a long `sleep` holding the function's environment
    (so `FIRESIDE_TEST_MARKER`). Tests find an environment's processes through it: a runtime
    started warm keeps the `/proc/<pid>/environ` of the spare it was, without the marker."""
    return "import subprocess as _sp\n_CHILD = _sp.Popen(['sleep', '600'])\n" + source


def processes_with(marker: str) -> list[int]:
    """Host pids whose environment holds `FIRESIDE_TEST_MARKER=<marker>` (works across pid
    namespaces: a function cannot tell us its host pid). See `marked`."""
    needle = f"FIRESIDE_TEST_MARKER={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if needle in environ.read().split(b"\0"):
                    with open(f"/proc/{entry}/stat") as stat:
                        if stat.read().split()[2] != "Z":
                            found.append(int(entry))
        except OSError:
            continue
    return found


#: Function code whose handler returns an id unique to its execution environment.
ENV_TOKEN = "import uuid, time\nTOKEN = uuid.uuid4().hex\ndef handler(e, c):\n    time.sleep(e.get('sleep', 0) if isinstance(e, dict) else 0)\n    return TOKEN\n"


def curl_bootstrap(respond: str) -> str:
    """A custom runtime in the style of AWS's tutorial: a shell loop of curl calls against the
    Runtime API. `respond` is shell code that sets BODY from $EVENT and $REQUEST_ID."""
    return (
        "#!/bin/sh\n"
        "set -eu\n"
        'API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"\n'
        "while true; do\n"
        '  HEADERS="$(mktemp)"\n'
        '  EVENT="$(curl -sS -LD "$HEADERS" "$API/next")"\n'
        '  REQUEST_ID="$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d \'[:space:]\''
        ' | cut -d: -f2)"\n'
        f"  {respond}\n"
        '  curl -sS -X POST "$API/$REQUEST_ID/response" -d "$BODY" > /dev/null\n'
        "done\n"
    )
