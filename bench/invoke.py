"""Benchmark: warm invoke latency and throughput, cold starts, and the floors beside them.

Starts its own Fireside (random port, temporary data dir), deploys a tiny Python function and
measures, in one run so the ratios are meaningful on a shared machine:

- echo floor: a bare HTTP POST answered by the same server stack (`/_fireside/echo`);
- warm Invoke over raw HTTP and through boto3, with 1 and 8 concurrent clients;
- warm Invoke over raw HTTP of the same function in Node.js (nodejs20.x), 1 and 8 clients;
- the handler called in-process (the cost of the function itself);
- cold starts (the first invoke after a configuration change), beside a bare
  `python -c "import app"`: *from scratch* on a second server with `FIRESIDE_WARM_SPARES=0`
  (nothing pre-started: the start creates the sandbox and starts the interpreter; the target
  is about this one), and *from a warm spare* on the first server, each measured once a spare
  is ready (`/_fireside/health`). A start right after another may find the spare it took not
  yet replaced, so a plain loop of cold starts measures an unlabelled mix of the two;
- slow clients: the 8-client raw invoke again while 2,000 idle keep-alive connections are held
  open (each made one request, then went quiet), within the server's default connection cap
  (10,000) and keep-alive timeout (60 s), so none is evicted or timed out during the phase.

Prints a table and writes JSON (default bench/results/invoke.json).
Usage: python bench/invoke.py [--seconds 5] [--cold 10] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from common import ROLE, ROOT, log, raw_http, start_server, summarize, zip_of

HANDLER = "def handler(event, context):\n    return event\n"
NODE_HANDLER = "exports.handler = async (event) => event;\n"
IDLE_CONNECTIONS = 2000


def open_idle(port: int, count: int) -> list[socket.socket]:
    """`count` keep-alive connections that each made one request and now sit idle."""
    request = b"GET /_fireside/health HTTP/1.1\r\nHost: bench\r\n\r\n"
    held = []
    for _ in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        sock.sendall(request)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("the server closed an idle connection at its first request")
            answer += chunk
        if not answer.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"health answered {answer[:40]!r}")
        held.append(sock)
    return held


def still_open(held: list[socket.socket]) -> int:
    """How many of `held` the server has not closed (a closed one reads as EOF at once)."""
    count = 0
    for sock in held:
        sock.setblocking(False)
        try:
            count += sock.recv(65536, socket.MSG_PEEK) != b""
        except BlockingIOError:
            count += 1  # nothing to read: still open
        except OSError:
            pass
    return count


def raise_nofile(wanted: int) -> None:
    """This process (and the server it starts) needs a descriptor per held connection."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def boto3_invoke(endpoint: str, name: str, clients: int, seconds: float) -> dict[str, float]:
    lam = new_client(endpoint, max_pool=clients)
    latencies: list[float] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker(_: int) -> None:
        local: list[float] = []
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            out = lam.invoke(FunctionName=name, Payload=b'{"k": 1}')
            out["Payload"].read()
            local.append(time.perf_counter() - started)
        with lock:
            latencies.extend(local)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, range(clients)))
    return summarize(latencies, time.perf_counter() - started)


def new_client(endpoint: str, max_pool: int = 10) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}, max_pool_connections=max_pool),
    )


def in_process(seconds: float) -> dict[str, float]:
    namespace: dict[str, Any] = {}
    exec(HANDLER, namespace)
    handler: Callable[[Any, Any], Any] = namespace["handler"]
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds / 5
    started = time.perf_counter()
    while time.perf_counter() < stop_at:
        t0 = time.perf_counter()
        json.dumps(handler(json.loads(b'{"k": 1}'), None))
        latencies.append(time.perf_counter() - t0)
    return summarize(latencies, time.perf_counter() - started)


