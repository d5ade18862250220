"""EventBridge buses as targets, bus policies' API, dead-letter queues and SNS targets, with
boto3 against a live server (one account; `test_events_accounts.py` has two)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server

ACCOUNT = "000000000000"


def _name(prefix: str = "r") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _queue(server: Server, *, allow_rules: list[str]) -> tuple[str, str]:
    """A queue (url, arn) whose policy lets the rules `allow_rules` send to it."""
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=_name("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    if allow_rules:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": allow_rules}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url, arn


def _messages(server: Server, url: str) -> list[dict[str, Any]]:
    found = server.client("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    return list(found.get("Messages", []))


def test_a_rule_forwards_events_to_a_bus_of_its_own_account(server: Server) -> None:
    events = server.client("events")
    bus = _name("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    inner = events.put_rule(Name="inner", EventBusName=bus, EventPattern='{"source": ["s"]}')[
        "RuleArn"
    ]
    url, queue = _queue(server, allow_rules=[inner])
    events.put_targets(Rule="inner", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue}])
    rule = _name()
    events.put_rule(Name=rule, EventPattern='{"source": ["s"]}')
    with pytest.raises(ClientError) as caught:  # a bus takes the event as it is
        events.put_targets(Rule=rule, Targets=[{"Id": "b", "Arn": bus_arn, "InputPath": "$"}])
    assert caught.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Modifying the input for target b is not supported",
    }
    # No bus policy and no role needed in the bus's own account.
    events.put_targets(Rule=rule, Targets=[{"Id": "bus", "Arn": bus_arn}])
    answer = events.put_events(Entries=[{"Source": "s", "DetailType": "t", "Detail": '{"a": 1}'}])
    (message,) = _messages(server, url)
    body = json.loads(message["Body"])
    assert body["id"] == answer["Entries"][0]["EventId"]
    assert body["account"] == ACCOUNT and body["detail"] == {"a": 1}


def test_an_event_passes_through_two_buses_at_most(server: Server) -> None:
    """A bus targeting itself: the event comes round once, then AWS's third-hop rule stops it
    (to the target's dead-letter queue, with THIRD_ACCOUNT_HOP_DETECTED)."""
    events = server.client("events")
    bus = _name("loop")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    rule_arn = events.put_rule(Name="loop", EventBusName=bus, EventPattern='{"source": ["l"]}')[
        "RuleArn"
    ]
    url, queue = _queue(server, allow_rules=[rule_arn])
    dlq_url, dlq = _queue(server, allow_rules=[rule_arn])
    events.put_targets(
        Rule="loop",
        EventBusName=bus,
        Targets=[
            {"Id": "self", "Arn": bus_arn, "DeadLetterConfig": {"Arn": dlq}},
            {"Id": "q", "Arn": queue},
        ],
    )
    failed = server.health()["events_failed_invocations"]
    entry = {"Source": "l", "DetailType": "t", "Detail": "{}", "EventBusName": bus}
    event_id = events.put_events(Entries=[entry])["Entries"][0]["EventId"]
    copies = _messages(server, url)
    assert [json.loads(m["Body"])["id"] for m in copies] == [event_id, event_id]
    assert server.health()["events_failed_invocations"] == failed + 1
    (letter,) = _messages(server, dlq_url)
    attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "THIRD_ACCOUNT_HOP_DETECTED"
    assert attributes["RULE_ARN"] == rule_arn and attributes["TARGET_ARN"] == bus_arn


def test_a_refused_delivery_goes_to_the_dead_letter_queue(server: Server) -> None:
    events = server.client("events")
    rule = _name()
    rule_arn = events.put_rule(Name=rule, EventPattern='{"source": ["dlq"]}')["RuleArn"]
    refusing_url, refusing = _queue(server, allow_rules=[])  # no policy: EventBridge refused
    dlq_url, dlq = _queue(server, allow_rules=[rule_arn])
    events.put_targets(
        Rule=rule,
        Targets=[
            {
                "Id": "q",
                "Arn": refusing,
                "InputPath": "$.detail",
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 60},
                "DeadLetterConfig": {"Arn": dlq},
            }
        ],
    )
    before = server.health()
    answer = events.put_events(Entries=[{"Source": "dlq", "DetailType": "t", "Detail": '{"n": 7}'}])
    # Not allowed is not retried: dead-lettered before PutEvents answered.
    (letter,) = _messages(server, dlq_url)
    event = json.loads(letter["Body"])
    assert event["id"] == answer["Entries"][0]["EventId"] and event["detail"] == {"n": 7}
    attributes = {k: v["StringValue"] for k, v in letter["MessageAttributes"].items()}
    assert attributes == {
        "RULE_ARN": rule_arn,
        "TARGET_ARN": refusing,
        "ERROR_CODE": "NO_PERMISSIONS",
        "ERROR_MESSAGE": attributes["ERROR_MESSAGE"],
        "RETRY_ATTEMPTS": "0",
    }
    assert "does not allow events.amazonaws.com" in attributes["ERROR_MESSAGE"]
    assert letter["MessageAttributes"]["RETRY_ATTEMPTS"]["DataType"] == "Number"
    after = server.health()
    assert after["events_sent_to_dlq"] == before["events_sent_to_dlq"] + 1
    assert after["events_failed_invocations"] == before["events_failed_invocations"] + 1
    assert _messages(server, refusing_url) == []


