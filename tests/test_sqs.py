"""SQS over a live server with boto3: queues, messages, long polling, FIFO, dead-letter
queues and AWS's errors (codes as botocore reads them from `x-amzn-query-error`)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fireside.sqs.digests import attributes_md5, body_md5
from tests.conftest import Server, wait_for

QueueFactory = Callable[..., str]


@pytest.fixture()
def sqs(server: Server) -> Any:
    return server.client("sqs")


@pytest.fixture()
def make_queue(sqs: Any) -> Iterator[QueueFactory]:
    made: list[str] = []

    def make(suffix: str = "", **attributes: str) -> str:
        name = f"q-{uuid.uuid4().hex[:12]}{suffix}"
        url: str = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        made.append(url)
        return url

    yield make
    for url in made:
        with contextlib.suppress(ClientError):
            sqs.delete_queue(QueueUrl=url)


def error_of(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_digests_match_aws_vectors() -> None:
    # The value AWS answers for this attribute (recorded in moto's AWS-verified tests).
    attributes = {"timestamp": {"StringValue": "1493147359900", "DataType": "Number"}}
    assert attributes_md5(attributes) == "235c5c510d26fb653d073faed50ae77c"
    assert body_md5("hello") == hashlib.md5(b"hello").hexdigest()


def test_queue_lifecycle_urls_attributes_and_tags(sqs: Any, server: Server) -> None:
    name = f"life-{uuid.uuid4().hex[:10]}"
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"})["QueueUrl"]
    assert url == f"{server.endpoint}/000000000000/{name}"
    # Idempotent with the same attributes; QueueAlreadyExists with others.
    assert (
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "40"})["QueueUrl"] == url
    )
    code, message, status = error_of(
        lambda: sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "41"})
    )
    assert (code, status) == ("QueueAlreadyExists", 400)
    assert "VisibilityTimeout" in message
    assert sqs.get_queue_url(QueueName=name)["QueueUrl"] == url
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "40"
    assert attributes["QueueArn"] == f"arn:aws:sqs:us-east-1:000000000000:{name}"
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert int(attributes["CreatedTimestamp"]) <= time.time()
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "5"})
    picked = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds"])
    assert picked["Attributes"] == {"DelaySeconds": "5"}
    assert error_of(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Nope"]))[
        :2
    ] == ("InvalidAttributeName", "Unknown Attribute Nope.")
    assert (
        error_of(
            lambda: sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "-1"})
        )[0]
        == "InvalidAttributeValue"
    )
    sqs.tag_queue(QueueUrl=url, Tags={"team": "a", "env": "dev"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["env"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "a"}
    sqs.delete_queue(QueueUrl=url)
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as caught:
        sqs.get_queue_url(QueueName=name)
    error = caught.value.response["Error"]
    assert error["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert error["QueryErrorCode"] == "QueueDoesNotExist"


def test_list_queues_by_prefix_and_pages(sqs: Any, make_queue: QueueFactory) -> None:
    urls = [make_queue() for _ in range(3)]
    prefix = urls[0].rsplit("/", 1)[1]
    assert sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"] == [urls[0]]
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix="no-such-prefix")
    seen: list[str] = []
    page = sqs.list_queues(QueueNamePrefix="q-", MaxResults=1)
    while True:
        seen += page["QueueUrls"]
        if "NextToken" not in page:
            break
        page = sqs.list_queues(QueueNamePrefix="q-", MaxResults=1, NextToken=page["NextToken"])
    assert set(urls) <= set(seen) and len(seen) == len(set(seen))


def test_send_receive_delete_with_digests(sqs: Any, make_queue: QueueFactory) -> None:
    url = make_queue()
    attributes = {
        "kind": {"DataType": "String", "StringValue": "order"},
        "n": {"DataType": "Number", "StringValue": "12"},
        "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody="héllo", MessageAttributes=attributes)
    assert sent["MD5OfMessageBody"] == hashlib.md5("héllo".encode()).hexdigest()
    assert sent["MD5OfMessageAttributes"] == attributes_md5(attributes)
    got = sqs.receive_message(
        QueueUrl=url,
        MessageAttributeNames=["All"],
        MessageSystemAttributeNames=["All"],
        VisibilityTimeout=30,
    )["Messages"]
    assert len(got) == 1
    message = got[0]
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == "héllo"
    assert message["MessageAttributes"] == attributes
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "0"
    # Attribute selection by prefix.
    sqs.send_message(QueueUrl=url, MessageBody="x", MessageAttributes=attributes)
    picked = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["k.*", "n"])["Messages"][0]
    assert set(picked["MessageAttributes"]) == {"n"}
    assert "Attributes" not in picked


def test_visibility_and_receive_counts(sqs: Any, make_queue: QueueFactory) -> None:
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="again")
    first = sqs.receive_message(QueueUrl=url, VisibilityTimeout=60)["Messages"][0]
    sqs.change_message_visibility(
        QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0
    )
    second = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"])
    assert second["Messages"][0]["Attributes"] == {"ApproximateReceiveCount": "2"}
    # The first receipt is stale now: not in flight under it.
    code, _, _ = error_of(
        lambda: sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=10
        )
    )
    assert code == "AWS.SimpleQueueService.MessageNotInflight"
    handle = second["Messages"][0]["ReceiptHandle"]
    out = sqs.change_message_visibility_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "ok", "ReceiptHandle": handle, "VisibilityTimeout": 0},
            {"Id": "bad", "ReceiptHandle": "garbage", "VisibilityTimeout": 0},
        ],
    )
    assert [e["Id"] for e in out["Successful"]] == ["ok"]
    assert out["Failed"][0]["Code"] == "ReceiptHandleIsInvalid"
    assert error_of(lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage"))[0] == (
        "ReceiptHandleIsInvalid"
    )


def test_bad_input_gets_aws_errors(sqs: Any, make_queue: QueueFactory) -> None:
    url = make_queue()
    # 1 MiB by default since August 2025 (attributes count), or the queue's own limit.
    too_long = "x" * (1024 * 1024 - 1)
    kind = {"k": {"DataType": "String", "StringValue": "v"}}
    code, message, status = error_of(
        lambda: sqs.send_message(QueueUrl=url, MessageBody=too_long, MessageAttributes=kind)
    )
    assert (code, status) == ("InvalidParameterValue", 400)
    assert "Message must be shorter than 1048576 bytes" in message
    small = make_queue(MaximumMessageSize="262144")
    code, message, _ = error_of(
        lambda: sqs.send_message(QueueUrl=small, MessageBody="x" * (256 * 1024 + 1))
    )
    assert "Message must be shorter than 262144 bytes" in message
    assert error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="a\x00b"))[0] == (
        "InvalidMessageContents"
    )
    assert error_of(lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=11))[0] == (
        "InvalidParameterValue"
    )
    assert error_of(lambda: sqs.create_queue(QueueName="bad name"))[0] == "InvalidParameterValue"
    assert error_of(lambda: sqs.create_queue(QueueName="x", Attributes={"Bogus": "1"}))[:2] == (
        "InvalidAttributeName",
        "Unknown Attribute Bogus.",
    )
    batch = [{"Id": "a", "MessageBody": "1"}]
    assert error_of(lambda: sqs.send_message_batch(QueueUrl=url, Entries=[]))[0] == (
        "AWS.SimpleQueueService.EmptyBatchRequest"
    )
    eleven = [{"Id": f"m{i}", "MessageBody": "1"} for i in range(11)]
    assert error_of(lambda: sqs.send_message_batch(QueueUrl=url, Entries=eleven))[0] == (
        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    )
    assert error_of(lambda: sqs.send_message_batch(QueueUrl=url, Entries=batch * 2))[0] == (
        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"
    )
    bad_id = [{"Id": "a b", "MessageBody": "1"}]
    assert error_of(lambda: sqs.send_message_batch(QueueUrl=url, Entries=bad_id))[0] == (
        "AWS.SimpleQueueService.InvalidBatchEntryId"
    )
    for nowhere in ("http://whatever-incorrect-queue-address", "a/b/c"):
        assert error_of(lambda u=nowhere: sqs.send_message(QueueUrl=u, MessageBody="x"))[:1] == (
            "AWS.SimpleQueueService.NonExistentQueue",
        )
    other = url.replace("/000000000000/", "/111111111111/")
    assert error_of(lambda: sqs.send_message(QueueUrl=other, MessageBody="x"))[0] == (
        "AWS.SimpleQueueService.NonExistentQueue"
    )


def test_batch_send_reports_each_entry(sqs: Any, make_queue: QueueFactory) -> None:
    url = make_queue()
    out = sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {"Id": "good", "MessageBody": "one"},
            {"Id": "late", "MessageBody": "two", "DelaySeconds": 901},
        ],
    )
    assert [e["Id"] for e in out["Successful"]] == ["good"]
    assert out["Successful"][0]["MD5OfMessageBody"] == body_md5("one")
    assert out["Failed"][0]["Id"] == "late"
    assert out["Failed"][0]["Code"] == "InvalidParameterValue"
    assert out["Failed"][0]["SenderFault"] is True
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    out = sqs.delete_message_batch(
        QueueUrl=url, Entries=[{"Id": "d", "ReceiptHandle": got[0]["ReceiptHandle"]}]
    )
    assert out["Successful"] == [{"Id": "d"}]


def test_long_poll_answers_when_a_message_arrives(
    sqs: Any, server: Server, make_queue: QueueFactory
) -> None:
    url = make_queue()
    receiver = server.client("sqs")
    result: dict[str, Any] = {}

    def receive() -> None:
        result["answer"] = receiver.receive_message(QueueUrl=url, WaitTimeSeconds=10)
        result["at"] = time.perf_counter()

    thread = threading.Thread(target=receive)
    thread.start()
    time.sleep(0.3)  # the receiver is waiting
    sqs.send_message(QueueUrl=url, MessageBody="now")
    sent_at = time.perf_counter()
    thread.join(10)
    assert result["answer"]["Messages"][0]["Body"] == "now"
    # Answered as the message arrived, not at the end of the wait.
    assert result["at"] - sent_at < 1.0


def test_delays_and_empty_long_poll(sqs: Any, make_queue: QueueFactory) -> None:
    url = make_queue()
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    assert time.monotonic() - started >= 0.9
    sent_at = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=3)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesDelayed"] == "1"
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    # The long poll wakes when the delay ends, not at the end of its wait.
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=15)
    assert got["Messages"][0]["Body"] == "later"
    # Woken by the delay's end (3 s), not the wait's (15 s after the receive began).
    assert 2.9 <= time.monotonic() - sent_at < 14


def test_fifo_groups_order_and_deduplication(sqs: Any, make_queue: QueueFactory) -> None:
    url = make_queue(".fifo", FifoQueue="true", ContentBasedDeduplication="true")
    numbers = []
    for body, group in (("a1", "a"), ("a2", "a"), ("b1", "b")):
        sent = sqs.send_message(QueueUrl=url, MessageBody=body, MessageGroupId=group)
        numbers.append(int(sent["SequenceNumber"]))
    assert numbers == sorted(numbers)
    again = sqs.send_message(QueueUrl=url, MessageBody="a1", MessageGroupId="a")
    by_id = sqs.send_message(
        QueueUrl=url, MessageBody="zz", MessageGroupId="c", MessageDeduplicationId="d1"
    )
    twice = sqs.send_message(
        QueueUrl=url, MessageBody="other", MessageGroupId="c", MessageDeduplicationId="d1"
    )
    assert twice["MessageId"] == by_id["MessageId"]
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"][0]
    assert first["Body"] == "a1" and first["MessageId"] == again["MessageId"]
    # Group a is in flight: its next message waits; other groups flow.
    rest = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in rest] == ["b1", "zz"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    after = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"][0]
    assert after["Body"] == "a2"
    assert after["Attributes"]["MessageGroupId"] == "a"
    assert after["Attributes"]["MessageDeduplicationId"] == hashlib.sha256(b"a2").hexdigest()
    code, _, _ = error_of(lambda: sqs.send_message(QueueUrl=url, MessageBody="no group"))
    assert code == "MissingParameter"
    plain = make_queue(".fifo", FifoQueue="true")
    code, message, _ = error_of(
        lambda: sqs.send_message(QueueUrl=plain, MessageBody="x", MessageGroupId="g")
    )
    assert code == "InvalidParameterValue" and "ContentBasedDeduplication" in message


def test_dead_letter_queue_and_redrive_back(sqs: Any, make_queue: QueueFactory) -> None:
    dlq = make_queue()
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    source = make_queue(RedrivePolicy=policy)
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [source]
    sqs.send_message(QueueUrl=source, MessageBody="poison")
    assert sqs.receive_message(QueueUrl=source, VisibilityTimeout=0)["Messages"]
    # Received once (maxReceiveCount): the next receive moves it instead of delivering it.
    assert "Messages" not in sqs.receive_message(QueueUrl=source)
    moved = sqs.receive_message(QueueUrl=dlq, VisibilityTimeout=0, AttributeNames=["All"])
    assert moved["Messages"][0]["Body"] == "poison"
    handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    assert handle
    tasks = wait_for(
        lambda: [
            t
            for t in sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
            if t["Status"] == "COMPLETED"
        ]
    )
    assert tasks[0]["ApproximateNumberOfMessagesMoved"] == 1
    back = sqs.receive_message(QueueUrl=source)["Messages"]
    assert back[0]["Body"] == "poison"
    # A dead-letter queue of another account is refused through the owner check.
    foreign = json.dumps(
        {
            "deadLetterTargetArn": dlq_arn.replace("000000000000", "111111111111"),
            "maxReceiveCount": 1,
        }
    )
    code, message, _ = error_of(
        lambda: sqs.set_queue_attributes(QueueUrl=source, Attributes={"RedrivePolicy": foreign})
    )
    assert code == "InvalidParameterValue" and "owner" in message


def test_purge_once_a_minute(sqs: Any, make_queue: QueueFactory) -> None:
    url = make_queue()
    sqs.send_message(QueueUrl=url, MessageBody="x")
    sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    code, _, status = error_of(lambda: sqs.purge_queue(QueueUrl=url))
    assert (code, status) == ("AWS.SimpleQueueService.PurgeQueueInProgress", 403)
