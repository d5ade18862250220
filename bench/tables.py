"""Benchmark: DynamoDB operations on Fireside beside moto's server, in the same run.

For each server (Fireside with each available engine, and `moto_server` from PyPI as the
peer) it measures PutItem, GetItem, Query (100 items) and TransactWriteItems (4 items) with 1
and 16 concurrent keep-alive clients, then a contention run: 16 clients incrementing 4 of 10
hot items per transaction, checked for lost updates afterwards.

Clients speak raw HTTP with pre-built JSON bodies and a fixed (unverified) SigV4 header, so
the load generator costs far less than either server and the two servers get identical
requests. moto is installed on demand into its own virtualenv (`.bench-venvs/moto`).

Prints a table and writes JSON (default bench/results/tables.json).
Usage: python bench/tables.py [--seconds 3] [--json PATH] [--no-moto]
       [--postgresql postgresql://user@host/db]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from common import ROOT, log, start_server

MOTO_VENV = ROOT / ".bench-venvs" / "moto"
AUTH = (
    "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20240101/us-east-1/dynamodb/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64
)
TABLE = "bench"
QUERY_ITEMS = 100
HOT_ITEMS = 10


def summarize(latencies: list[float], elapsed: float, errors: int) -> dict[str, float]:
    ordered = sorted(latencies)
    if not ordered:
        return {"requests": 0, "errors": errors, "throughput_rps": 0.0}
    return {
        "requests": len(ordered),
        "errors": errors,
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3),
        "throughput_rps": round(len(ordered) / elapsed, 1),
    }


class Connection:
    """One keep-alive HTTP/1.1 connection sending DynamoDB json-1.0 calls."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def call(self, operation: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
            sock = self.writer.get_extra_info("socket")
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        assert self.reader is not None
        head = (
            f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: application/x-amz-json-1.0\r\n"
            f"X-Amz-Target: DynamoDB_20120810.{operation}\r\nX-Amz-Date: 20240101T000000Z\r\n"
            f"Authorization: {AUTH}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        status = int(status_line.split()[1])
        length = 0
        close = False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        data = await self.reader.readexactly(length)
        if close:
            self.writer.close()
            self.writer = None
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def item(pk: str, sk: int = 0, payload: str = "x" * 100) -> dict[str, Any]:
    return {
        "pk": {"S": pk},
        "sk": {"N": str(sk)},
        "payload": {"S": payload},
        "n": {"N": "1"},
    }


def bodies(operation: str, worker: int, counter: int) -> bytes:
    """The request body of one call (varying keys so writes do not collide)."""
    if operation == "PutItem":
        return json.dumps({"TableName": TABLE, "Item": item(f"w{worker}-{counter}")}).encode()
    if operation == "GetItem":
        key = {"pk": {"S": f"seed-{counter % 200}"}, "sk": {"N": "0"}}
        return json.dumps({"TableName": TABLE, "Key": key}).encode()
    if operation == "Query":
        return json.dumps(
            {
                "TableName": TABLE,
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": "query"}},
            }
        ).encode()
    if operation == "TransactWriteItems":
        return json.dumps({"TransactItems": [
            {"Update": {
                "TableName": TABLE,
                "Key": {"pk": {"S": f"tx-{worker}-{counter}-{i}"}, "sk": {"N": "0"}},
                "UpdateExpression": "ADD n :one",
                "ExpressionAttributeValues": {":one": {"N": "1"}},
            }} for i in range(4)
        ]}).encode()  # fmt: skip
    # Contention: 4 of the 10 hot items.
    keys = random.Random(worker * 1_000_003 + counter).sample(range(HOT_ITEMS), 4)
    return json.dumps({"TransactItems": [
        {"Update": {
            "TableName": TABLE,
            "Key": {"pk": {"S": f"hot-{k}"}, "sk": {"N": "0"}},
            "UpdateExpression": "ADD n :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }} for k in keys
    ]}).encode()  # fmt: skip


async def load(
    port: int, operation: str, clients: int, seconds: float
) -> tuple[dict[str, float], int]:
    """Run `clients` closed-loop clients for `seconds`; returns the summary and successes."""
    wire_operation = "TransactWriteItems" if operation == "Contention" else operation
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def client(worker: int) -> None:
        nonlocal errors
        connection = Connection(port)
        counter = 0
        try:
            while time.perf_counter() < stop_at:
                body = bodies(operation, worker, counter)
                counter += 1
                started = time.perf_counter()
                status, _ = await connection.call(wire_operation, body)
                if status == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors += 1
        finally:
            connection.close()

    began = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(clients)))
    return summarize(latencies, time.perf_counter() - began, errors), len(latencies)


async def call(port: int, operation: str, payload: dict[str, Any]) -> dict[str, Any]:
    connection = Connection(port)
    try:
        status, data = await connection.call(operation, json.dumps(payload).encode())
    finally:
        connection.close()
    result: dict[str, Any] = json.loads(data) if data else {}
    if status != 200:
        raise RuntimeError(f"{operation} failed ({status}): {result}")
    return result


async def prepare(port: int) -> None:
    with contextlib.suppress(RuntimeError):  # a PostgreSQL database keeps an earlier run's
        await call(port, "DeleteTable", {"TableName": TABLE})
    await call(port, "CreateTable", {
        "TableName": TABLE,
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                      {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "sk", "AttributeType": "N"}],
        "BillingMode": "PAY_PER_REQUEST",
    })  # fmt: skip
    seeds = [item(f"seed-{i}") for i in range(200)] + [item("query", i) for i in range(QUERY_ITEMS)]
    for start in range(0, len(seeds), 25):
        chunk = seeds[start : start + 25]
        await call(port, "BatchWriteItem", {
            "RequestItems": {TABLE: [{"PutRequest": {"Item": i}} for i in chunk]}
        })  # fmt: skip


