"""Asynchronous invocation as configured: retries counted exactly, event age, reserved concurrency
0, and invocation records delivered in AWS's format to Lambda function destinations and to S3
bucket (OnFailure) destinations, under the object key AWS documents.

The session server retries after 0.2 s; tests that need the event age to run out use a server
of their own whose retries come later than the model's smallest MaximumEventAgeInSeconds (60 s),
so an event fails as too old at once, as AWS's own test of that case shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fireside.aws.errors import ServiceError
from fireside.compute.async_queue import AsyncPolicy, AsyncQueue, Delivery, QueuedEvent
from fireside.compute.destinations import BucketTarget
from fireside.compute.invocation import Outcome
from fireside.outbox import Outbox
from fireside.s3.targets import BucketTargets
from fireside.store.database import Database
from fireside.targets import Targets
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

    too_old = record(srv, "sink", failed, timeout=45)
    # Well before the 90 s retry delay (not a speed check: loaded CI hosts took 13 s)
    assert time.monotonic() - started < 45
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


# -- S3 bucket destinations (OnFailure only) ---------------------------------------------------
RECORD_KEY = (
    r"aws/lambda/async/{name}/(\d{{4}})/(\d\d)/(\d\d)/\1-\2-\3T\d\d\.\d\d\.\d\d-[0-9a-f-]{{36}}"
)


@pytest.fixture()
def records_bucket(server: Server) -> Iterator[tuple[Any, str]]:
    s3 = server.client("s3")
    name = f"records-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield s3, name
    for entry in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=entry["Key"])
    s3.delete_bucket(Bucket=name)


def stored_records(s3: Any, bucket: str, function: str, count: int) -> list[dict[str, Any]]:
    """The first `count` objects under the function's prefix (waits for them)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        listed = s3.list_objects_v2(Bucket=bucket, Prefix=f"aws/lambda/async/{function}/")
        entries = listed.get("Contents", [])
        if len(entries) >= count:
            return [
                {"Key": e["Key"], **s3.get_object(Bucket=bucket, Key=e["Key"])} for e in entries
            ]
        time.sleep(0.1)
    pytest.fail(f"fewer than {count} records of {function} reached s3://{bucket}")


def test_failure_record_stored_in_s3_bucket(
    server: Server, lam: Any, make_function: FunctionFactory, records_bucket: tuple[Any, str]
) -> None:
    s3, bucket = records_bucket
    name = make_function(FLAKY)
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:s3:::{bucket}"}},
    )
    failed = send(lam, name, {"fail": True})
    succeeded = send(lam, name, {"n": 1})  # no OnSuccess: nothing stored for it
    (stored,) = stored_records(s3, bucket, name, 1)
    assert re.fullmatch(RECORD_KEY.format(name=name), stored["Key"]), stored["Key"]
    assert stored["ContentType"] == "application/json"
    got = json.loads(stored["Body"].read())
    assert TIMESTAMP.match(got.pop("timestamp"))
    response = got.pop("responsePayload")
    assert response["errorMessage"] == "failing on purpose"
    assert got == {
        "version": "1.0",
        "requestContext": {
            "requestId": failed,
            "functionArn": f"{ARN}{name}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 2,
        },
        "requestPayload": {"fail": True},
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
    }
    deadline = time.monotonic() + 20
    while attempts(server, name, succeeded) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.5)
    assert len(stored_records(s3, bucket, name, 1)) == 1


def test_s3_records_survive_a_crash_and_transient_failures(tmp_path: Path) -> None:
    """A failed event's record is on disk in the transaction that drops the event; a new
    server (a reopened database) stores it; a failed put is retried, a missing bucket drops
    the record (as a failed delivery does on AWS)."""
    db = Database(tmp_path / "fireside.sqlite")
    outbox = Outbox(db, Targets())
    queue = AsyncQueue(db, retry_delays=(0.0,), max_event_age=60, concurrency=1, outbox=outbox)
    bucket = BucketTarget("records")
    missing = BucketTarget("gone")
    chosen = {"fn": bucket, "other": missing}

    async def failing(event: QueuedEvent) -> Delivery:
        return Delivery(Outcome(b'{"errorMessage": "no"}', "Unhandled"), "$LATEST")

    def policy(event: QueuedEvent) -> AsyncPolicy:
        return AsyncPolicy(max_retries=0, on_failure=chosen[event.function])

    async def run_queue() -> None:
        task = asyncio.create_task(queue.run(failing, policy))
        deadline = time.monotonic() + 10
        while queue.pending():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    queue.enqueue("000000000000", "us-east-1", "fn", "$LATEST", "req-1", b'{"a": 1}')
    queue.enqueue("000000000000", "us-east-1", "other", "$LATEST", "req-2", b"{}")
    asyncio.run(run_queue())  # events done; their records are queued, never put (a crash)
    assert outbox.pending() == 2
    db.close()

    reopened = Database(tmp_path / "fireside.sqlite")
    stored: dict[tuple[str, str], bytes] = {}
    calls: list[str] = []

    class Writer:
        def put_object_as(
            self, account: str, bucket: str, key: str, data: bytes, content_type: str
        ) -> None:
            calls.append(bucket)
            if bucket == "gone":
                raise ServiceError("NoSuchBucket", "The specified bucket does not exist", 404)
            if calls.count(bucket) == 1:
                raise OSError("disk full")  # the first put fails: retried after 1 s
            assert (account, content_type) == ("000000000000", "application/json")
            stored[(bucket, key)] = data

    targets = Targets()
    targets.register("s3", BucketTargets(Writer()))  # type: ignore[arg-type]
    outbox = Outbox(reopened, targets)

    async def run_outbox() -> None:
        task = asyncio.create_task(outbox.run())
        deadline = time.monotonic() + 10
        while outbox.pending():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(run_outbox())
    reopened.close()
    assert sorted(calls) == ["gone", "records", "records"]
    ((where, key), data) = next(iter(stored.items()))
    assert where == "records" and re.fullmatch(RECORD_KEY.format(name="fn"), key), key
    record = json.loads(data)
    assert record["requestContext"]["requestId"] == "req-1"
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestPayload"] == {"a": 1}
