"""Benchmark: an Application Load Balancer in front of a trivial function, beside raw Invoke.

Starts its own Fireside, deploys the same trivial function as `bench/front_doors.py`, puts an
ALB in front of it (a `lambda` target group with the permission AWS requires, a load balancer,
an HTTP listener on a free port forwarding to the group) and measures, in one run, the HTTP
floor (`echo`), raw Invoke and the ALB listener: requests/s, p50 and p99 with 1 and 8
keep-alive clients, and the CPU time per request of each party (`front_doors.measure`).
`alb_door(bench)` is the setup other benchmarks import to add the ALB to their own runs
(`front_doors.py` lists it as the door `alb`); `alb_beside_invoke()` is the whole measurement
on a running server (`bench/realtime.py` runs it after its WebSocket measurements).

Target (issue 17): the ALB's p50 within 1.3x of raw Invoke's. Prints a table and writes JSON
(default bench/results/alb.json).
Usage: python bench/alb.py [--seconds 2] [--rounds 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import socket
import tempfile
from pathlib import Path
from typing import Any

import boto3
from common import ROLE, ROOT, log, start_server, zip_of
from front_doors import (
    FUNCTION,
    HANDLER,
    LATENCY_TARGET,
    Bench,
    Door,
    echo,
    invoke,
    measure,
    open_doors,
    print_table,
    ratios,
    warm,
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def alb_door(bench: Bench) -> Door:
    """An ALB whose HTTP listener forwards everything to a target group holding the
    benchmark's function (granted to `elasticloadbalancing.amazonaws.com` for that group)."""
    elb = bench.client("elbv2")
    group = elb.create_target_group(Name="bench", TargetType="lambda")["TargetGroups"][0]
    bench.client("lambda").add_permission(
        FunctionName=FUNCTION,
        StatementId="alb",
        Action="lambda:InvokeFunction",
        Principal="elasticloadbalancing.amazonaws.com",
        SourceArn=group["TargetGroupArn"],
    )
    elb.register_targets(
        TargetGroupArn=group["TargetGroupArn"], Targets=[{"Id": bench.function_arn}]
    )
    balancer = elb.create_load_balancer(Name="bench")["LoadBalancers"][0]
    port = _free_port()
    elb.create_listener(
        LoadBalancerArn=balancer["LoadBalancerArn"],
        Protocol="HTTP",
        Port=port,
        DefaultActions=[{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
    )
    return Door("alb", "/", f"{balancer['DNSName']}:{port}", port=port)


def alb_beside_invoke(
    port: int, server_pid: int, seconds: float, rounds: int, *, floor: bool = True
) -> tuple[dict[str, Any], list[Door]]:
    """On the running server at `port`: deploy the trivial function, put an ALB in front of
    it and measure it beside raw Invoke (and the echo floor); returns the JSON-ready results
    (`results`, `vs_invoke`, `notes`) and the doors, for `print_table`."""
    lam = boto3.client(
        "lambda",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    )
    created = lam.create_function(
        FunctionName=FUNCTION,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        MemorySize=1769,  # one full vCPU, as bench/invoke.py
        Code={"ZipFile": zip_of(HANDLER)},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=FUNCTION, WaiterConfig={"Delay": 0.05})
    bench = Bench(port, server_pid, created["FunctionArn"])
    setups = [echo] if floor else []
    doors = open_doors(bench, [*setups, invoke, lambda b: [alb_door(b)]])
    log("warming up...")
    warm(port, doors)
    results = measure(port, server_pid, doors, seconds, rounds)
    output = {
        "results": results,
        "vs_invoke": ratios(results, doors),
        "targets": {"p50_vs_invoke_max": LATENCY_TARGET},
        "notes": bench.notes,
    }
    return output, doors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each load phase")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per door")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "alb.json")
    parser.add_argument("--sandbox", default=None, help="sandbox backend (default: the server's)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fireside-bench-") as tmp:
        process, port = start_server(str(Path(tmp) / "fireside"), args.sandbox)
        try:
            output, doors = alb_beside_invoke(port, process.pid, args.seconds, args.rounds)
        finally:
            process.terminate()
            process.wait(20)
    print_table(output["results"], output["vs_invoke"], doors)
    output.update(
        {"sandbox": args.sandbox or "default", "seconds": args.seconds, "rounds": args.rounds}
    )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(output, indent=2) + "\n")
    log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
