"""Fireside's Ruby runtime (`ruby3.x`) through boto3 against live servers.

Handlers `file.method` and `file.Module::Class.method`, the errors AWS's Ruby runtime reports
(`Function<...>`, `Init<...>`) with their bodies and log lines, the `context` object, Logger
lines, the environment and layers, under the namespace sandbox and `process`.

The servers run `ruby3.2` functions on a Ruby 3.2 when the host has one, else on whatever Ruby
it has through `FIRESIDE_RUBY_3_2` (Debian 12 ships 3.1): the expectations below hold for both.
"""

from __future__ import annotations

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
from tests.runtime_helpers import BOTH_SANDBOXES, Servers, function_log, invoke, publish_layer


def _ruby_version(path: str) -> tuple[int, int] | None:
    out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False)
    match = re.match(r"ruby (\d+)\.(\d+)", out.stdout)
    return (int(match[1]), int(match[2])) if match else None


def _host_ruby() -> tuple[str, tuple[int, int]] | None:
    """A Ruby 3.2 if the host has one, else its default Ruby."""
    for name in ("ruby3.2", "ruby"):
        path = shutil.which(name)
        version = _ruby_version(path) if path else None
        if path and version:
            return path, version
    return None


HOST_RUBY = _host_ruby()
pytestmark = pytest.mark.skipif(HOST_RUBY is None, reason="no Ruby on this host")
RUNTIME = "ruby3.2"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    assert HOST_RUBY is not None
    path, version = HOST_RUBY
    env = {} if version == (3, 2) else {"FIRESIDE_RUBY_3_2": path}
    found = Servers(tmp_path_factory.mktemp("ruby-runtime"), env)
    yield found
    found.stop()


def deploy(srv: Server, source: str, handler: str = "app.handler", **kwargs: Any) -> str:
    files = {"app.rb": source, **kwargs.pop("files", {})}
    return runtime_helpers.deploy(srv, files, handler, RUNTIME, **kwargs)


CONTEXT_PROBE = """
require 'logger'
LOGGER = Logger.new($stdout)

def handler(event:, context:)
  puts "got #{event['hello']}"
  LOGGER.info('logged')
  {
    event: event,
    function_name: context.function_name,
    function_version: context.function_version,
    invoked_function_arn: context.invoked_function_arn,
    memory_limit_in_mb: context.memory_limit_in_mb,
    aws_request_id: context.aws_request_id,
    log_group_name: context.log_group_name,
    log_stream_name: context.log_stream_name,
    remaining: context.get_remaining_time_in_millis,
    deadline_ms: context.deadline_ms,
    identity: context.identity,
    client_context: context.client_context,
  }
end
"""


@BOTH_SANDBOXES
def test_handler_context_and_logs(servers: Servers, sandbox: str) -> None:
    srv = servers(sandbox)
    name = deploy(srv, CONTEXT_PROBE, Timeout=7)
    body, tail, out = invoke(srv, name, {"hello": "world"})
    request_id = out["ResponseMetadata"]["RequestId"]
    assert "FunctionError" not in out
    assert body["event"] == {"hello": "world"}
    assert body["function_name"] == name
    assert body["function_version"] == "$LATEST"
    assert body["invoked_function_arn"].endswith(f":function:{name}")
    assert body["memory_limit_in_mb"] == "128"  # a string, as on Lambda
    assert body["aws_request_id"] == request_id
    assert body["log_group_name"] == f"/aws/lambda/{name}"
    assert "[$LATEST]" in body["log_stream_name"]
    assert 0 < body["remaining"] <= 7000
    assert body["deadline_ms"] > time.time() * 1000
    assert body["identity"] is None and body["client_context"] is None
    lines = tail.split("\n")
    assert "got world" in lines  # puts is plain stdout, as on Lambda
    logged = rf"^I, \[\d{{4}}-\d\d-\d\dT[\d:.]+ #\d+\]  INFO {request_id} -- : logged$"
    assert any(re.match(logged, line) for line in lines), tail
    assert "Init Duration" not in invoke(srv, name)[1]  # warm


def test_class_handler_and_return_values(servers: Servers) -> None:
    srv = servers()
    source = """
module Outer
  class Inner
    def self.run(event:, context:)
      event['value']
    end
  end
end
"""
    name = deploy(srv, source, "app.Outer::Inner.run")
    for value in ("text", None, [1, {"a": True}], 2.5):
        assert invoke(srv, name, {"value": value})[0] == value


@BOTH_SANDBOXES
def test_handler_error_body_and_log(servers: Servers, sandbox: str) -> None:
    srv = servers(sandbox)
    source = """class MyError < StandardError; end

def handler(event:, context:)
  raise ArgumentError, 'bad' if event['kind'] == 'argument'
  raise MyError, 'mine'
end
"""
    name = deploy(srv, source)
    body, tail, out = invoke(srv, name, {"kind": "argument"})
    assert out["FunctionError"] == "Unhandled"
    assert list(body) == ["errorMessage", "errorType", "stackTrace"]  # AWS's order
    assert body["errorMessage"] == "bad"
    assert body["errorType"] == "Function<ArgumentError>"
    # The function's frames only: the runtime's own are cut, as on Lambda.
    assert len(body["stackTrace"]) == 1
    assert re.match(r".*/app\.rb:4:in [`'](Object#)?handler'$", body["stackTrace"][0])
    assert "Error raised from handler method\n{\n" in tail
    assert '  "errorType": "Function<ArgumentError>",' in tail
    body, _, _ = invoke(srv, name, {"kind": "mine"})
    assert (body["errorType"], body["errorMessage"]) == ("Function<MyError>", "mine")


