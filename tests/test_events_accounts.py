"""EventBridge across accounts: a rule of account A reaches account B's function only through
B's resource policy (a statement for `events.amazonaws.com` with the rule's ARN), and A
never sees B's buses or rules; events cross to another account's bus (from a rule, or from
PutEvents naming the bus's ARN) only where that bus's policy (PutPermission) allows it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, python_zip

A = "111111111111"
B = "222222222222"
SECRETS = {A: "secret-of-a", B: "secret-of-b"}

RECORDER = """
import json, os, boto3
def handler(event, context):
    boto3.client("dynamodb").put_item(
        TableName=os.environ["TABLE"],
        Item={"id": {"S": event["detail"]["key"]}, "body": {"S": json.dumps(event)}},
    )
"""


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    credentials = ",".join(f"{key}:{secret}" for key, secret in SECRETS.items())
    server = Server(
        tmp_path_factory.mktemp("events-accounts"),
        env={"FIRESIDE_CREDENTIALS": credentials, "FIRESIDE_ASYNC_RETRY_DELAYS": "0.2,0.2"},
    ).start()
    yield server
    server.stop()


def client(server: Server, account: str, service: str) -> Any:
    return server.client(service, aws_access_key_id=account, aws_secret_access_key=SECRETS[account])


def test_a_rule_reaches_another_accounts_function_only_with_its_grant(
    two_accounts: Server,
) -> None:
    lam_b = client(two_accounts, B, "lambda")
    dynamodb_b = client(two_accounts, B, "dynamodb")
    table = f"t-{uuid.uuid4().hex[:8]}"
    dynamodb_b.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    function = lam_b.create_function(
        FunctionName="recorder",
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE.replace("000000000000", B),
        Code={"ZipFile": python_zip(RECORDER)},
        Environment={"Variables": {"TABLE": table}},
    )["FunctionArn"]
    lam_b.get_waiter("function_active_v2").wait(
        FunctionName="recorder", WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )

    events_a = client(two_accounts, A, "events")
    rule_arn = events_a.put_rule(Name="to-b", EventPattern='{"source": ["a.app"]}')["RuleArn"]
    events_a.put_targets(Rule="to-b", Targets=[{"Id": "b", "Arn": function}])

    def put(key: str) -> None:
        entry = {"Source": "a.app", "DetailType": "t", "Detail": json.dumps({"key": key})}
        assert events_a.put_events(Entries=[entry])["FailedEntryCount"] == 0

    failed = two_accounts.health()["events_failed_invocations"]
    put("without-grant")
    assert two_accounts.health()["events_failed_invocations"] == failed + 1

    # A grant for another rule does not open the function to this one.
    lam_b.add_permission(
        FunctionName="recorder",
        StatementId="other-rule",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=f"arn:aws:events:us-east-1:{A}:rule/other",
    )
    put("other-grant")
    assert two_accounts.health()["events_failed_invocations"] == failed + 2

    lam_b.add_permission(
        FunctionName="recorder",
        StatementId="rule-of-a",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    put("granted")
    deadline = time.monotonic() + 30
    while "Item" not in dynamodb_b.get_item(TableName=table, Key={"id": {"S": "granted"}}):
        assert time.monotonic() < deadline, "the granted event never arrived"
        time.sleep(0.05)
    body = json.loads(
        dynamodb_b.get_item(TableName=table, Key={"id": {"S": "granted"}})["Item"]["body"]["S"]
    )
    assert body["account"] == A and body["source"] == "a.app"
    for key in ("without-grant", "other-grant"):
        assert "Item" not in dynamodb_b.get_item(TableName=table, Key={"id": {"S": key}})


def test_buses_and_rules_are_per_account(two_accounts: Server) -> None:
    events_a = client(two_accounts, A, "events")
    events_b = client(two_accounts, B, "events")
    events_a.create_event_bus(Name="private")
    events_a.put_rule(Name="mine", EventBusName="private", EventPattern="{}")
    assert [b["Name"] for b in events_b.list_event_buses()["EventBuses"]] == ["default"]
    bus_arn = f"arn:aws:events:us-east-1:{A}:event-bus/private"
    with pytest.raises(ClientError) as caught:
        events_b.list_rules(EventBusName=bus_arn)
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        events_b.list_tags_for_resource(ResourceARN=f"arn:aws:events:us-east-1:{A}:rule/x")
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    # B cannot put events on A's bus without A's bus policy: the entry is refused (and A's
    # rules never see it), whether or not the bus is there.
    before = two_accounts.health()["events_failed_invocations"]
    events_a.put_targets(
        Rule="mine",
        EventBusName="private",
        Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{A}:q"}],
    )
    for arn in (bus_arn, f"arn:aws:events:us-east-1:{A}:event-bus/not-there"):
        answer = events_b.put_events(
            Entries=[{"Source": "s", "DetailType": "t", "Detail": "{}", "EventBusName": arn}]
        )
        assert answer["FailedEntryCount"] == 1
        assert answer["Entries"][0]["ErrorCode"] == "AccessDeniedException"
        assert answer["Entries"][0]["ErrorMessage"] == (
            f"User: arn:aws:iam::{B}:root is not authorized to perform: events:PutEvents on "
            f"resource: {arn} because no resource-based policy allows the events:PutEvents action"
        )
    assert two_accounts.health()["events_failed_invocations"] == before


def _queue(server: Server, account: str, rule_arn: str) -> tuple[Any, str]:
    """A queue of `account` whose policy lets the rule `rule_arn` send to it."""
    sqs = client(server, account, "sqs")
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return sqs, url


def _bodies(sqs: Any, url: str) -> list[dict[str, Any]]:
    return [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    ]


def test_a_rule_forwards_to_another_accounts_bus_only_with_its_bus_policy(
    two_accounts: Server,
) -> None:
    events_a = client(two_accounts, A, "events")
    events_b = client(two_accounts, B, "events")
    bus = f"central-{uuid.uuid4().hex[:6]}"
    bus_arn = events_b.create_event_bus(Name=bus)["EventBusArn"]
    b_rule = events_b.put_rule(Name="from-a", EventBusName=bus, EventPattern='{"source": ["fwd"]}')[
        "RuleArn"
    ]
    sqs_b, url = _queue(two_accounts, B, b_rule)
    queue_arn = sqs_b.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events_b.put_targets(Rule="from-a", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])

    rule = f"fwd-{uuid.uuid4().hex[:6]}"
    events_a.put_rule(Name=rule, EventPattern='{"source": ["fwd"]}')
    events_a.put_targets(Rule=rule, Targets=[{"Id": "bus", "Arn": bus_arn}])

    def put(n: int) -> str:
        entry = {"Source": "fwd", "DetailType": "t", "Detail": json.dumps({"n": n})}
        answer = events_a.put_events(Entries=[entry])
        assert answer["FailedEntryCount"] == 0
        return str(answer["Entries"][0]["EventId"])

    failed = two_accounts.health()["events_failed_invocations"]
    put(1)  # no bus policy: refused, counted
    assert two_accounts.health()["events_failed_invocations"] == failed + 1
    assert _bodies(sqs_b, url) == []

    events_b.put_permission(
        EventBusName=bus, Action="events:PutEvents", Principal=A, StatementId="from-a"
    )
    policy = json.loads(events_b.describe_event_bus(Name=bus)["Policy"])
    assert policy["Statement"] == [
        {
            "Sid": "from-a",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
            "Action": "events:PutEvents",
            "Resource": bus_arn,
        }
    ]
    event_id = put(2)
    (received,) = _bodies(sqs_b, url)  # routed on B's bus before PutEvents answered
    # The event crosses as it is: A's account, its id and region.
    assert received["account"] == A and received["id"] == event_id
    assert received["detail"] == {"n": 2} and received["source"] == "fwd"

    # A condition the event does not meet closes the bus again.
    events_b.put_permission(
        EventBusName=bus,
        Action="events:PutEvents",
        Principal=A,
        StatementId="from-a",
        Condition={"Type": "StringEquals", "Key": "aws:PrincipalOrgID", "Value": "o-123"},
    )
    failed = two_accounts.health()["events_failed_invocations"]
    put(3)
    assert two_accounts.health()["events_failed_invocations"] == failed + 1
    events_b.remove_permission(EventBusName=bus, RemoveAllPermissions=True)
    assert "Policy" not in events_b.describe_event_bus(Name=bus)
    put(4)
    assert two_accounts.health()["events_failed_invocations"] == failed + 2
    assert _bodies(sqs_b, url) == []


def test_put_events_on_another_accounts_bus_by_its_policy(two_accounts: Server) -> None:
    events_a = client(two_accounts, A, "events")
    events_b = client(two_accounts, B, "events")
    bus = f"open-{uuid.uuid4().hex[:6]}"
    bus_arn = events_b.create_event_bus(Name=bus)["EventBusArn"]
    b_rule = events_b.put_rule(Name="all", EventBusName=bus, EventPattern='{"source": ["x"]}')[
        "RuleArn"
    ]
    sqs_b, url = _queue(two_accounts, B, b_rule)
    queue_arn = sqs_b.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events_b.put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])
    entry = {"Source": "x", "DetailType": "t", "Detail": '{"k": 1}', "EventBusName": bus_arn}

    refused = events_a.put_events(Entries=[entry])
    assert refused["Entries"][0]["ErrorCode"] == "AccessDeniedException"
    # A statement for a third account does not open the bus to A.
    events_b.put_permission(
        EventBusName=bus, Action="events:PutEvents", Principal="333333333333", StatementId="c"
    )
    assert events_a.put_events(Entries=[entry])["FailedEntryCount"] == 1
    # A whole policy document (PutPermission's Policy) that names A does.
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "a-may-put",
                "Effect": "Allow",
                "Principal": {"AWS": A},
                "Action": "events:PutEvents",
                "Resource": bus_arn,
                "Condition": {"StringEquals": {"events:source": "x"}},
            }
        ],
    }
    events_b.put_permission(EventBusName=bus, Policy=json.dumps(document))
    answer = events_a.put_events(Entries=[entry, {**entry, "Source": "y"}])
    assert "EventId" in answer["Entries"][0]
    assert answer["Entries"][1]["ErrorCode"] == "AccessDeniedException"
    (received,) = _bodies(sqs_b, url)
    assert received["account"] == A and received["detail"] == {"k": 1}
    assert received["id"] == answer["Entries"][0]["EventId"]
