"""An execution environment: one sandboxed runtime process, its Runtime API, its log stream.

Lifecycle, as on Lambda: Init (the runtime starts and calls `/next` for the first time), then
Invokes served one at a time, until it is stopped (idle, retired after an update, shut down) or
dies (timeout, crash, init failure). The invoke path is: `invoke()` queues the event, the
runtime's pending `/next` returns it, its `/response` or `/error` completes the outcome.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import functools
import json
import logging
import os
import secrets
import shutil
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fireside.compute.aws_names import AwsNames, serve_template_resolver, trust_environment
from fireside.compute.extensions import SHUTDOWN_GRACE, ExtensionHub, external_extensions
from fireside.compute.functions import FunctionConfig
from fireside.compute.invocation import (
    Invocation,
    Outcome,
    error_payload,
    exit_outcome,
    response_too_large_outcome,
    timeout_outcome,
)
from fireside.compute.log_controls import LogControls, Report
from fireside.compute.logs import FunctionLog, LineSplitter, OutputBudget, TailBuffer
from fireside.compute.runtime_api import RuntimeApi, streams_body
from fireside.compute.streaming import MAX_STREAMED, ResponseStream, streamed_too_large_outcome
from fireside.http.limits import HttpLimits
from fireside.http.server import HttpServer
from fireside.runtimes.registry import InvalidEntrypoint, Language, RuntimeCommand
from fireside.sandbox import HostPaths, Launcher, Layout, Sandbox, SandboxBackend, SandboxSpec
from fireside.sandbox.base import Program, TemplateSession

log = logging.getLogger(__name__)

#: Reads of the output pipe per call (64 KB each): see `_read_output`.
_READS_PER_CALL = 64

INIT_TIMEOUT = 10.0  # seconds Lambda allows an on-demand Init phase
XRAY_DAEMON_PORT = 2000
BOOT_TIMEOUT = 60.0  # seconds a sandbox may take to start the runtime (a VM's boot)


#: The Runtime API's HTTP bounds: room for a streamed response at its limit (the Runtime API
#: answers 413 past it), and a streamed response may pause between writes as long as the
#: longest function timeout (the invocation's own timeout ends it first).
_RUNTIME_API_LIMITS = HttpLimits(max_body=MAX_STREAMED + 1024 * 1024, body_timeout=960.0)


def _status(outcome: Outcome) -> tuple[str, str | None]:
    """An invocation's status and error type as Lambda's `platform.report` record gives them."""
    if outcome.function_error is None:
        return "success", None
    error_type = "Runtime.Unknown"
    with contextlib.suppress(ValueError, AttributeError):
        error_type = str(json.loads(outcome.payload).get("errorType") or error_type)
    if error_type == "Sandbox.Timedout":
        return "timeout", error_type
    return ("failure" if outcome.fatal else "error"), error_type


class State(enum.Enum):
    STARTING = "starting"
    IDLE = "idle"
    BUSY = "busy"
    DEAD = "dead"


class InitFailed(Exception):
    """Init did not complete; `outcome` is what the waiting invoke returns."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.payload.decode(errors="replace"))
        self.outcome = outcome


EndpointCloser = Callable[[], Awaitable[None]]


@dataclass(slots=True)
class Launch:
    """Everything an environment needs to start, resolved by the pool."""

    config: FunctionConfig
    command: RuntimeCommand
    task_root: Path
    work_root: Path
    endpoint_url: str
    credentials: tuple[str, str, str]
    #: Serve Fireside's endpoint on a socket inside a private network; returns its closer.
    serve_endpoint: Callable[[socket.socket], Awaitable[EndpointCloser]] | None = None
    #: Serves AWS's hostnames on a private network (DNS, TLS): see `fireside.compute.aws_names`.
    aws_names: AwsNames | None = None
    egress: bool = True
    #: Egress may reach private, link-local and the host's own addresses too.
    private_egress: bool = False
    #: Called with the environment's access key id when it stops.
    revoke_credentials: Callable[[str], None] | None = None
    #: AWS_LAMBDA_INITIALIZATION_TYPE: on-demand, provisioned-concurrency or snap-start.
    initialization_type: str = "on-demand"
    #: Snapshot starts: the template's key, and what issues credentials for its Init.
    snapshot_key: str | None = None
    template_session: Callable[[], TemplateSession] | None = None
    #: The function's unpacked layers, in the order listed, and what merges them for /opt.
    layers: list[Path] = field(default_factory=list)
    compose_opt: Callable[[list[Path]], Path | None] | None = None

    @property
    def endpoint_port(self) -> int:
        return int(self.endpoint_url.rsplit(":", 1)[1].split("/")[0])


