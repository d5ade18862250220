"""The AWS query protocol (STS; later SNS, IAM, CloudFormation...), driven by the service model.

A call is `POST /` with a form-encoded body, or a GET carrying the same pairs in its query
string: `Action=AssumeRole&Version=2011-06-15&RoleArn=...&Tags.member.1.Key=team`. Nested
members are flattened into dotted keys: structure members by their wire name, list elements
as `Name.member.N` (`Name.N` when the list is flattened), map entries as `Name.entry.N.key`
and `Name.entry.N.value`; an empty list is `Name=`. The pairs are folded back into a tree and
decoded shape by shape, then checked against the model's constraints.

Results are XML written by `xmlcodec.XmlWriter`, the result members inside the operation's
`resultWrapper`:

    <AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
      <AssumeRoleResult>...</AssumeRoleResult>
      <ResponseMetadata><RequestId>...</RequestId></ResponseMetadata>
    </AssumeRoleResponse>

and errors are

    <ErrorResponse xmlns="...">
      <Error><Type>Sender</Type><Code>...</Code><Message>...</Message></Error>
      <RequestId>...</RequestId>
    </ErrorResponse>

Errors shared by every Coral service are reported under the codes query clients know
(`ValidationError`, not json's `ValidationException`).

    proto = QueryProtocol(load_service("sts"))
    parsed = proto.parse(request)            # ParsedRequest("GetCallerIdentity", {})
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl

from fireside.aws.errors import ServiceError
from fireside.aws.model import ServiceModel, Shape
from fireside.aws.plans import OnDemand
from fireside.aws.protocol import DecodeError, ParsedRequest
from fireside.aws.timestamps import parse_timestamp
from fireside.aws.validation import Validator
from fireside.aws.xmlcodec import XmlWriter, escape_attribute, escape_text, xml_safe
from fireside.http.types import Request, Response

__all__ = ["QueryProtocol"]

_XML: Final = ("Content-Type", "text/xml")
#: More pairs than any modelled input needs; a bound on what one request may make us build.
_MAX_PAIRS = 10_000
_INTEGER = re.compile(r"[+-]?[0-9]+")
# The json protocol's names for Coral's shared errors -> the query protocol's.
_QUERY_CODES: Final = {
    "ValidationException": "ValidationError",
    "SerializationException": "MalformedQueryString",
    "UnknownOperationException": "InvalidAction",
    "ThrottlingException": "Throttling",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "IncompleteSignatureException": "IncompleteSignature",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
    "AccessDeniedException": "AccessDenied",
}


class _Node:
    """One dotted key segment: its value (if the key ended here) and deeper segments."""

    __slots__ = ("children", "value")

    def __init__(self) -> None:
        self.value: str | None = None
        self.children: dict[str, _Node] = {}


def _tree(pairs: list[tuple[str, str]]) -> _Node:
    root = _Node()
    for key, value in pairs:
        node = root
        for part in key.split("."):
            child = node.children.get(part)
            if child is None:
                child = node.children[part] = _Node()
            node = child
        node.value = value
    return root


def _indexed(node: _Node) -> list[tuple[str, _Node]]:
    """A list's or map's numbered children (`.1`, `.2`...) in index order, with their keys."""
    numbered: list[tuple[int, str, _Node]] = []
    for key, child in node.children.items():
        if not (key.isascii() and key.isdigit()) or int(key) < 1:
            raise DecodeError(f"'{key}' is not a list index (1, 2, ...)").at(key)
        numbered.append((int(key), key, child))
    numbered.sort(key=lambda entry: entry[0])
    return [(key, child) for _, key, child in numbered]


Decoder = Callable[[_Node], Any]


# -- requests -------------------------------------------------------------------------------


class _Decoders:
    """Compiles (once per shape) functions from a key tree to boto3-shaped values.

    `ec2=True` reads the ec2 protocol's keys: a member under its `queryName` (else its
    capitalized `locationName`), every list as `Name.N` with no `member` segment."""

    def __init__(self, *, ec2: bool = False) -> None:
        self._ec2 = ec2
        self._memo: dict[int, tuple[Shape, Decoder]] = {}

    def decoder(self, shape: Shape) -> Decoder:
        found = self._memo.get(id(shape))
        if found is not None:
            return found[1]
        # A placeholder first, so recursive shapes find themselves while being built.
        cell: list[Decoder] = []
        self._memo[id(shape)] = (shape, lambda node: cell[0](node))
        built = self._build(shape)
        cell.append(built)
        self._memo[id(shape)] = (shape, built)
        return built

    def _build(self, shape: Shape) -> Decoder:
        kind = shape.type_name
        if kind == "structure":
            return self._structure(shape)
        if kind == "list":
            return self._list(shape)
        if kind == "map":
            return self._map(shape)
        return _scalar(_CONVERTERS.get(kind, str))

    def _structure(self, shape: Shape) -> Decoder:
        fields = [
            (
                name,
                _ec2_key(name, member) if self._ec2 else _member_key(name, member),
                self.decoder(member),
            )
            for name, member in shape.members.items()
        ]

        def decode(node: _Node) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, key, decode_member in fields:
                child = node.children.get(key)
                if child is None:
                    continue
                try:
                    out[name] = decode_member(child)
                except DecodeError as exc:
                    raise exc.at(key) from None
            return out

        return decode

    def _list(self, shape: Shape) -> Decoder:
        decode_item = self.decoder(shape.member)
        wrapper = None if shape.flattened or self._ec2 else (shape.member.location_name or "member")

        def decode(node: _Node) -> list[Any]:
            holder = node if wrapper is None else node.children.get(wrapper)
            if holder is None:
                if node.children:
                    raise DecodeError(f"expected list elements as '{wrapper}.N'")
                return []  # `Name=`: an empty list
            out = []
            try:
                for key, child in _indexed(holder):
                    try:
                        out.append(decode_item(child))
                    except DecodeError as exc:
                        raise exc.at(key) from None
            except DecodeError as exc:
                raise (exc if wrapper is None else exc.at(wrapper)) from None
            return out

        return decode

    def _map(self, shape: Shape) -> Decoder:
        decode_key = self.decoder(shape.key)
        decode_value = self.decoder(shape.value)
        key_name = shape.key.location_name or "key"
        value_name = shape.value.location_name or "value"
        wrapper = None if shape.flattened else "entry"

        def decode(node: _Node) -> dict[Any, Any]:
            holder = node if wrapper is None else node.children.get(wrapper)
            if holder is None:
                if node.children:
                    raise DecodeError(f"expected map entries as '{wrapper}.N'")
                return {}
            out: dict[Any, Any] = {}
            try:
                for index, entry in _indexed(holder):
                    key, value = entry.children.get(key_name), entry.children.get(value_name)
                    if key is None or value is None:
                        missing = key_name if key is None else value_name
                        raise DecodeError(f"map entry has no '{missing}'").at(index)
                    try:
                        out[decode_key(key)] = decode_value(value)
                    except DecodeError as exc:
                        raise exc.at(index) from None
            except DecodeError as exc:
                raise (exc if wrapper is None else exc.at(wrapper)) from None
            return out

        return decode


def _member_key(name: str, member: Shape) -> str:
    """The key segment a structure member travels under (as botocore's serializer names it)."""
    # A flattened list whose elements are named travels under the element name.
    if member.type_name == "list" and member.flattened and member.member.location_name:
        return member.member.location_name
    return member.location_name or name


def _ec2_key(name: str, member: Shape) -> str:
    """The key segment an ec2-protocol member travels under (botocore's `EC2Serializer`)."""
    if member.query_name:
        return member.query_name
    if member.location_name:
        return member.location_name[0].upper() + member.location_name[1:]
    return name


def _scalar(convert: Callable[[str], Any]) -> Decoder:
    def decode(node: _Node) -> Any:
        if node.value is None:
            raise DecodeError("expected a value, not nested parameters")
        return convert(node.value)

    return decode


def _integer(text: str) -> int:
    if not _INTEGER.fullmatch(text):
        raise DecodeError(f"'{text}' is not an integer")
    return int(text)


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered not in ("true", "false"):
        raise DecodeError(f"'{text}' is not a boolean (true or false)")
    return lowered == "true"


def _double(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise DecodeError(f"'{text}' is not a number") from None


def _timestamp(text: str) -> Any:
    try:
        return parse_timestamp(text)
    except ValueError:
        raise DecodeError(f"'{text}' is not a timestamp") from None


def _blob(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError("not valid base64") from None


_CONVERTERS: Final[dict[str, Callable[[str], Any]]] = {
    "integer": _integer,
    "long": _integer,
    "boolean": _boolean,
    "double": _double,
    "float": _double,
    "timestamp": _timestamp,
    "blob": _blob,
}


# -- the protocol ---------------------------------------------------------------------------


class _InputPlan:
    __slots__ = ("decode", "validator")

    def __init__(self, shape: Shape | None, decoders: _Decoders, constraints: bool) -> None:
        self.decode: Decoder | None = decoders.decoder(shape) if shape is not None else None
        self.validator: Validator | None = (
            Validator(shape, constraints=constraints) if shape is not None else None
        )


class _OutputPlan:
    __slots__ = ("response_tag", "result_tag", "shape", "write")

    def __init__(self, name: str, shape: Shape | None, writer: XmlWriter) -> None:
        self.response_tag = f"{name}Response"
        self.shape = shape
        self.result_tag = shape.result_wrapper if shape is not None else None
        self.write = writer.members(shape) if shape is not None else None


class QueryProtocol:
    """query-protocol parsing and serialization for one service (implements `WireProtocol`).

    `constraints=False` checks `required` only, for services that refuse bad values in their
    own words (SQS)."""

    def __init__(
        self, service: ServiceModel, *, constraints: bool = True, ec2: bool = False
    ) -> None:
        self._service = service
        self._namespace = namespace = service.xml_namespace
        self._xmlns = f' xmlns="{escape_attribute(namespace)}"' if namespace else ""
        decoders = _Decoders(ec2=ec2)
        self._writer = writer = XmlWriter()
        names = service.operation_names
        self._inputs = OnDemand(
            names, lambda name: _InputPlan(service.operation(name).input, decoders, constraints)
        )
        self._outputs = OnDemand(
            names, lambda name: _OutputPlan(name, service.operation(name).output, writer)
        )

    @property
    def service(self) -> ServiceModel:
        return self._service

    # -- requests ---------------------------------------------------------------------------

    def parse(self, request: Request) -> ParsedRequest:
        pairs = _pairs(request.query) if request.query else []
        if request.body:
            try:
                text = request.body.decode("utf-8")
            except UnicodeDecodeError:
                raise _malformed("The request body is not UTF-8 form data") from None
            pairs += _pairs(text)
        fields = dict(pairs)
        name = fields.get("Action")
        if not name:
            raise ServiceError("MissingAction", "Missing Action", 400)
        version = fields.get("Version") or self._service.api_version
        plan = self._inputs.get(name)
        if plan is None or version != self._service.api_version:
            raise ServiceError(
                "InvalidAction", f"Could not find operation {name} for version {version}", 400
            )
        params: dict[str, Any] = {}
        if plan.decode is not None:
            tree = _tree([(k, v) for k, v in pairs if k not in ("Action", "Version")])
            try:
                params = plan.decode(tree)
            except DecodeError as exc:
                where = f"Invalid value for parameter {exc.where}: " if exc.path else ""
                raise ServiceError("InvalidParameterValue", where + exc.detail, 400) from None
        if plan.validator is not None:
            try:
                plan.validator.validate(params)
            except ServiceError as exc:
                raise ServiceError(_QUERY_CODES.get(exc.code, exc.code), exc.message, 400) from None
        return ParsedRequest(name, params)

    # -- responses --------------------------------------------------------------------------

    def serialize_result(
        self, operation_name: str, result: Mapping[str, Any], request_id: str
    ) -> Response:
        plan = self._outputs[operation_name]
        shape, tag = plan.shape, plan.response_tag
        if shape is None or plan.write is None:
            out = [f"<{tag}{self._xmlns}>"]
        elif plan.result_tag is None:
            # No wrapper: the result's members are the response element's own.
            out = [self._writer.start_tag(tag, shape, result, self._namespace)]
            plan.write(result, out)
        else:
            out = [f"<{tag}{self._xmlns}>", self._writer.start_tag(plan.result_tag, shape, result)]
            plan.write(result, out)
            out.append(f"</{plan.result_tag}>")
        out.append(f"<ResponseMetadata><RequestId>{escape_text(request_id)}</RequestId>")
        out.append(f"</ResponseMetadata></{tag}>")
        return Response(200, self._headers(request_id), "".join(out).encode())

    def serialize_error(self, error: ServiceError, request_id: str) -> Response:
        shape = self._service.error_shape(error.code)
        code = shape.error_code if shape is not None else _QUERY_CODES.get(error.code, error.code)
        kind = "Sender" if error.sender_fault else "Receiver"
        out = [
            f"<ErrorResponse{self._xmlns}><Error><Type>{kind}</Type>",
            f"<Code>{escape_text(code)}</Code>",
            f"<Message>{escape_text(xml_safe(error.message))}</Message>",
        ]
        fields = {k: v for k, v in error.fields.items() if k.lower() != "message"}
        if fields:
            if shape is not None:
                self._writer.members(shape)(fields, out)
            else:
                out += (
                    f"<{k}>{escape_text(str(v))}</{k}>" for k, v in fields.items() if v is not None
                )
        out.append(f"</Error><RequestId>{escape_text(request_id)}</RequestId></ErrorResponse>")
        headers = self._headers(request_id)
        present = {name.lower() for name, _ in headers}
        headers.extend((k, v) for k, v in error.headers.items() if k.lower() not in present)
        return Response(error.status, headers, "".join(out).encode())

    def _headers(self, request_id: str) -> list[tuple[str, str]]:
        return [("x-amzn-RequestId", request_id), _XML]


def _pairs(text: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=_MAX_PAIRS)
    except ValueError:
        raise _malformed(f"More than {_MAX_PAIRS} parameters in one request") from None


def _malformed(message: str) -> ServiceError:
    return ServiceError("MalformedQueryString", message, 400)
