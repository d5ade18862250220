"""Fireside's Node.js runtime (`nodejs*.x`) through boto3 against live servers.

Handler styles (async, callback) and module formats (ES modules, CommonJS), handler resolution
and the errors AWS's runtime reports, the `context` object, console lines, the environment and
layers, under the namespace sandbox and `process`. The servers run `nodejs20.x` and `nodejs24.x`
on whatever Node.js the host has (`FIRESIDE_NODE_<major>`), so the expectations are those of
those runtime ids; one test checks that the host's own version is found without an override.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from fireside.runtimes import sdks
from tests import runtime_helpers
from tests.conftest import ROLE, Server, make_zip
from tests.runtime_helpers import BOTH_SANDBOXES as BOTH
from tests.runtime_helpers import Servers, function_log, invoke, publish_layer


def _host_node() -> tuple[str, int, tuple[int, ...]] | None:
    node = shutil.which("node")
    if node is None:
        return None
    out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
    match = re.match(r"v(\d+)\.(\d+)\.(\d+)", out.stdout)
    if match is None:
        return None
    version = tuple(int(part) for part in match.groups())
    return node, version[0], version


HOST_NODE = _host_node()
pytestmark = pytest.mark.skipif(
    HOST_NODE is None or HOST_NODE[1] < 18, reason="no Node.js 18 or later on this host"
)
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t(\S+)\t([A-Z]+)\t(.*)$")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    assert HOST_NODE is not None
    node = HOST_NODE[0]
    env = {"FIRESIDE_NODE_20": node, "FIRESIDE_NODE_24": node}
    found = Servers(tmp_path_factory.mktemp("node-runtime"), env)
    yield found
    found.stop()


def deploy(srv: Server, files: dict[str, str], handler: str = "app.handler", **kwargs: Any) -> str:
    return runtime_helpers.deploy(
        srv, files, handler, kwargs.pop("runtime", "nodejs20.x"), **kwargs
    )


CONTEXT_PROBE = """
export const handler = async (event, context) => {
  console.log('got', event);
  console.info('two\\nlines');
  return {
    event,
    functionName: context.functionName,
    functionVersion: context.functionVersion,
    invokedFunctionArn: context.invokedFunctionArn,
    memoryLimitInMB: context.memoryLimitInMB,
    awsRequestId: context.awsRequestId,
    logGroupName: context.logGroupName,
    logStreamName: context.logStreamName,
    remaining: context.getRemainingTimeInMillis(),
    waits: context.callbackWaitsForEmptyEventLoop,
    identity: context.identity ?? null,
    clientContext: context.clientContext ?? null,
  };
};
"""


@BOTH
def test_async_es_module_and_context(servers: Servers, sandbox: str) -> None:
    srv = servers(sandbox)
    name = deploy(srv, {"index.mjs": CONTEXT_PROBE}, "index.handler", Timeout=7)
    client_context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    body, tail, out = invoke(srv, name, {"hello": "world"}, ClientContext=client_context)
    request_id = out["ResponseMetadata"]["RequestId"]
    assert "FunctionError" not in out
    assert body["event"] == {"hello": "world"}
    assert body["functionName"] == name
    assert body["functionVersion"] == "$LATEST"
    assert body["invokedFunctionArn"].endswith(f":function:{name}")
    assert body["memoryLimitInMB"] == "128"  # a string, as on Lambda
    assert body["awsRequestId"] == request_id
    assert body["logGroupName"] == f"/aws/lambda/{name}"
    assert "[$LATEST]" in body["logStreamName"]
    assert 0 < body["remaining"] <= 7000
    assert body["waits"] is True
    assert body["identity"] is None
    assert body["clientContext"] == {"custom": {"k": "v"}}
    lines = [LOG_LINE.match(line) for line in tail.split("\n")]
    printed = [match.groups() for match in lines if match]
    assert (request_id, "INFO", "got { hello: 'world' }") in printed
    assert (request_id, "INFO", "two\rlines") in printed  # one line per call, as on Lambda
    # The second invoke is warm.
    assert "Init Duration" in tail
    assert "Init Duration" not in invoke(srv, name)[1]


@BOTH
def test_callback_handler_waits_for_the_event_loop(servers: Servers, sandbox: str) -> None:
    srv = servers(sandbox)
    source = """
