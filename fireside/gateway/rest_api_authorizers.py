"""Lambda authorizers of REST APIs (TOKEN and REQUEST), run before a CUSTOM method's
integration, as API Gateway runs them.

- TOKEN: the identity source names one header (`method.request.header.Authorization`); an empty
  or missing token, or one that `identityValidationExpression` does not match, is 401
  `{"message":"Unauthorized"}` without calling the function. The event is
  `{"type": "TOKEN", "authorizationToken", "methodArn"}`.
- REQUEST: the identity sources (comma-separated `method.request.header.X`,
  `method.request.querystring.X`, `stageVariables.X`, `context.X`) must all be present, else 401.
  The event is the request's payload 1.0 event with `type: "REQUEST"` and `methodArn`.
- The function answers `{principalId, policyDocument, context, usageIdentifierKey}`. A policy
  statement denying `execute-api:Invoke` on the method ARN is 403
  `{"Message":"User is not authorized to access this resource with an explicit deny"}`; no
  statement allowing it, 403 `{"Message":"User is not authorized to access this resource"}`
  (AWS writes `Message` here). A function failing with the message `Unauthorized` is 401; any
  other failure or a malformed answer is 500 `{"message": null}`
  (`AuthorizerConfigurationException`).
- Answers are cached per authorizer and identity (`authorizerResultTtlInSeconds`, 300 by
  default; 0 turns it off) and the cached policy is evaluated against each method ARN.
- `principalId` and `context` reach the integration as `requestContext.authorizer`; with the
  API's `apiKeySource` AUTHORIZER, `usageIdentifierKey` is the request's API key.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import OrderedDict
from typing import Any

from fireside.gateway.integration import (
    ApiGatewaySource,
    FunctionCaller,
    FunctionRef,
    IntegrationFailure,
)
from fireside.gateway.payload_v1 import build_event
from fireside.gateway.rest_api_door import RestCall
from fireside.gateway.rest_api_errors import gateway_error
from fireside.gateway.rest_api_templates import map_parameter
from fireside.http.types import Response

__all__ = ["LambdaAuthorizers"]

log = logging.getLogger(__name__)

_URI = re.compile(
    r"arn:aws[a-z-]*:apigateway:[a-z0-9-]+:lambda:path/[0-9-]+/functions/(.+)/invocations"
)
_STAGE_VARIABLE = re.compile(r"\$\{stageVariables\.([A-Za-z0-9_.-]+)\}")
#: Cached answers kept at most (bounded memory); the oldest go first.
_CACHE_SIZE = 10_000
_DENIED = "User is not authorized to access this resource"


def _forbidden(message: str, request_id: str) -> Response:
    return Response(
        403,
        [
            ("Content-Type", "application/json"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", "AccessDeniedException"),
        ],
        json.dumps({"Message": message}).encode(),
    )


def _unauthorized(request_id: str) -> Response:
    return gateway_error(401, "Unauthorized", request_id, "UnauthorizedException")


def _misconfigured(request_id: str) -> Response:
    return Response(
        500,
        [
            ("Content-Type", "application/json"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", "AuthorizerConfigurationException"),
        ],
        b'{"message":null}',
    )


def _glob(pattern: str) -> re.Pattern[str]:
    """A policy resource pattern (`*` any run of characters, `?` one) as a regex."""
    return re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    )


def evaluate(policy: Any, method_arn: str) -> str | None:
    """None when `policy` allows `method_arn`; else the 403 message."""
    statements = policy.get("Statement", []) if isinstance(policy, dict) else []
    if isinstance(statements, dict):
        statements = [statements]
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        if not any(_glob(a.lower()).fullmatch("execute-api:invoke") for a in actions):
            continue
        resources = statement.get("Resource", [])
        resources = [resources] if isinstance(resources, str) else resources
        if not any(_glob(str(r)).fullmatch(method_arn) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return f"{_DENIED} with an explicit deny"
        allowed = allowed or statement.get("Effect") == "Allow"
    return None if allowed else _DENIED


class LambdaAuthorizers:
    """The `authorize` hook of `RestApiDoor`."""

    def __init__(self, caller: FunctionCaller, clock: Any = time.monotonic) -> None:
        self._caller = caller
        self._clock = clock
        self._cache: OrderedDict[tuple[str, ...], tuple[float, dict[str, Any]]] = OrderedDict()

    async def __call__(self, call: RestCall, authorizer: dict[str, Any]) -> Response | None:
        kind = str(authorizer.get("type", "TOKEN")).upper()
        if kind not in ("TOKEN", "REQUEST"):
            log.warning("REST API %s: %s authorizers are not supported", call.api["id"], kind)
            return _misconfigured(call.request_id)
        source = call.template_input()
        method_arn = (
            f"arn:aws:execute-api:{call.region}:{call.account}:{call.api['id']}/"
            f"{call.stage['stageName']}/{call.request.method}{call.path}"
        )
        sources = [s.strip() for s in str(authorizer.get("identitySource", "")).split(",")]
        identity = [map_parameter(s, source) if s else None for s in sources]
        if kind == "TOKEN":
            token = identity[0] if identity else None
            expression = authorizer.get("identityValidationExpression")
            if not token or (expression and not re.fullmatch(expression, token)):
                return _unauthorized(call.request_id)
            event: dict[str, Any] = {
                "type": "TOKEN",
                "authorizationToken": token,
                "methodArn": method_arn,
            }
        else:
            if sources != [""] and any(not value for value in identity):
                return _unauthorized(call.request_id)
            event = {
                "type": "REQUEST",
                "methodArn": method_arn,
                **build_event(
                    call.request,
                    path=call.path,
                    resource=call.resource_path,
                    api_id=call.api["id"],
                    account_id=call.account,
                    domain_name=call.address.host.rsplit(":", 1)[0],
                    stage=call.stage["stageName"],
                    request_id=call.request_id,
                    now=call.started,
                    trace_id=f"Root=1-{int(call.started):08x}-{call.request_id[:24]}",
                    resource_id=call.match.resource["id"],
                    path_parameters=call.match.path_parameters,
                    stage_variables=call.stage.get("variables") or {},
                ),
            }
        ttl = int(authorizer.get("authorizerResultTtlInSeconds", 300))
        key = (call.api["id"], authorizer["id"], *[v or "" for v in identity])
        answer = self._cached(key) if ttl > 0 and sources != [""] else None
        if answer is None:
            found = await self._run(call, authorizer, event)
            if isinstance(found, Response):
                return found
            answer = found
            if ttl > 0 and sources != [""]:
                self._remember(key, answer, ttl)
        refused = evaluate(answer.get("policyDocument"), method_arn)
        if refused is not None:
            return _forbidden(refused, call.request_id)
        context = answer.get("context") if isinstance(answer.get("context"), dict) else {}
        call.authorizer = {"principalId": answer.get("principalId"), **(context or {})}
        if answer.get("usageIdentifierKey") is not None:
            call.usage_key = str(answer["usageIdentifierKey"])
        return None

    async def _run(
        self, call: RestCall, authorizer: dict[str, Any], event: dict[str, Any]
    ) -> dict[str, Any] | Response:
        variables = call.stage.get("variables") or {}
        uri = _STAGE_VARIABLE.sub(
            lambda m: variables.get(m[1], ""), str(authorizer.get("authorizerUri", ""))
        )
        match = _URI.fullmatch(uri)
        if match is None:
            log.warning(
                "REST API %s: authorizer %s has no Lambda URI", call.api["id"], authorizer["id"]
            )
            return _misconfigured(call.request_id)
        function = FunctionRef.parse(match[1], call.account, call.region)
        source = ApiGatewaySource(
            f"arn:aws:execute-api:{call.region}:{call.account}:{call.api['id']}/authorizers/"
            f"{authorizer['id']}",
            call.account,
        )
        try:
            result = await self._caller.call(
                function,
                json.dumps(event).encode(),
                source,
                request_id=call.request_id,
                trace_id=f"Root=1-{int(call.started):08x}-{call.request_id[:24]}",
                timeout=10.0,  # AWS's limit for authorizers
            )
        except IntegrationFailure as failure:
            log.warning("REST API %s: authorizer failed: %s", call.api["id"], failure)
            return _misconfigured(call.request_id)
        try:
            answer = json.loads(result.payload)
        except (ValueError, RecursionError):  # nested too deep to read is not JSON to us
            answer = None
        if result.function_error is not None:
            if isinstance(answer, dict) and answer.get("errorMessage") == "Unauthorized":
                return _unauthorized(call.request_id)
            log.warning(
                "REST API %s: authorizer function failed: %s", call.api["id"], result.payload[:500]
            )
            return _misconfigured(call.request_id)
        if not isinstance(answer, dict) or not isinstance(answer.get("policyDocument"), dict):
            log.warning(
                "REST API %s: authorizer answered no policy: %s",
                call.api["id"],
                result.payload[:500],
            )
            return _misconfigured(call.request_id)
        return answer

    def _cached(self, key: tuple[str, ...]) -> dict[str, Any] | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        expires, answer = entry
        if expires <= self._clock():
            del self._cache[key]
            return None
        return answer

    def _remember(self, key: tuple[str, ...], answer: dict[str, Any], ttl: int) -> None:
        self._cache[key] = (self._clock() + ttl, answer)
        self._cache.move_to_end(key)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
