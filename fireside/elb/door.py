"""The data plane: a request arriving on a listener's port, through its rules to an action.

Rules are evaluated by priority (the default rule last; the sorted list is cached until the
state changes); the first whose conditions all match acts: `fixed-response`, `redirect`
(`#{protocol}`, `#{host}`, `#{port}`, `#{path}`, `#{query}` filled from the request), or
`forward` to one target group or, weighted, one of several. A Lambda target group's function
is run through `FunctionCaller` (the permission check with the target group's ARN as the
source, as AWS makes it), with the event and answer of `fireside.elb.payload`.

Errors are ALB's, with its small HTML bodies: 400 for a WebSocket upgrade (Lambda targets
cannot take one), 413 for a body over 1 MB, 502 when the function fails, answers something
malformed or more than 1 MB, or may not be run, 503 when the target group has no target (or
no target Fireside can reach) or the function is throttled, 504 when it has not answered
within the load balancer's `idle_timeout.timeout_seconds` (60 by default).
"""

from __future__ import annotations

import os
import random
import time
import uuid
from http import HTTPStatus
from typing import Any, Final

from fireside.elb.actions import forward_groups
from fireside.elb.health import matches as status_matches
from fireside.elb.matching import matches
from fireside.elb.payload import MAX_BODY, event, health_check_event, response
from fireside.elb.rules import ordered
from fireside.elb.state import ElbState, Resource
from fireside.gateway.integration import (
    ElbSource,
    Failure,
    FunctionCaller,
    FunctionRef,
    IntegrationFailure,
)
from fireside.http.types import Request, Response

__all__ = ["AlbDoor"]

_SERVER: Final = ("Server", "awselb/2.0")
_DEFAULT_PORTS: Final = {"http": "80", "https": "443"}
#: A load balancer's default idle timeout: a function answering later gets a 504.
_IDLE_TIMEOUT: Final = 60.0


def _page(status: int) -> Response:
    title = f"{status} {HTTPStatus(status).phrase}"
    body = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n</body>\r\n</html>\r\n"
    )
    return Response(status, [_SERVER, ("Content-Type", "text/html")], body.encode())


def _trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}"


