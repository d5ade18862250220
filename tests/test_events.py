"""EventBridge (`fireside.events`) with boto3 against a live server: buses, rules, targets,
PutEvents validation, TestEventPattern, tags, delivery to a Lambda function, restarts."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, FunctionFactory, Server, python_zip

ACCOUNT = "000000000000"
EVENT = {
    "version": "0",
    "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "111122223333",
    "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1",
    "resources": [],
    "detail": {"instance-id": "i-1", "state": "terminated"},
}


@pytest.fixture()
def events(server: Server) -> Any:
    return server.client("events")


def _name() -> str:
    return f"r-{uuid.uuid4().hex[:10]}"


def _code(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str]:
    error = caught.value.response["Error"]
    return error["Code"], error["Message"]


def test_default_bus_and_custom_buses(events: Any) -> None:
    default = events.describe_event_bus()
    assert default["Name"] == "default"
    assert default["Arn"] == f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default"
    name = _name()
    arn = events.create_event_bus(Name=name, Description="d")["EventBusArn"]
    assert arn.endswith(f":event-bus/{name}")
    assert events.describe_event_bus(Name=arn)["Description"] == "d"
    listed = [b["Name"] for b in events.list_event_buses(NamePrefix=name)["EventBuses"]]
    assert listed == [name]
    with pytest.raises(ClientError) as caught:
        events.create_event_bus(Name=name)
    assert _code(caught) == ("ResourceAlreadyExistsException", f"Event bus {name} already exists.")
    with pytest.raises(ClientError) as caught:
        events.delete_event_bus(Name="default")
    assert _code(caught) == ("ValidationException", "Cannot delete event bus default.")
    events.delete_event_bus(Name=name)
    with pytest.raises(ClientError) as caught:
        events.describe_event_bus(Name=name)
    assert _code(caught) == ("ResourceNotFoundException", f"Event bus {name} does not exist.")


def test_rules_lifecycle(events: Any) -> None:
    bus = _name()
    events.create_event_bus(Name=bus)
    prefix = _name()
    names = [f"{prefix}-{i}" for i in range(5)]
    for name in names:
        arn = events.put_rule(Name=name, EventBusName=bus, EventPattern='{"source": ["a"]}')[
            "RuleArn"
        ]
        assert arn == f"arn:aws:events:us-east-1:{ACCOUNT}:rule/{bus}/{name}"
    described = events.describe_rule(Name=names[0], EventBusName=bus)
    assert described["State"] == "ENABLED"
    assert described["EventBusName"] == bus
    assert described["CreatedBy"] == ACCOUNT
    events.disable_rule(Name=names[0], EventBusName=bus)
    assert events.describe_rule(Name=names[0], EventBusName=bus)["State"] == "DISABLED"
    events.enable_rule(Name=names[0], EventBusName=bus)

    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = events.list_rules(EventBusName=bus, NamePrefix=prefix, Limit=2, **token)
        seen += [r["Name"] for r in page["Rules"]]
        if "NextToken" not in page:
            break
        token = {"NextToken": page["NextToken"]}
    assert seen == names

    target = {"Id": "t1", "Arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:nope"}
    events.put_targets(Rule=names[1], EventBusName=bus, Targets=[target])
    assert events.list_rule_names_by_target(TargetArn=target["Arn"], EventBusName=bus)[
        "RuleNames"
    ] == [names[1]]
    with pytest.raises(ClientError) as caught:
        events.delete_rule(Name=names[1], EventBusName=bus)
    assert _code(caught) == ("ValidationException", "Rule can't be deleted since it has targets.")
    events.remove_targets(Rule=names[1], EventBusName=bus, Ids=["t1"])
    events.delete_rule(Name=names[1], EventBusName=bus)
    with pytest.raises(ClientError) as caught:
        events.describe_rule(Name=names[1], EventBusName=bus)
    assert _code(caught) == (
        "ResourceNotFoundException",
        f"Rule {names[1]} does not exist on EventBus {bus}.",
    )


def test_put_rule_validation(events: Any) -> None:
    cases: list[tuple[dict[str, Any], str, str]] = [
        (
            {},
            "ValidationException",
            "Parameter(s) EventPattern or ScheduleExpression must be specified.",
        ),
        (
            {"EventPattern": '{"source": "aws.ec2"}'},
            "InvalidEventPatternException",
            'Event pattern is not valid. Reason: "source" must be an object or an array',
        ),
        (
            {"ScheduleExpression": "rate(1 minutes)"},
            "ValidationException",
            "Parameter ScheduleExpression is not valid.",
        ),
        (
            {"ScheduleExpression": "every day"},
            "ValidationException",
            "Parameter ScheduleExpression is not valid.",
        ),
    ]
    for params, code, message in cases:
        with pytest.raises(ClientError) as caught:
            events.put_rule(Name=_name(), **params)
        assert _code(caught) == (code, message), params
    for expression in ("rate(5 minutes)", "rate(1 hour)", "cron(0 20 * * ? *)"):
        events.put_rule(Name=_name(), ScheduleExpression=expression)


def test_put_targets_validation(events: Any) -> None:
    rule = _name()
    events.put_rule(Name=rule, EventPattern='{"source": ["a"]}')
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"
    with pytest.raises(ClientError) as caught:
        events.put_targets(
            Rule=rule, Targets=[{"Id": "t", "Arn": arn, "Input": "{", "InputPath": "$"}]
        )
    assert _code(caught) == (
        "ValidationException",
        "Only one of Input, InputPath, or InputTransformer must be provided for target t.",
    )
    with pytest.raises(ClientError) as caught:
        events.put_targets(Rule=rule, Targets=[{"Id": "t", "Arn": "nope"}])
    assert _code(caught) == (
        "ValidationException",
        "Parameter nope is not valid. Reason: Provided Arn is not in correct format.",
    )
    with pytest.raises(ClientError) as caught:
        events.put_targets(
            Rule=rule,
            Targets=[
                {
                    "Id": "t",
                    "Arn": arn,
                    "InputTransformer": {"InputTemplate": '{"a": <missing>}'},
                }
            ],
        )
    assert _code(caught) == (
        "ValidationException",
        "InputTemplate for target t contains invalid placeholder missing.",
    )
    many = [{"Id": f"t{i}", "Arn": arn} for i in range(6)]
    with pytest.raises(ClientError) as caught:
        events.put_targets(Rule=rule, Targets=many)
    assert _code(caught)[0] == "LimitExceededException"
    answer = events.put_targets(Rule=rule, Targets=many[:5])
    assert answer["FailedEntryCount"] == 0 and answer["FailedEntries"] == []
    assert [t["Id"] for t in events.list_targets_by_rule(Rule=rule)["Targets"]] == [
        f"t{i}" for i in range(5)
    ]
    with pytest.raises(ClientError) as caught:
        events.put_targets(Rule="no-such-rule", Targets=many[:1])
    assert _code(caught) == (
        "ResourceNotFoundException",
        "Rule no-such-rule does not exist on EventBus default.",
    )


def test_put_events_answers_per_entry(events: Any) -> None:
    answer = events.put_events(
        Entries=[
            {"Source": "s", "DetailType": "t", "Detail": '{"a": 1}'},
            {"DetailType": "t", "Detail": "{}"},
            {"Source": "s", "Detail": "{}"},
            {"Source": "s", "DetailType": "t"},
            {"Source": "s", "DetailType": "t", "Detail": "[1]"},
            {"Source": "s", "DetailType": "t", "Detail": "{}", "EventBusName": "no-such-bus"},
        ]
    )
    entries = answer["Entries"]
    assert answer["FailedEntryCount"] == 4
    assert uuid.UUID(entries[0]["EventId"])
    assert entries[1] == {
        "ErrorCode": "InvalidArgument",
        "ErrorMessage": "Parameter Source is not valid. Reason: Source is a required argument.",
    }
    assert entries[2]["ErrorMessage"].startswith("Parameter DetailType is not valid.")
    assert entries[3]["ErrorMessage"].startswith("Parameter Detail is not valid.")
    assert entries[4] == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    # An event for a bus that does not exist is accepted and dropped, as AWS does.
    assert uuid.UUID(entries[5]["EventId"])
    with pytest.raises(ClientError) as caught:
        events.put_events(
            Entries=[{"Source": "s", "DetailType": "t", "Detail": json.dumps({"x": "y" * 263_000})}]
        )
    assert _code(caught) == (
        "ValidationException",
        "Total size of the entries in the request is over the limit.",
    )


def test_test_event_pattern(events: Any) -> None:
    event = json.dumps(EVENT)
    assert events.test_event_pattern(EventPattern='{"source": ["aws.ec2"]}', Event=event)["Result"]
    assert not events.test_event_pattern(
        EventPattern='{"detail": {"state": [{"anything-but": "terminated"}]}}', Event=event
    )["Result"]
    with pytest.raises(ClientError) as caught:
        events.test_event_pattern(EventPattern='{"source": [{"bogus": 1}]}', Event=event)
    assert _code(caught) == (
        "InvalidEventPatternException",
        "Event pattern is not valid. Reason: Unrecognized match type bogus",
    )
    incomplete = {k: v for k, v in EVENT.items() if k != "account"}
    with pytest.raises(ClientError) as caught:
        events.test_event_pattern(EventPattern="{}", Event=json.dumps(incomplete))
    assert _code(caught) == ("ValidationException", "Parameter Event is not valid.")


def test_tags(events: Any) -> None:
    rule = _name()
    arn = events.put_rule(Name=rule, EventPattern="{}", Tags=[{"Key": "a", "Value": "1"}])[
        "RuleArn"
    ]
    events.tag_resource(ResourceARN=arn, Tags=[{"Key": "b", "Value": "2"}])
    events.untag_resource(ResourceARN=arn, TagKeys=["a"])
    assert events.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as caught:
        events.tag_resource(
            ResourceARN=arn, Tags=[{"Key": "d", "Value": "1"}, {"Key": "d", "Value": "2"}]
        )
    assert _code(caught) == (
        "ValidationException",
        "Invalid parameter: Duplicated keys are not allowed.",
    )
    bus = events.describe_event_bus()["Arn"]
    events.tag_resource(ResourceARN=bus, Tags=[{"Key": "c", "Value": "3"}])
    assert events.list_tags_for_resource(ResourceARN=bus)["Tags"] == [{"Key": "c", "Value": "3"}]


RECORDER = """
import json, os, boto3
def handler(event, context):
    boto3.client("dynamodb").put_item(
        TableName=os.environ["TABLE"],
        Item={"id": {"S": event["key"]}, "body": {"S": json.dumps(event)}},
    )
