"""SQS durability: an acknowledged send survives `kill -9`, and a message in flight when the
server died becomes visible again after its visibility timeout, on the restarted server."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server


def test_sent_messages_survive_kill_9(fresh_server: Callable[..., Server], tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = fresh_server(data)
    sqs = first.client("sqs")
    url = sqs.create_queue(QueueName="durable")["QueueUrl"]
    fifo = sqs.create_queue(
        QueueName="durable.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    sent = {sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")["MessageId"] for i in range(20)}
    for body in ("f1", "f2"):
        sqs.send_message(QueueUrl=fifo, MessageBody=body, MessageGroupId="g")
    sqs.receive_message(QueueUrl=url, VisibilityTimeout=2, MaxNumberOfMessages=1)
    first.stop(signal.SIGKILL)

    second = fresh_server(data)
    sqs = second.client("sqs")
    url = sqs.get_queue_url(QueueName="durable")["QueueUrl"]
    got: dict[str, str] = {}
    deadline = time.monotonic() + 15
    while len(got) < len(sent) and time.monotonic() < deadline:
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=5, AttributeNames=["All"]
        )
        for message in answer.get("Messages", []):
            got[message["MessageId"]] = message["Attributes"]["ApproximateReceiveCount"]
    assert set(got) == sent
    # The one in flight at the kill came back after its timeout, its receive counted.
    assert sorted(got.values()).count("2") == 1
    # FIFO order, sequence numbers and deduplication state survive too.
    fifo = sqs.get_queue_url(QueueName="durable.fifo")["QueueUrl"]
    again = sqs.send_message(QueueUrl=fifo, MessageBody="f1", MessageGroupId="g")
    bodies = [
        m["Body"] for m in sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10)["Messages"]
    ]
    assert bodies == ["f1", "f2"]
    assert int(again["SequenceNumber"]) > 0


def test_in_flight_message_returns_after_timeout_across_restart(
    fresh_server: Callable[..., Server], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = fresh_server(data)
    sqs = first.client("sqs")
    url = sqs.create_queue(QueueName="flight")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="in flight")
    assert sqs.receive_message(QueueUrl=url, VisibilityTimeout=3)["Messages"]
    received_at = time.monotonic()
    first.stop(signal.SIGKILL)

    second = fresh_server(data)
    sqs = second.client("sqs")
    url = sqs.get_queue_url(QueueName="flight")["QueueUrl"]
    if time.monotonic() - received_at < 2.5:  # still invisible: its deadline was kept
        assert "Messages" not in sqs.receive_message(QueueUrl=url)
    answer = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10, AttributeNames=["All"])
    assert time.monotonic() - received_at >= 2.9
    message = answer["Messages"][0]
    assert message["Body"] == "in flight"
    assert message["Attributes"]["ApproximateReceiveCount"] == "2"


def test_a_deleted_queues_name_still_waits_after_a_restart(
    fresh_server: Callable[..., Server], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    first = fresh_server(data)
    sqs = first.client("sqs")
    sqs.delete_queue(QueueUrl=sqs.create_queue(QueueName="gone")["QueueUrl"])
    first.stop(signal.SIGKILL)

    sqs = fresh_server(data).client("sqs")
    with pytest.raises(ClientError) as caught:
        sqs.create_queue(QueueName="gone")
    assert caught.value.response["Error"]["Code"] == "AWS.SimpleQueueService.QueueDeletedRecently"
