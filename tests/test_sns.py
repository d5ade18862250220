"""SNS over a live server with boto3: topics, subscriptions, Publish and PublishBatch, fan-out
to SQS queues and Lambda functions through their resource policies, filter policies, raw
delivery, FIFO topics, dead-letter queues and AWS's errors."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import FunctionFactory, Server

OTHER = "111111111111"


@pytest.fixture()
def sns(server: Server) -> Any:
    return server.client("sns")


@pytest.fixture()
def sqs(server: Server) -> Any:
    return server.client("sqs")


def error_of(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def allow_topic(queue_arn: str, topic_arn: str) -> str:
    """A queue policy letting SNS send for `topic_arn` (what AWS requires)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ],
        }
    )


class Queues:
    def __init__(self, sqs: Any) -> None:
        self.sqs = sqs
        self.made: list[str] = []

    def make(
        self, topic_arn: str | None = None, suffix: str = "", **attributes: str
    ) -> tuple[str, str]:
        """(url, arn) of a new queue, its policy allowing `topic_arn` if given."""
        if suffix == ".fifo":
            attributes.setdefault("FifoQueue", "true")
        url = self.sqs.create_queue(
            QueueName=f"q-{uuid.uuid4().hex[:12]}{suffix}", Attributes=attributes
        )["QueueUrl"]
        self.made.append(url)
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        if topic_arn is not None:
            self.sqs.set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": allow_topic(arn, topic_arn)}
            )
        return url, arn

    def drain(self, url: str, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        """Receive (and delete) `count` messages, waiting for them."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(got) < count and time.monotonic() < deadline:
            found = self.sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=10,
                WaitTimeSeconds=1,
                MessageAttributeNames=["All"],
                AttributeNames=["All"],
            ).get("Messages", [])
            for message in found:
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            got += found
        return got

    def empty(self, url: str) -> bool:
        return "Messages" not in self.sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)


@pytest.fixture()
def queues(sqs: Any) -> Iterator[Queues]:
    made = Queues(sqs)
    yield made
    for url in made.made:
        with contextlib.suppress(ClientError):
            sqs.delete_queue(QueueUrl=url)


@pytest.fixture()
def make_topic(sns: Any) -> Iterator[Callable[..., str]]:
    made: list[str] = []

    def make(suffix: str = "", **attributes: str) -> str:
        if suffix == ".fifo":
            attributes.setdefault("FifoTopic", "true")
        arn: str = sns.create_topic(
            Name=f"t-{uuid.uuid4().hex[:12]}{suffix}", Attributes=attributes
        )["TopicArn"]
        made.append(arn)
        return arn

    yield make
    for arn in made:
        sns.delete_topic(TopicArn=arn)


def test_topic_lifecycle_attributes_tags_and_permissions(sns: Any) -> None:
    name = f"t-{uuid.uuid4().hex[:12]}"
    arn = sns.create_topic(Name=name, Tags=[{"Key": "team", "Value": "a"}])["TopicArn"]
    assert arn == f"arn:aws:sns:us-east-1:000000000000:{name}"
    assert sns.create_topic(Name=name)["TopicArn"] == arn  # idempotent
    code, message, _ = error_of(
        lambda: sns.create_topic(Name=name, Attributes={"DisplayName": "other"})
    )
    assert (code, message) == (
        "InvalidParameter",
        "Invalid parameter: Attributes Reason: Topic already exists with different attributes",
    )
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["Owner"] == "000000000000"
    assert attributes["SubscriptionsConfirmed"] == "0"
    policy = json.loads(attributes["Policy"])
    assert policy["Id"] == "__default_policy_ID"
    assert policy["Statement"][0]["Condition"] == {
        "StringEquals": {"AWS:SourceOwner": "000000000000"}
    }
    assert "http" in json.loads(attributes["EffectiveDeliveryPolicy"])
    for key, value in (
        ("DisplayName", "My topic"),
        ("SignatureVersion", "2"),
        ("TracingConfig", "Active"),
        ("KmsMasterKeyId", "alias/aws/sns"),
        ("DeliveryPolicy", json.dumps({"http": {"defaultHealthyRetryPolicy": {"numRetries": 5}}})),
    ):
        sns.set_topic_attributes(TopicArn=arn, AttributeName=key, AttributeValue=value)
        assert sns.get_topic_attributes(TopicArn=arn)["Attributes"][key] == value
    # An empty value removes an attribute (DisplayName stays, empty; Policy returns to AWS's).
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DeliveryPolicy", AttributeValue="")
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="")
    after = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert "DeliveryPolicy" not in after and after["DisplayName"] == ""
    assert error_of(
        lambda: sns.set_topic_attributes(TopicArn=arn, AttributeName="Nope", AttributeValue="1")
    )[:2] == ("InvalidParameter", "Invalid parameter: AttributeName")
    assert (
        error_of(
            lambda: sns.set_topic_attributes(
                TopicArn=arn, AttributeName="SignatureVersion", AttributeValue="3"
            )
        )[0]
        == "InvalidParameter"
    )
    # Tags.
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    sns.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]
    assert error_of(lambda: sns.list_tags_for_resource(ResourceArn=arn + "-none")) == (
        "ResourceNotFound",
        "Resource does not exist",
        404,
    )
    # Permissions, as AWS writes them into the policy.
    sns.add_permission(TopicArn=arn, Label="pub", AWSAccountId=[OTHER], ActionName=["Publish"])
    statements = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])[
        "Statement"
    ]
    assert statements[1] == {
        "Sid": "pub",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
        "Action": "SNS:Publish",
        "Resource": arn,
    }
    assert error_of(
        lambda: sns.add_permission(
            TopicArn=arn, Label="pub", AWSAccountId=[OTHER], ActionName=["Publish"]
        )
    )[:2] == ("InvalidParameter", "Invalid parameter: Statement already exists")
    assert error_of(
        lambda: sns.add_permission(
            TopicArn=arn, Label="x", AWSAccountId=[OTHER], ActionName=["Fly"]
        )
    )[:2] == (
        "InvalidParameter",
        "Invalid parameter: Policy statement action out of service scope!",
    )
    sns.remove_permission(TopicArn=arn, Label="pub")
    policy = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["__default_statement_ID"]
    # Listing, then deleting (twice: AWS answers success for a topic that is gone).
    listed: list[str] = []
    kwargs: dict[str, str] = {}
    while True:
        page = sns.list_topics(**kwargs)
        listed += [t["TopicArn"] for t in page["Topics"]]
        if "NextToken" not in page:
            break
        kwargs = {"NextToken": page["NextToken"]}
    assert arn in listed
    sns.delete_topic(TopicArn=arn)
    sns.delete_topic(TopicArn=arn)
    assert error_of(lambda: sns.get_topic_attributes(TopicArn=arn)) == (
        "NotFound",
        "Topic does not exist",
        404,
    )


def test_list_topics_pages(sns: Any, server: Server) -> None:
    client = server.client("sns", region_name="eu-north-1")
    made = [client.create_topic(Name=f"p-{i:03d}")["TopicArn"] for i in range(105)]
    first = client.list_topics()
    assert len(first["Topics"]) == 100 and "NextToken" in first
    second = client.list_topics(NextToken=first["NextToken"])
    assert "NextToken" not in second
    assert sorted(t["TopicArn"] for t in first["Topics"] + second["Topics"]) == sorted(made)
    for arn in made:
        client.delete_topic(TopicArn=arn)


def test_subscriptions_and_their_attributes(
    sns: Any, make_topic: Callable[..., str], queues: Queues
) -> None:
    topic = make_topic()
    _, queue_arn = queues.make(topic)
    sub = sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    assert sub.startswith(topic + ":")
    again = sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    assert again["SubscriptionArn"] == sub  # idempotent
    assert error_of(
        lambda: sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"RawMessageDelivery": "false"},
        )
    )[:2] == (
        "InvalidParameter",
        "Invalid parameter: Attributes Reason: Subscription already exists with different "
        "attributes",
    )
    attributes = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attributes["RawMessageDelivery"] == "true"
    assert attributes["PendingConfirmation"] == "false"
    assert attributes["Protocol"] == "sqs" and attributes["Endpoint"] == queue_arn
    sns.set_subscription_attributes(
        SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue='{"a": ["b"]}'
    )
    attributes = sns.get_subscription_attributes(SubscriptionArn=sub)["Attributes"]
    assert attributes["FilterPolicy"] == '{"a": ["b"]}'
    assert attributes["FilterPolicyScope"] == "MessageAttributes"
    assert error_of(
        lambda: sns.set_subscription_attributes(
            SubscriptionArn=sub, AttributeName="Colour", AttributeValue="red"
        )
    )[:2] == ("InvalidParameter", "Invalid parameter: AttributeName")
    assert error_of(
        lambda: sns.set_subscription_attributes(
            SubscriptionArn=sub, AttributeName="RawMessageDelivery", AttributeValue="yes"
        )
    )[:2] == (
        "InvalidParameter",
        "Invalid parameter: RawMessageDelivery: Invalid value [yes]. Must be true or false.",
    )
    # http(s): pending until confirmed.
    pending = sns.subscribe(TopicArn=topic, Protocol="https", Endpoint="https://example.com/hook")
    assert pending["SubscriptionArn"] == "pending confirmation"
    counts = sns.get_topic_attributes(TopicArn=topic)["Attributes"]
    assert (counts["SubscriptionsConfirmed"], counts["SubscriptionsPending"]) == ("1", "1")
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sorted(s["SubscriptionArn"] for s in listed) == sorted([sub, "PendingConfirmation"])
    mine = [s["SubscriptionArn"] for s in sns.list_subscriptions()["Subscriptions"]]
    assert sub in mine
    # Protocols Fireside does not deliver to, and endpoints that do not fit.
    code, message, _ = error_of(
        lambda: sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="a@example.com")
    )
    assert code == "InvalidParameter" and "email" in message and "Fireside" in message
    assert error_of(lambda: sns.subscribe(TopicArn=topic, Protocol="pigeon", Endpoint="x"))[:2] == (
        "InvalidParameter",
        "Invalid parameter: Amazon SNS does not support this protocol string: pigeon",
    )
    assert error_of(lambda: sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint="queue"))[
        :2
    ] == ("InvalidParameter", "Invalid parameter: SQS endpoint ARN")
    assert error_of(lambda: sns.subscribe(TopicArn=topic, Protocol="http", Endpoint="https://x"))[
        :2
    ] == ("InvalidParameter", "Invalid parameter: Endpoint must match the specified protocol")
    assert (
        error_of(
            lambda: sns.subscribe(
                TopicArn=topic,
                Protocol="sqs",
                Endpoint=queue_arn.replace(queue_arn.rsplit(":", 1)[1], "q.fifo"),
            )
        )[0]
        == "InvalidParameter"
    )
    sns.unsubscribe(SubscriptionArn=sub)
    assert error_of(lambda: sns.get_subscription_attributes(SubscriptionArn=sub)) == (
        "NotFound",
        "Subscription does not exist",
        404,
    )
    assert sns.get_topic_attributes(TopicArn=topic)["Attributes"]["SubscriptionsDeleted"] == "1"


def test_sqs_delivery_needs_the_queue_policy(
    sns: Any, make_topic: Callable[..., str], queues: Queues, server: Server
) -> None:
    topic = make_topic()
    url, queue_arn = queues.make()  # no policy: SNS may not send
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
    failed = server.health()["sns_failed_deliveries"]
    sns.publish(TopicArn=topic, Message="refused")
    assert server.health()["sns_failed_deliveries"] == failed + 1
    assert queues.empty(url)
    queues.sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": allow_topic(queue_arn, topic)}
    )
    published = sns.publish(
        TopicArn=topic,
        Message="hello",
        Subject="greeting",
        MessageAttributes={
            "colour": {"DataType": "String", "StringValue": "red"},
            "size": {"DataType": "Number", "StringValue": "3"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    (message,) = queues.drain(url, 1)
    body = json.loads(message["Body"])
    assert body["Type"] == "Notification"
    assert body["MessageId"] == published["MessageId"]
    assert (body["TopicArn"], body["Subject"], body["Message"]) == (topic, "greeting", "hello")
    assert body["Timestamp"].endswith("Z")
    assert body["UnsubscribeURL"] == (
        f"{server.endpoint}/?Action=Unsubscribe&SubscriptionArn={sub}"
    )
    # AWS's order of the fields (the signature's, when signed, before UnsubscribeURL).
    signature = ["SignatureVersion", "Signature", "SigningCertURL"] if "Signature" in body else []
    assert list(body) == [
        "Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp", *signature,
        "UnsubscribeURL", "MessageAttributes",
    ]  # fmt: skip
    assert body["MessageAttributes"] == {
        "colour": {"Type": "String", "Value": "red"},
        "size": {"Type": "Number", "Value": "3"},
        "blob": {"Type": "Binary", "Value": "AAE="},
    }
    assert server.health()["sns_failed_deliveries"] == failed + 1


def test_raw_delivery_carries_attributes(
    sns: Any, make_topic: Callable[..., str], queues: Queues
) -> None:
    topic = make_topic()
    url, queue_arn = queues.make(topic)
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    sns.publish(
        TopicArn=topic,
        Message="just this",
        MessageAttributes={
            "colour": {"DataType": "String", "StringValue": "red"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    (message,) = queues.drain(url, 1)
    assert message["Body"] == "just this"
    assert message["MessageAttributes"] == {
        "colour": {"DataType": "String", "StringValue": "red"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }


def test_message_structure_json(sns: Any, make_topic: Callable[..., str], queues: Queues) -> None:
    topic = make_topic()
    url, queue_arn = queues.make(topic)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    sns.publish(
        TopicArn=topic,
        MessageStructure="json",
        Message=json.dumps({"default": "everyone", "sqs": "queues only"}),
    )
    (message,) = queues.drain(url, 1)
    assert json.loads(message["Body"])["Message"] == "queues only"
    assert error_of(
        lambda: sns.publish(
            TopicArn=topic, MessageStructure="json", Message=json.dumps({"sqs": "x"})
        )
    )[:2] == (
        "InvalidParameter",
        "Invalid parameter: Message Structure - No default entry in JSON message body",
    )
    assert error_of(
        lambda: sns.publish(TopicArn=topic, MessageStructure="json", Message="not json")
    )[:2] == (
        "InvalidParameter",
        "Invalid parameter: Message Structure - JSON message body failed to parse",
    )


FILTERS: list[tuple[str, str, dict[str, Any], bool]] = [
    # (scope, policy, attributes or body, delivered?)
    ("MessageAttributes", '{"colour": ["red", "blue"]}', {"colour": ("String", "red")}, True),
    ("MessageAttributes", '{"colour": ["red"]}', {"colour": ("String", "green")}, False),
    ("MessageAttributes", '{"colour": ["red"]}', {}, False),
    ("MessageAttributes", '{"tags": ["b"]}', {"tags": ("String.Array", '["a", "b"]')}, True),
    ("MessageAttributes", '{"tags": ["c"]}', {"tags": ("String.Array", '["a", "b"]')}, False),
    (
        "MessageAttributes",
        '{"n": [{"numeric": [">", 5, "<=", 10]}]}',
        {"n": ("Number", "10")},
        True,
    ),
    ("MessageAttributes", '{"n": [{"numeric": [">", 5]}]}', {"n": ("Number", "5")}, False),
    ("MessageAttributes", '{"n": [{"numeric": ["=", 5]}]}', {"n": ("String", "5")}, False),
    ("MessageAttributes", '{"c": [{"prefix": "re"}]}', {"c": ("String", "red")}, True),
    ("MessageAttributes", '{"c": [{"anything-but": ["red"]}]}', {"c": ("String", "blue")}, True),
    ("MessageAttributes", '{"c": [{"anything-but": ["red"]}]}', {"c": ("String", "red")}, False),
    ("MessageAttributes", '{"c": [{"exists": true}]}', {"c": ("String", "x")}, True),
    ("MessageAttributes", '{"c": [{"exists": false}]}', {"c": ("String", "x")}, False),
    ("MessageAttributes", '{"c": [{"exists": false}]}', {"d": ("String", "x")}, True),
    ("MessageBody", '{"order": {"kind": ["book"]}}', {"order": {"kind": "book"}}, True),
    ("MessageBody", '{"order": {"kind": ["book"]}}', {"order": {"kind": "cd"}}, False),
    ("MessageBody", '{"n": [{"numeric": [">=", 1]}]}', {"n": 2}, True),
    # Numbers compare to five decimal places; a String.Array of one JSON value is that value.
    ("MessageAttributes", '{"p": [100.123456789]}', {"p": ("Number", "100.1234567")}, True),
    ("MessageAttributes", '{"p": [100.12]}', {"p": ("Number", "100.13")}, False),
    ("MessageAttributes", '{"p": [100]}', {"p": ("String.Array", "100")}, True),
    ("MessageAttributes", '{"p": ["one"]}', {"p": ("String.Array", "one")}, False),
    ("MessageBody", "{}", {"anything": 1}, True),
]


def test_filter_policies(sns: Any, make_topic: Callable[..., str], queues: Queues) -> None:
    cases = []
    for scope, policy, given, expected in FILTERS:  # a topic each: one subscriber's view
        topic = make_topic()
        url, queue_arn = queues.make(topic)
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={"FilterPolicy": policy, "FilterPolicyScope": scope},
        )
        if scope == "MessageBody":
            sns.publish(TopicArn=topic, Message=json.dumps(given))
        else:
            attributes = {
                name: {"DataType": kind, "StringValue": value}
                for name, (kind, value) in given.items()
            }
            sns.publish(TopicArn=topic, Message="case", MessageAttributes=attributes)
        cases.append((url, policy, given, expected))
    # Every queue waits for its message at once: 1 s for one that should stay empty.
    with concurrent.futures.ThreadPoolExecutor(10) as pool:  # botocore pools 10 connections
        got = list(pool.map(lambda case: queues.drain(case[0], 1, 1 if not case[3] else 10), cases))
    for (_, policy, given, expected), messages in zip(cases, got, strict=True):
        assert bool(messages) == expected, (policy, given)


def test_bad_filter_policies(sns: Any, make_topic: Callable[..., str], queues: Queues) -> None:
    topic = make_topic()
    _, queue_arn = queues.make(topic)

    def subscribe(policy: str, scope: str = "MessageAttributes") -> tuple[str, str, int]:
        return error_of(
            lambda: sns.subscribe(
                TopicArn=topic,
                Protocol="sqs",
                Endpoint=queue_arn,
                Attributes={"FilterPolicy": policy, "FilterPolicyScope": scope},
            )
        )

    reason = "Invalid parameter: Attributes Reason: FilterPolicy: "  # Subscribe's wording
    assert subscribe("{nope") == ("InvalidParameter", reason + "failed to parse JSON.", 400)
    assert subscribe('{"a": {"b": ["c"]}}')[1] == (
        "Invalid parameter: Filter policy scope MessageAttributes does not support nested "
        "filter policy"
    )
    six = json.dumps({k: ["x"] for k in "abcdef"})
    assert subscribe(six)[1] == reason + "Filter policy can not have more than 5 keys"
    # A nested (body) policy counts its top-level keys only: six keys under one are fine.
    nested = json.dumps({"top": {k: ["x"] for k in "abcdef"}})
    assert sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"FilterPolicy": nested, "FilterPolicyScope": "MessageBody"},
    )["SubscriptionArn"]
    too_many = {"a": list(range(20)), "b": list(range(20))}
    assert subscribe(json.dumps(too_many))[1] == reason + "Filter policy is too complex"
    assert subscribe('{"a": [{"exists": "yes"}]}')[1] == (
        reason + "exists match pattern must be either true or false."
    )
    assert subscribe('{"a": [{"nope": 1}]}')[1] == reason + "Unrecognized match type nope"
    assert subscribe('{"a": [{"wildcard": "x*"}]}')[1] == (
        reason + "Unrecognized match type wildcard"  # EventBridge's, not SNS's
    )
    assert subscribe('{"a": ["b"]}', "Everything")[1] == (
        "Invalid parameter: Attributes Reason: FilterPolicyScope: Invalid value [Everything]. "
        "Please use either MessageBody or MessageAttributes"
    )
    # SetSubscriptionAttributes names the attribute without "Attributes Reason".
    sub = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]["SubscriptionArn"]
    assert error_of(
        lambda: sns.set_subscription_attributes(
            SubscriptionArn=sub, AttributeName="FilterPolicy", AttributeValue=six
        )
    )[1] == ("Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys")
    assert error_of(
        lambda: sns.set_subscription_attributes(
            SubscriptionArn=sub, AttributeName="FilterPolicyScope", AttributeValue="Everything"
        )
    )[1] == (
        "Invalid parameter: FilterPolicyScope: Invalid value [Everything]. Please use either "
        "MessageBody or MessageAttributes"
    )
    # AWS's count: each list's length times its key's depth, multiplied: (2x2)^3 x (3x2) = 384.
    deep = {"o": {k: ["x", "y"] for k in "abc"}, "p": {"q": ["1", "2", "3"]}}
    assert subscribe(json.dumps(deep), "MessageBody")[1] == reason + "Filter policy is too complex"


def test_fifo_topic_to_fifo_queue_keeps_order_and_deduplicates(
    sns: Any, make_topic: Callable[..., str], queues: Queues
) -> None:
    topic = make_topic(".fifo")
    url, queue_arn = queues.make(topic, ".fifo")
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    sequences = []
    for i in range(12):
        answer = sns.publish(
            TopicArn=topic, Message=f"m{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}"
        )
        sequences.append(answer["SequenceNumber"])
    assert sequences == sorted(sequences) and len(set(sequences)) == 12
    repeat = sns.publish(
        TopicArn=topic, Message="m0 again", MessageGroupId="g", MessageDeduplicationId="d0"
    )
    assert repeat["SequenceNumber"] == sequences[0]
    got = []
    deadline = time.monotonic() + 10
    while len(got) < 12 and time.monotonic() < deadline:
        for message in queues.drain(url, 1, timeout=2):
            got.append(message)
    assert [m["Body"] for m in got] == [f"m{i}" for i in range(12)]
    assert all(m["Attributes"]["MessageGroupId"] == "g" for m in got)
    # A FIFO subscription's dead-letter queue must be FIFO too (AWS's rule).
    sub = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]["SubscriptionArn"]
    standard_dlq = queue_arn.replace(".fifo", "-dlq")
    assert error_of(
        lambda: sns.set_subscription_attributes(
            SubscriptionArn=sub,
            AttributeName="RedrivePolicy",
            AttributeValue=json.dumps({"deadLetterTargetArn": standard_dlq}),
        )
    )[:2] == (
        "InvalidParameter",
        "Invalid parameter: RedrivePolicy: must use a FIFO queue as DLQ for a FIFO Subscription "
        "to a FIFO Topic.",
    )
    assert got[0]["Attributes"]["MessageDeduplicationId"] == "d0"
    assert queues.empty(url)
    # FIFO rules.
    assert error_of(lambda: sns.publish(TopicArn=topic, Message="x"))[:2] == (
        "InvalidParameter",
        "Invalid parameter: The MessageGroupId parameter is required for FIFO topics",
    )
    assert error_of(lambda: sns.publish(TopicArn=topic, Message="x", MessageGroupId="g"))[:2] == (
        "InvalidParameter",
        "Invalid parameter: The topic should either have ContentBasedDeduplication enabled or "
        "MessageDeduplicationId provided explicitly",
    )
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="ContentBasedDeduplication", AttributeValue="true"
    )
    first = sns.publish(TopicArn=topic, Message="same", MessageGroupId="g")
    second = sns.publish(TopicArn=topic, Message="same", MessageGroupId="g")
    assert first["MessageId"] == second["MessageId"]
    assert error_of(lambda: sns.create_topic(Name="no-suffix", Attributes={"FifoTopic": "true"}))[
        :2
    ] == ("InvalidParameter", "Invalid parameter: Topic Name")


def test_dead_letter_queue_takes_refused_deliveries(
    sns: Any, make_topic: Callable[..., str], queues: Queues, server: Server
) -> None:
    topic = make_topic()
    dlq_url, dlq_arn = queues.make(topic)
    _, gone_arn = queues.make(topic)
    queues.sqs.delete_queue(QueueUrl=queues.made[-1])
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=gone_arn,
        Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn})},
    )
    before = server.health()
    sns.publish(TopicArn=topic, Message="to nowhere")
    (message,) = queues.drain(dlq_url, 1)
    assert json.loads(message["Body"])["Message"] == "to nowhere"
    after = server.health()
    assert after["sns_dead_lettered"] == before["sns_dead_lettered"] + 1
    assert after["sns_failed_deliveries"] == before["sns_failed_deliveries"]
    assert (
        error_of(
            lambda: sns.subscribe(
                TopicArn=topic,
                Protocol="sqs",
                Endpoint=dlq_arn,
                Attributes={"RedrivePolicy": json.dumps({"deadLetterTargetArn": "nope"})},
            )
        )[0]
        == "InvalidParameter"
    )


RECORDER = """
import json, os, boto3
def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["QUEUE"], MessageBody=json.dumps(event))
"""


def test_lambda_subscription_needs_the_function_policy(
    sns: Any,
    make_topic: Callable[..., str],
    queues: Queues,
    make_function: FunctionFactory,
    lam: Any,
    server: Server,
) -> None:
    topic = make_topic()
    url, _ = queues.make()
    name = make_function(RECORDER, Environment={"Variables": {"QUEUE": url}})
    function_arn = lam.get_function(FunctionName=name)["Configuration"]["FunctionArn"]
    sub = sns.subscribe(TopicArn=topic, Protocol="lambda", Endpoint=function_arn)["SubscriptionArn"]
    failed = server.health()["sns_failed_deliveries"]
    sns.publish(TopicArn=topic, Message="refused")
    assert server.health()["sns_failed_deliveries"] == failed + 1
    lam.add_permission(
        FunctionName=name,
        StatementId="sns",
        Action="lambda:InvokeFunction",
        Principal="sns.amazonaws.com",
        SourceArn=topic,
    )
    sns.publish(
        TopicArn=topic,
        Message="to the function",
        MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}},
    )
    (message,) = queues.drain(url, 1, timeout=60)
    event = json.loads(message["Body"])
    (record,) = event["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == sub
    assert record["Sns"]["Message"] == "to the function"
    assert record["Sns"]["TopicArn"] == topic
    assert record["Sns"]["Subject"] is None
    assert record["Sns"]["MessageAttributes"] == {"k": {"Type": "String", "Value": "v"}}
    assert queues.empty(url)  # the refused message was not retried into the function


def test_publish_batch(sns: Any, make_topic: Callable[..., str], queues: Queues) -> None:
    topic = make_topic()
    url, queue_arn = queues.make(topic)
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    answer = sns.publish_batch(
        TopicArn=topic,
        PublishBatchRequestEntries=[
            {"Id": "a", "Message": "one"},
            {"Id": "b", "Message": "two", "Subject": "s"},
        ],
    )
    assert sorted(e["Id"] for e in answer["Successful"]) == ["a", "b"]
    assert answer["Failed"] == []
    assert sorted(m["Body"] for m in queues.drain(url, 2)) == ["one", "two"]
    # One malformed entry fails the whole request, as on AWS: nothing is published.
    assert error_of(
        lambda: sns.publish_batch(
            TopicArn=topic,
            PublishBatchRequestEntries=[
                {"Id": "a", "Message": "fine"},
                {
                    "Id": "b",
                    "Message": "x",
                    "MessageAttributes": {"attr1": {"DataType": "String", "StringValue": ""}},
                },
            ],
        )
    ) == (
        "ParameterValueInvalid",
        "The message attribute 'attr1' must contain non-empty message attribute value for "
        "message attribute type 'String'.",
        400,
    )
    assert queues.empty(url)
    entries = [{"Id": str(i), "Message": "x"} for i in range(11)]
    assert error_of(lambda: sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries))[
        :2
    ] == (
        "TooManyEntriesInBatchRequest",
        "The batch request contains more entries than permissible.",
    )
    assert (
        error_of(
            lambda: sns.publish_batch(
                TopicArn=topic,
                PublishBatchRequestEntries=[
                    {"Id": "a", "Message": "x"},
                    {"Id": "a", "Message": "y"},
                ],
            )
        )[0]
        == "BatchEntryIdsNotDistinct"
    )
    assert error_of(
        lambda: sns.publish_batch(
            TopicArn=topic, PublishBatchRequestEntries=[{"Id": "message.id", "Message": "x"}]
        )
    )[:2] == (
        "InvalidBatchEntryId",
        "The Id of a batch entry in the batch request contains an impermissible character: "
        "message.id",
    )
    big = "x" * (200 * 1024)
    assert (
        error_of(
            lambda: sns.publish_batch(
                TopicArn=topic,
                PublishBatchRequestEntries=[
                    {"Id": "a", "Message": big},
                    {"Id": "b", "Message": big},
                ],
            )
        )[0]
        == "BatchRequestTooLong"
    )


def test_bad_input_gets_aws_errors(sns: Any, make_topic: Callable[..., str]) -> None:
    topic = make_topic()
    missing = topic + "-missing"
    assert error_of(lambda: sns.publish(TopicArn=missing, Message="x")) == (
        "NotFound",
        "Topic does not exist",
        404,
    )
    assert error_of(lambda: sns.publish(TopicArn=topic, Message="x" * (256 * 1024 + 1)))[:2] == (
        "InvalidParameter",
        "Invalid parameter: Message too long",
    )
    # The cap counts attributes too.
    assert error_of(
        lambda: sns.publish(
            TopicArn=topic,
            Message="x" * (256 * 1024 - 10),
            MessageAttributes={"name": {"DataType": "String", "StringValue": "value"}},
        )
    )[:2] == ("InvalidParameter", "Invalid parameter: Message too long")
    assert sns.publish(TopicArn=topic, Message="x" * (256 * 1024))["MessageId"]
    assert error_of(lambda: sns.publish(TopicArn=topic, Message=""))[:2] == (
        "InvalidParameter",
        "Invalid parameter: Empty message",
    )
    assert error_of(lambda: sns.publish(TopicArn=topic, Message="x", Subject="a\nb"))[:2] == (
        "InvalidParameter",
        "Invalid parameter: Subject",
    )
    assert error_of(
        lambda: sns.publish(
            TopicArn=topic,
            Message="x",
            MessageAttributes={"n": {"DataType": "Number", "StringValue": "ten"}},
        )
    ) == ("ParameterValueInvalid", "Could not cast message attribute 'n' value to number.", 400)
    assert (
        error_of(
            lambda: sns.publish(
                TopicArn=topic,
                Message="x",
                MessageAttributes={"n": {"DataType": "Float", "StringValue": "1"}},
            )
        )[0]
        == "ParameterValueInvalid"
    )
    assert (
        error_of(lambda: sns.publish(TopicArn=topic, Message="x", MessageDeduplicationId="d"))[0]
        == "InvalidParameter"
    )
    code, message, _ = error_of(lambda: sns.publish(PhoneNumber="+15555550100", Message="x"))
    assert code == "InvalidParameter" and "SMS" in message
    code, message, _ = error_of(
        lambda: sns.publish(
            TargetArn="arn:aws:sns:us-east-1:000000000000:endpoint/GCM/app/1", Message="x"
        )
    )
    assert code == "InvalidParameter" and "endpoint" in message
    assert sns.publish(TargetArn=topic, Message="a topic as target")["MessageId"]
    assert error_of(lambda: sns.create_topic(Name="bad name"))[:2] == (
        "InvalidParameter",
        "Invalid parameter: Topic Name",
    )
    # A regional endpoint serves its own region's topics (AWS: InvalidParameter, not NotFound).
    assert error_of(
        lambda: sns.publish(TopicArn=topic.replace("us-east-1", "eu-west-1"), Message="x")
    )[:2] == ("InvalidParameter", "Invalid parameter: TopicArn")
    assert error_of(
        lambda: sns.tag_resource(
            ResourceArn=topic, Tags=[{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]
        )
    )[:2] == ("InvalidParameter", "Invalid parameter: Duplicated keys are not allowed.")
    for arn, message in (
        ("", "Invalid parameter: SubscriptionArn Reason: no value for required parameter"),
        ("nope", "Invalid parameter: SubscriptionArn Reason: An ARN must have at least 6 "
         "elements, not 1"),
        (topic, "Invalid parameter: SubscriptionId"),
    ):  # fmt: skip
        assert error_of(lambda arn=arn: sns.unsubscribe(SubscriptionArn=arn))[:2] == (
            "InvalidParameter",
            message,
        )
    assert error_of(lambda: sns.get_topic_attributes(TopicArn="not-an-arn"))[:2] == (
        "InvalidParameter",
        "Invalid parameter: TopicArn Reason: An ARN must have at least 6 elements, not 1",
    )
    # Attribute names and fields, in AWS's words.
    for name, attribute, message in (
        (".a", {"DataType": "String", "StringValue": "v"}, "Invalid message attribute name "
         "starting with character '.' was found."),
        ("a..b", {"DataType": "String", "StringValue": "v"}, "Message attribute name can not "
         "have successive '.' character."),
        ("a^b", {"DataType": "String", "StringValue": "v"}, "Invalid non-alphanumeric "
         "character '#x5E' was found in the message attribute name. Can only include "
         "alphanumeric characters, hyphens, underscores, or dots."),
        ("a", {"DataType": "String", "BinaryValue": b"v"}, "The message attribute 'a' with "
         "type 'String' must use field 'String'."),
    ):  # fmt: skip
        assert error_of(
            lambda name=name, attribute=attribute: sns.publish(
                TopicArn=topic, Message="x", MessageAttributes={name: attribute}
            )
        ) == ("ParameterValueInvalid", message, 400)


def test_eventbridge_publishes_through_the_topic_policy(
    sns: Any, make_topic: Callable[..., str], queues: Queues, server: Server
) -> None:
    topic = make_topic()
    url, queue_arn = queues.make(topic)
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=queue_arn,
        Attributes={"RawMessageDelivery": "true"},
    )
    events = server.client("events")
    rule = f"r-{uuid.uuid4().hex[:8]}"
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps({"source": ["my.app"]}))[
        "RuleArn"
    ]
    events.put_targets(Rule=rule, Targets=[{"Id": "t", "Arn": topic}])
    entry = {"Source": "my.app", "DetailType": "d", "Detail": "{}"}
    failed = server.health()["events_failed_invocations"]
    events.put_events(Entries=[entry])  # the default topic policy does not name EventBridge
    assert server.health()["events_failed_invocations"] == failed + 1
    policy = json.loads(sns.get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    policy["Statement"].append(
        {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sns:Publish",
            "Resource": topic,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
        }
    )
    sns.set_topic_attributes(
        TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy)
    )
    events.put_events(Entries=[entry])
    (message,) = queues.drain(url, 1)
    assert json.loads(message["Body"])["source"] == "my.app"
    events.remove_targets(Rule=rule, Ids=["t"])
    events.delete_rule(Name=rule)


def test_another_account_reaches_a_topic_only_through_its_policy(
    sns: Any, make_topic: Callable[..., str], server: Server
) -> None:
    topic = make_topic()
    other_sns = server.client("sns", aws_access_key_id=OTHER)
    other_sqs = server.client("sqs", aws_access_key_id=OTHER)
    other = Queues(other_sqs)
    url, queue_arn = other.make(topic)  # B's queue allows A's topic
    assert queue_arn.split(":")[4] == OTHER
    code, message, status = error_of(lambda: other_sns.publish(TopicArn=topic, Message="x"))
    assert (code, status) == ("AuthorizationError", 403)
    assert f"arn:aws:iam::{OTHER}:root" in message
    assert (
        error_of(lambda: other_sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn))[0]
        == "AuthorizationError"
    )
    assert topic not in [t["TopicArn"] for t in other_sns.list_topics()["Topics"]]
    # The topic's owner subscribes B's queue: confirmed at once; B's queue policy decides.
    sub = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)["SubscriptionArn"]
    assert sub.startswith(topic)
    sns.publish(TopicArn=topic, Message="across")
    (received,) = other.drain(url, 1)
    assert json.loads(received["Body"])["Message"] == "across"
    # A grant lets B publish and subscribe.
    sns.add_permission(
        TopicArn=topic, Label="b", AWSAccountId=[OTHER], ActionName=["Publish", "Subscribe"]
    )
    other_sns.publish(TopicArn=topic, Message="from b")
    (received,) = other.drain(url, 1)
    assert json.loads(received["Body"])["Message"] == "from b"
    other_url, other_arn = other.make(topic)
    mine = other_sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=other_arn)
    listed = other_sns.list_subscriptions()["Subscriptions"]
    assert mine["SubscriptionArn"] in [s["SubscriptionArn"] for s in listed]
    assert all(s["Owner"] == OTHER for s in listed)
    for queue in other.made:
        other_sqs.delete_queue(QueueUrl=queue)
    del other_url
