"""EventBridge (EventBus, Rule, EventBusPolicy, Archive) and Scheduler (Schedule,
ScheduleGroup) providers, driven in-process through the services' own served operations
(one Fireside app for the module)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fireside.aws.errors import ServiceError
from fireside.cloudformation.providers import events, scheduler
from fireside.cloudformation.resource_types import ResourceFailed
from tests.cfn_data_support import ACCOUNT, OTHER_ACCOUNT, REGION, App

BUS, RULE, POLICY, ARCHIVE = events.providers()
SCHEDULE, GROUP = scheduler.providers()


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    built = App(Path(tmp_path_factory.mktemp("cfn-events")))
    yield built
    built.close()


def _queue(app: App, name: str, account: str = ACCOUNT) -> tuple[str, str]:
    url = app.run(app.call("sqs", "CreateQueue", {"QueueName": name}, account))["QueueUrl"]
    attributes = app.run(
        app.call(
            "sqs", "GetQueueAttributes", {"QueueUrl": url, "AttributeNames": ["QueueArn"]}, account
        )
    )
    return url, attributes["Attributes"]["QueueArn"]


def _open_to_events(app: App, url: str, arn: str, rule_arn: str | None = None) -> None:
    """The queue policy a template gives a rule's queue (AWS::SQS::QueuePolicy): EventBridge
    delivers to a queue only as its policy allows. CDK's names the rule (`aws:SourceArn`)."""
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": arn,
    }
    if rule_arn is not None:
        statement["Condition"] = {"ArnEquals": {"aws:SourceArn": rule_arn}}
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    params = {"QueueUrl": url, "Attributes": {"Policy": json.dumps(policy)}}
    app.run(app.call("sqs", "SetQueueAttributes", params))


