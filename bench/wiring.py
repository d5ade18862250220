"""Benchmark: event wiring, from an event's source to its function.

Starts its own Fireside (random port, temporary data dir, default sandbox) and measures, with
one client, the time from just before the source call until the function starts running
(the function stores `time.time()` at its start and the event's send time in a DynamoDB
table; same host clock):

- `SQS -> function`: SendMessage to a queue an event-source mapping reads (window 0);
- `SQS mapping throughput`: messages/s through the mapping, 1,000 messages sent in batches
  of 10 beforehand, counted until the function has seen them all;
- `stream -> function`: PutItem on a table whose stream a mapping reads (LATEST);
- `S3 -> function`: PutObject on a bucket notifying the function;
- `EventBridge -> function`: PutEvents matching a rule whose target is the function.

Targets (issue 15): a mapping delivers within 50 ms of its batching window closing (window 0:
of the send); a stream record within 100 ms; S3 and EventBridge within 20 ms.
Prints a table and writes JSON (default bench/results/wiring.json).
Usage: python bench/wiring.py [--deliveries 50] [--messages 1000] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import ROLE, ROOT, aws, client, log, start_server, summarize, zip_of

RECORDER = """
import json, os, time, boto3
DYNAMODB = boto3.client("dynamodb")
def _sent(record):
    source = record.get("eventSource")
    if source == "aws:sqs":
        return json.loads(record["body"])
    if source == "aws:dynamodb":
        image = record["dynamodb"]["NewImage"]
        return {"id": image["id"]["S"], "sent": float(image["sent"]["N"])}
    key, sent = record["s3"]["object"]["key"].split("~")
    return {"id": key, "sent": float(sent)}
def handler(event, context):
    started = time.time()
    found = [_sent(r) for r in event["Records"]] if "Records" in event else [event["detail"]]
    for start in range(0, len(found), 25):
        DYNAMODB.batch_write_item(RequestItems={"arrivals": [
            {"PutRequest": {"Item": {"id": {"S": f["id"]}, "sent": {"N": repr(f["sent"])},
                                     "started": {"N": repr(started)}}}}
            for f in found[start:start + 25]]})