class AlbDoor:
    def __init__(self, state: ElbState, caller: FunctionCaller | None = None) -> None:
        self.state = state
        self.caller = caller
        self._rules: dict[str, tuple[int, list[Resource]]] = {}

    def _ordered(self, listener: str) -> list[Resource]:
        cached = self._rules.get(listener)
        if cached is not None and cached[0] == self.state.version:
            return cached[1]
        rules = ordered([r for r in self.state.children(listener) if r.kind == "rule"])
        if len(self._rules) > 4096:
            self._rules.clear()
        self._rules[listener] = (self.state.version, rules)
        return rules

    async def __call__(self, listener_arn: str, request: Request) -> Response:
        listener = self.state.resources.get(listener_arn)
        if listener is None:
            return _page(503)
        if "websocket" in request.headers.get("upgrade", "").lower():
            return _page(400)
        for rule in self._ordered(listener_arn):
            if rule.data["IsDefault"] or matches(request, rule.data["Conditions"]):
                return await self._act(listener, rule.data["Actions"][0], request)
        return _page(503)

    async def _act(self, listener: Resource, action: dict[str, Any], request: Request) -> Response:
        kind = action["Type"]
        if kind == "fixed-response":
            config = action["FixedResponseConfig"]
            return Response(
                int(config["StatusCode"]),
                [
                    _SERVER,
                    ("Content-Type", config.get("ContentType") or "text/plain; charset=utf-8"),
                ],
                (config.get("MessageBody") or "").encode(),
            )
        if kind == "redirect":
            return self._redirect(listener, action["RedirectConfig"], request)
        groups = [(arn, w) for arn, w in forward_groups(action) if w > 0]
        if not groups:
            return _page(503)
        chosen = (
            groups[0][0]
            if len(groups) == 1
            else random.choices([arn for arn, _ in groups], weights=[w for _, w in groups])[0]
        )
        group = self.state.resources.get(chosen)
        if group is None or group.data["TargetType"] != "lambda" or not group.targets:
            return _page(503)
        return await self._invoke(listener, group, request)

    def _redirect(self, listener: Resource, config: dict[str, str], request: Request) -> Response:
        protocol = listener.data["Protocol"].lower()
        host_header = request.headers.get("host", "")
        host = host_header.rpartition(":")[0] if ":" in host_header else host_header
        values = {
            "#{protocol}": protocol,
            "#{host}": host,
            "#{port}": str(listener.data["Port"]),
            "#{path}": request.path.lstrip("/"),
            "#{query}": request.query,
        }

        def fill(text: str) -> str:
            for key, value in values.items():
                text = text.replace(key, value)
            return text

        scheme = fill(config["Protocol"]).lower()
        port = fill(config["Port"])
        path = fill(config["Path"])
        query = fill(config["Query"])
        location = f"{scheme}://{fill(config['Host'])}"
        if port != _DEFAULT_PORTS.get(scheme):
            location += f":{port}"
        location += path + (f"?{query}" if query else "")
        status = 301 if config["StatusCode"] == "HTTP_301" else 302
        return Response(status, [_SERVER, ("Location", location), ("Content-Type", "text/html")])

    async def _invoke(self, listener: Resource, group: Resource, request: Request) -> Response:
        if len(request.body) > MAX_BODY:
            return _page(413)
        if self.caller is None:
            return _page(503)
        multi = group.attributes.get("lambda.multi_value_headers.enabled") == "true"
        target = next(iter(group.targets.values()))["Id"]
        trace = request.headers.get("x-amzn-trace-id") or _trace_id()
        payload = event(
            request,
            target_group_arn=group.arn,
            port=int(listener.data["Port"]),
            protocol=listener.data["Protocol"].lower(),
            trace_id=trace,
            multi_value=multi,
        )
        balancer = self.state.resources.get(listener.parent)
        idle = balancer.attributes.get("idle_timeout.timeout_seconds") if balancer else None
        timeout = float(idle) if idle and idle.isdigit() else _IDLE_TIMEOUT
        status, answer = await self._call(group, target, payload, trace, timeout)
        if answer is None:
            return _page(status)
        answered = response(answer, multi_value=multi)
        if answered is None:
            return _page(502)
        answered.headers.insert(0, _SERVER)
        return answered

    async def _call(
        self, group: Resource, target: str, payload: bytes, trace: str, timeout: float | None
    ) -> tuple[int, bytes | None]:
        """(status, the function's answer) or (the error status, None)."""
        assert self.caller is not None
        function = FunctionRef.parse(target, group.account, group.region)
        try:
            answer = await self.caller.call(
                function,
                payload,
                ElbSource(group.arn, group.account),
                request_id=str(uuid.uuid4()),
                trace_id=trace,
                timeout=timeout,
            )
        except IntegrationFailure as failure:
            if failure.reason is Failure.THROTTLED:
                return 503, None
            if failure.reason is Failure.TIMED_OUT:
                return 504, None
            if failure.reason is Failure.TOO_LARGE:
                return 413, None
            return 502, None
        if answer.function_error is not None:
            return 502, None
        return 200, answer.payload

    async def probe(self, group: Resource, key: str, timeout: float) -> tuple[bool, str, str]:
        """One health check of a Lambda target (`fireside.elb.health.Probe`)."""
        multi = group.attributes.get("lambda.multi_value_headers.enabled") == "true"
        path = group.data.get("HealthCheckPath") or "/"
        payload = health_check_event(group.arn, path, multi_value=multi)
        target = group.targets[key]["Id"] if key in group.targets else key
        status, answer = await self._call(group, target, payload, _trace_id(), timeout)
        if status == 504:
            return False, "Target.Timeout", "Request timed out"
        if answer is None:
            return False, "Target.FailedHealthChecks", "Health checks failed"
        answered = response(answer, multi_value=multi)
        if answered is None:
            return (
                False,
                "Target.ResponseCodeMismatch",
                "Health checks failed with these codes: [502]",
            )
        matcher = (group.data.get("Matcher") or {}).get("HttpCode", "200")
        if not status_matches(answered.status, matcher):
            return (
                False,
                "Target.ResponseCodeMismatch",
                f"Health checks failed with these codes: [{answered.status}]",
            )
        return True, "", ""
