"""A typed facade over botocore's service models: the one place Fireside touches `botocore.model`.

Fireside speaks AWS by reading the same JSON service descriptions the SDKs are generated from.
botocore ships them and knows how to load and resolve them, but its classes are untyped and
expose raw dicts. This module wraps them once, at load time, into small typed objects
(`ServiceModel`, `Operation`, `Shape`) holding exactly what the wire layer needs, so the rest of
the project never handles `Any`-typed botocore objects and the hot path reads plain attributes
instead of botocore's cached properties.

    lam = load_service("lambda")
    op = lam.operation("Invoke")          # op.http_method == "POST", op.input is a Shape
    lam.error_shape("ResourceNotFoundException").error_status   # 404
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Mapping
from typing import Any

from botocore.loaders import Loader
from botocore.model import ServiceModel as _BotoServiceModel

__all__ = [
    "Operation",
    "ServiceModel",
    "Shape",
    "load_description",
    "load_service",
    "service_from_description",
]


class Shape:
    """One shape as seen from where it is used: a member's traits (location, name) merged in.

    Scalar metadata is copied into slots when the shape is built; aggregate children
    (`members`, `member`, `key`, `value`) are built on first use, which keeps recursive shapes
    (DynamoDB's AttributeValue) finite.
    """

    __slots__ = (
        "_boto",
        "_key",
        "_member",
        "_members",
        "_service",
        "_value",
        "enum",
        "error_code",
        "error_sender_fault",
        "error_status",
        "event",
        "event_header",
        "event_payload",
        "event_stream",
        "flattened",
        "is_document",
        "is_error",
        "is_union",
        "json_value",
        "location",
        "location_name",
        "max",
        "min",
        "name",
        "pattern",
        "payload",
        "query_name",
        "required",
        "result_wrapper",
        "sensitive",
        "streaming",
        "timestamp_format",
        "type_name",
        "xml_attribute",
        "xml_namespace",
    )

    def __init__(self, boto: Any, service: ServiceModel) -> None:
        self._boto = boto
        self._service = service
        ser: Mapping[str, Any] = boto.serialization
        meta: Mapping[str, Any] = boto.metadata
        self.name: str = str(boto.name)
        #: botocore's type name: structure, list, map, string, integer, long, boolean, double,
        #: float, timestamp, blob.
        self.type_name: str = str(boto.type_name)
        #: Where a member travels in a REST request/response: uri, querystring, header, headers,
        #: statusCode, or None for the body.
        self.location: str | None = _opt_str(ser.get("location"))
        #: The wire name (`locationName`): header name, query key, URI label or JSON key.
        self.location_name: str | None = _opt_str(ser.get("name"))
        self.payload: str | None = _opt_str(ser.get("payload"))
        #: ec2 protocol: the request key a member travels under (`queryName`), if not its
        #: capitalized `locationName`.
        self.query_name: str | None = _opt_str(ser.get("queryName"))
        self.streaming: bool = bool(ser.get("streaming", False))
        self.event_stream: bool = bool(ser.get("eventstream", False))
        #: An event of an event stream; its members travel as headers (`event_header`), as
        #: the message's payload (`event_payload`), or, for the rest, as one JSON payload.
        self.event: bool = bool(ser.get("event", False))
        self.event_header: bool = bool(ser.get("eventheader", False))
        self.event_payload: bool = bool(ser.get("eventpayload", False))
        self.timestamp_format: str | None = _opt_str(ser.get("timestampFormat"))
        self.json_value: bool = bool(ser.get("jsonvalue", False))
        #: rest-xml: the member travels as an attribute of its parent element.
        self.xml_attribute: bool = bool(ser.get("xmlAttribute", False))
        namespace = ser.get("xmlNamespace")
        #: rest-xml: the namespace URI declared on this element, if the model names one.
        self.xml_namespace: str | None = (
            _opt_str(namespace.get("uri")) if isinstance(namespace, Mapping) else None
        )
        #: XML and query protocols: a list or map written without its wrapping element.
        self.flattened: bool = bool(ser.get("flattened", False))
        #: Query protocol outputs: the element wrapping the result (`GetCallerIdentityResult`).
        self.result_wrapper: str | None = _opt_str(ser.get("resultWrapper"))
        self.min: int | float | None = _opt_number(meta.get("min"))
        self.max: int | float | None = _opt_number(meta.get("max"))
        self.pattern: str | None = _opt_str(meta.get("pattern"))
        enum = meta.get("enum")
        self.enum: tuple[str, ...] | None = tuple(str(e) for e in enum) if enum else None
        self.required: tuple[str, ...] = tuple(str(r) for r in meta.get("required", ()))
        self.sensitive: bool = bool(meta.get("sensitive", False))
        self.is_document: bool = bool(meta.get("document", False))
        self.is_union: bool = bool(meta.get("union", False))
        error = meta.get("error")
        self.is_error: bool = bool(meta.get("exception", False)) or error is not None
        error_info: Mapping[str, Any] = error if isinstance(error, Mapping) else {}
        #: The code clients see for an error shape (`error.code` in the model, else its name).
        self.error_code: str = str(error_info.get("code", self.name))
        self.error_status: int = int(error_info.get("httpStatusCode", 400))
        self.error_sender_fault: bool = bool(error_info.get("senderFault", False))
        self._members: dict[str, Shape] | None = None
        self._member: Shape | None = None
        self._key: Shape | None = None
        self._value: Shape | None = None

    def __repr__(self) -> str:
        return f"<Shape {self.name} ({self.type_name})>"

    @property
    def members(self) -> Mapping[str, Shape]:
        """A structure's members by member name, in model order (empty for other types)."""
        if self._members is None:
            if self.type_name == "structure" and not self.is_document:
                self._members = {
                    name: self._service._wrap(ref) for name, ref in self._boto.members.items()
                }
            else:
                self._members = {}
        return self._members

    @property
    def member(self) -> Shape:
        """A list's element shape."""
        if self._member is None:
            self._require("list")
            self._member = self._service._wrap(self._boto.member)
        return self._member

    @property
    def key(self) -> Shape:
        """A map's key shape."""
        if self._key is None:
            self._require("map")
            self._key = self._service._wrap(self._boto.key)
        return self._key

    @property
    def value(self) -> Shape:
        """A map's value shape."""
        if self._value is None:
            self._require("map")
            self._value = self._service._wrap(self._boto.value)
        return self._value

    def _require(self, type_name: str) -> None:
        if self.type_name != type_name:
            raise TypeError(f"{self!r} is not a {type_name}")


class Operation:
    """An operation's HTTP binding and its input/output/error shapes."""

    __slots__ = (
        "deprecated",
        "error_codes",
        "has_event_stream_output",
        "http_method",
        "input",
        "name",
        "output",
        "request_uri",
        "response_code",
    )

    def __init__(self, boto: Any, service: ServiceModel) -> None:
        http: Mapping[str, Any] = boto.http
        self.name: str = str(boto.name)
        self.http_method: str = str(http.get("method", "POST"))
        #: e.g. `/2015-03-31/functions/{FunctionName}/invocations` (may carry `?literal=query`).
        self.request_uri: str = str(http.get("requestUri", "/"))
        self.response_code: int = int(http.get("responseCode", 200))
        self.input: Shape | None = service._wrap_optional(boto.input_shape)
        self.output: Shape | None = service._wrap_optional(boto.output_shape)
        self.error_codes: tuple[str, ...] = tuple(
            service._wrap(e).error_code for e in boto.error_shapes
        )
        self.has_event_stream_output: bool = bool(boto.has_event_stream_output)
        #: Superseded by another operation on the same request (S3's PutBucketNotification).
        self.deprecated: bool = bool(boto.deprecated)

    def __repr__(self) -> str:
        return f"<Operation {self.name} {self.http_method} {self.request_uri}>"


class ServiceModel:
    """A loaded service description: metadata, operations and error shapes."""

    def __init__(self, boto: Any) -> None:
        self._boto = boto
        meta: Mapping[str, Any] = boto.metadata
        self.service_name: str = str(boto.service_name)
        #: e.g. "Lambda" (used in human-facing messages).
        self.service_id: str = str(boto.service_id)
        self.protocol: str = str(boto.protocol)
        self.api_version: str = str(boto.api_version)
        self.signing_name: str = str(boto.signing_name)
        self.endpoint_prefix: str = str(boto.endpoint_prefix)
        #: json protocols: the X-Amz-Target prefix and the content-type version.
        self.target_prefix: str | None = _opt_str(meta.get("targetPrefix"))
        self.json_version: str | None = _opt_str(meta.get("jsonVersion"))
        #: XML protocols: the namespace of response documents.
        self.xml_namespace: str | None = _opt_str(meta.get("xmlNamespace"))
        self.operation_names: tuple[str, ...] = tuple(str(n) for n in boto.operation_names)
        # Shapes referenced without member traits are shared, so every use of (say)
        # `FunctionConfiguration` is the same object and per-shape compilers can memoize on it.
        self._named: dict[str, Shape] = {}
        self._operations: dict[str, Operation] = {}
        self._errors: dict[str, Shape] = {}
        for boto_error in boto.error_shapes:
            shape = self._wrap(boto_error)
            self._errors.setdefault(shape.error_code, shape)
            self._errors.setdefault(shape.name, shape)

    def __repr__(self) -> str:
        return f"<ServiceModel {self.service_name} {self.api_version} ({self.protocol})>"

    def operation(self, name: str) -> Operation:
        """The operation called `name`; KeyError if the service has none."""
        op = self._operations.get(name)
        if op is None:
            if name not in self.operation_names:
                raise KeyError(f"{self.service_name} has no operation {name}")
            op = self._operations[name] = Operation(self._boto.operation_model(name), self)
        return op

    def operations(self) -> list[Operation]:
        return [self.operation(name) for name in self.operation_names]

    def error_shape(self, code: str) -> Shape | None:
        """The error shape clients know as `code` (e.g. ResourceNotFoundException), if modelled."""
        return self._errors.get(code)

    def error_shapes(self) -> list[Shape]:
        return list({id(s): s for s in self._errors.values()}.values())

    def shape(self, name: str) -> Shape:
        """A named shape as declared (no member traits)."""
        shape = self._named.get(name)
        if shape is None:
            shape = self._named[name] = Shape(self._boto.shape_for(name), self)
        return shape

    def _wrap(self, boto_shape: Any) -> Shape:
        named = self.shape(str(boto_shape.name))
        # A member reference that adds no traits of its own is the named shape itself.
        if (
            boto_shape.serialization == named._boto.serialization
            and boto_shape.metadata == named._boto.metadata
        ):
            return named
        return Shape(boto_shape, self)

    def _wrap_optional(self, boto_shape: Any) -> Shape | None:
        return None if boto_shape is None else self._wrap(boto_shape)


@functools.cache
def _loader() -> Any:
    return Loader()


@functools.cache
def load_service(name: str, api_version: str | None = None) -> ServiceModel:
    """Load (once) the service model botocore ships for `name`, newest api version by default."""
    description = _loader().load_service_model(name, "service-2", api_version)
    return ServiceModel(_BotoServiceModel(description, service_name=name))


def load_description(name: str, api_version: str | None = None) -> dict[str, Any]:
    """A copy of the service description botocore ships for `name`, to derive another from
    (SQS's query protocol: `fireside.sqs.query_names`)."""
    description = _loader().load_service_model(name, "service-2", api_version)
    return dict(copy.deepcopy(description))


@functools.cache
def _by_signing_name() -> dict[str, tuple[str, ...]]:
    """Every service botocore ships, by the name in its credential scope (several services
    may share one: apigateway and apigatewayv2). Reads all models: seconds, once."""
    loader = _loader()
    index: dict[str, list[str]] = {}
    for name in loader.list_available_services("service-2"):
        meta = loader.load_service_model(name, "service-2")["metadata"]
        index.setdefault(str(meta.get("signingName") or meta["endpointPrefix"]), []).append(name)
    return {key: tuple(names) for key, names in index.items()}


def services_signed_as(signing_name: str, *, every: bool = False) -> tuple[str, ...]:
    """The botocore services whose requests are signed for `signing_name`: by default the
    cheap guess, the service of that very name if it signs so; with `every`, all of them
    (the full index: apigateway and apigatewayv2 share one name, elb and elbv2 another)."""
    if every:
        return _by_signing_name().get(signing_name, ())
    try:
        if load_service(signing_name).signing_name == signing_name:
            return (signing_name,)
    except Exception:  # botocore's UnknownServiceError, or a malformed name
        pass
    return _by_signing_name().get(signing_name, ())


def service_from_description(description: Mapping[str, Any], name: str) -> ServiceModel:
    """Build a model from a service description dict (custom or test services; not cached)."""
    return ServiceModel(_BotoServiceModel(dict(description), service_name=name))


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _opt_number(value: Any) -> int | float | None:
    if value is None:
        return None
    if isinstance(value, int | float):
        return value
    return float(value)
