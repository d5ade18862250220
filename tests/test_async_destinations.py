"""Asynchronous invocation as configured: retries counted exactly, event age, reserved concurrency
0, and invocation records delivered to Lambda function destinations in AWS's format.

The session server retries after 0.2 s; tests that need the event age to run out use a server
of their own whose retries come later than the model's smallest MaximumEventAgeInSeconds (60 s),
so an event fails as too old at once, as AWS's own test of that case shows.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROLE, FunctionFactory, Server, python_zip

ARN = "arn:aws:lambda:us-east-1:000000000000:function:"
SINK = "import json\ndef handler(e, c):\n    print('RECORD ' + json.dumps(e))\n"
FLAKY = """
import time
def handler(e, c):
    print('ATTEMPT', c.aws_request_id, flush=True)
    time.sleep(e.get('sleep', 0))
    if e.get('fail'):
        raise ValueError('failing on purpose')
    return {'echo': e, 'version': c.function_version}
"""
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def log_lines(server: Server, function: str, marker: str) -> list[str]:
    path = Path(server.data_dir, "logs", "000000000000", "us-east-1", f"{function}.log")
    if not path.exists():
        return []
    return [line.split(marker, 1)[1] for line in path.read_text().splitlines() if marker in line]


def attempts(server: Server, function: str, request_id: str) -> int:
    return log_lines(server, function, "\tATTEMPT ").count(request_id)


def record(server: Server, sink: str, request_id: str, timeout: float = 30) -> dict[str, Any]:
    """The one invocation record for `request_id` that `sink` received (waits for it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [
            r
            for r in map(json.loads, log_lines(server, sink, "\tRECORD "))
            if r["requestContext"]["requestId"] == request_id
        ]
        if found:
            assert len(found) == 1, found
            got = found[0]
            assert TIMESTAMP.match(got.pop("timestamp")), got
            return got
        time.sleep(0.1)
    pytest.fail(f"no record for {request_id} reached {sink}")


def send(lam: Any, name: str, payload: dict[str, Any], qualifier: str | None = None) -> str:
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    out = lam.invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps(payload).encode(), **kwargs
    )
    assert out["StatusCode"] == 202
    request_id: str = out["ResponseMetadata"]["RequestId"]
    return request_id


def to(on_success: str | None = None, on_failure: str | None = None) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if on_success:
        config["OnSuccess"] = {"Destination": ARN + on_success}
    if on_failure:
        config["OnFailure"] = {"Destination": ARN + on_failure}
    return config


def test_success_record(server: Server, lam: Any, make_function: FunctionFactory) -> None:
    name, sink = make_function(FLAKY), make_function(SINK)
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig=to(sink, sink))
    request_id = send(lam, name, {"n": 1})
    assert record(server, sink, request_id) == {
        "version": "1.0",
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{ARN}{name}:$LATEST",
            "condition": "Success",
            "approximateInvokeCount": 1,
        },
        "requestPayload": {"n": 1},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
        "responsePayload": {"echo": {"n": 1}, "version": "$LATEST"},
    }
    assert attempts(server, name, request_id) == 1


def test_retries_counted_per_qualifier(
    server: Server, lam: Any, make_function: FunctionFactory
) -> None:
    """$LATEST keeps the default (2 retries: 3 runs); version 1 allows none; alias `one`
    (pointing at version 1) allows one. Each record names what was invoked and what ran."""
    name, sink = make_function(FLAKY), make_function(SINK)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="one", FunctionVersion="1")
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig=to(None, sink))
    for qualifier, retries in (("1", 0), ("one", 1)):
        lam.put_function_event_invoke_config(
            FunctionName=name,
            Qualifier=qualifier,
            MaximumRetryAttempts=retries,
            DestinationConfig=to(None, sink),
        )
    sent = {q: send(lam, name, {"fail": True, "q": q}, q) for q in ("$LATEST", "1", "one")}
    for qualifier, runs, version in (("$LATEST", 3, "$LATEST"), ("1", 1, "1"), ("one", 2, "1")):
        got = record(server, sink, sent[qualifier])
        response = got.pop("responsePayload")
        assert got == {
            "version": "1.0",
            "requestContext": {
                "requestId": sent[qualifier],
                "functionArn": f"{ARN}{name}:{qualifier}",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": runs,
            },
            "requestPayload": {"fail": True, "q": qualifier},
            "responseContext": {
                "statusCode": 200,
                "executedVersion": version,
                "functionError": "Unhandled",
            },
        }
        assert response["errorType"] == "ValueError"
        assert response["errorMessage"] == "failing on purpose"
        assert attempts(server, name, sent[qualifier]) == runs
    time.sleep(0.6)  # three retry delays: nothing more runs once the record is out
    assert [attempts(server, name, sent[q]) for q in ("$LATEST", "1", "one")] == [3, 1, 2]


