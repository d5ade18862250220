"""The rest-xml protocol (S3), driven by the service model.

Requests are routed by method and path like rest-json (`rest.Router`); where several operations
share a method and URI (S3's `PutObject` and `CopyObject`, `DeleteObject` and
`AbortMultipartUpload`), the one whose required header and query members are all present, and
most numerous, wins. Located members come from labels, query and headers
(`bindings.InputBinding`); a blob `payload` member (PutObject's `Body`) is the raw body, after
undoing `aws-chunked` framing; a structure payload (`Tagging`, `Delete`...) is an XML document
read with `xmlcodec`, which also writes the XML results. Results go back as botocore's `RestXMLParser` reads them: header members
as headers, the payload as the raw body or an XML document, other members under a root element.
Errors are S3's `<Error><Code/><Message/>...<RequestId/></Error>`.

Two wire rules are S3's own, both visible in the model: a raw-payload result that carries a
`ContentRange` member is a 206 Partial Content, and a result whose only body member is named
like its root element is written as that element's text (GetBucketLocation's
`<LocationConstraint>eu-west-1</LocationConstraint>`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final
from xml.etree import ElementTree

from fireside.aws.bindings import InputBinding, OutputBinding
from fireside.aws.chunked import check_checksums, decode_aws_chunked, is_aws_chunked
from fireside.aws.errors import ServiceError
from fireside.aws.model import Operation, ServiceModel, Shape
from fireside.aws.plans import OnDemand
from fireside.aws.protocol import DecodeError, ParsedRequest
from fireside.aws.rest import Router, parse_query
from fireside.aws.validation import Validator
from fireside.aws.xmlcodec import (
    DECLARATION,
    XmlWriter,
    decode,
    escape_attribute,
    escape_text,
    member_tag,
)
from fireside.http.types import Request, Response

__all__ = ["RestXmlProtocol"]

_XML: Final = ("Content-Type", "application/xml")
#: Operations whose `x-amz-checksum-*` headers describe an object, not the request body.
_OBJECT_CHECKSUMS = frozenset({"CompleteMultipartUpload"})
_EMPTY_QUERY: Final[dict[str, list[str]]] = {}
_MALFORMED_XML = (
    "The XML you provided was not well-formed or did not validate against our published schema"
)


def _body_members(shape: Shape | None) -> list[str]:
    if shape is None:
        return []
    return [name for name, member in shape.members.items() if member.location is None]


class _InputPlan:
    __slots__ = (
        "binding",
        "body_shape",
        "payload",
        "raw_payload",
        "required_headers",
        "required_query",
        "validator",
    )

    def __init__(
        self, operation: Operation, literal_keys: frozenset[str], constraints: bool = True
    ) -> None:
        shape = operation.input
        self.binding = InputBinding(operation, literal_keys)
        self.payload: str | None = shape.payload if shape is not None else None
        self.raw_payload = False
        #: The shape the XML body is read as: the payload member's, or the input's own.
        self.body_shape: Shape | None = None
        self.validator: Validator | None = None
        self.required_headers: tuple[str, ...] = ()
        self.required_query: tuple[str, ...] = ()
        if shape is None:
            return
        if self.payload is not None:
            member = shape.members[self.payload]
            self.raw_payload = member.type_name in ("blob", "string")
            if not self.raw_payload:
                self.body_shape = member
        elif _body_members(shape):
            self.body_shape = shape
        self.required_headers = tuple(
            (shape.members[name].location_name or name).lower()
            for name in shape.required
            if shape.members[name].location == "header"
        )
        self.required_query = tuple(
            shape.members[name].location_name or name
            for name in shape.required
            if shape.members[name].location == "querystring"
        )
        self.validator = Validator(shape, constraints=constraints)


class _OutputPlan:
    __slots__ = ("binding", "payload", "raw_payload", "root", "root_text", "shape", "status")

    def __init__(self, operation: Operation, root: str) -> None:
        shape = operation.output
        self.shape = shape
        self.status = operation.response_code
        self.binding = OutputBinding(shape)
        self.payload: str | None = shape.payload if shape is not None else None
        self.raw_payload = False
        self.root = root
        #: The member written as the root element's text (GetBucketLocation).
        self.root_text: str | None = None
        if shape is None:
            return
        if self.payload is not None:
            member = shape.members[self.payload]
            self.raw_payload = member.type_name in ("blob", "string")
            self.root = member.location_name or self.payload
            return
        body = _body_members(shape)
        if len(body) == 1 and member_tag(body[0], shape.members[body[0]]) == root:
            self.root_text = body[0]


class RestXmlProtocol:
    """rest-xml parsing and serialization for one service (implements `WireProtocol`)."""

    def __init__(
        self,
        service: ServiceModel,
        *,
        namespace: str | None = None,
        root_names: Mapping[str, str] | None = None,
        model_constraints: bool = True,
        error_filter: Callable[[ServiceError], ServiceError] | None = None,
    ) -> None:
        """`namespace`: the xmlns of response documents; `root_names`: the root element of
        each operation's response document (the model does not name them; the default is
        `<Operation>Result`); `model_constraints=False`: check only that required members
        are there (S3, which refuses bad values in its own words, never as Coral's
        ValidationException), answering a missing one as S3 does, MalformedXML;
        `error_filter`: rewords errors made outside the service (signature checks) in its own
        terms before they are written."""
        self._service = service
        self._model_constraints = model_constraints
        self._error_filter = error_filter
        self._namespace = namespace or service.xml_namespace
        self._writer = XmlWriter()
        self._router = Router(service)
        roots = dict(root_names or {})
        routes = {route.operation.name: route for route in self._router.routes}

        def input_plan(name: str) -> _InputPlan:
            route = routes[name]
            literal_keys = frozenset(key for key, _ in route.query_literals)
            return _InputPlan(route.operation, literal_keys, model_constraints)

        self._inputs = OnDemand(routes, input_plan)
        self._outputs = OnDemand(
            routes,
            lambda name: _OutputPlan(routes[name].operation, roots.get(name, f"{name}Result")),
        )

    @property
    def service(self) -> ServiceModel:
        return self._service

    # -- requests ---------------------------------------------------------------------------

    def parse(self, request: Request) -> ParsedRequest:
        query = parse_query(request.query) if request.query else _EMPTY_QUERY
        headers = request.headers
        operation, labels, plan = self._route(request, query)
        body = request.body
        if is_aws_chunked(headers):
            body, trailers = decode_aws_chunked(body, headers)
            if trailers:
                headers = {**headers, **trailers}
        # CompleteMultipartUpload's checksum headers are the whole object's, not its body's.
        if operation.name not in _OBJECT_CHECKSUMS and (
            body or any(name.startswith("x-amz-checksum-") for name in headers)
        ):
            check_checksums(body, headers)
        params: dict[str, Any] = {}
        try:
            plan.binding.bind(labels, query, headers, params)
        except DecodeError as exc:
            raise ServiceError("InvalidArgument", f"Invalid argument: {exc}", 400) from None
        encoding = params.get("ContentEncoding")
        if isinstance(encoding, str) and "aws-chunked" in encoding:
            # The framing is the transport's; what is stored is the object's own encoding.
            kept = [p.strip() for p in encoding.split(",") if p.strip() not in ("aws-chunked", "")]
            if kept:
                params["ContentEncoding"] = ",".join(kept)
            else:
                del params["ContentEncoding"]
        if plan.raw_payload:
            assert plan.payload is not None
            params[plan.payload] = body
        elif plan.body_shape is not None and body.strip():
            document = self._decode_xml(body, plan.body_shape)
            if plan.payload is not None:
                params[plan.payload] = document
            else:
                params.update(document)
        if plan.validator is not None:
            if self._model_constraints:
                plan.validator.validate(params)
            elif plan.validator.problems(params):
                raise ServiceError(
                    "MalformedXML",
                    "The XML you provided was not well-formed or did not validate against our "
                    "published schema",
                    400,
                )
        return ParsedRequest(operation.name, params)

    def _route(
        self, request: Request, query: Mapping[str, list[str]]
    ) -> tuple[Operation, dict[str, str], _InputPlan]:
        best: tuple[Operation, dict[str, str], _InputPlan] | None = None
        best_rank = (1, 0, 0)
        for route, labels in self._router.matches(request.method, request.path, query):
            plan = self._inputs[route.operation.name]
            present = all(name in request.headers for name in plan.required_headers) and all(
                name in query for name in plan.required_query
            )
            # Most literal characters first (the router's order); among routes as literal,
            # the one whose required headers and query parameters are all present and most
            # numerous (`uploadId` makes a DELETE of a key AbortMultipartUpload).
            # A deprecated operation loses a tie to the one that replaced it on the same
            # request (PutBucketNotification to PutBucketNotificationConfiguration).
            rank = (
                route.sort_key[0],
                -(len(plan.required_headers) + len(plan.required_query)) if present else 1,
                int(route.operation.deprecated),
            )
            if best is None or rank < best_rank:
                best, best_rank = (route.operation, labels, plan), rank
        if best is not None:
            return best
        raise ServiceError(
            "MethodNotAllowed",
            f"The specified method is not allowed against this resource: "
            f"no {self._service.service_id} operation matches {request.method} {request.path}",
            405,
        )

    @staticmethod
    def _decode_xml(body: bytes, shape: Shape) -> Any:
        # S3's documents need no DTD; refusing one rules out entity tricks of every kind.
        if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
            raise ServiceError("MalformedXML", _MALFORMED_XML, 400)
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            raise ServiceError("MalformedXML", _MALFORMED_XML, 400) from None
        try:
            return decode(root, shape)
        except DecodeError as exc:
            raise ServiceError("MalformedXML", f"{_MALFORMED_XML} ({exc})", 400) from None
        except RecursionError:
            raise ServiceError(
                "MalformedXML", f"{_MALFORMED_XML} (nested too deeply)", 400
            ) from None

    # -- responses --------------------------------------------------------------------------

    def serialize_result(
        self, operation_name: str, result: Mapping[str, Any], request_id: str
    ) -> Response:
        plan = self._outputs[operation_name]
        headers: list[tuple[str, str]] = [
            ("x-amz-request-id", request_id),
            ("x-amz-id-2", request_id),
        ]
        status = plan.binding.render(result, headers) or plan.status
        body = b""
        shape = plan.shape
        if shape is None:
            pass
        elif plan.raw_payload:
            assert plan.payload is not None
            value = result.get(plan.payload)
            if value is not None:
                body = value.encode() if isinstance(value, str) else bytes(value)
            if result.get("ContentRange") is not None and status == 200:
                status = 206
        elif plan.payload is not None:
            value = result.get(plan.payload)
            if value is not None:
                member = shape.members[plan.payload]
                body = self._writer.document(plan.root, member, value, self._namespace)
                headers.append(_XML)
        elif plan.root_text is not None:
            value = result.get(plan.root_text)
            text = escape_text(str(value)) if value is not None else ""
            xmlns = f' xmlns="{escape_attribute(self._namespace)}"' if self._namespace else ""
            body = f"{DECLARATION}<{plan.root}{xmlns}>{text}</{plan.root}>".encode()
            headers.append(_XML)
        elif any(result.get(name) is not None for name in _body_members(shape)):
            body = self._writer.document(plan.root, shape, result, self._namespace)
            headers.append(_XML)
        if status in (204, 304):
            return Response(status, [h for h in headers if h[0] != "Content-Type"], b"")
        return Response(status, headers, body)

    def serialize_error(self, error: ServiceError, request_id: str) -> Response:
        if self._error_filter is not None:
            error = self._error_filter(error)
        out = [
            f"{DECLARATION}<Error><Code>{escape_text(error.code)}</Code>",
            f"<Message>{escape_text(error.message)}</Message>",
        ]
        out += (
            f"<{name}>{escape_text(str(value))}</{name}>"
            for name, value in error.fields.items()
            if value is not None
        )
        request = escape_text(request_id)
        out.append(f"<RequestId>{request}</RequestId><HostId>{request}</HostId></Error>")
        headers = [
            ("x-amz-request-id", request_id),
            ("x-amz-id-2", request_id),
            _XML,
            *error.headers.items(),
        ]
        if error.status == 304:
            return Response(error.status, headers[:2], b"")
        return Response(error.status, headers, "".join(out).encode())
