"""AWS's official runtime interface clients, unmodified, as custom runtimes (`provided.al2023`)
whose bootstrap and client come from a layer: `awslambdaric` (Python) and `aws-lambda-ric`
(Node.js, with its native addon). For each: a result round-trips, a handler error comes back
as the client formats it with `FunctionError: Unhandled`, and a module that fails at import
gives the client's init error; under the default sandbox, and once under `process`.

The clients are built once per machine (`tests/ric_builds.py`): the first session builds
aws-lambda-ric's addon (about 150 s), later ones reuse the cache.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import ric_builds
from tests.conftest import ROLE, Server, make_zip
from tests.ric_builds import Say

# The bootstraps find their layer from their own path: /opt/bootstrap in the isolating
# sandboxes (and on Lambda); the layers' merged folder on the host under `process`.
PYTHON_BOOTSTRAP = """#!/bin/sh
# AWS's Python runtime interface client; this layer's python/ holds it, built for {python}.
export PYTHONPATH="$(dirname "$0")/python${{PYTHONPATH:+:$PYTHONPATH}}"
exec {python} -m awslambdaric "$_HANDLER"
"""
NODE_BOOTSTRAP = """#!/bin/sh
# AWS's Node.js runtime interface client, from this layer's nodejs/node_modules.
exec {node} "$(dirname "$0")/nodejs/node_modules/aws-lambda-ric/bin/index.mjs" "$_HANDLER"
"""

PYTHON_APP = """
import sys

def handler(event, context):
    if "fail" in event:
        raise ValueError(f"bad input: {event['fail']}")
    return {
        "echo": event,
        "requestId": context.aws_request_id,
        "function": context.function_name,
        "remaining": context.get_remaining_time_in_millis(),
        "client": sys.modules["awslambdaric"].__file__,
    }
"""
NODE_APP = """
export const handler = async (event, context) => {
  if ('fail' in event) {
    throw new TypeError(`bad input: ${event.fail}`);
  }
  return {
    echo: event,
    requestId: context.awsRequestId,
    function: context.functionName,
    remaining: context.getRemainingTimeInMillis(),
    client: process.argv[1],
  };
};
"""

#: Handler modules that fail at import: (file, source, errorType, start of errorMessage).
PYTHON_INIT_ERRORS = {
    "import": (
        "app.py",
        "import not_a_module_xyz\n\ndef handler(event, context):\n    return 1\n",
        "Runtime.ImportModuleError",
        "Unable to import module 'app': No module named 'not_a_module_xyz'",
    ),
    "syntax": (
        "app.py",
        "def handler(event, context)\n    return 1\n",
        "Runtime.UserCodeSyntaxError",
        "Syntax error in module 'app': expected ':'",
    ),
    "raise": (
        "app.py",
        "raise RuntimeError('broken at import')\n",
        "RuntimeError",
        "broken at import",
    ),
}
NODE_INIT_ERRORS = {
    "import": (
        "app.js",
        "require('not-a-module-xyz');\nexports.handler = async () => 1;\n",
        "Runtime.ImportModuleError",
        "Error: Cannot find module 'not-a-module-xyz'",
    ),
    "syntax": (
        "app.js",
        "exports.handler = async (event) => {\n  return 1;\n",
        "Runtime.UserCodeSyntaxError",
        "SyntaxError: Unexpected end of input",
    ),
    "raise": (
        "app.js",
        "throw new RangeError('broken at import');\n",
        "RangeError",
        "broken at import",
    ),
}


# -- building the layers (once per machine) and publishing them -----------------------------


@pytest.fixture(scope="session")
def say(pytestconfig: pytest.Config) -> Say:
    """Progress lines that reach the terminal while output is captured."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def write(message: str) -> None:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            print(f"\n[official clients] {message}", flush=True)

    return write


def _layer_folder(root: Path, bootstrap: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "bootstrap").write_text(bootstrap)
    (root / "bootstrap").chmod(0o755)
    return root


@pytest.fixture(scope="session")
def python_ric_layer(tmp_path_factory: pytest.TempPathFactory, say: Say) -> Path:
    """A layer zip: `bootstrap` and `python/` with awslambdaric and its dependencies."""
    try:
        packages, python, version = ric_builds.awslambdaric_packages(say)
    except ric_builds.Unavailable as exc:
        pytest.skip(str(exc))
    work = tmp_path_factory.mktemp("python-ric")
    folder = _layer_folder(work / "layer", PYTHON_BOOTSTRAP.format(python=python))
    shutil.copytree(packages, folder / "python", symlinks=True)
    say(f"awslambdaric {version} for {python}: layer {work / 'layer.zip'}")
    return ric_builds.build_layer(folder, work / "layer.zip")


