"""Benchmark: WebSocket APIs (and the ALB front door beside raw Invoke, from bench/alb.py).

Starts its own Fireside (random port, temporary data dir, default sandbox) and builds a
WebSocket API whose routes run published versions of functions with SnapStart (a new
environment is a fork of an initialised one, ~8 ms, so bursts of messages scale without a storm
of Python starts on two cores): `$connect` and `$disconnect` run a trivial function, `echo` answers each
message to its sender (a two-way route), `join` records the sender's connection id in a table,
and `broadcast` sends a message to every recorded connection through `@connections` at
`https://<domainName>/<stage>` (one process per core, in a function of 10,240 MB, which Lambda
gives six vCPUs: a boto3 call costs ~1 ms of CPU, so threads alone stay on one core). Then,
with the `websockets` client library:

- `connect`: N connections opened at the default admission rate (500 new connections/s per
  account): the rate reached, each handshake's latency (it includes the `$connect`
  function's run), and refusals by status; connections refused there are then made up at
  `--hold-rate` (100/s), so the later measures have N connections;
- `memory per connection`: the server process's resident memory with the N connections open
  and idle, less before they were opened, divided by N;
- `echo`: one message routed to a function and its answer back, one at a time (p50/p99);
- `broadcast`: from one client's message until the last of the N clients has the broadcast
  (after one not counted, which starts the function).

Targets (issue 17): under 20 KB of server memory per idle connection; a 1,000-connection
broadcast under 500 ms; ALB within 1.3x of raw Invoke's latency.
Prints a table and writes JSON (default bench/results/realtime.json).
The ALB half (`bench/alb.py`) runs on the same server after the WebSocket half: an
Application Load Balancer in front of a trivial function beside raw Invoke, requests/s, p50
and p99 with 1 and 8 clients (`--no-alb` leaves it out).
Usage: python bench/realtime.py [--connections 1000] [--echoes 200] [--broadcasts 5] [--no-alb]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

from alb import alb_beside_invoke
from common import ROLE, ROOT, aws, log, start_server
from front_doors import print_table
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

#: Functions without boto3 (each start is cheap): `$connect`, `$disconnect` and the echo route.
LIGHT = """
def hello(event, context):
    return {"statusCode": 200}

def echo(event, context):
    return {"statusCode": 200, "body": event["body"]}
"""

#: `join` records the sender's connection id; `broadcast` sends to every recorded connection
#: through @connections, at the endpoint AWS's documentation has functions build, from one
#: process per core (a boto3 call costs ~1 ms of CPU, so threads alone stay on one core).
HEAVY = """
import os
from multiprocessing import Pipe, Process
import boto3

TABLE = boto3.client("dynamodb")

def join(event, context):
    TABLE.put_item(TableName="connections",
                   Item={"id": {"S": event["requestContext"]["connectionId"]}})
    return {"statusCode": 200}

def _post(endpoint, ids, data, pipe):
    api = boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)
    for connection_id in ids:
        api.post_to_connection(ConnectionId=connection_id, Data=data)
    pipe.send(len(ids))

