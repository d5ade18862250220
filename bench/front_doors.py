"""Benchmark: the HTTP front doors to a trivial function, beside raw Invoke and the HTTP floor.

Starts its own Fireside (random port, temporary data dir), deploys one trivial Python function
(it answers `{"statusCode": 200, "body": "ok"}`, which every door passes on as it is or reads
as its response) and measures, in one run so the ratios are meaningful on a shared machine:

- `echo`: a bare HTTP POST answered by the same server stack (`/_fireside/echo`), the floor;
- `invoke`: the Lambda Invoke API (`POST /2015-03-31/functions/<name>/invocations`), the
  reference every front door is compared with;
- `function-url`: the function's Function URL (AuthType NONE with the two permissions AWS
  requires) at the host `GetFunctionUrlConfig` returns, and `function-url-path` at its
  path-based address (`/_aws/lambda-url/<url-id>/`);
- `http-api`, `rest-api`: an API Gateway HTTP API (quick create) and a REST API (an `ANY`
  method with an `AWS_PROXY` integration), each allowed by a permission for
  `apigateway.amazonaws.com`; a door the server does not serve yet is left out with a note.

Each door gets its own setup function (`DOORS`); adding a door is one function there.
Clients are keep-alive raw HTTP/1.1 connections on one asyncio loop (`common.raw_http`), each
with one request in flight, 1 and 8 of them. Every measurement runs `--rounds` times,
interleaved with the other doors (the machine is shared: a burst of other work then hits
every door alike), and the round with the median throughput is reported. Beside latency and
throughput, the CPU time per request of the server process, of the function's processes (its
descendants, read from /proc) and of the load generator: those hold still when other work
shares the two cores, and say where a door's time goes.

Targets (issue 13): each front door's p50 within 1.3x of raw Invoke's, and at least 3,000
requests/s with 8 clients. Prints a table and writes JSON (default bench/results/front_doors.json).
Usage: python bench/front_doors.py [--seconds 2] [--rounds 3] [--only DOOR...] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from common import ROLE, ROOT, log, raw_http, start_server, zip_of

HANDLER = 'def handler(event, context):\n    return {"statusCode": 200, "body": "ok"}\n'
FUNCTION = "bench"
BODY = b'{"k": 1}'
CLIENTS = (1, 8)
REFERENCE = "invoke"
FLOOR = "echo"
LATENCY_TARGET = 1.3  # a front door's p50 over raw Invoke's
THROUGHPUT_TARGET = 3000.0  # requests/s with 8 clients


@dataclass(frozen=True)
class Door:
    """One address to load: `path` on 127.0.0.1, with `host` as the Host header if set."""

    name: str
    path: str
    host: str | None = None


@dataclass
class Bench:
    """The server under test and what the doors' setup functions share."""

    port: int
    server_pid: int
    function_arn: str
    notes: list[str] = field(default_factory=list)

    @property
    def account(self) -> str:
        return self.function_arn.split(":")[4]

    def client(self, service: str) -> Any:
        return boto3.client(
            service, endpoint_url=f"http://127.0.0.1:{self.port}", region_name="us-east-1",
            aws_access_key_id="bench", aws_secret_access_key="bench",
            config=Config(retries={"max_attempts": 1}),
        )  # fmt: skip

    def allow_api_gateway(self, api_id: str) -> None:
        """The statement SAM's `AWS::Lambda::Permission` makes for an API's routes."""
        self.client("lambda").add_permission(
            FunctionName=FUNCTION,
            StatementId=f"apigateway-{api_id}",
            Action="lambda:InvokeFunction",
            Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:us-east-1:{self.account}:{api_id}/*",
        )


def echo(bench: Bench) -> list[Door]:
    return [Door(FLOOR, "/_fireside/echo")]


def invoke(bench: Bench) -> list[Door]:
    return [Door(REFERENCE, f"/2015-03-31/functions/{FUNCTION}/invocations")]


def function_url(bench: Bench) -> list[Door]:
    lam = bench.client("lambda")
    url = lam.create_function_url_config(FunctionName=FUNCTION, AuthType="NONE")["FunctionUrl"]
    lam.add_permission(
        FunctionName=FUNCTION,
        StatementId="url",
        Principal="*",
        Action="lambda:InvokeFunctionUrl",
        FunctionUrlAuthType="NONE",
    )
    lam.add_permission(FunctionName=FUNCTION, StatementId="url-invoke", Principal="*",
                       Action="lambda:InvokeFunction", InvokedViaFunctionUrl=True)  # fmt: skip
    host = urlsplit(url).netloc
    url_id = host.split(".", 1)[0]
    return [
        Door("function-url", "/", host),
        Door("function-url-path", f"/_aws/lambda-url/{url_id}/"),
    ]


def http_api(bench: Bench) -> list[Door]:
    """Quick create: `$default` route, `AWS_PROXY` payload 2.0, `$default` auto-deploy stage."""
    api = bench.client("apigatewayv2").create_api(
        Name="bench", ProtocolType="HTTP", Target=bench.function_arn
    )
    bench.allow_api_gateway(api["ApiId"])
    return [Door("http-api", "/", urlsplit(api["ApiEndpoint"]).netloc)]


def rest_api(bench: Bench) -> list[Door]:
    """`ANY /` with an `AWS_PROXY` integration (payload 1.0), deployed to stage `bench`."""
    client = bench.client("apigateway")
    api = client.create_rest_api(name="bench", endpointConfiguration={"types": ["REGIONAL"]})
    where = {"restApiId": api["id"], "resourceId": api["rootResourceId"], "httpMethod": "ANY"}
    client.put_method(**where, authorizationType="NONE")
    client.put_integration(
        **where,
        type="AWS_PROXY",
        integrationHttpMethod="POST",
        uri="arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        f"{bench.function_arn}/invocations",
    )
    client.create_deployment(restApiId=api["id"], stageName="bench")
    bench.allow_api_gateway(api["id"])
    return [Door("rest-api", "/bench/", f"{api['id']}.execute-api.localhost:{bench.port}")]


#: Every door, in table order. A setup function creates what its door needs on the server and
#: returns the addresses to load.
DOORS: list[Callable[[Bench], list[Door]]] = [echo, invoke, function_url, http_api, rest_api]
# TODO(streaming): time to first byte of a streamed Function URL response (InvokeMode
# RESPONSE_STREAM, target < 5 ms) once response streaming is on main: a setup function here
# is not enough, it needs a loader that times the first body chunk rather than the whole answer.


def open_doors(bench: Bench) -> list[Door]:
    """Each door that the server serves (one it does not is left out with a note)."""
    doors: list[Door] = []
    for setup in DOORS:
        try:
            doors += setup(bench)
        except ClientError as error:
            bench.notes.append(f"{setup.__name__} not measured: {error}")
            log(bench.notes[-1])
    return doors


def check(bench: Bench, door: Door) -> None:
    """One request through `door` must be a 200 before it is measured."""
    asyncio.run(raw_http(bench.port, door.path, BODY, 1, 0.05, door.host))


def cpu_seconds(root: int) -> tuple[float, float]:
    """User + system CPU seconds used so far by process `root` and by its live descendants
    (the function's sandbox and runtime), from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        parents[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    descendants, stack = 0.0, list(children.get(root, []))
    while stack:
        pid = stack.pop()
        descendants += used[pid]
        stack += children.get(pid, [])
    return used.get(root, 0.0), descendants


async def timed_load(bench: Bench, door: Door, clients: int, seconds: float) -> dict[str, float]:
    """`raw_http` through `door`, with the CPU time each party used per request: the server,
    the function's processes, and this load generator. Unlike latency, CPU time per request
    holds still when other work shares the machine."""
    server_before, function_before = cpu_seconds(bench.server_pid)
    client_before = time.process_time()
    result = await raw_http(bench.port, door.path, BODY, clients, seconds, door.host)
    client_used = time.process_time() - client_before
    server_after, function_after = cpu_seconds(bench.server_pid)
    per_request = 1e6 / result["requests"]
    return {
        **result,
        "server_cpu_us": (server_after - server_before) * per_request,
        "function_cpu_us": (function_after - function_before) * per_request,
        "client_cpu_us": client_used * per_request,
    }


def measure(
    bench: Bench, doors: list[Door], seconds: float, rounds: int
) -> dict[str, dict[str, float]]:
    """`{"<door>_c<clients>": summary}`: the median-throughput round of each."""
    runs: dict[str, list[dict[str, float]]] = {}
    for clients in CLIENTS:
        for round_ in range(rounds):
            for door in doors:
                log(f"{door.name}, {clients} client(s), round {round_ + 1} of {rounds}...")
                result = asyncio.run(timed_load(bench, door, clients, seconds))
                runs.setdefault(f"{door.name}_c{clients}", []).append(result)
    results = {}
    for key, found in runs.items():
        ordered = sorted(found, key=lambda run: run["throughput_rps"])
        results[key] = {**ordered[len(ordered) // 2], "rounds": len(found)}
    return results


def ratios(results: dict[str, dict[str, float]], doors: list[Door]) -> dict[str, Any]:
    """Each door against raw Invoke at the same concurrency, and the targets met or not."""
    out: dict[str, Any] = {}
    for clients in CLIENTS:
        reference = results[f"{REFERENCE}_c{clients}"]
        for door in doors:
            if door.name == REFERENCE:
                continue
            own = results[f"{door.name}_c{clients}"]
            entry = {
                "p50_vs_invoke": own["p50_ms"] / reference["p50_ms"],
                "p99_vs_invoke": own["p99_ms"] / reference["p99_ms"],
                "throughput_vs_invoke": own["throughput_rps"] / reference["throughput_rps"],
            }
            if door.name != FLOOR:
                entry["meets_latency_target"] = entry["p50_vs_invoke"] <= LATENCY_TARGET
                if clients == 8:
                    entry["meets_throughput_target"] = own["throughput_rps"] >= THROUGHPUT_TARGET
            out[f"{door.name}_c{clients}"] = entry
    return out


def print_table(
    results: dict[str, dict[str, float]], compared: dict[str, Any], doors: list[Door]
) -> None:
    print(
        f"{'door':<20}{'clients':>8}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'p50 / invoke':>14}{'req/s / invoke':>16}"
        f"{'server µs':>11}{'function µs':>13}{'client µs':>11}"
    )
    for clients in CLIENTS:
        for door in doors:
            key = f"{door.name}_c{clients}"
            row = results[key]
            ratio = compared.get(key, {"p50_vs_invoke": 1.0, "throughput_vs_invoke": 1.0})
            print(
                f"{door.name:<20}{clients:>8}{row['throughput_rps']:>9.0f}{row['p50_ms']:>9.3f}"
                f"{row['p99_ms']:>9.3f}{ratio['p50_vs_invoke']:>13.2f}x"
                f"{ratio['throughput_vs_invoke']:>15.2f}x"
                f"{row['server_cpu_us']:>11.0f}{row['function_cpu_us']:>13.0f}"
                f"{row['client_cpu_us']:>11.0f}"
            )
    print("(µs: CPU time per request of the server, the function's processes, the load generator)")
    print(
        f"targets: p50 <= {LATENCY_TARGET}x raw Invoke's, >= {THROUGHPUT_TARGET:.0f} req/s "
        "with 8 clients"
    )
    for key, entry in compared.items():
        missed = [name for name in ("meets_latency_target", "meets_throughput_target")
                  if entry.get(name) is False]  # fmt: skip
        if missed:
            print(f"  {key}: misses {', '.join(name.split('_')[1] for name in missed)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of each load phase")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per door")
    parser.add_argument(
        "--json", type=Path, default=ROOT / "bench" / "results" / "front_doors.json"
    )
    parser.add_argument("--sandbox", default=None, help="sandbox backend (default: the server's)")
    parser.add_argument(
        "--only", nargs="+", metavar="DOOR", help="measure just these doors (and raw Invoke)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        process, port = start_server(data_dir, args.sandbox)
        try:
            lam = boto3.client(
                "lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                aws_access_key_id="bench", aws_secret_access_key="bench",
            )  # fmt: skip
            created = lam.create_function(
                FunctionName=FUNCTION,
                Runtime="python3.11",
                Handler="app.handler",
                Role=ROLE,
                # One full vCPU, as bench/invoke.py: the platform is measured, not the quota.
                MemorySize=1769,
                Code={"ZipFile": zip_of(HANDLER)},
            )
            lam.get_waiter("function_active_v2").wait(
                FunctionName=FUNCTION, WaiterConfig={"Delay": 0.05}
            )
            bench = Bench(port, process.pid, created["FunctionArn"])
            doors = open_doors(bench)
            if args.only:
                doors = [d for d in doors if d.name in {REFERENCE, *args.only}]
            for door in doors:
                check(bench, door)
            log("warming up...")
            for door in doors:
                asyncio.run(raw_http(port, door.path, BODY, 8, 0.5, door.host))
            results = measure(bench, doors, args.seconds, args.rounds)
        finally:
            process.terminate()
            process.wait(20)

    compared = ratios(results, doors)
    print_table(results, compared, doors)
    for note in bench.notes:
        print(note)
    output = {
        "results": results,
        "vs_invoke": compared,
        "targets": {
            "p50_vs_invoke_max": LATENCY_TARGET,
            "c8_throughput_rps_min": THROUGHPUT_TARGET,
        },
        "notes": bench.notes,
        "sandbox": args.sandbox or "default",
        "seconds": args.seconds,
        "rounds": args.rounds,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(output, indent=2) + "\n")
    log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
