"""Tests for Fireside's Python runtime (``fireside/runtimes/python/bootstrap.py``).

Each test writes a function into a temporary task root, starts a fake Runtime API (a threaded
stdlib HTTP/1.1 server that serves queued events and records what the runtime posts back), and
runs the bootstrap exactly as an execution environment does: ``python -S -u -B bootstrap.py``.
When the queue runs dry the fake answers ``/next`` with 500, which must make the runtime exit.
"""

from __future__ import annotations

import json
import os
import queue
import re
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fireside.runtimes.python import BOOTSTRAP_PATH

# Lets the suite be run against another interpreter (e.g. python3.9) by hand.
PYTHON = os.environ.get("FIRESIDE_TEST_PYTHON", sys.executable)
ARN = "arn:aws:lambda:us-east-1:000000000000:function:my-function"
NEXT = "/2018-06-01/runtime/invocation/next"
INVOCATION = re.compile(r"^/2018-06-01/runtime/invocation/([^/]+)/(response|error)$")
LOG_LINE = re.compile(r"^\[(\w+)\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t([^\t]*)\t(.*)$")


@dataclass
class Event:
    request_id: str
    body: bytes = b"{}"
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False


@dataclass
class Post:
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        data: dict[str, object] = json.loads(self.body)
        return data


@dataclass
class FakeRuntimeAPI:
    events: list[Event]
    close_after_post: bool = False
    queue: queue.Queue[Event | None] = field(default_factory=queue.Queue)
    responses: dict[str, Post] = field(default_factory=dict)
    errors: dict[str, Post] = field(default_factory=dict)
    init_errors: list[Post] = field(default_factory=list)
    next_times: list[float] = field(default_factory=list)
    connections: set[tuple[str, int]] = field(default_factory=set)

    def __post_init__(self) -> None:
        for event in self.events:
            self.queue.put(event)
        self.queue.put(None)  # then 500: the runtime must exit


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: FakeRuntimeAPI


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(
        self, status: int, body: bytes, headers: dict[str, str], chunked: bool = False
    ) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            half = len(body) // 2
            for part in (body[:half], body[half:]):
                if part:
                    self.wfile.write(b"%x;ext=1\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\nX-Trailer: yes\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def do_GET(self) -> None:
        api = self.server.api
        api.connections.add(self.client_address[:2])
        if self.path != NEXT:
            self._reply(404, b"{}", {})
            return
        api.next_times.append(time.perf_counter())
        event = api.queue.get()
        if event is None:
            self._reply(500, b'{"errorType":"Fake.Shutdown"}', {"Content-Type": "application/json"})
            return
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": event.request_id,
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30_000),
            "Lambda-Runtime-Invoked-Function-Arn": ARN,
            **event.headers,
        }
        self._reply(200, event.body, headers, event.chunked)

    def do_POST(self) -> None:
        api = self.server.api
        api.connections.add(self.client_address[:2])
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        post = Post({name.lower(): value for name, value in self.headers.items()}, body)
        match = INVOCATION.match(self.path)
        if self.path == "/2018-06-01/runtime/init/error":
            api.init_errors.append(post)
        elif match and match[2] == "response":
            api.responses[match[1]] = post
        elif match:
            api.errors[match[1]] = post
        else:
            self._reply(404, b"{}", {})
            return
        self._reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})
        if api.close_after_post:
            # Drop the kept-alive connection without saying so: the runtime must reconnect.
            self.close_connection = True


@dataclass
class Run:
    api: FakeRuntimeAPI
    returncode: int
    stdout: str
    stderr: str
    started: float


def run_function(
    tmp_path: Path,
    files: dict[str, str],
    events: list[Event],
    *,
    handler: str = "app.handler",
    env: dict[str, str] | None = None,
    close_after_post: bool = False,
) -> Run:
    task = tmp_path / "task"
    task.mkdir()
    for name, source in files.items():
        path = task / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    api = FakeRuntimeAPI(events, close_after_post)
    server = _Server(("127.0.0.1", 0), _Handler)
    server.api = api
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    process_env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(task),
        "FIRESIDE_OPT_ROOT": str(tmp_path / "opt"),
        "AWS_LAMBDA_FUNCTION_NAME": "my-function",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/my-function",
        "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]0123456789abcdef",
        **(env or {}),
    }
    started = time.perf_counter()
    try:
        proc = subprocess.run(
            [PYTHON, "-S", "-u", "-B", str(BOOTSTRAP_PATH)],
            env=process_env,
            cwd=task,
            capture_output=True,
            timeout=60,
            check=False,
        )
    finally:
        server.shutdown()
        server.server_close()
    return Run(api, proc.returncode, proc.stdout.decode(), proc.stderr.decode(), started)