def _receive(app: App, url: str) -> list[dict[str, Any]]:
    params = {"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0}
    messages: list[dict[str, Any]] = app.run(app.call("sqs", "ReceiveMessage", params)).get(
        "Messages", []
    )
    return messages


def _put_event(app: App, bus: str | None = None, detail: dict[str, Any] | None = None) -> None:
    entry: dict[str, Any] = {
        "Source": "shop.orders",
        "DetailType": "OrderPlaced",
        "Detail": json.dumps(detail or {"id": 7, "total": 12}),
    }
    if bus:
        entry["EventBusName"] = bus
    result = app.run(app.call("events", "PutEvents", {"Entries": [entry]}))
    assert result["FailedEntryCount"] == 0


def _targets(app: App, rule: str, bus: str | None = None) -> dict[str, dict[str, Any]]:
    params: dict[str, Any] = {"Rule": rule}
    if bus:
        params["EventBusName"] = bus
    listed = app.run(app.call("events", "ListTargetsByRule", params))
    return {t["Id"]: t for t in listed["Targets"]}


def test_rule_with_queue_target_delivers_put_events(app: App) -> None:
    url, arn = _queue(app, "orders-in")
    ctx = app.ctx("OrdersRule")
    props = {
        "EventPattern": {"source": ["shop.orders"], "detail-type": ["OrderPlaced"]},
        "Targets": [
            {
                "Id": "queue",
                "Arn": arn,
                "InputTransformer": {
                    "InputPathsMap": {"id": "$.detail.id"},
                    "InputTemplate": '{"order": <id>}',
                },
                "RetryPolicy": {"MaximumRetryAttempts": "3", "MaximumEventAgeInSeconds": 600},
            }
        ],
    }
    created = app.run(RULE.create(ctx, props))
    _open_to_events(app, url, arn, created.attributes["Arn"])  # as CDK writes it
    # On the default bus, Ref is the rule's (generated, 64-character-capped) name.
    assert created.physical_id == ctx.generated_name
    assert created.attributes["Arn"] == (
        f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{created.physical_id}"
    )
    assert _targets(app, created.physical_id)["queue"]["RetryPolicy"]["MaximumRetryAttempts"] == 3
    _put_event(app)
    messages = _receive(app, url)
    assert [json.loads(m["Body"]) for m in messages] == [{"order": 7}]


def test_rule_on_custom_bus_updates_targets_by_diff(app: App) -> None:
    bus_ctx = app.ctx("Bus")
    bus = app.run(BUS.create(bus_ctx, {"Name": "shop-bus"}))
    assert bus.physical_id == "shop-bus"
    first_url, first_arn = _queue(app, "first")
    second_url, second_arn = _queue(app, "second")
    _open_to_events(app, first_url, first_arn)
    _open_to_events(app, second_url, second_arn)
    ctx = app.ctx("BusRule")
    old = {
        "Name": "on-shop-bus",
        "EventBusName": "shop-bus",
        "EventPattern": '{"source": ["shop.orders"]}',  # a pattern given as a string
        "Targets": [
            {"Id": "first", "Arn": first_arn},
            {"Id": "second", "Arn": second_arn, "Input": {"fixed": True}},
        ],
    }
    created = app.run(RULE.create(ctx, old))
    assert created.physical_id == "shop-bus|on-shop-bus"  # CloudFormation's Ref on a custom bus
    assert created.attributes["Arn"].endswith(":rule/shop-bus/on-shop-bus")
    assert json.loads(_targets(app, "on-shop-bus", "shop-bus")["second"]["Input"]) == {
        "fixed": True
    }
    new = {
        **old,
        "EventPattern": {"source": ["shop.orders"], "detail": {"total": [{"numeric": [">", 10]}]}},
        "Description": "big orders",
        "Targets": [{"Id": "second", "Arn": second_arn, "InputPath": "$.detail"}],
    }
    updated = app.run(RULE.update(ctx, created.physical_id, old, new))
    assert updated.physical_id == created.physical_id
    assert set(_targets(app, "on-shop-bus", "shop-bus")) == {"second"}
    described = app.run(
        app.call("events", "DescribeRule", {"Name": "on-shop-bus", "EventBusName": "shop-bus"})
    )
    assert described["Description"] == "big orders"
    assert "numeric" in described["EventPattern"]
    _put_event(app, "shop-bus", {"id": 1, "total": 5})  # under the new threshold
    _put_event(app, "shop-bus", {"id": 2, "total": 50})
    assert [json.loads(m["Body"]) for m in _receive(app, second_url)] == [{"id": 2, "total": 50}]
    assert _receive(app, first_url) == []  # the removed target gets nothing
    disabled = {**new, "State": "DISABLED"}
    app.run(RULE.update(ctx, created.physical_id, new, disabled))
    _put_event(app, "shop-bus", {"id": 3, "total": 99})
    assert _receive(app, second_url) == []
    # Delete removes the targets first (a rule with targets cannot be deleted), then the rule.
    app.run(RULE.delete(ctx, created.physical_id, disabled))
    with pytest.raises(ServiceError) as raised:
        app.run(
            app.call("events", "DescribeRule", {"Name": "on-shop-bus", "EventBusName": "shop-bus"})
        )
    assert raised.value.code == "ResourceNotFoundException"
    app.run(RULE.delete(ctx, created.physical_id, disabled))  # gone already: success
    app.run(BUS.delete(bus_ctx, "shop-bus", {"Name": "shop-bus"}))
    app.run(RULE.delete(ctx, created.physical_id, disabled))  # its bus gone too: success


def test_rule_errors_are_the_services(app: App) -> None:
    ctx = app.ctx("BadRule")
    with pytest.raises(ResourceFailed, match="HandlerErrorCode: InvalidRequest"):
        app.run(RULE.create(ctx, {"EventPattern": {"source": "not-a-list"}}))
    with pytest.raises(ResourceFailed, match="EventPattern or ScheduleExpression"):
        app.run(RULE.create(ctx, {"Name": "nothing"}))
    # The operation's model constraints hold as on the wire, in the service's words.
    with pytest.raises(ResourceFailed, match="Member must have length less than or equal to 64"):
        app.run(RULE.create(ctx, {"Name": "n" * 65, "ScheduleExpression": "rate(1 hour)"}))
    # A bad target: the rule PutRule made is removed again, nothing half-made stays.
    props = {
        "Name": "half-rule",
        "ScheduleExpression": "rate(5 minutes)",
        "Targets": [{"Id": "t", "Arn": "not-an-arn"}],
    }
    with pytest.raises(ResourceFailed, match="Provided Arn is not in correct format"):
        app.run(RULE.create(ctx, props))
    with pytest.raises(ServiceError):
        app.run(app.call("events", "DescribeRule", {"Name": "half-rule"}))
    assert {"Name", "EventBusName"} == RULE.replace_on


def test_rule_cannot_reach_another_accounts_bus(app: App) -> None:
    owner = app.ctx("TheirBus", account=OTHER_ACCOUNT)
    app.run(BUS.create(owner, {"Name": "private-bus"}))
    bus_arn = f"arn:aws:events:{REGION}:{OTHER_ACCOUNT}:event-bus/private-bus"
    with pytest.raises(ResourceFailed, match="does not exist"):
        app.run(
            RULE.create(
                app.ctx("Intruder"),
                {"EventBusName": bus_arn, "EventPattern": {"source": ["x"]}},
            )
        )
    rules = app.run(app.call("events", "ListRules", {"EventBusName": "private-bus"}, OTHER_ACCOUNT))
    assert rules["Rules"] == []


def test_event_bus_policy_tags_and_unserved_update(app: App) -> None:
    ctx = app.ctx("PolicyBus")
    statement = {
        "Sid": "others",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
        "Action": "events:PutEvents",
        "Resource": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/policy-bus",
    }
    props = {
        "Name": "policy-bus",
        "Policy": {"Version": "2012-10-17", "Statement": [statement]},
        "Tags": [{"Key": "a", "Value": "1"}],
    }
    created = app.run(BUS.create(ctx, props))
    assert created.attributes["Name"] == "policy-bus"
    assert json.loads(created.attributes["Policy"])["Statement"][0]["Sid"] == "others"
    # The policy works: the other account may now put events on this bus.
    entry = {
        "Source": "s",
        "DetailType": "d",
        "Detail": "{}",
        "EventBusName": created.attributes["Arn"],
    }
    result = app.run(app.call("events", "PutEvents", {"Entries": [entry]}, OTHER_ACCOUNT))
    assert result["FailedEntryCount"] == 0
    new = {"Name": "policy-bus", "Tags": [{"Key": "b", "Value": "2"}]}
    updated = app.run(BUS.update(ctx, "policy-bus", props, new))
    assert "Policy" not in updated.attributes
    tags = app.run(
        app.call("events", "ListTagsForResource", {"ResourceARN": created.attributes["Arn"]})
    )
    assert tags["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ResourceFailed, match="UpdateEventBus"):
        app.run(BUS.update(ctx, "policy-bus", new, {**new, "Description": "now described"}))
    assert {"Name", "EventSourceName"} == BUS.replace_on


def test_event_bus_policies_side_by_side(app: App) -> None:
    app.run(BUS.create(app.ctx("Shared"), {"Name": "shared-bus"}))
    ctx = app.ctx("P1")
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
        "Action": "events:PutEvents",
        "Resource": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/shared-bus",
    }
    first = {"EventBusName": "shared-bus", "StatementId": "one", "Statement": statement}
    second = {
        "EventBusName": "shared-bus",
        "StatementId": "two",
        "Action": "events:PutEvents",
        "Principal": "222222222222",
    }
    assert app.run(POLICY.create(ctx, first)).physical_id == "one"
    assert app.run(POLICY.create(app.ctx("P2"), second)).physical_id == "two"

    def sids() -> list[str]:
        bus = app.run(app.call("events", "DescribeEventBus", {"Name": "shared-bus"}))
        return sorted(
            s["Sid"] for s in json.loads(bus.get("Policy") or '{"Statement": []}')["Statement"]
        )

    assert sids() == ["one", "two"]
    app.run(POLICY.delete(ctx, "one", first))
    assert sids() == ["two"]
    app.run(POLICY.delete(ctx, "one", first))  # gone already: success
    app.run(POLICY.delete(ctx, "two", second))
    assert sids() == []


def test_archive_create_update_delete(app: App) -> None:
    app.run(BUS.create(app.ctx("ArchBus"), {"Name": "archived-bus"}))
    ctx = app.ctx("Archive")
    source = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/archived-bus"
    old = {"SourceArn": source, "RetentionDays": "7", "EventPattern": {"source": ["a"]}}
    created = app.run(ARCHIVE.create(ctx, old))
    assert len(created.physical_id) <= 48
    assert created.attributes["Arn"].endswith(f":archive/{created.physical_id}")
    new = {"SourceArn": source, "Description": "all of it"}
    app.run(ARCHIVE.update(ctx, created.physical_id, old, new))
    described = app.run(app.call("events", "DescribeArchive", {"ArchiveName": created.physical_id}))
    assert described["Description"] == "all of it"
    assert described["RetentionDays"] == 0
    assert not described.get("EventPattern")
    app.run(ARCHIVE.delete(ctx, created.physical_id, new))
    app.run(ARCHIVE.delete(ctx, created.physical_id, new))
    with pytest.raises(ServiceError):
        app.run(app.call("events", "DescribeArchive", {"ArchiveName": created.physical_id}))


def test_schedule_group_and_schedule(app: App) -> None:
    _, queue_arn = _queue(app, "scheduled")
    group_ctx = app.ctx("Group")
    group = app.run(GROUP.create(group_ctx, {"Tags": [{"Key": "x", "Value": "1"}]}))
    assert group.physical_id == group_ctx.generated_name
    assert group.attributes["State"] == "ACTIVE"
    assert group.attributes["Arn"].endswith(f":schedule-group/{group.physical_id}")
    ctx = app.ctx("Nightly")
    old = {
        "GroupName": group.physical_id,
        "ScheduleExpression": "cron(0 3 * * ? *)",
        "FlexibleTimeWindow": {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": "15"},
        "Target": {
            "Arn": queue_arn,
            "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/scheduler",
            "Input": '{"job": "nightly"}',
            "RetryPolicy": {"MaximumRetryAttempts": "2"},
        },
        "StartDate": "2030-01-01T00:00:00Z",
    }
    created = app.run(SCHEDULE.create(ctx, old))
    name = created.physical_id
    assert created.attributes["Arn"].endswith(f":schedule/{group.physical_id}/{name}")
    found = app.run(
        app.call("scheduler", "GetSchedule", {"Name": name, "GroupName": group.physical_id})
    )
    assert found["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15}
    assert found["StartDate"].year == 2030
    new = {**old, "ScheduleExpression": "rate(1 hour)", "State": "DISABLED"}
    app.run(SCHEDULE.update(ctx, name, old, new))
    found = app.run(
        app.call("scheduler", "GetSchedule", {"Name": name, "GroupName": group.physical_id})
    )
    assert (found["ScheduleExpression"], found["State"]) == ("rate(1 hour)", "DISABLED")
    moved = {**new, "GroupName": "default"}  # a group change: made anew there, old one gone
    result = app.run(SCHEDULE.update(ctx, name, new, moved))
    assert result.attributes["Arn"].endswith(f":schedule/default/{name}")
    with pytest.raises(ServiceError):
        app.run(
            app.call("scheduler", "GetSchedule", {"Name": name, "GroupName": group.physical_id})
        )
    app.run(SCHEDULE.delete(ctx, name, moved))
    app.run(SCHEDULE.delete(ctx, name, moved))  # gone already: success
    with pytest.raises(ResourceFailed, match="Invalid Schedule Expression"):
        app.run(SCHEDULE.create(ctx, {**old, "ScheduleExpression": "every day"}))
    with pytest.raises(ResourceFailed, match="#/Target: required key \\[RoleArn\\]"):
        app.run(SCHEDULE.create(ctx, {**old, "Target": {"Arn": queue_arn}}))
    updated = app.run(
        GROUP.update(
            group_ctx,
            group.physical_id,
            {"Tags": [{"Key": "x", "Value": "1"}]},
            {"Tags": [{"Key": "y", "Value": "2"}]},
        )
    )
    tags = app.run(
        app.call("scheduler", "ListTagsForResource", {"ResourceArn": updated.attributes["Arn"]})
    )
    assert tags["Tags"] == [{"Key": "y", "Value": "2"}]
    app.run(GROUP.delete(group_ctx, group.physical_id, {}))
    app.run(GROUP.delete(group_ctx, group.physical_id, {}))
    assert SCHEDULE.replace_on == frozenset({"Name"})
    assert GROUP.replace_on == frozenset({"Name"})
