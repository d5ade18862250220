"""Compatibility: clients that speak SQS's query protocol, unmodified, against Fireside.

boto3 1.34.19 and the AWS CLI v1 1.32.19, both on botocore 1.34.19 (SQS's model was the
query protocol until botocore 1.34.23 moved it to json), are installed into
`.bench-venvs/sqs-query` (once; PyPI through pip). boto3 drives a fresh Fireside server from
a subprocess: queues with attributes and
tags, sends with String/Number/Binary message attributes (botocore checks every MD5 Fireside
answers), batches with a failing entry, receives with system and message attributes,
visibility, deletes, tags, AddPermission/RemovePermission and a second account using the
grant, dead-letter queues and a message move task, and the modelled error classes
(`QueueDoesNotExist`...). Then the CLI creates a queue, sends with a message attribute,
receives and deletes it (`aws sqs ...`, its JSON output read back). Every call goes over
`Action=...` form posts with XML answers.

Prints each check and the time taken; exits non-zero on the first failure.
Usage: python bench/sqs_query_client.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from common import ROOT, log, start_server

VENV = ROOT / ".bench-venvs" / "sqs-query"
PINS = ("boto3==1.34.19", "awscli==1.32.19", "botocore==1.34.19")

CLIENT = r"""
import base64, json, sys, time
import boto3, botocore
from botocore.config import Config
from botocore.exceptions import ClientError

endpoint = sys.argv[1]
def client(key):
    return boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key="x",
                        config=Config(retries={"max_attempts": 1}))
sqs, other = client("000000000000"), client("111111111111")
assert sqs.meta.service_model.protocol == "query", sqs.meta.service_model.protocol
checks = 0
def ok(what):
    global checks
    checks += 1
    print("ok", what, flush=True)

url = sqs.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "40"},
                       tags={"team": "blue"})["QueueUrl"]
assert url.endswith("/000000000000/orders"), url
assert sqs.get_queue_url(QueueName="orders")["QueueUrl"] == url
assert sqs.list_queues(QueueNamePrefix="ord")["QueueUrls"] == [url]
got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
assert got["VisibilityTimeout"] == "40" and got["QueueArn"].endswith(":orders"), got
sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "0"})
ok("queues: create, url, list, attributes")

sqs.tag_queue(QueueUrl=url, Tags={"env": "dev"})
sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "dev"}
ok("tags")

attributes = {
    "city": {"DataType": "String", "StringValue": "Paris"},
    "count": {"DataType": "Number", "StringValue": "42"},
    "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xffdata"},
}
sent = sqs.send_message(QueueUrl=url, MessageBody="hello <&>", MessageAttributes=attributes)
assert sent["MessageId"] and sent["MD5OfMessageAttributes"]
ok("send with attributes (botocore checked the MD5s)")

batch = sqs.send_message_batch(QueueUrl=url, Entries=[
    {"Id": "a", "MessageBody": "one"},
    {"Id": "b", "MessageBody": "two", "DelaySeconds": 901},
])
assert [e["Id"] for e in batch["Successful"]] == ["a"], batch
assert batch["Failed"][0]["Id"] == "b" and batch["Failed"][0]["SenderFault"] is True
ok("send batch: one entry failed")

seen = {}
for _ in range(5):
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"],
                              MessageAttributeNames=["All"], VisibilityTimeout=30)
    for message in got.get("Messages", []):
        seen[message["Body"]] = message
    if len(seen) == 2:
        break
assert set(seen) == {"hello <&>", "one"}, seen
first = seen["hello <&>"]
assert first["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\xffdata"
assert first["MessageAttributes"]["count"] == {"DataType": "Number", "StringValue": "42"}
assert first["Attributes"]["ApproximateReceiveCount"] == "1"
ok("receive with system and message attributes")

handles = [m["ReceiptHandle"] for m in seen.values()]
changed = sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
    {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 60} for i, h in enumerate(handles)])
assert len(changed["Successful"]) == 2, changed
sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handles[0], VisibilityTimeout=10)
deleted = sqs.delete_message_batch(QueueUrl=url, Entries=[
    {"Id": str(i), "ReceiptHandle": h} for i, h in enumerate(handles)])
assert len(deleted["Successful"]) == 2, deleted
sqs.delete_message(QueueUrl=url, ReceiptHandle=handles[0])
ok("visibility and deletes, single and batch")

try:
    sqs.get_queue_url(QueueName="nope")
    raise AssertionError("no error")
except sqs.exceptions.QueueDoesNotExist as error:
    assert error.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
try:
    sqs.send_message_batch(QueueUrl=url, Entries=[])
    raise AssertionError("no error")
except ClientError as error:
    assert error.response["Error"]["Code"] == "AWS.SimpleQueueService.EmptyBatchRequest", error
ok("errors: modelled classes and query codes")

try:
    other.send_message(QueueUrl=url, MessageBody="x")
    raise AssertionError("no error")
