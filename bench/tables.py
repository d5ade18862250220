"""Benchmark: DynamoDB operations on Fireside beside its peers (moto, dynalite), in one run.

For each server (Fireside with each available engine; `moto_server` from PyPI; dynalite from
npm, Node.js on LevelDB, in its LevelDB mode and its in-memory mode) it measures PutItem,
GetItem, Query (100 items) and TransactWriteItems (4 items) with 1 and 16 concurrent
keep-alive clients, then a contention run: 16 clients incrementing 4 of 10 hot items per
transaction, checked for lost updates afterwards. dynalite has no transactions: its
transaction cells say so instead of holding a figure, and their ratios are "n/a".

Clients speak raw HTTP with pre-built JSON bodies and a fixed (unverified) SigV4 header, so
the load generator costs far less than the servers and every server gets identical requests.
moto is installed on demand into its own virtualenv (`.bench-venvs/moto`), dynalite with npm
into `.bench-venvs/dynalite` (Node.js 18+ on the PATH). `--compare DIR` also runs the
Fireside of another checkout (with its own `.venv`, e.g. the main branch) in the same run, so a
change's before and after are measured side by side.

Prints a table (each server's cells, then Fireside's ratio to each peer) and writes JSON with
every server's run (default bench/results/tables.json).
Usage: python bench/tables.py [--seconds 3] [--json PATH] [--no-moto] [--no-dynalite]
       [--compare DIR] [--postgresql postgresql://user@host/db]
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
DYNALITE_DIR = ROOT / ".bench-venvs" / "dynalite"
DYNALITE_PACKAGE = "dynalite@4"
#: What a cell of a server without transactions holds instead of a figure.
NO_TRANSACTIONS = "no transactions"
TRANSACTION_CELLS = ("TransactWriteItems x1", "TransactWriteItems x16", "Contention x16")
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


async def measure(port: int, seconds: float, transactions: bool = True) -> dict[str, Any]:
    """Every cell against one server; `transactions=False` for a server without them, whose
    transaction cells then hold `{"unsupported": NO_TRANSACTIONS}`."""
    await prepare(port)
    # Unmeasured reads first, so the first cell does not pay for either server's warm-up
    # (lazy imports, caches); reads leave the table as it was for both.
    await load(port, "GetItem", 1, 1.0)
    results: dict[str, Any] = {}
    for operation in ("PutItem", "GetItem", "Query", "TransactWriteItems"):
        for clients in (1, 16):
            row = f"{operation} x{clients}"
            if row in TRANSACTION_CELLS and not transactions:
                results[row] = {"unsupported": NO_TRANSACTIONS}
                continue
            summary, _ = await load(port, operation, clients, seconds)
            results[row] = summary
            log(f"    {row}: {summary}")
    if not transactions:
        results["Contention x16"] = {"unsupported": NO_TRANSACTIONS}
        return results
    summary, succeeded = await load(port, "Contention", 16, seconds)
    total = await hot_total(port)
    summary["lost_updates"] = succeeded * 4 - total
    results["Contention x16"] = summary
    log(f"    contention x16: {summary}")
    return results


def start_other_checkout(root: Path, data: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    process = subprocess.Popen(
        [str(root / ".venv" / "bin" / "python"), "-m", "fireside", "up", "--port", str(port),
         "--data-dir", data, "--sandbox", "process"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=root,
    )  # fmt: skip
    wait_listening(process, port, f"fireside in {root}")
    assert process.stdout is not None
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return process, port


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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_listening(process: subprocess.Popen[str], port: int, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with status {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within 60 s")


def dynalite_binary() -> Path:
    """dynalite's command, installed with npm into .bench-venvs/dynalite on first use."""
    binary = DYNALITE_DIR / "node_modules" / ".bin" / "dynalite"
    if not binary.exists():
        log(f"installing {DYNALITE_PACKAGE} into .bench-venvs/dynalite (once)...")
        DYNALITE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(DYNALITE_DIR), "--no-audit", "--no-fund",
             "--loglevel", "error", DYNALITE_PACKAGE],
            check=True, stdout=sys.stderr,
        )  # fmt: skip
    return binary


def dynalite_version() -> str:
    manifest = DYNALITE_DIR / "node_modules" / "dynalite" / "package.json"
    return str(json.loads(manifest.read_text())["version"]) if manifest.exists() else ""


