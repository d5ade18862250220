"""The Extensions API (2020-01-01) of one execution environment: its extensions' state.

External extensions are the executables in a function's `/opt/extensions/` (from its layers).
The runtime's launcher starts them inside the sandbox (`FIRESIDE_EXTENSIONS`); each registers
with `POST /2020-01-01/extension/register` for `INVOKE` and/or `SHUTDOWN` events and then
long-polls `GET /2020-01-01/extension/event/next`. As on Lambda:
- Init ends once every extension has registered and called `/event/next`, and the runtime has
  called `/runtime/invocation/next`;
- each invoke is sent to the extensions subscribed to `INVOKE`; the environment takes its next
  invoke only once the runtime and each of them have called `/next` again (the caller has its
  response as soon as the runtime posts it), all within the function's timeout;
- when the environment is stopped, extensions subscribed to `SHUTDOWN` get that event and up to
  2 s to call `/next` once more before everything is killed;
- at most 10 extensions; registration closes when Init ends.
Errors are AWS's: 403 with `Extension.*` error types (the Runtime Interface Emulator's names).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fireside.sandbox import opt

MAX_EXTENSIONS = 10
SHUTDOWN_GRACE = 2.0  # seconds extensions get to handle SHUTDOWN
EVENTS = frozenset({"INVOKE", "SHUTDOWN"})


def external_extensions(opt_root: Path) -> list[str]:
    """File names of the executables in `<opt>/extensions/`, in name order (blocking).
    Resolved inside the function's `/opt`, as the sandbox will resolve them."""
    return opt.executables_in(opt_root, "extensions")


class ExtensionError(Exception):
    """A request the Extensions API refuses: 403 with this error type."""

    def __init__(self, error_type: str, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.error_type, self.message, self.status = error_type, message, status


@dataclass(slots=True)
class Extension:
    id: str
    name: str
    events: frozenset[str]
    #: Events sent but not yet taken by `/event/next`.
    inbox: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    #: Handling an event (or still initializing): not yet back in `/event/next`.
    busy: bool = True
    error: str | None = None


class ExtensionHub:
    def __init__(self, expected: list[str], metadata: dict[str, str]) -> None:
        #: Names of the external extensions started with the runtime (file names).
        self.expected = expected[:MAX_EXTENSIONS]
        self._metadata = metadata
        self._by_id: dict[str, Extension] = {}
        self._open = True
        self._changed = asyncio.Event()
        #: The first extension init error, reported as the environment's Init failure.
        self.init_error: str | None = None

    @property
    def extensions(self) -> list[Extension]:
        return list(self._by_id.values())

    # -- the API --------------------------------------------------------------------------------
    def register(self, name: str, body: dict[str, Any]) -> tuple[str, dict[str, str]]:
        if not name:
            raise ExtensionError("Extension.InvalidExtensionName", "Empty extension name")
        events = body.get("events", [])
        if not isinstance(events, list) or not all(isinstance(e, str) for e in events):
            raise ExtensionError("InvalidRequestFormat", "events must be a list of strings")
        for event in events:
            if event not in EVENTS:
                raise ExtensionError(
                    "Extension.InvalidEventType", f"{event}: invalid event for external agent"
                )
        if not self._open:
            raise ExtensionError(
                "Extension.RegistrationClosed", "Extension registration closed already"
            )
        if any(ext.name == name for ext in self._by_id.values()):
            raise ExtensionError(
                "Extension.InvalidExtensionState", "Extension with this name already registered"
            )
        if len(self._by_id) >= MAX_EXTENSIONS:
            raise ExtensionError(
                "Extension.TooManyExtensions", f"Extension limit ({MAX_EXTENSIONS}) reached"
            )
        extension = Extension(str(uuid.uuid4()), name, frozenset(events))
        self._by_id[extension.id] = extension
        self._signal()
        return extension.id, dict(self._metadata)

    def _find(self, extension_id: str | None) -> Extension:
        if not extension_id:
            raise ExtensionError(
                "Extension.MissingExtensionIdentifier", "Missing Lambda-Extension-Identifier"
            )
        extension = self._by_id.get(extension_id)
        if extension is None:
            raise ExtensionError(
                "Extension.UnknownExtensionIdentifier", f"Unknown extension {extension_id}"
            )
        return extension

    async def next_event(self, extension_id: str | None) -> dict[str, Any]:
        extension = self._find(extension_id)
        extension.busy = False
        self._signal()
        event = await extension.inbox.get()
        return event

    def report_error(self, extension_id: str | None, error_type: str | None, init: bool) -> None:
        extension = self._find(extension_id)
        if not error_type:
            raise ExtensionError(
                "Extension.MissingHeader", "Lambda-Extension-Function-Error-Type not found"
            )
        extension.error = error_type
        if init and self.init_error is None:
            self.init_error = error_type
        self._signal()

    # -- the platform's side --------------------------------------------------------------------
    def _signal(self) -> None:
        self._changed.set()

    async def _until(self, done: Any) -> None:
        while not done():
            self._changed.clear()
            await self._changed.wait()

    def ready(self) -> bool:
        """Every expected extension registered, and none is handling an event."""
        registered = {ext.name for ext in self._by_id.values()}
        return all(name in registered for name in self.expected) and not any(
            ext.busy for ext in self._by_id.values()
        )

    async def until_ready(self) -> None:
        await self._until(lambda: self.ready() or self.init_error is not None)

    def close_registration(self) -> None:
        self._open = False

    def send_invoke(self, request_id: str, deadline_ms: int, arn: str, trace_id: str) -> bool:
        """Send INVOKE to its subscribers; returns whether any must be waited for."""
        event = {
            "eventType": "INVOKE",
            "deadlineMs": deadline_ms,
            "requestId": request_id,
            "invokedFunctionArn": arn,
            "tracing": {"type": "X-Amzn-Trace-Id", "value": trace_id},
        }
        return self._send("INVOKE", event)

    def send_shutdown(self, reason: str = "SPINDOWN") -> bool:
        deadline = int((time.time() + SHUTDOWN_GRACE) * 1000)
        event = {"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": deadline}
        return self._send("SHUTDOWN", event)

    def _send(self, kind: str, event: dict[str, Any]) -> bool:
        subscribers = [ext for ext in self._by_id.values() if kind in ext.events]
        for extension in subscribers:
            extension.busy = True
            extension.inbox.put_nowait(dict(event))
        return bool(subscribers)