exports.handler = (event, context, callback) => {
  context.callbackWaitsForEmptyEventLoop = event.wait;
  setTimeout(() => console.log('timer done'), 300);
  callback(null, {waited: event.wait});
};
"""
    name = deploy(srv, {"app.js": source})
    started = time.monotonic()
    body, tail, _ = invoke(srv, name, {"wait": True})
    assert body == {"waited": True}
    assert time.monotonic() - started >= 0.3
    assert tail.index("\tINFO\ttimer done") < tail.index("END RequestId")
    # Lambda warns about callback handlers at Init (outside the tail).
    function_log(srv, name, "\tWARN\tAWS Lambda plans to remove support for callback-based")
    # Not waiting: the response leaves at once; the timer still runs (in the next invoke).
    started = time.monotonic()
    body, tail, _ = invoke(srv, name, {"wait": False})
    assert body == {"waited": False}
    assert time.monotonic() - started < 0.3
    assert "timer done" not in tail


def test_sync_handler_without_callback_returns_null(servers: Servers) -> None:
    srv = servers()
    name = deploy(
        srv, {"app.js": "exports.handler = (event, context) => { console.log('sync'); };"}
    )
    body, tail, out = invoke(srv, name)
    assert body is None and "FunctionError" not in out
    assert "\tINFO\tsync" in tail


@pytest.mark.parametrize(
    ("files", "handler"),
    [
        (
            {
                "app.js": "export const handler = async () => 'esm';",
                "package.json": '{"type": "module"}',
            },
            "app.handler",
        ),
        ({"app.cjs": "module.exports.handler = async () => 'cjs';"}, "app.handler"),
        (
            {"lib/deep/app.js": "exports.nested = {deeper: {go: async () => 'nested'}};"},
            "lib/deep/app.nested.deeper.go",
        ),
        ({"app": "exports.handler = async () => 'extensionless';"}, "app.handler"),
        ({"node_modules/pkg/index.js": "exports.handler = async () => 'package';"}, "pkg.handler"),
    ],
)
def test_module_formats_and_handler_paths(
    servers: Servers, files: dict[str, str], handler: str
) -> None:
    srv = servers()
    body, _, out = invoke(srv, deploy(srv, files, handler))
    assert "FunctionError" not in out, body
    assert body in ("esm", "cjs", "nested", "extensionless", "package")


def test_handler_error_body_and_log(servers: Servers) -> None:
    srv = servers()
    source = """
exports.handler = async (event) => {
  if (event.kind === 'string') throw 'plain';
  const error = new TypeError('bad thing');
  error.statusCode = 418;
  throw error;
};
"""
    name = deploy(srv, {"app.js": source})
    body, tail, out = invoke(srv, name)
    assert out["FunctionError"] == "Unhandled"
    assert set(body) == {"errorType", "errorMessage", "trace"}  # AWS's Node shape: `trace`
    assert body["errorType"] == "TypeError"
    assert body["errorMessage"] == "bad thing"
    assert body["trace"][0] == "TypeError: bad thing"
    assert re.match(
        r"    at (exports\.handler|Runtime\.handler) \(.*/app\.js:\d+:\d+\)", body["trace"][1]
    )
    line = next(line for line in tail.splitlines() if "\tERROR\tInvoke Error \t" in line)
    logged = json.loads(line.split("\tInvoke Error \t", 1)[1])
    assert logged["errorType"] == "TypeError" and logged["errorMessage"] == "bad thing"
    assert logged["statusCode"] == 418 and logged["stack"][0] == "TypeError: bad thing"
    # Something other than an Error.
    body, _, _ = invoke(srv, name, {"kind": "string"})
    assert body == {"errorType": "string", "errorMessage": "plain", "trace": []}


def test_callback_error_and_unserializable_result(servers: Servers) -> None:
    srv = servers()
    source = """
