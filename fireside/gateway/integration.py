"""How every HTTP front door runs a function: one synchronous call with the front door's event,
the resource-policy check, and the failures a front door answers in its own words.

A front door (Function URL, HTTP API, REST API, and later WebSocket APIs and ALB targets)
builds its event (`payload_v1`, `payload_v2`), names the function (`FunctionRef`), says who is
invoking (`InvokeSource`) and calls `FunctionCaller.call`. It gets the function's answer
(`FunctionAnswer`: payload bytes and `FunctionError`, which the front door interprets), or an
`IntegrationFailure` whose `reason` it maps to its own status and body:

| reason            | Function URL                 | API Gateway (as AWS answers)          |
|-------------------|------------------------------|---------------------------------------|
| `NOT_FOUND`       | 502                          | 500 `Internal server error`           |
| `NOT_PERMITTED`   | 403 `Forbidden...`           | 500 `Internal server error`           |
| `THROTTLED`       | 429                          | 500 ("Internal server error") *       |
| `NOT_READY`       | 502                          | 500                                   |
| `TOO_LARGE`       | 413 (request over 6 MB)      | 413                                   |
| `TIMED_OUT`       | (never: no front-door limit) | 504 (the 29 s integration timeout)    |

(* each front door's module says what it answers and where that comes from.)

An answer over 6 MB never reaches here as a payload: the Runtime API turns it into a
`Function.ResponseSizeTooLarge` function error, which the front doors answer with their 502.

The permission check is one call (`Authorize`): the server's is `resource_policy`, Lambda's
resource policies evaluated as AWS does; `own_account_only` (a function's own account, and
anonymous Function URL requests) is the default for callers without a policy store.
"""

from __future__ import annotations

import asyncio
import enum
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fireside.aws.errors import ServiceError
from fireside.compute.invocation import MAX_SYNC_PAYLOAD
from fireside.compute.invoker import Invoker
from fireside.compute.policies import Policies
from fireside.compute.streaming import StreamedInvocation

__all__ = [
    "ApiGatewaySource",
    "Authorize",
    "ElbSource",
    "Failure",
    "FunctionAnswer",
    "FunctionCaller",
    "FunctionRef",
    "FunctionUrlSource",
    "IntegrationFailure",
    "InvokeSource",
    "own_account_only",
    "resource_policy",
]

ELASTIC_LOAD_BALANCING = "elasticloadbalancing.amazonaws.com"
_FUNCTION_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    r"(?P<name>[a-zA-Z0-9_-]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$"
)


class Failure(enum.Enum):
    NOT_FOUND = "not-found"
    NOT_PERMITTED = "not-permitted"
    THROTTLED = "throttled"
    NOT_READY = "not-ready"
    TOO_LARGE = "too-large"
    TIMED_OUT = "timed-out"


class IntegrationFailure(Exception):
    """The function could not be run; `reason` says why, `detail` is for the logs."""

    def __init__(self, reason: Failure, detail: str = "") -> None:
        super().__init__(f"{reason.value}: {detail}" if detail else reason.value)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class FunctionRef:
    """A function (or one version or alias of it) in an account and region."""

    account: str
    region: str
    name: str
    qualifier: str | None = None

    @classmethod
    def parse(cls, value: str, account: str, region: str) -> FunctionRef:
        """A function ARN (any account's: a policy may open it), or a bare name in `account`
        and `region`, possibly `name:qualifier`."""
        match = _FUNCTION_ARN.match(value)
        if match is not None:
            return cls(match["account"], match["region"], match["name"], match["qualifier"])
        name, _, qualifier = value.partition(":")
        return cls(account, region, name, qualifier or None)

    @property
    def arn(self) -> str:
        base = f"arn:aws:lambda:{self.region}:{self.account}:function:{self.name}"
        return base if self.qualifier is None else f"{base}:{self.qualifier}"


@dataclass(frozen=True, slots=True)
class ApiGatewaySource:
    """API Gateway invoking for the method or route whose `execute-api` ARN is `source_arn`
    (`arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path>`)."""

    source_arn: str
    source_account: str


@dataclass(frozen=True, slots=True)
class FunctionUrlSource:
    """A request to a Function URL: `auth_type` `NONE` (anonymous) or `AWS_IAM`, whose
    signature named `caller_account`."""

    auth_type: str
    caller_account: str | None = None


@dataclass(frozen=True, slots=True)
class ElbSource:
    """An Application Load Balancer invoking for the target group `target_group_arn`
    (`arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>`)."""

    target_group_arn: str
    source_account: str


InvokeSource = ApiGatewaySource | FunctionUrlSource | ElbSource
#: Whether the function's resource policy lets `source` invoke it.
Authorize = Callable[[FunctionRef, InvokeSource], bool]


def own_account_only(function: FunctionRef, source: InvokeSource) -> bool:
    """The check before resource policies: an API of the function's own account; a
    request to the function's URL that is anonymous (`NONE`) or signed by its account."""
    if isinstance(source, (ApiGatewaySource, ElbSource)):
        return source.source_account == function.account
    return source.auth_type == "NONE" or source.caller_account == function.account


