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

And a REST API whose `GET /ping` is answered by a `MOCK` integration (request template
`{"statusCode": 200}`, a static JSON response template; deployed to stage `prod`) on
Fireside, by path (`/_aws/execute-api/<api-id>/prod/ping`) and by host
(`<api-id>.execute-api.localhost`), beside the same API on LocalStack at the path both serve
(`bench/localstack.py`: no Docker, so no Lambda there; MOCK is the one front door both can
serve here). `--no-localstack` leaves LocalStack out.

Each door gets its own setup function (`LAMBDA_DOORS`, `MOCK_DOORS`); adding a door is one
function there. Time to first byte of a streamed response is `bench/streaming.py`'s.
Clients are keep-alive raw HTTP/1.1 connections on one asyncio loop (`common.raw_http`), each
with one request in flight, 1 and 8 of them. Every measurement runs `--rounds` times,
interleaved with the other doors (the machine is shared: a burst of other work then hits
every door alike), and the round with the median throughput is reported. Beside latency and
throughput, the CPU time per request of the server process, of the function's processes (its
descendants, read from /proc) and of the load generator: those hold still when other work
shares the two cores, and say where a door's time goes.

Targets (issue 13): each front door's p50 within 1.3x of raw Invoke's, at least 3,000
requests/s with 8 clients, and the MOCK API at least 3x LocalStack's throughput. Prints two
tables and writes JSON (default bench/results/front_doors.json).
Usage: python bench/front_doors.py [--seconds 2] [--rounds 3] [--only DOOR...] [--no-lambda]
                                   [--no-localstack] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from common import ROLE, ROOT, cpu_split, log, raw_http, start_server, zip_of
from localstack import start_localstack, stop

HANDLER = 'def handler(event, context):\n    return {"statusCode": 200, "body": "ok"}\n'
FUNCTION = "bench"
BODY = b'{"k": 1}'
CLIENTS = (1, 8)
REFERENCE = "invoke"
FLOOR = "echo"
LATENCY_TARGET = 1.3  # a front door's p50 over raw Invoke's
THROUGHPUT_TARGET = 3000.0  # requests/s with 8 clients
LOCALSTACK_TARGET = 3.0  # the MOCK API's throughput over LocalStack's


@dataclass(frozen=True)
class Door:
    """One address to load: `path` on 127.0.0.1, with `host` as the Host header if set."""

    name: str
    path: str
    host: str | None = None
    method: str = "POST"
    #: A door on a port of its own (an ALB listener); default: the server's.
    port: int | None = None


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


def make_mock_api(client: Any) -> str:
    """`GET /ping` -> MOCK -> `{"pong": true}`, deployed to `prod`, with `client`
    (`apigateway`, on either server); the API's id."""
    api = client.create_rest_api(name="bench-mock")
    resource = client.create_resource(
        restApiId=api["id"], parentId=api["rootResourceId"], pathPart="ping"
    )
    where = {"restApiId": api["id"], "resourceId": resource["id"], "httpMethod": "GET"}
    client.put_method(**where, authorizationType="NONE")
    client.put_integration(
        **where, type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'}
    )
    client.put_method_response(**where, statusCode="200")
    client.put_integration_response(
        **where, statusCode="200", responseTemplates={"application/json": '{"pong": true}'}
    )
    client.create_deployment(restApiId=api["id"], stageName="prod")
    return str(api["id"])


def rest_mock(bench: Bench) -> list[Door]:
    api_id = make_mock_api(bench.client("apigateway"))
    return [
        Door("rest-mock", f"/_aws/execute-api/{api_id}/prod/ping", method="GET"),
        Door("rest-mock-host", "/prod/ping", f"{api_id}.execute-api.localhost:{bench.port}", "GET"),
    ]


#: Every door, in table order. A setup function creates what its door needs on the server and
#: returns the addresses to load. The Lambda doors are compared with raw Invoke; the MOCK
#: doors with LocalStack.
def alb(bench: Bench) -> list[Door]:
    """An Application Load Balancer's HTTP listener forwarding to a Lambda target group
    (`bench/alb.py`)."""
    from alb import alb_door  # (bench/alb.py imports this module)

    return [alb_door(bench)]


LAMBDA_DOORS: list[Callable[[Bench], list[Door]]] = [
    echo,
    invoke,
    function_url,
    http_api,
    rest_api,
    alb,
]
MOCK_DOORS: list[Callable[[Bench], list[Door]]] = [rest_mock]


def open_doors(bench: Bench, setups: list[Callable[[Bench], list[Door]]]) -> list[Door]:
    """Each door that the server serves (one it does not is left out with a note)."""
    doors: list[Door] = []
    for setup in setups:
        try:
            doors += setup(bench)
        except ClientError as error:
            bench.notes.append(f"{setup.__name__} not measured: {error}")
            log(bench.notes[-1])
    return doors


def load(port: int, door: Door, clients: int, seconds: float) -> dict[str, float]:
    body = BODY if door.method == "POST" else b""
    return asyncio.run(
        raw_http(door.port or port, door.path, body, clients, seconds, door.host, door.method)
    )


def warm(port: int, doors: list[Door]) -> None:
    """One request through each door must be a 200; then half a second of 8 clients."""
    for door in doors:
        load(port, door, 1, 0.05)
    for door in doors:
        load(port, door, 8, 0.5)


