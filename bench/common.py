"""What the benchmarks share: a Fireside server of their own, clients, code zips, tables."""

from __future__ import annotations

import asyncio
import io
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
ROLE = "arn:aws:iam::000000000000:role/bench"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def start_server(
    data_dir: str, sandbox: str | None = None, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], int]:
    """`fireside up` on a free port; returns the process and its port (output drained)."""
    extra = ["--sandbox", sandbox] if sandbox else []
    process = subprocess.Popen(
        [sys.executable, "-m", "fireside", "up", "--port", "0", "--data-dir", data_dir, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=ROOT,
        # The echo endpoint is the HTTP floor the benchmarks measure; servers serve it on request.
        env={**os.environ, "FIRESIDE_BENCH_ECHO": "1", **(env or {})},
    )
    stream = process.stdout
    assert stream is not None
    for line in stream:
        match = re.search(r"listening on http://[^:]+:(\d+)", line)
        if match:
            # Keep the pipe drained; into a file with FIRESIDE_BENCH_SERVER_LOG (say, to read
            # what FIRESIDE_LOOP_WATCH_MS reports while a benchmark runs).
            threading.Thread(target=_drain, args=(stream,), daemon=True).start()
            return process, int(match[1])
    raise RuntimeError(f"fireside (sandbox {sandbox or 'default'}) did not start")


def _drain(stream: Any) -> None:
    path = os.environ.get("FIRESIDE_BENCH_SERVER_LOG")
    if not path:
        stream.read()
        return
    with open(path, "a") as sink:
        for line in stream:
            sink.write(line)


def aws(port: int, service: str, pool: int = 10) -> Any:
    """A boto3 client of the Fireside on `port` (no retries: a benchmark counts failures)."""
    return boto3.client(
        service, endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="bench", aws_secret_access_key="bench",
        config=Config(retries={"max_attempts": 1}, max_pool_connections=pool,
                      read_timeout=120),
    )  # fmt: skip


def client(port: int, max_pool: int = 10) -> Any:
    return aws(port, "lambda", max_pool)


def zip_of(source: str, name: str = "app.py") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, source)
    return buffer.getvalue()


def summarize(latencies: list[float], elapsed: float) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "requests": len(ordered),
        "p50_ms": ordered[len(ordered) // 2] * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "throughput_rps": len(ordered) / elapsed,
    }


async def raw_http(
    port: int,
    path: str,
    body: bytes,
    clients: int,
    seconds: float,
    host: str | None = None,
    method: str = "POST",
) -> dict[str, float]:
    """Keep-alive raw HTTP/1.1 clients, each sending one request at a time (`host`: the Host
    header, for host-routed front doors; the connection is always to 127.0.0.1)."""
    request = (
        f"{method} {path} HTTP/1.1\r\nHost: {host or f'127.0.0.1:{port}'}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    latencies: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            # After a line break: not x-amzn-Remapped-Content-Length, which API Gateway sends.
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            if length is None:
                raise RuntimeError(f"{path}: no Content-Length in {head!r}")
            answer = await reader.readexactly(int(length[1]))
            if status != 200:
                raise RuntimeError(f"{path} answered {status}: {answer[:200]!r}")
            latencies.append(time.perf_counter() - started)
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return summarize(latencies, time.perf_counter() - started)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has used (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_map() -> dict[int, list[int]]:
    """Every process's children, by parent pid."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    return children


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, their children...)."""
    children = children_map()
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def cpu_split(server: int) -> tuple[float, float, float]:
    """CPU seconds so far of the server process, of every process under it (sandboxes,
    runtimes) and of this one (the load generator)."""
    below = sum(cpu_seconds(pid) for pid in descendants(server))
    return cpu_seconds(server), below, time.process_time()


def spawn_floor(rounds: int) -> float:
    """Median ms to spawn and reap /bin/true."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(["/bin/true"], check=True)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def fork_floor(rounds: int) -> float:
    """Median ms to fork this (warm) Python process and reap the child."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)
