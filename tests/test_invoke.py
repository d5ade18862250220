"""Invoke through boto3 against a live server: results, errors, logs, limits, concurrency."""

from __future__ import annotations

import base64
import json
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    ENV_TOKEN,
    ROLE,
    FunctionFactory,
    Server,
    make_zip,
    marked,
    processes_with,
)

ECHO = """
import os, uuid
TOKEN = uuid.uuid4().hex
def handler(event, context):
    print("got", event)
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "remaining": context.get_remaining_time_in_millis(),
        "arn": context.invoked_function_arn,
        "region": os.environ["AWS_REGION"],
        "endpoint": os.environ["AWS_ENDPOINT_URL"],
        "token": TOKEN,
    }
"""


def payload(out: dict[str, Any]) -> Any:
    return json.loads(out["Payload"].read())


@pytest.fixture()
def guest_clock_lag_ms() -> int:
    """How far the function's clock may run behind the host's (remaining time is computed
    from the host's deadline on the function's clock): none where they share the clock."""
    return 0


def test_request_response(
    lam: Any, make_function: FunctionFactory, guest_clock_lag_ms: int
) -> None:
    name = make_function(ECHO)
    out = lam.invoke(FunctionName=name, Payload=b'{"name": "x"}', LogType="Tail")
    assert out["StatusCode"] == 200
    assert out["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in out
    body = payload(out)
    assert body["event"] == {"name": "x"}
    assert body["request_id"] == out["ResponseMetadata"]["RequestId"]
    assert body["function_name"] == name
    assert body["memory"] == "128"  # a string, as in AWS's Python runtime
    assert 0 < body["remaining"] <= 3000 + guest_clock_lag_ms
    assert body["arn"].endswith(f":function:{name}")
    log = base64.b64decode(out["LogResult"]).decode()
    assert f"START RequestId: {body['request_id']} Version: $LATEST" in log
    assert "got {'name': 'x'}" in log
    assert f"END RequestId: {body['request_id']}" in log
    assert "REPORT RequestId:" in log and "Init Duration:" in log
    # A second invoke reuses the warm environment: no Init Duration.
    again = lam.invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    assert payload(again)["token"] == body["token"]
    assert "Init Duration" not in base64.b64decode(again["LogResult"]).decode()


def test_handler_error(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function("def handler(event, context):\n    raise ValueError('boom')\n")
    out = lam.invoke(FunctionName=name)
    assert out["StatusCode"] == 200
    assert out["FunctionError"] == "Unhandled"
    body = payload(out)
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "boom"
    assert any("raise ValueError('boom')" in line for line in body["stackTrace"])


@pytest.mark.parametrize(
    ("source", "handler", "error_type", "message"),
    [
        (
            "x = 1\n",
            "missing.handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'missing': No module named 'missing'",
        ),
        (
            "x = 1\n",
            "app.handler",
            "Runtime.HandlerNotFound",
            "Handler 'handler' missing on module 'app'",
        ),
        ("def handler(:\n", "app.handler", "Runtime.UserCodeSyntaxError", None),
    ],
)
def test_init_errors(
    lam: Any,
    make_function: FunctionFactory,
    source: str,
    handler: str,
    error_type: str,
    message: str | None,
) -> None:
    name = make_function(source, Handler=handler)
    out = lam.invoke(FunctionName=name)
    assert out["FunctionError"] == "Unhandled"
    body = payload(out)
    assert body["errorType"] == error_type
    if message:
        assert body["errorMessage"] == message


def test_timeout(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(
        "import time, uuid\nTOKEN = uuid.uuid4().hex\n"
        "def handler(e, c):\n    time.sleep(e.get('sleep', 0))\n    return TOKEN\n",
        Timeout=1,
    )
    before = payload(lam.invoke(FunctionName=name))
    started = time.monotonic()
    out = lam.invoke(FunctionName=name, Payload=b'{"sleep": 30}')
    assert time.monotonic() - started < 10
    assert out["FunctionError"] == "Unhandled"
    body = payload(out)
    assert body["errorType"] == "Sandbox.Timedout"
    assert body["errorMessage"].endswith("Task timed out after 1.00 seconds")
    # The environment that timed out was replaced: the next invoke works, in a new one (its
    # Init drew another token).
    after = lam.invoke(FunctionName=name)
    assert "FunctionError" not in after
    assert payload(after) != before


def test_runtime_exit(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function("import os\ndef handler(e, c):\n    os._exit(3)\n")
    out = lam.invoke(FunctionName=name)
    body = payload(out)
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ExitError"
    assert body["errorMessage"] == (
        f"RequestId: {out['ResponseMetadata']['RequestId']} Error: Runtime exited with error: exit status 3"
    )


def test_dry_run_and_event(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(ECHO)
    dry = lam.invoke(FunctionName=name, InvocationType="DryRun")
    assert dry["StatusCode"] == 204
    event = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"async": true}')
    assert event["StatusCode"] == 202


def test_event_invoke_runs(server: Server, lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(ECHO)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"marker": "evt-1"}')
    log_path = server.data_dir / "logs" / "000000000000" / "us-east-1" / f"{name}.log"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if log_path.exists() and "evt-1" in log_path.read_text():
            break
        time.sleep(0.1)
    else:
        pytest.fail("the Event invoke never ran")


def test_payload_limits(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(ECHO)
    big = b'"' + b"x" * (6 * 1024 * 1024) + b'"'
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=name, Payload=big)
    err = excinfo.value.response
    assert err["Error"]["Code"] == "RequestTooLargeException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 413
    # Over the Event limit: AWS's own code and wording, which code falling back to S3 catches.
    event = b'"' + b"x" * (1024 * 1024) + b'"'
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=name, Payload=event, InvocationType="Event")
    err = excinfo.value.response
    assert err["Error"]["Code"] == "RequestEntityTooLargeException"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 413
    assert err["Error"]["Message"] == (
        f"{len(event)} byte payload is too large for the Event invocation type "
        "(limit 1048576 bytes)"
    )
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName=name, Payload=b"{not json")
    assert excinfo.value.response["Error"]["Code"] == "InvalidRequestContentException"
    # Oversized result.
    big_out = make_function("def handler(e, c):\n    return 'x' * (7 * 1024 * 1024)\n")
    out = lam.invoke(FunctionName=big_out)
    assert out["FunctionError"] == "Unhandled"
    assert payload(out)["errorType"] == "Function.ResponseSizeTooLarge"


def test_big_print_does_not_hurt(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(
        "import sys\ndef handler(e, c):\n    sys.stdout.write('y' * (10 * 1024 * 1024))\n"
        "    print()\n    return 'ok'\n"
    )
    out = lam.invoke(FunctionName=name, LogType="Tail")
    assert payload(out) == "ok"
    assert len(base64.b64decode(out["LogResult"])) <= 4096
    assert lam.invoke(FunctionName=name)["StatusCode"] == 200


def test_unknown_function(lam: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        lam.invoke(FunctionName="does-not-exist")
    assert excinfo.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_concurrent_invokes_use_separate_environments(
    lam: Any, make_function: FunctionFactory
) -> None:
    name = make_function(ENV_TOKEN)
    with ThreadPoolExecutor(4) as pool:
        started = time.monotonic()
        pids = list(
            pool.map(
                lambda _: payload(lam.invoke(FunctionName=name, Payload=b'{"sleep": 0.5}')),
                range(4),
            )
        )
        elapsed = time.monotonic() - started
    assert len(set(pids)) == 4
    assert elapsed < 1.9  # in parallel, not one after another


def test_overload_is_throttled(fresh_server: Any) -> None:
    srv = fresh_server(FIRESIDE_MAX_ENVIRONMENTS="1")
    client = srv.client()
    client.create_function(
        FunctionName="slow",
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={
            "ZipFile": make_zip({"app.py": "import time\ndef handler(e, c):\n    time.sleep(1)\n"})
        },
    )
    client.get_waiter("function_active_v2").wait(FunctionName="slow", WaiterConfig={"Delay": 0.1})

    def call(_: int) -> str:
        try:
            client.invoke(FunctionName="slow")
            return "ok"
        except ClientError as exc:
            assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 429
            assert exc.response["Reason"] == "ConcurrentInvocationLimitExceeded"
            return exc.response["Error"]["Code"]

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(call, range(3)))
    assert results.count("ok") >= 1
    assert "TooManyRequestsException" in results


def test_health(server: Server) -> None:
    with urllib.request.urlopen(f"{server.endpoint}/_fireside/health") as response:
        health = json.loads(response.read())
    # Each service's state is its loops' state, not a constant.
    services = health["services"]
    assert set(services) == {
        "lambda",
        "dynamodb",
        "s3",
        "sts",
        "apigateway",
        "apigatewayv2",
        "events",
        "sqs",
        "scheduler",
        "sns",
        "cloudformation",
        "ssm",
        "ecr",
        "iam",
        "logs",
        "apigatewaymanagementapi",
        "elbv2",
        "kafka",
        "ec2",
    }
    assert services["lambda"]["status"] == "running"
    assert set(services["lambda"]["loops"]) == {
        "reaper",
        "async-dispatch",
        "outbox",
        "event-source-mappings",
    }
    assert all(loop["state"] == "running" for loop in services["lambda"]["loops"].values())
    assert services["dynamodb"]["loops"]["ttl-sweep"]["state"] == "running"
    assert services["scheduler"]["loops"]["firing"]["state"] == "running"
    assert services["logs"]["loops"]["retention"]["state"] == "running"
    # The default broker and the MSK clusters' state machine (`fireside.msk`).
    assert set(services["kafka"]["loops"]) == {"listener", "retention", "msk-clusters"}
    assert services["kafka"]["loops"]["msk-clusters"]["state"] == "running"
    assert health["sandbox"] in ("namespace", "gvisor", "microvm", "process")


def test_unsigned_get_of_the_root_is_dynamodbs_health_check(server: Server) -> None:
    with urllib.request.urlopen(f"{server.endpoint}/") as response:
        assert response.status == 200
        assert response.read() == b"healthy: dynamodb.us-east-1.amazonaws.com "
    # Signed, the same request is S3's ListBuckets.
    assert "Buckets" in server.client("s3").list_buckets()


def test_unknown_path_is_json_404(server: Server) -> None:
    request = urllib.request.Request(f"{server.endpoint}/nothing/here")
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        urllib.request.urlopen(request)
    assert excinfo.value.code == 404
    assert "message" in json.loads(excinfo.value.read())


ENV_DUMP = """
import os, sys
def handler(event, context):
    keys = ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_LAMBDA_RUNTIME_API",
            "AWS_EXECUTION_ENV", "AWS_LAMBDA_INITIALIZATION_TYPE", "_HANDLER", "LAMBDA_TASK_ROOT",
            "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN", "TZ", "MY_SETTING", "_X_AMZN_TRACE_ID", "FIRESIDE_SECRET_OF_SERVER"]
    return {"env": {k: os.environ.get(k) for k in keys}, "cwd": os.getcwd(), "path": sys.path[0]}
"""


def test_environment_variables(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(ENV_DUMP, MemorySize=256, Environment={"Variables": {"MY_SETTING": "on"}})
    body = payload(lam.invoke(FunctionName=name))
    env = body["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert "[$LATEST]" in env["AWS_LAMBDA_LOG_STREAM_NAME"]
    # Lambda's address; a microVM guest reaches Fireside at its gateway instead.
    assert env["AWS_LAMBDA_RUNTIME_API"].split(":")[0] in ("127.0.0.1", "10.0.2.2")
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA")  # temporary, per environment
    assert env["AWS_SECRET_ACCESS_KEY"] and env["AWS_SESSION_TOKEN"]
    assert env["AWS_SECRET_ACCESS_KEY"] != "test"  # never the caller's or the server's own
    assert env["MY_SETTING"] == "on"
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert env["FIRESIDE_SECRET_OF_SERVER"] is None  # the server's environment does not leak
    assert body["cwd"] == env["LAMBDA_TASK_ROOT"] == body["path"]


def test_update_retires_old_environments(lam: Any, make_function: FunctionFactory) -> None:
    marker = uuid.uuid4().hex
    name = make_function(
        marked(ENV_TOKEN), Environment={"Variables": {"FIRESIDE_TEST_MARKER": marker}}
    )
    first = payload(lam.invoke(FunctionName=name))
    assert len(processes_with(marker)) >= 1
    lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"FIRESIDE_TEST_MARKER": marker + "2"}}
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})
    second = payload(lam.invoke(FunctionName=name))
    assert second != first
    deadline = time.monotonic() + 5
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert processes_with(marker) == []
    assert processes_with(marker + "2")


def test_idle_environments_are_reaped(fresh_server: Any) -> None:
    srv = fresh_server(FIRESIDE_IDLE_TIMEOUT="1")
    client = srv.client()
    marker = uuid.uuid4().hex
    client.create_function(
        FunctionName="idle",
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": make_zip({"app.py": marked(ENV_TOKEN)})},
        Environment={"Variables": {"FIRESIDE_TEST_MARKER": marker}},
    )
    client.get_waiter("function_active_v2").wait(FunctionName="idle", WaiterConfig={"Delay": 0.1})
    token = payload(client.invoke(FunctionName="idle"))
    assert processes_with(marker)
    deadline = time.monotonic() + 10
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with(marker) == []
    with urllib.request.urlopen(f"{srv.endpoint}/_fireside/health") as response:
        assert json.loads(response.read())["environments"]["environments"] == 0
    assert payload(client.invoke(FunctionName="idle")) != token  # a cold start brings a new one


def test_many_concurrent_cold_starts(lam: Any, make_function: FunctionFactory) -> None:
    names = [make_function(ENV_TOKEN) for _ in range(12)]
    with ThreadPoolExecutor(12) as pool:
        results = list(pool.map(lambda name: lam.invoke(FunctionName=name), names))
    errors = [json.loads(r["Payload"].read()) for r in results if "FunctionError" in r]
    assert errors == []
