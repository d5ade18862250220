"""Lambda event-source mappings from SQS queues, with boto3 against a live server: the API and
its checks, batches of `aws:sqs` records, deletes after success only, ReportBatchItemFailures
with the queue's redrive policy, FilterCriteria, disabling, another account's queue, and a
`kill -9` in the middle of a batch."""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, python_zip, wait_for

WORKER = """
import json, os, time, boto3
sqs = boto3.client("sqs")
def handler(event, context):
    failures = []
    for record in event["Records"]:
        body = record["body"]
        if body.startswith("bad"):
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        if body.startswith("slow"):
            time.sleep(float(os.environ.get("SLOW", "0")))
        sqs.send_message(QueueUrl=os.environ["OUT"], MessageBody=json.dumps({
            "body": body, "source": record["eventSource"], "arn": record["eventSourceARN"],
            "batch": len(event["Records"]), "receives": record["attributes"]["ApproximateReceiveCount"],
            "group": record["attributes"].get("MessageGroupId"), "at": time.time(),
            "attributes": record["messageAttributes"]}))
    if os.environ.get("REPORT"):
        return {"batchItemFailures": failures}
    if failures:
        raise ValueError("bad records")
"""


def _queue(sqs: Any, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}", Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def _worker(lam: Any, out_url: str, **env: str) -> str:
    name = f"w-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Timeout=int(env.pop("TIMEOUT", "3")),
        Code={"ZipFile": python_zip(WORKER)},
        Environment={"Variables": {"OUT": out_url, **env}},
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    return name