exports.handler = (event, context, callback) => {
  if (event.big) return callback(null, {n: 1n});
  callback(new RangeError('out of range'));
};
"""
    name = deploy(srv, {"app.js": source})
    body, _, _ = invoke(srv, name)
    assert (body["errorType"], body["errorMessage"]) == ("RangeError", "out of range")
    body, _, _ = invoke(srv, name, {"big": True})
    assert (body["errorType"], body["errorMessage"]) == (
        "Error",
        "Unable to stringify response body",
    )


@pytest.mark.parametrize(
    ("files", "handler", "error_type", "message"),
    [
        (
            {"app.js": "exports.x = 1;"},
            "missing.handler",
            "Runtime.ImportModuleError",
            "Error: Cannot find module 'missing'\nRequire stack:",
        ),
        (
            {"app.js": "exports.x = 1;"},
            "app.handler",
            "Runtime.HandlerNotFound",
            "app.handler is undefined or not exported",
        ),
        (
            {"app.js": "exports.handler = 42;"},
            "app.handler",
            "Runtime.HandlerNotFound",
            "app.handler is not a function",
        ),
        ({"app.js": "exports.handler = 1;"}, "app", "Runtime.MalformedHandlerName", "Bad handler"),
        (
            {"app.js": "exports.handler = 1;"},
            "../app.handler",
            "Runtime.MalformedHandlerName",
            "'../app.handler' is not a valid handler name.",
        ),
        (
            {"app.js": "exports.handler = async () => {;"},
            "app.handler",
            "Runtime.UserCodeSyntaxError",
            "SyntaxError: Unexpected",
        ),
        (
            {"app.mjs": "export const handler = async ( => 1;"},
            "app.handler",
            "Runtime.UserCodeSyntaxError",
            "SyntaxError: Unexpected",
        ),
        ({"app.js": "throw new Error('init boom');"}, "app.handler", "Error", "init boom"),
        (
            {"app.mjs": "import 'nothing-here';\nexport const handler = 1;"},
            "app.handler",
            "Error",
            "Cannot find package 'nothing-here' imported from",
        ),
    ],
)
def test_init_errors(
    servers: Servers, files: dict[str, str], handler: str, error_type: str, message: str
) -> None:
    srv = servers()
    name = deploy(srv, files, handler)
    body, _, out = invoke(srv, name)
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == error_type
    assert body["errorMessage"].startswith(message)
    assert body["trace"][0].startswith(error_type)  # "Error [ERR_MODULE_NOT_FOUND]: ..."
    logged = function_log(srv, name, "\tundefined\tERROR\tUncaught Exception \t")
    assert f'"errorType":"{error_type}"' in logged
    assert "INIT_REPORT Status: error" in logged


def test_nodejs24_refuses_callback_handlers(servers: Servers) -> None:
    srv = servers()
    callback = deploy(
        srv, {"app.js": "exports.handler = (e, c, cb) => cb(null, 1);"}, runtime="nodejs24.x"
    )
    body, _, _ = invoke(srv, callback)
    assert body["errorType"] == "Runtime.CallbackHandlerDeprecated"
    assert body["errorMessage"].startswith(
        "ERROR: AWS Lambda has removed support for callback-based function handlers starting with Node.js 24."
    )
    asynchronous = deploy(
        srv, {"app.js": "exports.handler = async (e, c) => 24;"}, runtime="nodejs24.x"
    )
    assert invoke(srv, asynchronous)[0] == 24


def test_uncaught_errors_end_the_environment(servers: Servers) -> None:
    srv = servers()
    source = """
