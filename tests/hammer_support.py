"""A function hammered: many concurrent invokes past the environment cap while a watcher kills
two runtimes (kill -9) mid-load, and the checks of what came back. Every invoke must get exactly
one answer, its own, and no environment may serve two at once.

Used by `test_invoke_hammer.py` (the Python runtime) and `test_pipelined_runtimes_hammer.py`
(Node.js, Ruby and snapshot copies). The hammered function returns its event's `n`, its request
id, an id of its own environment (`env`) and when its handler `started` and `ended`.
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from tests.conftest import Server

KILLS = 2


def runtimes_of(server_pid: int, marker: bytes, copies_only: bool = False) -> list[int]:
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


@dataclass
class Hammered:
    #: (n, kind, result) per invoke: kind "ok" or "error" with (body, request id), else the
    #: error code with botocore's error response.
    answers: list[tuple[int, str, Any]]
    most_environments: int  # the most environments the server reported at once
    killed: int


def hammer(
    srv: Server,
    lam: Any,
    runtimes: Callable[[], list[int]],
    *,
    clients: int,
    rounds: int,
    kill_every: int,
    name: str = "hammer",
    **invoke: Any,
) -> Hammered:
    """Invoke `name` `rounds` times from each of `clients` threads (event `n` = client * 1000 +
    round, with `invoke`'s extra arguments), killing the first of `runtimes()` each time
    another `kill_every` answers are in, up to two kills."""
    answers: list[tuple[int, str, Any]] = []
    lock = threading.Lock()
    most_environments = killed = 0

    def client(c: int) -> None:
        for r in range(rounds):
            n = c * 1000 + r
            payload = json.dumps({"n": n, "sleep": 0.03})
            try:
                out = lam.invoke(FunctionName=name, Payload=payload, **invoke)
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
            found = runtimes()
            if killed < KILLS and len(found) >= 2 and len(answers) > kill_every * (killed + 1):
                os.kill(found[0], signal.SIGKILL)
                killed += 1
            stop.wait(0.02)

    stop = threading.Event()
    watcher = threading.Thread(target=killer, args=(stop,))
    watcher.start()
    try:
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(client, range(clients)))
    finally:
        stop.set()
        watcher.join(30)
    return Hammered(answers, most_environments, killed)


def check_hammer(
    hammered: Hammered, *, clients: int, rounds: int, cap: int, label: str = ""
) -> None:
    """Two runtimes were killed, every invoke was answered exactly once with its own answer (or
    the killed runtime's exit error, or a 429), and no environment served two invokes at once
    nor were there ever more than `cap`."""
    answers = hammered.answers
    assert hammered.killed == KILLS
    # Every invoke answered exactly once.
    assert sorted(n for n, _, _ in answers) == sorted(
        c * 1000 + r for c in range(clients) for r in range(rounds)
    )
    kinds = Counter(kind for _, kind, _ in answers)
    print(label, kinds, f"{hammered.most_environments} environments at most")
    assert set(kinds) <= {"ok", "error", "TooManyRequestsException"}, kinds
    assert kinds["ok"] >= clients * rounds // 4, kinds
    assert kinds["error"] <= KILLS, kinds  # only the invokes whose runtime was killed
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
    assert 0 < hammered.most_environments <= cap
    assert len(served) <= cap + KILLS  # replacements of the killed ones


def serves_afterwards(lam: Any, name: str = "hammer", **invoke: Any) -> None:
    """The function still answers (within 10 s: the killed runtimes' replacements may still be
    starting)."""
    deadline = time.monotonic() + 10
    while True:
        out = lam.invoke(FunctionName=name, Payload=json.dumps({"n": -1, "sleep": 0}), **invoke)
        if "FunctionError" not in out:
            assert json.loads(out["Payload"].read())["n"] == -1
            break
        assert time.monotonic() < deadline
