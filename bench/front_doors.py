"""Benchmark: HTTP front doors. A REST API (API Gateway v1) with a MOCK integration on
Fireside beside the same API on LocalStack, in the same run; and, on Fireside alone, a REST API
in front of a trivial Python function (AWS_PROXY) beside raw Invoke of the same function.

Each server gets `GET /ping` answered by a MOCK integration (request template
`{"statusCode": 200}`, a static JSON response template), deployed to stage `prod` and called
at the path-based address both serve, `/_aws/execute-api/<api-id>/prod/ping` (Fireside also
by host, `<api-id>.execute-api.localhost`). Clients are keep-alive raw HTTP/1.1 connections
(one request in flight each), 1 and 8 of them; every answer must be a 200.

LocalStack (PyPI `localstack-core`) runs without Docker as `../shared/reference/peers.md`
says: Python 3.12+, pinned dependencies, its own virtualenv (`.bench-venvs/localstack`, made
on demand), in-process API Gateway, its gateway bound to 127.0.0.1 only. MOCK needs no Lambda,
so this is the one front door both can serve here.

Raw Invoke is `POST /2015-03-31/functions/<name>/invocations` on the same kind of keep-alive
connection (unsigned: the bench server has no credentials), so the two Lambda rows differ only
by the front door.

Prints a table and writes JSON (default bench/results/front_doors.json).
Usage: python bench/front_doors.py [--seconds 3] [--json PATH] [--no-localstack] [--no-lambda]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from common import ROLE, ROOT, client, log, start_server, zip_of

LOCALSTACK_VENV = ROOT / ".bench-venvs" / "localstack"
LOCALSTACK_PINS = [
    "localstack-core[runtime]",
    "cbor2<6",
    "pyopenssl<26",
    "localstack-twisted==25.5.0",
]
#: Binds LocalStack's Twisted gateway to loopback (it binds 0.0.0.0 whatever GATEWAY_LISTEN
#: says), then runs LocalStack as `python -m localstack.runtime.main` would.
LAUNCHER = """
import runpy
from twisted.internet import endpoints

_init = endpoints.TCP4ServerEndpoint.__init__
def _loopback(self, reactor, port, backlog=50, interface=""):
    _init(self, reactor, port, backlog, "127.0.0.1")
endpoints.TCP4ServerEndpoint.__init__ = _loopback
runpy.run_module("localstack.runtime.main", run_name="__main__")
"""
CLIENTS = (1, 8)
PYTHONS = ("python3.13", "python3.12")


def apigateway(port: int) -> Any:
    return boto3.client(
        "apigateway", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1}),
    )  # fmt: skip


def make_mock_api(port: int) -> str:
    """`GET /ping` -> MOCK -> `{"pong": true}`, deployed to `prod`; the API's id."""
    client = apigateway(port)
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


