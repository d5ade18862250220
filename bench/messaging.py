"""Benchmark: SQS, SNS->SQS and EventBridge->SQS on Fireside beside moto and LocalStack.

Starts Fireside (its own temporary data dir), `moto_server` (`.bench-venvs/moto`, as
`bench/tables.py` installs it) and LocalStack without Docker (`bench/localstack.py`), and
measures each cell on the three servers back to back in one run, so the ratios mean something
on a shared machine:

- `send`: SendMessage of a 100-byte body;
- `send+receive+delete`: one loop is a SendMessage, a ReceiveMessage (`MaxNumberOfMessages` 1,
  no wait; asked again while it finds nothing) and a DeleteMessage of what it got: one message;
- each with 1 and 16 clients, on a queue that starts empty and on one pre-filled with 10,000
  messages (the same queue for the 10k send and loop cells: it only grows). Filling has a time
  budget (`--budget`, 20 s): moto's send cost grows with the queue's length (it recomputes the
  queue's attributes by scanning every message), so it gets as far as it can, a shorter queue
  than the others, which favours moto; the report says how far;
- `SNS->SQS`: Publish to a topic with one SQS subscription, from the Publish being issued to a
  waiting receiver's ReceiveMessage (`WaitTimeSeconds` 20) being answered;
- `PutEvents->SQS`: the same for a PutEvents matched by a rule whose target is the queue (the
  queue's policy allows `events.amazonaws.com` for that rule, as AWS requires);
- `long poll`: a receiver waiting (`WaitTimeSeconds` 20); from the SendMessage's answer to the
  receive's answer (and, informative, from the send being issued).

A cell a server does not serve (Fireside's health does not list `sns`, say) reports "not
served". Clients are keep-alive raw HTTP/1.1 connections on one uvloop event loop (asyncio Protocols,
not streams), each with one request in flight, sending json (SQS, EventBridge) or query (SNS) bodies built once, with a
well-formed SigV4 `Authorization` header whose signature no server checks (Fireside verifies
signatures only when credentials are configured; moto and LocalStack never do): the client
costs a few tens of microseconds a request, so the numbers are the servers'. Every throughput
cell runs `--rounds` times on each server back to back, interleaved with the other cells, and
the round with the median throughput is reported (the machine is shared: a burst of other work
then hits every server alike). Beside each throughput, the server process's CPU time per
message (from /proc).

Targets (issue 14), with every send durable (fsync'd) before its answer on Fireside: at least
10x moto's and 3x LocalStack's messages/s in every SQS cell; SNS->SQS and PutEvents->SQS p50
under LocalStack's (4.6 / 4.9 ms when measured with boto3); a long-polling receiver answered
within 5 ms of the send's answer.
Prints a table with the ratios and writes JSON (default bench/results/messaging.json).
Usage: python bench/messaging.py [--quick] [--seconds 1.5] [--rounds 3] [--prefill 10000]
                                 [--budget 20] [--samples 50] [--no-moto] [--no-localstack]
                                 [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import boto3
import uvloop
from botocore.config import Config
from common import ROOT, log, start_server
from localstack import start_localstack, stop
from tables import moto_server

BODY = "m" * 100
CLIENTS = (1, 16)
TARGET_MOTO, TARGET_LOCALSTACK = 10.0, 3.0
LATENCY_TARGETS = {"SNS->SQS": 4.6, "PutEvents->SQS": 4.9}  # LocalStack's p50, ms (peers.md)
LONG_POLL_TARGET = 5.0  # ms
_DATE = "20261207T000000Z"


def _auth(scope: str) -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential=AKIDBENCH/{_DATE[:8]}/us-east-1/{scope}/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}"
    )


@dataclass
class Server:
    name: str
    port: int
    pid: int
    services: set[str]
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = boto3.client(
                service, endpoint_url=f"http://127.0.0.1:{self.port}", region_name="us-east-1",
                aws_access_key_id="AKIDBENCH", aws_secret_access_key="bench",
                config=Config(retries={"max_attempts": 1}, read_timeout=60),
            )  # fmt: skip
        return self.clients[service]

    def cpu(self) -> float:
        """CPU seconds the server process (with its reaped children) used so far."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")