except ClientError as error:
    assert error.response["Error"]["Code"] == "AccessDenied", error.response
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
sqs.add_permission(QueueUrl=url, Label="friends", AWSAccountIds=["111111111111"],
                   Actions=["SendMessage", "GetQueueUrl"])
other.send_message(QueueUrl=url, MessageBody="from another account")
assert other.get_queue_url(QueueName="orders", QueueOwnerAWSAccountId="000000000000")["QueueUrl"] == url
policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])
                    ["Attributes"]["Policy"])
assert policy["Statement"][0]["Sid"] == "friends", policy
sqs.remove_permission(QueueUrl=url, Label="friends")
try:
    other.send_message(QueueUrl=url, MessageBody="x")
    raise AssertionError("no error")
except ClientError as error:
    assert error.response["Error"]["Code"] == "AccessDenied"
ok("AddPermission grants another account; RemovePermission takes it back")

dlq = sqs.create_queue(QueueName="orders-dlq")["QueueUrl"]
dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
source = sqs.create_queue(QueueName="work", Attributes={"RedrivePolicy": json.dumps(
    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "1"})})["QueueUrl"]
assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [source]
sqs.send_message(QueueUrl=source, MessageBody="poison")
sqs.receive_message(QueueUrl=source, VisibilityTimeout=0)
assert "Messages" not in sqs.receive_message(QueueUrl=source)
handle = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
deadline = time.time() + 10
while True:
    task = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"][0]
    if task["Status"] == "COMPLETED":
        break
    assert time.time() < deadline, task
    time.sleep(0.05)
assert task["ApproximateNumberOfMessagesMoved"] == 1, task
assert sqs.receive_message(QueueUrl=source)["Messages"][0]["Body"] == "poison"
ok("dead-letter queue, move task back to the source")

sqs.purge_queue(QueueUrl=source)
for queue in (url, dlq, source):
    sqs.delete_queue(QueueUrl=queue)
assert "QueueUrls" not in sqs.list_queues()
ok("purge and delete")
print(f"{checks} checks passed with boto3 {boto3.__version__} / botocore {botocore.__version__}")
"""


def ensure_venv() -> None:
    python = VENV / "bin" / "python"
    if python.exists():
        return
    log(f"installing {' '.join(PINS)} into {VENV}")
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", *PINS], check=True)


def cli(endpoint: str, *args: str) -> dict[str, object]:
    """One `aws sqs ...` command of the CLI v1; its JSON output."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "AWS_ACCESS_KEY_ID": "000000000000",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    command = [str(VENV / "bin" / "aws"), "--endpoint-url", endpoint, "--output", "json", "sqs"]
    result = subprocess.run(
        [*command, *args], env=env, capture_output=True, text=True, timeout=30, check=True
    )
    found: dict[str, object] = json.loads(result.stdout) if result.stdout.strip() else {}
    return found


def run_cli(endpoint: str) -> None:
    url = str(cli(endpoint, "create-queue", "--queue-name", "cli", "--attributes",
                  "VisibilityTimeout=45")["QueueUrl"])  # fmt: skip
    attributes = cli(
        endpoint, "get-queue-attributes", "--queue-url", url, "--attribute-names", "All"
    )
    assert attributes["Attributes"]["VisibilityTimeout"] == "45", attributes  # type: ignore[index]
    cli(endpoint, "send-message", "--queue-url", url, "--message-body", "from the CLI",
        "--message-attributes", '{"k": {"DataType": "String", "StringValue": "v"}}')  # fmt: skip
    got = cli(endpoint, "receive-message", "--queue-url", url, "--attribute-names", "All",
              "--message-attribute-names", "All")  # fmt: skip
    message = got["Messages"][0]  # type: ignore[index]
    assert (
        message["Body"] == "from the CLI"
        and message["MessageAttributes"]["k"]["StringValue"] == "v"
    )
    cli(
        endpoint, "delete-message", "--queue-url", url, "--receipt-handle", message["ReceiptHandle"]
    )
    cli(endpoint, "delete-queue", "--queue-url", url)
    print("ok AWS CLI v1: create-queue, get-queue-attributes, send, receive, delete", flush=True)


def main() -> None:
    ensure_venv()
    with tempfile.TemporaryDirectory() as data:
        process, port = start_server(data)
        try:
            started = time.monotonic()
            result = subprocess.run(
                [str(VENV / "bin" / "python"), "-c", CLIENT, f"http://127.0.0.1:{port}"],
                env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
                timeout=60,
            )
            if result.returncode == 0:
                run_cli(f"http://127.0.0.1:{port}")
            log(f"query-protocol clients: exit {result.returncode} in "
                f"{time.monotonic() - started:.1f} s")  # fmt: skip
        finally:
            process.terminate()
            process.wait(20)
    raise SystemExit(result.returncode)


if __name__ == "__main__":
    main()
