"""Lambda's asynchronous invocations sending on to other services: OnSuccess / OnFailure
destinations that are SQS queues, and the function's DeadLetterConfig, through the durable
outbox and `fireside.targets` (acting as the function's account: its own queues need no
policy, another account's only through that queue's policy)."""

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
HANDLER = """
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail: " + str(event["n"]))
    return {"ok": event["n"]}
"""


@pytest.fixture(scope="module")
def two_accounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    credentials = ",".join(f"{key}:{secret}" for key, secret in SECRETS.items())
    server = Server(
        tmp_path_factory.mktemp("destinations"),
        env={"FIRESIDE_CREDENTIALS": credentials, "FIRESIDE_ASYNC_RETRY_DELAYS": "0.1,0.1"},
    ).start()
    yield server
    server.stop()


def client(server: Server, account: str, service: str) -> Any:
    return server.client(service, aws_access_key_id=account, aws_secret_access_key=SECRETS[account])


def _queue(sqs: Any) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def _function(lam: Any, **extra: Any) -> str:
    name = f"fn-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(HANDLER)},
        **extra,
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    return name


def _one_message(sqs: Any, url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = sqs.receive_message(
            QueueUrl=url, WaitTimeSeconds=5, MessageAttributeNames=["All"]
        ).get("Messages", [])
        if found:
            message: dict[str, Any] = found[0]
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return message
    raise AssertionError(f"nothing arrived in {url}")


def test_sqs_destinations_and_dead_letter_queue(two_accounts: Server) -> None:
    lam, sqs = client(two_accounts, A, "lambda"), client(two_accounts, A, "sqs")
    (ok_url, ok_arn), (failed_url, failed_arn), (dlq_url, dlq_arn) = (
        _queue(sqs),
        _queue(sqs),
        _queue(sqs),
    )
    name = _function(lam, DeadLetterConfig={"TargetArn": dlq_arn})
    assert lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {
        "TargetArn": dlq_arn
    }
    lam.put_function_event_invoke_config(
        FunctionName=name,
        MaximumRetryAttempts=0,
        DestinationConfig={
            "OnSuccess": {"Destination": ok_arn},
            "OnFailure": {"Destination": failed_arn},
        },
    )
    lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": 1}))
    record = json.loads(_one_message(sqs, ok_url)["Body"])
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestPayload"] == {"n": 1} and record["responsePayload"] == {"ok": 1}

    request = lam.invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": 2, "fail": True})
    )["ResponseMetadata"]["RequestId"]
    record = json.loads(_one_message(sqs, failed_url)["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["responseContext"]["functionError"] == "Unhandled"
    dead = _one_message(sqs, dlq_url)
    assert json.loads(dead["Body"]) == {"n": 2, "fail": True}
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes == {
        "RequestID": request,
        "ErrorCode": "200",
        "ErrorMessage": "asked to fail: 2",
    }


def test_dead_letter_config_is_checked_and_cleared(two_accounts: Server) -> None:
    lam = client(two_accounts, A, "lambda")
    name = _function(lam)
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name)
    with pytest.raises(ClientError) as caught:
        lam.update_function_configuration(
            FunctionName=name,
            DeadLetterConfig={"TargetArn": f"arn:aws:lambda:us-east-1:{A}:function:x"},
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    topic = f"arn:aws:sns:us-east-1:{A}:alerts"
    lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": topic})
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    assert lam.get_function_configuration(FunctionName=name)["DeadLetterConfig"] == {
        "TargetArn": topic
    }
    lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": ""})
    lam.get_waiter("function_updated_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name)


def test_another_accounts_queue_needs_its_policy(two_accounts: Server) -> None:
    """B's function sends its records to A's queue only once A's queue policy grants B."""
    sqs_a = client(two_accounts, A, "sqs")
    lam_b = client(two_accounts, B, "lambda")
    url, arn = _queue(sqs_a)
    name = _function(lam_b)
    lam_b.put_function_event_invoke_config(
        FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}}
    )
    dropped = two_accounts.health()["dropped_deliveries"]
    lam_b.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": 1}))
    deadline = time.monotonic() + 60
    while two_accounts.health()["dropped_deliveries"] == dropped:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert "Messages" not in sqs_a.receive_message(QueueUrl=url)

    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{B}:root"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
            }
        ],
    }
    sqs_a.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    lam_b.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"n": 2}))
    record = json.loads(_one_message(sqs_a, url)["Body"])
    assert record["requestPayload"] == {"n": 2}
    assert record["requestContext"]["functionArn"].startswith(f"arn:aws:lambda:us-east-1:{B}:")
