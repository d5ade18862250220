"""The invoke path under load: many concurrent invokes past the environment cap, runtimes
killed (kill -9) mid-invoke. The Python runtime pipelines `/next` behind each result and the
Runtime API holds its answer for the next event (`HttpServer(coalesce=True)`): every invoke
must still get exactly one answer, its own, and no environment may serve two at once.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from tests.conftest import ROLE, make_zip

CAP = 6
CLIENTS = 16
ROUNDS = 12
HANDLER = """
import os, time
ENVIRONMENT = os.urandom(8).hex()  # per process (pids repeat across pid namespaces)
def handler(event, context):
    started = time.time()
    time.sleep(event["sleep"])
    return {"n": event["n"], "id": context.aws_request_id, "env": ENVIRONMENT,
            "started": started, "ended": time.time()}
"""


def runtimes_of(server_pid: int) -> list[int]:
    """The Python runtime processes under the server (its descendants running bootstrap.py)."""
    found, todo = [], [server_pid]
    while todo:
        pid = todo.pop()
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            todo.append(child)
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"bootstrap.py" in command and b"bwrap" not in command:
                found.append(child)
    return found


def test_many_invokes_past_the_cap_with_runtimes_killed(fresh_server: Any) -> None:
    srv = fresh_server(FIRESIDE_MAX_ENVIRONMENTS=str(CAP))
    lam = srv.client(max_pool_connections=CLIENTS)
    lam.create_function(
        FunctionName="hammer", Runtime="python3.11", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": make_zip({"app.py": HANDLER})}, Timeout=30,
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName="hammer")
    assert srv.process is not None

    answers: list[tuple[int, str, Any]] = []
    lock = threading.Lock()
    most_environments = killed = 0

    def client(c: int) -> None:
        for r in range(ROUNDS):
            n = c * 1000 + r
            try:
                out = lam.invoke(FunctionName="hammer", Payload=json.dumps({"n": n, "sleep": 0.03}))
                body = json.loads(out["Payload"].read())
                request_id = out["ResponseMetadata"]["RequestId"]
                kind = "error" if "FunctionError" in out else "ok"
                result: Any = (body, request_id)
            except ClientError as exc:
                kind, result = exc.response["Error"]["Code"], exc.response
            with lock:
                answers.append((n, kind, result))

    def killer(stop: threading.Event) -> None:
        """Kill two runtimes mid-load, and watch how many environments exist."""
        nonlocal most_environments, killed
        while not stop.is_set():
            with urllib.request.urlopen(f"{srv.endpoint}/_fireside/health") as response:
                stats = json.loads(response.read())["environments"]
            most_environments = max(most_environments, stats["environments"])
            runtimes = runtimes_of(srv.process.pid)  # type: ignore[union-attr]
            if killed < 2 and len(runtimes) >= 2 and len(answers) > 20 * (killed + 1):
                os.kill(runtimes[0], signal.SIGKILL)
                killed += 1
            stop.wait(0.02)

    stop = threading.Event()
    watcher = threading.Thread(target=killer, args=(stop,))
    watcher.start()
    try:
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(client, range(CLIENTS)))
    finally:
        stop.set()
        watcher.join(30)

    assert killed == 2
    # Every invoke answered exactly once.
    assert sorted(n for n, _, _ in answers) == sorted(
        c * 1000 + r for c in range(CLIENTS) for r in range(ROUNDS)
    )
    kinds = Counter(kind for _, kind, _ in answers)
    print(kinds, f"{most_environments} environments at most")
    assert set(kinds) <= {"ok", "error", "TooManyRequestsException"}, kinds
    assert kinds["ok"] >= CLIENTS * ROUNDS // 4, kinds
    assert kinds["error"] <= 2, kinds  # only the invokes whose runtime was killed
    served: dict[str, list[tuple[float, float]]] = {}
    for n, kind, result in answers:
        if kind == "ok":
            body, request_id = result
            assert body["n"] == n and body["id"] == request_id  # its own answer
            served.setdefault(body["env"], []).append((body["started"], body["ended"]))
        elif kind == "error":
            body, _ = result
            assert body["errorType"] == "Runtime.ExitError", body
        else:
            assert result["ResponseMetadata"]["HTTPStatusCode"] == 429
    # One invoke at a time per environment, and never more environments than the cap.
    for spans in served.values():
        spans.sort()
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    assert 0 < most_environments <= CAP
    assert len(served) <= CAP + 2  # replacements of the two killed ones
    # The function still serves afterwards.
    deadline = time.monotonic() + 10
    while True:
        out = lam.invoke(FunctionName="hammer", Payload=json.dumps({"n": -1, "sleep": 0}))
        if "FunctionError" not in out:
            assert json.loads(out["Payload"].read())["n"] == -1
            break
        assert time.monotonic() < deadline
