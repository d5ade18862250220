"""Starts from scratch (no warm spare) under the namespace sandbox, hammered.

A start from scratch lets the runtime's interpreter start while Fireside attaches the
sandbox's network and opens its sockets; the runtime then waits for its launch (the function's
environment) on a pipe. These check what that overlap must not change: every environment gets
its own variables, its network is there before any function code runs, many starts at once
each get their own environment, and a server killed in the middle leaves nothing running.
"""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from fireside.sandbox.namespace import unavailable_reason
from tests.conftest import ROLE, Server, python_zip, wait_for
from tests.test_helper_processes import descendants, is_bwrap, kill_survivors, survivors

pytestmark = pytest.mark.skipif(
    unavailable_reason() is not None, reason=f"namespace sandbox: {unavailable_reason()}"
)

#: Records, at Init (module import), what the function's code found: its own variable, the
#: sandbox's network interfaces (slirp4netns adds tap0), and no launch plumbing.
INIT = """import json, os, uuid
WHO = os.environ.get("WHO")
with open("/proc/net/dev") as f:
    NETWORK = sorted(line.split(":")[0].strip() for line in f.readlines()[2:])
PLUMBING = sorted(k for k in os.environ if k.startswith("FIRESIDE_"))
ENVIRONMENT = uuid.uuid4().hex
def handler(event, context):
    return {"who": WHO, "now": os.environ.get("WHO"), "network": NETWORK,
            "plumbing": PLUMBING, "environment": ENVIRONMENT, "cwd": os.getcwd()}
"""


def deploy(lam: Any, names: list[str]) -> None:
    for name in names:
        lam.create_function(
            FunctionName=name, Runtime="python3.11", Handler="app.handler", Role=ROLE,
            Code={"ZipFile": python_zip(INIT)}, Environment={"Variables": {"WHO": name}},
            MemorySize=256, Timeout=30,
        )  # fmt: skip
    for name in names:
        lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})


def invoke(lam: Any, name: str) -> dict[str, Any]:
    out = lam.invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in out, out["Payload"].read()
    result: dict[str, Any] = json.loads(out["Payload"].read())
    return result


def test_many_starts_from_scratch_at_once(fresh_server: Callable[..., Server]) -> None:
    srv = fresh_server(FIRESIDE_WARM_SPARES="0")
    lam = srv.client(max_pool_connections=32)
    names = [f"scratch-{i}" for i in range(8)]
    deploy(lam, names)
    seen: set[str] = set()
    for round_ in range(3):
        for name in names:  # a new configuration: the next invoke starts a new environment
            lam.update_function_configuration(FunctionName=name, Description=f"r{round_}")
        for name in names:
            lam.get_waiter("function_updated_v2").wait(
                FunctionName=name, WaiterConfig={"Delay": 0.1}
            )
        jobs = [name for name in names for _ in range(2)]  # two at once per function
        with ThreadPoolExecutor(len(jobs)) as pool:
            results = list(pool.map(lambda name: (name, invoke(lam, name)), jobs))
        for name, result in results:
            assert result["who"] == name and result["now"] == name, result
            assert "tap0" in result["network"], result  # egress was there before Init
            assert not {"FIRESIDE_WARM_FD", "FIRESIDE_LANDLOCK"} & set(result["plumbing"])
            assert result["cwd"] == "/var/task"
        environments = [result["environment"] for _, result in results]
        assert not seen & set(environments), "an environment outlived its configuration"
        seen |= set(environments)


def test_server_killed_mid_start_leaves_nothing(fresh_server: Callable[..., Server]) -> None:
    srv = fresh_server(FIRESIDE_WARM_SPARES="0")
    lam = srv.client()
    names = [f"killed-{i}" for i in range(6)]
    deploy(lam, names)
    assert srv.process is not None
    root = srv.process.pid
    invoke(lam, names[0])  # the runtime's image is built; the next starts are quick

    def starts() -> None:
        with contextlib.suppress(Exception), ThreadPoolExecutor(len(names)) as pool:
            list(pool.map(lambda name: invoke(lam, name), names[1:]))

    before = set(descendants(root))  # the first environment's, idle
    burst = threading.Thread(target=starts, daemon=True)
    burst.start()
    # Killed while sandboxes are being made: a new bubblewrap (or the shell starting it).
    wait_for(lambda: any(is_bwrap(p) for p in set(descendants(root)) - before), 30, "a start")
    helpers = descendants(root)
    srv.process.send_signal(signal.SIGKILL)
    srv.process.wait()

    try:
        with contextlib.suppress(AssertionError):
            wait_for(lambda: not survivors(helpers), 10, "the helpers' end")
        if survivors(helpers):
            # Killed between its spawn and `setpriv`'s death signal, a bubblewrap (and what it
            # started) can outlive the server, as documented (`lifeline`): it is in the
            # environment's resource group, which the next server on the data directory sweeps.
            fresh_server(FIRESIDE_WARM_SPARES="0")
            wait_for(lambda: not survivors(helpers), 10, "the sweep of the next server")
        assert survivors(helpers) == {}
    finally:
        kill_survivors(helpers)
    burst.join(30)
