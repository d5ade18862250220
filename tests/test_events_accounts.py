"""EventBridge across accounts: a rule of account A reaches account B's function only through
B's resource policy (a statement for `events.amazonaws.com` with the rule's ARN), and A
never sees B's buses or rules."""

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
    # B cannot put events on A's bus (no bus policies here): accepted and dropped, as AWS
    # answers for a bus that does not exist; A's rules never see it.
    before = two_accounts.health()["events_failed_invocations"]
    events_a.put_targets(
        Rule="mine",
        EventBusName="private",
        Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{A}:q"}],
    )
    answer = events_b.put_events(
        Entries=[{"Source": "s", "DetailType": "t", "Detail": "{}", "EventBusName": bus_arn}]
    )
    assert answer["FailedEntryCount"] == 0 and "EventId" in answer["Entries"][0]
    assert two_accounts.health()["events_failed_invocations"] == before
