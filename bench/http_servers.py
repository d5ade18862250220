"""Benchmark: Fireside's own HTTP server beside well-kept Python servers, in one run.

Why it exists: Fireside serves its edge and every function's Runtime API with its own small
server (`fireside/http/server.py`: asyncio + httptools on uvloop, with the limits of
`fireside/http/limits.py`). This measures what adopting uvicorn or granian would give on the
bare HTTP path: each server answers POST with the request body (an echo), one process, one
worker, measured by the same keep-alive raw-HTTP clients with 1 and 8 connections.

uvicorn (httptools, uvloop) and granian (ASGI interface) are installed on demand into their own
virtualenv (`.bench-venvs/http`).

Prints a table and writes JSON (default bench/results/http_servers.json).
Usage: python bench/http_servers.py [--seconds 3] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, log, raw_http

VENV = ROOT / ".bench-venvs" / "http"

ASGI_ECHO = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
"""

FIRESIDE_ECHO = """
import asyncio, sys
import uvloop
from fireside.http.server import HttpServer
from fireside.http.types import Response

async def echo(request):
    return Response(200, [("Content-Type", "application/json")], request.body)

async def main():
    server = HttpServer(echo)
    await server.listen("127.0.0.1", int(sys.argv[1]))
    print("ready", flush=True)
    await asyncio.Event().wait()

uvloop.run(main())
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ensure_venv() -> Path:
    if not (VENV / "bin" / "granian").exists():
        log("installing uvicorn and granian into .bench-venvs/http (once)...")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(VENV / "bin" / "pip"), "install", "--quiet", "uvicorn[standard]", "granian"],
            check=True,
        )
    return VENV / "bin"


def wait_listening(port: int, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited early")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{name} did not start")


def commands(bin_dir: Path, work: Path, port: int) -> dict[str, list[str]]:
    (work / "echo_app.py").write_text(ASGI_ECHO)
    (work / "fireside_echo.py").write_text(FIRESIDE_ECHO)
    return {
        "fireside": [sys.executable, str(work / "fireside_echo.py"), str(port)],
        "uvicorn": [
            str(bin_dir / "uvicorn"), "echo_app:app", "--port", str(port), "--loop", "uvloop",
            "--http", "httptools", "--no-access-log", "--log-level", "warning",
        ],
        "granian": [
            str(bin_dir / "granian"), "--interface", "asgi", "--port", str(port),
            "--workers", "1", "--log-level", "warning", "echo_app:app",
        ],
    }  # fmt: skip


def measure(name: str, argv: list[str], port: int, work: Path, seconds: float) -> dict[str, object]:
    process = subprocess.Popen(
        argv, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    try:
        wait_listening(port, process, name)
        body = b'{"k": 1}'
        asyncio.run(raw_http(port, "/echo", body, 8, 0.5))  # warm up
        return {
            f"c{clients}": asyncio.run(raw_http(port, "/echo", body, clients, seconds))
            for clients in (1, 8)
        }
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument(
        "--json", type=Path, default=ROOT / "bench" / "results" / "http_servers.json"
    )
    args = parser.parse_args()
    bin_dir = ensure_venv()
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        # Twice each, interleaved, so a burst of load elsewhere does not favour one server.
        for round_ in (1, 2):
            for name, argv in commands(bin_dir, work, port := free_port()).items():
                log(f"{name}, round {round_}...")
                results.setdefault(name, {})[f"round{round_}"] = measure(
                    name, argv, port, work, args.seconds
                )
    print(f"{'server':<10} {'c1 rps':>9} {'c1 p50 ms':>10} {'c8 rps':>9} {'c8 p99 ms':>10}")
    best: dict[str, dict[str, float]] = {}
    for name, rounds in results.items():
        runs = [r for r in rounds.values() if isinstance(r, dict)]
        c1 = max((r["c1"] for r in runs), key=lambda x: x["throughput_rps"])
        c8 = max((r["c8"] for r in runs), key=lambda x: x["throughput_rps"])
        best[name] = {"c1_rps": c1["throughput_rps"], "c8_rps": c8["throughput_rps"]}
        print(
            f"{name:<10} {c1['throughput_rps']:>9,.0f} {c1['p50_ms']:>10.3f} "
            f"{c8['throughput_rps']:>9,.0f} {c8['p99_ms']:>10.3f}"
        )
    for name in ("uvicorn", "granian"):
        print(
            f"fireside / {name}: c1 {best['fireside']['c1_rps'] / best[name]['c1_rps']:.2f}x, "
            f"c8 {best['fireside']['c8_rps'] / best[name]['c8_rps']:.2f}x"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"results": results, "best": best}, indent=2))
    log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
