"""Helpers for the language runtime tests (`test_node_runtime.py`, `test_ruby_runtime.py`):
servers per sandbox with interpreter overrides, deploying code from files, invoking with the
log tail, reading a function's whole log."""

from __future__ import annotations

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROLE, Server, make_zip

#: Tests that run once under the namespace sandbox and once under `process`.
BOTH_SANDBOXES = pytest.mark.parametrize("sandbox", ["namespace", "process"])


class Servers:
    """One server per sandbox, all with the same variables, started when first asked for."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.started: dict[str, Server] = {}

    def __call__(self, sandbox: str = "namespace") -> Server:
        if sandbox not in self.started:
            env = dict(self.env)
            if sandbox != "namespace":  # namespace is the default where the host supports it
                env["FIRESIDE_SANDBOX"] = sandbox
            self.started[sandbox] = Server(self.root / sandbox, env=env).start()
        return self.started[sandbox]

    def stop(self) -> None:
        for srv in self.started.values():
            srv.stop()


def deploy(srv: Server, files: dict[str, str], handler: str, runtime: str, **kwargs: Any) -> str:
    lam = srv.client()
    name = f"{runtime.split('.')[0]}-{uuid.uuid4().hex[:10]}"
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Handler=handler,
        Role=ROLE,
        Code={"ZipFile": make_zip(files)},
        **kwargs,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})
    return name


def invoke(
    srv: Server, name: str, event: Any = None, **kwargs: Any
) -> tuple[Any, str, dict[str, Any]]:
    """The decoded payload, the log tail and the whole answer."""
    out = srv.client().invoke(
        FunctionName=name, Payload=json.dumps(event or {}).encode(), LogType="Tail", **kwargs
    )
    return json.loads(out["Payload"].read()), base64.b64decode(out["LogResult"]).decode(), out


def function_log(srv: Server, name: str, needle: str, timeout: float = 5.0) -> str:
    """The function's whole log, once it holds `needle` (Init's output precedes START, so it is
    not in an invoke's tail)."""
    path = srv.data_dir / "logs" / "000000000000" / "us-east-1" / f"{name}.log"
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if needle in text:
            return text
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} not in the log of {name}:\n{text}")


def publish_layer(srv: Server, name: str, files: dict[str, str]) -> str:
    out = srv.client().publish_layer_version(LayerName=name, Content={"ZipFile": make_zip(files)})
    return str(out["LayerVersionArn"])