def timed_load(
    port: int, server_pid: int, door: Door, clients: int, seconds: float
) -> dict[str, float]:
    """`load` through `door`, with the CPU time each party used per request: the server,
    the function's processes, and this load generator. Unlike latency, CPU time per request
    holds still when other work shares the machine."""
    server_before, function_before, client_before = cpu_split(server_pid)
    result = load(port, door, clients, seconds)
    server_after, function_after, client_after = cpu_split(server_pid)
    client_used = client_after - client_before
    per_request = 1e6 / result["requests"]
    return {
        **result,
        "server_cpu_us": (server_after - server_before) * per_request,
        "function_cpu_us": (function_after - function_before) * per_request,
        "client_cpu_us": client_used * per_request,
    }


def measure(
    port: int, server_pid: int, doors: list[Door], seconds: float, rounds: int
) -> dict[str, dict[str, float]]:
    """`{"<door>_c<clients>": summary}`: the median-throughput round of each, the doors of
    the server on `port` (process `server_pid`) interleaved."""
    runs: dict[str, list[dict[str, float]]] = {}
    for clients in CLIENTS:
        for round_ in range(rounds):
            for door in doors:
                log(f"{door.name}, {clients} client(s), round {round_ + 1} of {rounds}...")
                result = timed_load(port, server_pid, door, clients, seconds)
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


def versus_localstack(
    ours: dict[str, dict[str, float]], theirs: dict[str, dict[str, float]]
) -> dict[str, float]:
    """The MOCK API's throughput on Fireside (by path, as LocalStack is called) over
    LocalStack's, per number of clients."""
    return {
        f"rest_mock_{clients}_clients": ours[f"rest-mock_c{clients}"]["throughput_rps"]
        / theirs[f"rest-mock_c{clients}"]["throughput_rps"]
        for clients in CLIENTS
        if f"rest-mock_c{clients}" in ours and f"rest-mock_c{clients}" in theirs
    }


def print_mock_table(
    ours: dict[str, dict[str, float]],
    theirs: dict[str, dict[str, float]],
    ratio: dict[str, float],
) -> None:
    print(f"\nREST API, MOCK integration\n{'server':<12}{'address':<9}{'clients':>8}"
          f"{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'server µs':>11}")  # fmt: skip
    for clients in CLIENTS:
        for server, address, key in (
            ("fireside", "path", "rest-mock"),
            ("fireside", "host", "rest-mock-host"),
            ("localstack", "path", "rest-mock"),
        ):
            row = (ours if server == "fireside" else theirs).get(f"{key}_c{clients}")
            if row is not None:
                print(f"{server:<12}{address:<9}{clients:>8}{row['throughput_rps']:>9.0f}"
                      f"{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}"
                      f"{row['server_cpu_us']:>11.0f}")  # fmt: skip
    for key, value in ratio.items():
        print(f"Fireside / LocalStack throughput, {key.split('_')[2]} client(s): {value:.1f}x "
              f"(target >= {LOCALSTACK_TARGET:.0f}x)")  # fmt: skip


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
    parser.add_argument("--no-lambda", action="store_true", help="only the MOCK API")
    parser.add_argument("--no-localstack", action="store_true", help="leave LocalStack out")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="fireside-bench-") as tmp:
        workdir = Path(tmp)
        process, port = start_server(str(workdir / "fireside"), args.sandbox)
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
            doors = [] if args.no_lambda else open_doors(bench, LAMBDA_DOORS)
            mock_doors = open_doors(bench, MOCK_DOORS)
            if args.only:
                doors = [d for d in doors if d.name in {REFERENCE, *args.only}]
                mock_doors = [d for d in mock_doors if d.name in args.only]
            log("warming up...")
            warm(port, doors + mock_doors)
            results = measure(port, process.pid, doors + mock_doors, args.seconds, args.rounds)
        finally:
            process.terminate()
            process.wait(20)
        peer_results: dict[str, dict[str, float]] = {}
        if mock_doors and not args.no_localstack:
            try:
                peer, peer_port = start_localstack(workdir, "apigateway")
            except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
                bench.notes.append(f"LocalStack not measured: {error}")
                log(bench.notes[-1])
            else:
                try:
                    client = boto3.client(
                        "apigateway", endpoint_url=f"http://127.0.0.1:{peer_port}",
                        region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test", config=Config(retries={"max_attempts": 1}),
                    )  # fmt: skip
                    api_id = make_mock_api(client)
                    theirs = [
                        Door("rest-mock", f"/_aws/execute-api/{api_id}/prod/ping", None, "GET")
                    ]
                    log("LocalStack: REST API, MOCK integration")
                    warm(peer_port, theirs)
                    peer_results = measure(peer_port, peer.pid, theirs, args.seconds, args.rounds)
                finally:
                    stop(peer)

    compared = ratios(results, doors) if doors else {}
    if doors:
        print_table(results, compared, doors)
    versus = versus_localstack(results, peer_results)
    if mock_doors:
        print_mock_table(results, peer_results, versus)
    for note in bench.notes:
        print(note)
    output = {
        "results": results,
        "vs_invoke": compared,
        "localstack_rest_mock": peer_results,
        "throughput_ratio_vs_localstack": versus,
        "targets": {
            "p50_vs_invoke_max": LATENCY_TARGET,
            "c8_throughput_rps_min": THROUGHPUT_TARGET,
            "mock_vs_localstack_min": LOCALSTACK_TARGET,
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
