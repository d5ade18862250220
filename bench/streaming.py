"""Benchmark: time to first byte of a streamed Lambda response (InvokeWithResponseStream).

Starts its own Fireside (random port, temporary data dir) and deploys a Node.js function
written with `awslambda.streamifyResponse` that writes one chunk, waits `--hold` ms, writes
another and ends. Warm, one client at a time, it measures per request:

- head: the response's status line and headers arrived;
- first chunk: the first PayloadChunk event (the function's first write) arrived whole;
- complete: the InvokeComplete event arrived (so, at least `--hold` ms after the first chunk);

over a raw keep-alive HTTP/1.1 connection, and the first event as boto3's
`invoke_with_response_stream` yields it; then the same function behind a Function URL in
`RESPONSE_STREAM` mode (head, first body chunk, end). Beside them: a buffered Invoke of a
Node.js function returning at once (raw HTTP), the floor a streamed first byte is compared
with.

Prints a table and writes JSON (default bench/results/streaming.json).
Usage: python bench/streaming.py [--rounds 300] [--hold 20] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from common import ROLE, ROOT, client, log, start_server, zip_of

STREAMING = """
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  responseStream.write('first');
  const hold = event.hold ?? Number(event.queryStringParameters?.hold ?? 0);
  await new Promise((resolve) => setTimeout(resolve, hold));
  responseStream.write('second');
  responseStream.end();
});
"""
BUFFERED = "export const handler = async (event) => event;\n"
_AUTH = (
    "X-Amz-Date: 20260101T000000Z\r\n"
    "Authorization: AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/lambda/aws4_request,"
    " SignedHeaders=host, Signature=00\r\n"
)


class Connection:
    """A blocking keep-alive HTTP/1.1 connection that reads chunked bodies as they come."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise RuntimeError("the server closed the connection")
        self.buffer += data

    def take_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._fill()
        head, _, self.buffer = self.buffer.partition(marker)
        return head

    def take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def chunk(self) -> bytes:
        size = int(self.take_until(b"\r\n"), 16)
        data = self.take(size)
        self.take(2)
        return data

    def send(self, path: str, body: bytes) -> None:
        self.sock.sendall(
            (
                f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
                f"{_AUTH}Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
        )


def streamed_round(conn: Connection, path: str, body: bytes) -> tuple[float, float, float]:
    """(head, first chunk, complete) seconds of one InvokeWithResponseStream."""
    started = time.perf_counter()
    conn.send(path, body)
    head = conn.take_until(b"\r\n\r\n")
    at_head = time.perf_counter()
    if not head.startswith(b"HTTP/1.1 200") or b"chunked" not in head:
        raise RuntimeError(f"unexpected answer {head[:200]!r}")
    stream = b""
    first = 0.0
    events: list[bytes] = []
    while True:
        data = conn.chunk()
        if not data:
            break
        stream += data
        while len(stream) >= 4 and len(stream) >= int.from_bytes(stream[:4], "big"):
            size = int.from_bytes(stream[:4], "big")
            events.append(stream[:size])
            stream = stream[size:]
            if not first:
                first = time.perf_counter()
    done = time.perf_counter()
    if b"PayloadChunk" not in events[0] or b"InvokeComplete" not in events[-1]:
        raise RuntimeError("unexpected events")
    return at_head - started, first - started, done - started


def url_round(conn: Connection, host: str, target: str) -> tuple[float, float, float]:
    """(head, first body chunk, end) seconds of one GET of a RESPONSE_STREAM Function URL."""
    started = time.perf_counter()
    conn.sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    head = conn.take_until(b"\r\n\r\n")
    at_head = time.perf_counter()
    if not head.startswith(b"HTTP/1.1 200") or b"chunked" not in head:
        raise RuntimeError(f"unexpected answer {head[:200]!r}")
    if conn.chunk() != b"first":
        raise RuntimeError("unexpected first chunk")
    first = time.perf_counter()
    while conn.chunk():
        pass
    return at_head - started, first - started, time.perf_counter() - started


def buffered_round(conn: Connection, path: str, body: bytes) -> float:
    started = time.perf_counter()
    conn.send(path, body)
    head = conn.take_until(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    conn.take(length)
    return time.perf_counter() - started


def stats(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "rounds": len(ordered),
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
        "min_ms": ordered[0] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=300, help="warm requests per measurement")
    parser.add_argument("--hold", type=int, default=20, help="ms between the function's writes")
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "results" / "streaming.json")
    parser.add_argument("--sandbox", default=None, help="sandbox backend (default: the server's)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as data_dir:
        process, port = start_server(data_dir, args.sandbox)
        try:
            lam = client(port)
            for name, source in (("streaming", STREAMING), ("buffered", BUFFERED)):
                lam.create_function(
                    FunctionName=name,
                    Runtime="nodejs20.x",
                    Handler="index.handler",
                    Role=ROLE,
                    MemorySize=1769,  # one vCPU, as on Lambda: the platform is measured
                    Code={"ZipFile": zip_of(source, "index.mjs")},
                )
                lam.get_waiter("function_active_v2").wait(
                    FunctionName=name, WaiterConfig={"Delay": 0.05}
                )
            body = json.dumps({"hold": args.hold}).encode()
            stream_path = "/2021-11-15/functions/streaming/response-streaming-invocations"
            invoke_path = "/2015-03-31/functions/buffered/invocations"
            url = lam.create_function_url_config(
                FunctionName="streaming", AuthType="NONE", InvokeMode="RESPONSE_STREAM"
            )["FunctionUrl"]
            for statement, extra in (
                ("url", {"Action": "lambda:InvokeFunctionUrl", "FunctionUrlAuthType": "NONE"}),
                ("via-url", {"Action": "lambda:InvokeFunction", "InvokedViaFunctionUrl": True}),
            ):
                lam.add_permission(
                    FunctionName="streaming", StatementId=statement, Principal="*", **extra
                )
            url_host = url.split("/")[2]
            url_target = f"/?hold={args.hold}"
            conn = Connection(port)
            log("warming up...")
            for _ in range(20):
                streamed_round(conn, stream_path, body)
                buffered_round(conn, invoke_path, body)
            log(f"streamed, raw HTTP x{args.rounds}...")
            rounds = [streamed_round(conn, stream_path, body) for _ in range(args.rounds)]
            log(f"Function URL (RESPONSE_STREAM), raw HTTP x{args.rounds}...")
            for _ in range(20):
                url_round(conn, url_host, url_target)
            url_rounds = [url_round(conn, url_host, url_target) for _ in range(args.rounds)]
            log(f"buffered invoke, raw HTTP x{args.rounds}...")
            buffered = [buffered_round(conn, invoke_path, body) for _ in range(args.rounds)]
            log(f"streamed, boto3 x{args.rounds // 3}...")
            boto_first = []
            for _ in range(args.rounds // 3):
                started = time.perf_counter()
                out = lam.invoke_with_response_stream(FunctionName="streaming", Payload=body)
                events = iter(out["EventStream"])
                next(events)
                boto_first.append(time.perf_counter() - started)
                for _event in events:
                    pass
                out["EventStream"].close()
        finally:
            process.terminate()
            process.wait(20)

    results: dict[str, Any] = {
        "stream_head_raw": stats([r[0] for r in rounds]),
        "stream_first_chunk_raw": stats([r[1] for r in rounds]),
        "stream_complete_raw": stats([r[2] for r in rounds]),
        "stream_first_event_boto3": stats(boto_first),
        "url_head_raw": stats([r[0] for r in url_rounds]),
        "url_first_chunk_raw": stats([r[1] for r in url_rounds]),
        "url_complete_raw": stats([r[2] for r in url_rounds]),
        "buffered_invoke_raw": stats(buffered),
        "hold_ms": args.hold,
    }
    ttfb = results["stream_first_chunk_raw"]["p50_ms"]
    results["targets"] = {
        "ttfb_p50_ms (target < 5)": ttfb,
        "url_ttfb_p50_ms (target < 5)": results["url_first_chunk_raw"]["p50_ms"],
    }
    results["sandbox"] = args.sandbox or "default"
    print(f"{'measurement':30s} {'p50 ms':>9s} {'p99 ms':>9s} {'min ms':>9s}")
    for key, value in results.items():
        if isinstance(value, dict) and "p50_ms" in value:
            print(f"{key:30s} {value['p50_ms']:9.3f} {value['p99_ms']:9.3f} {value['min_ms']:9.3f}")
    print(f"(the function waits {args.hold} ms between its two writes)")
    for key, value in results["targets"].items():
        print(f"{key:40s} {value:10.3f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