def summarize(latencies: list[float], elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "p50_ms": round(ordered[len(ordered) // 2] * 1000, 3),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 3),
        "throughput_rps": round(len(ordered) / elapsed, 1),
    }


async def load(
    port: int, host: str, path: str, clients: int, seconds: float, method: str = "GET"
) -> dict[str, float]:
    """Keep-alive requests from `clients` connections for `seconds`; every answer must be 200."""
    body = b"{}" if method == "POST" else b""
    request = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            if length is None:
                raise RuntimeError(f"{host}{path}: no Content-Length in {head!r}")
            body = await reader.readexactly(int(length[1]))
            if status != 200:
                raise RuntimeError(f"{host}{path} answered {status}: {body[:200]!r}")
            latencies.append(time.perf_counter() - started)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return summarize(latencies, time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def localstack_python() -> Path:
    """The virtualenv's Python with LocalStack installed (made on first use)."""
    python = LOCALSTACK_VENV / "bin" / "python"
    if python.exists():
        return python
    base = next((p for p in PYTHONS if shutil.which(p)), None)
    pyenv = Path.home() / ".pyenv" / "versions"
    if base is None and pyenv.is_dir():
        found = sorted(pyenv.glob("3.1[23]*/bin/python"))
        base = str(found[-1]) if found else None
    if base is None:
        raise RuntimeError("LocalStack needs Python 3.12 or later, and none was found")
    log(f"installing LocalStack into {LOCALSTACK_VENV} ...")
    subprocess.run([base, "-m", "venv", str(LOCALSTACK_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q", *LOCALSTACK_PINS], check=True)
    return python


def start_localstack(workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    python = localstack_python()
    port = free_port()
    launcher = workdir / "launch_localstack.py"
    launcher.write_text(LAUNCHER)
    env = {
        **os.environ,
        "OVERRIDE_IN_DOCKER": "0",
        "FILESYSTEM_ROOT": str(workdir / "fs"),
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "SERVICES": "apigateway",
        "PERSISTENCE": "0",
        "DISABLE_EVENTS": "1",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DNS_ADDRESS": "0",
    }
    process = subprocess.Popen(
        [str(python), str(launcher)],
        stdout=open(workdir / "localstack.log", "wb"),  # noqa: SIM115 (owned by the process)
        stderr=subprocess.STDOUT,
        env=env,
        cwd=workdir,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                "LocalStack exited:\n" + (workdir / "localstack.log").read_text()[-3000:]
            )
        with contextlib.suppress(OSError):
            url = f"http://127.0.0.1:{port}/_localstack/health"
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return process, port
        time.sleep(0.3)
    process.terminate()
    raise RuntimeError("LocalStack did not answer its health check in 120 s")


def measure(
    name: str, port: int, api_id: str, seconds: float, *, by_host: bool
) -> list[dict[str, Any]]:
    if by_host:
        host, path = f"{api_id}.execute-api.localhost:{port}", "/prod/ping"
    else:
        host, path = f"127.0.0.1:{port}", f"/_aws/execute-api/{api_id}/prod/ping"
    rows = []
    asyncio.run(load(port, host, path, max(CLIENTS), min(seconds, 1.0)))  # warm-up
    for clients in CLIENTS:
        result = asyncio.run(load(port, host, path, clients, seconds))
        rows.append({"server": name, "address": "host" if by_host else "path",
                     "clients": clients, **result})  # fmt: skip
        log(f"  {name} ({rows[-1]['address']}) {clients} client(s): {result}")
    return rows


HANDLER = 'def handler(event, context):\n    return {"statusCode": 200, "body": "ok"}\n'


def make_proxy_api(port: int) -> tuple[str, str]:
    """A trivial Python function and `GET /fn` -> AWS_PROXY to it, deployed to `prod`:
    (function name, API id)."""
    functions = client(port)
    name = "bench-front-door"
    functions.create_function(
        FunctionName=name, Runtime="python3.11", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": zip_of(HANDLER)}, MemorySize=256,
    )  # fmt: skip
    functions.get_waiter("function_active_v2").wait(FunctionName=name)
    gateway = apigateway(port)
    api = gateway.create_rest_api(name="bench-proxy")
    functions.add_permission(
        FunctionName=name, StatementId="bench", Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:us-east-1:000000000000:{api['id']}/*",
    )  # fmt: skip
    resource = gateway.create_resource(
        restApiId=api["id"], parentId=api["rootResourceId"], pathPart="fn"
    )
    where = {"restApiId": api["id"], "resourceId": resource["id"], "httpMethod": "GET"}
    gateway.put_method(**where, authorizationType="NONE")
    uri = (
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        f"arn:aws:lambda:us-east-1:000000000000:function:{name}/invocations"
    )
    gateway.put_integration(**where, type="AWS_PROXY", integrationHttpMethod="POST", uri=uri)
    gateway.create_deployment(restApiId=api["id"], stageName="prod")
    return name, str(api["id"])


def measure_path(
    name: str, port: int, path: str, seconds: float, method: str = "GET"
) -> list[dict[str, Any]]:
    host = f"127.0.0.1:{port}"
    rows = []
    asyncio.run(load(port, host, path, max(CLIENTS), min(seconds, 1.0), method))  # warm-up
    for clients in CLIENTS:
        result = asyncio.run(load(port, host, path, clients, seconds, method))
        rows.append({"server": "fireside", "address": name, "clients": clients, **result})
        log(f"  fireside ({name}) {clients} client(s): {result}")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "front_doors.json"))
    parser.add_argument("--no-localstack", action="store_true")
    parser.add_argument("--no-lambda", action="store_true", help="skip the function rows")
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    lambda_rows: list[dict[str, Any]] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="fireside-bench-") as tmp:
        workdir = Path(tmp)
        process, port = start_server(str(workdir / "fireside"))
        try:
            api_id = make_mock_api(port)
            log("Fireside: REST API, MOCK integration")
            rows += measure("fireside", port, api_id, args.seconds, by_host=False)
            rows += measure("fireside", port, api_id, args.seconds, by_host=True)
            if not args.no_lambda:
                function, proxy_id = make_proxy_api(port)
                log("Fireside: raw Invoke, and a REST API with AWS_PROXY to the same function")
                invoke = f"/2015-03-31/functions/{function}/invocations"
                lambda_rows = measure_path("invoke", port, invoke, args.seconds, "POST")
                lambda_rows += measure_path(
                    "rest-proxy", port, f"/_aws/execute-api/{proxy_id}/prod/fn", args.seconds
                )
        finally:
            process.terminate()
            process.wait(20)
        if not args.no_localstack:
            try:
                peer, peer_port = start_localstack(workdir)
            except (RuntimeError, subprocess.CalledProcessError) as error:
                notes.append(f"LocalStack not measured: {error}")
                log(notes[-1])
            else:
                try:
                    api_id = make_mock_api(peer_port)
                    log("LocalStack: REST API, MOCK integration")
                    rows += measure("localstack", peer_port, api_id, args.seconds, by_host=False)
                finally:
                    peer.terminate()
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        peer.wait(20)
                    if peer.poll() is None:
                        peer.kill()
    print(f"{'server':<12}{'address':<9}{'clients':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
    for row in rows:
        print(
            f"{row['server']:<12}{row['address']:<9}{row['clients']:>8}"
            f"{row['throughput_rps']:>10.0f}{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}"
        )
    if lambda_rows:
        print("\nFireside, a trivial Python function:")
        print(f"{'path':<12}{'clients':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}")
        for row in lambda_rows:
            print(
                f"{row['address']:<12}{row['clients']:>8}{row['throughput_rps']:>10.0f}"
                f"{row['p50_ms']:>9.2f}{row['p99_ms']:>9.2f}"
            )
    ratios = {}
    for clients in CLIENTS:
        ours = [r for r in rows if r["server"] == "fireside" and r["address"] == "path"
                and r["clients"] == clients]  # fmt: skip
        theirs = [r for r in rows if r["server"] == "localstack" and r["clients"] == clients]
        if ours and theirs:
            ratio = ours[0]["throughput_rps"] / theirs[0]["throughput_rps"]
            ratios[f"rest_mock_{clients}_clients"] = round(ratio, 2)
            print(f"Fireside / LocalStack throughput, {clients} client(s): {ratio:.1f}x")
    for note in notes:
        print(note)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "rest_api_mock": rows,
                "rest_api_lambda": lambda_rows,
                "throughput_ratio_vs_localstack": ratios,
                "notes": notes,
            },
            indent=2,
        )
        + "\n"
    )
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
