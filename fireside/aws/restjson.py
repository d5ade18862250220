"""The rest-json protocol (Lambda; later API Gateway, Kafka...), driven by the service model.

A request is routed by method and path (`rest.Router`), its located members are read from
labels, query and headers (`bindings.InputBinding`), the rest from the JSON body
(`jsoncodec.JsonCodec`) or, for a blob `payload` member such as Invoke's `Payload`, the raw
body; then the params are checked against the model's constraints (`validation.Validator`).
Results and errors go back the way botocore's `RestJSONParser` reads them.

Everything per operation is compiled when the protocol is built, so parsing a Lambda Invoke
is a route match, a few header lookups and one regex check on the function name.

    proto = RestJsonProtocol(load_service("lambda"))
    parsed = proto.parse(request)
    response = proto.serialize_result("Invoke", {"StatusCode": 200, "Payload": b"{}"}, rid)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Final

from fireside.aws.bindings import InputBinding, OutputBinding
from fireside.aws.errors import ServiceError
from fireside.aws.eventstream import EventStreamSerializer
from fireside.aws.jsoncodec import Decoder, Encoder, JsonCodec
from fireside.aws.model import Operation, ServiceModel, Shape
from fireside.aws.plans import OnDemand
from fireside.aws.protocol import DecodeError, ParsedRequest
from fireside.aws.rest import Router, parse_query
from fireside.aws.validation import Validator
from fireside.http.streams import ClosingStream
from fireside.http.types import Request, Response

__all__ = ["RestJsonProtocol"]

_JSON: Final = ("Content-Type", "application/json")
_EMPTY_QUERY: Final[dict[str, list[str]]] = {}
# How a payload member travels: the raw body (blob/string) or a JSON document (structure).
_RAW, _DOCUMENT, _EVENTS = "raw", "document", "events"


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _payload_kind(shape: Shape) -> str:
    if shape.event_stream:
        return _EVENTS
    return _RAW if shape.type_name in ("blob", "string") else _DOCUMENT


def _has_body_members(shape: Shape) -> bool:
    return any(member.location is None for member in shape.members.values())


class _InputPlan:
    __slots__ = ("binding", "body", "payload", "payload_kind", "payload_required", "validator")

    def __init__(
        self,
        operation: Operation,
        codec: JsonCodec,
        literal_keys: frozenset[str],
        unchecked: frozenset[str] = frozenset(),
    ):
        shape = operation.input
        self.binding = InputBinding(operation, literal_keys)
        self.payload: str | None = shape.payload if shape is not None else None
        self.payload_kind: str | None = None
        self.payload_required = False
        #: Decodes the JSON body: the payload member's document, or the body members.
        self.body: Decoder | None = None
        self.validator: Validator | None = None
        if shape is None:
            return
        if self.payload is not None:
            member = shape.members[self.payload]
            self.payload_kind = _payload_kind(member)
            # A required raw payload is present even when empty (InvokeAsync's InvokeArgs).
            self.payload_required = self.payload in shape.required
            if self.payload_kind == _DOCUMENT:
                self.body = codec.decoder(member)
        elif _has_body_members(shape):
            self.body = codec.decoder(shape)
        self.validator = Validator(shape, unchecked=unchecked)


class _OutputPlan:
    __slots__ = ("binding", "body", "events", "payload", "payload_kind", "status")

    def __init__(self, operation: Operation, codec: JsonCodec):
        shape = operation.output
        self.status = operation.response_code
        self.binding = OutputBinding(shape)
        self.payload: str | None = shape.payload if shape is not None else None
        self.payload_kind: str | None = None
        #: Encodes the JSON body: the payload member's document, or the body members.
        self.body: Encoder | None = None
        self.events: EventStreamSerializer | None = None
        if shape is None:
            return
        if self.payload is not None:
            member = shape.members[self.payload]
            self.payload_kind = _payload_kind(member)
            if self.payload_kind == _DOCUMENT:
                self.body = codec.encoder(member)
            elif self.payload_kind == _EVENTS:
                self.events = EventStreamSerializer(member, codec)
        elif _has_body_members(shape):
            self.body = codec.encoder(shape)


class _ErrorPlan:
    __slots__ = ("binding", "fields", "has_type", "message_key")

    def __init__(self, shape: Shape | None, codec: JsonCodec):
        members = shape.members if shape is not None else {}
        # The message goes under the member name the model uses; Lambda mixes `message` and
        # `Message` (ResourceNotFoundException...), botocore reads either.
        message = next((m for m in ("message", "Message") if m in members), None)
        self.message_key = (members[message].location_name or message) if message else "message"
        self.has_type = "Type" in members
        self.binding = OutputBinding(shape)
        self.fields: dict[str, tuple[str, Encoder]] = {
            name: (member.location_name or name, codec.encoder(member))
            for name, member in members.items()
            if member.location is None
        }


class RestJsonProtocol:
    """rest-json parsing and serialization for one service (implements `WireProtocol`)."""

    def __init__(
        self,
        service: ServiceModel,
        *,
        content_error_code: str = "InvalidRequestContentException",
        unchecked: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        """`content_error_code`: the error for undecodable content (Lambda's by default);
        `unchecked`: per operation, the input members whose values the provider checks
        itself instead of the model validator (see `Validator`)."""
        self._service = service
        self._content_error_code = content_error_code
        self._router = Router(service)
        codec = JsonCodec("unixTimestamp")
        routes = {route.operation.name: route for route in self._router.routes}

        def input_plan(name: str) -> _InputPlan:
            route = routes[name]
            literal_keys = frozenset(key for key, _ in route.query_literals)
            checked_by_provider = (unchecked or {}).get(name, frozenset())
            return _InputPlan(route.operation, codec, literal_keys, checked_by_provider)

        self._inputs = OnDemand(routes, input_plan)
        self._outputs = OnDemand(routes, lambda name: _OutputPlan(routes[name].operation, codec))
        self._errors = {s.error_code: _ErrorPlan(s, codec) for s in service.error_shapes()}
        self._unmodelled_error = _ErrorPlan(None, codec)

    @property
    def service(self) -> ServiceModel:
        return self._service

    # -- requests ---------------------------------------------------------------------------

    def parse(self, request: Request) -> ParsedRequest:
        query = parse_query(request.query) if request.query else _EMPTY_QUERY
        operation, labels = self._router.match(request.method, request.path, query)
        plan = self._inputs[operation.name]
        params: dict[str, Any] = {}
        try:
            plan.binding.bind(labels, query, request.headers, params)
        except DecodeError as exc:
            raise self._content_error(f"Could not parse request parameters: {exc}") from None
        body = request.body
        payload = plan.payload
        if payload is None:
            if plan.body is not None and body:
                params.update(self._decode_body(body, plan.body))
        elif plan.payload_kind == _RAW:
            if body or plan.payload_required:
                params[payload] = body
        elif plan.body is not None and body:
            document = self._decode_body(body, plan.body)
            # botocore sends `{}` when the payload structure is absent.
            if document != {}:
                params[payload] = document
        if plan.validator is not None:
            plan.validator.validate(params)
        return ParsedRequest(operation.name, params)

    def _decode_body(self, body: bytes, decode: Decoder) -> Any:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            raise self._content_error(f"Could not parse request body into json: {exc}") from None
        try:
            return decode(document)
        except DecodeError as exc:
            raise self._content_error(f"Could not parse request body into json: {exc}") from None
        except RecursionError:
            raise self._content_error(
                "Could not parse request body into json: nested too deeply"
            ) from None

    def _content_error(self, message: str) -> ServiceError:
        return ServiceError(self._content_error_code, message, 400, Type="User")

    # -- responses --------------------------------------------------------------------------

    def serialize_result(
        self, operation_name: str, result: Mapping[str, Any], request_id: str
    ) -> Response:
        plan = self._outputs[operation_name]
        headers: list[tuple[str, str]] = [("x-amzn-RequestId", request_id)]
        status = plan.binding.render(result, headers) or plan.status
        body = b""
        if plan.payload is None:
            if plan.body is not None:
                body = _dumps(plan.body(result))
                headers.append(_JSON)
        elif plan.events is not None and value_is_stream(result.get(plan.payload)):
            # An event stream: the provider's events, each framed as it comes.
            if not any(name.lower() == "content-type" for name, _ in headers):
                headers.append(("Content-Type", "application/vnd.amazon.eventstream"))
            source = result[plan.payload]
            return Response(
                status,
                headers,
                stream=ClosingStream(_framed(plan.events, source), _closer(source)),
            )
        else:
            value = result.get(plan.payload)
            if plan.payload_kind == _DOCUMENT:
                if value is not None and plan.body is not None:
                    body = _dumps(plan.body(value))
                    headers.append(_JSON)
            else:
                if value is not None:
                    body = value.encode() if isinstance(value, str) else bytes(value)
                # Invoke's payload is the function's JSON unless the model says otherwise
                # (InvokeWithResponseStream carries a Content-Type member).
                if not any(name.lower() == "content-type" for name, _ in headers):
                    headers.append(
                        ("Content-Type", "application/vnd.amazon.eventstream")
                        if plan.payload_kind == _EVENTS
                        else _JSON
                    )
        if status == 204:
            # No body may follow a 204; drop what a provider may have filled in.
            return Response(status, [h for h in headers if h[0] != "Content-Type"], b"")
        return Response(status, headers, body)

    def serialize_error(self, error: ServiceError, request_id: str) -> Response:
        plan = self._errors.get(error.code, self._unmodelled_error)
        headers: list[tuple[str, str]] = [
            ("x-amzn-RequestId", request_id),
            # botocore's RestJSONParser takes the code from this header.
            ("x-amzn-ErrorType", error.code),
            _JSON,
        ]
        fields = error.fields
        body: dict[str, Any] = {}
        if plan.has_type and "Type" not in fields:
            body["Type"] = "User" if error.sender_fault else "Service"
        # AWS sends some errors with a null message (Lambda's cross-account AccessDenied).
        body[plan.message_key] = error.message or None
        if fields:
            plan.binding.render(fields, headers)
            for name, value in fields.items():
                if value is None or name in plan.binding.located:
                    continue
                entry = plan.fields.get(name)
                if entry is None:
                    body[name] = value
                else:
                    body[entry[0]] = entry[1](value)
        present = {name.lower() for name, _ in headers}
        headers.extend((k, v) for k, v in error.headers.items() if k.lower() not in present)
        return Response(error.status, headers, json.dumps(body, default=str).encode())


def value_is_stream(value: object) -> bool:
    return hasattr(value, "__aiter__")


def _closer(source: object) -> Callable[[], Awaitable[None] | None]:
    """What tells the provider's event source that nobody reads on (its own `aclose`)."""
    aclose = getattr(source, "aclose", None)
    return aclose if aclose is not None else (lambda: None)


async def _framed(
    events: EventStreamSerializer, source: AsyncIterator[Mapping[str, Any]]
) -> AsyncIterator[bytes]:
    try:
        async for event in source:
            yield events.encode(event)
    finally:
        aclose = getattr(source, "aclose", None)
        if aclose is not None:
            await aclose()