def test_failure_without_destination_is_retried_then_dropped(
    server: Server, lam: Any, make_function: FunctionFactory
) -> None:
    name = make_function(FLAKY)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=1)
    request_id = send(lam, name, {"fail": True})
    deadline = time.monotonic() + 20
    while attempts(server, name, request_id) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.6)
    assert attempts(server, name, request_id) == 2


def test_zero_reserved_concurrency(
    server: Server, lam: Any, make_function: FunctionFactory
) -> None:
    """Reserved concurrency 0: the event fails at once without running (AWS's record for it
    has no response)."""
    name, sink = make_function(FLAKY), make_function(SINK)
    lam.put_function_event_invoke_config(FunctionName=name, DestinationConfig=to(sink, sink))
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    request_id = send(lam, name, {"n": 0})
    assert record(server, sink, request_id) == {
        "version": "1.0",
        "requestContext": {
            "requestId": request_id,
            "functionArn": f"{ARN}{name}:$LATEST",
            "condition": "ZeroReservedConcurrency",
            "approximateInvokeCount": 0,
        },
        "requestPayload": {"n": 0},
    }
    assert attempts(server, name, request_id) == 0


def create(lam: Any, name: str, source: str, **kwargs: Any) -> None:
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(source)},
        **kwargs,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})


def busy_environments(server: Server) -> int:
    with urllib.request.urlopen(f"{server.endpoint}/_fireside/health") as response:
        busy: int = json.loads(response.read())["environments"]["busy"]
    return busy


def test_event_age_exceeded(fresh_server: Callable[..., Server]) -> None:
    # Retries come after 90 s, later than any event's 60 s; events of functions without
    # MaximumEventAgeInSeconds may wait 2 s (FIRESIDE_MAX_EVENT_AGE).
    srv = fresh_server(FIRESIDE_ASYNC_RETRY_DELAYS="90,90", FIRESIDE_MAX_EVENT_AGE="2")
    lam = srv.client()
    create(lam, "sink", SINK)
    create(lam, "failing", FLAKY)
    create(lam, "busy", FLAKY, Timeout=10)
    lam.put_function_event_invoke_config(
        FunctionName="failing",
        MaximumRetryAttempts=2,
        MaximumEventAgeInSeconds=60,
        DestinationConfig=to(None, "sink"),
    )
    lam.put_function_event_invoke_config(FunctionName="busy", DestinationConfig=to(None, "sink"))
    lam.put_function_concurrency(FunctionName="busy", ReservedConcurrentExecutions=1)
    # `busy` runs a 3.5 s invoke: an Event invoke of it is throttled until it is too old.
    holder = threading.Thread(
        target=lambda: lam.invoke(FunctionName="busy", Payload=b'{"sleep": 3.5}'), daemon=True
    )
    holder.start()
    deadline = time.monotonic() + 10
    while busy_environments(srv) == 0:  # until it runs (and holds the one unit)
        assert time.monotonic() < deadline
        time.sleep(0.05)
    throttled = send(lam, "busy", {"waited": True})
    failed = send(lam, "failing", {"fail": True})
    started = time.monotonic()

    too_old = record(srv, "sink", failed)
    assert time.monotonic() - started < 10  # not after the 90 s retry delay
    response = too_old.pop("responsePayload")
    assert response["errorMessage"] == "failing on purpose"
    assert too_old == {
        "version": "1.0",
        "requestContext": {
            "requestId": failed,
            "functionArn": f"{ARN}failing:$LATEST",
            "condition": "EventAgeExceeded",
            "approximateInvokeCount": 1,
        },
        "requestPayload": {"fail": True},
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
    }
    assert attempts(srv, "failing", failed) == 1
    # Throttled all its life: it never ran, so its record has no response.
    assert record(srv, "sink", throttled) == {
        "version": "1.0",
        "requestContext": {
            "requestId": throttled,
            "functionArn": f"{ARN}busy:$LATEST",
            "condition": "EventAgeExceeded",
            "approximateInvokeCount": 0,
        },
        "requestPayload": {"waited": True},
    }
    assert attempts(srv, "busy", throttled) == 0
    holder.join(10)
