"""The interface every AWS wire protocol implements, and how to pick one for a service.

AWS services speak one of a few protocols (rest-json for Lambda and API Gateway, json 1.0/1.1
for DynamoDB, rest-xml for S3, query for SQS/SNS...). Each is a sibling module providing a
`WireProtocol`: it turns an HTTP `Request` into an operation name plus boto3-shaped params, and
a provider's result dict or `ServiceError` back into an HTTP `Response`. Providers therefore
never see HTTP and the edge never sees service shapes.

    proto = protocol_for(load_service("lambda"))
    parsed = proto.parse(request)              # ParsedRequest("Invoke", {"FunctionName": ...})
    response = proto.serialize_result(parsed.operation_name, result, request_id)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from fireside.aws.errors import ServiceError
from fireside.aws.model import ServiceModel
from fireside.http.types import Request, Response

__all__ = ["DecodeError", "ParsedRequest", "WireProtocol", "not_implemented", "protocol_for"]


@dataclass(slots=True, frozen=True)
class ParsedRequest:
    """An AWS call decoded from HTTP: the operation and its params, named as boto3 names them.

    `params` holds only members present on the wire, converted to Python values (int, bool,
    float, bytes for blobs, aware UTC datetime for timestamps, nested dicts/lists).
    """

    operation_name: str
    params: dict[str, Any]


class DecodeError(ValueError):
    """A wire value that does not fit its shape (a string for an integer, bad base64...).

    Raised by the shared codecs; each protocol turns it into its service's AWS error. `path`
    is filled in while the error unwinds through containers, so the happy path pays nothing
    for it.
    """

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail
        #: Wire names from the outermost member inwards, e.g. ["Environment", "Variables"].
        self.path: list[str] = []

    def at(self, name: str) -> DecodeError:
        """Record that the bad value sits inside member/key/index `name` (innermost first)."""
        self.path.insert(0, name)
        return self

    @property
    def where(self) -> str:
        return ".".join(self.path)

    def __str__(self) -> str:
        return f"{self.detail} at '{self.where}'" if self.path else self.detail


class WireProtocol(Protocol):
    """What the edge needs from a protocol implementation (rest-json, json, rest-xml...)."""

    @property
    def service(self) -> ServiceModel: ...

    def parse(self, request: Request) -> ParsedRequest:
        """Find the operation and decode and validate its params.

        Raises `ServiceError` for unroutable requests, undecodable content and constraint
        violations, ready to go through `serialize_error`.
        """
        ...

    def serialize_result(
        self, operation_name: str, result: Mapping[str, Any], request_id: str
    ) -> Response:
        """Encode an operation's output (a dict shaped like boto3's response) as HTTP."""
        ...

    def serialize_error(self, error: ServiceError, request_id: str) -> Response:
        """Encode an error the way this protocol's clients (botocore) parse it."""
        ...


class Deferred:
    """A protocol made on first use (implements `WireProtocol`): for a large model that most
    servers never serve a call of (EC2's takes about 0.25 s to load)."""

    def __init__(self, make: Callable[[], WireProtocol]) -> None:
        self._make = make
        self._made: WireProtocol | None = None

    @property
    def _real(self) -> WireProtocol:
        if self._made is None:
            self._made = self._make()
        return self._made

    @property
    def service(self) -> ServiceModel:
        return self._real.service

    def parse(self, request: Request) -> ParsedRequest:
        return self._real.parse(request)

    def serialize_result(
        self, operation_name: str, result: Mapping[str, Any], request_id: str
    ) -> Response:
        return self._real.serialize_result(operation_name, result, request_id)

    def serialize_error(self, error: ServiceError, request_id: str) -> Response:
        return self._real.serialize_error(error, request_id)


def protocol_for(service: ServiceModel) -> WireProtocol:
    """The wire protocol implementation for `service` (by its model's protocol name)."""
    # Imported here so protocol modules can import this one for the shared types.
    if service.protocol == "rest-json":
        from fireside.aws.restjson import RestJsonProtocol

        return RestJsonProtocol(service)
    if service.protocol == "json":
        from fireside.aws.jsonproto import JsonProtocol

        # DynamoDB's clients verify x-amz-crc32 when it is present (botocore retries on a
        # mismatch); sending it keeps that protection working end to end.
        return JsonProtocol(service, checksum=service.signing_name == "dynamodb")
    if service.protocol == "rest-xml":
        from fireside.aws.restxml import RestXmlProtocol

        return RestXmlProtocol(service)
    if service.protocol == "query":
        from fireside.aws.query import QueryProtocol

        return QueryProtocol(service)
    if service.protocol == "ec2":
        from fireside.aws.ec2proto import Ec2Protocol

        return Ec2Protocol(service)
    raise NotImplementedError(
        f"Fireside has no implementation of the {service.protocol} protocol "
        f"(needed by {service.service_id})"
    )


def not_implemented(operation_name: str, service: ServiceModel | str) -> ServiceError:
    """The error for an operation the service models but Fireside does not implement yet."""
    service_id = service if isinstance(service, str) else service.service_id
    # 501 with sender_fault=False: the request was valid, the server lacks the feature.
    # botocore does not retry 501s, so the caller sees this message straight away.
    return ServiceError(
        "NotImplementedException",
        f"Fireside does not implement the {service_id} operation {operation_name} yet",
        501,
        sender_fault=False,
    )
