"""Services handing work to SNS topics and EventBridge buses through `fireside/targets.py`,
end to end with boto3: a Lambda dead-letter topic, a Lambda destination bus, and schedules
publishing to a topic and putting events on a bus. Each hop is judged by its target's
resource policy (a topic's own account may publish to it; a queue behind a topic or a rule
needs its policy)."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import ROLE, Server, python_zip

FAILING = "def handler(event, context):\n    raise ValueError('no: ' + str(event['n']))\n"
OK = "def handler(event, context):\n    return {'seen': event['n']}\n"


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _queue_for(sqs: Any, service: str, source_arn: str) -> tuple[str, str]:
    """A queue whose policy lets `service` send to it for `source_arn`."""
    url = sqs.create_queue(QueueName=_name("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
            }
        ]
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url, arn


def _topic_with_queue(server: Server) -> tuple[str, str]:
    sns, sqs = server.client("sns"), server.client("sqs")
    topic = sns.create_topic(Name=_name("t"))["TopicArn"]
    url, arn = _queue_for(sqs, "sns.amazonaws.com", topic)
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )
    return topic, url


def _bus_with_queue(server: Server) -> tuple[str, str, str]:
    """A custom bus, and a queue its rule for `source` feeds."""
    events, sqs = server.client("events"), server.client("sqs")
    bus = _name("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    source = _name("src")
    rule = events.put_rule(
        Name=_name("r"), EventBusName=bus, EventPattern=json.dumps({"source": [source]})
    )["RuleArn"]
    url, arn = _queue_for(sqs, "events.amazonaws.com", rule)
    events.put_targets(
        Rule=rule.rsplit("/", 1)[1], EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}]
    )
    return bus_arn, source, url


def _receive(server: Server, url: str, seconds: float = 60) -> dict[str, Any]:
    sqs = server.client("sqs")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for message in sqs.receive_message(
            QueueUrl=url, WaitTimeSeconds=2, MessageAttributeNames=["All"]
        ).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            found: dict[str, Any] = message
            return found
    raise AssertionError(f"nothing arrived in {url}")


def _function(server: Server, source: str, **extra: Any) -> str:
    lam = server.client()
    name = _name("fn")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(source)},
        **extra,
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    return name


def test_a_failed_event_goes_to_a_dead_letter_topic(server: Server) -> None:
    topic, url = _topic_with_queue(server)
    name = _function(server, FAILING, DeadLetterConfig={"TargetArn": topic})
    lam = server.client()
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": 4}))
    message = _receive(server, url)
    assert json.loads(message["Body"]) == {"n": 4}


def test_a_success_record_goes_to_a_destination_bus(server: Server) -> None:
    bus_arn, _, _ = _bus_with_queue(server)
    events, sqs = server.client("events"), server.client("sqs")
    bus = bus_arn.rsplit("/", 1)[1]
    rule = events.put_rule(
        Name=_name("r"),
        EventBusName=bus,
        EventPattern=json.dumps(
            {"source": ["lambda"], "detail-type": ["Lambda Function Invocation Result - Success"]}
        ),
    )["RuleArn"]
    url, arn = _queue_for(sqs, "events.amazonaws.com", rule)
    events.put_targets(
        Rule=rule.rsplit("/", 1)[1], EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}]
    )
    name = _function(server, OK)
    lam = server.client()
    lam.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": bus_arn}}
    )
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": 5}))
    event = json.loads(_receive(server, url)["Body"])
    assert event["detail"]["responsePayload"] == {"seen": 5}
    assert event["detail"]["requestContext"]["condition"] == "Success"


def _soon() -> str:
    moment = datetime.now(UTC) + timedelta(seconds=2)
    return f"at({moment.strftime('%Y-%m-%dT%H:%M:%S')})"


def test_schedules_publish_to_a_topic_and_put_events_on_a_bus(server: Server) -> None:
    scheduler = server.client("scheduler")
    topic, topic_url = _topic_with_queue(server)
    bus_arn, source, bus_url = _bus_with_queue(server)
    role = "arn:aws:iam::000000000000:role/scheduler"
    scheduler.create_schedule(
        Name=_name("s"),
        ScheduleExpression=_soon(),
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": topic, "RoleArn": role, "Input": '{"kind": "to-topic"}'},
    )
    scheduler.create_schedule(
        Name=_name("s"),
        ScheduleExpression=_soon(),
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": bus_arn,
            "RoleArn": role,
            "Input": '{"kind": "to-bus"}',
            "EventBridgeParameters": {"DetailType": "tick", "Source": source},
        },
    )
    assert json.loads(_receive(server, topic_url)["Body"]) == {"kind": "to-topic"}
    event = json.loads(_receive(server, bus_url)["Body"])
    assert (event["source"], event["detail-type"], event["detail"]) == (
        source,
        "tick",
        {"kind": "to-bus"},
    )
