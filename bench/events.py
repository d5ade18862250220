"""Benchmark: EventBridge PutEvents, and PutEvents -> Lambda latency.

Starts its own Fireside (random port, temporary data dir, default sandbox) and measures, with
one client:

- `put (no rule matches)`: a PutEvents of one entry on a bus whose rules do not match;
- `put (1 Lambda target)`: the same when one rule matches and its Lambda target's invoke is
  queued (committed with fsync before the answer);
- `put -> function`: from just before PutEvents until the function starts running (the
  function stores `time.time()` and the event's send time in a DynamoDB table; same host
  clock).

Targets (issues 14/15): PutEvents -> function under LocalStack's 4.9 ms p50 (its PutEvents ->
SQS), and within 20 ms.
Prints a table and writes JSON (default bench/results/events.json).
Usage: python bench/events.py [--puts 300] [--deliveries 50] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROLE, ROOT, aws, client, log, start_server, summarize, zip_of

RECORDER = """
import os, time, boto3
TABLE = os.environ["TABLE"]
DYNAMODB = boto3.client("dynamodb")
def handler(event, context):
    started = time.time()
    DYNAMODB.put_item(TableName=TABLE, Item={
        "id": {"S": event["detail"]["id"]},
        "sent": {"N": repr(event["detail"]["sent"])},
        "started": {"N": repr(started)},
    })
"""


def timed_puts(events: Any, source: str, count: int) -> dict[str, float]:
    latencies = []
    started = time.perf_counter()
    for i in range(count):
        detail = json.dumps({"id": f"p{i}", "sent": time.time()})
        entry = {"Source": source, "DetailType": "bench", "Detail": detail}
        before = time.perf_counter()
        answer = events.put_events(Entries=[entry])
        latencies.append(time.perf_counter() - before)
        assert answer["FailedEntryCount"] == 0, answer
    return summarize(latencies, time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--puts", type=int, default=300)
    parser.add_argument("--deliveries", type=int, default=50)
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "events.json"))
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as data:
        process, port = start_server(data)
        try:
            lam, events, dynamodb = client(port), aws(port, "events"), aws(port, "dynamodb")
            dynamodb.create_table(
                TableName="arrivals",
                KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            arn = lam.create_function(
                FunctionName="recorder", Runtime="python3.11", Handler="app.handler",
                Role=ROLE, Code={"ZipFile": zip_of(RECORDER)}, Timeout=30,
                Environment={"Variables": {"TABLE": "arrivals"}},
            )["FunctionArn"]  # fmt: skip
            lam.get_waiter("function_active_v2").wait(FunctionName="recorder")
            rule = events.put_rule(Name="bench", EventPattern='{"source": ["bench.hit"]}')
            lam.add_permission(
                FunctionName="recorder", StatementId="events", Action="lambda:InvokeFunction",
                Principal="events.amazonaws.com", SourceArn=rule["RuleArn"],
            )  # fmt: skip
            events.put_targets(Rule="bench", Targets=[{"Id": "fn", "Arn": arn}])

            log("PutEvents, no rule matching...")
            results["put (no rule matches)"] = timed_puts(events, "bench.miss", args.puts)
            log("PutEvents, one Lambda target...")
            results["put (1 Lambda target)"] = timed_puts(events, "bench.hit", args.puts)
            # Let the queued invokes drain before timing single deliveries.
            deadline = time.time() + 120
            while time.time() < deadline:
                count = dynamodb.scan(TableName="arrivals", Select="COUNT")["Count"]
                if count >= args.puts:
                    break
                time.sleep(0.5)
            log("PutEvents -> function start...")
            latencies = []
            for i in range(args.deliveries):
                key = f"d{i}"
                sent = time.time()
                detail = json.dumps({"id": key, "sent": sent})
                events.put_events(
                    Entries=[{"Source": "bench.hit", "DetailType": "bench", "Detail": detail}]
                )
                while True:
                    item = dynamodb.get_item(TableName="arrivals", Key={"id": {"S": key}})
                    if "Item" in item:
                        break
                    time.sleep(0.005)
                latencies.append(float(item["Item"]["started"]["N"]) - sent)
            results["put -> function"] = summarize(latencies, sum(latencies))
        finally:
            process.terminate()
            process.wait(20)
    print(f"{'measure':<24} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
    for name, row in results.items():
        print(
            f"{name:<24} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} {row['throughput_rps']:>8.0f}"
        )
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