def warm_stats(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_fireside/health", timeout=10) as r:
        stats: dict[str, int] = json.load(r).get("warm", {})
    return stats


def cold_starts(lam: Any, name: str, rounds: int, port: int, spare: bool) -> list[float]:
    """First invoke after a configuration change (which retires warm environments). With
    `spare`, each waits until a spare is ready (and 0.3 s more, as `concurrency.py` does, for
    its interpreter to finish starting) and checks that the start took it."""
    times = []
    for i in range(rounds):
        lam.update_function_configuration(FunctionName=name, Description=f"round {i}")
        lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})
        deadline = time.monotonic() + 30
        while spare and not warm_stats(port).get("kinds_ready"):
            if time.monotonic() > deadline:
                raise RuntimeError("no warm spare became ready")
            time.sleep(0.02)
        if spare:  # made is not settled: its interpreter may still be starting
            time.sleep(0.3)
        hits = warm_stats(port).get("hits", 0)
        started = time.perf_counter()
        lam.invoke(FunctionName=name, Payload=b"{}")["Payload"].read()
        times.append(time.perf_counter() - started)
        took = warm_stats(port).get("hits", 0) - hits
        if took != (1 if spare else 0):
            raise RuntimeError(f"a {'warm-spare' if spare else 'from-scratch'} start took {took}")
    return times


def scratch_starts(rounds: int, sandbox: str | None) -> list[float]:
    """Cold starts on a server that pre-starts nothing (`FIRESIDE_WARM_SPARES=0`)."""
    with tempfile.TemporaryDirectory() as data_dir:
        process, port = start_server(data_dir, sandbox, env={"FIRESIDE_WARM_SPARES": "0"})
        try:
            lam = new_client(f"http://127.0.0.1:{port}")
            deploy(lam)
            lam.invoke(FunctionName="bench", Payload=b"{}")  # builds the runtime image once
            return cold_starts(lam, "bench", rounds, port, spare=False)
        finally:
            process.terminate()
            process.wait(20)


def deploy(lam: Any) -> None:
    lam.create_function(
        FunctionName="bench",
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        # One full vCPU, as on Lambda at 1,769 MB: at the default 128 MB the sandbox's
        # CPU quota (7% of a core, as on Lambda) would be measured, not the platform.
        MemorySize=1769,
        Code={"ZipFile": zip_of(HANDLER)},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName="bench", WaiterConfig={"Delay": 0.05})


