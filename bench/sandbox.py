"""Benchmark: cold start and idle memory of an execution environment, per sandbox backend.

For each backend this host offers, starts a Fireside (random port, temporary data dir), deploys
a tiny Python function and measures cold starts (first invoke after a configuration change,
timed at the client, so an invoke's own round trip is included) and the memory an idle
environment holds besides its runtime process (bubblewrap's processes, the network stack).
`namespace` is measured twice: with warm spares (the default: the cold start takes a
pre-started sandbox) and without (`FIRESIDE_WARM_SPARES=0`: bubblewrap and the interpreter
start on demand). `microvm` (with `--microvm N`: each start is seconds under TCG) likewise:
with spare guests (the cold start takes a booted guest; the benchmark waits until one is
booted) and without (every start boots a QEMU guest). Floors measured in the same run: a bare `python3 -S -c pass` of the same
interpreter, and a fork of a warm Python process.

Prints a table and writes JSON (default bench/results/sandbox.json).
Usage: python bench/sandbox.py [--cold 15] [--microvm 3] [--only microvm,...] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from common import ROLE, ROOT, children_map, client, fork_floor, log, start_server, zip_of

HANDLER = "def handler(event, context):\n    return event\n"


def status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def with_marker(marker: str) -> list[int]:
    needle = f"FIRESIDE_BENCH_MARKER={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/environ", "rb") as environ:
                    if needle in environ.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
    return found


def cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as raw:
        return raw.read().replace(b"\0", b" ").decode(errors="replace")


def program(pid: int) -> str:
    """The base name of a process's program (bubblewrap and slirp4netns may be started by
    absolute path)."""
    return os.path.basename(cmdline(pid).split(" ", 1)[0])


def parent_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def idle_memory(server_pid: int, marker: str, data_dir: str) -> dict[str, float]:
    """RSS/PSS of the runtime process and of everything else the environment holds.

    Under gVisor the runtime lives inside the Sentry: its memory is in the runsc processes
    (counted as overhead here, so that column includes the function itself)."""
    pids = with_marker(marker)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if f"{data_dir}/runsc" in cmdline(int(entry)):
                    pids.append(int(entry))
            except OSError:
                continue
    runtime = [p for p in pids if "bootstrap.py" in cmdline(p) and program(p) != "bwrap"]
    # bubblewrap gets the function's variables as options, not in its own environment: found
    # as the runtime's ancestors.
    for pid in list(pids):
        parent = parent_of(pid)
        while parent > 1 and parent not in pids and program(parent) == "bwrap":
            pids.append(parent)
            parent = parent_of(parent)
    others = [p for p in pids if p not in runtime]
    inner = {str(p) for p in pids}
    for entry in os.listdir("/proc"):  # slirp4netns names the environment's network namespace
        if entry.isdigit():
            try:
                line = cmdline(int(entry))
            except OSError:
                continue
            if os.path.basename(line.split(" ", 1)[0]) == "slirp4netns" and (
                any(f"/proc/{p}/ns/net" in line for p in inner) or f"/proc/{server_pid}/fd/" in line
            ):
                others.append(int(entry))
    return {
        "runtime_rss_mib": sum(status_kb(p, "VmRSS") for p in runtime) / 1024,
        "overhead_rss_mib": sum(status_kb(p, "VmRSS") for p in others) / 1024,
        "overhead_pss_mib": sum(pss_kb(p) for p in others) / 1024,
        "overhead_processes": len(others),
    }


def spares(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_fireside/health") as response:
        return int(json.loads(response.read()).get("warm", {}).get("spares", 0))


def spare_memory(server_pid: int) -> float:
    """RSS (MiB) of the processes of the server's spare sandboxes, per spare: bubblewrap, the
    waiting runtime, and the spare's slirp4netns."""
    children = children_map()
    tops = [p for p in children.get(server_pid, []) if "slots/warm-" in cmdline(p)]
    pids, frontier = set(tops), list(tops)
    while frontier:
        pid = frontier.pop()
        for child in children.get(pid, []):
            if child not in pids:
                pids.add(child)
                frontier.append(child)
    for pid in children.get(server_pid, []):
        line = cmdline(pid)
        if program(pid) == "slirp4netns" and any(f"/proc/{p}/ns/net" in line for p in pids):
            pids.add(pid)
    total = sum(status_kb(p, "VmRSS") for p in pids) / 1024
    return total / max(1, len(tops))


