"""Benchmark: invocation at scale. Throughput and latency at 1, 8, 32 and 128 concurrent clients,
and cold starts from scratch, from a warm spare and with provisioned concurrency, beside the
floors measured in the same run (spawning a process, forking a warm Python process).

Starts its own Fireside (random port, temporary data dir, default sandbox, room for 160
environments). Clients are keep-alive raw HTTP/1.1 connections on one asyncio loop (boto3's
own cost would dominate at 128 clients on 2 cores); each level is warmed up before it is
measured, so its environments exist. Cold starts are the first invoke after a configuration
change; "from scratch" runs a second server with `FIRESIDE_WARM_SPARES=0`. The provisioned row
is the first invoke an initialised environment serves. The snapshot rows use a function whose
Init imports boto3 and makes a client (about 30 MB of modules, ~0.3 s): its environments start
once from a warm spare (Init runs each time) and once from a SnapStart snapshot of a published
version (Init ran once, in the template), on a server with a 1 s idle timeout so that every
measured invoke finds no environment left. The Node.js rows do the same with a function whose
Init loads Node's network, crypto and compression modules and builds a 200,000-entry table:
a normal cold start (Node.js starts and runs Init) against a start forked from its template.
`--snapshots-only` runs just those rows. Each level also reports the CPU time spent per invoke
by the server process, by the processes under it (sandboxes and runtimes) and by the load
generator: on a shared machine these move far less than throughput does.

Prints a table and writes JSON (default bench/results/concurrency.json).
Usage: python bench/concurrency.py [--seconds 5] [--cold 10] [--snapshots-only] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common import (
    ROLE,
    ROOT,
    client,
    cpu_split,
    fork_floor,
    log,
    raw_http,
    spawn_floor,
    start_server,
    zip_of,
)

HANDLER = (
    "import time\ndef handler(event, context):\n"
    "    time.sleep(event.get('sleep', 0))\n    return event\n"
)
LEVELS = (1, 8, 32, 128)
HEAVY = (
    "import boto3, email, http.client, decimal, xml.etree.ElementTree\n"
    "CLIENT = boto3.client('s3', region_name='us-east-1')\n"
    "def handler(event, context):\n    return 1\n"
)
HEAVY_NODE = """
const modules = ['http', 'https', 'zlib', 'crypto', 'stream', 'url', 'dns', 'tls', 'util'];
const loaded = modules.map((name) => require(name));
const TABLE = new Map();
for (let i = 0; i < 200000; i++) TABLE.set(`key-${i}`, { i, name: `value ${i}` });
exports.handler = async () => TABLE.size + loaded.length;
"""


def deploy(lam: Any, name: str) -> None:
    # 1,769 MB is one full vCPU: at 128 MB the function's own CPU share (7%, as on Lambda)
    # would throttle it and hide the platform's latency behind CFS periods.
    lam.create_function(
        FunctionName=name, Runtime="python3.11", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": zip_of(HANDLER)}, MemorySize=1769, Timeout=30,
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})


def cold_starts(lam: Any, name: str, rounds: int) -> list[float]:
    times = []
    for i in range(rounds):
        lam.update_function_configuration(FunctionName=name, Description=f"round {i}")
        lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
        time.sleep(0.3)  # the retired environment goes, a spare is made
        started = time.perf_counter()
        lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()
        times.append((time.perf_counter() - started) * 1000)
    return times


def provisioned_first_invokes(lam: Any, name: str, count: int) -> list[float]:
    """Latency of the first invoke of each of `count` provisioned environments: `count`
    concurrent invokes that each hold their environment for 0.5 s (subtracted)."""
    lam.publish_version(FunctionName=name)
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=count
    )
    deadline = time.monotonic() + 120
    while (
        lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")["Status"]
        != "READY"
    ):
        if time.monotonic() > deadline:
            raise RuntimeError("provisioned concurrency did not become READY")
        time.sleep(0.2)

    def one(_: int) -> float:
        started = time.perf_counter()
        lam.invoke(FunctionName=name, Qualifier="1", Payload=b'{"sleep": 0.5}')["Payload"].read()
        return (time.perf_counter() - started) * 1000 - 500

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def heavy_starts(lam: Any, rounds: int, qualifier: str | None, name: str = "heavy") -> list[float]:
    """Invokes that each find no environment (the 1 s idle timeout reaped the last one)."""
    times = []
    kwargs = {"Qualifier": qualifier} if qualifier else {}
    for _ in range(rounds):
        time.sleep(2.0)
        started = time.perf_counter()
        out = lam.invoke(FunctionName=name, **kwargs)
        out["Payload"].read()
        times.append((time.perf_counter() - started) * 1000)
        if "FunctionError" in out:
            raise RuntimeError(f"the {name} function failed")
    return times


def snapshot_starts(rounds: int) -> dict[str, list[float]]:
    """Starts of a heavy Init (Python, Node.js): normal, and from a snapshot's template."""
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as data_dir:
        process, port = start_server(data_dir, env={"FIRESIDE_IDLE_TIMEOUT": "1"})
        try:
            lam = client(port)
            functions = (
                ("heavy", "python3.11", "app.handler", zip_of(HEAVY), "30 MB Init"),
                ("heavy-node", "nodejs20.x", "index.handler",
                 zip_of(HEAVY_NODE, "index.js"), "Node.js Init"),
            )  # fmt: skip
            for name, runtime, handler, code, label in functions:
                lam.create_function(
                    FunctionName=name, Runtime=runtime, Handler=handler, Role=ROLE,
                    Code={"ZipFile": code}, MemorySize=512, Timeout=30,
                    SnapStart={"ApplyOn": "PublishedVersions"},
                )  # fmt: skip
                lam.get_waiter("function_active_v2").wait(FunctionName=name)
                lam.publish_version(FunctionName=name)
                lam.invoke(FunctionName=name)  # builds the runtime image once
                lam.invoke(FunctionName=name, Qualifier="1")  # makes the snapshot (Init once)
                log(f"{rounds} starts of a {label}, from a warm spare and from a snapshot...")
                results[f"{label}, spare"] = heavy_starts(lam, rounds, None, name)
                results[f"{label}, snapshot"] = heavy_starts(lam, rounds, "1", name)
        finally:
            process.terminate()
            process.wait(30)
    return results