class _Answers(asyncio.Protocol):
    """The reading end of a `Conn`: buffers what arrives, hands each whole answer to the
    waiting call (a Protocol, not streams: a few microseconds a request, not tens)."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes, bool]] | None = None
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._hand_over()

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        self._hand_over()
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("the server closed the connection"))

    def _hand_over(self) -> None:
        if self.waiter is None or self.waiter.done():
            return
        answer = _answer(self.buffer, self.eof)
        if answer is not None:
            self.waiter.set_result(answer)


def _answer(buffer: bytearray, eof: bool) -> tuple[int, bytes, bool] | None:
    """(status, body, whether the server closes the connection after it) of the whole answer
    at the start of `buffer` (removed from it), or None while it is incomplete."""
    end = buffer.find(b"\r\n\r\n")
    if end < 0:
        return None
    head = bytes(buffer[:end]).lower()
    status = int(head.split(b" ", 2)[1])
    close = b"\r\nconnection: close" in head  # moto's server says so, then may wait
    start = end + 4
    at = head.find(b"\r\ncontent-length:")
    if at >= 0:
        line_end = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : line_end if line_end >= 0 else len(head)])
        if len(buffer) < start + length:
            return None
        body = bytes(buffer[start : start + length])
        del buffer[: start + length]
        return status, body, close
    if b"\r\ntransfer-encoding: chunked" in head:
        body, at = b"", start
        while (line := buffer.find(b"\r\n", at)) >= 0:
            size = int(bytes(buffer[at:line]).split(b";")[0], 16)
            if len(buffer) < line + 2 + size + 2:
                return None
            if size == 0:
                del buffer[: line + 4]
                return status, body, close
            body += bytes(buffer[line + 2 : line + 2 + size])
            at = line + 2 + size + 2
        return None
    if not eof:  # delimited by the end of the connection
        return None
    body = bytes(buffer[start:])
    buffer.clear()
    return status, body, True


class Conn:
    """One keep-alive HTTP/1.1 connection with one request in flight at a time."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._transport: asyncio.Transport | None = None
        self._answers: _Answers | None = None

    def head(self, scope: str, content_type: str, target: str | None = None) -> bytes:
        """A request head up to (not including) Content-Length."""
        return (
            f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nContent-Type: {content_type}\r\n"
            + (f"X-Amz-Target: {target}\r\n" if target else "")
            + f"X-Amz-Date: {_DATE}\r\nAuthorization: {_auth(scope)}\r\n"
        ).encode()

    async def call(self, head: bytes, body: bytes) -> bytes:
        loop = asyncio.get_running_loop()
        if self._transport is None or self._transport.is_closing():
            self._transport, self._answers = await loop.create_connection(
                _Answers, "127.0.0.1", self.port
            )
        assert self._answers is not None
        waiter = self._answers.waiter = loop.create_future()
        self._transport.write(head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self._answers._hand_over()  # an answer may be complete already (a closing server's)
        status, answer, close = await asyncio.wait_for(waiter, 120)  # never hang the run
        if close or self._answers.eof:
            self.close()
        if status != 200:
            raise RuntimeError(f"answered {status}: {answer[:300]!r}")
        return bytes(answer)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
        self._transport = self._answers = None


class Sqs:
    """Raw SQS json requests for one queue on one connection."""

    def __init__(self, conn: Conn, url: str) -> None:
        self.conn, self.url = conn, url
        self._heads = {
            op: conn.head("sqs", "application/x-amz-json-1.0", f"AmazonSQS.{op}")
            for op in ("SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage")
        }
        self._send = json.dumps({"QueueUrl": url, "MessageBody": BODY}).encode()
        self._receive = json.dumps({"QueueUrl": url, "MaxNumberOfMessages": 1}).encode()

    async def send(self, body: bytes | None = None) -> bytes:
        return await self.conn.call(self._heads["SendMessage"], body or self._send)

    async def send_batch(self, first: int) -> None:
        entries = [{"Id": str(i), "MessageBody": f"{first + i:06d}{BODY}"} for i in range(10)]
        body = json.dumps({"QueueUrl": self.url, "Entries": entries}).encode()
        await self.conn.call(self._heads["SendMessageBatch"], body)

    async def receive(self, wait: int = 0) -> list[dict[str, Any]]:
        body = self._receive
        if wait:
            body = json.dumps({"QueueUrl": self.url, "WaitTimeSeconds": wait}).encode()
        messages: list[dict[str, Any]] = json.loads(
            await self.conn.call(self._heads["ReceiveMessage"], body)
        ).get("Messages", [])
        return messages

    async def delete(self, handle: str) -> None:
        body = json.dumps({"QueueUrl": self.url, "ReceiptHandle": handle}).encode()
        await self.conn.call(self._heads["DeleteMessage"], body)


# -- throughput cells -----------------------------------------------------------------------


async def load(
    server: Server, url: str, clients: int, seconds: float, loop_body: str
) -> dict[str, float]:
    """`clients` connections running `loop_body` ("send" or "srd") for `seconds`."""
    latencies: list[float] = []

    async def one() -> None:
        sqs = Sqs(Conn(server.port), url)
        await sqs.send()  # the connection is open before the clock starts
        await ready.wait()
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            await sqs.send()
            if loop_body == "srd":
                while not (got := await sqs.receive()):
                    pass
                await sqs.delete(got[0]["ReceiptHandle"])
            latencies.append(time.perf_counter() - started)
        sqs.conn.close()

    ready = asyncio.Event()
    tasks = [asyncio.create_task(one()) for _ in range(clients)]
    await asyncio.sleep(0.2)
    cpu = server.cpu()
    started = time.perf_counter()
    stop_at = started + seconds
    ready.set()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    ordered = sorted(latencies)
    count = max(len(ordered), 1)
    return {
        "messages": len(ordered),
        "messages_per_s": len(ordered) / elapsed,
        "p50_ms": ordered[len(ordered) // 2] * 1000 if ordered else float("nan"),
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
        if ordered
        else float("nan"),
        "server_cpu_us_per_message": (server.cpu() - cpu) / count * 1e6,
    }


async def prefill(server: Server, url: str, count: int, budget: float) -> tuple[int, float]:
    """Fill `url` with `count` messages (batches of 10, 8 clients), or as many as `budget`
    seconds allow (moto's send cost grows with the queue: filling 10,000 takes it minutes);
    how many were queued, and the seconds it took."""
    started = time.perf_counter()
    batches = iter(range(0, count, 10))
    queued = 0

    async def one() -> None:
        nonlocal queued
        sqs = Sqs(Conn(server.port), url)
        for first in batches:
            await sqs.send_batch(first)
            queued += 10
            if time.perf_counter() - started > budget:
                break
        sqs.conn.close()

    await asyncio.gather(*(one() for _ in range(8)))
    return queued, time.perf_counter() - started


def new_queue(server: Server, name: str, attributes: dict[str, str] | None = None) -> str:
    url: str = server.client("sqs").create_queue(QueueName=name, Attributes=attributes or {})[
        "QueueUrl"
    ]
    return url


# -- latency cells --------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


async def delivery_latency(
    server: Server, url: str, samples: int, trigger: Callable[[int], Awaitable[object]]
) -> dict[str, float]:
    """From `trigger(i)` being issued to a waiting receiver's answer, `samples` times; and
    from `trigger`'s answer to the receiver's."""
    receiver = Sqs(Conn(server.port), url)
    issued_to_received: list[float] = []
    answered_to_received: list[float] = []
    await receiver.receive()  # open the connection
    for i in range(samples):
        waiting = asyncio.create_task(receiver.receive(wait=20))
        await asyncio.sleep(0.01)  # the receive is in and waiting
        issued = time.perf_counter()
        await trigger(i)
        answered = time.perf_counter()
        messages = await waiting
        received = time.perf_counter()
        if not messages:
            raise RuntimeError(f"{server.name}: the waiting receiver got nothing")
        issued_to_received.append(received - issued)
        answered_to_received.append(received - answered)
        for message in messages:
            await receiver.delete(message["ReceiptHandle"])
    receiver.conn.close()
    return {
        "samples": samples,
        "p50_ms": percentile(issued_to_received, 0.5) * 1000,
        "p99_ms": percentile(issued_to_received, 0.99) * 1000,
        "after_answer_p50_ms": percentile(answered_to_received, 0.5) * 1000,
        "after_answer_p99_ms": percentile(answered_to_received, 0.99) * 1000,
    }


def allow(server: Server, url: str, service: str, source_arn: str) -> None:
    arn = server.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow", "Principal": {"Service": service}, "Action": "sqs:SendMessage",
            "Resource": arn, "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
        }],
    }  # fmt: skip
    server.client("sqs").set_queue_attributes(
        QueueUrl=url, Attributes={"Policy": json.dumps(policy)}
    )


