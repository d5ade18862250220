"""Landlock inside the namespace sandbox: applied to Python and custom runtimes alike."""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

import pytest

from fireside.runtimes.python import fireside_landlock
from tests.conftest import ROLE, FunctionFactory, Server, curl_bootstrap, make_zip, unavailable

# Signal scoping (Landlock ABI 6) is what a function can observe: pid 1 of its sandbox is
# bubblewrap's init, outside the runtime's Landlock domain, though owned by the same user.
PROBE = """
import os
def handler(event, context):
    def attempt(action):
        try:
            action()
            return "allowed"
        except OSError as exc:
            return exc.strerror
    with open("/tmp/scratch", "w") as scratch:
        scratch.write("ok")
    return {
        "signal_init": attempt(lambda: os.kill(1, 0)),
        "write_tmp": open("/tmp/scratch").read(),
        "list_root": "var" in os.listdir("/"),
        "read_code": os.path.exists("/var/task/app.py"),
    }
"""

SHELL_BOOTSTRAP = curl_bootstrap(
    "if kill -0 1 2>/dev/null; then BODY='\"allowed\"'; else BODY='\"denied\"'; fi"
)


def landlocked(server: Server) -> bool:
    with urllib.request.urlopen(f"{server.endpoint}/_fireside/health") as response:
        detail = json.loads(response.read())["sandbox_detail"]
    return "Landlock ABI" in detail and fireside_landlock.abi_version() >= 6


def test_python_runtime_is_landlocked(
    server: Server, lam: Any, make_function: FunctionFactory
) -> None:
    if not landlocked(server):
        unavailable("namespace", "no namespace sandbox with Landlock ABI 6 here")
    name = make_function(PROBE)
    for _ in range(2):  # the cold start, then a warm one
        body = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
        assert body == {
            "signal_init": "Operation not permitted",
            "write_tmp": "ok",
            "list_root": True,
            "read_code": True,
        }
        lam.update_function_configuration(FunctionName=name, Description="again")
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)


def test_custom_runtime_is_landlocked(server: Server, lam: Any) -> None:
    if not landlocked(server):
        unavailable("namespace", "no namespace sandbox with Landlock ABI 6 here")
    lam.create_function(
        FunctionName="landlocked-shell", Runtime="provided.al2023", Handler="unused", Role=ROLE,
        Code={"ZipFile": make_zip({"bootstrap": SHELL_BOOTSTRAP}, {"bootstrap": 0o755})},
    )  # fmt: skip
    try:
        lam.get_waiter("function_active_v2").wait(FunctionName="landlocked-shell")
        out = lam.invoke(FunctionName="landlocked-shell")
        assert json.loads(out["Payload"].read()) == "denied"
    finally:
        lam.delete_function(FunctionName="landlocked-shell")


def test_restrict_confines_writes_in_a_child(tmp_path: Any) -> None:
    """The module itself, on the host: a restricted child may write only where allowed."""
    if fireside_landlock.abi_version() == 0:
        pytest.skip("this kernel has no Landlock")

    allowed, denied = tmp_path / "allowed", tmp_path / "denied"
    allowed.mkdir()
    denied.mkdir()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        status = 1
        try:
            fireside_landlock.restrict(readable=("/",), writable=(str(allowed),), devices=())
            (allowed / "file").write_text("yes")
            try:
                (denied / "file").write_text("no")
            except PermissionError:
                status = 0
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert (allowed / "file").read_text() == "yes"
    assert not (denied / "file").exists()
