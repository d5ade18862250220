"""SQS message move tasks: paced by `MaxNumberOfMessagesPerSecond`, one running per source
queue, cancellable, failing when their destination goes, and durable: a task running when
the server is killed goes on after the restart from where it was."""

from __future__ import annotations

import base64
import json
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server, wait_for


def error_of(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def arn_of(sqs: Any, url: str) -> str:
    arn: str = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return arn


def dead_letters(sqs: Any, count: int) -> tuple[str, str, str]:
    """(source URL, dead-letter URL, dead-letter ARN) with `count` messages dead-lettered."""
    tag = uuid.uuid4().hex[:8]
    dlq = sqs.create_queue(QueueName=f"dlq-{tag}")["QueueUrl"]
    dlq_arn = arn_of(sqs, dlq)
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    source = sqs.create_queue(QueueName=f"src-{tag}", Attributes={"RedrivePolicy": redrive})[
        "QueueUrl"
    ]
    for start in range(0, count, 10):
        sqs.send_message_batch(
            QueueUrl=source,
            Entries=[
                {"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, min(count, start + 10))
            ],
        )
    received = 0
    while received < count:
        got = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, VisibilityTimeout=0)
        received += len(got.get("Messages", []))
    # Each received once: the next receive moves them all to the dead-letter queue.
    while "Messages" in sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10):
        pass
    assert count_of(sqs, dlq) == count
    return source, dlq, dlq_arn


def count_of(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def latest(sqs: Any, arn: str) -> dict[str, Any]:
    task: dict[str, Any] = sqs.list_message_move_tasks(SourceArn=arn)["Results"][0]
    return task


def test_a_task_moves_at_its_rate_one_at_a_time(server: Server) -> None:
    sqs = server.client("sqs")
    source, dlq, dlq_arn = dead_letters(sqs, 6)
    started = time.monotonic()
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=3)[
        "TaskHandle"
    ]
    token = json.loads(base64.b64decode(handle))
    assert token["sourceArn"] == dlq_arn and uuid.UUID(token["taskId"])
    running = latest(sqs, dlq_arn)
    assert running["Status"] == "RUNNING" and running["TaskHandle"] == handle
    assert running["MaxNumberOfMessagesPerSecond"] == 3
    assert running["ApproximateNumberOfMessagesToMove"] == 6
    assert error_of(lambda: sqs.start_message_move_task(SourceArn=dlq_arn)) == (
        "InvalidParameterValue",
        "There is already a task running. Only one active task is allowed for a source queue "
        "arn at a given time.",
        400,
    )
    done = wait_for(lambda: (t := latest(sqs, dlq_arn))["Status"] == "COMPLETED" and t)
    # 6 messages at 3 a second: about 2 s, never less than the rate allows.
    assert time.monotonic() - started >= 1.6
    assert done["ApproximateNumberOfMessagesMoved"] == 6 and "TaskHandle" not in done
    assert count_of(sqs, source) == 6 and count_of(sqs, dlq) == 0
    # Without a rate: AWS's system rate (500/s), and the count is not shown.
    sqs.send_message(QueueUrl=dlq, MessageBody="stray")
    destination = sqs.create_queue(QueueName=f"dst-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=arn_of(sqs, destination))
    done = wait_for(lambda: (t := latest(sqs, dlq_arn))["Status"] == "COMPLETED" and t)
    assert "MaxNumberOfMessagesPerSecond" not in done
    assert done["DestinationArn"] == arn_of(sqs, destination)
    assert sqs.receive_message(QueueUrl=destination)["Messages"][0]["Body"] == "stray"
    tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
    assert [t["Status"] for t in tasks] == ["COMPLETED", "COMPLETED"]


def test_cancel_and_bad_handles(server: Server) -> None:
    sqs = server.client("sqs")
    source, dlq, dlq_arn = dead_letters(sqs, 10)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=1)[
        "TaskHandle"
    ]
    wait_for(lambda: latest(sqs, dlq_arn)["ApproximateNumberOfMessagesMoved"] >= 1)
    moved = sqs.cancel_message_move_task(TaskHandle=handle)["ApproximateNumberOfMessagesMoved"]
    assert 1 <= moved < 10
    task = latest(sqs, dlq_arn)
    assert task["Status"] == "CANCELLED" and task["ApproximateNumberOfMessagesMoved"] == moved
    # What it moved is where the answer says; it is no longer running: a new task may start
    # and moves the rest, the cancelled one's count unchanged.
    assert count_of(sqs, source) == moved and count_of(sqs, dlq) == 10 - moved
    sqs.start_message_move_task(SourceArn=dlq_arn)
    done = wait_for(lambda: (t := latest(sqs, dlq_arn))["Status"] == "COMPLETED" and t)
    assert done["ApproximateNumberOfMessagesMoved"] == 10 - moved
    tasks = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=2)["Results"]
    assert tasks[1]["Status"] == "CANCELLED"
    assert tasks[1]["ApproximateNumberOfMessagesMoved"] == moved
    assert count_of(sqs, source) == 10
    assert error_of(lambda: sqs.cancel_message_move_task(TaskHandle=handle)) == (
        "ResourceNotFoundException",
        "Task does not exist.",
        404,
    )
    assert error_of(lambda: sqs.cancel_message_move_task(TaskHandle="nonsense!")) == (
        "InvalidParameterValue",
        "Value for parameter TaskHandle is invalid.",
        400,
    )
    missing = dlq_arn + "-gone"
    forged = base64.b64encode(
        json.dumps({"taskId": str(uuid.uuid4()), "sourceArn": missing}).encode()
    ).decode()
    assert error_of(lambda: sqs.cancel_message_move_task(TaskHandle=forged)) == (
        "ResourceNotFoundException",
        "The resource that you specified for the SourceArn parameter doesn't exist.",
        404,
    )
    assert error_of(
        lambda: sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=missing)
    ) == (
        "ResourceNotFoundException",
        "The resource that you specified for the DestinationArn parameter doesn't exist.",
        404,
    )
    assert error_of(lambda: sqs.start_message_move_task(SourceArn=arn_of(sqs, source)))[1] == (
        "Source queue must be configured as a Dead Letter Queue."
    )


