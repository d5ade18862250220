"""A headless Chromium driven over the DevTools protocol, for pages that stay open.

`--dump-dom` (`tests/test_browser.py`) suits pages that finish: it dumps once virtual time has
run out, and an open WebSocket does not hold virtual time back, so a chat page would be dumped
before anyone spoke. Here the test opens tabs, lets them run in real time, and reads each one's
state with `Runtime.evaluate` until a condition holds. The protocol is JSON over a WebSocket
(the `websockets` client), the browser Debian's `chromium`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from websockets.sync.client import ClientConnection, connect

from tests.test_browser import chromium


class Tab:
    """One page of the browser: navigate it, evaluate JavaScript in it."""

    def __init__(self, socket_url: str) -> None:
        self._stack = contextlib.ExitStack()
        self._socket: ClientConnection = self._stack.enter_context(
            connect(socket_url, max_size=None)
        )
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        self._socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:  # events arrive between answers; only this call's answer matters here
            message = json.loads(self._socket.recv(timeout=30))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message["result"]
                return result

    def evaluate(self, expression: str) -> Any:
        answer = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in answer:
            raise RuntimeError(f"{expression}: {answer['exceptionDetails']}")
        return answer["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """The expression's value once it is truthy (polled), or AssertionError with the
        page's last value and text."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.05)
        text = self.evaluate("document.body ? document.body.innerText : ''")
        raise AssertionError(f"{expression} still {value!r} after {timeout} s; page: {text!r}")

    def close(self) -> None:
        self._stack.close()


class Browser:
    """A headless Chromium with the DevTools protocol on a loopback port of its choosing."""

    def __init__(self, profile: Path) -> None:
        profile.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [
                chromium(),
                "--headless",
                "--no-sandbox",  # the tests may run as root, where Chromium's sandbox refuses
                "--disable-gpu",
                "--no-proxy-server",
                "--no-first-run",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._tabs: list[Tab] = []
        active = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (active.exists() and active.read_text().count("\n") >= 1):
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.close()
                raise AssertionError("chromium did not open its DevTools port")
            time.sleep(0.05)
        self._port = int(active.read_text().split()[0])

    def open(self, url: str) -> Tab:
        """A new tab showing `url` (loading: wait for what the page should show)."""
        request = urllib.request.Request(
            f"http://127.0.0.1:{self._port}/json/new?about:blank", method="PUT"
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            target = json.load(answer)
        tab = Tab(target["webSocketDebuggerUrl"])
        self._tabs.append(tab)
        tab.call("Page.navigate", url=url)
        return tab

    def close(self) -> None:
        for tab in self._tabs:
            tab.close()
        self._process.kill()
        self._process.wait(timeout=30)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