RUNTIME_API_PORT = 9001  # where Lambda's Runtime API listens inside an environment

#: Programs of runtimes that need neither /opt nor the code to describe theirs, by what they
#: are made of. `RuntimeCommand.program` looks up trees built before the first start (an
#: interpreter's image, the SDKs: realpaths, stats up the path, a manifest read), 0.3-0.4 ms of
#: every start; those trees stay for the server's lifetime, as `Invoker` already assumes of
#: what `RuntimeCommand.build` makes. Nothing downstream changes a Program.
_PROGRAMS: dict[tuple[object, ...], Program] = {}
_MAX_PROGRAMS = 256


def _program(
    command: RuntimeCommand,
    layout: Layout,
    host: HostPaths,
    memory_mb: int,
    variables: dict[str, str],
) -> Program:
    key = (
        command, layout.task_root, layout.runtime_dir, layout.opt_root, layout.tmp_dir,
        layout.host_address, tuple(layout.launcher), layout.binds, layout.cache, host.opt_root,
        memory_mb, frozenset(variables.items()),
    )  # fmt: skip
    program = _PROGRAMS.get(key)
    if program is None:
        program = command.program(layout, host, memory_mb, variables)
        if len(_PROGRAMS) >= _MAX_PROGRAMS:  # layouts with a path per environment (`process`)
            _PROGRAMS.clear()
        _PROGRAMS[key] = program
    return program


async def _serve_network(launch: Launch, address: str, sandbox: Sandbox) -> EndpointCloser:
    """Fireside's endpoint and AWS's names on an environment's private network (`address`
    is where the environment reaches Fireside); returns what stops both."""
    closers: list[EndpointCloser] = []
    try:
        if launch.serve_endpoint is not None:
            closers.append(await launch.serve_endpoint(sandbox.socket_inside(launch.endpoint_port)))
        if launch.aws_names is not None:
            closers.append(await launch.aws_names.serve(sandbox, address, launch.egress))
    except BaseException:
        for closer in closers:
            await closer()
        raise

    async def stop() -> None:
        for closer in closers:
            await closer()

    return stop


def backend_remaps(layout: Layout) -> bool:
    return layout.task_root == "/var/task"


def stream_name(version: str) -> str:
    return time.strftime("%Y/%m/%d/", time.gmtime()) + f"[{version}]{secrets.token_hex(16)}"