@pytest.fixture(scope="session")
def node_ric_layer(tmp_path_factory: pytest.TempPathFactory, say: Say) -> Path:
    """A layer zip: `bootstrap` and `nodejs/node_modules/` with aws-lambda-ric (built addon)."""
    try:
        node, _ = ric_builds.host_node()
        modules = ric_builds.aws_lambda_ric_modules(node, say)
    except ric_builds.Unavailable as exc:
        pytest.skip(str(exc))
    work = tmp_path_factory.mktemp("node-ric")
    folder = _layer_folder(work / "layer", NODE_BOOTSTRAP.format(node=node))
    shutil.copytree(modules, folder / "nodejs" / "node_modules", symlinks=True)
    say(f"aws-lambda-ric {ric_builds.NODE_RIC_VERSION} for {node}: layer {work / 'layer.zip'}")
    return ric_builds.build_layer(folder, work / "layer.zip")


def publish(srv: Server, name: str, layer: Path) -> str:
    out = srv.client().publish_layer_version(
        LayerName=name, Content={"ZipFile": layer.read_bytes()}
    )
    return str(out["LayerVersionArn"])


@pytest.fixture(scope="session")
def python_ric_arn(server: Server, python_ric_layer: Path) -> str:
    return publish(server, "awslambdaric", python_ric_layer)


@pytest.fixture(scope="session")
def node_ric_arn(server: Server, node_ric_layer: Path) -> str:
    return publish(server, "aws-lambda-ric", node_ric_layer)


# -- functions -------------------------------------------------------------------------------

Deploy = Callable[[Server, str, dict[str, str], str], str]


@pytest.fixture()
def deploy() -> Iterator[Deploy]:
    """Create a `provided.al2023` function with one layer; deleted after the test."""
    created: list[tuple[Server, str]] = []

    def make(srv: Server, layer_arn: str, files: dict[str, str], handler: str) -> str:
        lam = srv.client()
        name = f"ric-{uuid.uuid4().hex[:10]}"
        lam.create_function(
            FunctionName=name,
            Runtime="provided.al2023",
            Handler=handler,
            Role=ROLE,
            Code={"ZipFile": make_zip(dict(files))},
            Layers=[layer_arn],
            Timeout=30,
        )
        created.append((srv, name))
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})
        return name

    yield make
    for srv, name in created:
        if srv.process is not None and srv.process.poll() is None:
            srv.client().delete_function(FunctionName=name)


