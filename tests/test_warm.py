"""Warm starts: spare sandboxes made ahead of demand, each handed to exactly one environment."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import urllib.request
from collections.abc import Callable
from typing import Any

from fireside.sandbox.warm import WarmPool
from tests.conftest import (
    ROLE,
    FunctionFactory,
    Server,
    curl_bootstrap,
    make_zip,
    python_zip,
    unavailable,
)

PROBE = """
import os, sys
BLOCK = []
def handler(event, context):
    if event.get("allocate_mb"):
        BLOCK.append(bytearray(event["allocate_mb"] * 1024 * 1024))
    before = sorted(os.listdir("/tmp"))
    with open(f"/tmp/{context.aws_request_id}", "w") as mark:
        mark.write("x")
    return {
        "cwd": os.getcwd(),
        "task": sorted(os.listdir(os.environ["LAMBDA_TASK_ROOT"])),
        "mine": os.environ.get("MINE"),
        "memory": os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"],
        "hash_randomization": sys.flags.hash_randomization,
        "warm_fd": os.environ.get("FIRESIDE_WARM_FD"),
        "tmp_before": before,
        "stdin": sys.stdin.read(),
    }
"""


def health(srv: Server) -> dict[str, Any]:
    with urllib.request.urlopen(f"{srv.endpoint}/_fireside/health") as response:
        result: dict[str, Any] = json.loads(response.read())
    return result


def warm_enabled(srv: Server) -> bool:
    return "warm spare" in health(srv)["sandbox_detail"]


def wait_for_spare(srv: Server, timeout: float = 10) -> None:
    """Until every kind of environment started so far has a spare ready."""
    deadline = time.monotonic() + timeout
    while (warm := health(srv)["warm"])["kinds_ready"] < warm["kinds"]:
        assert time.monotonic() < deadline, "no spare was made"
        time.sleep(0.05)


def invoke(lam: Any, name: str, event: dict[str, Any] | None = None) -> dict[str, Any]:
    out = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}))
    body: dict[str, Any] = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    return body


def new_environment(lam: Any, name: str, n: int) -> None:
    """Retire the function's environments, so its next invoke is a cold start."""
    lam.update_function_configuration(FunctionName=name, Description=f"round {n}")
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.05})


def test_pool_hands_out_each_spare_once_and_refills() -> None:
    made: list[int] = []
    discarded: list[int] = []

    async def make(key: str) -> int:
        made.append(len(made))
        return made[-1]

    async def discard(spare: int) -> None:
        discarded.append(spare)

    async def scenario() -> None:
        pool: WarmPool[str, int] = WarmPool(
            make, discard, lambda s: s != 1, spares=1, refill_delay=0, max_keys=1
        )
        assert pool.take("a") is None  # first demand: a miss, and the key is learnt
        await asyncio.sleep(0.01)
        assert pool.take("a") == 0
        await asyncio.sleep(0.01)
        assert pool.take("a") is None  # spare 1 died while waiting: discarded, not handed out
        await asyncio.sleep(0.01)
        assert pool.take("b") is None  # a second key evicts the first (max_keys=1)
        await asyncio.sleep(0.01)
        await pool.close()
        assert pool.stats() == {"spares": 0, "kinds": 0, "kinds_ready": 0, "hits": 1, "misses": 3}

    asyncio.run(scenario())
    assert made == [0, 1, 2, 3]
    assert sorted(discarded) == [1, 2, 3]  # dead, evicted with its key, left at close


def test_warm_start_runs_the_function_as_its_own(
    server: Server, lam: Any, make_function: FunctionFactory
) -> None:
    if not warm_enabled(server):
        unavailable("namespace", "this backend or host has no warm starts")
    name = make_function(PROBE, MemorySize=512, Environment={"Variables": {"MINE": "yes"}})
    invoke(lam, name)
    wait_for_spare(server)
    hits = health(server)["warm"]["hits"]
    new_environment(lam, name, 1)
    # 300 MB: over the spare's own limit (128 MB), within this function's MemorySize.
    body = invoke(lam, name, {"allocate_mb": 300})
    assert health(server)["warm"]["hits"] == hits + 1
    assert body["cwd"] == "/var/task"
    assert body["task"] == ["app.py"]
    assert body["mine"] == "yes"
    assert body["memory"] == "512"
    assert body["warm_fd"] is None  # the spare's own variables are gone
    assert body["tmp_before"] == []
    assert body["stdin"] == ""  # stdin is /dev/null again, as on a cold start
    assert body["hash_randomization"] == 1