def _drain(sqs: Any, url: str, count: int, seconds: float = 60) -> list[dict[str, Any]]:
    """`count` messages from `url` (long polling), deleted as they come."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + seconds
    while len(found) < count:
        assert time.monotonic() < deadline, f"{len(found)} of {count} arrived"
        for message in sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2
        ).get("Messages", []):
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def _counts(sqs: Any, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def _enabled(lam: Any, mapping: str) -> bool:
    return bool(lam.get_event_source_mapping(UUID=mapping)["State"] == "Enabled")


def test_a_queue_feeds_its_worker(server: Server) -> None:
    lam, sqs = server.client(), server.client("sqs")
    out_url, _ = _queue(sqs)
    source_url, source_arn = _queue(sqs)
    name = _worker(lam, out_url)
    created = lam.create_event_source_mapping(
        EventSourceArn=source_arn, FunctionName=name, BatchSize=5
    )
    assert created["State"] == "Creating"
    assert created["EventSourceArn"] == source_arn and created["BatchSize"] == 5
    assert created["FunctionArn"].endswith(f":function:{name}")
    assert created["EventSourceMappingArn"].endswith(f":event-source-mapping:{created['UUID']}")
    wait_for(lambda: _enabled(lam, created["UUID"]), 60)
    for n in range(3):
        sqs.send_message(
            QueueUrl=source_url,
            MessageBody=f"m{n}",
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "k"}},
        )
    got = _drain(sqs, out_url, 3)
    assert sorted(g["body"] for g in got) == ["m0", "m1", "m2"]
    assert {g["source"] for g in got} == {"aws:sqs"} and {g["arn"] for g in got} == {source_arn}
    assert got[0]["attributes"]["kind"] == {
        "stringValue": "k",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    wait_for(lambda: _counts(sqs, source_url) == (0, 0), 60)  # deleted after the invokes

    listed = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [created["UUID"]]
    assert lam.delete_event_source_mapping(UUID=created["UUID"])["State"] == "Deleting"
    wait_for(
        lambda: not lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"], 60
    )


def test_failures_return_to_the_queue_and_its_redrive_policy(server: Server) -> None:
    lam, sqs = server.client(), server.client("sqs")
    out_url, _ = _queue(sqs)
    dlq_url, dlq_arn = _queue(sqs)
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    source_url, source_arn = _queue(sqs, VisibilityTimeout="1", RedrivePolicy=redrive)
    name = _worker(lam, out_url, REPORT="1", TIMEOUT="1")
    mapping = lam.create_event_source_mapping(
        EventSourceArn=source_arn,
        FunctionName=name,
        BatchSize=10,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )["UUID"]
    assert lam.get_event_source_mapping(UUID=mapping)["FunctionResponseTypes"] == [
        "ReportBatchItemFailures"
    ]
    sqs.send_message_batch(
        QueueUrl=source_url,
        Entries=[{"Id": str(n), "MessageBody": body} for n, body in enumerate(["a", "bad", "b"])],
    )
    got = _drain(sqs, out_url, 2)
    assert sorted(g["body"] for g in got) == ["a", "b"]
    # "bad" is kept each time, received twice, then moved to the dead-letter queue.
    dead = wait_for(
        lambda: sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=2).get("Messages"), 60
    )
    assert [m["Body"] for m in dead] == ["bad"]
    wait_for(lambda: _counts(sqs, source_url) == (0, 0), 60)
    lam.delete_event_source_mapping(UUID=mapping)


def test_filters_and_disabling(server: Server) -> None:
    lam, sqs = server.client(), server.client("sqs")
    out_url, _ = _queue(sqs)
    source_url, source_arn = _queue(sqs)
    name = _worker(lam, out_url)
    mapping = lam.create_event_source_mapping(
        EventSourceArn=source_arn,
        FunctionName=name,
        Enabled=False,
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"keep": [True]}})}]},
    )
    assert mapping["State"] == "Creating" and mapping["FilterCriteria"]["Filters"]
    wait_for(lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Disabled", 60)
    for body in ({"keep": True, "n": 1}, {"keep": False, "n": 2}, "not json"):
        text = body if isinstance(body, str) else json.dumps(body)
        sqs.send_message(QueueUrl=source_url, MessageBody=text)
    assert _counts(sqs, source_url) == (3, 0)  # disabled: nothing read
    updated = lam.update_event_source_mapping(UUID=mapping["UUID"], Enabled=True)
    assert updated["State"] == "Enabling"
    got = _drain(sqs, out_url, 1)
    assert [json.loads(g["body"])["n"] for g in got] == [1]
    # The two that match no filter are deleted without an invoke.
    wait_for(lambda: _counts(sqs, source_url) == (0, 0), 60)
    assert "Messages" not in sqs.receive_message(QueueUrl=out_url, WaitTimeSeconds=1)
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_bad_mappings_are_refused(server: Server) -> None:
    lam, sqs = server.client(), server.client("sqs")
    out_url, _ = _queue(sqs)
    _, short_arn = _queue(sqs, VisibilityTimeout="2")
    _, arn = _queue(sqs)
    name = _worker(lam, out_url, TIMEOUT="5")

    def refused(**params: Any) -> tuple[str, str]:
        with pytest.raises(ClientError) as caught:
            lam.create_event_source_mapping(**params)
        error = caught.value.response["Error"]
        return error["Code"], error["Message"]

    assert refused(EventSourceArn=short_arn, FunctionName=name) == (
        "InvalidParameterValueException",
        "Queue visibility timeout: 2 seconds is less than Function timeout: 5 seconds",
    )
    assert refused(EventSourceArn=arn, FunctionName=name, BatchSize=20) == (
        "InvalidParameterValueException",
        "Maximum batch window in seconds must be greater than 0 if maximum batch size is "
        "greater than 10",
    )
    code, message = refused(
        EventSourceArn="arn:aws:kinesis:us-east-1:000000000000:stream/s",
        FunctionName=name,
        StartingPosition="LATEST",
    )
    assert code == "InvalidParameterValueException" and "Kinesis" in message
    code, message = refused(
        EventSourceArn="arn:aws:sqs:us-east-1:000000000000:no-such-queue", FunctionName=name
    )
    assert code == "InvalidParameterValueException" and "NonExistentQueue" in message
    code, _ = refused(EventSourceArn=arn, FunctionName="no-such-function")
    assert code == "ResourceNotFoundException"
    code, message = refused(
        EventSourceArn=arn,
        FunctionName=name,
        FilterCriteria={"Filters": [{"Pattern": '{"body": "not a list"}'}]},
    )
    assert code == "InvalidParameterValueException" and "filter pattern" in message
    first = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name, Enabled=False)
    assert refused(EventSourceArn=arn, FunctionName=name) == (
        "ResourceConflictException",
        f'An event source mapping with SQS arn (" {arn} ") and function (" {name} ") already '
        f"exists. Please update or delete the existing mapping with UUID {first['UUID']}",
    )
    with pytest.raises(ClientError) as caught:
        lam.get_event_source_mapping(UUID=str(uuid.uuid4()))
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
    )
    lam.delete_event_source_mapping(UUID=first["UUID"])


def test_a_batch_in_flight_at_kill_9_is_run_again(fresh_server: Callable[..., Server]) -> None:
    server = fresh_server()
    lam, sqs = server.client(), server.client("sqs")
    out_url, _ = _queue(sqs)
    source_url, source_arn = _queue(sqs, VisibilityTimeout="3")
    name = _worker(lam, out_url, SLOW="30", TIMEOUT="3")
    lam.create_event_source_mapping(EventSourceArn=source_arn, FunctionName=name, BatchSize=1)
    sqs.send_message(QueueUrl=source_url, MessageBody="slow-1")
    wait_for(lambda: _counts(sqs, source_url) == (0, 1), 60)  # in flight: the worker sleeps
    assert server.process is not None
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    server.start()
    sqs = server.client("sqs")
    # The restarted mapping receives it again once its visibility timeout has passed; the
    # worker, no longer slow, runs it: not lost, and counted as a second receive.
    lam = server.client()
    lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"OUT": out_url, "SLOW": "0"}}
    )
    got = _drain(sqs, out_url, 1, 60)
    assert got[0]["body"] == "slow-1" and int(got[0]["receives"]) >= 2
    wait_for(lambda: _counts(sqs, source_url) == (0, 0), 30)


def test_fifo_groups_keep_their_order_across_kill_9(fresh_server: Callable[..., Server]) -> None:
    server = fresh_server()
    lam, sqs = server.client(), server.client("sqs")
    out_url, _ = _queue(sqs)
    source_url = sqs.create_queue(
        QueueName=f"q-{uuid.uuid4().hex[:8]}.fifo",
        Attributes={"FifoQueue": "true", "VisibilityTimeout": "3"},
    )["QueueUrl"]
    source_arn = sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    name = _worker(lam, out_url, SLOW="30", TIMEOUT="3")
    sent = {"a": ["a1", "slow-a2", "a3", "a4"], "b": ["b1", "b2", "b3"]}
    for group, bodies in sent.items():
        for body in bodies:
            sqs.send_message(
                QueueUrl=source_url,
                MessageBody=body,
                MessageGroupId=group,
                MessageDeduplicationId=body,
            )
    lam.create_event_source_mapping(EventSourceArn=source_arn, FunctionName=name, BatchSize=1)
    got = _drain(sqs, out_url, 4)  # a1 and group b; slow-a2 sleeps, a3 and a4 wait behind it
    assert sorted(g["body"] for g in got) == ["a1", "b1", "b2", "b3"]
    wait_for(lambda: _counts(sqs, source_url) == (2, 1), 60)
    assert server.process is not None
    server.process.send_signal(signal.SIGKILL)
    server.process.wait()
    server.start()
    lam, sqs = server.client(), server.client("sqs")
    lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"OUT": out_url, "SLOW": "0"}}
    )
    while {g["body"] for g in got} != {b for bodies in sent.values() for b in bodies}:
        got += _drain(sqs, out_url, 1, 60)
    for group, bodies in sent.items():
        delivered = [g["body"] for g in sorted(got, key=lambda g: g["at"]) if g["group"] == group]
        firsts = list(dict.fromkeys(delivered))
        assert firsts == bodies, delivered  # nothing skipped, none overtaken in its group
    slow = [g for g in got if g["body"] == "slow-a2"]
    assert int(slow[-1]["receives"]) >= 2  # the batch in flight at the kill ran again
    wait_for(lambda: _counts(sqs, source_url) == (0, 0), 30)


def test_another_accounts_queue_needs_its_policy(fresh_server: Callable[..., Server]) -> None:
    """A mapping of account B reads account A's queue only once A's queue policy grants B
    what Lambda's poller calls (as B's execution role would need on AWS)."""
    a, b = "111111111111", "222222222222"
    server = fresh_server(FIRESIDE_CREDENTIALS=f"{a}:secret-a,{b}:secret-b")
    sqs_a = server.client("sqs", aws_access_key_id=a, aws_secret_access_key="secret-a")
    lam_b = server.client("lambda", aws_access_key_id=b, aws_secret_access_key="secret-b")
    sqs_b = server.client("sqs", aws_access_key_id=b, aws_secret_access_key="secret-b")
    out_url, _ = _queue(sqs_b)
    url, arn = _queue(sqs_a)
    name = _worker(lam_b, out_url)
    with pytest.raises(ClientError) as caught:
        lam_b.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{b}:root"},
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
                "Resource": arn,
            }
        ],
    }
    sqs_a.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    mapping = lam_b.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)["UUID"]
    wait_for(lambda: _enabled(lam_b, mapping), 60)
    sqs_a.send_message(QueueUrl=url, MessageBody="from-a")
    (got,) = _drain(sqs_b, out_url, 1)
    assert got["body"] == "from-a" and got["arn"] == arn
    wait_for(lambda: _counts(sqs_a, url) == (0, 0), 60)  # deleted by B's mapping