def test_missing_method_is_critical(servers: Servers) -> None:
    srv = servers()
    name = deploy(srv, "x = 1\n", "app.nope")
    body, tail, _ = invoke(srv, name)
    assert body["errorType"] == "Function<NoMethodError>"
    assert "undefined method" in body["errorMessage"] and "nope" in body["errorMessage"]
    assert "Critical exception from handler" in tail
    # The runtime exits after a critical error; the next invoke starts a new one.
    time.sleep(0.5)
    tail = invoke(srv, name)[1]
    assert "Init Duration" in tail


@pytest.mark.parametrize(
    ("source", "handler", "error_type", "message"),
    [
        ("x = 1\n", "missing.handler", "Init<LoadError>", "cannot load such file -- missing"),
        ("def handler(event:, context:\n", "app.handler", "Init<SyntaxError>", ""),
        ("raise 'init boom'\n", "app.handler", "Init<RuntimeError>", "init boom"),
        ("x = 1\n", "app", "Init<ArgumentError>", 'Invalid handler ["app"], must be of form'),
    ],
)
def test_init_errors(
    servers: Servers, source: str, handler: str, error_type: str, message: str
) -> None:
    srv = servers()
    name = deploy(srv, source, handler)
    body, _, out = invoke(srv, name)
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == error_type
    assert body["errorMessage"].startswith(message)
    assert isinstance(body["stackTrace"], list)
    assert not any("bootstrap.rb" in frame for frame in body["stackTrace"])
    logged = function_log(srv, name, "Init error when loading handler")
    assert f'  "errorType": "{error_type}",' in logged
    assert "INIT_REPORT Status: error" in logged


ENV_PROBE = """
def handler(event:, context:)
  { env: ENV.to_h, load_path: $LOAD_PATH, cwd: Dir.pwd }
end
"""


@BOTH_SANDBOXES
def test_environment(servers: Servers, sandbox: str) -> None:
    srv = servers(sandbox)
    name = deploy(srv, ENV_PROBE)
    body, _, _ = invoke(srv, name)
    env = body["env"]
    task, opt, runtime_dir = (
        env["LAMBDA_TASK_ROOT"],
        env["FIRESIDE_OPT_ROOT"],
        env["LAMBDA_RUNTIME_DIR"],
    )
    # The AWS SDK's gems: in the runtime dir, or the SDK cache under `process`.
    sdk = runtime_dir
    if sandbox == "namespace":
        assert (task, opt, runtime_dir) == ("/var/task", "/opt", "/var/runtime")
    else:
        sdk = str(sdks.cache_root() / "ruby")
    # Lambda's values, with the runtime id's version whatever Ruby runs it.
    assert env["GEM_PATH"] == f"{task}/vendor/bundle/ruby/3.2.0:{opt}/ruby/gems/3.2.0:{sdk}"
    assert env["RUBYLIB"] == f"{task}:{runtime_dir}/lib:{opt}/ruby/lib"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_ruby3.2"
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert task in body["load_path"]
    assert body["cwd"] == task


def test_function_variables_win(servers: Servers) -> None:
    srv = servers()
    variables = {"GEM_PATH": "/my/gems", "RUBYLIB": "/my/lib"}
    name = deploy(srv, ENV_PROBE, Environment={"Variables": variables})
    env = invoke(srv, name)[0]["env"]
    assert (env["GEM_PATH"], env["RUBYLIB"]) == ("/my/gems", "/my/lib")


@BOTH_SANDBOXES
def test_libraries_from_layers_and_vendor(servers: Servers, sandbox: str) -> None:
    srv = servers(sandbox)
    layer = publish_layer(srv, "ruby-lib", {"ruby/lib/greeting.rb": "GREETING = 'from a layer'\n"})
    source = "require 'greeting'\nrequire 'helper'\n\ndef handler(event:, context:)\n  [GREETING, HELPER]\nend\n"
    name = deploy(srv, source, Layers=[layer], files={"helper.rb": "HELPER = 'from the task'\n"})
    assert invoke(srv, name)[0] == ["from a layer", "from the task"]


def test_missing_ruby_version_is_refused_at_create(server: Server) -> None:
    lam = server.client()
    present = set()
    for name in ("ruby", "ruby3.2", "ruby3.3", "ruby3.4"):
        path = shutil.which(name)
        present.add(_ruby_version(path) if path else None)
    version = next((v for v in ((3, 4), (3, 3), (3, 2)) if v not in present), None)
    if version is None:
        pytest.skip("this host runs every ruby3.x runtime")
    runtime = f"ruby{version[0]}.{version[1]}"
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as info:
        lam.create_function(
            FunctionName=f"ruby-{uuid.uuid4().hex[:8]}",
            Runtime=runtime,
            Handler="app.handler",
            Role=ROLE,
            Code={"ZipFile": make_zip({"app.rb": "def handler(event:, context:) = 1\n"})},
        )
    message = info.value.response["Error"]["Message"]
    variable = f"FIRESIDE_RUBY_{version[0]}_{version[1]}"
    assert f"needs Ruby {version[0]}.{version[1]}" in message and variable in message


def test_event_json_roundtrip(servers: Servers) -> None:
    srv = servers()
    name = deploy(srv, "def handler(event:, context:)\n  event\nend\n")
    event = {"unicode": "žluťoučký kůň", "nested": {"list": [1, 2.5, None, True]}}
    body, _, _ = invoke(srv, name, event)
    assert body == json.loads(json.dumps(event))
