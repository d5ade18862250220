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

All servers run at once and take turns cell by cell, so a shared machine's changing load falls
on all of them alike; each figure also records the server's CPU time per request.
Prints a table (each server's cells, then Fireside's ratio to each peer) and writes JSON with
every server's run (default bench/results/tables.json).
Usage: python bench/tables.py [--seconds 3] [--rounds 1] [--json PATH] [--no-moto]
       [--no-dynalite] [--compare DIR] [--postgresql postgresql://user@host/db]
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import ROOT, cpu_seconds, log, start_server

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


#: The cells, in the order they run: (operation, clients).
CELLS = [
    (operation, clients)
    for operation in ("PutItem", "GetItem", "Query", "TransactWriteItems")
    for clients in (1, 16)
] + [("Contention", 16)]


@dataclass
class Target:
    """One server under test."""

    name: str
    process: subprocess.Popen[str]
    port: int
    transactions: bool = True


async def measure(
    targets: list[Target], seconds: float, rounds: int = 1
) -> dict[str, dict[str, Any]]:
    """Every cell against every server, the servers taking turns cell by cell (in an order
    that rotates), so a shared machine's load drifting over the run falls on all of them
    alike. With `rounds` > 1 each server runs each cell that many times, turn by turn, and
    the cell holds the round of median throughput (every round is kept under "rounds"). A
    server without transactions gets `{"unsupported": NO_TRANSACTIONS}` in their cells. Each
    figure also holds the server's CPU time per request (all its threads)."""
    runs: dict[str, dict[str, Any]] = {t.name: {} for t in targets}
    #: Contention transactions each server acknowledged so far (the hot items' expected sum).
    acknowledged = {t.name: 0 for t in targets}
    for target in targets:
        await prepare(target.port)
        # Unmeasured reads first, so the first cell does not pay for a server's warm-up
        # (lazy imports, caches); reads leave the table as it was.
        await load(target.port, "GetItem", 1, 1.0)
    for turn, (operation, clients) in enumerate(CELLS):
        row = f"{operation} x{clients}"
        done: dict[str, list[dict[str, Any]]] = {t.name: [] for t in targets}
        for round_ in range(rounds):
            shift = (turn + round_) % len(targets)
            for target in targets[shift:] + targets[:shift]:
                if row in TRANSACTION_CELLS and not target.transactions:
                    continue
                used = cpu_seconds(target.process.pid)
                summary, succeeded = await load(target.port, operation, clients, seconds)
                used = cpu_seconds(target.process.pid) - used
                summary["server_cpu_us"] = round(used / max(succeeded, 1) * 1e6, 1)
                if operation == "Contention":
                    acknowledged[target.name] += succeeded * 4
                    total = await hot_total(target.port)
                    summary["lost_updates"] = acknowledged[target.name] - total
                done[target.name].append(summary)
                log(f"    {target.name} {row}: {summary}")
        for target in targets:
            measured = done[target.name]
            if not measured:
                runs[target.name][row] = {"unsupported": NO_TRANSACTIONS}
                continue
            ordered = sorted(measured, key=lambda r: r["throughput_rps"])
            cell = dict(ordered[len(ordered) // 2])
            if rounds > 1:
                cell["rounds"] = measured
            runs[target.name][row] = cell
    return runs


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


def start_dynalite(data: str, leveldb: bool) -> tuple[subprocess.Popen[str], int]:
    """dynalite in its LevelDB mode (`--path`, tables created at once) or in memory."""
    port = free_port()
    command = [str(dynalite_binary()), "--port", str(port), "--createTableMs", "0"]
    if leveldb:
        command += ["--path", data]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wait_listening(process, port, "dynalite")
    assert process.stdout is not None
    threading.Thread(target=process.stdout.read, daemon=True).start()
    return process, port


def start_targets(args: argparse.Namespace, stack: contextlib.ExitStack) -> list[Target]:
    """Every server of this run, started now and stopped when `stack` closes."""
    targets: list[Target] = []

    def add(name: str, started: tuple[subprocess.Popen[str], int], transactions: bool) -> None:
        process, port = started
        stack.callback(_stop, process)
        targets.append(Target(name, process, port, transactions))

    def data_dir() -> str:
        return stack.enter_context(tempfile.TemporaryDirectory())

    log("starting Fireside (sqlite engine)")
    add("fireside-sqlite", start_server(data_dir(), sandbox="process"), True)
    if args.compare:
        log(f"starting the Fireside of {args.compare} (sqlite engine)")
        add("compare-sqlite", start_other_checkout(Path(args.compare), data_dir()), True)
    if args.postgresql:
        log("starting Fireside (postgresql engine)")
        env = {"FIRESIDE_TABLES_BACKEND": args.postgresql}
        add("fireside-postgresql", start_server(data_dir(), sandbox="process", env=env), True)
    if not args.no_dynalite:
        for name, leveldb in (("dynalite-leveldb", True), ("dynalite-memory", False)):
            log(f"starting dynalite {dynalite_version() or DYNALITE_PACKAGE} ({name[9:]})")
            add(name, start_dynalite(data_dir(), leveldb), False)
    if not args.no_moto:
        add("moto", moto_server(), True)
        log(f"started moto_server {moto_version()}")
    return targets


def _stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument(
        "--rounds", type=int, default=1, help="runs of each cell per server (the median is shown)"
    )
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
    with contextlib.ExitStack() as stack:
        targets = start_targets(args, stack)
        runs = asyncio.run(measure(targets, args.seconds, args.rounds))
    print_table(runs)
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {"seconds": args.seconds, "rounds": args.rounds, "cpus": os.cpu_count(), "runs": runs}
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
        f"p99 {result.get('p99_ms', 0):.2f} cpu {result.get('server_cpu_us', 0):.0f}us"
    )


def ratio(mine: dict[str, Any], peer: dict[str, Any]) -> str:
    if "unsupported" in mine or "unsupported" in peer:
        return "n/a"
    return f"{mine['throughput_rps'] / (peer['throughput_rps'] or 1):.2f}x"


def print_table(runs: dict[str, Any]) -> None:
    names = list(runs)
    rows = list(next(iter(runs.values())))
    width = max(42, *(len(n) + 2 for n in names))
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
