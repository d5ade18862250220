"""The example chat app (`examples/websocket-chat`), deployed with `fireside deploy` and used from
headless Chromium, as a person would use it:
- three tabs open the page (served by a Function URL) and connect to the WebSocket API; the
  `$connect` function records each in the table;
- one tab speaks; the `sendmessage` function broadcasts it through `@connections`, at the
  endpoint it builds from its event's `domainName` and `stage` (AWS's host name, which reaches
  Fireside from inside the function), and every tab shows it;
- a tab that closes its socket, and then the browser killed outright, each leave the table
  through `$disconnect`.

Chromium is driven over the DevTools protocol (`tests/browser_cdp.py`): the page stays open."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from tests.browser_cdp import Browser
from tests.conftest import Server
from tests.test_browser import chromium

APP = Path(__file__).parent.parent / "examples" / "websocket-chat"


def _deploy(server: Server, app: Path, stack: str) -> dict[str, str]:
    done = subprocess.run(
        [
            str(Path(sys.executable).parent / "fireside"),
            "deploy",
            "--stack-name",
            stack,
            "--endpoint-url",
            server.endpoint,
        ],
        cwd=app,
        env={
            "PATH": "/usr/bin:/bin",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    described = server.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}


def _members(server: Server, table: str) -> list[str]:
    items = server.client("dynamodb").scan(TableName=table)["Items"]
    return sorted(item["name"]["S"] for item in items)


def _wait_members(server: Server, table: str, expected: list[str]) -> None:
    deadline = time.monotonic() + 30
    while (members := _members(server, table)) != expected:
        assert time.monotonic() < deadline, f"members {members}, expected {expected}"
        time.sleep(0.05)


def _said(line: str) -> str:
    lines = '[...document.querySelectorAll("#messages li")].map((li) => li.textContent)'
    return f"{lines}.includes({json.dumps(line)})"


def test_browsers_chat_through_a_websocket_api(server: Server, tmp_path: Path) -> None:
    chromium()
    app = tmp_path / "app"
    shutil.copytree(APP, app)
    stack = f"chat-{uuid.uuid4().hex[:8]}"
    outputs = _deploy(server, app, stack)
    table = outputs["ConnectionsTable"]
    assert outputs["WebSocketURI"].startswith(f"wss://{outputs['ApiId']}.execute-api.")

    with Browser(tmp_path / "profile") as browser:
        tabs: dict[str, Any] = {
            name: browser.open(f"{outputs['PageUrl']}?name={name}") for name in ("ana", "ben", "cy")
        }
        for tab in tabs.values():
            tab.wait_for('document.getElementById("status")?.textContent === "open"')
        _wait_members(server, table, ["ana", "ben", "cy"])

        tabs["ana"].evaluate('send("hello all")')
        for tab in tabs.values():
            tab.wait_for(_said("ana: hello all"))

        tabs["cy"].evaluate("socket.close(1000)")
        tabs["cy"].wait_for('document.getElementById("status").textContent === "closed 1000"')
        _wait_members(server, table, ["ana", "ben"])
        tabs["ben"].evaluate('send("bye cy")')
        for name in ("ana", "ben"):
            tabs[name].wait_for(_said("ben: bye cy"))
        assert not tabs["cy"].evaluate(_said("ben: bye cy"))
    # The browser was killed: its connections end without a close frame.
    _wait_members(server, table, [])

    cloudformation = server.client("cloudformation")
    cloudformation.delete_stack(StackName=stack)
    cloudformation.get_waiter("stack_delete_complete").wait(
        StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
