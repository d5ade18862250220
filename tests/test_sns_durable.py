"""SNS survives restarts and `kill -9`: topics and subscriptions come back, and every Publish
that was answered has its message in every subscribed queue (duplicates allowed, FIFO order
kept), because fan-out commits to the queues before Publish answers."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tests.conftest import Server
from tests.test_sns import allow_topic


def queue_with_policy(sqs: Any, name: str, topic: str, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": allow_topic(arn, topic)})
    return url, arn


def bodies(sqs: Any, url: str) -> list[str]:
    got: list[str] = []
    while True:
        found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not found:
            return got
        for message in found:
            got.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def test_restart_keeps_topics_and_subscriptions(fresh_server: Callable[..., Server]) -> None:
    server = fresh_server()
    sns = server.client("sns")
    topic = sns.create_topic(
        Name="kept.fifo",
        Attributes={"FifoTopic": "true", "DisplayName": "Kept"},
        Tags=[{"Key": "k", "Value": "v"}],
    )["TopicArn"]
    sqs = server.client("sqs")
    _, queue_arn = queue_with_policy(sqs, "kept.fifo", topic, FifoQueue="true")
    sub = sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true", "FilterPolicy": '{"a": ["b"]}'},
    )["SubscriptionArn"]
    first = sns.publish(TopicArn=topic, Message="m", MessageGroupId="g", MessageDeduplicationId="d")
    server.stop()
    server = fresh_server(server.data_dir)
    sns = server.client("sns")
    attributes = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert attributes["DisplayName"] == "Kept" and attributes["FifoTopic"] == "true"
    assert attributes["SubscriptionsConfirmed"] == "1"
    assert sns.list_tags_for_resource(ResourceArn=topic)["Tags"] == [{"Key": "k", "Value": "v"}]
    kept = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert kept["RawMessageDelivery"] == "true" and kept["FilterPolicy"] == '{"a": ["b"]}'
    # The deduplication window and the sequence survive too.
    again = sns.publish(TopicArn=topic, Message="m", MessageGroupId="g", MessageDeduplicationId="d")
    assert (again["MessageId"], again["SequenceNumber"]) == (
        first["MessageId"],
        first["SequenceNumber"],
    )
    after = sns.publish(TopicArn=topic, Message="m", MessageGroupId="g", MessageDeduplicationId="e")
    assert after["SequenceNumber"] > first["SequenceNumber"]


def test_kill_during_fan_out_loses_no_answered_publish(
    fresh_server: Callable[..., Server],
) -> None:
    server = fresh_server()
    sns, sqs = server.client("sns"), server.client("sqs")
    topic = sns.create_topic(Name="busy")["TopicArn"]
    fifo = sns.create_topic(Name="busy.fifo", Attributes={"FifoTopic": "true"})["TopicArn"]
    standard = [queue_with_policy(sqs, f"busy-{i}", topic) for i in range(3)]
    ordered = queue_with_policy(sqs, "busy.fifo", fifo, FifoQueue="true")
    for _, arn in standard:
        sns.subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
        )
    sns.subscribe(
        TopicArn=fifo,
        Protocol="sqs",
        Endpoint=ordered[1],
        Attributes={"RawMessageDelivery": "true"},
    )
    answered: list[str] = []
    answered_fifo: list[str] = []
    stop = threading.Event()

    def publish(client: Any, arn: str, into: list[str], **extra: str) -> None:
        n = 0
        while not stop.is_set():
            body = f"{arn[-4:]}-{n}"
            try:
                kwargs = {"MessageDeduplicationId": body, **extra} if extra else {}
                client.publish(TopicArn=arn, Message=body, **kwargs)
            except (BotoCoreError, ClientError):
                return
            into.append(body)
            n += 1

    threads = [
        threading.Thread(target=publish, args=(server.client("sns"), topic, answered)),
        threading.Thread(
            target=publish,
            args=(server.client("sns"), fifo, answered_fifo),
            kwargs={"MessageGroupId": "g"},
        ),
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while (len(answered) < 100 or len(answered_fifo) < 50) and time.monotonic() < deadline:
        time.sleep(0.01)
    server.stop(signal.SIGKILL)
    stop.set()
    for thread in threads:
        thread.join(30)
    assert len(answered) >= 100 and len(answered_fifo) >= 50
    server = fresh_server(server.data_dir)
    sqs = server.client("sqs")
    for url, _ in standard:
        got = set(bodies(sqs, url))
        missing = [body for body in answered if body not in got]
        assert not missing, (url, missing[:5])
    got = bodies(sqs, ordered[0])
    first_seen = list(dict.fromkeys(got))  # duplicates allowed, in order
    assert first_seen[: len(answered_fifo)] == answered_fifo
    json.dumps(got)  # bodies are plain strings
