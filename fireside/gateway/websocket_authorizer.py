"""Lambda REQUEST authorizers of WebSocket APIs, run on the `$connect` handshake.

As API Gateway runs them ("Creating a Lambda REQUEST authorizer function" for WebSocket
APIs): the identity sources (`route.request.header.<name>`, `route.request.querystring.<name>`,
`stageVariables.<name>`, `context.<name>`) must all be present and non-empty, else the
handshake is refused 401 without calling the function. The function gets the `$connect`
event with `type: "REQUEST"` and `methodArn`
(`arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/$connect`) and answers an IAM
policy (`principalId`, `policyDocument`, `context`): no statement allowing
`execute-api:Invoke` on the method ARN, or one denying it, refuses the handshake 403; a
function failing with the message `Unauthorized` is 401; any other failure or a malformed
answer is 500. The result (`principalId`, the `context` members and `integrationLatency`)
is `requestContext.authorizer` of every event of the connection.

`AWS_IAM` on `$connect` wants the handshake signed with SigV4 (the `Authorization` header or a
presigned URL's `X-Amz-*` query parameters, service `execute-api`): unsigned or badly signed,
403; the signer's identity is `requestContext.identity`'s `accessKey`, `accountId`,
`caller`, `user` and `userArn` on every event of the connection.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from fireside.aws.auth import Authenticator
from fireside.aws.errors import ServiceError
from fireside.gateway.http_api_authorizers import policy_allows
from fireside.gateway.http_api_rules import lambda_arn_of
from fireside.gateway.integration import (
    ApiGatewaySource,
    FunctionCaller,
    FunctionRef,
    IntegrationFailure,
)
from fireside.gateway.request_parts import query_pairs
from fireside.gateway.websocket_api_parts import WEBSOCKET_IDENTITY
from fireside.http.types import Request

__all__ = ["Denied", "WebSocketAuthorizer", "iam_identity"]

log = logging.getLogger(__name__)

_TIMEOUT = 10.0


class Denied(Exception):
    """The handshake is refused with `status` (401, 403 or 500)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status = status
        self.detail = detail


class WebSocketAuthorizer:
    def __init__(self, caller: FunctionCaller, *, clock: Callable[[], float] = time.time) -> None:
        self._caller = caller
        self._clock = clock

    @staticmethod
    def identity(
        authorizer: Mapping[str, Any],
        request: Request,
        stage_variables: Mapping[str, str],
        context: Mapping[str, Any],
    ) -> list[str]:
        """The identity sources' values; Denied 401 when one is missing or empty."""
        query = dict(query_pairs(request.query))
        values: list[str] = []
        for source in authorizer.get("IdentitySource") or ():
            match = WEBSOCKET_IDENTITY.fullmatch(str(source).strip())
            if match is None:
                raise Denied(500, f"unsupported identity source {source}")
            where, name = match[1], match[2]
            value: Any
            if where == "route.request.header":
                value = request.headers.get(name.lower())
            elif where == "route.request.querystring":
                value = query.get(name)
            elif where == "stageVariables":
                value = stage_variables.get(name)
            else:
                value = context.get(name)
            if value is None or value == "":
                raise Denied(401, f"identity source {source} is missing")
            values.append(str(value))
        return values

    async def check(
        self,
        authorizer: Mapping[str, Any],
        request: Request,
        event: dict[str, Any],
        *,
        account: str,
        region: str,
        api_id: str,
        method_arn: str,
        stage_variables: Mapping[str, str],
        trace_id: str,
    ) -> dict[str, Any]:
        """`requestContext.authorizer` for a handshake the authorizer lets through; `event`
        is the `$connect` event (without an authorizer). Raises Denied."""
        self.identity(authorizer, request, stage_variables, event["requestContext"])
        arn = lambda_arn_of(str(authorizer.get("AuthorizerUri", "")))
        if arn is None:
            raise Denied(500, f"authorizer URI {authorizer.get('AuthorizerUri')} names no function")
        asked = {"type": "REQUEST", "methodArn": method_arn, **event}
        source = ApiGatewaySource(
            f"arn:aws:execute-api:{region}:{account}:{api_id}"
            f"/authorizers/{authorizer.get('AuthorizerId')}",
            account,
        )
        started = self._clock()
        try:
            answer = await self._caller.call(
                FunctionRef.parse(arn, account, region),
                json.dumps(asked).encode(),
                source,
                request_id=str(uuid.uuid4()),
                trace_id=trace_id,
                timeout=_TIMEOUT,
            )
        except IntegrationFailure as failure:
            raise Denied(500, str(failure)) from None
        latency = int((self._clock() - started) * 1000)
        if answer.function_error is not None:
            if _error_message(answer.payload) == "Unauthorized":
                raise Denied(401, "the authorizer said Unauthorized")
            raise Denied(500, f"the authorizer failed: {answer.payload[:200]!r}")
        try:
            decided = json.loads(answer.payload)
        except (ValueError, RecursionError):
            raise Denied(500, "the authorizer's answer is not JSON") from None
        if not isinstance(decided, dict) or not isinstance(decided.get("policyDocument"), dict):
            raise Denied(500, "the authorizer's answer has no policyDocument")
        context = decided.get("context")
        if context is not None and not isinstance(context, dict):
            raise Denied(500, "the authorizer's context is not an object")
        if not policy_allows(decided["policyDocument"], method_arn):
            raise Denied(403, "the authorizer's policy does not allow $connect")
        result: dict[str, Any] = {}
        for key, value in (context or {}).items():
            if isinstance(value, str | int | float | bool):  # API Gateway drops the rest
                result[str(key)] = value
        result["principalId"] = decided.get("principalId")
        result["integrationLatency"] = latency
        return result


def _error_message(payload: bytes) -> str | None:
    try:
        error = json.loads(payload)
    except (ValueError, RecursionError):
        return None
    message = error.get("errorMessage") if isinstance(error, dict) else None
    return message if isinstance(message, str) else None


def iam_identity(authenticator: Authenticator | None, request: Request) -> dict[str, Any]:
    """The signer of a handshake on an `AWS_IAM` `$connect` route; Denied 403 if unsigned or
    the signature is refused."""
    if authenticator is None:
        raise Denied(403, "no authenticator")
    if "authorization" not in request.headers and "X-Amz-Signature" not in request.query:
        raise Denied(403, "unsigned handshake on an AWS_IAM $connect route")
    try:
        caller = authenticator.authenticate(request)
    except ServiceError as error:
        raise Denied(403, f"signature refused: {error.message}") from None
    who = authenticator.identity(caller.access_key_id, caller.account_id)
    return {
        "accessKey": caller.access_key_id,
        "accountId": who.account_id,
        "caller": who.user_id,
        "user": who.user_id,
        "userArn": who.arn,
    }
