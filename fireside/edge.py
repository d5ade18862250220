"""The edge: every request to Fireside's one endpoint enters here and is routed to a service.

Routing: a signed request goes to the service its SigV4 credential scope names (as on AWS,
where each service has its own host); an unsigned header such as `X-Amz-Target` never moves it
to another service: it only tells apart services that share a signing name (DynamoDB and
DynamoDB Streams). Unsigned requests (allowed only when no credentials are configured) are
routed by `X-Amz-Target` (json protocols) or path prefix. Then: parse from the service model -> provider method -> serialize. Anything that is
not a `ServiceError` is a Fireside bug: a 500 `ServiceException` with the request id, logged.
Fireside's own endpoints live under `/_fireside/` and unknown paths get a 404 JSON body.
Requests addressed to a front door (a Function URL, an API Gateway API: by host, or by a
`/_aws/` path, see `fireside.gateway.addresses`) go to it before any of that.
Services sharing a signing name are told apart by `X-Amz-Target`, then by path prefix
(API Gateway's v2 API is `/v2/...`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

from fireside.aws.auth import DEFAULT_ACCOUNT, Authenticator, Caller
from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.aws.model import load_service, services_signed_as
from fireside.aws.protocol import WireProtocol, not_implemented, protocol_for
from fireside.gateway.addresses import FrontDoorAddress, FrontDoors, recognize
from fireside.gateway.addresses import body_limit as front_door_body_limit
from fireside.http.types import Handler, Request, Response
from fireside.ids import request_id as new_request_id

log = logging.getLogger(__name__)

# `Credential=AKID/20260101/us-east-1/<service>/aws4_request` (X-Amz-Credential in a URL).
_SCOPE = re.compile(r"Credential=[^/,&\s]*/[0-9]{8}/[^/,&\s]+/([^/,&\s]+)/aws4_request")

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(slots=True)
class Service:
    #: SigV4 signing name, e.g. "lambda".
    name: str
    protocol: WireProtocol
    operations: dict[str, Operation]
    #: Path prefixes that identify the service in unsigned requests.
    path_prefixes: tuple[str, ...] = ()
    #: `X-Amz-Target` prefix of json-protocol services (e.g. "DynamoDB_20120810").
    target_prefix: str | None = None
    #: Largest request body in bytes, when lower than the server's `max_body` (AWS's own
    #: limit plus slack, so the service still answers near-limit requests with its error).
    max_body: int | None = None
    #: Another AWS API signs with the same name and is told apart by path (API Gateway's v1
    #: and v2): a signed request outside `path_prefixes` is not this service's, and is
    #: answered as a call to the other (served or not).
    prefixes_only: bool = False
    #: Actions (query protocol) AWS serves unsigned, even when credentials are required:
    #: SNS's `ConfirmSubscription`, the link a subscription confirmation carries.
    unsigned_actions: frozenset[str] = frozenset()
    #: Maps the request path before parsing, once the signature (over the path as sent) is
    #: checked: the `@connections` API is served under any stage prefix.
    path_rewrite: Callable[[str], str] | None = None
    #: The model's signing name, when the protocol should not be made to tell it (a
    #: `Deferred` one); by default read from the model (dynamodbstreams signs as "dynamodb").
    signing_name: str | None = None


def _unsigned(request: Request) -> bool:
    return "authorization" not in request.headers and "X-Amz-" not in request.query


def json_response(
    status: int, body: object, headers: list[tuple[str, str]] | None = None
) -> Response:
    return Response(
        status,
        [("Content-Type", "application/json"), *(headers or [])],
        json.dumps(body).encode(),
    )


class Edge:
    def __init__(
        self,
        authenticator: Authenticator,
        services: list[Service],
        internal: Handler,
        endpoint_url: str,
        region: str = "us-east-1",
        front_doors: FrontDoors | None = None,
    ) -> None:
        self._auth = authenticator
        self._front_doors = front_doors
        self._region = region
        #: Signing name (from the model: dynamodbstreams signs as "dynamodb") -> the services
        #: signed with it, the first being the default.
        self._by_signing: dict[str, list[Service]] = {}
        for service in services:
            signing_name = service.signing_name or service.protocol.service.signing_name
            self._by_signing.setdefault(signing_name, []).append(service)
        self._by_prefix = [(p, s) for s in services for p in s.path_prefixes]
        self._by_target = {s.target_prefix: s for s in services if s.target_prefix}
        self._internal = internal
        #: Protocols of services Fireside does not provide, by signing name.
        self._unserved_protocols: dict[tuple[str, bool], tuple[WireProtocol, ...]] = {}
        self._endpoint_url = endpoint_url
        self._capped = [s for s in services if s.max_body is not None]
        self._open_actions = {a: s for s in services for a in s.unsigned_actions}

    def body_limit(self, path: str, headers: Mapping[str, str]) -> int | None:
        """The body bound of the service (or front door) a request head names, if it has its
        own.

        Read before the body arrives, so it routes by the head alone: `X-Amz-Target` or the
        credential scope's service (a presigned URL's scope is not looked at: the server's
        `max_body` applies)."""
        if self._front_doors is not None:
            door = front_door_body_limit(path, headers)
            if door is not None:
                return door
        if not self._capped:
            return None
        target = headers.get("x-amz-target")
        if target:
            service = self._by_target.get(target.partition(".")[0])
            return service.max_body if service is not None else None
        authorization = headers.get("authorization", "")
        for service in self._capped:
            if f"/{service.name}/aws4_request" in authorization:
                return service.max_body
        return None

    def _route_signed(self, request: Request, signing_name: str) -> Service | None:
        candidates = self._by_signing.get(signing_name)
        if not candidates:
            return None
        target = request.headers.get("x-amz-target")
        if len(candidates) > 1 and target:
            prefix = target.partition(".")[0]
            for service in candidates:
                if service.target_prefix == prefix:
                    return service
        for service in candidates:  # API Gateway's two APIs: `/v2/...` is apigatewayv2
            path = request.path
            if service.path_rewrite is not None:
                path = service.path_rewrite(path)
            if any(path.startswith(p) for p in service.path_prefixes):
                return service
        first = candidates[0]
        return None if first.prefixes_only else first

    def _unsigned_action(self, request: Request) -> Service | None:
        """The service of an unsigned query-string call to an action AWS serves unsigned."""
        if not self._open_actions or not request.query or not _unsigned(request):
            return None
        try:
            action = dict(parse_qsl(request.query, max_num_fields=100)).get("Action", "")
        except ValueError:  # too many fields: not such a call
            return None
        return self._open_actions.get(action)

    def _route_unsigned(self, request: Request) -> Service | None:
        target = request.headers.get("x-amz-target")
        if target:
            return self._by_target.get(target.partition(".")[0])
        for prefix, service in self._by_prefix:
            path = request.path
            if service.path_rewrite is not None:
                path = service.path_rewrite(path)
            if path.startswith(prefix):
                return service
        return None

    async def __call__(self, request: Request) -> Response:
        if self._front_doors is not None:
            address = recognize(request)
            if address is not None:
                return await self._front_door(address, request)
        if request.path.startswith("/_fireside/"):
            return await self._internal(request)
        if (
            request.path == "/"
            and request.method == "GET"
            and _unsigned(request)
            and self._unsigned_action(request) is None
        ):
            # DynamoDB answers an unsigned `GET /` as a health check, and some clients and
            # load balancers probe the endpoint so. (A signed `GET /` is S3's ListBuckets.)
            return Response(
                200,
                [("Content-Type", "text/plain")],
                f"healthy: dynamodb.{self._region}.amazonaws.com ".encode(),
            )
        request_id = new_request_id()
        service = None
        try:
            open_to_all = self._unsigned_action(request)
            if open_to_all is not None:
                caller = Caller("", DEFAULT_ACCOUNT, self._region, None, False)
            else:
                caller = self._auth.authenticate(request)
            if open_to_all is not None:
                service = open_to_all
            elif caller.service is not None:
                service = self._route_signed(request, caller.service)
            else:
                service = self._route_unsigned(request)
            if service is None:
                return await self._unserved(request, caller.service, request_id)
            sent_path = request.path
            if service.path_rewrite is not None:
                request = dataclasses.replace(request, path=service.path_rewrite(request.path))
            try:
                parsed = service.protocol.parse(request)
            except ServiceError as error:
                if self._other_version(service, error) and caller.service is not None:
                    # Classic ELB signs as elbv2 does: another API version is another service.
                    return await self._unserved(request, caller.service, request_id)
                raise
            operation = service.operations.get(parsed.operation_name)
            if operation is None:
                raise not_implemented(parsed.operation_name, service.protocol.service)
            ctx = RequestContext(
                caller.account_id,
                caller.region,
                request_id,
                self._endpoint_url,
                caller.access_key_id,
                request.headers.get("host", ""),
                sent_path,
            )
            result = await operation(ctx, parsed.params)
            return service.protocol.serialize_result(parsed.operation_name, result, request_id)
        except ServiceError as error:
            # A failed signature check comes before routing: answer in the protocol of the
            # service the credential scope names, which is the one the client can parse.
            return self._error(service or self._scoped(request), error, request_id)
        except Exception:
            log.exception(
                "internal error (request id %s) on %s %s", request_id, request.method, request.path
            )
            bug = ServiceError(
                "ServiceException",
                f"Internal error in Fireside (request id {request_id}); see the server log.",
                500,
                sender_fault=False,
            )
            return self._error(service, bug, request_id)

    @staticmethod
    def _other_version(service: Service, error: ServiceError) -> bool:
        """Whether a query-protocol request named an API version that is not `service`'s."""
        return (
            error.code == "InvalidAction"
            and " for version " in error.message
            and not error.message.endswith(f" for version {service.protocol.service.api_version}")
        )

    async def _front_door(self, address: FrontDoorAddress, request: Request) -> Response:
        assert self._front_doors is not None
        try:
            return await self._front_doors(address, request)
        except Exception:
            request_id = new_request_id()
            log.exception(
                "internal error (request id %s) in the %s front door on %s %s",
                request_id,
                address.kind,
                request.method,
                request.path,
            )
            return json_response(
                500, {"message": "Internal server error"}, [("x-amzn-RequestId", request_id)]
            )

    async def _unserved(
        self, request: Request, signing_name: str | None, request_id: str
    ) -> Response:
        """A request for a service Fireside does not provide: answered in that service's own
        protocol when botocore knows it (so its clients can parse the refusal), naming the
        operation; otherwise a JSON 404."""
        if signing_name is None:
            return self._unknown_service(request, None, request_id)
        found = await self._parse_unserved(request, signing_name, every=False)
        if found is None or found[1] is None:  # others may sign so too: try every one
            found = await self._parse_unserved(request, signing_name, every=True) or found
        if found is None:
            return self._unknown_service(request, signing_name, request_id)
        chosen, parsed = found
        operation = parsed or "(unknown)"
        error = not_implemented(operation, chosen.service)
        error.message = (
            f"Fireside does not provide {chosen.service.service_id} yet ({operation} was called)"
        )
        return chosen.serialize_error(error, request_id)

    async def _parse_unserved(
        self, request: Request, signing_name: str, *, every: bool
    ) -> tuple[WireProtocol, str | None] | None:
        """The first protocol of the services signed as `signing_name` that parses the request,
        with its operation; else the first protocol with None; None when there is none.
        Services sharing a signing name (elb and elbv2) are told apart this way."""
        protocols = await self._protocols_of_unserved(signing_name, every)
        for protocol in protocols:
            try:
                return protocol, protocol.parse(request).operation_name
            except ServiceError:
                continue
        return (protocols[0], None) if protocols else None

    async def _protocols_of_unserved(
        self, signing_name: str, every: bool
    ) -> tuple[WireProtocol, ...]:
        key = (signing_name, every)
        found = self._unserved_protocols.get(key)
        if found is not None:
            return found
        protocols = []
        for name in await asyncio.to_thread(services_signed_as, signing_name, every=every):
            try:
                protocols.append(protocol_for(load_service(name)))
            except NotImplementedError:  # a protocol Fireside has no codec for (ec2)
                continue
        if len(self._unserved_protocols) < 1024:  # bounded: signing names come from clients
            self._unserved_protocols[key] = tuple(protocols)
        return tuple(protocols)

    def _unknown_service(
        self, request: Request, signing_name: str | None, request_id: str
    ) -> Response:
        return json_response(
            404,
            {
                "message": f"No service at {request.method} {request.path}"
                + (f" (signed for service {signing_name!r})" if signing_name else ""),
                "__type": "UnknownServiceException",
            },
            [("x-amzn-RequestId", request_id)],
        )

    def _scoped(self, request: Request) -> Service | None:
        """The service named by a request's credential scope (header or presigned URL)."""
        match = _SCOPE.search(request.headers.get("authorization") or unquote(request.query))
        candidates = self._by_signing.get(match[1]) if match else None
        return candidates[0] if candidates else None

    def _error(self, service: Service | None, error: ServiceError, request_id: str) -> Response:
        if service is not None:
            return service.protocol.serialize_error(error, request_id)
        headers = [("x-amzn-RequestId", request_id), ("x-amzn-ErrorType", error.code)]
        headers += list(error.headers.items())
        return json_response(
            error.status, {"__type": error.code, "message": error.message}, headers
        )