async def long_poll(server: Server, samples: int) -> dict[str, float]:
    url = new_queue(server, "long-poll")
    sender = Sqs(Conn(server.port), url)
    result = await delivery_latency(server, url, samples, lambda i: sender.send())
    sender.conn.close()
    return result


async def sns_fan_out(server: Server, samples: int) -> dict[str, float]:
    url = new_queue(server, "fan-out")
    sns = server.client("sns")
    topic = sns.create_topic(Name="fan-out")["TopicArn"]
    allow(server, url, "sns.amazonaws.com", topic)
    queue_arn = server.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
    conn = Conn(server.port)
    head = conn.head("sns", "application/x-www-form-urlencoded; charset=utf-8")

    async def publish(i: int) -> None:
        body = {"Action": "Publish", "Version": "2010-03-31", "TopicArn": topic, "Message": BODY}
        await conn.call(head, urlencode(body).encode())

    result = await delivery_latency(server, url, samples, publish)
    conn.close()
    return result


async def put_events(server: Server, samples: int) -> dict[str, float]:
    url = new_queue(server, "events")
    events = server.client("events")
    rule = events.put_rule(Name="to-queue", EventPattern='{"source": ["bench"]}')["RuleArn"]
    allow(server, url, "events.amazonaws.com", rule)
    queue_arn = server.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    events.put_targets(Rule="to-queue", Targets=[{"Id": "queue", "Arn": queue_arn}])
    conn = Conn(server.port)
    head = conn.head("events", "application/x-amz-json-1.1", "AWSEvents.PutEvents")

    async def put(i: int) -> None:
        entry = {"Source": "bench", "DetailType": "bench", "Detail": json.dumps({"i": i})}
        answer = json.loads(await conn.call(head, json.dumps({"Entries": [entry]}).encode()))
        if answer.get("FailedEntryCount"):
            raise RuntimeError(f"{server.name}: PutEvents failed: {answer}")

    result = await delivery_latency(server, url, samples, put)
    conn.close()
    return result


