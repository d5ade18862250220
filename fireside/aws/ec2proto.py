"""The ec2 protocol: EC2's own dialect of the query protocol.

Requests are query-style (`Action=CreateVpc&Version=2016-11-15&CidrBlock=10.0.0.0/16`), but
a member travels under its `queryName` (else its capitalized `locationName`) and every list
is `Name.N`, with no `member` segment (`Filter.1.Name=vpc-id&Filter.1.Value.1=vpc-...`).
`QueryProtocol` decodes them with its ec2 switch on.

Responses have no `<XResult>` wrapper and no `ResponseMetadata`: the result's members sit in
`<CreateVpcResponse>` under their `locationName`s (`vpc`, `vpcSet`...), lists as `item`
elements (the models name them so; `XmlWriter` follows the model), and the request id is a
`<requestId>` member. Errors are

    <Response><Errors><Error><Code>InvalidVpcID.NotFound</Code><Message>...</Message>
    </Error></Errors><RequestID>...</RequestID></Response>

EC2 reports bad input as `MissingParameter` or `InvalidParameterValue`, not Coral's
`ValidationError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fireside.aws.errors import ServiceError
from fireside.aws.model import ServiceModel
from fireside.aws.protocol import ParsedRequest
from fireside.aws.query import QueryProtocol
from fireside.aws.xmlcodec import XmlWriter, escape_text, xml_safe
from fireside.http.types import Request, Response

__all__ = ["Ec2Protocol"]

_XML = ("Content-Type", "text/xml;charset=UTF-8")


class Ec2Protocol(QueryProtocol):
    """ec2-protocol parsing and serialization for EC2 (implements `WireProtocol`)."""

    def __init__(self, service: ServiceModel) -> None:
        super().__init__(service, ec2=True)
        self._ec2_writer = XmlWriter()

    def parse(self, request: Request) -> ParsedRequest:
        try:
            return super().parse(request)
        except ServiceError as exc:
            if exc.code != "ValidationError":
                raise
            if "must not be null" in exc.message:
                missing = exc.message.split(" at '", 1)[-1].split("'", 1)[0]
                raise ServiceError(
                    "MissingParameter",
                    f"The request must contain the parameter {missing[:1].upper()}{missing[1:]}",
                    400,
                ) from None
            raise ServiceError("InvalidParameterValue", exc.message, 400) from None

    def serialize_result(
        self, operation_name: str, result: Mapping[str, Any], request_id: str
    ) -> Response:
        op = self.service.operation(operation_name)
        tag = f"{operation_name}Response"
        namespace = self.service.xml_namespace or "http://ec2.amazonaws.com/doc/2016-11-15/"
        out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<{tag} xmlns="{namespace}">']
        out.append(f"<requestId>{escape_text(request_id)}</requestId>")
        if op.output is not None:
            self._ec2_writer.members(op.output)(result, out)
        out.append(f"</{tag}>")
        return Response(200, self._ec2_headers(request_id), "".join(out).encode())

    def serialize_error(self, error: ServiceError, request_id: str) -> Response:
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{escape_text(error.code)}</Code>"
            f"<Message>{escape_text(xml_safe(error.message))}</Message>"
            f"</Error></Errors><RequestID>{escape_text(request_id)}</RequestID></Response>"
        )
        headers = self._ec2_headers(request_id)
        headers.extend(error.headers.items())
        return Response(error.status, headers, body.encode())

    @staticmethod
    def _ec2_headers(request_id: str) -> list[tuple[str, str]]:
        return [("x-amzn-RequestId", request_id), _XML]