"""


def _arrival(dynamodb: Any, key: str, timeout: float = 30) -> float:
    deadline = time.time() + timeout
    while time.time() < deadline:
        item = dynamodb.get_item(TableName="arrivals", Key={"id": {"S": key}})
        if "Item" in item:
            return float(item["Item"]["started"]["N"])
        time.sleep(0.002)
    raise RuntimeError(f"{key} never reached the function")


def _latencies(
    dynamodb: Any, count: int, prefix: str, send: Callable[[str, float], None]
) -> dict[str, float]:
    latencies = []
    for i in range(count):
        key = f"{prefix}{i}"
        sent = time.time()
        send(key, sent)
        latencies.append(_arrival(dynamodb, key) - sent)
    return summarize(latencies, sum(latencies))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=50)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "wiring.json"))
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as data:
        process, port = start_server(data)
        try:
            lam, dynamodb = client(port), aws(port, "dynamodb")
            sqs, s3, events = aws(port, "sqs"), aws(port, "s3"), aws(port, "events")
            for table, stream in (("arrivals", False), ("source", True)):
                dynamodb.create_table(
                    TableName=table,
                    KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST",
                    **(
                        {"StreamSpecification": {"StreamEnabled": True,
                                                 "StreamViewType": "NEW_IMAGE"}}
                        if stream else {}
                    ),
                )  # fmt: skip
            arn = lam.create_function(
                FunctionName="recorder", Runtime="python3.11", Handler="app.handler",
                Role=ROLE, Code={"ZipFile": zip_of(RECORDER)}, Timeout=30,
            )["FunctionArn"]  # fmt: skip
            lam.get_waiter("function_active_v2").wait(FunctionName="recorder")
            queue = sqs.create_queue(QueueName="work", Attributes={"VisibilityTimeout": "60"})
            queue_arn = sqs.get_queue_attributes(
                QueueUrl=queue["QueueUrl"], AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]

            log("SQS -> function...")
            mapping = lam.create_event_source_mapping(
                EventSourceArn=queue_arn, FunctionName="recorder", BatchSize=10
            )["UUID"]
            while lam.get_event_source_mapping(UUID=mapping)["State"] != "Enabled":
                time.sleep(0.05)
            results["SQS -> function"] = _latencies(
                dynamodb, args.deliveries, "q",
                lambda key, sent: sqs.send_message(
                    QueueUrl=queue["QueueUrl"], MessageBody=json.dumps({"id": key, "sent": sent})
                ),
            )  # fmt: skip

            log(f"SQS mapping throughput ({args.messages} messages)...")
            lam.update_event_source_mapping(UUID=mapping, Enabled=False)
            while lam.get_event_source_mapping(UUID=mapping)["State"] != "Disabled":
                time.sleep(0.05)
            now = time.time()
            for start in range(0, args.messages, 10):
                sqs.send_message_batch(
                    QueueUrl=queue["QueueUrl"],
                    Entries=[
                        {"Id": str(n), "MessageBody": json.dumps({"id": f"t{n}", "sent": now})}
                        for n in range(start, min(start + 10, args.messages))
                    ],
                )
            began = time.perf_counter()
            lam.update_event_source_mapping(UUID=mapping, Enabled=True)
            _arrival(dynamodb, f"t{args.messages - 1}", 600)
            while True:
                counted = dynamodb.scan(
                    TableName="arrivals", Select="COUNT",
                    FilterExpression="begins_with(id, :t)",
                    ExpressionAttributeValues={":t": {"S": "t"}},
                )["Count"]  # fmt: skip
                if counted >= args.messages:
                    break
                time.sleep(0.05)
            elapsed = time.perf_counter() - began
            results["SQS mapping throughput"] = {
                "requests": args.messages, "p50_ms": 0.0, "p99_ms": 0.0,
                "throughput_rps": args.messages / elapsed,
            }  # fmt: skip

            log("DynamoDB stream -> function...")
            stream_arn = dynamodb.describe_table(TableName="source")["Table"]["LatestStreamArn"]
            streamed = lam.create_event_source_mapping(
                EventSourceArn=stream_arn, FunctionName="recorder", StartingPosition="LATEST"
            )["UUID"]
            while lam.get_event_source_mapping(UUID=streamed)["State"] != "Enabled":
                time.sleep(0.05)
            results["stream -> function"] = _latencies(
                dynamodb, args.deliveries, "d",
                lambda key, sent: dynamodb.put_item(
                    TableName="source", Item={"id": {"S": key}, "sent": {"N": repr(sent)}}
                ),
            )  # fmt: skip

            log("S3 -> function...")
            s3.create_bucket(Bucket="uploads")
            lam.add_permission(
                FunctionName="recorder", StatementId="s3", Action="lambda:InvokeFunction",
                Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::uploads",
            )  # fmt: skip
            s3.put_bucket_notification_configuration(
                Bucket="uploads",
                NotificationConfiguration={"LambdaFunctionConfigurations": [
                    {"LambdaFunctionArn": arn, "Events": ["s3:ObjectCreated:*"]}
                ]},
            )  # fmt: skip
            results["S3 -> function"] = _latencies(
                dynamodb, args.deliveries, "s",
                lambda key, sent: s3.put_object(Bucket="uploads", Key=f"{key}~{sent!r}", Body=b"x"),
            )  # fmt: skip

            log("EventBridge -> function...")
            rule = events.put_rule(Name="wiring", EventPattern='{"source": ["bench"]}')
            lam.add_permission(
                FunctionName="recorder", StatementId="events", Action="lambda:InvokeFunction",
                Principal="events.amazonaws.com", SourceArn=rule["RuleArn"],
            )  # fmt: skip
            events.put_targets(Rule="wiring", Targets=[{"Id": "fn", "Arn": arn}])
            results["EventBridge -> function"] = _latencies(
                dynamodb, args.deliveries, "e",
                lambda key, sent: events.put_events(Entries=[{
                    "Source": "bench", "DetailType": "bench",
                    "Detail": json.dumps({"id": key, "sent": sent}),
                }]),
            )  # fmt: skip
        finally:
            process.terminate()
            process.wait(20)
    targets = {
        "SQS -> function": 50.0,
        "stream -> function": 100.0,
        "S3 -> function": 20.0,
        "EventBridge -> function": 20.0,
    }
    print(f"{'measure':<26} {'p50 ms':>8} {'p99 ms':>8} {'msg/s':>8} {'target p50':>11}")
    for name, row in results.items():
        target = f"< {targets[name]:.0f} ms" if name in targets else ""
        print(
            f"{name:<26} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} "
            f"{row['throughput_rps']:>8.0f} {target:>11}"
        )
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