"""


def _table(server: Server) -> tuple[Any, str]:
    dynamodb = server.client("dynamodb")
    table = f"t-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb, table


def _wait_item(dynamodb: Any, table: str, key: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = dynamodb.get_item(TableName=table, Key={"id": {"S": key}}).get("Item")
        if item is not None:
            return dict(json.loads(item["body"]["S"]))
        time.sleep(0.05)
    raise AssertionError(f"no item {key} in {table}")


def test_put_events_invokes_a_function_with_the_transformed_input(
    server: Server, events: Any, lam: Any, make_function: FunctionFactory
) -> None:
    dynamodb, table = _table(server)
    function = make_function(RECORDER, Environment={"Variables": {"TABLE": table}})
    function_arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    rule = _name()
    rule_arn = events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {"source": ["orders"], "detail": {"total": [{"numeric": [">", 100]}]}}
        ),
    )["RuleArn"]
    events.put_targets(
        Rule=rule,
        Targets=[
            {
                "Id": "recorder",
                "Arn": function_arn,
                "InputTransformer": {
                    "InputPathsMap": {"order": "$.detail.order", "total": "$.detail.total"},
                    "InputTemplate": (
                        '{"key": "<order>", "total": <total>, "text": "order <order> of <total>",'
                        ' "rule": "<aws.events.rule-name>"}'
                    ),
                },
            }
        ],
    )

    def put(order: str, total: int) -> None:
        detail = json.dumps({"order": order, "total": total})
        answer = events.put_events(
            Entries=[{"Source": "orders", "DetailType": "placed", "Detail": detail}]
        )
        assert answer["FailedEntryCount"] == 0

    failed_before = server.health()["events_failed_invocations"]
    put("o-without-grant", 500)  # no resource policy yet: not invoked, counted
    assert server.health()["events_failed_invocations"] == failed_before + 1

    lam.add_permission(
        FunctionName=function,
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    put("o-small", 5)  # the pattern does not match
    put("o-big", 500)
    assert _wait_item(dynamodb, table, "o-big") == {
        "key": "o-big",
        "total": 500,
        "text": "order o-big of 500",
        "rule": rule,
    }
    time.sleep(0.3)
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"id": {"S": "o-small"}})
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"id": {"S": "o-without-grant"}})

    # Disabled rules match nothing; the whole event goes when no input is configured.
    events.disable_rule(Name=rule)
    put("o-disabled", 500)
    events.enable_rule(Name=rule)
    events.put_targets(
        Rule=rule, Targets=[{"Id": "recorder", "Arn": function_arn, "InputPath": "$.detail"}]
    )
    detail = json.dumps({"key": "o-path", "total": 101})
    events.put_events(Entries=[{"Source": "orders", "DetailType": "placed", "Detail": detail}])
    assert _wait_item(dynamodb, table, "o-path") == {"key": "o-path", "total": 101}
    assert "Item" not in dynamodb.get_item(TableName=table, Key={"id": {"S": "o-disabled"}})

    # The envelope, as AWS builds it from the entry.
    events.put_targets(
        Rule=rule,
        Targets=[
            {
                "Id": "recorder",
                "Arn": function_arn,
                "InputTransformer": {
                    "InputPathsMap": {"key": "$.detail.key"},
                    "InputTemplate": '{"key": <key>, "event": <aws.events.event.json>}',
                },
            }
        ],
    )
    event_id = events.put_events(
        Entries=[
            {
                "Source": "orders",
                "DetailType": "placed",
                "Detail": json.dumps({"key": "o-env", "total": 1000}),
                "Resources": ["arn:aws:s3:::b"],
                "Time": datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC),
            }
        ]
    )["Entries"][0]["EventId"]
    assert _wait_item(dynamodb, table, "o-env")["event"] == {
        "version": "0",
        "id": event_id,
        "detail-type": "placed",
        "source": "orders",
        "account": ACCOUNT,
        "time": "2024-05-06T07:08:09Z",
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::b"],
        "detail": {"key": "o-env", "total": 1000},
    }


def test_undeliverable_targets_are_counted_as_failed(server: Server, events: Any) -> None:
    rule = _name()
    events.put_rule(Name=rule, EventPattern='{"source": ["to-nowhere"]}')
    events.put_targets(
        Rule=rule,
        Targets=[
            {"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:no-such-queue"},
            {"Id": "k", "Arn": f"arn:aws:kinesis:us-east-1:{ACCOUNT}:stream/s"},
        ],
    )
    before = server.health()["events_failed_invocations"]
    events.put_events(Entries=[{"Source": "to-nowhere", "DetailType": "t", "Detail": "{}"}])
    assert server.health()["events_failed_invocations"] == before + 2


def _queue_policy(queue_arn: str, rule_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        }
    )


def test_an_sqs_target_receives_events_its_queue_policy_allows(server: Server, events: Any) -> None:
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=_name())["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    rule = _name()
    rule_arn = events.put_rule(Name=rule, EventPattern='{"source": ["to-sqs"]}')["RuleArn"]
    events.put_targets(
        Rule=rule,
        Targets=[{"Id": "q", "Arn": queue_arn, "InputPath": "$.detail"}],
    )
    # No queue policy: AWS refuses EventBridge, in the queue's own account too.
    before = server.health()["events_failed_invocations"]
    events.put_events(Entries=[{"Source": "to-sqs", "DetailType": "t", "Detail": '{"n": 1}'}])
    assert server.health()["events_failed_invocations"] == before + 1
    assert "Messages" not in sqs.receive_message(QueueUrl=url)

    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": _queue_policy(queue_arn, rule_arn)}
    )
    events.put_events(Entries=[{"Source": "to-sqs", "DetailType": "t", "Detail": '{"n": 2}'}])
    # Delivered before PutEvents answered: no wait needed.
    messages = sqs.receive_message(QueueUrl=url)["Messages"]
    assert [json.loads(m["Body"]) for m in messages] == [{"n": 2}]

    # A policy for another rule does not open the queue to this one.
    sqs.set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": _queue_policy(queue_arn, rule_arn + "-other")}
    )
    before = server.health()["events_failed_invocations"]
    events.put_events(Entries=[{"Source": "to-sqs", "DetailType": "t", "Detail": '{"n": 3}'}])
    assert server.health()["events_failed_invocations"] == before + 1


def test_buses_and_rules_survive_a_restart(fresh_server: Any) -> None:
    first = fresh_server()
    events = first.client("events")
    events.create_event_bus(Name="orders", Tags=[{"Key": "k", "Value": "v"}])
    events.put_rule(Name="r", EventBusName="orders", EventPattern='{"source": ["x"]}')
    events.put_targets(
        Rule="r",
        EventBusName="orders",
        Targets=[{"Id": "t", "Arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"}],
    )
    created = events.describe_event_bus()["CreationTime"]
    first.stop()
    second = fresh_server(first.data_dir)
    events = second.client("events")
    assert events.describe_event_bus()["CreationTime"] == created
    assert events.describe_rule(Name="r", EventBusName="orders")["EventPattern"] == (
        '{"source": ["x"]}'
    )
    assert [
        t["Id"] for t in events.list_targets_by_rule(Rule="r", EventBusName="orders")["Targets"]
    ] == ["t"]
    bus = events.describe_event_bus(Name="orders")["Arn"]
    assert events.list_tags_for_resource(ResourceARN=bus)["Tags"] == [{"Key": "k", "Value": "v"}]
    # Another region sees none of it.
    other = second.client("events", region_name="eu-west-1")
    assert [b["Name"] for b in other.list_event_buses()["EventBuses"]] == ["default"]


SLOW_RECORDER = """
import json, os, time, boto3
def handler(event, context):
    time.sleep(1)
    boto3.client("dynamodb").put_item(
        TableName=os.environ["TABLE"],
        Item={"id": {"S": event["detail"]["key"]}, "body": {"S": json.dumps(event)}},
    )