def booted_spares(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_fireside/health") as response:
        return int(json.loads(response.read()).get("warm", {}).get("booted", 0))


def guest_memory(server_pid: int, spare: bool) -> float:
    """RSS (MiB) of the server's QEMU processes: untaken spare guests, or the others."""
    found = []
    for pid in children_map().get(server_pid, []):
        line = cmdline(pid)
        if not line.startswith("qemu"):
            continue
        slot = line.split("local,id=slot,path=", 1)[1].split(",", 1)[0] if "id=slot" in line else ""
        if spare == bool(slot and not os.path.exists(f"{slot}/run.sh")):
            found.append(status_kb(pid, "VmRSS") / 1024)
    return statistics.mean(found) if found else 0.0


def measure_backend(sandbox: str, rounds: int, warm: bool) -> dict[str, Any]:
    env = {} if warm else {"FIRESIDE_WARM_SPARES": "0"}
    with tempfile.TemporaryDirectory() as data_dir:
        process, port = start_server(data_dir, sandbox, env)
        try:
            lam = client(port)
            marker = uuid.uuid4().hex
            lam.create_function(
                FunctionName="cold", Runtime="python3.11", Handler="app.handler", Role=ROLE,
                Code={"ZipFile": zip_of(HANDLER)}, MemorySize=128,
                Environment={"Variables": {"FIRESIDE_BENCH_MARKER": marker}},
            )  # fmt: skip
            waiter = lam.get_waiter("function_updated_v2")
            lam.get_waiter("function_active_v2").wait(
                FunctionName="cold", WaiterConfig={"Delay": 0.05}
            )
            lam.invoke(FunctionName="cold")  # first use builds runtime images: not a cold start
            times = []
            for i in range(rounds):
                lam.update_function_configuration(FunctionName="cold", Description=str(i))
                waiter.wait(FunctionName="cold", WaiterConfig={"Delay": 0.05})
                time.sleep(0.2)  # let the retired environment go
                if (
                    sandbox == "microvm"
                ):  # a spare is counted from its QEMU's start: wait for its boot
                    deadline = time.monotonic() + 60
                    while warm and booted_spares(port) < 1 and time.monotonic() < deadline:
                        time.sleep(0.1)
                deadline = time.monotonic() + 5
                while warm and spares(port) < 1 and time.monotonic() < deadline:
                    time.sleep(0.02)
                started = time.perf_counter()
                lam.invoke(FunctionName="cold")["Payload"].read()
                times.append((time.perf_counter() - started) * 1000)
            time.sleep(0.3)
            # A warm-started runtime keeps its spare's /proc/<pid>/environ (no marker): its
            # memory is measured in the run without spares.
            if sandbox == "microvm":
                memory = {"guest_rss_mib": guest_memory(process.pid, False)}
                if warm:
                    memory["spare_rss_mib"] = guest_memory(process.pid, True)
            elif warm:
                memory = {"spare_rss_mib": spare_memory(process.pid)}
            else:
                memory = idle_memory(process.pid, marker, data_dir)
        finally:
            process.terminate()
            process.wait(30)
    return {"cold_p50_ms": statistics.median(times), "cold_min_ms": min(times), **memory}


def bare_interpreter(rounds: int) -> float:
    from fireside.runtimes.registry import find_python

    python = find_python("3.11") or sys.executable
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run([python, "-S", "-c", "pass"], check=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--cold", type=int, default=15, help="cold starts per backend")
    parser.add_argument("--microvm", type=int, default=0, help="microvm cold starts (0: none)")
    parser.add_argument("--only", default="", help="comma-separated rows to run (default: all)")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "sandbox.json")
    args = parser.parse_args()

    from fireside.sandbox import gvisor, microvm, namespace

    runs = {"process": ("process", False)}
    if (reason := namespace.unavailable_reason()) is None:
        runs["namespace"] = ("namespace", True)
        runs["namespace-nospare"] = ("namespace", False)
    else:
        log(f"namespace backend skipped: {reason}")
    if (reason := gvisor.unavailable_reason()) is None:
        runs["gvisor"] = ("gvisor", False)
    else:
        log(f"gvisor backend skipped: {reason}")
    if args.microvm and (reason := microvm.unavailable_reason()) is None:
        runs["microvm"] = ("microvm", True)
        runs["microvm-nospare"] = ("microvm", False)
    elif args.microvm:
        log(f"microvm backend skipped: {reason}")
    if args.only:
        runs = {name: run for name, run in runs.items() if name in args.only.split(",")}
    results: dict[str, Any] = {}
    for name, (backend, warm) in runs.items():
        rounds = args.microvm if backend == "microvm" else args.cold
        log(f"{name}: {rounds} cold starts...")
        results[name] = measure_backend(backend, rounds, warm)
    backends = list(runs)
    floors = {
        "python_S_pass_ms": bare_interpreter(args.cold),
        "warm_fork_ms": fork_floor(args.cold * 4),
    }
    results["floors"] = floors

    print(f"{'backend':<19}{'cold p50 ms':>12}{'cold min ms':>12}{'x bare -S':>10}"
          f"{'runtime RSS':>13}{'extra RSS':>11}{'extra PSS':>11}")  # fmt: skip
    for backend in backends:
        r = results[backend]
        if "guest_rss_mib" in r:
            spare = f", each spare {r['spare_rss_mib']:.1f}M" if "spare_rss_mib" in r else ""
            memory = f"{'QEMU':>13} {r['guest_rss_mib']:.1f}M{spare}"
        elif "runtime_rss_mib" in r:
            memory = (
                f"{r['runtime_rss_mib']:>12.1f}M{r['overhead_rss_mib']:>10.1f}M"
                f"{r['overhead_pss_mib']:>10.1f}M"
            )
        else:
            memory = f"{'(see -nospare); each spare':>27} {r['spare_rss_mib']:.1f}M"
        print(
            f"{backend:<19}{r['cold_p50_ms']:>12.1f}{r['cold_min_ms']:>12.1f}"
            f"{r['cold_p50_ms'] / floors['python_S_pass_ms']:>10.2f}{memory}"
        )
    print(f"floors: python3 -S -c pass {floors['python_S_pass_ms']:.1f} ms, "
          f"fork of a warm process {floors['warm_fork_ms']:.2f} ms")  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2))
    log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
