"""Lambda event-source mappings from DynamoDB streams, with boto3 against a live server: the
`aws:dynamodb` records in commit order, LATEST and TRIM_HORIZON, retries that end in the
on-failure destination, checkpoints that survive `kill -9`, and the API's checks."""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, python_zip

PROJECTOR = """
import json, os, boto3
sqs = boto3.client("sqs")
def handler(event, context):
    for record in event["Records"]:
        if record["dynamodb"]["Keys"]["id"]["S"].startswith("bad"):
            raise ValueError("bad record")
        sqs.send_message(QueueUrl=os.environ["OUT"], MessageBody=json.dumps(record))
"""


def _queue(sqs: Any) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def _table(dynamodb: Any) -> tuple[str, str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    table = dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )["TableDescription"]
    return name, table["LatestStreamArn"]


def _function(lam: Any, out_url: str) -> str:
    name = f"p-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(PROJECTOR)},
        Environment={"Variables": {"OUT": out_url}},
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    return name


def _drain(sqs: Any, url: str, count: int, seconds: float = 60) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while len(found) < count:
        assert time.monotonic() < deadline, f"{len(found)} of {count} arrived: {found}"
        for message in sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2
        ).get("Messages", []):
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def _enabled(lam: Any, mapping: str) -> None:
    deadline = time.monotonic() + 30
    while lam.get_event_source_mapping(UUID=mapping)["State"] != "Enabled":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def _put(dynamodb: Any, table: str, key: str, **extra: str) -> None:
    item = {"id": {"S": key}, **{k: {"S": v} for k, v in extra.items()}}
    dynamodb.put_item(TableName=table, Item=item)


def test_a_stream_feeds_its_projection_in_order(server: Server) -> None:
    lam, sqs, dynamodb = server.client(), server.client("sqs"), server.client("dynamodb")
    out_url, _ = _queue(sqs)
    table, stream = _table(dynamodb)
    name = _function(lam, out_url)
    _put(dynamodb, table, "early")  # before the mapping: TRIM_HORIZON still sees it
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream, FunctionName=name, StartingPosition="TRIM_HORIZON", BatchSize=2
    )
    assert mapping["State"] == "Creating" and mapping["StartingPosition"] == "TRIM_HORIZON"
    assert mapping["MaximumRetryAttempts"] == -1 and mapping["BisectBatchOnFunctionError"] is False
    _enabled(lam, mapping["UUID"])
    _put(dynamodb, table, "a", v="1")
    _put(dynamodb, table, "b", v="1")
    _put(dynamodb, table, "a", v="2")
    dynamodb.delete_item(TableName=table, Key={"id": {"S": "b"}})
    got = _drain(sqs, out_url, 5)
    assert [(r["eventName"], r["dynamodb"]["Keys"]["id"]["S"]) for r in got] == [
        ("INSERT", "early"),
        ("INSERT", "a"),
        ("INSERT", "b"),
        ("MODIFY", "a"),
        ("REMOVE", "b"),
    ]
    modify = got[3]
    assert modify["eventSource"] == "aws:dynamodb" and modify["eventSourceARN"] == stream
    assert modify["dynamodb"]["OldImage"]["v"] == {"S": "1"}
    assert modify["dynamodb"]["NewImage"]["v"] == {"S": "2"}
    assert isinstance(modify["dynamodb"]["ApproximateCreationDateTime"], int | float)
    numbers = [r["dynamodb"]["SequenceNumber"] for r in got]
    assert numbers == sorted(numbers)
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_latest_and_the_on_failure_destination(server: Server) -> None:
    lam, sqs, dynamodb = server.client(), server.client("sqs"), server.client("dynamodb")
    out_url, _ = _queue(sqs)
    failed_url, failed_arn = _queue(sqs)
    table, stream = _table(dynamodb)
    name = _function(lam, out_url)
    _put(dynamodb, table, "before")  # LATEST: never delivered
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName=name,
        StartingPosition="LATEST",
        BatchSize=1,
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": failed_arn}},
    )["UUID"]
    _enabled(lam, mapping)
    _put(dynamodb, table, "bad-1")
    _put(dynamodb, table, "after")
    (got,) = _drain(sqs, out_url, 1)
    assert got["dynamodb"]["Keys"]["id"]["S"] == "after"  # past the given-up record
    (failure,) = _drain(sqs, failed_url, 1)
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 2
    assert failure["responseContext"]["functionError"] == "Unhandled"
    info = failure["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == stream
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert "Messages" not in sqs.receive_message(QueueUrl=out_url, WaitTimeSeconds=1)
    lam.delete_event_source_mapping(UUID=mapping)


def test_checkpoints_survive_kill_9(fresh_server: Callable[..., Server]) -> None:
    server = fresh_server()
    lam, sqs, dynamodb = server.client(), server.client("sqs"), server.client("dynamodb")
    out_url, _ = _queue(sqs)
    table, stream = _table(dynamodb)
    name = _function(lam, out_url)
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream, FunctionName=name, StartingPosition="TRIM_HORIZON"
    )["UUID"]
    _enabled(lam, mapping)
    for key in ("one", "two"):
        _put(dynamodb, table, key)
    assert len(_drain(sqs, out_url, 2)) == 2
    assert server.process is not None
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    server.start()
    sqs, dynamodb = server.client("sqs"), server.client("dynamodb")
    _put(dynamodb, table, "three")
    # The mapping resumes after its checkpoint: "three" comes and "one" never again. "two"
    # may come again: its batch can be in flight at the kill (its function has answered the
    # queue, the checkpoint not yet written), and at-least-once allows that; "one" was
    # checkpointed before "two" was read.
    keys: list[str] = []
    while "three" not in keys:
        keys += [got["dynamodb"]["Keys"]["id"]["S"] for got in _drain(sqs, out_url, 1)]
    assert "one" not in keys and keys.count("three") == 1, keys
    assert "Messages" not in sqs.receive_message(QueueUrl=out_url, WaitTimeSeconds=1)