def bare_import(rounds: int) -> list[float]:
    """`python3.11 -c "import app"` with the real interpreter (not a pyenv shim)."""
    from fireside.runtimes.registry import find_python

    python = find_python("3.11") or sys.executable
    with tempfile.TemporaryDirectory() as code:
        Path(code, "app.py").write_text(HANDLER)
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            subprocess.run([python, "-c", "import app"], cwd=code, check=True)
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each load phase")
    parser.add_argument("--cold", type=int, default=10, help="cold starts to measure")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "invoke.json")
    parser.add_argument("--sandbox", default=None, help="sandbox backend (default: the server's)")
    args = parser.parse_args()
    raise_nofile(IDLE_CONNECTIONS + 1024)

    with tempfile.TemporaryDirectory() as data_dir:
        process, port = start_server(data_dir, args.sandbox)
        endpoint = f"http://127.0.0.1:{port}"
        try:
            lam = new_client(endpoint)
            deploy(lam)
            invoke_path = "/2015-03-31/functions/bench/invocations"
            body = b'{"k": 1}'
            log("warming up...")
            asyncio.run(raw_http(port, invoke_path, body, 8, 1.0))
            results: dict[str, Any] = {}
            for clients in (1, 8):
                log(f"echo floor, {clients} client(s)...")
                results[f"echo_raw_c{clients}"] = asyncio.run(
                    raw_http(port, "/_fireside/echo", body, clients, args.seconds)
                )
                log(f"invoke raw HTTP, {clients} client(s)...")
                results[f"invoke_raw_c{clients}"] = asyncio.run(
                    raw_http(port, invoke_path, body, clients, args.seconds)
                )
                log(f"invoke boto3, {clients} client(s)...")
                results[f"invoke_boto3_c{clients}"] = boto3_invoke(
                    endpoint, "bench", clients, args.seconds
                )
            lam.create_function(
                FunctionName="bench-node", Runtime="nodejs20.x", Handler="index.handler",
                Role=ROLE, MemorySize=1769, Code={"ZipFile": zip_of(NODE_HANDLER, "index.js")},
            )  # fmt: skip
            lam.get_waiter("function_active_v2").wait(
                FunctionName="bench-node", WaiterConfig={"Delay": 0.05}
            )
            node_path = "/2015-03-31/functions/bench-node/invocations"
            asyncio.run(raw_http(port, node_path, body, 8, 1.0))
            for clients in (1, 8):
                log(f"invoke raw HTTP, Node.js, {clients} client(s)...")
                results[f"invoke_node_raw_c{clients}"] = asyncio.run(
                    raw_http(port, node_path, body, clients, args.seconds)
                )
            log(f"invoke raw HTTP, 8 clients, {IDLE_CONNECTIONS} idle connections held...")
            held = open_idle(port, IDLE_CONNECTIONS)
            try:
                results[f"invoke_raw_c8_idle{IDLE_CONNECTIONS}"] = asyncio.run(
                    raw_http(port, invoke_path, body, 8, args.seconds)
                )
                results[f"invoke_raw_c8_idle{IDLE_CONNECTIONS}"]["idle_still_open"] = still_open(
                    held
                )
            finally:
                for sock in held:
                    sock.close()
            results["handler_in_process"] = in_process(args.seconds)
            log(f"cold starts from a warm spare x{args.cold}...")
            spare = cold_starts(lam, "bench", args.cold, port, spare=True)
        finally:
            process.terminate()
            process.wait(20)
    log(f"cold starts from scratch x{args.cold} (a second server, no spares)...")
    cold = scratch_starts(args.cold, args.sandbox)
    bare = bare_import(args.cold)

    cold_p50 = statistics.median(cold) * 1000
    bare_p50 = statistics.median(bare) * 1000
    results["cold_start_from_scratch"] = {
        "p50_ms": cold_p50, "min_ms": min(cold) * 1000, "rounds": len(cold)
    }  # fmt: skip
    results["cold_start_warm_spare"] = {
        "p50_ms": statistics.median(spare) * 1000, "min_ms": min(spare) * 1000,
        "rounds": len(spare),
    }  # fmt: skip
    results["bare_python_import"] = {"p50_ms": bare_p50, "min_ms": min(bare) * 1000}
    overhead = results["invoke_raw_c1"]["p50_ms"] - results["echo_raw_c1"]["p50_ms"]
    targets = {
        "overhead_p50_ms (target <= 1.0)": overhead,
        "raw_c8_throughput_rps (target >= 2000)": results["invoke_raw_c8"]["throughput_rps"],
        "cold_from_scratch_vs_bare_import (target <= 1.5)": cold_p50 / bare_p50,
        f"idle{IDLE_CONNECTIONS}_vs_c8_throughput (target >= 0.9)": results[
            f"invoke_raw_c8_idle{IDLE_CONNECTIONS}"
        ]["throughput_rps"]
        / results["invoke_raw_c8"]["throughput_rps"],
    }
    results["targets"] = targets
    results["sandbox"] = args.sandbox or "default"

    print(f"{'measurement':<28}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>12}")
    for key, value in results.items():
        if "throughput_rps" in value:
            print(
                f"{key:<28}{value['p50_ms']:>10.3f}{value['p99_ms']:>10.3f}{value['throughput_rps']:>12.0f}"
            )
    idle = results[f"invoke_raw_c8_idle{IDLE_CONNECTIONS}"]["idle_still_open"]
    print(f"{'idle connections kept':<28}{idle:>10.0f} of {IDLE_CONNECTIONS}")
    print(f"{'cold start, scratch (p50)':<28}{cold_p50:>10.2f}")
    warm_p50 = results["cold_start_warm_spare"]["p50_ms"]
    print(f"{'cold start, spare (p50)':<28}{warm_p50:>10.2f}")
    print(f"{'bare python import (p50)':<28}{bare_p50:>10.2f}")
    for key, value in targets.items():
        print(f"{key:<44}{value:>10.2f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
