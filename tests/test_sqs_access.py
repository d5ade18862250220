"""SQS across accounts: a queue's policy decides what another account may do with it
(AddPermission/RemovePermission write that policy as AWS does), the owner may always; a
malformed policy is refused; a deleted queue's name waits 60 s.

Two accounts on one server: the default key acts as 000000000000, a 12-digit key as that
account (`fireside.aws.auth.account_for_access_key`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fireside.sqs.queues import Queue
from fireside.sqs.targets import may_send
from fireside.targets import Sender
from tests.conftest import Server

OWNER = "000000000000"
OTHER = "111111111111"


def error_of(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


@pytest.fixture()
def owner(server: Server) -> Any:
    return server.client("sqs")


@pytest.fixture()
def other(server: Server) -> Any:
    return server.client("sqs", aws_access_key_id=OTHER)


def make(sqs: Any) -> tuple[str, str, str]:
    name = f"acc-{uuid.uuid4().hex[:10]}"
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return name, url, arn


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_another_account_does_what_the_queue_policy_allows(owner: Any, other: Any) -> None:
    name, url, arn = make(owner)
    denied = ("AccessDenied", f"Access to the resource {url} is denied.", 403)
    assert error_of(lambda: other.send_message(QueueUrl=url, MessageBody="x")) == denied
    hidden = error_of(lambda: other.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=OWNER))
    assert hidden == (
        "AWS.SimpleQueueService.NonExistentQueue",
        "The specified queue does not exist or you do not have access to it.",
        400,
    )
    # SendMessage to the other account's root: sends (single and batch), nothing else.
    owner.set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "Policy": policy(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                }
            )
        },
    )
    other.send_message(QueueUrl=url, MessageBody="one")
    batch = other.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "two"}])
    assert [e["Id"] for e in batch["Successful"]] == ["a"]
    assert error_of(lambda: other.receive_message(QueueUrl=url)) == denied
    assert error_of(lambda: other.purge_queue(QueueUrl=url)) == denied
    # Everyone, every action; an explicit Deny of one action still wins.
    owner.set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "Policy": policy(
                {"Effect": "Allow", "Principal": "*", "Action": "sqs:*", "Resource": arn},
                {
                    "Effect": "Deny",
                    "Principal": {"AWS": OTHER},
                    "Action": "SQS:DeleteMessage",
                    "Resource": arn,
                },
            )
        },
    )
    assert other.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=OWNER)["QueueUrl"] == url
    got = other.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in got) == ["one", "two"]
    receipt = got[0]["ReceiptHandle"]
    assert error_of(lambda: other.delete_message(QueueUrl=url, ReceiptHandle=receipt)) == denied
    # The owner needs no statement; what AWS grants no other account stays the owner's,
    # whatever the policy says.
    owner.delete_message(QueueUrl=url, ReceiptHandle=receipt)
    assert error_of(lambda: other.delete_queue(QueueUrl=url)) == denied
    assert error_of(lambda: other.tag_queue(QueueUrl=url, Tags={"a": "b"})) == denied
    # A policy for another resource grants nothing here.
    owner.set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "Policy": policy(
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "sqs:*",
                    "Resource": arn + "-other",
                }
            )
        },
    )
    assert error_of(lambda: other.send_message(QueueUrl=url, MessageBody="x")) == denied
    # The other account's own queues are not the owner's either.
    _, theirs, _ = make(other)
    assert error_of(lambda: owner.send_message(QueueUrl=theirs, MessageBody="x"))[0] == (
        "AccessDenied"
    )


def test_add_and_remove_permission(owner: Any, other: Any) -> None:
    name, url, arn = make(owner)
    owner.add_permission(
        QueueUrl=url, Label="senders", AWSAccountIds=[OTHER], Actions=["SendMessage"]
    )
    owner.add_permission(
        QueueUrl=url,
        Label="readers",
        AWSAccountIds=[OTHER, "222222222222"],
        Actions=["ReceiveMessage", "GetQueueUrl"],
    )
    document = json.loads(
        owner.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"]
    )
    assert document["Version"] == "2012-10-17"
    assert document["Statement"] == [
        {
            "Sid": "senders",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
            "Action": "SQS:SendMessage",
            "Resource": arn,
        },
        {
            "Sid": "readers",
            "Effect": "Allow",
            "Principal": {"AWS": [f"arn:aws:iam::{OTHER}:root", "arn:aws:iam::222222222222:root"]},
            "Action": ["SQS:ReceiveMessage", "SQS:GetQueueUrl"],
            "Resource": arn,
        },
    ]
    other.send_message(QueueUrl=url, MessageBody="granted")
    assert other.receive_message(QueueUrl=url)["Messages"][0]["Body"] == "granted"
    assert other.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=OWNER)["QueueUrl"] == url

    def add(label: str, actions: list[str], accounts: list[str] | None = None) -> Any:
        return lambda: owner.add_permission(
            QueueUrl=url, Label=label, AWSAccountIds=accounts or [OTHER], Actions=actions
        )

    assert error_of(add("senders", ["SendMessage"])) == (
        "InvalidParameterValue",
        "Value senders for parameter Label is invalid. Reason: Already exists.",
        400,
    )
    assert error_of(add("x", ["DeleteQueue"])) == (
        "InvalidParameterValue",
        "Value SQS:DeleteQueue for parameter ActionName is invalid. Reason: Only the queue "
        "owner is allowed to invoke this action.",
        400,
    )
    assert error_of(add("x", ["Fly"]))[1] == (
        "Value SQS:Fly for parameter ActionName is invalid. Reason: Please refer to the "
        "appropriate WSDL for a list of valid actions."
    )
    assert error_of(add("x", ["SendMessage"] * 8)) == (
        "OverLimit",
        "8 Actions were found, maximum allowed is 7.",
        403,
    )
    assert error_of(add("x", ["SendMessage"], ["nobody"]))[0] == "InvalidParameterValue"
    # Only the owner edits the policy.
    assert error_of(
        lambda: other.add_permission(
            QueueUrl=url, Label="mine", AWSAccountIds=[OTHER], Actions=["*"]
        )
    )[0] == ("AccessDenied")
    owner.remove_permission(QueueUrl=url, Label="senders")
    assert error_of(lambda: other.send_message(QueueUrl=url, MessageBody="x"))[0] == (
        "AccessDenied"
    )
    assert error_of(lambda: owner.remove_permission(QueueUrl=url, Label="senders")) == (
        "InvalidParameterValue",
        "Value senders for parameter Label is invalid. Reason: can't find label on existing "
        "policy.",
        400,
    )
    owner.remove_permission(QueueUrl=url, Label="readers")
    attributes = owner.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert "Policy" not in attributes


def test_a_malformed_policy_is_refused(owner: Any) -> None:
    bad = ("InvalidAttributeValue", "Invalid value for the parameter Policy.", 400)
    name = f"acc-{uuid.uuid4().hex[:10]}"
    for value in ("not json", "[]", '{"Statement": [{"Effect": "Maybe"}]}'):
        assert (
            error_of(lambda v=value: owner.create_queue(QueueName=name, Attributes={"Policy": v}))
            == bad
        )
    _, url, _ = make(owner)
    assert (
        error_of(lambda: owner.set_queue_attributes(QueueUrl=url, Attributes={"Policy": "{"}))
        == bad
    )


def test_a_deleted_queues_name_waits_60_seconds(owner: Any) -> None:
    name, url, _ = make(owner)
    owner.delete_queue(QueueUrl=url)
    assert error_of(lambda: owner.create_queue(QueueName=name)) == (
        "AWS.SimpleQueueService.QueueDeletedRecently",
        "You must wait 60 seconds after deleting a queue before you can create another with "
        "the same name.",
        400,
    )
    # Another name, or the same name in another account, is free.
    assert owner.create_queue(QueueName=name + "-2")["QueueUrl"]


def test_deliveries_from_other_services_are_judged_by_the_same_policy() -> None:
    """`fireside.sqs.targets.may_send` (SNS, EventBridge, Lambda destinations) asks
    `access.may`, as requests do."""
    queue = Queue(OWNER, "us-east-1", "q", {}, {}, 0, 0)
    rule = f"arn:aws:events:us-east-1:{OWNER}:rule/r"
    own_role = Sender(OWNER, "us-east-1")
    foreign_role = Sender(OTHER, "us-east-1")
    events = Sender(OWNER, "us-east-1", "events.amazonaws.com", rule)
    assert may_send(queue, own_role)
    assert not may_send(queue, foreign_role)
    assert not may_send(queue, events)  # a service needs a statement, even in the account
    queue.attributes["Policy"] = policy(
        {
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue.arn,
            "Condition": {"ArnEquals": {"aws:SourceArn": rule}},
        },
        {
            "Effect": "Allow",
            "Principal": {"AWS": OTHER},
            "Action": "sqs:SendMessage",
            "Resource": queue.arn,
        },
    )
    assert may_send(queue, events) and may_send(queue, foreign_role)
    assert not may_send(queue, Sender(OWNER, "us-east-1", "events.amazonaws.com", rule + "x"))