def resource_policy(policies: Policies) -> Authorize:
    """The check as AWS makes it: the function's resource policy (of the version or alias
    invoked, `fireside.compute.policies`) must let API Gateway invoke it for the method's
    `execute-api` ARN (an ALB: `elasticloadbalancing.amazonaws.com` for its target group's ARN),
    or, for a Function URL, grant both `lambda:InvokeFunctionUrl` (with
    the URL's auth type) and `lambda:InvokeFunction` (via a Function URL) to the caller:
    anyone (`*`) for `NONE`; for `AWS_IAM` the signer's account, its own needing no grant."""

    def authorize(function: FunctionRef, source: InvokeSource) -> bool:
        if isinstance(source, ApiGatewaySource):
            return policies.allows_api_gateway(
                function.account,
                function.region,
                function.name,
                function.qualifier,
                source_arn=source.source_arn,
                source_account=source.source_account,
            )
        if isinstance(source, ElbSource):
            return policies.allows_invoke(
                function.account,
                function.region,
                function.name,
                function.qualifier,
                principal_service=ELASTIC_LOAD_BALANCING,
                source_arn=source.target_group_arn,
                source_account=source.source_account,
            )
        return policies.allows_function_url(
            function.account,
            function.region,
            function.name,
            function.qualifier,
            auth_type=source.auth_type,
            caller_account=source.caller_account,
        )

    return authorize


@dataclass(frozen=True, slots=True)
class FunctionAnswer:
    payload: bytes
    #: `Unhandled` or `Handled` when the function failed (the payload is its error).
    function_error: str | None
    executed_version: str


class FunctionCaller:
    """Runs a front door's event on a function (see the module docstring)."""

    def __init__(self, invoker: Invoker, authorize: Authorize = own_account_only) -> None:
        self._invoker = invoker
        self.authorize = authorize

    async def call(
        self,
        function: FunctionRef,
        event: bytes,
        source: InvokeSource,
        *,
        request_id: str,
        trace_id: str,
        timeout: float | None = None,
    ) -> FunctionAnswer:
        """Run `event` on `function` and wait for its answer, at most `timeout` seconds (the
        function itself keeps running past it, as on AWS, and its result is dropped)."""
        if len(event) > MAX_SYNC_PAYLOAD:
            raise IntegrationFailure(Failure.TOO_LARGE, f"{len(event)} byte event")
        if not self.authorize(function, source):
            raise IntegrationFailure(Failure.NOT_PERMITTED, function.arn)
        run = self._invoker.call(
            function.account,
            function.region,
            function.name,
            function.qualifier,
            event,
            request_id=request_id,
            trace=trace_id,
        )
        try:
            if timeout is None:
                config, outcome = await run
            else:
                task = asyncio.ensure_future(run)
                done, _ = await asyncio.wait({task}, timeout=timeout)
                if not done:
                    task.add_done_callback(_drop_result)
                    raise IntegrationFailure(Failure.TIMED_OUT, f"after {timeout} s")
                config, outcome = task.result()
        except ServiceError as exc:
            raise IntegrationFailure(_reason(exc), f"{exc.code}: {exc}") from exc
        return FunctionAnswer(outcome.payload, outcome.function_error, config.version)

    async def call_patiently(
        self,
        function: FunctionRef,
        event: bytes,
        source: InvokeSource,
        *,
        request_id: str,
        trace_id: str,
        timeout: float | None = None,
        patience: float = 0.0,
    ) -> FunctionAnswer:
        """`call`, tried again with growing pauses for up to `patience` seconds while it is
        throttled: for events AWS would deliver within the account's concurrency when this
        machine's environments are all busy (a burst of `$disconnect`s)."""
        give_up = time.monotonic() + patience
        pause = 0.05
        while True:
            try:
                return await self.call(
                    function, event, source, request_id=request_id, trace_id=trace_id,
                    timeout=timeout,
                )  # fmt: skip
            except IntegrationFailure as failure:
                if failure.reason is not Failure.THROTTLED or time.monotonic() + pause > give_up:
                    raise
            await asyncio.sleep(pause * (0.5 + random.random()))
            pause = min(pause * 2, 2.0)

    async def call_stream(
        self,
        function: FunctionRef,
        event: bytes,
        source: InvokeSource,
        *,
        request_id: str,
        trace_id: str,
    ) -> StreamedInvocation:
        """Run `event` on `function` for a streaming front door: returns once the function has
        begun answering (`Invoker.call_stream`); failures before that raise as `call`'s do."""
        if len(event) > MAX_SYNC_PAYLOAD:
            raise IntegrationFailure(Failure.TOO_LARGE, f"{len(event)} byte event")
        if not self.authorize(function, source):
            raise IntegrationFailure(Failure.NOT_PERMITTED, function.arn)
        try:
            return await self._invoker.call_stream(
                function.account,
                function.region,
                function.name,
                function.qualifier,
                event,
                request_id=request_id,
                trace=trace_id,
            )
        except ServiceError as exc:
            raise IntegrationFailure(_reason(exc), f"{exc.code}: {exc}") from exc


def _reason(error: ServiceError) -> Failure:
    if error.code == "TooManyRequestsException":
        return Failure.THROTTLED
    if error.code == "ResourceConflictException":
        return Failure.NOT_READY
    if error.code in ("AccessDeniedException",):
        return Failure.NOT_PERMITTED
    return Failure.NOT_FOUND


def _drop_result(task: asyncio.Future[Any]) -> None:
    """A timed-out call's late result (or error) is not anyone's: read it so that asyncio
    does not report it as never retrieved."""
    if not task.cancelled():
        task.exception()
