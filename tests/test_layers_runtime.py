"""Layers inside execution environments: `/opt` merged in the order listed, the runtimes' search
paths, a custom runtime's bootstrap from a layer, and external extensions from a layer."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROLE, Server, curl_bootstrap, make_zip

PROBE = """
import os, shutil, subprocess, sys
import shared, only_in_first
def handler(event, context):
    return {
        "shared": shared.WHO,
        "first": only_in_first.WHO,
        "tool": subprocess.run(["layer-tool"], capture_output=True, text=True).stdout.strip(),
        "path": os.environ["PATH"],
        "ld": os.environ["LD_LIBRARY_PATH"],
        "opt": sorted(os.listdir(os.environ.get("FIRESIDE_OPT_ROOT", "/opt"))),
        "conflict": open(os.path.join(os.environ.get("FIRESIDE_OPT_ROOT", "/opt"), "data.txt")).read(),
        "site": any(p.endswith("/python/lib/python3.11/site-packages") for p in sys.path),
    }
"""

FIRST = {
    "python/shared.py": "WHO = 'first'\n",
    "python/only_in_first.py": "WHO = 'first'\n",
    "data.txt": "first",
}
SECOND = {
    "python/lib/python3.11/site-packages/shared.py": "WHO = 'second'\n",
    "bin/layer-tool": "#!/bin/sh\necho from-layer\n",
    "data.txt": "second",
}
SHELL_BOOTSTRAP = curl_bootstrap("BODY='\"bootstrap from a layer\"'")
# An external extension: registers for INVOKE and SHUTDOWN and prints what it receives (its
# output goes to the function's log, as on Lambda).
EXTENSION = """#!/usr/bin/python3
import json, os, urllib.request
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
request = urllib.request.Request(API + "/register", data=b'{"events": ["INVOKE", "SHUTDOWN"]}',
                                 headers={"Lambda-Extension-Name": "printer"}, method="POST")
with urllib.request.urlopen(request) as response:
    ID = response.headers["Lambda-Extension-Identifier"]
print("printer registered", flush=True)
while True:
    request = urllib.request.Request(API + "/event/next",
                                     headers={"Lambda-Extension-Identifier": ID})
    with urllib.request.urlopen(request) as response:
        event = json.loads(response.read())
    print("printer got", event["eventType"], event.get("requestId", event.get("shutdownReason")),
          flush=True)
    if event["eventType"] == "SHUTDOWN":
        break
"""


def publish(lam: Any, name: str, files: dict[str, str], modes: dict[str, int] | None = None) -> str:
    out = lam.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip(files, modes)})
    return str(out["LayerVersionArn"])


@pytest.fixture()
def sandboxed(
    request: pytest.FixtureRequest, server: Server, fresh_server: Callable[..., Server]
) -> Iterator[Server]:
    """The session server (namespace sandbox, warm spares), or a process-sandbox server."""
    if request.param == "namespace":
        yield server
    else:
        yield fresh_server(FIRESIDE_SANDBOX="process")


def by_sandbox(test: Any) -> Any:
    return pytest.mark.parametrize("sandboxed", ["namespace", "process"], indirect=True)(test)


def deploy(srv: Server, source: str, layers: list[str], **kwargs: Any) -> str:
    lam = srv.client()
    name = f"lr-{time.monotonic_ns()}"
    lam.create_function(
        FunctionName=name, Runtime=kwargs.pop("Runtime", "python3.11"), Handler="app.handler",
        Role=ROLE, Code={"ZipFile": make_zip({"app.py": source})}, Layers=layers, **kwargs,
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})
    return name


@by_sandbox
def test_layers_merge_in_order(sandboxed: Server) -> None:
    lam = sandboxed.client()
    first = publish(lam, "first", FIRST)
    second = publish(lam, "second", SECOND, {"bin/layer-tool": 0o755})
    name = deploy(sandboxed, PROBE, [first, second])
    for round_ in range(2):  # a cold start, then (namespace) one from a warm spare
        body = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
        assert body["shared"] == "second"  # site-packages comes before /opt/python
        assert body["first"] == "first"
        assert body["conflict"] == "second"  # the later layer wins a path conflict
        assert body["tool"] == "from-layer"  # /opt/bin is on PATH
        assert body["opt"] == ["bin", "data.txt", "python"]
        assert body["site"] is True
        opt = body["path"].rsplit(":", 1)[1].removesuffix("/bin")  # /opt, or the host path
        assert body["ld"].endswith(f":{opt}/lib")
        lam.update_function_configuration(FunctionName=name, Description=f"round {round_}")
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    # Reversed order: the first layer now wins.
    lam.update_function_configuration(FunctionName=name, Layers=[second, first])
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    body = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    assert body["conflict"] == "first"


@by_sandbox
def test_custom_runtime_bootstrap_from_a_layer(sandboxed: Server) -> None:
    lam = sandboxed.client()
    layer = publish(lam, "runtime", {"bootstrap": SHELL_BOOTSTRAP}, {"bootstrap": 0o755})
    name = deploy(sandboxed, "# no bootstrap here\n", [layer], Runtime="provided.al2023")
    out = lam.invoke(FunctionName=name)
    assert json.loads(out["Payload"].read()) == "bootstrap from a layer"


def test_missing_bootstrap_names_both_places(server: Server) -> None:
    lam = server.client()
    name = deploy(server, "# nothing\n", [], Runtime="provided.al2023")
    out = lam.invoke(FunctionName=name)
    body = json.loads(out["Payload"].read())
    assert body["errorType"] == "Runtime.InvalidEntrypoint"
    assert "[/var/task/bootstrap /opt/bootstrap]" in body["errorMessage"]


def read_log(srv: Server, name: str) -> str:
    logs = list(Path(srv.data_dir, "logs").rglob(f"{name}.log"))
    return "".join(path.read_text() for path in logs)


@by_sandbox
@pytest.mark.parametrize("runtime", ["python3.11", "provided.al2023"])
def test_external_extension_from_a_layer(sandboxed: Server, runtime: str) -> None:
    lam = sandboxed.client()
    extension = publish(
        lam, "printer", {"extensions/printer": EXTENSION}, {"extensions/printer": 0o755}
    )
    layers = [extension]
    source = "def handler(e, c):\n    return 'handled'\n"
    if runtime == "provided.al2023":
        layers.append(publish(lam, "rt", {"bootstrap": SHELL_BOOTSTRAP}, {"bootstrap": 0o755}))
        source = "# bootstrap from a layer\n"
    name = deploy(sandboxed, source, layers, Runtime=runtime)
    out = lam.invoke(FunctionName=name)
    request_id = out["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert "FunctionError" not in out, out["Payload"].read()
    lam.update_function_configuration(FunctionName=name, Description="spin down")  # retires it
    lam.get_waiter("function_updated_v2").wait(FunctionName=name)
    deadline = time.monotonic() + 10
    while "printer got SHUTDOWN" not in read_log(sandboxed, name):
        assert time.monotonic() < deadline, read_log(sandboxed, name)
        time.sleep(0.1)
    log = read_log(sandboxed, name)
    assert "printer registered" in log
    assert f"printer got INVOKE {request_id}" in log
    assert "printer got SHUTDOWN SPINDOWN" in log