def test_a_task_fails_when_its_destination_goes(server: Server) -> None:
    sqs = server.client("sqs")
    _, _, dlq_arn = dead_letters(sqs, 5)
    destination = sqs.create_queue(QueueName=f"dst-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    sqs.start_message_move_task(
        SourceArn=dlq_arn, DestinationArn=arn_of(sqs, destination), MaxNumberOfMessagesPerSecond=1
    )
    wait_for(lambda: latest(sqs, dlq_arn)["ApproximateNumberOfMessagesMoved"] >= 1)
    sqs.delete_queue(QueueUrl=destination)
    failed = wait_for(lambda: (t := latest(sqs, dlq_arn))["Status"] == "FAILED" and t)
    assert failed["FailureReason"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert failed["ApproximateNumberOfMessagesMoved"] < 5


def test_a_running_task_survives_kill_9(
    fresh_server: Callable[..., Server], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = fresh_server(data)
    sqs = first.client("sqs")
    source, dlq, dlq_arn = dead_letters(sqs, 6)
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=2)[
        "TaskHandle"
    ]
    wait_for(lambda: latest(sqs, dlq_arn)["ApproximateNumberOfMessagesMoved"] >= 1)
    first.stop(signal.SIGKILL)

    second = fresh_server(data)
    sqs = second.client("sqs")
    task = latest(sqs, dlq_arn)
    assert task["TaskHandle"] == handle and task["ApproximateNumberOfMessagesToMove"] == 6
    before = task["ApproximateNumberOfMessagesMoved"]
    assert before >= 1
    done = wait_for(lambda: (t := latest(sqs, dlq_arn))["Status"] == "COMPLETED" and t)
    assert done["ApproximateNumberOfMessagesMoved"] == 6
    bodies = []
    while len(bodies) < 6:
        got = sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        bodies += [m["Body"] for m in got.get("Messages", [])]
    assert sorted(bodies) == sorted(f"m{i}" for i in range(6))  # each once
    assert count_of(sqs, dlq) == 0