exports.handler = async (event) => {
  if (event.throw) setTimeout(() => { throw new Error('late'); }, 10);
  if (event.reject) Promise.reject(new Error('nobody listens'));
  return new Promise(() => {});  // never settles: the uncaught error ends the invoke
};
"""
    name = deploy(srv, {"app.js": source}, Timeout=10)
    body, tail, _ = invoke(srv, name, {"throw": True})
    assert (body["errorType"], body["errorMessage"]) == ("Error", "late")
    assert "\tERROR\tUncaught Exception \t" in tail
    time.sleep(0.5)  # the runtime exits after reporting; the next invoke starts a new one
    body, tail, _ = invoke(srv, name, {"reject": True})
    assert body["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert body["errorMessage"] == "Error: nobody listens"
    assert "Init Duration" in tail
    assert "\tERROR\tUnhandled Promise Rejection \t" in tail


ENV_PROBE = """
exports.handler = async () => {
  console.debug('debug line');
  console.warn('warn line');
  return {
    env: process.env,
    execArgv: process.execArgv,
    gc: typeof gc,
    cwd: process.cwd(),
  };
};
"""


@BOTH
def test_environment(servers: Servers, sandbox: str) -> None:
    srv = servers(sandbox)
    name = deploy(srv, {"app.js": ENV_PROBE}, MemorySize=256)
    body, tail, _ = invoke(srv, name)
    env = body["env"]
    task, opt, runtime_dir = (
        env["LAMBDA_TASK_ROOT"],
        env.get("FIRESIDE_OPT_ROOT"),
        env["LAMBDA_RUNTIME_DIR"],
    )
    # The AWS SDK's node_modules: in the runtime dir, or the SDK cache under `process`.
    sdk = runtime_dir
    if sandbox == "namespace":
        assert (task, opt, runtime_dir) == ("/var/task", "/opt", "/var/runtime")
    else:
        sdk = str(sdks.cache_root() / "nodejs")
    assert env["NODE_PATH"] == (
        f"{opt}/nodejs/node20/node_modules:{opt}/nodejs/node_modules:"
        f"{sdk}/node_modules:{runtime_dir}:{task}"
    )
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs20.x"
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert env["_HANDLER"] == "app.handler"
    assert body["cwd"] == task
    # Lambda's flags: gc() exposed, a heap sized from the memory (256 - 25 MB of new space).
    assert body["gc"] == "function"
    assert "--max-old-space-size=231" in body["execArgv"]
    assert "--max-semi-space-size=12" in body["execArgv"]
    if HOST_NODE and HOST_NODE[2] >= (20, 17):  # older releases do not know the flag
        assert "--no-experimental-require-module" in body["execArgv"]
    assert "\tDEBUG\tdebug line" in tail and "\tWARN\twarn line" in tail


def test_function_variables_win_and_log_level(servers: Servers) -> None:
    srv = servers()
    variables = {
        "NODE_PATH": "/somewhere/else",
        "AWS_LAMBDA_LOG_LEVEL": "WARN",
        "NODE_OPTIONS": "--experimental-require-module",
    }
    name = deploy(srv, {"app.js": ENV_PROBE}, Environment={"Variables": variables})
    body, tail, _ = invoke(srv, name)
    assert body["env"]["NODE_PATH"] == "/somewhere/else"
    assert "--no-experimental-require-module" not in body["execArgv"]  # turned back on
    assert "debug line" not in tail and "\tWARN\twarn line" in tail


def test_host_node_is_found_without_override(server: Server) -> None:
    assert HOST_NODE is not None
    runtime = f"nodejs{HOST_NODE[1]}.x"
    name = deploy(
        server,
        {"app.js": "exports.handler = async () => process.env.AWS_EXECUTION_ENV;"},
        runtime=runtime,
    )
    try:
        assert invoke(server, name)[0] == f"AWS_Lambda_{runtime}"
    finally:
        server.client().delete_function(FunctionName=name)


def test_missing_node_version_is_refused_at_create(server: Server) -> None:
    assert HOST_NODE is not None
    major = next(m for m in (22, 24, 18, 20) if m != HOST_NODE[1])
    lam = server.client()
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as info:
        lam.create_function(
            FunctionName=f"node-{uuid.uuid4().hex[:8]}",
            Runtime=f"nodejs{major}.x",
            Handler="app.handler",
            Role=ROLE,
            Code={"ZipFile": make_zip({"app.js": "exports.handler = async () => 1;"})},
        )
    message = info.value.response["Error"]["Message"]
    assert f"needs Node.js {major}" in message and f"FIRESIDE_NODE_{major}" in message


@BOTH
def test_modules_from_layers(servers: Servers, sandbox: str) -> None:
    srv = servers(sandbox)
    files = {
        "nodejs/node_modules/shared/index.js": "module.exports = 'any node';",
        "nodejs/node20/node_modules/only20/index.js": "module.exports = 'node20';",
    }
    layer = publish_layer(srv, "node-modules", files)
    source = "exports.handler = async () => [require('shared'), require('only20')];"
    name = deploy(srv, {"app.js": source}, Layers=[layer])
    assert invoke(srv, name)[0] == ["any node", "node20"]
