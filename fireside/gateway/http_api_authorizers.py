"""Access control of HTTP API routes: JWT authorizers, Lambda (REQUEST) authorizers, AWS_IAM.

A route's `AuthorizationType` says which: `JWT` and `CUSTOM` name an authorizer of the
deployment, `AWS_IAM` wants a SigV4 signature (service `execute-api`), `NONE` lets everyone
in. What each answers, as API Gateway does ("Controlling and managing access to HTTP APIs"):
- a missing identity source, or a JWT that fails a check: 401 `{"message":"Unauthorized"}`;
- a JWT without one of the route's scopes, a Lambda authorizer saying no (`isAuthorized`
  false, or a policy without an `Allow` for the route, or with a `Deny`), an unsigned or
  badly signed request on an `AWS_IAM` route: 403 `{"message":"Forbidden"}`;
- a Lambda authorizer that fails or answers malformed: 500 `{"message":"Internal Server
  Error"}`.
The result is `requestContext.authorizer` of the integration's event: `{"jwt": {"claims",
"scopes"}}`, `{"lambda": context}` or `{"iam": {...}}`.

Lambda authorizers get payload 1.0 or 2.0 (`AuthorizerPayloadFormatVersion`), with `type`
`REQUEST`, the route's ARN (`routeArn`, or `methodArn` in 1.0) and the identity source's
values; they answer a simple response (`{"isAuthorized": bool, "context": {...}}`, 2.0 with
`EnableSimpleResponses`) or an IAM policy (`principalId`, `policyDocument`, `context`). With
`AuthorizerResultTtlInSeconds` > 0, answers are cached per authorizer and identity values.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from fireside.aws.auth import Authenticator
from fireside.aws.errors import ServiceError
from fireside.gateway.http_api_rules import lambda_arn_of
from fireside.gateway.integration import (
    ApiGatewaySource,
    FunctionCaller,
    FunctionRef,
    IntegrationFailure,
)
from fireside.gateway.jwt import InvalidToken, JwksCache, scopes_of, verify
from fireside.gateway.request_parts import query_pairs
from fireside.http.types import Request

__all__ = ["Authorizers", "Refused", "policy_allows"]

log = logging.getLogger(__name__)

_SOURCE = re.compile(r"\$(request\.header|request\.querystring|context|stageVariables)\.(.+)")
_CACHE_ENTRIES = 10_000
_AUTHORIZER_TIMEOUT = 10.0


class Refused(Exception):
    """The request is not let through: answer `status` with `{"message": message}`."""

    def __init__(self, status: int, message: str, headers: list[tuple[str, str]] | None = None):
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.headers = headers or []


def _unauthorized(detail: str = "") -> Refused:
    if detail:
        log.info("HTTP API authorizer: 401 (%s)", detail)
    return Refused(401, "Unauthorized")


def _forbidden(detail: str = "") -> Refused:
    if detail:
        log.info("HTTP API authorizer: 403 (%s)", detail)
    return Refused(403, "Forbidden")


def _failed(detail: str) -> Refused:
    log.warning("HTTP API Lambda authorizer failed: %s", detail)
    return Refused(500, "Internal Server Error")


@dataclass(frozen=True, slots=True)
class AuthRequest:
    """What an authorizer may look at besides the HTTP request."""

    api_id: str
    account: str
    region: str
    stage: str
    route_key: str
    #: `arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>/<path>`.
    route_arn: str
    stage_variables: Mapping[str, str]
    context: Mapping[str, str]
    #: Builds the request's event in payload format "1.0" or "2.0".
    event: Callable[[str], dict[str, Any]]
    trace_id: str


def _claim_text(value: Any) -> str:
    # API Gateway flattens claims to strings: arrays as `[a b]`.
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "[" + " ".join(_claim_text(v) for v in value) + "]"
    return json.dumps(value)


class Authorizers:
    def __init__(
        self,
        caller: FunctionCaller,
        authenticator: Authenticator | None = None,
        *,
        clock: Callable[[], float] = time.time,
        jwks_files: Path | None = None,
    ) -> None:
        self._caller = caller
        self._authenticator = authenticator
        self._clock = clock
        self.keys = JwksCache(clock=clock, files=jwks_files)
        self._cache: dict[tuple[str, str, tuple[str, ...]], tuple[float, Any]] = {}

    async def check(
        self,
        route: Mapping[str, Any],
        authorizers: Mapping[str, dict[str, Any]],
        request: Request,
        about: AuthRequest,
    ) -> dict[str, Any] | None:
        """`requestContext.authorizer` for a request the route lets through; raises Refused."""
        kind = route.get("AuthorizationType") or "NONE"
        if kind == "NONE":
            return None
        if kind == "AWS_IAM":
            return self._iam(request)
        authorizer = authorizers.get(str(route.get("AuthorizerId")))
        if authorizer is None:
            raise _failed(f"route {about.route_key} names no authorizer of its deployment")
        if authorizer.get("AuthorizerType") == "JWT":
            return await self._jwt(authorizer, route, request, about)
        return await self._lambda(authorizer, request, about)

    # -- AWS_IAM ---------------------------------------------------------------------------
    def _iam(self, request: Request) -> dict[str, Any]:
        if self._authenticator is None:
            raise _forbidden("no authenticator")
        if "authorization" not in request.headers and "X-Amz-Signature" not in request.query:
            raise _forbidden("unsigned request on an AWS_IAM route")
        try:
            caller = self._authenticator.authenticate(request)
        except ServiceError as error:
            raise _forbidden(f"signature refused: {error.message}") from None
        who = self._authenticator.identity(caller.access_key_id, caller.account_id)
        return {
            "iam": {
                "accessKey": caller.access_key_id,
                "accountId": who.account_id,
                "callerId": who.user_id,
                "cognitoIdentity": None,
                "principalOrgId": None,
                "userArn": who.arn,
                "userId": who.user_id,
            }
        }

    # -- identity sources ------------------------------------------------------------------
    def _identity(
        self, authorizer: Mapping[str, Any], request: Request, about: AuthRequest
    ) -> list[str]:
        """The identity sources' values; 401 when one is missing or empty."""
        values = []
        query: dict[str, str] | None = None
        for source in authorizer.get("IdentitySource") or ():
            match = _SOURCE.fullmatch(str(source).strip())
            value: str | None = None
            if match is None:
                raise _failed(f"unsupported identity source {source}")
            where, name = match[1], match[2]
            if where == "request.header":
                value = request.headers.get(name.lower())
            elif where == "request.querystring":
                if query is None:
                    query = _query(request.query)
                value = query.get(name)
            elif where == "context":
                value = about.context.get(name)
            else:
                value = about.stage_variables.get(name)
            if not value:
                raise _unauthorized(f"identity source {source} is missing")
            values.append(value)
        return values

    # -- JWT -------------------------------------------------------------------------------
    async def _jwt(
        self,
        authorizer: Mapping[str, Any],
        route: Mapping[str, Any],
        request: Request,
        about: AuthRequest,
    ) -> dict[str, Any]:
        sources = authorizer.get("IdentitySource") or ["$request.header.Authorization"]
        (token, *_) = self._identity({"IdentitySource": sources}, request, about)
        config = authorizer.get("JwtConfiguration") or {}
        try:
            claims = await verify(
                token,
                issuer=str(config.get("Issuer", "")),
                audiences=[str(a) for a in config.get("Audience") or ()],
                keys=self.keys,
                now=self._clock(),
            )
        except InvalidToken as invalid:
            raise _unauthorized(f"JWT refused: {invalid}") from None
        scopes = scopes_of(claims)
        wanted = [str(s) for s in route.get("AuthorizationScopes") or ()]
        if wanted and not set(wanted) & set(scopes):
            raise _forbidden(f"the token has none of the scopes {wanted}")
        return {
            "jwt": {
                "claims": {name: _claim_text(value) for name, value in claims.items()},
                "scopes": scopes or None,
            }
        }

    # -- Lambda authorizers ----------------------------------------------------------------
    async def _lambda(
        self, authorizer: Mapping[str, Any], request: Request, about: AuthRequest
    ) -> dict[str, Any]:
        identity = self._identity(authorizer, request, about)
        ttl = int(authorizer.get("AuthorizerResultTtlInSeconds") or 0)
        key = (about.api_id, str(authorizer.get("AuthorizerId")), tuple(identity))
        now = self._clock()
        cached = self._cache.get(key) if ttl > 0 and identity else None
        if cached is not None and cached[0] > now:
            answer = cached[1]
        else:
            answer = await self._ask(authorizer, identity, about)
            if ttl > 0 and identity:
                if len(self._cache) >= _CACHE_ENTRIES:
                    self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
                    if len(self._cache) >= _CACHE_ENTRIES:
                        self._cache.clear()
                self._cache[key] = (now + ttl, answer)
        return self._decide(authorizer, answer, about)

    async def _ask(
        self, authorizer: Mapping[str, Any], identity: list[str], about: AuthRequest
    ) -> Any:
        arn = lambda_arn_of(str(authorizer.get("AuthorizerUri", "")))
        if arn is None:
            raise _failed(f"authorizer URI {authorizer.get('AuthorizerUri')} names no function")
        version = str(authorizer.get("AuthorizerPayloadFormatVersion") or "2.0")
        event = about.event(version)
        event["type"] = "REQUEST"
        if version == "1.0":
            event["methodArn"] = about.route_arn
            event["identitySource"] = ",".join(identity)
            event["authorizationToken"] = ",".join(identity)
        else:
            event["routeArn"] = about.route_arn
            event["identitySource"] = identity
        source = ApiGatewaySource(
            f"arn:aws:execute-api:{about.region}:{about.account}:{about.api_id}"
            f"/authorizers/{authorizer.get('AuthorizerId')}",
            about.account,
        )
        try:
            answer = await self._caller.call(
                FunctionRef.parse(arn, about.account, about.region),
                json.dumps(event).encode(),
                source,
                request_id=str(uuid.uuid4()),
                trace_id=about.trace_id,
                timeout=_AUTHORIZER_TIMEOUT,
            )
        except IntegrationFailure as failure:
            raise _failed(str(failure)) from None
        if answer.function_error is not None:
            raise _failed(f"the authorizer function failed: {answer.payload[:200]!r}")
        try:
            return json.loads(answer.payload)
        except (ValueError, RecursionError):  # nested too deep to read is not JSON to us
            raise _failed("the authorizer's answer is not JSON") from None

    def _decide(
        self, authorizer: Mapping[str, Any], answer: Any, about: AuthRequest
    ) -> dict[str, Any]:
        if not isinstance(answer, dict):
            raise _failed("the authorizer's answer is not an object")
        context = answer.get("context")
        if context is not None and not isinstance(context, dict):
            raise _failed("the authorizer's context is not an object")
        if authorizer.get("EnableSimpleResponses"):
            allowed = answer.get("isAuthorized")
            if not isinstance(allowed, bool):
                raise _failed("a simple response needs a boolean isAuthorized")
            if not allowed:
                raise _forbidden("the authorizer said no")
            return {"lambda": context or {}}
        policy = answer.get("policyDocument")
        if not isinstance(policy, dict):
            raise _failed("an IAM policy response needs a policyDocument")
        if not _allows(policy, about.route_arn):
            raise _forbidden("the authorizer's policy does not allow the route")
        result: dict[str, Any] = {"lambda": context or {}}
        if answer.get("principalId") is not None:
            result["principalId"] = answer["principalId"]
        return result


def _query(raw: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in query_pairs(raw):
        found[key] = f"{found[key]},{value}" if key in found else value
    return found


def _matches(patterns: Any, value: str) -> bool:
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list):
        return False
    return any(isinstance(p, str) and fnmatchcase(value, p) for p in patterns)


def _allows(policy: Mapping[str, Any], route_arn: str) -> bool:
    """Whether an authorizer's policy allows `execute-api:Invoke` on the route: an Allow
    statement matches it and no Deny does (`*` and `?` wildcards, as IAM reads them)."""
    statements = policy.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    allowed = False
    for statement in statements if isinstance(statements, list) else ():
        if not isinstance(statement, dict):
            continue
        if not _matches(statement.get("Action"), "execute-api:Invoke"):
            continue
        if not _matches(statement.get("Resource"), route_arn):
            continue
        effect = statement.get("Effect")
        if effect == "Deny":
            return False
        if effect == "Allow":
            allowed = True
    return allowed


#: Shared with WebSocket APIs' authorizers (`websocket_authorizer`).
policy_allows = _allows