def invoke(srv: Server, name: str, event: Any) -> tuple[dict[str, Any], Any, str]:
    """The whole answer, its decoded payload and its log tail."""
    out = srv.client().invoke(FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail")
    return out, json.loads(out["Payload"].read()), base64.b64decode(out["LogResult"]).decode()


# -- the checks, shared by both sandboxes ----------------------------------------------------


def check_python_success(srv: Server, name: str) -> None:
    for n in range(2):  # a cold and a warm invoke
        out, body, tail = invoke(srv, name, {"n": n, "text": "héllo"})
        assert "FunctionError" not in out, body
        assert body["echo"] == {"n": n, "text": "héllo"}
        assert body["requestId"] == out["ResponseMetadata"]["RequestId"]
        assert body["function"] == name
        assert 0 < body["remaining"] <= 30_000
        # The client ran from the layer (nothing else in the sandbox has awslambdaric).
        assert body["client"].endswith("/python/awslambdaric/__init__.py")
        assert f"REPORT RequestId: {body['requestId']}" in tail


def check_python_handler_error(srv: Server, name: str) -> None:
    out, body, tail = invoke(srv, name, {"fail": 7})
    assert out["FunctionError"] == "Unhandled"
    request_id = out["ResponseMetadata"]["RequestId"]
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad input: 7"
    assert body["requestId"] == request_id
    frames = body["stackTrace"]
    assert isinstance(frames, list)
    assert any('app.py", line 6, in handler' in frame for frame in frames), frames
    assert "[ERROR] ValueError: bad input: 7" in tail
    # The client keeps serving after a handler error.
    out, body, _ = invoke(srv, name, {"n": 2})
    assert "FunctionError" not in out and body["echo"] == {"n": 2}


def check_init_error(
    srv: Server, name: str, error_type: str, message: str, trace_key: str
) -> dict[str, Any]:
    out, body, _ = invoke(srv, name, {})
    assert out["FunctionError"] == "Unhandled", body
    assert body["errorType"] == error_type, body
    assert body["errorMessage"].startswith(message), body
    assert isinstance(body[trace_key], list), body
    return dict(body)


def check_node_success(srv: Server, name: str) -> None:
    for n in range(2):
        out, body, tail = invoke(srv, name, {"n": n, "text": "héllo"})
        assert "FunctionError" not in out, body
        assert body["echo"] == {"n": n, "text": "héllo"}
        assert body["requestId"] == out["ResponseMetadata"]["RequestId"]
        assert body["function"] == name
        assert 0 < body["remaining"] <= 30_000
        assert body["client"].endswith("/nodejs/node_modules/aws-lambda-ric/bin/index.mjs")
        assert f"REPORT RequestId: {body['requestId']}" in tail


def check_node_handler_error(srv: Server, name: str) -> None:
    out, body, tail = invoke(srv, name, {"fail": 7})
    assert out["FunctionError"] == "Unhandled"
    assert set(body) == {"errorType", "errorMessage", "trace"}, body
    assert body["errorType"] == "TypeError"
    assert body["errorMessage"] == "bad input: 7"
    assert body["trace"][0] == "TypeError: bad input: 7"
    assert any("app.mjs:4" in line for line in body["trace"]), body["trace"]
    request_id = out["ResponseMetadata"]["RequestId"]
    assert f"\t{request_id}\tERROR\tInvoke Error \t" in tail, tail
    out, body, _ = invoke(srv, name, {"n": 2})
    assert "FunctionError" not in out and body["echo"] == {"n": 2}


# -- Python: awslambdaric --------------------------------------------------------------------


def test_awslambdaric_success(server: Server, python_ric_arn: str, deploy: Deploy) -> None:
    name = deploy(server, python_ric_arn, {"app.py": PYTHON_APP}, "app.handler")
    check_python_success(server, name)


def test_awslambdaric_handler_error(server: Server, python_ric_arn: str, deploy: Deploy) -> None:
    name = deploy(server, python_ric_arn, {"app.py": PYTHON_APP}, "app.handler")
    check_python_handler_error(server, name)


@pytest.mark.parametrize("case", sorted(PYTHON_INIT_ERRORS))
def test_awslambdaric_init_error(
    server: Server, python_ric_arn: str, deploy: Deploy, case: str
) -> None:
    file, source, error_type, message = PYTHON_INIT_ERRORS[case]
    name = deploy(server, python_ric_arn, {file: source}, "app.handler")
    body = check_init_error(server, name, error_type, message, "stackTrace")
    assert body["requestId"] == ""  # no invoke yet when Init failed
    if case == "raise":
        assert any("raise RuntimeError('broken at import')" in f for f in body["stackTrace"])


def test_awslambdaric_under_process(
    fresh_server: Callable[..., Server], python_ric_layer: Path, deploy: Deploy
) -> None:
    srv = fresh_server(FIRESIDE_SANDBOX="process")
    arn = publish(srv, "awslambdaric", python_ric_layer)
    name = deploy(srv, arn, {"app.py": PYTHON_APP}, "app.handler")
    check_python_success(srv, name)
    check_python_handler_error(srv, name)
    file, source, error_type, message = PYTHON_INIT_ERRORS["import"]
    broken = deploy(srv, arn, {file: source}, "app.handler")
    check_init_error(srv, broken, error_type, message, "stackTrace")


# -- Node.js: aws-lambda-ric -----------------------------------------------------------------

#: Whichever Node.js test runs first builds the client (once per machine, about 150 s).
BUILDS_NODE_CLIENT = pytest.mark.timeout(900)


@BUILDS_NODE_CLIENT
def test_aws_lambda_ric_success(server: Server, node_ric_arn: str, deploy: Deploy) -> None:
    name = deploy(server, node_ric_arn, {"app.mjs": NODE_APP}, "app.handler")
    check_node_success(server, name)


@BUILDS_NODE_CLIENT
def test_aws_lambda_ric_handler_error(server: Server, node_ric_arn: str, deploy: Deploy) -> None:
    name = deploy(server, node_ric_arn, {"app.mjs": NODE_APP}, "app.handler")
    check_node_handler_error(server, name)


@BUILDS_NODE_CLIENT
@pytest.mark.parametrize("case", sorted(NODE_INIT_ERRORS))
def test_aws_lambda_ric_init_error(
    server: Server, node_ric_arn: str, deploy: Deploy, case: str
) -> None:
    file, source, error_type, message = NODE_INIT_ERRORS[case]
    name = deploy(server, node_ric_arn, {file: source}, "app.handler")
    check_init_error(server, name, error_type, message, "trace")


@BUILDS_NODE_CLIENT
def test_aws_lambda_ric_under_process(
    fresh_server: Callable[..., Server], node_ric_layer: Path, deploy: Deploy
) -> None:
    srv = fresh_server(FIRESIDE_SANDBOX="process")
    arn = publish(srv, "aws-lambda-ric", node_ric_layer)
    name = deploy(srv, arn, {"app.mjs": NODE_APP}, "app.handler")
    check_node_success(srv, name)
    check_node_handler_error(srv, name)
    file, source, error_type, message = NODE_INIT_ERRORS["import"]
    broken = deploy(srv, arn, {file: source}, "app.handler")
    check_init_error(srv, broken, error_type, message, "trace")


@BUILDS_NODE_CLIENT
def test_layers_hold_the_clients_and_their_bootstraps(
    python_ric_layer: Path, node_ric_layer: Path
) -> None:
    """What the tests above ship: an executable bootstrap and the client, the addon built."""
    for layer, client in [
        (python_ric_layer, "python/awslambdaric/__main__.py"),
        (node_ric_layer, "nodejs/node_modules/aws-lambda-ric/dist/rapid-client.node"),
    ]:
        with zipfile.ZipFile(layer) as archive:
            infos = {info.filename: info for info in archive.infolist()}
        assert (infos["bootstrap"].external_attr >> 16) & 0o111, layer
        assert client in infos, layer
    assert os.path.getsize(node_ric_layer) < 50 * 1024 * 1024  # Lambda's zipped layer limit