ECHO = """
    import os, sys

    def handler(event, context):
        return {
            "event": event,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "aws_request_id": context.aws_request_id,
            "invoked_function_arn": context.invoked_function_arn,
            "remaining": context.get_remaining_time_in_millis(),
            "identity": [context.identity.cognito_identity_id,
                         context.identity.cognito_identity_pool_id],
            "client_context": None if context.client_context is None else [
                context.client_context.custom, context.client_context.env,
                context.client_context.client.app_title],
            "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
            "sys_path": sys.path,
            "context_type": type(context).__name__,
        }
"""


def test_success_result_and_context(tmp_path: Path) -> None:
    client_context = {"custom": {"k": "v"}, "env": {"platform": "x"}, "client": {"app_title": "t"}}
    identity = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
    event = Event(
        "req-1",
        b'{"hello": "world", "n": [1, 2.5, null]}',
        {
            "Lambda-Runtime-Trace-Id": "Root=1-abc;Parent=def;Sampled=1",
            "Lambda-Runtime-Client-Context": json.dumps(client_context),
            "Lambda-Runtime-Cognito-Identity": json.dumps(identity),
        },
    )
    run = run_function(tmp_path, {"app.py": ECHO}, [event, Event("req-2")])

    assert run.returncode == 1, run.stderr
    assert "HTTP 500" in run.stderr
    post = run.api.responses["req-1"]
    assert post.headers["content-type"] == "application/json"
    result = post.json()
    assert result["event"] == {"hello": "world", "n": [1, 2.5, None]}
    assert result["function_name"] == "my-function"
    assert result["function_version"] == "$LATEST"
    assert result["memory_limit_in_mb"] == "256"
    assert result["log_group_name"] == "/aws/lambda/my-function"
    assert result["log_stream_name"] == "2024/01/01/[$LATEST]0123456789abcdef"
    assert result["aws_request_id"] == "req-1"
    assert result["invoked_function_arn"] == ARN
    assert isinstance(result["remaining"], int)
    assert 0 < result["remaining"] <= 30_000
    assert result["identity"] == ["id-1", "pool-1"]
    assert result["client_context"] == [{"k": "v"}, {"platform": "x"}, "t"]
    assert result["trace_id"] == "Root=1-abc;Parent=def;Sampled=1"
    assert result["context_type"] == "LambdaContext"

    second = run.api.responses["req-2"].json()
    assert second["identity"] == [None, None]
    assert second["client_context"] is None
    assert second["trace_id"] is None  # cleared when an invocation carries none
    assert run.api.errors == {}


def test_sys_path_layout(tmp_path: Path) -> None:
    opt = tmp_path / "opt"
    (opt / "python").mkdir(parents=True)
    (opt / "python" / "layer_mod.py").write_text("VALUE = 'layer'\n")
    runtime_dir = tmp_path / "runtime"
    runtime_dir.mkdir()
    (runtime_dir / "runtime_mod.py").write_text("VALUE = 'runtime'\n")
    code = """
        import sys, layer_mod, runtime_mod

        def handler(event, context):
            version = "python%d.%d" % sys.version_info[:2]
            return {"path": sys.path, "version": version, "values": [layer_mod.VALUE, runtime_mod.VALUE]}
    """
    env = {"FIRESIDE_RUNTIME_PATH": os.pathsep.join([str(runtime_dir), "/nonexistent"])}
    run = run_function(tmp_path, {"app.py": code}, [Event("r")], env=env)

    result = run.api.responses["r"].json()
    assert result["values"] == ["layer", "runtime"]
    path = result["path"]
    assert isinstance(path, list)
    assert path[0] == str(tmp_path / "task")
    assert path[1] == f"{opt}/python/lib/{result['version']}/site-packages"
    assert path[2] == f"{opt}/python"
    # Then the SDK's directories, and last the runtime's own (Lambda's /var/runtime), which
    # holds `snapshot_restore_py`; it is no longer first, as Python put it.
    assert path[-3:] == [str(runtime_dir), "/nonexistent", str(BOOTSTRAP_PATH.parent)]
    assert not any("site-packages" in p for p in path[3:-2])  # no interpreter site-packages