def run_dynalite(seconds: float, leveldb: bool) -> dict[str, Any]:
    """dynalite in its LevelDB mode (`--path`, tables created at once) or in memory."""
    with tempfile.TemporaryDirectory() as data:
        port = free_port()
        command = [str(dynalite_binary()), "--port", str(port)]
        if leveldb:
            command += ["--path", data, "--createTableMs", "0"]
        else:
            command += ["--createTableMs", "0"]
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        try:
            wait_listening(process, port, "dynalite")
            assert process.stdout is not None
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return asyncio.run(measure(port, seconds, transactions=False))
        finally:
            process.terminate()
            process.wait(20)


def run_fireside(seconds: float, backend: str | None, root: Path | None = None) -> dict[str, Any]:
    """Fireside of this checkout, or of the checkout `root` (run with its own `.venv`)."""
    with tempfile.TemporaryDirectory() as data:
        env = {"FIRESIDE_TABLES_BACKEND": backend} if backend else {}
        if root is None:
            process, port = start_server(data, sandbox="process", env=env)
        else:
            process, port = start_other_checkout(root, data)
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
    parser.add_argument("--no-dynalite", action="store_true")
    parser.add_argument(
        "--compare",
        default=None,
        help="also run the Fireside of this checkout (with its own .venv), e.g. /work/main",
    )
    parser.add_argument(
        "--postgresql",
        default=os.environ.get("FIRESIDE_BENCH_POSTGRESQL"),
        help="also measure the PostgreSQL engine against this database URL",
    )
    args = parser.parse_args()
    runs: dict[str, Any] = {}
    log("Fireside (sqlite engine)")
    runs["fireside-sqlite"] = run_fireside(args.seconds, None)
    if args.compare:
        log(f"Fireside of {args.compare} (sqlite engine)")
        runs["compare-sqlite"] = run_fireside(args.seconds, None, Path(args.compare))
    if args.postgresql:
        log("Fireside (postgresql engine)")
        runs["fireside-postgresql"] = run_fireside(args.seconds, args.postgresql)
    if not args.no_dynalite:
        for name, leveldb in (("dynalite-leveldb", True), ("dynalite-memory", False)):
            log(f"dynalite {dynalite_version() or DYNALITE_PACKAGE} ({name.split('-')[1]})")
            runs[name] = run_dynalite(args.seconds, leveldb)
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
    if not args.no_dynalite:
        report["dynalite_version"] = dynalite_version()
    if args.compare:
        report["compare"] = args.compare
    path.write_text(json.dumps(report, indent=2))
    log(f"wrote {path}")


#: Peers Fireside's runs are divided by, when they ran.
PEERS = ("dynalite-leveldb", "dynalite-memory", "moto", "compare-sqlite")


def cell(result: dict[str, Any]) -> str:
    if "unsupported" in result:
        return str(result["unsupported"])
    return (
        f"{result['throughput_rps']:.0f}/s p50 {result.get('p50_ms', 0):.2f} "
        f"p99 {result.get('p99_ms', 0):.2f}"
    )


def ratio(mine: dict[str, Any], peer: dict[str, Any]) -> str:
    if "unsupported" in mine or "unsupported" in peer:
        return "n/a"
    return f"{mine['throughput_rps'] / (peer['throughput_rps'] or 1):.2f}x"


def print_table(runs: dict[str, Any]) -> None:
    names = list(runs)
    rows = list(next(iter(runs.values())))
    width = max(34, *(len(n) + 2 for n in names))
    print(f"{'operation':<24}" + "".join(f"{n:>{width}}" for n in names))
    for row in rows:
        print(f"{row:<24}" + "".join(f"{cell(runs[n][row]):>{width}}" for n in names))
    ours = [n for n in names if n.startswith("fireside")]
    pairs = [(mine, peer) for mine in ours for peer in PEERS if peer in runs]
    if pairs:
        print()
        labels = [f"{mine} / {peer}" for mine, peer in pairs]
        width = max(len(label) + 2 for label in labels)
        print(f"{'ratio':<24}" + "".join(f"{label:>{width}}" for label in labels))
        for row in rows:
            print(
                f"{row:<24}"
                + "".join(f"{ratio(runs[m][row], runs[p][row]):>{width}}" for m, p in pairs)
            )
    for name in names:
        contention = runs[name]["Contention x16"]
        lost = contention.get("lost_updates", contention.get("unsupported"))
        print(f"{name}: lost updates under contention: {lost}")


if __name__ == "__main__":
    main()