def broadcast(event, context):
    request = event["requestContext"]
    endpoint = f"https://{request['domainName']}/{request['stage']}"
    ids, start = [], {}
    while True:
        page = TABLE.scan(TableName="connections", **start)
        ids += [item["id"]["S"] for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        start = {"ExclusiveStartKey": page["LastEvaluatedKey"]}
    data = event["body"].encode()
    workers = os.cpu_count() or 1
    pipes, processes = [], []
    for n in range(workers):
        mine, theirs = Pipe()
        process = Process(target=_post, args=(endpoint, ids[n::workers], data, theirs))
        process.start()
        pipes.append(mine)
        processes.append(process)
    sent = sum(pipe.recv() for pipe in pipes)
    for process in processes:
        process.join()
    return {"statusCode": 200, "body": str(sent)}
"""

ROUTES = {  # route key: (function, module.handler)
    "$connect": ("hello", "light.hello"),
    "$disconnect": ("bye", "light.hello"),
    "echo": ("echo", "light.echo"),
    "join": ("join", "heavy.join"),
    "broadcast": ("broadcast", "heavy.broadcast"),
}


def code() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("light.py", LIGHT)
        archive.writestr("heavy.py", HEAVY)
    return buffer.getvalue()


def build_api(port: int) -> str:
    """The API, its routes and functions, deployed to stage `bench`; its id."""
    lam, v2, dynamodb = aws(port, "lambda"), aws(port, "apigatewayv2"), aws(port, "dynamodb")
    dynamodb.create_table(
        TableName="connections",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    api = v2.create_api(
        Name="bench", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )["ApiId"]
    archive = code()
    for key, (name, handler) in ROUTES.items():
        lam.create_function(
            FunctionName=name, Runtime="python3.11", Handler=handler, Role=ROLE,
            Code={"ZipFile": archive}, Timeout=60,
            # Lambda's CPU follows memory: 1,769 MB is one vCPU, 10,240 MB six (every core
            # here), which the broadcast's processes need.
            MemorySize=10240 if name == "broadcast" else 1769,
            SnapStart={"ApplyOn": "PublishedVersions"},
        )  # fmt: skip
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        version = lam.publish_version(FunctionName=name)["Version"]
        lam.get_waiter("published_version_active").wait(FunctionName=name, Qualifier=version)
        arn = lam.get_function(FunctionName=name, Qualifier=version)["Configuration"]["FunctionArn"]
        lam.add_permission(
            FunctionName=name, Qualifier=version, StatementId="apigateway",
            Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:us-east-1:{arn.split(':')[4]}:{api}/*",
        )  # fmt: skip
        integration = v2.create_integration(
            ApiId=api, IntegrationType="AWS_PROXY",
            IntegrationUri=(f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                            f"{arn}/invocations"),
        )["IntegrationId"]  # fmt: skip
        route = v2.create_route(
            ApiId=api, RouteKey=key, Target=f"integrations/{integration}",
            **({"RouteResponseSelectionExpression": "$default"} if key == "echo" else {}),
        )["RouteId"]  # fmt: skip
        if key == "echo":
            v2.create_route_response(ApiId=api, RouteId=route, RouteResponseKey="$default")
    v2.create_stage(ApiId=api, StageName="bench", AutoDeploy=True)
    return str(api)


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def open_connections(
    port: int, api: str, count: int, rate: float
) -> tuple[list[ClientConnection], list[float], dict[int, int], float]:
    """`count` connections started `rate` per second; (connections, handshake seconds,
    refusals by HTTP status, elapsed seconds)."""
    url = f"ws://{api}.execute-api.localhost:{port}/bench"
    opened: list[ClientConnection] = []
    latencies: list[float] = []
    refused: dict[int, int] = {}

    async def one() -> None:
        started = time.perf_counter()
        try:
            connection = await connect(
                url, host="127.0.0.1", port=port, open_timeout=60, ping_interval=None,
                max_size=None,
            )  # fmt: skip
        except InvalidStatus as error:
            status = error.response.status_code
            refused[status] = refused.get(status, 0) + 1
            return
        latencies.append(time.perf_counter() - started)
        opened.append(connection)

    began = time.perf_counter()
    tasks = []
    for n in range(count):
        delay = began + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return opened, latencies, refused, time.perf_counter() - began


def percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {
        "p50_ms": ordered[len(ordered) // 2] * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


async def echoes(connection: ClientConnection, count: int) -> list[float]:
    latencies = []
    for n in range(count):
        message = json.dumps({"action": "echo", "n": n})
        started = time.perf_counter()
        await connection.send(message)
        answer = await connection.recv()
        latencies.append(time.perf_counter() - started)
        if answer != message:
            raise RuntimeError(f"echo answered {answer!r}")
    return latencies


async def broadcast(connections: list[ClientConnection], tag: str) -> float:
    """Seconds from the send until the last connection has the broadcast."""
    body = json.dumps({"action": "broadcast", "tag": tag})

    async def until_seen(connection: ClientConnection) -> float:
        while True:
            message = await connection.recv()
            if message == body:
                return time.perf_counter()

    waiters = [asyncio.create_task(until_seen(c)) for c in connections]
    started = time.perf_counter()
    await connections[0].send(body)
    done = await asyncio.wait_for(asyncio.gather(*waiters), 120)
    return max(done) - started


async def join(port: int, connections: list[ClientConnection], rate: float) -> None:
    """Each connection sends `join` (its function records the connection id), paced; returns
    once the table holds them all. A join an overloaded machine refused (its `join` invoke
    throttled: the client gets an error frame, the id is not recorded) is sent again: every
    connection joins again, up to three rounds (a put of the same id changes nothing)."""
    dynamodb = aws(port, "dynamodb")
    for _ in range(3):
        began = time.perf_counter()
        for n, connection in enumerate(connections):
            delay = began + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            await connection.send('{"action": "join"}')
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            count = await asyncio.to_thread(
                lambda: dynamodb.scan(TableName="connections", Select="COUNT")["Count"]
            )
            if count >= len(connections):
                return
            await asyncio.sleep(0.2)
        log(f"only {count} of {len(connections)} joined; again...")
    raise RuntimeError(f"only {count} of {len(connections)} connections joined")


async def realtime(args: argparse.Namespace, port: int, pid: int, api: str) -> dict[str, Any]:
    results: dict[str, Any] = {}
    # A first connection starts the functions' environments (not counted).
    warm, _, _, _ = await open_connections(port, api, 1, 1)
    await echoes(warm[0], 3)
    await warm[0].close()
    before = rss_kb(pid)
    log(f"opening {args.connections} connections at {args.rate}/s...")
    opened, latencies, refused, elapsed = await open_connections(
        port, api, args.connections, args.rate
    )
    results["connect"] = {
        "asked_per_s": args.rate, "connections": len(opened), "refused": refused,
        "rate_per_s": len(opened) / elapsed, **percentiles(latencies),
    }  # fmt: skip
    if len(opened) < args.connections:  # refused ones are made up for, at a gentler pace
        log(f"topping up to {args.connections} connections at {args.hold_rate}/s...")
        await asyncio.sleep(5)
        more, _, again, _ = await open_connections(
            port, api, args.connections - len(opened), args.hold_rate
        )
        opened += more
        results["connect"]["top_up_refused"] = again
    await asyncio.sleep(1)  # let the handshakes' garbage go before reading memory
    results["memory"] = {
        "connections": len(opened),
        "kb_per_connection": (rss_kb(pid) - before) / max(1, len(opened)),
    }
    log(f"each connection joins the broadcast list ({args.join_rate:.0f}/s)...")
    await join(port, opened, args.join_rate)
    log("echo round trips...")
    results["echo"] = percentiles(await echoes(opened[0], args.echoes))
    log(f"broadcasts to {len(opened)} connections...")
    await broadcast(opened, "first")  # starts the broadcast function: not counted
    times = [await broadcast(opened, str(n)) for n in range(args.broadcasts)]
    results["broadcast"] = {
        "connections": len(opened), "median_ms": statistics.median(times) * 1000,
        "max_ms": max(times) * 1000,
    }  # fmt: skip
    await asyncio.gather(*(c.close() for c in opened))
    await asyncio.sleep(5)  # the $disconnect invokes of the closed connections run
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=500.0, help="new connections per second")
    parser.add_argument("--echoes", type=int, default=200)
    parser.add_argument("--broadcasts", type=int, default=5)
    parser.add_argument("--hold-rate", type=float, default=100.0, help="top-up connections/s")
    parser.add_argument("--join-rate", type=float, default=200.0)
    parser.add_argument("--no-alb", action="store_true", help="leave the ALB measurement out")
    parser.add_argument("--alb-seconds", type=float, default=2.0)
    parser.add_argument("--alb-rounds", type=int, default=3)
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "realtime.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        process, port = start_server(data)
        try:
            api = build_api(port)
            results = asyncio.run(realtime(args, port, process.pid, api))
            if not args.no_alb:
                log("ALB beside raw Invoke...")
                alb, doors = alb_beside_invoke(
                    port, process.pid, args.alb_seconds, args.alb_rounds, floor=False
                )
                results["alb"] = alb
        finally:
            process.terminate()
            process.wait(timeout=60)
    connect_row, echo_row = results["connect"], results["echo"]
    print(f"{'measure':<36}{'value':>14}  target")
    print(f"{'connections opened at the rate':<36}{connect_row['connections']:>14}")
    print(f"{'  refused (by status)':<36}{json.dumps(connect_row['refused']):>14}")
    print(f"{'  rate reached /s':<36}{connect_row['rate_per_s']:>14.0f}  {args.rate:.0f}/s asked")
    print(f"{'  handshake p50 / p99 ms':<36}"
          f"{connect_row['p50_ms']:>6.1f} / {connect_row['p99_ms']:<6.1f}")  # fmt: skip
    print(f"{'server KB per idle connection':<36}"
          f"{results['memory']['kb_per_connection']:>14.1f}  < 20 KB")  # fmt: skip
    print(f"{'echo p50 / p99 ms':<36}{echo_row['p50_ms']:>6.2f} / {echo_row['p99_ms']:<6.2f}")
    print(f"{'broadcast median / max ms':<36}"
          f"{results['broadcast']['median_ms']:>6.0f} / {results['broadcast']['max_ms']:<6.0f}"
          f"  < 500 ms to {results['broadcast']['connections']}")  # fmt: skip
    if "alb" in results:
        print()
        print_table(results["alb"]["results"], results["alb"]["vs_invoke"], doors)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2))
    log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
