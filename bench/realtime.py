"""Benchmark: WebSocket connections and `@connections` (issue 17), the transport's part.

Starts its own Fireside (random port, temporary data dir) and, through the echo door
(`/_fireside/websocket-echo`, which accepts connections straight through the registry, no
function), measures:

- memory: the server's RSS growth per idle connection, with `--connections` of them held;
- accepting: new connections a second (handshake to 101, one client, the per-account rate
  raised above its 500/s default so the server, not the quota, is measured);
- echo: the round trip of one small message, p50/p99 (the floor under a routed message);
- broadcast: PostToConnection to every held connection from `--senders` threads with boto3,
  until the last client has its message, and the server's CPU time for it (boto3 in this
  one process, not the server, bounds the wall time).

The routed message through a function and a broadcast from a function need the WebSocket API
door; they are to be added beside these floors. Then, on the same server, an Application Load
Balancer in front of a trivial function beside raw Invoke (`bench/alb.py`; `--no-alb` leaves
it out): requests/s, p50 and p99 with 1 and 8 clients.
Writes JSON (default bench/results/realtime.json).
Usage: python bench/realtime.py [--connections 1000] [--senders 16] [--json PATH] [--no-alb]
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import socket
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from alb import alb_beside_invoke
from botocore.config import Config
from common import ROOT, log, start_server, summarize
from front_doors import print_table
from websockets.sync.client import connect

HANDSHAKE = (
    b"GET /_fireside/websocket-echo HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n"
)


def cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def open_connection(port: int) -> tuple[socket.socket, str]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    sock.sendall(HANDSHAKE)
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError("closed during the handshake")
        answer += chunk
    head = answer.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    if " 101 " not in head[0] + " ":
        raise RuntimeError(f"handshake answered {head[0]!r}")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:])}
    return sock, headers["x-connection-id"]


def management(port: int) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1}, max_pool_connections=4),
    )


def broadcast(port: int, held: list[tuple[socket.socket, str]], senders: int) -> float:
    """Seconds from the first PostToConnection until every held client has its message."""
    selector = selectors.DefaultSelector()
    for sock, _ in held:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    waiting = {sock for sock, _ in held}
    done = threading.Event()

    def read() -> None:
        while waiting:
            for key, _ in selector.select(timeout=30):
                sock = key.fileobj
                assert isinstance(sock, socket.socket)
                if sock.recv(65536):
                    waiting.discard(sock)
                    selector.unregister(sock)
        done.set()

    clients = [management(port) for _ in range(senders)]
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    started = time.perf_counter()

    def post(index: int) -> None:
        clients[index % senders].post_to_connection(
            ConnectionId=held[index][1], Data=b'{"message":"hello, everyone"}'
        )

    with ThreadPoolExecutor(senders) as pool:
        list(pool.map(post, range(len(held))))
    if not done.wait(60):
        raise RuntimeError(f"{len(waiting)} clients never got the broadcast")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--echoes", type=int, default=2000)
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "realtime.json"))
    parser.add_argument("--no-alb", action="store_true", help="leave the ALB measurement out")
    parser.add_argument("--alb-seconds", type=float, default=2.0)
    parser.add_argument("--alb-rounds", type=int, default=3)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as data:
        process, port = start_server(data, env={"FIRESIDE_WEBSOCKET_CONNECT_RATE": "1000000"})
        try:
            for sock, _ in [open_connection(port) for _ in range(50)]:  # warm the allocator
                sock.close()
            before = rss_kb(process.pid)
            started = time.perf_counter()
            held = [open_connection(port) for _ in range(args.connections)]
            elapsed = time.perf_counter() - started
            time.sleep(0.5)  # let the server settle before reading its RSS
            grown = rss_kb(process.pid) - before
            results["connections"] = args.connections
            results["memory_kb_per_connection"] = grown / args.connections
            results["new_connections_per_second"] = args.connections / elapsed
            log(f"held {args.connections}: {grown / args.connections:.2f} KB each; "
                f"{args.connections / elapsed:.0f} new connections/s")  # fmt: skip
            with connect(f"ws://127.0.0.1:{port}/_fireside/websocket-echo") as echo:
                latencies = []
                started = time.perf_counter()
                for _ in range(args.echoes):
                    sent = time.perf_counter()
                    echo.send('{"action":"echo"}')
                    echo.recv(timeout=10)
                    latencies.append(time.perf_counter() - sent)
                results["echo"] = summarize(latencies, time.perf_counter() - started)
            log(f"echo: {results['echo']}")
            cpu = cpu_seconds(process.pid)
            results["broadcast_ms"] = broadcast(port, held, args.senders) * 1000
            results["broadcast_server_cpu_ms"] = (cpu_seconds(process.pid) - cpu) * 1000
            results["broadcast_senders"] = args.senders
            log(
                f"broadcast to {args.connections}: {results['broadcast_ms']:.0f} ms "
                f"(server CPU {results['broadcast_server_cpu_ms']:.0f} ms; the rest is boto3's)"
            )
            for sock, _ in held:
                sock.close()
            if not args.no_alb:
                alb, doors = alb_beside_invoke(
                    port, process.pid, args.alb_seconds, args.alb_rounds, floor=False
                )
                results["alb"] = alb
        finally:
            process.terminate()
            process.wait(30)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    if "alb" in results:
        print_table(results["alb"]["results"], results["alb"]["vs_invoke"], doors)


if __name__ == "__main__":
    main()