SHELL_BOOTSTRAP = curl_bootstrap(
    'BODY="{\\"mine\\": \\"$MINE\\", \\"cwd\\": \\"$(pwd)\\", '
    '\\"warm\\": \\"${FIRESIDE_WARM_FD:-}\\"}"'
)


def test_custom_runtime_starts_from_a_spare(server: Server, lam: Any) -> None:
    if not warm_enabled(server):
        unavailable("namespace", "this backend or host has no warm starts")
    lam.create_function(
        FunctionName="warm-shell", Runtime="provided.al2023", Handler="unused", Role=ROLE,
        Code={"ZipFile": make_zip({"bootstrap": SHELL_BOOTSTRAP}, {"bootstrap": 0o755})},
        Environment={"Variables": {"MINE": "shell"}},
    )  # fmt: skip
    try:
        lam.get_waiter("function_active_v2").wait(FunctionName="warm-shell")
        expected = {"mine": "shell", "cwd": "/var/task", "warm": ""}
        assert invoke(lam, "warm-shell") == expected
        wait_for_spare(server)
        hits = health(server)["warm"]["hits"]
        new_environment(lam, "warm-shell", 1)
        assert invoke(lam, "warm-shell") == expected
        assert health(server)["warm"]["hits"] == hits + 1
    finally:
        lam.delete_function(FunctionName="warm-shell")


def test_spare_code_mount_is_read_only(
    server: Server, lam: Any, make_function: FunctionFactory
) -> None:
    if not warm_enabled(server):
        unavailable("namespace", "this backend or host has no warm starts")
    source = (
        "import os\ndef handler(e, c):\n    try:\n        open('/var/task/new', 'w')\n"
        "    except OSError as exc:\n        return exc.strerror\n    return 'written'\n"
    )
    name = make_function(source)
    invoke_raw = lam.invoke(FunctionName=name)["Payload"].read()
    wait_for_spare(server)
    new_environment(lam, name, 1)
    assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "Read-only file system"
    assert json.loads(invoke_raw) == "Read-only file system"


def test_start_up_variables_are_honoured(
    server: Server, lam: Any, make_function: FunctionFactory
) -> None:
    if not warm_enabled(server):
        unavailable("namespace", "this backend or host has no warm starts")
    name = make_function(PROBE, Environment={"Variables": {"PYTHONHASHSEED": "0"}})
    for n in range(3):  # cold, then from a spare started with PYTHONHASHSEED=0
        assert invoke(lam, name)["hash_randomization"] == 0
        wait_for_spare(server)
        new_environment(lam, name, n)


def test_no_state_passes_between_functions(
    server: Server, lam: Any, make_function: FunctionFactory
) -> None:
    first, second = make_function(PROBE), make_function(PROBE)
    invoke(lam, first)
    if warm_enabled(server):
        wait_for_spare(server)
    assert invoke(lam, second)["tmp_before"] == []


def descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def sandbox_mounts(pid: int) -> bytes:
    """The mount table of `pid` if it lives in a mount namespace other than ours (a sandbox:
    a spare's shows its slot, bound at /var/task), else nothing."""
    try:
        if os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt"):
            return b""
        with open(f"/proc/{pid}/mountinfo", "rb") as raw:
            return raw.read()
    except OSError:
        return b""


def alive(pid: int) -> bool:
    """Running, not a zombie left for an init that may reap late."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_shutdown_removes_spares_and_their_mounts(fresh_server: Callable[..., Server]) -> None:
    srv = fresh_server()
    if not warm_enabled(srv):
        unavailable("namespace", "this backend or host has no warm starts")
    lam = srv.client()
    lam.create_function(
        FunctionName="f", Runtime="python3.11", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": python_zip(PROBE)},
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName="f", WaiterConfig={"Delay": 0.05})
    invoke(lam, "f")
    wait_for_spare(srv)
    assert srv.process is not None
    spares = {pid for pid in descendants(srv.process.pid) if b"/warm-" in sandbox_mounts(pid)}
    assert spares
    with open("/proc/self/mountinfo") as table:
        mounted = {line.split()[4] for line in table if "/slots/warm-" in line}
    slots = {
        point
        for point in mounted
        for pid in spares
        if f"/{os.path.basename(point)} /var/task ".encode() in sandbox_mounts(pid)
    }
    assert slots
    assert srv.stop(signal.SIGTERM) == 0
    assert not [pid for pid in spares if alive(pid)], spares
    with open("/proc/self/mountinfo") as table:
        assert not slots & {line.split()[4] for line in table}
