"""The json 1.0/1.1 protocol (DynamoDB, DynamoDB Streams; later SQS-json, Kinesis...).

Every call is `POST /` with the operation named by `X-Amz-Target: <targetPrefix>.<Operation>`
and the whole input as one JSON object (`jsoncodec.JsonCodec`), checked against the model's
constraints (`validation.Validator`). Results are one JSON object; errors are

    {"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException", "message": "..."}

with the modelled error members beside the message. botocore takes the code from the part of
`__type` after `#`. Errors every Coral service shares (validation, serialization, unknown
operation, throttling) carry Coral's own namespaces, as AWS sends them.

Services whose clients verify `x-amz-crc32` (DynamoDB) get it on every response.

    proto = JsonProtocol(load_service("dynamodb"), checksum=True)
    parsed = proto.parse(request)            # ParsedRequest("PutItem", {"TableName": ...})
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator, Mapping
from typing import Any, Final

from fireside.aws.coral import coral_message
from fireside.aws.errors import ServiceError
from fireside.aws.eventstream import CONTENT_TYPE, EventStreamSerializer, encode_message
from fireside.aws.jsoncodec import Decoder, Encoder, JsonCodec, PreEncoded, encode_blob
from fireside.aws.model import ServiceModel, Shape
from fireside.aws.plans import OnDemand
from fireside.aws.protocol import DecodeError, ParsedRequest
from fireside.aws.validation import Validator
from fireside.http.streams import ClosingStream
from fireside.http.types import Request, Response

__all__ = ["JsonProtocol", "coral_namespace"]

# Coral's shared errors and the namespaces AWS reports them under.
_CORAL_NAMESPACES: Final = {
    "ValidationException": "com.amazon.coral.validate",
    "SerializationException": "com.amazon.coral.service",
    "UnknownOperationException": "com.amazon.coral.service",
    "AccessDeniedException": "com.amazon.coral.service",
    "UnrecognizedClientException": "com.amazon.coral.service",
    "IncompleteSignatureException": "com.amazon.coral.service",
    "InvalidSignatureException": "com.amazon.coral.service",
    "MissingAuthenticationTokenException": "com.amazon.coral.service",
    "ThrottlingException": "com.amazon.coral.availability",
}


# Coral writes some of its own errors' message as `Message` (botocore reads either).
_CORAL_MESSAGE_KEYS: Final = {"SerializationException": "Message"}


def coral_namespace(service: ServiceModel) -> str:
    """The namespace of a service's own errors: `com.amazonaws.<signing name>.v<apiVersion>`.

    By signing name, so DynamoDB Streams reports its errors under DynamoDB's namespace, as AWS
    does.
    """
    return f"com.amazonaws.{service.signing_name}.v{service.api_version.replace('-', '')}"


# A lone surrogate (a client may send "\\ud800") has no UTF-8 form; it can only sit inside a
# JSON string, where backslashreplace writes it as the very escape it arrived as.
_SURROGATES = "backslashreplace"


def _dumps(value: Any) -> bytes:
    if type(value) is dict and any(_pre_encoded(v) for v in value.values()):
        text = _spliced(value)  # a whole stored item, or a page of them
    else:
        try:
            text = _dumps_text(value)
        except TypeError:
            text = _spliced(value)  # holds pre-encoded values deeper (or a value JSON cannot hold)
    return text.encode("utf-8", _SURROGATES)


def _pre_encoded(value: Any) -> bool:
    """Whether a result member is a `PreEncoded` value or a list starting with one."""
    if type(value) is list:
        return bool(value) and isinstance(value[0], PreEncoded)
    return isinstance(value, PreEncoded)


#: `json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=encode_blob)`,
#: without building an encoder per call.
_dumps_text = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, default=encode_blob
).encode


def _spliced(value: Any) -> str:
    """`_dumps_text(value)` for a value holding `PreEncoded` parts: their text where they
    stand, and what `json.dumps` writes around them (`{"k":v,...}`, `[a,...]`), so the body is
    the very bytes the value's decoded form would give. Subtrees without such parts are
    written by `json.dumps` at once; a value JSON cannot hold still raises TypeError."""
    if isinstance(value, PreEncoded):
        return value.json_text
    if isinstance(value, dict):
        return "{" + ",".join(f"{_key_text(k)}:{_part(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_part(v) for v in value) + "]"
    return _dumps_text(value)


def _part(value: Any) -> str:
    if isinstance(value, PreEncoded):
        return value.json_text
    try:
        return _dumps_text(value)
    except TypeError:
        return _spliced(value)


def _key_text(key: Any) -> str:
    """An object key as `json.dumps` writes it (non-string keys become strings)."""
    if isinstance(key, str):
        return _dumps_text(key)
    if key is None or isinstance(key, bool | int | float):
        return _dumps_text(_dumps_text(key))  # json's own spelling, as a string
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


class _ErrorPlan:
    __slots__ = ("fields", "message_key", "type_name")

    def __init__(self, code: str, shape: Shape | None, namespace: str, codec: JsonCodec):
        members = shape.members if shape is not None else {}
        # DynamoDB mixes `message` and `Message` (TransactionCanceledException); botocore
        # reads either, and boto3 users read `e.response["Error"]["Message"]` regardless.
        message = next((m for m in ("message", "Message") if m in members), None)
        self.message_key = (
            (members[message].location_name or message)
            if message
            else _CORAL_MESSAGE_KEYS.get(code, "message")
        )
        self.type_name = f"{_CORAL_NAMESPACES.get(code, namespace)}#{code}"
        self.fields: dict[str, tuple[str, Encoder]] = {
            name: (member.location_name or name, codec.encoder(member))
            for name, member in members.items()
        }


class JsonProtocol:
    """json-protocol parsing and serialization for one service (implements `WireProtocol`)."""

    def __init__(
        self,
        service: ServiceModel,
        *,
        checksum: bool = False,
        error_namespace: str | None = None,
        constraints: bool = True,
        validation_code: str | None = None,
        echo_values: bool = True,
    ) -> None:
        """`checksum`: send `x-amz-crc32` (DynamoDB's clients verify it when present).

        `error_namespace`: the `__type` prefix of the service's own errors (by default
        `coral_namespace`).

        `constraints=False` checks `required` only, for services that refuse bad values in
        their own words (SQS: `InvalidAttributeName`, not a Coral enum ValidationException).

        `validation_code`: the code a constraint violation is answered with, for services that
        report them as one of their own errors (CloudWatch Logs: `InvalidParameterException`,
        with the same `1 validation error detected: ...` message); `echo_values=False` leaves
        values failing a pattern out of that message, as Logs does.
        """
        self._validation_code = validation_code
        self._service = service
        self._checksum = checksum
        self._namespace = error_namespace or coral_namespace(service)
        version = service.json_version or "1.0"
        self._content_type: Final = ("Content-Type", f"application/x-amz-json-{version}")
        self._prefix = f"{service.target_prefix}."
        # Item values (AttributeValue trees) are already in wire form but for binaries, which
        # `_dumps` encodes: the codec leaves such subtrees alone instead of walking them.
        codec = JsonCodec("unixTimestamp", blobs_by_default=True)
        names, op = service.operation_names, service.operation

        def decoder(name: str) -> Decoder | None:
            shape = op(name).input
            return codec.decoder(shape) if shape is not None else None

        def validator(name: str) -> Validator | None:
            shape = op(name).input
            if shape is None:
                return None
            return Validator(shape, constraints=constraints, echo_values=echo_values)

        def encoder(name: str) -> Encoder | None:
            shape = op(name).output
            return codec.encoder(shape) if shape is not None else None

        def event_stream(name: str) -> tuple[str, EventStreamSerializer] | None:
            operation = op(name)
            if not operation.has_event_stream_output or operation.output is None:
                return None
            for member_name, member in operation.output.members.items():
                if member.event_stream:
                    return member_name, EventStreamSerializer(member, codec)
            return None

        self._decoders = OnDemand(names, decoder)
        self._validators = OnDemand(names, validator)
        self._encoders = OnDemand(names, encoder)
        #: Operations answering with an event stream (Logs' StartLiveTail): its member and
        #: serializer; None for the others.
        self._event_streams = OnDemand(names, event_stream)
        self._codec = codec
        self._errors = {
            s.error_code: _ErrorPlan(s.error_code, s, self._namespace, codec)
            for s in service.error_shapes()
        }
        self._unmodelled: dict[str, _ErrorPlan] = {}

    @property
    def service(self) -> ServiceModel:
        return self._service

    # -- requests ---------------------------------------------------------------------------

    def parse(self, request: Request) -> ParsedRequest:
        target = request.headers.get("x-amz-target", "")
        name = target[len(self._prefix) :] if target.startswith(self._prefix) else ""
        if request.method != "POST" or name not in self._decoders:
            raise ServiceError(
                "UnknownOperationException",
                f"No {self._service.service_id} operation {target or '(no X-Amz-Target)'}",
                400,
            )
        body = request.body
        try:
            # UTF-8 decoded at once, as json.loads would after guessing the encoding (an
            # object's "{" then a NUL byte would be UTF-16: left to json.loads).
            utf8 = body[:1] == b"{" and body[1:2] != b"\x00"
            text = body.decode("utf-8", "surrogatepass") if utf8 else body
            document = json.loads(text) if body else {}
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            raise _serialization(f"Could not parse request body into json: {exc}") from None
        if type(document) is not dict:
            raise _serialization("Start of structure or map found where not expected.")
        decode = self._decoders[name]
        try:
            params: dict[str, Any] = decode(document) if decode is not None else {}
        except DecodeError as exc:
            shape = self._service.operation(name).input
            coral = coral_message(shape, document, exc.path, self._namespace) if shape else None
            raise _serialization(coral or str(exc)) from None
        except RecursionError:
            raise _serialization("The request's JSON is nested too deeply.") from None
        validator = self._validators[name]
        if validator is not None:
            try:
                validator.validate(params)
            except ServiceError as error:
                if self._validation_code is None or error.code != "ValidationException":
                    raise
                raise ServiceError(self._validation_code, error.message, error.status) from None
        return ParsedRequest(name, params)

    # -- responses --------------------------------------------------------------------------

    def serialize_result(
        self, operation_name: str, result: Mapping[str, Any], request_id: str
    ) -> Response:
        streamed = self._event_streams.get(operation_name)
        if streamed is not None and hasattr(result.get(streamed[0]), "__aiter__"):
            return self._event_stream(streamed, result, request_id)
        if not result:  # an empty answer (a PutItem's): nothing to encode
            return Response(200, self._headers(request_id, b"{}"), b"{}")
        encode = self._encoders[operation_name]
        body = _dumps(encode(result) if encode is not None else {})
        return Response(200, self._headers(request_id, body), body)

    def _event_stream(
        self,
        streamed: tuple[str, EventStreamSerializer],
        result: Mapping[str, Any],
        request_id: str,
    ) -> Response:
        """An event-stream answer: json protocols send the output's other members first, as
        an `initial-response` event, then each event the provider yields as it comes."""
        member, serializer = streamed
        source = result[member]
        initial = encode_message(
            [
                (":event-type", "initial-response"),
                (":content-type", "application/json"),
                (":message-type", "event"),
            ],
            b"{}",
        )

        async def frames() -> AsyncIterator[bytes]:
            yield initial
            async for event in source:
                yield serializer.encode(event)

        async def close() -> None:
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                await aclose()

        headers = [("x-amzn-RequestId", request_id), ("Content-Type", CONTENT_TYPE)]
        return Response(200, headers, stream=ClosingStream(frames(), close))

    def serialize_error(self, error: ServiceError, request_id: str) -> Response:
        plan = self._errors.get(error.code) or self._unmodelled_plan(error.code)
        body: dict[str, Any] = {"__type": plan.type_name, plan.message_key: error.message}
        for name, value in error.fields.items():
            if value is None:
                continue
            entry = plan.fields.get(name)
            if entry is None:
                body[name] = value
            else:
                body[entry[0]] = entry[1](value)
        raw = json.dumps(
            body, default=_error_default, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8", _SURROGATES)
        headers = self._headers(request_id, raw)
        present = {name.lower() for name, _ in headers}
        headers.extend((k, v) for k, v in error.headers.items() if k.lower() not in present)
        return Response(error.status, headers, raw)

    def _unmodelled_plan(self, code: str) -> _ErrorPlan:
        plan = self._unmodelled.get(code)
        if plan is None:
            plan = self._unmodelled[code] = _ErrorPlan(code, None, self._namespace, self._codec)
        return plan

    def _headers(self, request_id: str, body: bytes) -> list[tuple[str, str]]:
        headers = [("x-amzn-RequestId", request_id), self._content_type]
        if self._checksum:
            headers.append(("x-amz-crc32", str(zlib.crc32(body))))
        return headers


def _error_default(value: Any) -> str:
    # Unmodelled error fields may hold anything; binaries still travel as base64.
    if isinstance(value, bytes | bytearray | memoryview):
        return encode_blob(value)
    return str(value)


def _serialization(message: str) -> ServiceError:
    return ServiceError("SerializationException", message, 400)
