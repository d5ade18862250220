"""EventBridge Scheduler through boto3 against a live server: schedule groups and their tags,
schedules and AWS's validation errors, one-time schedules delivered to SQS queues on time
(context attributes, self-deletion, dead-letter events), across a restart, and across
accounts only with the target's grant."""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import FunctionFactory, Server

ROLE = "arn:aws:iam::000000000000:role/scheduler"
OFF = {"Mode": "OFF"}


def name(prefix: str = "s") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def soon(seconds: float = 2.0) -> tuple[str, float]:
    """An `at()` expression (UTC) `seconds` from now, and its moment."""
    moment = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=seconds + 1)
    return f"at({moment.strftime('%Y-%m-%dT%H:%M:%S')})", moment.timestamp()


def error_of(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def receive(sqs: Any, url: str, wait: float = 20.0) -> dict[str, Any]:
    """The next message of `url`, by long polling (fails after `wait` seconds)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        found = sqs.receive_message(
            QueueUrl=url, WaitTimeSeconds=5, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if found:
            message: dict[str, Any] = found[0]
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return message
    raise AssertionError(f"no message on {url} within {wait}s")


def queue(sqs: Any, queue_name: str | None = None) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=queue_name or name("q"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


@pytest.fixture()
def scheduler(server: Server) -> Any:
    return server.client("scheduler")


@pytest.fixture()
def sqs(server: Server) -> Any:
    return server.client("sqs")


def test_schedule_groups_their_tags_and_the_default_group(scheduler: Any) -> None:
    default = scheduler.get_schedule_group(Name="default")
    assert default["Arn"] == "arn:aws:scheduler:us-east-1:000000000000:schedule-group/default"
    assert default["State"] == "ACTIVE"
    group = name("g")
    arn = scheduler.create_schedule_group(Name=group, Tags=[{"Key": "team", "Value": "a"}])[
        "ScheduleGroupArn"
    ]
    assert arn.endswith(f":schedule-group/{group}")
    assert error_of(lambda: scheduler.create_schedule_group(Name=group)) == (
        "ConflictException",
        f"Schedule group {group} already exists.",
        409,
    )
    names = [g["Name"] for g in scheduler.list_schedule_groups(NamePrefix=group)["ScheduleGroups"]]
    assert names == [group]
    assert "default" in [g["Name"] for g in scheduler.list_schedule_groups()["ScheduleGroups"]]
    scheduler.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}])
    scheduler.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert scheduler.list_tags_for_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "env", "Value": "dev"}
    ]
    # Deleting a group deletes its schedules.
    target = {"Arn": "arn:aws:sqs:us-east-1:000000000000:nowhere", "RoleArn": ROLE}
    scheduler.create_schedule(
        Name="inside",
        GroupName=group,
        ScheduleExpression="rate(1 day)",
        FlexibleTimeWindow=OFF,
        Target=target,
    )
    scheduler.delete_schedule_group(Name=group)
    assert error_of(lambda: scheduler.get_schedule_group(Name=group))[:2] == (
        "ResourceNotFoundException",
        f"Schedule group {group} does not exist.",
    )
    assert error_of(lambda: scheduler.get_schedule(Name="inside", GroupName=group))[0] == (
        "ResourceNotFoundException"
    )
    assert error_of(lambda: scheduler.delete_schedule_group(Name="default"))[0] == (
        "ValidationException"
    )


def test_schedules_crud_filters_and_paging(scheduler: Any) -> None:
    group = name("g")
    scheduler.create_schedule_group(Name=group)
    target = {"Arn": "arn:aws:sqs:us-east-1:000000000000:somewhere", "RoleArn": ROLE}
    for i in range(5):
        scheduler.create_schedule(
            Name=f"job-{i}",
            GroupName=group,
            ScheduleExpression="cron(0 8 * * ? *)",
            ScheduleExpressionTimezone="Europe/Paris",
            FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 10},
            Target=target,
            Description=f"number {i}",
            State="DISABLED" if i % 2 else "ENABLED",
        )
    got = scheduler.get_schedule(Name="job-1", GroupName=group)
    assert got["Arn"] == f"arn:aws:scheduler:us-east-1:000000000000:schedule/{group}/job-1"
    assert got["ScheduleExpressionTimezone"] == "Europe/Paris"
    assert got["State"] == "DISABLED" and got["Description"] == "number 1"
    assert got["Target"]["RetryPolicy"] == {
        "MaximumEventAgeInSeconds": 86400,
        "MaximumRetryAttempts": 185,
    }
    assert got["ActionAfterCompletion"] == "NONE"
    listed = scheduler.list_schedules(GroupName=group, State="DISABLED")["Schedules"]
    assert sorted(s["Name"] for s in listed) == ["job-1", "job-3"]
    assert listed[0]["Target"] == {"Arn": target["Arn"]}
    pages = scheduler.get_paginator("list_schedules").paginate(
        GroupName=group, PaginationConfig={"PageSize": 2}
    )
    sizes = [len(page["Schedules"]) for page in pages]
    assert sizes == [2, 2, 1]
    # UpdateSchedule replaces the whole schedule: what it leaves out is gone.
    scheduler.update_schedule(
        Name="job-1",
        GroupName=group,
        ScheduleExpression="rate(5 minutes)",
        FlexibleTimeWindow=OFF,
        Target=target,
    )
    updated = scheduler.get_schedule(Name="job-1", GroupName=group)
    assert "Description" not in updated and updated["State"] == "ENABLED"
    assert updated["ScheduleExpressionTimezone"] == "UTC"
    assert updated["CreationDate"] == got["CreationDate"]
    scheduler.delete_schedule(Name="job-1", GroupName=group)
    assert error_of(lambda: scheduler.get_schedule(Name="job-1", GroupName=group)) == (
        "ResourceNotFoundException",
        "Schedule job-1 does not exist.",
        404,
    )
    assert error_of(lambda: scheduler.list_schedules(GroupName=name("nope")))[0] == (
        "ResourceNotFoundException"
    )


def test_validation_errors_in_aws_words(scheduler: Any) -> None:
    target = {"Arn": "arn:aws:sqs:us-east-1:000000000000:q", "RoleArn": ROLE}

    def create(**changes: Any) -> Callable[[], Any]:
        params: dict[str, Any] = {
            "Name": name(),
            "ScheduleExpression": "rate(1 hour)",
            "FlexibleTimeWindow": OFF,
            "Target": target,
        }
        params.update(changes)
        return lambda: scheduler.create_schedule(**params)

    assert error_of(create(ScheduleExpression="every tuesday")) == (
        "ValidationException",
        "Invalid Schedule Expression every tuesday.",
        400,
    )
    assert error_of(create(ScheduleExpression="cron(0 8 * * * *)"))[0] == "ValidationException"
    assert error_of(create(ScheduleExpression="at(2026-02-30T10:00:00)"))[0] == (
        "ValidationException"
    )
    for far in ("at(9999-12-31T23:59:59)", "at(0001-01-01T00:00:00)"):
        assert error_of(create(ScheduleExpression=far, ScheduleExpressionTimezone="Etc/GMT+12"))[
            1
        ] == (f"Invalid Schedule Expression {far}.")
    assert error_of(create(ScheduleExpressionTimezone="Mars/Olympus"))[1] == (
        "Invalid ScheduleExpressionTimezone Mars/Olympus."
    )
    assert error_of(create(FlexibleTimeWindow={"Mode": "FLEXIBLE"}))[0] == "ValidationException"
    universal = {"Arn": "arn:aws:scheduler:::aws-sdk:sqs:sendMessage", "RoleArn": ROLE}
    code, message, _ = error_of(create(Target=universal))
    assert code == "ValidationException" and "does not support universal targets" in message
    past = datetime.now(UTC) - timedelta(hours=1)
    assert error_of(create(StartDate=past))[1] == (
        "The StartDate you specify cannot be earlier than 5 minutes ago."
    )
    lam = {"Arn": "arn:aws:lambda:us-east-1:000000000000:function:f", "RoleArn": ROLE}
    assert error_of(create(Target={**lam, "Input": "not json"}))[0] == "ValidationException"
    bus = {"Arn": "arn:aws:events:us-east-1:000000000000:event-bus/default", "RoleArn": ROLE}
    assert error_of(create(Target=bus))[0] == "ValidationException"
    assert error_of(create(Target={**target, "RoleArn": "not-a-role"}))[0] == (
        "ValidationException"
    )
    assert error_of(create(GroupName=name("nope")))[0] == "ResourceNotFoundException"
    assert error_of(create(Target={**target, "Input": "x" * (256 * 1024 + 1)}))[0] == (
        "ValidationException"
    )
    # A name taken: ConflictException, unless it is a retry with the same ClientToken.
    taken = name()
    token = uuid.uuid4().hex
    first = create(Name=taken, ClientToken=token)()
    assert create(Name=taken, ClientToken=token)()["ScheduleArn"] == first["ScheduleArn"]
    assert error_of(create(Name=taken)) == (
        "ConflictException",
        f"Schedule {taken} already exists.",
        409,
    )


def test_a_one_time_schedule_delivers_to_a_queue_on_time_and_deletes_itself(
    scheduler: Any, sqs: Any
) -> None:
    url, arn = queue(sqs)
    expression, moment = soon()
    body = {
        "arn": "<aws.scheduler.schedule-arn>",
        "time": "<aws.scheduler.scheduled-time>",
        "attempt": "<aws.scheduler.attempt-number>",
    }
    schedule = name()
    created = scheduler.create_schedule(
        Name=schedule,
        ScheduleExpression=expression,
        FlexibleTimeWindow=OFF,
        Target={"Arn": arn, "RoleArn": ROLE, "Input": json.dumps(body)},
        ActionAfterCompletion="DELETE",
    )
    message = receive(sqs, url)
    assert time.time() >= moment - 0.01
    got = json.loads(message["Body"])
    assert got["arn"] == created["ScheduleArn"]
    assert got["time"] == datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert got["attempt"] == "1"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # deleted once fired (the firing is stored after)
        try:
            scheduler.get_schedule(Name=schedule)
        except ClientError:
            break
    else:
        raise AssertionError("the schedule was not deleted after firing")


def test_a_fifo_queue_gets_the_message_group_of_sqs_parameters(scheduler: Any, sqs: Any) -> None:
    url = sqs.create_queue(
        QueueName=f"{name('f')}.fifo",
        Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"},
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    scheduler.create_schedule(
        Name=name(),
        ScheduleExpression=soon(0)[0],
        FlexibleTimeWindow=OFF,
        Target={
            "Arn": arn,
            "RoleArn": ROLE,
            "Input": "in order",
            "SqsParameters": {"MessageGroupId": "g1"},
        },
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        found = sqs.receive_message(
            QueueUrl=url, WaitTimeSeconds=5, MessageSystemAttributeNames=["MessageGroupId"]
        ).get("Messages", [])
        if found:
            assert found[0]["Body"] == "in order"
            assert found[0]["Attributes"]["MessageGroupId"] == "g1"
            return
    raise AssertionError("no message on the FIFO queue")


FORWARDER = """
import json, os, boto3
def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["QUEUE"], MessageBody=json.dumps(event))
"""


def test_a_schedule_invokes_a_function_with_its_input(
    scheduler: Any, sqs: Any, make_function: FunctionFactory
) -> None:
    url, _ = queue(sqs)
    function = make_function(FORWARDER, Environment={"Variables": {"QUEUE": url}})
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function}"
    expression, _ = soon(0)
    created = scheduler.create_schedule(
        Name=name(),
        ScheduleExpression=expression,
        FlexibleTimeWindow=OFF,
        Target={"Arn": arn, "RoleArn": ROLE, "Input": '{"from": "<aws.scheduler.schedule-arn>"}'},
    )
    assert json.loads(receive(sqs, url, wait=60)["Body"]) == {"from": created["ScheduleArn"]}


def test_a_refused_delivery_goes_to_the_dead_letter_queue(
    server: Server, scheduler: Any, sqs: Any
) -> None:
    failed = server.health()["scheduler_failed_invocations"]
    dlq_url, dlq_arn = queue(sqs)
    missing = f"arn:aws:sqs:us-east-1:000000000000:{name('missing')}"
    expression, _ = soon(0)
    created = scheduler.create_schedule(
        Name=name(),
        ScheduleExpression=expression,
        FlexibleTimeWindow=OFF,
        Target={
            "Arn": missing,
            "RoleArn": ROLE,
            "Input": "lost",
            "DeadLetterConfig": {"Arn": dlq_arn},
        },
    )
    message = receive(sqs, dlq_url)
    assert message["Body"] == "lost"
    values = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert values["ERROR_CODE"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert values["SCHEDULE_ARN"] == created["ScheduleArn"]
    assert values["TARGET_ARN"] == missing
    assert values["RETRY_ATTEMPTS"] == "0"
    assert len(values["EXECUTION_ID"]) == 16
    assert server.health()["scheduler_failed_invocations"] == failed + 1


def test_a_one_time_schedule_missed_while_stopped_fires_at_the_restart(
    fresh_server: Callable[..., Server],
) -> None:
    first = fresh_server()
    sqs = first.client("sqs")
    url, arn = queue(sqs, "missed")
    expression, moment = soon(1)
    first.client("scheduler").create_schedule(
        Name="missed",
        ScheduleExpression=expression,
        FlexibleTimeWindow=OFF,
        Target={"Arn": arn, "RoleArn": ROLE, "Input": "made up"},
    )
    first.stop(signal.SIGKILL)  # before its time: acknowledged, so already on disk
    while time.time() < moment + 1:  # the time passes while the server is down
        time.sleep(0.1)
    second = fresh_server(first.data_dir)
    assert receive(second.client("sqs"), url)["Body"] == "made up"
    got = second.client("scheduler").get_schedule(Name="missed")
    assert got["State"] == "ENABLED"  # ActionAfterCompletion NONE: kept


A = "111111111111"
B = "222222222222"
SECRETS = {A: "secret-of-a", B: "secret-of-b"}


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    credentials = ",".join(f"{key}:{secret}" for key, secret in SECRETS.items())
    server = Server(
        tmp_path_factory.mktemp("scheduler-accounts"), env={"FIRESIDE_CREDENTIALS": credentials}
    ).start()
    yield server
    server.stop()


def test_another_accounts_queue_takes_a_schedules_message_only_with_its_grant(
    two_accounts: Server,
) -> None:
    def client(account: str, service: str) -> Any:
        return two_accounts.client(
            service, aws_access_key_id=account, aws_secret_access_key=SECRETS[account]
        )

    sqs_a, sqs_b, scheduler_a = client(A, "sqs"), client(B, "sqs"), client(A, "scheduler")
    b_url, b_arn = queue(sqs_b, "inbox")
    dlq_url, dlq_arn = queue(sqs_a, "dead")
    role = f"arn:aws:iam::{A}:role/scheduler"

    def fire(text: str) -> None:
        scheduler_a.create_schedule(
            Name=name(),
            ScheduleExpression=soon(0)[0],
            FlexibleTimeWindow=OFF,
            Target={
                "Arn": b_arn,
                "RoleArn": role,
                "Input": text,
                "DeadLetterConfig": {"Arn": dlq_arn},
            },
        )

    fire("no grant")
    letter = receive(sqs_a, dlq_url)
    assert letter["Body"] == "no grant"
    assert letter["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "AccessDenied"
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{A}:root"},
                "Action": "sqs:SendMessage",
                "Resource": b_arn,
            }
        ],
    }
    sqs_b.set_queue_attributes(QueueUrl=b_url, Attributes={"Policy": json.dumps(policy)})
    fire("granted")
    assert receive(sqs_b, b_url)["Body"] == "granted"
    # B does not see A's schedules.
    assert client(B, "scheduler").list_schedules()["Schedules"] == []