LANES = """
import json, os, time, boto3
sqs = boto3.client("sqs")
def handler(event, context):
    started = time.time()
    time.sleep(0.4)
    keys = [(r["dynamodb"]["Keys"]["id"]["S"], r["dynamodb"]["NewImage"]["v"]["S"])
            for r in event["Records"]]
    sqs.send_message(QueueUrl=os.environ["OUT"],
                     MessageBody=json.dumps({"keys": keys, "at": [started, time.time()]}))
"""


def test_parallelization_runs_lanes_at_once_in_order_per_key(server: Server) -> None:
    lam, sqs, dynamodb = server.client(), server.client("sqs"), server.client("dynamodb")
    out_url, _ = _queue(sqs)
    table, stream = _table(dynamodb)
    name = f"lanes-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(LANES)},
        Environment={"Variables": {"OUT": out_url}},
    )
    for version in "123":
        for key in ("k1", "k2", "k3", "k4", "k5", "k6"):
            _put(dynamodb, table, key, v=version)
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName=name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=2,
        ParallelizationFactor=4,
    )
    assert mapping["ParallelizationFactor"] == 4
    _enabled(lam, mapping["UUID"])
    calls: list[dict[str, Any]] = []
    while sum(len(c["keys"]) for c in calls) < 18:
        calls += _drain(sqs, out_url, 1)
    seen: dict[str, list[str]] = {}
    for call in sorted(calls, key=lambda c: c["at"][0]):
        for key, version in call["keys"]:
            seen.setdefault(key, []).append(version)
    assert seen == {f"k{i}": ["1", "2", "3"] for i in range(1, 7)}  # in order per item
    spans = [c["at"] for c in calls]
    assert any(  # two batches of the one shard ran at the same time
        a is not b and a[0] < b[0] < a[1] for a in spans for b in spans
    ), spans
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


WINDOWED = """
import json, os, boto3
sqs = boto3.client("sqs")
def handler(event, context):
    state = event["state"]
    state["count"] = state.get("count", 0) + len(event["Records"])
    state.setdefault("calls", 0)
    state["calls"] += 1
    if event["isFinalInvokeForWindow"]:
        sqs.send_message(QueueUrl=os.environ["OUT"], MessageBody=json.dumps(event))
    return {"state": state}
"""


def test_tumbling_windows_carry_state_to_a_final_invocation(server: Server) -> None:
    lam, sqs, dynamodb = server.client(), server.client("sqs"), server.client("dynamodb")
    out_url, _ = _queue(sqs)
    table, stream = _table(dynamodb)
    name = f"window-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(WINDOWED)},
        Environment={"Variables": {"OUT": out_url}},
    )
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream,
        FunctionName=name,
        StartingPosition="TRIM_HORIZON",
        BatchSize=2,
        TumblingWindowInSeconds=2,
    )
    assert mapping["TumblingWindowInSeconds"] == 2
    _enabled(lam, mapping["UUID"])
    for key in ("a", "b", "c", "d", "e"):
        _put(dynamodb, table, key, v="1")
    finals: list[dict[str, Any]] = []
    while sum(f["state"]["count"] for f in finals) < 5:
        finals += _drain(sqs, out_url, 1)
    assert sum(f["state"]["count"] for f in finals) == 5
    for final in finals:
        assert final["Records"] == [] and final["isWindowTerminatedEarly"] is False
        assert final["eventSourceARN"] == stream and final["shardId"]
        start, end = (
            time.mktime(time.strptime(final["window"][k], "%Y-%m-%dT%H:%M:%SZ"))
            for k in ("start", "end")
        )
        assert end - start == 2
    # 5 records in batches of at most 2: at least 3 calls carried the state on.
    assert sum(f["state"]["calls"] for f in finals) >= 3
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_bad_stream_mappings_are_refused(server: Server) -> None:
    lam, sqs, dynamodb = server.client(), server.client("sqs"), server.client("dynamodb")
    out_url, _ = _queue(sqs)
    _, stream = _table(dynamodb)
    name = _function(lam, out_url)

    def refused(**params: Any) -> str:
        with pytest.raises(ClientError) as caught:
            lam.create_event_source_mapping(FunctionName=name, **params)
        error = caught.value.response["Error"]
        assert error["Code"] == "InvalidParameterValueException", error
        return str(error["Message"])

    assert "StartingPosition" in refused(EventSourceArn=stream)
    missing = stream.replace(":table/", ":table/nope-")
    assert refused(EventSourceArn=missing, StartingPosition="LATEST") == (
        f"Stream not found: {missing}"
    )
    assert "MaximumRecordAgeInSeconds" in refused(
        EventSourceArn=stream, StartingPosition="LATEST", MaximumRecordAgeInSeconds=10
    )