def test_retry_policy_and_dead_letter_config_are_validated(server: Server) -> None:
    events = server.client("events", parameter_validation=False)  # the server's checks
    rule = _name()
    events.put_rule(Name=rule, EventPattern='{"source": ["v"]}')
    target = {"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"}
    for policy in ({"MaximumRetryAttempts": 186}, {"MaximumEventAgeInSeconds": 59}):
        with pytest.raises(ClientError) as caught:
            events.put_targets(Rule=rule, Targets=[{**target, "RetryPolicy": policy}])
        assert caught.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as caught:
        events.put_targets(
            Rule=rule, Targets=[{**target, "DeadLetterConfig": {"Arn": "arn:aws:sns:x"}}]
        )
    assert caught.value.response["Error"] == {
        "Code": "ValidationException",
        "Message": "Parameter DeadLetterConfig.Arn is not valid. "
        "Reason: Provided Arn is not in correct format.",
    }


def test_an_sns_topic_target_is_accepted(server: Server) -> None:
    events = server.client("events")
    rule = _name()
    events.put_rule(Name=rule, EventPattern='{"source": ["sns"]}')
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:alerts"
    answer = events.put_targets(Rule=rule, Targets=[{"Id": "topic", "Arn": topic}])
    assert answer["FailedEntryCount"] == 0
    (target,) = events.list_targets_by_rule(Rule=rule)["Targets"]
    assert target == {"Id": "topic", "Arn": topic}


def test_put_and_remove_permission_errors(server: Server) -> None:
    events = server.client("events")
    bus = _name("bus")
    events.create_event_bus(Name=bus)

    def error(call: Any, **params: Any) -> dict[str, str]:
        with pytest.raises(ClientError) as caught:
            call(**params)
        return {k: caught.value.response["Error"][k] for k in ("Code", "Message")}

    grant = {"Action": "events:PutEvents", "Principal": "111111111111", "StatementId": "s"}
    assert error(events.put_permission, EventBusName="nope", **grant) == {
        "Code": "ResourceNotFoundException",
        "Message": "Event bus nope does not exist.",
    }
    assert error(
        events.put_permission, EventBusName=bus, **{**grant, "Action": "events:PutRule"}
    ) == {
        "Code": "ValidationException",
        "Message": "Provided value in parameter 'action' is not supported.",
    }
    assert error(events.remove_permission, EventBusName=bus, StatementId="s") == {
        "Code": "ResourceNotFoundException",
        "Message": "EventBus does not have a policy.",
    }
    events.put_permission(EventBusName=bus, **grant)
    events.put_permission(EventBusName=bus, **{**grant, "StatementId": "t", "Principal": "*"})
    statements = json.loads(events.describe_event_bus(Name=bus)["Policy"])["Statement"]
    assert [(s["Sid"], s["Principal"]) for s in statements] == [
        ("s", {"AWS": "arn:aws:iam::111111111111:root"}),
        ("t", "*"),
    ]
    assert error(events.remove_permission, EventBusName=bus, StatementId="u") == {
        "Code": "ResourceNotFoundException",
        "Message": "Statement with the provided id does not exist.",
    }
    events.remove_permission(EventBusName=bus, StatementId="s")
    statements = json.loads(events.describe_event_bus(Name=bus)["Policy"])["Statement"]
    assert [s["Sid"] for s in statements] == ["t"]
    events.remove_permission(EventBusName=bus, StatementId="t")
    assert "Policy" not in events.describe_event_bus(Name=bus)


def test_a_rule_forwards_to_a_bus_in_another_region(server: Server) -> None:
    events = server.client("events")
    ireland = server.client("events", region_name="eu-west-1")
    bus = _name("eu")
    bus_arn = ireland.create_event_bus(Name=bus)["EventBusArn"]
    assert ":eu-west-1:" in bus_arn
    inner = ireland.put_rule(Name="in", EventBusName=bus, EventPattern='{"source": ["geo"]}')
    sqs = server.client("sqs", region_name="eu-west-1")
    url = sqs.create_queue(QueueName=_name("q"))["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue,
                "Condition": {"ArnEquals": {"aws:SourceArn": inner["RuleArn"]}},
            }
        ]
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    ireland.put_targets(Rule="in", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue}])
    rule = _name()
    events.put_rule(Name=rule, EventPattern='{"source": ["geo"]}')
    events.put_targets(Rule=rule, Targets=[{"Id": "eu", "Arn": bus_arn}])
    events.put_events(Entries=[{"Source": "geo", "DetailType": "t", "Detail": "{}"}])
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert json.loads(message["Body"])["region"] == "us-east-1"  # where it was put
