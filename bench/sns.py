"""Benchmark: SNS Publish and its fan-out to SQS (Publish -> message received).

Starts its own Fireside (random port, temporary data dir) and, for a topic with 1 and with 10
subscribed queues (raw delivery, each queue's policy allowing the topic), measures with one
client:

- `publish`: a Publish's answer (every subscribed queue has committed the message by then);
- `publish -> received`: from just before Publish until a long-polling ReceiveMessage on the
  last subscribed queue answers with the message.

Prints a table and writes JSON (default bench/results/sns.json).
Usage: python bench/sns.py [--publishes 300] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from common import ROOT, aws, log, start_server, summarize


def allow(queue_arn: str, topic_arn: str) -> str:
    return json.dumps(
        {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue_arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
                }
            ]
        }
    )


def fan_out(port: int, queues: int, publishes: int) -> dict[str, dict[str, float]]:
    sns, sqs, receiver = aws(port, "sns"), aws(port, "sqs"), aws(port, "sqs")
    topic = sns.create_topic(Name=f"bench-{queues}")["TopicArn"]
    urls = []
    for index in range(queues):
        url = sqs.create_queue(QueueName=f"bench-{queues}-{index}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": allow(arn, topic)})
        sns.subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
        )
        urls.append(url)
    answered: list[float] = []
    received: list[float] = []
    started = time.perf_counter()
    for n in range(publishes):
        begin = time.perf_counter()
        sns.publish(TopicArn=topic, Message=str(n))
        answered.append(time.perf_counter() - begin)
        message = receiver.receive_message(QueueUrl=urls[-1], WaitTimeSeconds=5)["Messages"][0]
        received.append(time.perf_counter() - begin)
        assert message["Body"] == str(n)
        receiver.delete_message(QueueUrl=urls[-1], ReceiptHandle=message["ReceiptHandle"])
    elapsed = time.perf_counter() - started
    return {
        "publish": summarize(answered, elapsed),
        "publish -> received": summarize(received, elapsed),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--publishes", type=int, default=300)
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "sns.json"))
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as data:
        process, port = start_server(data)
        try:
            for queues in (1, 10):
                log(f"{queues} subscribed queue(s)...")
                for name, summary in fan_out(port, queues, args.publishes).items():
                    results[f"{name} ({queues} queue{'s' if queues > 1 else ''})"] = summary
        finally:
            process.terminate()
            process.wait(20)
    for name, summary in results.items():
        print(f"{name:32} p50 {summary['p50_ms']:7.2f} ms   p99 {summary['p99_ms']:7.2f} ms")
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1))
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