"""


def test_an_accepted_event_survives_kill_9(fresh_server: Any) -> None:
    first = fresh_server(FIRESIDE_ASYNC_RETRY_DELAYS="0.2,0.2")
    _, table = _table(first)
    lam = first.client("lambda")
    function_arn = lam.create_function(
        FunctionName="slow",
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(SLOW_RECORDER)},
        Timeout=30,
        Environment={"Variables": {"TABLE": table}},
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(
        FunctionName="slow", WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    events = first.client("events")
    rule_arn = events.put_rule(Name="r", EventPattern='{"source": ["s"]}')["RuleArn"]
    lam.add_permission(
        FunctionName="slow",
        StatementId="events",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=rule_arn,
    )
    events.put_targets(Rule="r", Targets=[{"Id": "t", "Arn": function_arn}])
    entry = {"Source": "s", "DetailType": "t", "Detail": '{"key": "k1"}'}
    assert events.put_events(Entries=[entry])["FailedEntryCount"] == 0
    # Queued on disk before the answer (the invoke, still running, keeps its row).
    with sqlite3.connect(first.data_dir / "fireside.sqlite") as db:
        (queued,) = db.execute("SELECT COUNT(*) FROM async_events").fetchone()
    assert queued == 1
    first.stop(signal.SIGKILL)
    second = fresh_server(first.data_dir, FIRESIDE_ASYNC_RETRY_DELAYS="0.2,0.2")
    assert _wait_item(second.client("dynamodb"), table, "k1")["detail"] == {"key": "k1"}