def normal_starts(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Throughput levels, and cold starts from a spare, provisioned and from scratch."""
    path = "/2015-03-31/functions/echo/invocations"
    with tempfile.TemporaryDirectory() as data_dir:
        process, port = start_server(data_dir, env={"FIRESIDE_MAX_ENVIRONMENTS": "160"})
        try:
            lam = client(port, max_pool=16)
            deploy(lam, "echo")
            for clients in LEVELS:
                log(f"{clients} clients: warming up, then {args.seconds:.0f} s measured...")
                asyncio.run(raw_http(port, path, b'{"k": 1}', clients, 2.0))
                before = cpu_split(process.pid)
                level = asyncio.run(raw_http(port, path, b'{"k": 1}', clients, args.seconds))
                # CPU per invoke moves far less with a shared machine's load than throughput.
                spent = [b - a for a, b in zip(before, cpu_split(process.pid), strict=True)]
                for name, seconds in zip(("server", "functions", "clients"), spent, strict=True):
                    level[f"{name}_cpu_us"] = seconds * 1e6 / level["requests"]
                results["levels"][clients] = level
            deploy(lam, "cold")
            log(f"{args.cold} cold starts from a warm spare...")
            results["cold_ms"]["warm spare"] = cold_starts(lam, "cold", args.cold)
            deploy(lam, "provisioned")
            log(f"{args.cold} provisioned environments...")
            results["cold_ms"]["provisioned"] = provisioned_first_invokes(
                lam, "provisioned", args.cold
            )
        finally:
            process.terminate()
            process.wait(30)
    with tempfile.TemporaryDirectory() as data_dir:
        process, port = start_server(data_dir, env={"FIRESIDE_WARM_SPARES": "0"})
        try:
            lam = client(port)
            deploy(lam, "cold")
            lam.invoke(FunctionName="cold")  # builds the runtime image once
            log(f"{args.cold} cold starts from scratch...")
            results["cold_ms"]["from scratch"] = cold_starts(lam, "cold", args.cold)
        finally:
            process.terminate()
            process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per level")
    parser.add_argument("--cold", type=int, default=10, help="cold starts per kind")
    parser.add_argument(
        "--json", type=Path, default=ROOT / "bench" / "results" / "concurrency.json"
    )
    parser.add_argument("--snapshots-only", action="store_true", help="only the snapshot rows")
    args = parser.parse_args()
    results: dict[str, Any] = {"levels": {}, "cold_ms": {}}
    if not args.snapshots_only:
        normal_starts(args, results)
    results["cold_ms"].update(snapshot_starts(args.cold))
    floors = {"spawn /bin/true": spawn_floor(args.cold * 3), "fork": fork_floor(args.cold * 3)}
    results["floors_ms"] = floors

    if results["levels"]:
        print(f"{'clients':>8}{'rps':>10}{'p50 ms':>10}{'p99 ms':>10}   CPU us per invoke:")
        print(f"{'':>38}{'server':>10}{'functions':>10}{'clients':>10}")
    for clients, r in results["levels"].items():
        print(
            f"{clients:>8}{r['throughput_rps']:>10.0f}{r['p50_ms']:>10.2f}{r['p99_ms']:>10.2f}"
            f"{r['server_cpu_us']:>13.0f}{r['functions_cpu_us']:>10.0f}{r['clients_cpu_us']:>10.0f}"
        )
    print(f"\n{'cold start':<24}{'p50 ms':>10}{'min ms':>10}")
    for kind, times in results["cold_ms"].items():
        print(f"{kind:<24}{statistics.median(times):>10.1f}{min(times):>10.1f}")
    print("floors: " + ", ".join(f"{k} {v:.2f} ms" for k, v in floors.items()))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
