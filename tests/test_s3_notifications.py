"""S3 event notifications with boto3 against a live server: configurations and their checks,
events to SQS queues and Lambda functions through their resource policies, the s3:TestEvent,
filters, and a notification queued with its change surviving a reopen of the store."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fireside.outbox import Outbox
from fireside.s3.notifications import Change, Notifications
from fireside.s3.store import BucketRecord, S3Store
from fireside.targets import Targets
from tests.conftest import ROLE, Server, python_zip

RECORDER = """
import json, os, boto3
def handler(event, context):
    boto3.client("sqs").send_message(QueueUrl=os.environ["OUT"], MessageBody=json.dumps(event))
"""


def _queue(sqs: Any) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def _allow_s3(sqs: Any, url: str, arn: str, bucket: str) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "SQS:SendMessage",
                "Resource": arn,
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:*:*:{bucket}"}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})


def _next(sqs: Any, url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            found: dict[str, Any] = json.loads(message["Body"])
            return found
    raise AssertionError(f"nothing arrived in {url}")


def _bucket(s3: Any) -> str:
    name = f"b-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


def test_queue_notifications(server: Server) -> None:
    s3, sqs = server.client("s3"), server.client("sqs")
    bucket = _bucket(s3)
    url, arn = _queue(sqs)
    config = {
        "QueueConfigurations": [
            {
                "Id": "incoming",
                "QueueArn": arn,
                "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "in/"}]}},
            }
        ]
    }
    with pytest.raises(ClientError) as caught:  # the queue's policy does not allow S3 yet
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"]) == (
        "InvalidArgument",
        "Unable to validate the following destination configurations",
    )
    _allow_s3(sqs, url, arn, bucket)
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    test = _next(sqs, url)
    assert (test["Event"], test["Bucket"], test["Service"]) == ("s3:TestEvent", bucket, "Amazon S3")
    stored = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert stored["QueueConfigurations"] == [
        {
            "Id": "incoming",
            "QueueArn": arn,
            "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "Prefix", "Value": "in/"}]}},
        }
    ]

    s3.put_object(Bucket=bucket, Key="out/skipped.txt", Body=b"x")
    etag = s3.put_object(Bucket=bucket, Key="in/a b.txt", Body=b"hello")["ETag"].strip('"')
    (record,) = _next(sqs, url)["Records"]
    assert record["eventName"] == "ObjectCreated:Put" and record["eventSource"] == "aws:s3"
    assert record["s3"]["configurationId"] == "incoming"
    assert record["s3"]["bucket"]["name"] == bucket
    assert record["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{bucket}"
    assert record["s3"]["object"]["key"] == "in/a+b.txt"  # URL-encoded, as S3 sends it
    assert (record["s3"]["object"]["size"], record["s3"]["object"]["eTag"]) == (5, etag)
    s3.copy_object(Bucket=bucket, Key="in/copy.txt", CopySource=f"{bucket}/in/a b.txt")
    assert _next(sqs, url)["Records"][0]["eventName"] == "ObjectCreated:Copy"
    s3.delete_object(Bucket=bucket, Key="in/copy.txt")
    removed = _next(sqs, url)["Records"][0]
    assert removed["eventName"] == "ObjectRemoved:Delete"
    assert "size" not in removed["s3"]["object"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)

    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
    assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(Bucket=bucket)


def test_function_notifications_need_the_functions_policy(server: Server) -> None:
    s3, sqs, lam = server.client("s3"), server.client("sqs"), server.client()
    bucket = _bucket(s3)
    out_url, _ = _queue(sqs)
    name = f"fn-{uuid.uuid4().hex[:8]}"
    function_arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(RECORDER)},
        Environment={"Variables": {"OUT": out_url}},
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300}
    )
    config = {
        "LambdaFunctionConfigurations": [
            {"LambdaFunctionArn": function_arn, "Events": ["s3:ObjectCreated:Put"]}
        ]
    }
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    assert caught.value.response["Error"]["Code"] == "InvalidArgument"
    lam.add_permission(
        FunctionName=name,
        StatementId="s3",
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        SourceArn=f"arn:aws:s3:::{bucket}",
    )
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=config)
    generated = s3.get_bucket_notification_configuration(Bucket=bucket)
    assert generated["LambdaFunctionConfigurations"][0]["Id"]  # S3 names an entry without Id
    s3.put_object(Bucket=bucket, Key="photo.jpg", Body=b"jpeg")
    (record,) = _next(sqs, out_url)["Records"]
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["object"]["key"] == "photo.jpg"


def test_bad_configurations(server: Server) -> None:
    s3, sqs = server.client("s3"), server.client("sqs")
    bucket = _bucket(s3)
    _, arn = _queue(sqs)

    def refused(config: dict[str, Any]) -> str:
        with pytest.raises(ClientError) as caught:
            s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration=config, SkipDestinationValidation=True
            )
        error = caught.value.response["Error"]
        assert error["Code"] == "InvalidArgument"
        return str(error["Message"])

    assert refused(
        {"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectEaten:*"]}]}
    ) == ("The event is not supported for notifications")
    assert refused(
        {
            "QueueConfigurations": [
                {"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]},
                {"QueueArn": arn, "Events": ["s3:ObjectCreated:Put"]},
            ]
        }
    ).startswith("Configurations overlap.")
    rules = [{"Name": "prefix", "Value": "a"}, {"Name": "prefix", "Value": "b"}]
    assert refused(
        {
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": rules}},
                }
            ]
        }
    ) == ("Cannot specify more than one prefix rule in a filter.")
    other_region = arn.replace("us-east-1", "eu-west-1")
    assert refused(
        {"QueueConfigurations": [{"QueueArn": other_region, "Events": ["s3:ObjectCreated:*"]}]}
    ).startswith("The notification destination service region is not valid")
    # Two filters on disjoint prefixes may share an event type.
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        SkipDestinationValidation=True,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": p}]}},
                }
                for p in ("a/", "b/")
            ]
        },
    )


def test_a_notification_is_queued_with_its_change(tmp_path: Path) -> None:
    """The event is in the S3 store's outbox in the put's own transaction: a store reopened
    after a crash (no outbox ever ran) still has it to send."""
    store = S3Store(tmp_path)
    store.create_bucket(BucketRecord("b", "111111111111", "us-east-1", 0.0))
    notifications = Notifications(store, None, Outbox(store, Targets()), Targets())  # type: ignore[arg-type]
    config = {
        "QueueConfigurations": [
            {
                "Id": "q",
                "QueueArn": "arn:aws:sqs:us-east-1:111111111111:q",
                "Events": ["s3:ObjectCreated:*"],
            }
        ]
    }
    bucket = store.bucket("b")
    assert bucket is not None
    hook = notifications.hook(bucket, config, Change("ObjectCreated:Put", "k", "req", "AWS:me"))
    store.put("b", "k", b"body", {}, 0.0, hook)
    store.close()
    reopened = S3Store(tmp_path)
    (row,) = reopened.query("SELECT arn, body FROM outbox")
    assert row[0] == "arn:aws:sqs:us-east-1:111111111111:q"
    assert json.loads(str(row[1]))["Records"][0]["s3"]["object"]["key"] == "k"


def test_eventbridge_gets_object_events(server: Server) -> None:
    s3, sqs, events = server.client("s3"), server.client("sqs"), server.client("events")
    bucket = _bucket(s3)
    url, arn = _queue(sqs)
    pattern = {
        "source": ["aws.s3"],
        "detail-type": ["Object Created", "Object Deleted"],
        "detail": {"bucket": {"name": [bucket]}},
    }
    rule = events.put_rule(Name=f"s3-{bucket}", EventPattern=json.dumps(pattern))["RuleArn"]
    events.put_targets(Rule=f"s3-{bucket}", Targets=[{"Id": "q", "Arn": arn}])
    policy = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule}},
            }
        ]
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    s3.put_bucket_notification_configuration(
        Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    assert "EventBridgeConfiguration" in s3.get_bucket_notification_configuration(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b")
    created = _next(sqs, url)
    assert (created["source"], created["detail-type"]) == ("aws.s3", "Object Created")
    assert created["resources"] == [f"arn:aws:s3:::{bucket}"]
    assert created["detail"]["object"]["key"] == "report.csv"
    assert created["detail"]["reason"] == "PutObject"
    s3.delete_object(Bucket=bucket, Key="report.csv")
    deleted = _next(sqs, url)
    assert deleted["detail-type"] == "Object Deleted"
    assert deleted["detail"]["deletion-type"] == "Permanently Deleted"
