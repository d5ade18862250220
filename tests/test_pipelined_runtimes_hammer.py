"""Pipelined `/next` in the Node.js and Ruby runtimes, and snapshot copies that connect to their
Runtime API while parked, under load: many concurrent invokes past the environment cap, runtimes
killed (kill -9) mid-load. Every invoke must get exactly one answer, its own, and no environment
may serve two at once (as `test_invoke_hammer.py` checks for the Python runtime).
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import threading
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, make_zip

CAP = 5
CLIENTS = 12
ROUNDS = 10
NODE = """
const ENVIRONMENT = require('crypto').randomBytes(8).toString('hex'); // per process
exports.handler = async (event, context) => {
  const started = Date.now() / 1000;
  await new Promise((resolve) => setTimeout(resolve, event.sleep * 1000));
  return { n: event.n, id: context.awsRequestId, env: ENVIRONMENT, started, ended: Date.now() / 1000 };
};
"""
RUBY = """
require 'securerandom'
ENVIRONMENT = SecureRandom.hex(8) # per process
def handler(event:, context:)
  started = Time.now.to_f
  sleep(event['sleep'])
  { n: event['n'], id: context.aws_request_id, env: ENVIRONMENT, started: started,
    ended: Time.now.to_f }
end
"""
# Made at the first invoke: a snapshot copy's module state is its template's until then.
PYTHON_SNAP = """
import os, time
ENVIRONMENT = None
def handler(event, context):
    global ENVIRONMENT
    ENVIRONMENT = ENVIRONMENT or os.urandom(8).hex()  # this copy's own
    started = time.time()
    time.sleep(event["sleep"])
    return {"n": event["n"], "id": context.aws_request_id, "env": ENVIRONMENT,
            "started": started, "ended": time.time()}
"""
NODE_SNAP = NODE.replace(
    "const ENVIRONMENT = require('crypto').randomBytes(8).toString('hex'); // per process",
    "let ENVIRONMENT = null;",
).replace(
    "  const started",
    "  ENVIRONMENT = ENVIRONMENT || require('crypto').randomBytes(8).toString('hex');\n"
    "  const started",
)

CASES = {
    "node": ("nodejs20.x", "index.handler", {"index.js": NODE}, b"bootstrap.js", 0),
    "ruby": ("ruby3.2", "app.handler", {"app.rb": RUBY}, b"bootstrap.rb", 0),
    "python-snapshot": ("python3.11", "app.handler", {"app.py": PYTHON_SNAP}, b"bootstrap.py", 1),
    "node-snapshot": ("nodejs20.x", "index.handler", {"index.js": NODE_SNAP}, b"bootstrap.js", 1),
}


def runtimes_of(server_pid: int, marker: bytes, copies_only: bool) -> list[int]:
    """Runtime processes under the server (command lines holding `marker`). With
    `copies_only`, only snapshot copies: two runtime ancestors (their intermediate and their
    template), so that a kill never takes a template with every copy in it."""
    found, todo = [], [(server_pid, 0)]
    while todo:
        pid, depth = todo.pop()
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            runtime = marker in command and b"bwrap" not in command
            todo.append((child, depth + 1 if runtime else 0))
            if runtime and (not copies_only or depth >= 2):
                found.append(child)
    return found


@pytest.mark.parametrize("case", list(CASES))
def test_many_invokes_with_runtimes_killed(fresh_server: Any, case: str) -> None:
    runtime, handler, files, marker, snapshot = CASES[case]
    # The host's Ruby runs ruby3.2 functions whatever its version (Debian 12 ships 3.1).
    ruby = {"FIRESIDE_RUBY_3_2": shutil.which("ruby") or "ruby"} if case == "ruby" else {}
    srv = fresh_server(FIRESIDE_MAX_ENVIRONMENTS=str(CAP), **ruby)
    lam = srv.client(max_pool_connections=CLIENTS)
    extra: dict[str, Any] = {"SnapStart": {"ApplyOn": "PublishedVersions"}} if snapshot else {}
    lam.create_function(
        FunctionName="hammer", Runtime=runtime, Handler=handler, Role=ROLE,
        Code={"ZipFile": make_zip(files)}, Timeout=30, **extra,
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName="hammer")
    qualifier: dict[str, str] = {}
    if snapshot:
        lam.publish_version(FunctionName="hammer")
        qualifier = {"Qualifier": "1"}
    assert srv.process is not None

    answers: list[tuple[int, str, Any]] = []
    lock = threading.Lock()
    most_environments = killed = 0

    def client(c: int) -> None:
        for r in range(ROUNDS):
            n = c * 1000 + r
            payload = json.dumps({"n": n, "sleep": 0.03})
            try:
                out = lam.invoke(FunctionName="hammer", Payload=payload, **qualifier)
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
            runtimes = runtimes_of(srv.process.pid, marker, bool(snapshot))  # type: ignore[union-attr]
            if killed < 2 and len(runtimes) >= 2 and len(answers) > 15 * (killed + 1):
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
    print(case, kinds, f"{most_environments} environments at most")
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
        out = lam.invoke(
            FunctionName="hammer", Payload=json.dumps({"n": -1, "sleep": 0}), **qualifier
        )
        if "FunctionError" not in out:
            assert json.loads(out["Payload"].read())["n"] == -1
            break
        assert time.monotonic() < deadline
