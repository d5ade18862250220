"""One invocation on its way through an execution environment, and the errors the platform reports.

The platform-made error payloads (timeout, runtime exit, oversized response) follow the shapes
AWS returns in the Invoke response body, with `X-Amz-Function-Error: Unhandled`.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fireside.compute.streaming import ResponseStream

MAX_SYNC_PAYLOAD = 6 * 1024 * 1024  # 6,291,456 bytes, both directions


@dataclass(slots=True)
class Outcome:
    """What the caller gets back: the payload and, on failure, the function error kind."""

    payload: bytes
    function_error: str | None = None
    content_type: str = "application/json"
    #: The environment cannot serve another invoke (timeout, crash, init failure).
    fatal: bool = False
    #: The runtime exited before it took the invocation (it had posted its last result, then
    #: exited, as Node's and Ruby's do after an uncaught error): nothing ran, so the
    #: invocation goes to another environment instead of failing.
    undelivered: bool = False


@dataclass(slots=True)
class Invocation:
    request_id: str
    payload: bytes
    invoked_arn: str
    timeout: float
    trace_id: str
    client_context: str | None = None
    content_type: str = "application/json"
    deadline_ms: int = 0
    outcome: asyncio.Future[Outcome] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    #: Set by a streaming caller (`Invoker.invoke_stream`): resolved with the response
    #: stream when the runtime starts one. Without it a streamed response is collected.
    opened: asyncio.Future[ResponseStream] | None = None
    #: The streamed response the runtime is sending, once it started one.
    response_stream: ResponseStream | None = None

    def finish(self, outcome: Outcome) -> bool:
        if self.outcome.done():
            return False
        self.outcome.set_result(outcome)
        if self.response_stream is not None:
            self.response_stream.end()  # a timeout or crash mid-stream ends it too
        return True


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


def timeout_outcome(request_id: str, timeout: float) -> Outcome:
    message = f"RequestId: {request_id} Error: Task timed out after {timeout:.2f} seconds"
    return Outcome(error_payload("Sandbox.Timedout", message), "Unhandled", fatal=True)


def exit_outcome(request_id: str, status: int, *, out_of_memory: bool = False) -> Outcome:
    if out_of_memory:
        message = f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"
        return Outcome(error_payload("Runtime.OutOfMemory", message), "Unhandled", fatal=True)
    if status == 0:
        reason = "Runtime exited without providing a reason"
    elif status < 0:
        reason = f"Runtime exited with error: signal: {_signal_name(-status)}"
    else:
        reason = f"Runtime exited with error: exit status {status}"
    return Outcome(
        error_payload("Runtime.ExitError", f"RequestId: {request_id} Error: {reason}"),
        "Unhandled",
        fatal=True,
    )


def response_too_large_outcome() -> Outcome:
    message = (
        f"Response payload size exceeded maximum allowed payload size ({MAX_SYNC_PAYLOAD} bytes)."
    )
    return Outcome(error_payload("Function.ResponseSizeTooLarge", message), "Unhandled")


def _signal_name(number: int) -> str:
    import signal

    names = {
        signal.SIGKILL: "killed",
        signal.SIGSEGV: "segmentation fault",
        signal.SIGABRT: "aborted",
    }
    try:
        return names.get(signal.Signals(number), signal.Signals(number).name.lower())
    except ValueError:
        return f"signal {number}"