LATENCY_CELLS: dict[str, tuple[str, Callable[[Server, int], Awaitable[dict[str, float]]]]] = {
    "SNS->SQS": ("sns", sns_fan_out),
    "PutEvents->SQS": ("events", put_events),
    "long poll": ("sqs", long_poll),
}


# -- servers --------------------------------------------------------------------------------


def fireside_services(port: int) -> set[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_fireside/health", timeout=10) as r:
        return set(json.load(r)["services"])


def _terminate(process: subprocess.Popen[Any]) -> None:
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(20)


@contextlib.contextmanager
def servers(args: argparse.Namespace, workdir: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    stops: list[Callable[[], None]] = []
    try:
        process, port = start_server(str(workdir / "fireside"))
        stops.append(lambda: _terminate(process))
        started.append(Server("fireside", port, process.pid, fireside_services(port)))
        if not args.no_moto:
            moto, port = moto_server()
            stops.append(lambda: _terminate(moto))
            started.append(Server("moto", port, moto.pid, {"sqs", "sns", "events"}))
        if not args.no_localstack:
            (workdir / "localstack").mkdir()
            localstack, port = start_localstack(workdir / "localstack", "sqs,sns,events")
            stops.append(lambda: stop(localstack))
            started.append(Server("localstack", port, localstack.pid, {"sqs", "sns", "events"}))
        yield started
    finally:
        for stopping in stops:
            stopping()


# -- report ---------------------------------------------------------------------------------


def report(results: dict[str, Any]) -> None:
    names = results["servers"]
    peers = [n for n in names if n != "fireside"]
    header = f"{'cell':<40}" + "".join(f"{n + ' msg/s':>18} {'p50/p99 ms':<13}" for n in names)
    header += "".join(f"{'vs ' + p:>14}" for p in peers)
    print(header)
    targets = {"moto": TARGET_MOTO, "localstack": TARGET_LOCALSTACK}
    for cell, row in results["sqs"].items():
        line = f"{cell:<40}"
        for name in names:
            r = row[name]
            latency = f"{r['p50_ms']:.2f}/{r['p99_ms']:.1f}"
            line += f"{r['messages_per_s']:>18,.0f} {latency:<13}"
        for peer in peers:
            ratio = row["fireside"]["messages_per_s"] / max(row[peer]["messages_per_s"], 1e-9)
            mark = " " if ratio >= targets[peer] else "!"
            line += f"{ratio:>12.1f}x{mark}"
        print(line)
    print(f"\n{'latency (p50 / p99 ms)':<40}" + "".join(f"{n:>22}" for n in names))
    for cell, row in results["latency"].items():
        line = f"{cell:<40}"
        for name in names:
            r = row[name]
            line += (
                f"{'not served':>22}" if r is None else f"{r['p50_ms']:>11.2f} /{r['p99_ms']:>8.2f}"
            )
        print(line)
        if cell == "long poll":
            line = f"{'  (from the send answered)':<40}"
            for name in names:
                r = row[name]
                line += (
                    f"{'not served':>22}"
                    if r is None
                    else f"{r['after_answer_p50_ms']:>11.2f} /{r['after_answer_p99_ms']:>8.2f}"
                )
            print(line)
    wanted = results["settings"]["prefill"]
    short = {n: p["messages"] for n, p in results["prefilled"].items() if p["messages"] < wanted}
    if short:
        print(
            f"\nthe pre-filled queue held fewer than {wanted:,} messages on {short} (time budget)"
        )
    print("! below target (10x moto, 3x LocalStack in msg/s); server CPU per message in JSON")


async def run(args: argparse.Namespace, started: list[Server]) -> dict[str, Any]:
    results: dict[str, Any] = {"servers": [s.name for s in started], "sqs": {}, "latency": {}}
    results["settings"] = {
        "seconds": args.seconds, "rounds": args.rounds, "prefill": args.prefill,
        "samples": args.samples,
        "body_bytes": len(BODY), "clients": list(CLIENTS),
    }  # fmt: skip
    full: dict[str, str] = {}
    results["prefilled"] = {}
    for server in started:
        full[server.name] = new_queue(server, "prefilled")
        queued, took = await prefill(server, full[server.name], args.prefill, args.budget)
        results["prefilled"][server.name] = {"messages": queued, "seconds": took}
        log(f"{server.name}: {queued:,} messages queued in {took:.1f} s")
    cells = [
        (f"{label}, {clients} client{'s' * (clients > 1)}, {depth}", loop_body, clients, depth)
        for depth in ("empty", f"{args.prefill:,}")
        for loop_body, label in (("send", "send"), ("srd", "send+receive+delete"))
        for clients in CLIENTS
    ]
    rounds: dict[str, dict[str, list[dict[str, float]]]] = {c[0]: {} for c in cells}
    for number in range(args.rounds):
        for cell, loop_body, clients, depth in cells:
            for server in started:  # back to back: a burst of other work hits them alike
                url = (
                    new_queue(server, f"{loop_body}-{clients}-{number}")
                    if depth == "empty"
                    else full[server.name]
                )
                row = await load(server, url, clients, args.seconds, loop_body)
                rounds[cell].setdefault(server.name, []).append(row)
                log(f"round {number + 1}, {cell}: {server.name} {row['messages_per_s']:,.0f}/s")
    for cell, by_server in rounds.items():
        results["sqs"][cell] = {}
        for name, rows in by_server.items():
            # The round with the median throughput, and every round's throughput.
            ordered = sorted(rows, key=lambda r: r["messages_per_s"])
            median: dict[str, Any] = dict(ordered[len(ordered) // 2])
            median["rounds_messages_per_s"] = [r["messages_per_s"] for r in rows]
            results["sqs"][cell][name] = median
    for cell, (service, measure) in LATENCY_CELLS.items():
        results["latency"][cell] = {}
        for server in started:
            served = service in server.services
            results["latency"][cell][server.name] = (
                await measure(server, args.samples) if served else None
            )
            log(f"{cell}: {server.name} {'done' if served else 'not served'}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--seconds", type=float, default=1.5, help="per throughput cell")
    parser.add_argument("--rounds", type=int, default=3, help="of every throughput cell")
    parser.add_argument("--prefill", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=50, help="per latency cell")
    parser.add_argument("--budget", type=float, default=20.0, help="seconds to pre-fill")
    parser.add_argument("--no-moto", action="store_true")
    parser.add_argument("--no-localstack", action="store_true")
    parser.add_argument("--json", help="default: bench/results/messaging.json (none with --quick)")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.rounds, args.prefill, args.samples, args.budget = 0.5, 1, 500, 5, 3.0
    with tempfile.TemporaryDirectory() as workdir, servers(args, Path(workdir)) as started:
        results = uvloop.run(run(args, started))
    report(results)
    path = args.json or (None if args.quick else ROOT / "bench" / "results" / "messaging.json")
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