async def hot_total(port: int) -> int:
    total = 0
    for k in range(HOT_ITEMS):
        got = await call(
            port,
            "GetItem",
            {"TableName": TABLE, "Key": {"pk": {"S": f"hot-{k}"}, "sk": {"N": "0"}},
             "ConsistentRead": True},
        )  # fmt: skip
        if "Item" in got:
            total += int(got["Item"]["n"]["N"])
    return total


async def measure(port: int, seconds: float) -> dict[str, Any]:
    await prepare(port)
    # Unmeasured reads first, so the first cell does not pay for either server's warm-up
    # (lazy imports, caches); reads leave the table as it was for both.
    await load(port, "GetItem", 1, 1.0)
    results: dict[str, Any] = {}
    for operation in ("PutItem", "GetItem", "Query", "TransactWriteItems"):
        for clients in (1, 16):
            summary, _ = await load(port, operation, clients, seconds)
            results[f"{operation} x{clients}"] = summary
            log(f"    {operation} x{clients}: {summary}")
    summary, succeeded = await load(port, "Contention", 16, seconds)
    total = await hot_total(port)
    summary["lost_updates"] = succeeded * 4 - total
    results["Contention x16"] = summary
    log(f"    contention x16: {summary}")
    return results


def moto_server() -> tuple[subprocess.Popen[str], int]:
    binary = MOTO_VENV / "bin" / "moto_server"
    if not binary.exists():
        log("installing moto[server] into .bench-venvs/moto (once)...")
        subprocess.run([sys.executable, "-m", "venv", str(MOTO_VENV)], check=True)
        subprocess.run(
            [str(MOTO_VENV / "bin" / "pip"), "install", "--quiet", "moto[server]"], check=True
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [str(binary), "-p", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    assert process.stdout is not None
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return process, port


def moto_version() -> str:
    out = subprocess.run(
        [str(MOTO_VENV / "bin" / "python"), "-c", "import moto; print(moto.__version__)"],
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def run_fireside(seconds: float, backend: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as data:
        env = {"FIRESIDE_TABLES_BACKEND": backend} if backend else {}
        process, port = start_server(data, sandbox="process", env=env)
        try:
            return asyncio.run(measure(port, seconds))
        finally:
            process.terminate()
            process.wait(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "tables.json"))
    parser.add_argument("--no-moto", action="store_true")
    parser.add_argument(
        "--postgresql",
        default=os.environ.get("FIRESIDE_BENCH_POSTGRESQL"),
        help="also measure the PostgreSQL engine against this database URL",
    )
    args = parser.parse_args()
    runs: dict[str, Any] = {}
    log("Fireside (sqlite engine)")
    runs["fireside-sqlite"] = run_fireside(args.seconds, None)
    if args.postgresql:
        log("Fireside (postgresql engine)")
        runs["fireside-postgresql"] = run_fireside(args.seconds, args.postgresql)
    if not args.no_moto:
        process, port = moto_server()
        log(f"moto_server {moto_version()}")
        try:
            runs["moto"] = asyncio.run(measure(port, args.seconds))
        finally:
            process.terminate()
            process.wait(20)
    print_table(runs)
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {"seconds": args.seconds, "cpus": os.cpu_count(), "runs": runs}
    if "moto" in runs:
        report["moto_version"] = moto_version()
    path.write_text(json.dumps(report, indent=2))
    log(f"wrote {path}")


def print_table(runs: dict[str, Any]) -> None:
    names = list(runs)
    rows = list(next(iter(runs.values())))
    header = f"{'operation':<24}" + "".join(f"{n:>34}" for n in names)
    if "moto" in runs:
        header += "   " + "  ".join(f"{n} / moto" for n in names if n != "moto")
    print(header)
    for row in rows:
        line = f"{row:<24}"
        for name in names:
            r = runs[name][row]
            cell = f"{r['throughput_rps']:>8.0f}/s p50 {r.get('p50_ms', 0):6.2f} p99 {r.get('p99_ms', 0):6.2f}"
            line += f"{cell:>34}"
        if "moto" in runs:
            moto = runs["moto"][row]["throughput_rps"] or 1
            line += "   " + "  ".join(
                f"{runs[n][row]['throughput_rps'] / moto:>6.1f}x" for n in names if n != "moto"
            )
        print(line)
    for name in names:
        lost = runs[name]["Contention x16"].get("lost_updates")
        print(f"{name}: lost updates under contention: {lost}")


if __name__ == "__main__":
    main()
