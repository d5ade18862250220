"""Spare microVM guests (`fireside.sandbox.microvm`): a cold start takes a guest booted ahead of
it, each spare serves one environment only, and a spare killed before or while it is taken is
never handed a function (slow: under TCG here, each guest boots for seconds)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from fireside.sandbox import microvm
from tests.conftest import ROLE, Server, make_zip, python_zip

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        microvm.unavailable_reason() is not None,
        reason=f"no microvm backend here: {microvm.unavailable_reason()}",
    ),
]

#: Which guest (its kernel's boot id), which code, and what /opt holds.
SOURCE = """
import os

def handler(event, context):
    with open("/proc/sys/kernel/random/boot_id") as boot:
        guest = boot.read().strip()
    layer = None
    if os.path.exists("/opt/layer.txt"):
        with open("/opt/layer.txt") as found:
            layer = found.read()
    return {"name": NAME, "guest": guest, "task": sorted(os.listdir("/var/task")),
            "layer": layer, "memory": open("/sys/fs/cgroup/function/memory.max").read().strip()}
"""


@pytest.fixture()
def vm_server(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def make(spares: int = 1) -> Server:
        srv = Server(
            tmp_path / f"data-{len(started)}",
            env={"FIRESIDE_SANDBOX": "microvm", "FIRESIDE_WARM_SPARES": str(spares)},
        ).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        if srv.process is not None and srv.process.poll() is None:
            srv.stop()


def wait_for(condition: Callable[[], Any], timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    return condition()


def deploy(srv: Server, layers: list[str] | None = None) -> str:
    lam = srv.client()
    name = f"spare-{uuid.uuid4().hex[:8]}"
    code = python_zip(f"NAME = {name!r}\n" + SOURCE)
    lam.create_function(
        FunctionName=name, Runtime="python3.11", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": code}, Timeout=60, Layers=layers or [],
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 600}
    )
    return name


def invoke(srv: Server, name: str) -> dict[str, Any]:
    out = srv.client().invoke(FunctionName=name, Payload=b"{}")
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    assert isinstance(body, dict)
    return body


def warm(srv: Server) -> dict[str, int]:
    found: dict[str, int] = srv.health()["warm"]
    return found


def spare_guests(srv: Server) -> dict[int, Path]:
    """QEMU pid -> slot directory of every spare guest of `srv` (taken or not)."""
    assert srv.process is not None
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as raw:
                argv = raw.read().decode(errors="replace").split("\0")
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
        if parent != srv.process.pid or not argv[0].startswith("qemu"):
            continue
        for arg in argv:
            if arg.startswith("local,id=slot,path="):
                found[int(entry)] = Path(arg.split("path=", 1)[1].split(",", 1)[0])
    return found


def untaken(srv: Server) -> list[int]:
    """Spare guests nobody has taken yet (the host writes run.sh into a spare's slot when a
    start takes it)."""
    return [pid for pid, slot in spare_guests(srv).items() if not (slot / "run.sh").exists()]


def test_a_start_takes_a_spare_guest(vm_server: Callable[..., Server]) -> None:
    srv = vm_server()
    first = invoke(srv, deploy(srv))  # no spare yet: it boots a guest, and learns the key
    assert warm(srv)["misses"] == 1 and warm(srv)["hits"] == 0
    assert wait_for(lambda: untaken(srv), 30)

    name = deploy(srv)
    body = invoke(srv, name)
    assert warm(srv)["hits"] == 1, warm(srv)
    # Its own guest, its own code (and nothing of the other function's), its own memory limit.
    assert body["name"] == name and body["task"] == ["app.py"]
    assert body["guest"] != first["guest"]
    assert body["memory"] == str(128 * 2**20)
    assert invoke(srv, name)["guest"] == body["guest"]  # the warm invoke: same environment

    # Layers arrive at /opt the same way; another spare was booted for the next start.
    lam = srv.client()
    layer = lam.publish_layer_version(
        LayerName="spare-layer", Content={"ZipFile": make_zip({"layer.txt": "from a layer"})}
    )["LayerVersionArn"]
    assert wait_for(lambda: untaken(srv), 30)
    with_layer = invoke(srv, deploy(srv, [layer]))
    assert warm(srv)["hits"] == 2, warm(srv)
    assert with_layer["layer"] == "from a layer"
    assert len({first["guest"], body["guest"], with_layer["guest"]}) == 3


def test_a_killed_spare_is_not_handed_out(vm_server: Callable[..., Server]) -> None:
    srv = vm_server()
    invoke(srv, deploy(srv))
    name = deploy(srv)
    spares = wait_for(lambda: untaken(srv), 30)
    assert len(spares) == 1
    os.kill(spares[0], signal.SIGKILL)
    before = warm(srv)
    body = invoke(srv, name)  # at once: its exit may not have reached the server yet
    after = warm(srv)
    assert body["name"] == name
    assert after["hits"] == before["hits"] and after["misses"] == before["misses"] + 1
    assert spares[0] not in spare_guests(srv)
    # A new spare replaces it, and the next start takes that one.
    assert wait_for(lambda: untaken(srv), 30)
    invoke(srv, deploy(srv))
    assert warm(srv)["hits"] == before["hits"] + 1


def test_concurrent_starts_while_spares_are_killed(vm_server: Callable[..., Server]) -> None:
    """Several starts at once; one spare is killed as soon as a start has taken it (its code
    bound, run.sh written, its runtime not yet started): every start succeeds in a guest of its
    own, with its own code, and the pool refills without handing anything twice."""
    srv = vm_server(spares=2)
    invoke(srv, deploy(srv))
    names = [deploy(srv) for _ in range(4)]
    assert wait_for(lambda: len(untaken(srv)) == 2, 60)
    slots = spare_guests(srv)
    stop, killed = threading.Event(), []

    def killer() -> None:
        while not stop.is_set() and not killed:
            for pid, slot in slots.items():
                if (slot / "run.sh").exists():  # taken this instant: kill it mid-take
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    break
            time.sleep(0.001)

    thread = threading.Thread(target=killer)
    thread.start()
    try:
        with ThreadPoolExecutor(len(names)) as pool:
            bodies = list(pool.map(lambda name: invoke(srv, name), names))
    finally:
        stop.set()
        thread.join()
    assert len(killed) == 1
    assert [body["name"] for body in bodies] == names
    assert all(body["task"] == ["app.py"] for body in bodies)
    assert len({body["guest"] for body in bodies}) == len(names)
    stats = warm(srv)
    assert stats["hits"] + stats["misses"] == 1 + len(names)
    # The pool refills to two untaken spares, and a start takes one of them.
    assert wait_for(lambda: len(untaken(srv)) == 2, 60), spare_guests(srv)
    assert killed[0] not in spare_guests(srv)
    hits = warm(srv)["hits"]
    invoke(srv, deploy(srv))
    assert warm(srv)["hits"] == hits + 1