def test_handler_exception(tmp_path: Path) -> None:
    code = """
        def handler(event, context):
            raise ValueError("boom")
    """
    run = run_function(tmp_path, {"app.py": code}, [Event("req-err")])

    post = run.api.errors["req-err"]
    assert post.headers["lambda-runtime-function-error-type"] == "Unhandled"
    assert post.headers["content-type"] == "application/json"
    app = tmp_path / "task" / "app.py"
    assert post.json() == {
        "errorMessage": "boom",
        "errorType": "ValueError",
        "requestId": "req-err",
        "stackTrace": [f'  File "{app}", line 3, in handler\n    raise ValueError("boom")\n'],
    }
    nbsp = "\u00a0"
    expected = (
        "[ERROR] ValueError: boom\rTraceback (most recent call last):\r"
        f'{nbsp * 2}File "{app}", line 3, in handler\r{nbsp * 4}raise ValueError("boom")\n'
    )
    assert expected in run.stdout
    assert run.api.responses == {}


def test_nested_traceback_excludes_runtime_frames(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/helpers.py": """
            def fail():
                return {}["missing"]
        """,
        "pkg/app.py": """
            from pkg.helpers import fail

            def handler(event, context):
                return fail()
        """,
    }
    run = run_function(tmp_path, files, [Event("r")], handler="pkg/app.handler")

    error = run.api.errors["r"].json()
    assert error["errorType"] == "KeyError"
    assert error["errorMessage"] == "'missing'"
    trace = error["stackTrace"]
    assert isinstance(trace, list)
    assert len(trace) == 2
    assert trace[0].endswith('app.py", line 5, in handler\n    return fail()\n')
    assert trace[1].endswith('helpers.py", line 3, in fail\n    return {}["missing"]\n')


def test_marshal_and_unmarshal_errors(tmp_path: Path) -> None:
    code = """
        def handler(event, context):
            return {1, 2}
    """
    events = [Event("bad-result"), Event("bad-event", b"{not json")]
    run = run_function(tmp_path, {"app.py": code}, events)

    error = run.api.errors["bad-result"]
    assert error.headers["lambda-runtime-function-error-type"] == "Runtime.MarshalError"
    assert error.json() == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": "bad-result",
        "stackTrace": [],
    }
    error = run.api.errors["bad-event"]
    body = error.json()
    assert body["errorType"] == "Runtime.UnmarshalError"
    assert body["errorMessage"] == (
        "Unable to unmarshal input: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)"
    )
    assert body["requestId"] == "bad-event"
    assert "[ERROR] Runtime.MarshalError: Unable to marshal response" in run.stdout


def test_special_results(tmp_path: Path) -> None:
    code = """
        import decimal

        def handler(event, context):
            if event == "bytes":
                return b"\\x00raw"
            if event == "decimal":
                return {"int": decimal.Decimal("5"), "frac": decimal.Decimal("1.5")}
            return event
    """
    events = [Event("b", b'"bytes"'), Event("d", b'"decimal"'), Event("u", '"héllo ☃"'.encode())]
    run = run_function(tmp_path, {"app.py": code}, events)

    assert run.api.responses["b"].body == b"\x00raw"
    assert run.api.responses["b"].headers["content-type"] == "application/unknown"
    assert run.api.responses["d"].json() == {"int": 5, "frac": 1.5}
    assert json.loads(run.api.responses["u"].body) == "héllo ☃"


INIT_ERRORS = [
    pytest.param(
        {"app.py": "def handler(e, c): pass\n"},
        "app",
        "Runtime.MalformedHandlerName",
        "Bad handler 'app': not enough values to unpack (expected 2, got 1)",
        id="malformed",
    ),
    pytest.param(
        {},
        "app.handler",
        "Runtime.ImportModuleError",
        "Unable to import module 'app': No module named 'app'",
        id="missing-module",
    ),
    pytest.param(
        {"app.py": "import no_such_dependency\n"},
        "app.handler",
        "Runtime.ImportModuleError",
        "Unable to import module 'app': No module named 'no_such_dependency'",
        id="missing-dependency",
    ),
    pytest.param(
        {"app.py": "def handler(event, context):\n    return 1\nx = = 1\n"},
        "app.handler",
        "Runtime.UserCodeSyntaxError",
        "Syntax error in module 'app': invalid syntax (app.py, line 3)",
        id="syntax",
    ),
    pytest.param(
        {"app.py": "def other(event, context):\n    return 1\n"},
        "app.handler",
        "Runtime.HandlerNotFound",
        "Handler 'handler' missing on module 'app'",
        id="handler-not-found",
    ),
    pytest.param(
        {"app.py": "import os\nraise RuntimeError('no config')\n"},
        "app.handler",
        "RuntimeError",
        "no config",
        id="exception",
    ),
    pytest.param(
        {"app.py": "def handler(e, c): pass\n"},
        "sys.handler",
        "Runtime.BuiltInModuleConflict",
        "Cannot use built-in module sys as a handler module",
        id="builtin",
    ),
]


@pytest.mark.parametrize(("files", "handler", "error_type", "message"), INIT_ERRORS)
def test_init_errors(
    tmp_path: Path, files: dict[str, str], handler: str, error_type: str, message: str
) -> None:
    run = run_function(tmp_path, files, [Event("never")], handler=handler)

    assert run.returncode == 1
    assert run.api.next_times == []  # never asked for work
    assert len(run.api.init_errors) == 1
    post = run.api.init_errors[0]
    assert post.headers["lambda-runtime-function-error-type"] == error_type
    body = post.json()
    assert body["errorType"] == error_type
    assert body["errorMessage"] == message
    assert body["requestId"] == ""
    trace = body["stackTrace"]
    assert isinstance(trace, list)
    app = tmp_path / "task" / "app.py"
    if error_type == "RuntimeError":
        assert trace[-1] == (
            f"  File \"{app}\", line 2, in <module>\n    raise RuntimeError('no config')\n"
        )
        assert not any("/bootstrap.py" in entry for entry in trace)
    elif error_type == "Runtime.UserCodeSyntaxError":
        assert trace == [f'  File "{app}" Line 3\n    x = = 1\n']
    else:
        assert trace == []
    assert f"[ERROR] {error_type}: {message}\rTraceback (most recent call last):" in run.stdout
    assert "LAMBDA_WARNING: Unhandled exception." in run.stdout


LOGGING = """
    import logging

    logger = logging.getLogger()
    child = logging.getLogger("app.child")

    def handler(event, context):
        print("printed", event)
        logger.debug("debug message")
        logger.info("info message")
        logger.warning("warning %s", "message")
        child.error("child error")
        return "ok"
"""


def test_logging_format_and_print(tmp_path: Path) -> None:
    run = run_function(tmp_path, {"app.py": LOGGING}, [Event("log-1", b"1"), Event("log-2", b"2")])

    lines = run.stdout.splitlines()
    assert "printed 1" in lines
    assert "printed 2" in lines
    records = [m.groups() for m in map(LOG_LINE.match, lines) if m]
    assert records == [
        ("WARNING", "log-1", "warning message"),
        ("ERROR", "log-1", "child error"),
        ("WARNING", "log-2", "warning message"),
        ("ERROR", "log-2", "child error"),
    ]
    # Timestamps are UTC.
    stamp = next(line for line in lines if line.startswith("[WARNING]")).split("\t")[1]
    assert stamp[:10] == time.strftime("%Y-%m-%d", time.gmtime())


def test_log_level_from_environment(tmp_path: Path) -> None:
    run = run_function(
        tmp_path, {"app.py": LOGGING}, [Event("r")], env={"AWS_LAMBDA_LOG_LEVEL": "debug"}
    )

    levels = [m[1] for m in map(LOG_LINE.match, run.stdout.splitlines()) if m]
    assert levels == ["DEBUG", "INFO", "WARNING", "ERROR"]


COUNTER = """
    import os

    count = 0

    def handler(event, context):
        global count
        count += 1
        return {"count": count, "pid": os.getpid(), "event": event}
"""


@pytest.mark.parametrize("close_after_post", [False, True], ids=["keep-alive", "reconnect"])
def test_sequential_invokes(tmp_path: Path, close_after_post: bool) -> None:
    events = [Event(f"seq-{i}", json.dumps({"i": i}).encode()) for i in range(5)]
    events.append(
        Event("chunked", b'{"chunked": true, "pad": "' + b"x" * 5000 + b'"}', chunked=True)
    )
    run = run_function(tmp_path, {"app.py": COUNTER}, events, close_after_post=close_after_post)

    assert run.returncode == 1
    results = [run.api.responses[event.request_id].json() for event in events]
    assert [r["count"] for r in results] == [1, 2, 3, 4, 5, 6]
    assert len({r["pid"] for r in results}) == 1
    assert [r["event"] for r in results[:5]] == [{"i": i} for i in range(5)]
    assert results[5]["event"] == {"chunked": True, "pad": "x" * 5000}
    if close_after_post:
        assert len(run.api.connections) > 1
    else:
        assert len(run.api.connections) == 1  # one kept-alive connection for everything


def test_exits_when_runtime_api_is_unreachable(tmp_path: Path) -> None:
    code = "def handler(event, context):\n    return 1\n"
    (tmp_path / "task").mkdir()
    (tmp_path / "task" / "app.py").write_text(code)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:1",
        "_HANDLER": "app.handler",
        "LAMBDA_TASK_ROOT": str(tmp_path / "task"),
    }
    proc = subprocess.run(
        [PYTHON, "-S", "-u", "-B", str(BOOTSTRAP_PATH)],
        env=env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 1
    assert b"/next failed" in proc.stderr
