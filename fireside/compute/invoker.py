"""The Invoke operation: RequestResponse, Event and DryRun, on top of the environment pool.

Invokes run the function's *active* configuration: the newest one whose code is unpacked and
ready. While an update is in progress, callers keep getting the previous code, as on Lambda.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.compute.async_queue import AsyncQueue, Delivery, QueuedEvent
from fireside.compute.aws_names import AwsNames
from fireside.compute.concurrency import Concurrency
from fireside.compute.credentials import REUSE_AGE
from fireside.compute.environment import EndpointCloser, Launch
from fireside.compute.errors import lambda_error, not_authorized
from fireside.compute.functions import LATEST, FunctionConfig
from fireside.compute.invocation import MAX_SYNC_PAYLOAD, Invocation, Outcome
from fireside.compute.policies import Policies
from fireside.compute.pool import EnvironmentManager
from fireside.compute.registry import FunctionRegistry, named_account, parse_function_name
from fireside.compute.streaming import ResponseStream, StreamedInvocation, invoke_events
from fireside.compute.versions import Versions
from fireside.http.streams import ClosingStream
from fireside.ids import trace_id
from fireside.runtimes import registry as runtimes
from fireside.sandbox.base import TemplateSession
from fireside.sandbox.opt import OptTrees
from fireside.store.blobs import BlobStore
from fireside.supervisor import TaskSet

MAX_ASYNC_PAYLOAD = 1_048_576  # 1 MB for Event invokes

ActiveKey = tuple[str, str, str]


def _too_large(limit: int) -> ServiceError:
    return lambda_error(
        "RequestTooLargeException",
        f"Request must be smaller than {limit} bytes for the InvokeFunction operation",
        Type="User",
    )


def _event_too_large(size: int) -> ServiceError:
    """AWS's answer to an Event invoke over the async limit. Its code is not in Lambda's
    model (the sync limit's is RequestTooLargeException), but it is what AWS sends and what
    code falling back to S3 catches."""
    return ServiceError(
        "RequestEntityTooLargeException",
        f"{size} byte payload is too large for the Event invocation type "
        f"(limit {MAX_ASYNC_PAYLOAD} bytes)",
        413,
        Type="User",
    )


def _check_json(payload: bytes) -> None:
    try:
        json.loads(payload)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise lambda_error(
            "InvalidRequestContentException",
            "Could not parse request body into json: Could not parse payload into json: "
            + _parser_words(payload, exc),
            Type="User",
        ) from exc


def _unexpected(char: str) -> str:
    code = ord(char)
    if code < 0x20 or 0x7F <= code <= 0x9F:
        return f"Unexpected character ((CTRL-CHAR, code {code})): {_VALUE_EXPECTED}"
    return f"Unexpected character ('{char}' (code {code})): {_VALUE_EXPECTED}"


_VALUE_EXPECTED = (
    "expected a valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')"
)


def _parser_words(payload: bytes, exc: Exception) -> str:
    """What AWS's (Jackson) parser says about a payload that is not JSON, for the cases its
    words are recorded: a character that cannot start a value, and a byte that cannot start
    a UTF-8 character inside one. Python's own words otherwise."""
    if isinstance(exc, UnicodeDecodeError):
        first = len(payload) - len(payload.lstrip(b" \t\r\n"))
        if exc.start == first:  # Jackson looks at the first byte before decoding anything
            return _unexpected(chr(payload[first]))
        if exc.reason == "invalid start byte":
            return f"Invalid UTF-8 start byte 0x{payload[exc.start]:02x}"
    if (
        isinstance(exc, json.JSONDecodeError)
        and exc.msg == "Expecting value"
        and exc.pos < len(exc.doc)
        and not exc.doc[exc.pos].isalnum()  # a letter starts a token, worded otherwise
    ):
        return _unexpected(exc.doc[exc.pos])
    return str(exc)


class Invoker:
    def __init__(
        self,
        functions: FunctionRegistry,
        blobs: BlobStore,
        manager: EnvironmentManager,
        queue: AsyncQueue,
        *,
        endpoint_url: str,
        work_root: Path,
        credentials_for: Callable[[str, str, str], tuple[str, str, str]],
        revoke_credentials: Callable[[str], None] | None = None,
        serve_endpoint: Callable[[socket.socket], Awaitable[EndpointCloser]] | None = None,
        aws_names: AwsNames | None = None,
        egress: bool = True,
        private_egress: bool = False,
        opt_trees: OptTrees | None = None,
        versions: Versions,
        concurrency: Concurrency,
        policies: Policies | None = None,
    ) -> None:
        self._functions = functions
        self._blobs = blobs
        self._manager = manager
        self.queue = queue
        self._endpoint_url = endpoint_url
        self._work_root = work_root
        self._credentials_for = credentials_for
        self._revoke_credentials = revoke_credentials
        self._serve_endpoint = serve_endpoint
        self._aws_names = aws_names
        self._egress = egress
        self._private_egress = private_egress
        self._opt_trees = opt_trees
        self._versions = versions
        self._concurrency = concurrency
        self._policies = policies
        self._active: dict[ActiveKey, FunctionConfig] = {}
        #: The runs behind `invoke_stream`: they outlive a caller that stops reading.
        self._streaming = TaskSet("streamed invocations")
        #: Runtimes whose shared trees were built in this run (`build_runtime`).
        self._built: set[str] = set()
        #: Runtime names (as configured) whose resolved runtime is built (`_code_ready`).
        self._built_for: set[str] = set()
        #: Their commands, resolved once: a resolve searches the host for the interpreter
        #: (0.1-0.4 ms), and a snapshot start asked for it three times.
        self._commands: dict[str, runtimes.RuntimeCommand] = {}

    # -- which configuration runs --------------------------------------------------------------
    def activate(self, config: FunctionConfig) -> None:
        key = (config.account, config.region, config.name)
        previous = self._active.get(key)
        self._active[key] = config
        if previous is not None and previous.revision_id != config.revision_id:
            self._manager.retire(previous.arn, LATEST)  # published versions keep theirs

    def deactivate(self, config: FunctionConfig) -> None:
        self._active.pop((config.account, config.region, config.name), None)
        self._manager.retire(config.arn)

    def retire_version(self, version: FunctionConfig) -> None:
        self._manager.retire(version.arn, version.version)

    def _runnable(
        self, account: str, region: str, name: str, qualifier: str | None
    ) -> FunctionConfig:
        """The configuration an invoke of `qualifier` runs now (an alias picks its version)."""
        if qualifier in (None, LATEST):
            active = self._active.get((account, region, name))
            if active is not None:
                return active
            config = self._versions.resolve(account, region, name, qualifier)[0]
        else:
            config, alias = self._versions.resolve(account, region, name, qualifier)
            if alias is not None:
                picked = alias.pick_version()
                if picked != config.version:
                    found = self._functions.version(account, region, name, picked)
                    config = found or config
                if config.is_latest:  # an alias may point at $LATEST
                    return self._runnable(account, region, name, None)
            if config.state == "Active":
                return config
        raise lambda_error(
            "ResourceConflictException",
            "The operation cannot be performed at this time. The function is currently in "
            f"the following state: {config.state}",
            Type="User",
        )

    # -- the operation -------------------------------------------------------------------------
    def _owner(self, ctx: RequestContext, params: dict[str, Any]) -> tuple[str, str, str | None]:
        """(account, name, qualifier) of the function an Invoke names. Another account's
        function runs when its resource policy grants the caller's account
        `lambda:InvokeFunction` on the ARN named (`fireside.compute.policies`); otherwise
        AWS's AccessDeniedException, the same whether or not the function exists."""
        account = ctx.account_id
        named = named_account(params["FunctionName"])
        if named is not None and named != account and self._policies is not None:
            name, qualifier = parse_function_name(
                params["FunctionName"], named, ctx.region, params.get("Qualifier")
            )
            if not self._policies.allows_invoke(
                named, ctx.region, name, qualifier, principal_account=account
            ):
                arn = f"arn:aws:lambda:{ctx.region}:{named}:function:{name}"
                raise not_authorized(
                    account, "lambda:InvokeFunction", f"{arn}:{qualifier}" if qualifier else arn
                )
            return named, name, qualifier
        name, qualifier = parse_function_name(
            params["FunctionName"], account, ctx.region, params.get("Qualifier")
        )
        return account, name, qualifier

    async def invoke(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        account, name, qualifier = self._owner(ctx, params)
        config = self._runnable(account, ctx.region, name, qualifier)
        kind = params.get("InvocationType", "RequestResponse")
        payload: bytes = params.get("Payload") or b"{}"
        if kind == "DryRun":
            return {"StatusCode": 204}
        if kind == "Event":
            if len(payload) > MAX_ASYNC_PAYLOAD:
                raise _event_too_large(len(payload))
            _check_json(payload)
            self.queue.enqueue(
                account, ctx.region, name, qualifier or LATEST, ctx.request_id, payload
            )
            return {"StatusCode": 202}
        invocation = self._sync_invocation(ctx, params, config, qualifier)
        outcome, tail = await self._run(config, invocation)
        result: dict[str, Any] = {
            "StatusCode": 200,
            "Payload": outcome.payload,
            "ExecutedVersion": config.version,
        }
        if outcome.function_error:
            result["FunctionError"] = outcome.function_error
        if params.get("LogType") == "Tail":
            result["LogResult"] = tail
        return result

    def _sync_invocation(
        self,
        ctx: RequestContext,
        params: dict[str, Any],
        config: FunctionConfig,
        qualifier: str | None,
    ) -> Invocation:
        """A RequestResponse invocation of `config`, its payload and client context checked."""
        payload: bytes = params.get("Payload") or b"{}"
        if len(payload) > MAX_SYNC_PAYLOAD:
            raise _too_large(MAX_SYNC_PAYLOAD)
        _check_json(payload)
        client_context = None
        if params.get("ClientContext"):
            try:
                client_context = base64.b64decode(params["ClientContext"], validate=True).decode()
            except ValueError as exc:
                raise lambda_error(
                    "InvalidRequestContentException",
                    "Client context must be a valid Base64-encoded JSON object.",
                    Type="User",
                ) from exc
        return Invocation(
            request_id=ctx.request_id,
            payload=payload,
            invoked_arn=config.arn if qualifier is None else f"{config.arn}:{qualifier}",
            timeout=float(config.timeout),
            trace_id=trace_id(),
            client_context=client_context,
        )

    async def invoke_with_response_stream(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        """InvokeWithResponseStream: PayloadChunk events as the function writes, then
        InvokeComplete. A function that does not stream answers in one PayloadChunk."""
        if params.get("InvocationType") == "DryRun":
            return await self.invoke(ctx, params)
        streamed = await self.invoke_stream(ctx, params)
        return {
            "StatusCode": 200,
            "ExecutedVersion": streamed.executed_version,
            "EventStream": ClosingStream(invoke_events(streamed), streamed.detach),
        }

    async def invoke_stream(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> StreamedInvocation:
        """Run a function and hand back its response while it is being produced.

        `params` are Invoke's (FunctionName, Qualifier, Payload, ClientContext, LogType).
        Returns once the function has begun answering: its first streamed chunk, or its whole
        response if it does not stream. Everything that fails before that (unknown function,
        bad payload, throttling) raises its `ServiceError` as Invoke would; failures after it
        (a function error, a timeout) end the stream and are in `completion`.
        """
        account, name, qualifier = self._owner(ctx, params)
        config = self._runnable(account, ctx.region, name, qualifier)
        invocation = self._sync_invocation(ctx, params, config, qualifier)
        return await self._stream(config, invocation, params.get("LogType") == "Tail")

    async def call_stream(
        self,
        account: str,
        region: str,
        name: str,
        qualifier: str | None,
        payload: bytes,
        *,
        request_id: str,
        trace: str,
    ) -> StreamedInvocation:
        """`call` for a front door that streams (a Function URL in RESPONSE_STREAM mode):
        returns once the function has begun answering, as `invoke_stream` does; read the
        response with `StreamedInvocation.parts()` (the HTTP prelude's metadata first, when the
        function wrote one, then body bytes) and then `completion`. Raises Invoke's
        ServiceErrors (not found, not ready, throttled) before anything is streamed."""
        config = self._runnable(account, region, name, qualifier)
        invocation = Invocation(
            request_id=request_id,
            payload=payload,
            invoked_arn=config.arn if qualifier is None else f"{config.arn}:{qualifier}",
            timeout=float(config.timeout),
            trace_id=trace,
        )
        return await self._stream(config, invocation, False)

    async def _stream(
        self, config: FunctionConfig, invocation: Invocation, log_tail: bool
    ) -> StreamedInvocation:
        loop = asyncio.get_running_loop()
        opened = invocation.opened = loop.create_future()
        result: asyncio.Future[tuple[Outcome, str]] = loop.create_future()

        async def run() -> None:
            try:
                outcome = await self._run(config, invocation)
            except BaseException as exc:
                if not result.done():
                    result.set_exception(exc)
                if not isinstance(exc, ServiceError | asyncio.CancelledError):
                    raise  # a bug: logged by the task set
                return
            if not result.done():
                result.set_result(outcome)

        self._streaming.spawn(run(), name=f"invoke-stream {invocation.request_id}")
        try:
            await asyncio.wait([opened, result], return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            # The caller left before the function answered: it runs on, nobody listening
            # (its stream, once it opens, drops what comes instead of waiting for a reader).
            opened.add_done_callback(_detach_opened)
            result.add_done_callback(_retrieve)
            raise
        if opened.done():
            stream: ResponseStream | None = opened.result()
        else:
            result.result()  # raises what failed before the function answered
            stream = None
        return StreamedInvocation(config.version, stream, result, log_tail=log_tail)

    async def call(
        self,
        account: str,
        region: str,
        name: str,
        qualifier: str | None,
        payload: bytes,
        *,
        request_id: str,
        trace: str,
    ) -> tuple[FunctionConfig, Outcome]:
        """A synchronous invoke for a front door (`fireside.gateway.integration`): the payload
        is the front door's own JSON event, so it is neither measured nor parsed again here.
        Raises Invoke's ServiceErrors (not found, not ready, throttled)."""
        config = self._runnable(account, region, name, qualifier)
        invocation = Invocation(
            request_id=request_id,
            payload=payload,
            invoked_arn=config.arn if qualifier is None else f"{config.arn}:{qualifier}",
            timeout=float(config.timeout),
            trace_id=trace,
        )
        outcome, _tail = await self._run(config, invocation)
        return config, outcome

    async def _run(self, config: FunctionConfig, invocation: Invocation) -> tuple[Outcome, str]:
        latest = self._functions.require(config.account, config.region, config.name)
        with self._concurrency.slot(latest):
            return await self._run_in_slot(config, invocation)

    async def _run_in_slot(
        self, config: FunctionConfig, invocation: Invocation
    ) -> tuple[Outcome, str]:
        await self._code_ready(config)
        key = (config.qualified_arn, config.revision_id)
        if config.snapshot_starts and not self._forks_snapshots(config):
            # Snapshot starts where the runtime cannot be forked: an initialised spare.
            self._manager.prepare_spare(lambda: self._launch(config), key)
        return await self._manager.invoke(lambda: self._launch(config), key, invocation)

    async def _code_ready(self, config: FunctionConfig) -> None:
        """The code and layer trees, checked once per run (made again if damaged: a tree left
        by a power loss is not trusted because it exists); a set lookup after the first. So
        are the runtime's own trees (`build_runtime`)."""
        if (
            not config.layers
            and config.runtime in self._built_for
            and self._blobs.verified(config.code_digest)
        ):
            return  # every invoke after the first (no runtime lookup, no tuple per call)
        for digest in (config.code_digest, *(layer["digest"] for layer in config.layers)):
            if not self._blobs.verified(digest):
                await asyncio.to_thread(self._blobs.unpack, digest)
        with contextlib.suppress(runtimes.RuntimeUnavailable, OSError):
            # Else the start tries again and reports it.
            command = runtimes.resolve(config.runtime)
            await self.build_runtime(command)
            self._commands[config.runtime] = command
            self._built_for.add(config.runtime)

    async def build_runtime(self, command: runtimes.RuntimeCommand) -> None:
        """What the runtime builds once for every function (an interpreter's image), built
        before an environment starts rather than inside its Init (blocking work: a thread)."""
        cache = self._manager.backend.cache
        if cache is not None and command.runtime not in self._built:
            await asyncio.to_thread(command.build, cache)
            self._built.add(command.runtime)

    def _command(self, runtime: str) -> runtimes.RuntimeCommand:
        """The runtime's command: resolved once it is built, else now (RuntimeUnavailable)."""
        command = self._commands.get(runtime)
        return command if command is not None else runtimes.resolve(runtime)

    def _forks_snapshots(self, config: FunctionConfig) -> bool:
        """Whether the sandbox forks this function's snapshot starts from a template."""
        try:
            snapshot = self._command(config.runtime).snapshot
        except runtimes.RuntimeUnavailable:
            return False  # the start itself reports it
        return self._manager.backend.forks_snapshots(snapshot)

    def _launch(self, config: FunctionConfig, initialization_type: str = "on-demand") -> Launch:
        """Everything a new environment of `config` needs (fresh credentials included)."""
        latest = self._functions.get(config.account, config.region, config.name) or config
        # Tags belong to the function, not to a version: off, or private (and public) addresses.
        egress_tag = latest.tags.get("fireside:egress", "on")
        snapshot_key = template_session = None
        if config.snapshot_starts and initialization_type == "on-demand":
            initialization_type = "snap-start"
        if config.snapshot_starts and self._forks_snapshots(config):
            # The pool retires a version's templates by this prefix (`EnvironmentManager.retire`).
            snapshot_key = f"{config.qualified_arn}#{config.revision_id}"
            template_session = self._template_session(config)
        return Launch(
            config=config,
            command=self._command(config.runtime),
            task_root=self._blobs.tree(config.code_digest),
            work_root=self._work_root,
            endpoint_url=self._endpoint_url,
            credentials=self._credentials_for(config.account, config.role, config.name),
            revoke_credentials=self._revoke_credentials,
            serve_endpoint=self._serve_endpoint,
            aws_names=self._aws_names,
            egress=self._egress and egress_tag != "off",
            private_egress=self._private_egress or egress_tag == "private",
            initialization_type=initialization_type,
            snapshot_key=snapshot_key,
            template_session=template_session,
            layers=[self._blobs.tree(layer["digest"]) for layer in config.layers],
            compose_opt=self._opt_trees.merged if self._opt_trees else None,
        )

    def _template_session(self, config: FunctionConfig) -> Callable[[], TemplateSession]:
        """What issues the credentials of a template's Init: clients it creates keep them in
        every environment forked from it, so they are revoked with the template (or when its
        version is deleted) and expire like any environment's."""

        def issue() -> TemplateSession:
            key, secret, token = self._credentials_for(config.account, config.role, config.name)
            revoke = self._revoke_credentials
            return TemplateSession(
                env={
                    "AWS_ACCESS_KEY_ID": key,
                    "AWS_SECRET_ACCESS_KEY": secret,
                    "AWS_SESSION_TOKEN": token,
                },
                revoke=(lambda: revoke(key)) if revoke is not None else lambda: None,
                fork_for=REUSE_AGE,
            )

        return issue

    # -- provisioned concurrency ---------------------------------------------------------------
    async def provision(self, version: FunctionConfig, count: int) -> int:
        """Keep `count` initialised environments of `version`; returns how many are ready."""
        await self._code_ready(version)
        return await self._manager.provision(
            lambda: self._launch(version, "provisioned-concurrency"),
            (version.qualified_arn, version.revision_id),
            count,
        )

    def release_provisioned(self, version: FunctionConfig) -> None:
        self._manager.release_provisioned((version.qualified_arn, version.revision_id))

    async def deliver(self, event: QueuedEvent) -> Delivery:
        """Run one queued Event invoke (called by the async queue's dispatcher)."""
        qualifier = None if event.qualifier == LATEST else event.qualifier
        try:
            config = self._runnable(event.account, event.region, event.function, qualifier)
        except ServiceError as exc:
            if exc.code != "ResourceConflictException":
                raise  # gone: the queue drops the event
            # Not ready yet (e.g. still being prepared after a restart): try again shortly.
            raise lambda_error("TooManyRequestsException", "function not ready") from exc
        invocation = Invocation(
            request_id=event.request_id,
            payload=event.payload,
            invoked_arn=config.arn if qualifier is None else f"{config.arn}:{qualifier}",
            timeout=float(config.timeout),
            trace_id=trace_id(),
        )
        outcome, _tail = await self._run(config, invocation)
        return Delivery(outcome, config.version)


def _retrieve(future: asyncio.Future[tuple[Outcome, str]]) -> None:
    if not future.cancelled():
        future.exception()


def _detach_opened(opened: asyncio.Future[ResponseStream]) -> None:
    if not opened.cancelled() and opened.exception() is None:
        opened.result().detach()
