"""Helper processes (bubblewrap, runsc and its Sentry, QEMU, slirp4netns) die with the server.

The server is killed with SIGKILL, as a crash or an OOM kill would: nothing of it may keep
running, and the next server on the same data directory kills whatever a previous run left
(and only that: never another server's helpers).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fireside.sandbox import SandboxMode, gvisor, lifeline, microvm
from fireside.sandbox.namespace import unavailable_reason
from fireside.sandbox.share import choose_share_root
from tests.conftest import ROLE, Server, python_zip, wait_for

MODES = [
    SandboxMode.NAMESPACE.value,
    SandboxMode.GVISOR.value,
    pytest.param(SandboxMode.MICROVM.value, marks=pytest.mark.slow),
]


def process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, start time) of every live (not zombie) process."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            table[int(entry)] = (int(fields[1]), fields[19])
    return table


def descendants(root: int) -> dict[int, str]:
    """pid -> start time of every live descendant of `root` (sessions do not matter)."""
    table = process_table()
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, started) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = started
                frontier.append(pid)
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as raw:
            return raw.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def survivors(helpers: dict[int, str]) -> dict[int, str]:
    """pid -> command line of each of `helpers` (pid -> start time, as `descendants` gives)
    still running: the same start time, so not another process given a reused pid."""
    table = process_table()
    return {
        pid: cmdline(pid)
        for pid, started in helpers.items()
        if pid in table and table[pid][1] == started
    }


def kill_survivors(helpers: dict[int, str]) -> None:
    """Leave no strays on a shared machine, whatever failed."""
    for pid in survivors(helpers):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def sandboxes_started(root: int) -> bool:
    """Every bubblewrap under `root` has started what it runs. One still setting up has not
    yet set its parent-death signal again after its change of user, so a kill then can leave
    it behind: the next server's sweep removes such leftovers (tested below)."""
    for pid in descendants(root):
        if is_bwrap(pid) and all(is_bwrap(child) for child in descendants(pid)):
            return False
    return True


def is_bwrap(pid: int) -> bool:
    """bubblewrap, started by name or by path (or the shell and `setpriv` that start it)."""
    program = os.path.basename(cmdline(pid).split(" ")[0])
    return program in ("bwrap", "sh", "setpriv")


@pytest.fixture()
def sleepers() -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(marker: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, lifeline.MARKER: marker}
        process = subprocess.Popen(["sleep", "600"], env=env, start_new_session=True)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


@pytest.mark.parametrize("mode", MODES)
def test_helpers_die_with_a_killed_server(
    mode: str, tmp_path: Path, sleepers: Callable[[str], subprocess.Popen[bytes]]
) -> None:
    reason = {
        "namespace": unavailable_reason,
        "gvisor": gvisor.unavailable_reason,
        "microvm": microvm.unavailable_reason,
    }[mode]()
    if reason is not None:
        pytest.skip(f"{mode} sandbox unavailable: {reason}")
    data = tmp_path / "data"
    env = {"FIRESIDE_SANDBOX": mode}
    first = Server(data, env=env).start()
    second: Server | None = None
    helpers: dict[int, str] = {}
    try:
        client = first.client()
        client.create_function(
            FunctionName="alive",
            Runtime="python3.11",
            Handler="app.handler",
            Role=ROLE,
            Code={"ZipFile": python_zip("def handler(e, c):\n    return 'up'\n")},
        )
        client.get_waiter("function_active_v2").wait(
            FunctionName="alive", WaiterConfig={"Delay": 0.1}
        )
        assert client.invoke(FunctionName="alive")["Payload"].read() == b'"up"'
        assert first.process is not None
        # Killed while a warm spare is being set up, that spare is the sweep's (below).
        assert wait_for(lambda: sandboxes_started(first.process.pid), 30)
        helpers = descendants(first.process.pid)
        names = " | ".join(cmdline(pid) for pid in helpers)
        assert "slirp4netns" in names, names  # the environment has egress
        first.process.send_signal(signal.SIGKILL)
        first.process.wait()

        wait_for(lambda: not survivors(helpers), 10)
        assert survivors(helpers) == {}

        # What a run leaves despite all that (killed between a fork and its prctl) is swept
        # by the next one on the same data directory; another server's helpers are not.
        instance = lifeline.instance_of(choose_share_root(data))
        leftover = sleepers(instance)
        neighbour = sleepers(lifeline.instance_of(Path("/elsewhere")))
        second = Server(data, env=env).start()
        assert wait_for(lambda: leftover.poll() is not None, 10), "the leftover survived"
        assert neighbour.poll() is None
        assert second.client().invoke(FunctionName="alive")["Payload"].read() == b'"up"'
    finally:
        kill_survivors(helpers)
        for server in (first, second):
            if server is not None and server.process and server.process.poll() is None:
                server.stop()