class Environment:
    def __init__(self, launch: Launch, backend: SandboxBackend, log_sink: FunctionLog) -> None:
        self.launch = launch
        self.config = launch.config
        self.id = secrets.token_hex(8)
        self.stream = stream_name(self.config.version)
        self.state = State.STARTING
        self.last_used = self.created = time.monotonic()
        self._backend = backend
        self._log = log_sink
        #: LoggingConfig: Text or JSON platform records, and the levels that filter them.
        self._controls = LogControls.of(self.config.logging_config())
        self._server = HttpServer(
            RuntimeApi(self), limits=_RUNTIME_API_LIMITS, stream_body=streams_body, coalesce=True
        )
        self._sandbox: Sandbox | None = None
        #: Its output pipe, once closed: its number may belong to another pipe by then.
        self._output_closed = False
        self._work_dir = launch.work_root / self.id
        self._splitter = LineSplitter()
        self._tail: TailBuffer | None = None
        #: The function's own output kept for Init, then for each invocation (Lambda truncates).
        self._budget = OutputBudget(log_sink.invoke_bytes)
        self._init_done: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._started_at = 0.0
        self._queued: Invocation | None = None
        self._current: Invocation | None = None
        self._next_waiter: asyncio.Future[Invocation] | None = None
        self._exit_task: asyncio.Task[None] | None = None
        #: Stops what is served on its private network besides the Runtime API (`_serve_network`).
        self._endpoint_closer: EndpointCloser | None = None
        #: The request id of the invoke waiting for Init (named in an Init failure).
        self._initializing_for = ""
        self.extensions = ExtensionHub(
            [],
            {
                "functionName": self.config.name,
                "functionVersion": self.config.version,
                "handler": self.config.handler,
                "accountId": self.config.account,
            },
        )
        #: Set while extensions still handle the last invoke (its caller has the response).
        self.settling: asyncio.Task[None] | None = None
        self._extensions_busy = False
        self._runtime_ready = False
        self._init_waiter: asyncio.Task[None] | None = None
        #: The invoke waiting for Init: the runtime's first `/next` takes it at once.
        self._first: Invocation | None = None

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        launch, backend = self.launch, self._backend
        self._started_at = time.monotonic()
        config = self.config
        init_start = self._controls.init_start(config.runtime, config.name, config.version)
        if init_start is not None:
            self._log.write(self.stream, init_start.encode())
        opt_root = None
        if launch.layers and launch.compose_opt is not None:
            try:  # cached after the first environment with the same layers
                opt_root = await asyncio.to_thread(launch.compose_opt, launch.layers)
            except OSError as exc:
                log.exception("could not assemble /opt for %s", self.config.arn)
                self._abort_start("Runtime.Unknown", f"Fireside could not assemble /opt: {exc}")
                return
        host = HostPaths(
            task_root=launch.task_root,
            work_dir=self._work_dir,
            opt_root=opt_root,
        )
        layout = backend.layout(host)
        if opt_root is not None:
            self.extensions.expected = await asyncio.to_thread(external_extensions, opt_root)
        args = (layout, host, self.config.memory_size, self.config.environment)
        try:
            if opt_root is None and launch.command.language is not Language.CUSTOM:
                # A few lookups of trees built before the first start (`RuntimeCommand.build`):
                # a thread hop would cost more (0.6-0.9 ms of a snapshot start).
                program = _program(launch.command, *args)
            else:  # reads /opt or the code for a bootstrap, or links the layers' modules
                program = await asyncio.to_thread(launch.command.program, *args)
        except InvalidEntrypoint as exc:
            self._abort_start("Runtime.InvalidEntrypoint", str(exc))
            return
        except OSError as exc:
            log.exception("could not prepare the runtime of %s", self.config.arn)
            self._abort_start("Runtime.Unknown", f"Fireside could not prepare the runtime: {exc}")
            return
        # Init Duration counts from here: /opt and what the runtime builds once (made before
        # the first start, or here when a start had to) are Lambda's platform work, not Init.
        self._started_at = time.monotonic()
        argv = program.argv
        if backend.private_network:
            # Fireside listens on the sandbox network's own 127.0.0.1, which a VM guest reaches
            # at its gateway address (`Layout.host_address`).
            runtime_api = f"{layout.host_address}:{RUNTIME_API_PORT}"
            endpoint = f"http://{layout.host_address}:{launch.endpoint_port}"
        else:
            port = await self._server.listen("127.0.0.1", 0)
            runtime_api = f"{layout.host_address}:{port}"
            endpoint = f"http://{layout.host_address}:{launch.endpoint_port}"
        if self.extensions.expected and program.launcher is Launcher.EXEC and layout.launcher:
            argv = [*layout.launcher, *argv]  # which starts the extensions, then execs argv
        env = self._environment(runtime_api, endpoint, layout, program)
        spec = SandboxSpec(
            argv=argv,
            env=env,
            host=host,
            binds=program.binds,
            launcher=program.launcher,
            snapshot=program.snapshot,
            startup_env={k: v for k, v in env.items() if program.read_at_startup(k)},
            memory_mb=self.config.memory_size,
            tmp_mb=self.config.ephemeral_storage,
            egress=launch.egress,
            private_egress=launch.private_egress,
            inside_ports=[RUNTIME_API_PORT, launch.endpoint_port]
            if backend.private_network
            else [],
            snapshot_key=launch.snapshot_key,
            template_session=launch.template_session,
            template_network=functools.partial(serve_template_resolver, egress=launch.egress)
            if launch.aws_names is not None
            else None,
            serve_network=functools.partial(_serve_network, launch, layout.host_address)
            if backend.private_network
            else None,
        )
        try:
            self._sandbox = sandbox = await backend.start(spec)
            loop = asyncio.get_running_loop()
            loop.add_reader(sandbox.output_fd, self._read_output)
            self._exit_task = loop.create_task(self._watch_exit(sandbox))
            if backend.private_network:
                await self._server.listen("", 0, sock=sandbox.socket_inside(RUNTIME_API_PORT))
                # Served while a parked copy waited (snapshot starts), or now.
                served = sandbox.served_ahead()
                if served is None and spec.serve_network is not None:
                    served = await spec.serve_network(sandbox)
                self._endpoint_closer = served
            sandbox.release()
        except Exception as exc:
            log.exception("could not start an environment of %s", self.config.arn)
            if self._sandbox is not None:
                self._sandbox.kill()
            self._abort_start("Runtime.Unknown", f"Fireside could not start the sandbox: {exc}")

    async def initialize(self) -> bool:
        """Run Init ahead of any invoke (provisioned concurrency); True once it succeeded.

        The environment is then idle and its first invoke is not a cold start."""
        try:
            await self._until_initialized()
        except (InitFailed, TimeoutError):
            self._read_output()
            await self.stop()
            return False
        if self.state is State.STARTING:
            self.state = State.IDLE
            self.last_used = time.monotonic()
        return self.state is State.IDLE

    async def _until_initialized(self) -> float:
        """Init's duration, once it succeeded, within Lambda's Init time limit. The limit
        counts from the runtime's start: a VM's boot (microvm) is the sandbox's, not Init."""
        sandbox = self._sandbox
        if sandbox is not None and not self._init_done.done():
            booting = asyncio.ensure_future(sandbox.runtime_started())
            either: set[asyncio.Future[Any]] = {booting, self._init_done}
            try:
                await asyncio.wait(
                    either, timeout=BOOT_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                booting.cancel()
        return await asyncio.wait_for(asyncio.shield(self._init_done), INIT_TIMEOUT)

    def _abort_start(self, error_type: str, message: str) -> None:
        outcome = Outcome(
            error_payload(error_type, f"RequestId: Error: {message}"), "Unhandled", fatal=True
        )
        self._fail_init(outcome)
        self.state = State.DEAD

    def _environment(
        self, runtime_api: str, endpoint: str, layout: Layout, program: Program
    ) -> dict[str, str]:
        config, launch = self.config, self.launch
        key, secret, token = launch.credentials
        task, runtime, opt = layout.task_root, layout.runtime_dir, layout.opt_root
        library_path = [
            *program.library_path, "/lib64", "/usr/lib64", runtime, f"{runtime}/lib", task,
            f"{task}/lib", f"{opt}/lib",
        ]  # fmt: skip
        env = dict(config.environment)
        env.update(
            {
                "AWS_LAMBDA_RUNTIME_API": runtime_api,
                "_HANDLER": config.handler,
                "LAMBDA_TASK_ROOT": task,
                "LAMBDA_RUNTIME_DIR": runtime,
                "AWS_LAMBDA_FUNCTION_NAME": config.name,
                "AWS_LAMBDA_FUNCTION_VERSION": config.version,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_size),
                "AWS_LAMBDA_LOG_GROUP_NAME": config.log_group,
                "AWS_LAMBDA_LOG_STREAM_NAME": self.stream,
                "AWS_LAMBDA_INITIALIZATION_TYPE": launch.initialization_type,
                "AWS_REGION": config.region,
                "AWS_DEFAULT_REGION": config.region,
                "AWS_ACCESS_KEY_ID": key,
                "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_SESSION_TOKEN": token,
                "AWS_ENDPOINT_URL": endpoint,
                "FIRESIDE_OPT_ROOT": opt,
                "TMPDIR": layout.tmp_dir,
                "TZ": ":UTC",
                "LANG": env.get("LANG", "en_US.UTF-8"),
                "PATH": env.get("PATH", f"/usr/local/bin:/usr/bin/:/bin:{opt}/bin"),
                "LD_LIBRARY_PATH": env.get("LD_LIBRARY_PATH", ":".join(library_path)),
            }
        )
        # Lambda sets these in every environment (unreserved: a function's own values win).
        # Its daemon is outside the sandbox at 169.254.79.129; Fireside runs none, and a daemon
        # run as an extension listens on the environment's loopback, so that is the address.
        env.setdefault("AWS_XRAY_CONTEXT_MISSING", "LOG_ERROR")
        env.setdefault("AWS_XRAY_DAEMON_ADDRESS", f"127.0.0.1:{XRAY_DAEMON_PORT}")
        env["_AWS_XRAY_DAEMON_ADDRESS"] = "127.0.0.1"
        env["_AWS_XRAY_DAEMON_PORT"] = str(XRAY_DAEMON_PORT)
        logging = config.logging_config()
        if logging["LogFormat"] == "JSON":  # how Lambda tells runtimes of its logging controls
            env["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
            env["AWS_LAMBDA_LOG_LEVEL"] = logging["ApplicationLogLevel"]
        if not backend_remaps(layout):
            env["HOME"] = layout.tmp_dir  # a host path would point into the server's own home
        if launch.command.execution_env:
            env["AWS_EXECUTION_ENV"] = launch.command.execution_env
        for name, value in program.env.items():
            env.setdefault(name, value)  # NODE_PATH, GEM_PATH...: the function's own values win
        if launch.aws_names is not None and self._backend.private_network:
            for name, value in trust_environment(runtime).items():
                env.setdefault(name, value)
        if self.extensions.expected:  # started by the runtime's launcher, inside the sandbox
            paths = [f"{opt}/extensions/{name}" for name in self.extensions.expected]
            env["FIRESIDE_EXTENSIONS"] = ":".join(paths)
        return env

    async def stop(self) -> None:
        """Stop the environment now (any in-flight invoke ends as a runtime exit).

        An idle environment's extensions subscribed to SHUTDOWN get it first, and up to 2 s."""
        idle, self.state = self.state is State.IDLE, State.DEAD
        if idle and self.extensions.send_shutdown():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.extensions.until_ready(), SHUTDOWN_GRACE)
        if self._init_waiter is not None:
            self._init_waiter.cancel()
        if self._sandbox is not None:
            self._sandbox.kill()
        if self._exit_task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(asyncio.shield(self._exit_task), 5)
        await self._server.close()
        if self._endpoint_closer is not None:
            await self._endpoint_closer()
            self._endpoint_closer = None
        if self._sandbox is not None:
            await self._sandbox.close()
        if self.launch.revoke_credentials is not None:
            self.launch.revoke_credentials(self.launch.credentials[0])
        await asyncio.to_thread(shutil.rmtree, self._work_dir, True)

    async def _watch_exit(self, sandbox: Sandbox) -> None:
        status = await sandbox.wait()
        loop = asyncio.get_running_loop()
        self._read_output()
        loop.remove_reader(sandbox.output_fd)
        for line in self._splitter.flush():
            self._emit(line)
        os.close(sandbox.output_fd)
        self._output_closed = True
        self.state = State.DEAD
        current = self._current or self._queued
        request_id = current.request_id if current else self._initializing_for
        outcome = exit_outcome(request_id, status, out_of_memory=sandbox.out_of_memory())
        self._fail_init(outcome)
        if current is not None and current is not self._current:
            current.finish(Outcome(b"", fatal=True, undelivered=True))
        elif current is not None:
            current.finish(outcome)
        if self._next_waiter is not None and not self._next_waiter.done():
            self._next_waiter.cancel()
        self._log.flush()

    # -- output --------------------------------------------------------------------------------
    def _read_output(self) -> None:
        if self._sandbox is None or self._output_closed:
            return
        fd = self._sandbox.output_fd
        # Bounded: a runtime printing as fast as it can must not hold the event loop; the
        # reader callback fires again for the rest.
        for _ in range(_READS_PER_CALL):
            try:
                chunk = os.read(fd, 65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if not chunk:
                return
            if self._budget.exhausted():
                continue  # drained so the runtime never blocks on a full pipe, not kept
            for line in self._splitter.feed(chunk):
                self._emit(line)

    def _emit(self, line: bytes) -> None:
        """One line of the function's own output, kept while the invocation's budget lasts."""
        budget = self._budget
        if budget.exhausted():
            return
        if not self._controls.keeps(line):  # below ApplicationLogLevel (JSON logs only)
            return
        if budget.admit(len(line) + 1):
            self._write(line)
            return
        self._splitter.flush()  # a partial line is part of what is dropped
        self._write(budget.marker())  # once: the budget is exhausted from now on

    def _write(self, line: bytes) -> None:
        self._log.write(self.stream, line)
        if self._tail is not None:
            self._tail.add(line + b"\n")

    def _platform_line(self, text: str | None) -> None:
        if text is not None:  # None: filtered out by SystemLogLevel
            self._write(text.encode())

    # -- RuntimeSession (called by the Runtime API) ---------------------------------------------
    async def next_invocation(self) -> Invocation:
        if not self._init_done.done() and not self._runtime_ready:
            self._runtime_ready = True
            if self.extensions.ready():
                self._end_init()
            else:  # Init also waits for every extension to register and call /event/next
                self._init_waiter = asyncio.get_running_loop().create_task(self._await_extensions())
        first, self._first = self._first, None
        init = self._init_done
        ended = init.done() and not init.cancelled() and init.exception() is None
        if first is not None and ended and not first.outcome.done():
            # Init is over and an invoke waits for it: handed over now, not once that invoke's
            # task has woken to queue it (two turns of the loop on every cold start).
            self._tail = TailBuffer()
            self._budget.reset()
            return self._deliver(first)
        # The previous invoke is over once the runtime asks for the next one.
        if self._queued is not None:
            invocation, self._queued = self._queued, None
            return self._deliver(invocation)
        waiter = asyncio.get_running_loop().create_future()
        self._next_waiter = waiter
        try:
            invocation = await waiter
        finally:
            if self._next_waiter is waiter:
                self._next_waiter = None
        return self._deliver(invocation)

    def _start_line(self, invocation: Invocation) -> None:
        self._platform_line(self._controls.start(invocation.request_id, self.config.version))

    def _end_init(self) -> None:
        if self._init_done.done():
            return
        self.extensions.close_registration()
        self._init_done.set_result(time.monotonic() - self._started_at)
        if self._sandbox is not None:
            # Once the runtime's first event is on its way: the quota is a cgroup write
            # (~0.1 ms) that would otherwise hold that answer back on every cold start.
            asyncio.get_running_loop().call_soon(self._sandbox.end_of_init)

    async def _await_extensions(self) -> None:
        await self.extensions.until_ready()
        error = self.extensions.init_error
        if error is None:
            self._end_init()
            return
        message = f"RequestId: {self._initializing_for} Error: an extension failed Init ({error})"
        outcome = Outcome(error_payload("Extension.InitError", message), "Unhandled", fatal=True)
        self._fail_init(outcome)

    def _deliver(self, invocation: Invocation) -> Invocation:
        self._start_line(invocation)
        invocation.deadline_ms = int((time.time() + invocation.timeout) * 1000)
        self._current = invocation
        self._extensions_busy = self.extensions.send_invoke(
            invocation.request_id,
            invocation.deadline_ms,
            invocation.invoked_arn,
            invocation.trace_id,
        )
        return invocation

    def respond(self, request_id: str, body: bytes, content_type: str) -> str | None:
        current = self._current
        if current is None or current.request_id != request_id:
            return "InvalidRequestID"
        if content_type == "too-large":
            current.finish(response_too_large_outcome())
        else:
            current.finish(Outcome(body, None, content_type))
        return None

    def open_stream(self, request_id: str, content_type: str) -> ResponseStream | str:
        """The runtime starts a streamed response (the Runtime API reads it into the stream)."""
        current = self._current
        if current is None or current.request_id != request_id or current.outcome.done():
            return "InvalidRequestID"
        if current.response_stream is not None:
            return "InvalidStateTransition"
        opened = current.opened
        stream = ResponseStream(content_type, collect=opened is None)
        current.response_stream = stream
        if opened is not None and not opened.done():
            opened.set_result(stream)
        return stream

    def close_stream(
        self, stream: ResponseStream, error_type: str | None, error_body: bytes | None
    ) -> None:
        """The streamed response ended: whole, or with the error the runtime reported in its
        trailers (or the platform found: too large, cut off)."""
        current = self._current
        if current is None or current.response_stream is not stream:
            return  # already over (timed out, crashed)
        if error_type is not None or error_body is not None:
            body = error_body or b""
            try:
                json.loads(body)
            except (ValueError, RecursionError):
                body = error_payload(error_type or "Unhandled", body.decode(errors="replace"))
            current.finish(Outcome(body, "Unhandled"))
        elif stream.size > stream.limit:
            current.finish(
                response_too_large_outcome() if stream.collect else streamed_too_large_outcome()
            )
        else:
            payload = stream.payload() if stream.collect else b""
            current.finish(Outcome(payload, None, stream.content_type))

    def fail(self, request_id: str, body: bytes, error_type: str | None) -> str | None:
        current = self._current
        if current is None or current.request_id != request_id:
            return "InvalidRequestID"
        try:
            json.loads(body)
        except (ValueError, RecursionError):
            body = error_payload(error_type or "Unhandled", body.decode(errors="replace"))
        current.finish(Outcome(body, "Unhandled"))
        return None

    def fail_init(self, body: bytes, error_type: str | None) -> None:
        try:
            json.loads(body)
        except (ValueError, RecursionError):
            body = error_payload(error_type or "Runtime.Unknown", body.decode(errors="replace"))
        self._fail_init(Outcome(body, "Unhandled", fatal=True))

    def _fail_init(self, outcome: Outcome) -> None:
        if not self._init_done.done():
            self._init_done.set_exception(InitFailed(outcome))
            self._init_done.exception()  # mark retrieved: a failed init may have no waiter

    # -- invoke --------------------------------------------------------------------------------
    async def invoke(self, invocation: Invocation) -> tuple[Outcome, str]:
        """Run one invocation; returns its outcome and the base64 tail of its log."""
        self.state = State.BUSY
        self._initializing_for = invocation.request_id
        init_duration: float | None = None
        cold = not self._init_done.done()
        try:
            if cold:
                self._first = invocation
                try:
                    init_duration = await self._until_initialized()
                finally:
                    self._first = None
            else:  # no await: a runtime that exits meanwhile would leave it queued, unanswered
                init_duration = self._init_done.result()
        except InitFailed as failure:
            self._frame_failed_init(invocation, failure.outcome)
            await self.stop()
            return failure.outcome, self._log_tail()
        except TimeoutError:
            outcome = timeout_outcome(invocation.request_id, INIT_TIMEOUT)
            self._frame_failed_init(invocation, outcome)
            await self.stop()
            return outcome, self._log_tail()
        if not cold:
            init_duration = None
        started = time.monotonic()
        if self._current is invocation:
            pass  # the runtime's first `/next` took it as Init ended (`next_invocation`)
        elif self._next_waiter is not None and not self._next_waiter.done():
            self._tail = TailBuffer()
            self._budget.reset()
            self._next_waiter.set_result(invocation)
        else:
            self._tail = TailBuffer()
            self._budget.reset()
            self._queued = invocation
        # A timer that finishes the invocation, rather than wait_for: no task or extra future
        # per invoke on the hot path.
        timer = asyncio.get_running_loop().call_later(invocation.timeout, self._expire, invocation)
        try:
            outcome = await asyncio.shield(invocation.outcome)
        finally:
            timer.cancel()
        if outcome.undelivered:
            self._current = None
            await self.stop()
            return outcome, ""
        duration = (time.monotonic() - started) * 1000
        self._read_output()  # whatever the runtime printed before responding is in the pipe now
        if outcome.fatal and self._sandbox is not None:
            self._sandbox.kill()
        self._finish_log(invocation, outcome, duration, init_duration)
        self._current = None
        if outcome.fatal or self.state is State.DEAD:
            await self.stop()
        elif self._extensions_busy:
            # The caller gets its response now; the environment is free once its extensions are.
            remaining = max(0.0, invocation.deadline_ms / 1000 - time.time())
            loop = asyncio.get_running_loop()
            self.settling = loop.create_task(self._settle(invocation, remaining))
        else:
            self.state = State.IDLE
            self.last_used = time.monotonic()
        return outcome, self._log_tail()

    def _expire(self, invocation: Invocation) -> None:
        """The invocation's timeout passed: it ends with Lambda's timeout error."""
        finished = invocation.finish(timeout_outcome(invocation.request_id, invocation.timeout))
        if finished and self._current is not invocation:  # the runtime never asked for it
            self._start_line(invocation)

    async def _settle(self, invocation: Invocation, remaining: float) -> None:
        try:
            await asyncio.wait_for(self.extensions.until_ready(), remaining)
        except TimeoutError:
            self._platform_line(
                f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}Z {invocation.request_id} "
                f"Task timed out after {invocation.timeout:.2f} seconds (extensions still busy)"
            )
            await self.stop()
            return
        self._extensions_busy = False
        if self.state is State.BUSY:
            self.state = State.IDLE
            self.last_used = time.monotonic()

    def _frame_failed_init(self, invocation: Invocation, outcome: Outcome) -> None:
        self._tail = TailBuffer()
        self._read_output()
        self._start_line(invocation)
        init = time.monotonic() - self._started_at
        try:
            error = json.loads(outcome.payload)
            error_type = error.get("errorType", "Runtime.Unknown")
            self._platform_line(self._controls.init_failed(error_type, init * 1000))
        except ValueError:
            pass
        self._finish_log(invocation, outcome, 0.0, init)

    def _finish_log(
        self, invocation: Invocation, outcome: Outcome, duration_ms: float, init: float | None
    ) -> None:
        request_id = invocation.request_id
        if outcome.fatal and outcome.function_error:
            with contextlib.suppress(ValueError, AttributeError):
                error = json.loads(outcome.payload)
                if error.get("errorType") in ("Sandbox.Timedout", "Runtime.ExitError"):
                    self._platform_line(
                        f"{time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime())}Z {request_id} {error['errorMessage']}"
                    )
        memory = self._sandbox.peak_memory_mb() if self._sandbox else 0
        status, error_type = _status(outcome)
        report = Report(
            request_id=request_id,
            duration_ms=duration_ms,
            memory_size=self.config.memory_size,
            max_memory_used=memory,
            init_ms=None if init is None else init * 1000,
            status=status,
            error_type=error_type,
            produced_bytes=(
                len(outcome.payload)
                if invocation.response_stream is None
                else invocation.response_stream.size
            ),
        )
        for line in self._controls.end(report):
            self._platform_line(line)
        self._log.flush_soon()

    def _log_tail(self) -> str:
        return base64.b64encode(self._tail.value() if self._tail else b"").decode()
