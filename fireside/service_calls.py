"""One service's operation run in-process as an account, answered on that service's wire.

API Gateway's service integrations call an AWS action on the API owner's behalf and hand the
client what the service answered. This runs the served operation (the same provider method,
and so the same owner checks, an account's own call would reach) with that account's
context, and encodes its result or error with the service's own protocol.

`call` takes decoded parameters (HTTP APIs' first-class integrations); `call_raw` takes the
HTTP request API Gateway would send (REST APIs' `AWS` integrations, whose mapping templates
write it) and decodes it as the service does. A query-protocol request (a form:
`Action=SendMessage&MessageBody=...`, which API Gateway sends SQS and SNS) is answered, as
AWS answers API Gateway, with the JSON rendition of the query response:
`{"SendMessageResponse": {"SendMessageResult": {...}, "ResponseMetadata": {...}}}`, and
errors as `{"Error": {"Code", "Message", "Type"}, "RequestId"}`.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import uuid
from datetime import datetime
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.edge import Service
from fireside.http.types import Request, Response

__all__ = ["LocalServiceCalls"]

log = logging.getLogger(__name__)

#: Services API Gateway speaks the query protocol to (whatever protocol Fireside serves).
QUERY_SERVICES = frozenset({"sqs", "sns"})
_CODE = re.compile(rb"<Code>([^<]{1,200})</Code>")


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime):
        return value.timestamp()
    return value


class LocalServiceCalls:
    def __init__(self) -> None:
        self._services: dict[str, Service] = {}
        self.endpoint_url = ""

    def serve(self, services: list[Service], endpoint_url: str) -> None:
        self._services = {service.name: service for service in services}
        self.endpoint_url = endpoint_url

    def serves(self, service: str) -> bool:
        return service in self._services

    def target_prefix(self, service: str) -> str | None:
        return self._services[service].target_prefix

    async def call(
        self,
        account: str,
        region: str,
        service: str,
        operation: str,
        params: dict[str, Any],
        request_id: str,
    ) -> Response:
        served = self._services[service]
        ctx = RequestContext(account, region, request_id, self.endpoint_url, account)
        try:
            result = await served.operations[operation](ctx, params)
        except ServiceError as error:
            return served.protocol.serialize_error(error, request_id)
        return served.protocol.serialize_result(operation, result, request_id)

    async def run(
        self, account: str, region: str, service: str, operation: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        """The decoded result of `operation` run as `account` (a `ServiceError` as raised):
        CloudFormation's resource providers act through the same provider methods."""
        served = self._services.get(service)
        handler = None if served is None else served.operations.get(operation)
        if handler is None:
            raise ServiceError(
                "InvalidAction", f"Fireside does not implement {operation} of {service}", 400
            )
        ctx = RequestContext(account, region, uuid.uuid4().hex, self.endpoint_url, account)
        return await handler(ctx, params)

    async def call_raw(
        self, account: str, region: str, service: str, request: Request, request_id: str
    ) -> Response:
        """`request` decoded and run as `service` decodes and runs its own requests (KeyError
        when `service` is not served)."""
        served = self._services[service]
        if served.max_body is not None and len(request.body) > served.max_body:
            # The cap the edge puts on this service's requests, answered as it answers.
            return Response(413, [("Content-Type", "text/plain")], b"Request entity too large")
        query = service in QUERY_SERVICES
        try:
            parsed = served.protocol.parse(request)
            operation = served.operations.get(parsed.operation_name)
            if operation is None:
                raise ServiceError(
                    "InvalidAction",
                    f"Fireside does not implement {parsed.operation_name} of {service}",
                    400,
                )
            ctx = RequestContext(account, region, request_id, self.endpoint_url, account)
            result = await operation(ctx, parsed.params)
        except ServiceError as error:
            if not query:
                return served.protocol.serialize_error(error, request_id)
            return self._query_error(served, error, request_id)
        if not query:
            return served.protocol.serialize_result(parsed.operation_name, result, request_id)
        name = parsed.operation_name
        document = {
            f"{name}Response": {
                f"{name}Result": _jsonable(result),
                "ResponseMetadata": {"RequestId": request_id},
            }
        }
        return Response(200, [("Content-Type", "application/json")], json.dumps(document).encode())

    @staticmethod
    def _query_error(served: Service, error: ServiceError, request_id: str) -> Response:
        # The service's own error answer says the code its query clients see (SQS's
        # `AWS.SimpleQueueService.NonExistentQueue`), in its XML or its `x-amzn-query-error`.
        answer = served.protocol.serialize_error(error, request_id)
        code = error.code
        found = _CODE.search(answer.body)
        if found is not None:
            code = found[1].decode()
        for name, value in answer.headers:
            if name.lower() == "x-amzn-query-error":
                code = value.split(";")[0]
        document = {
            "Error": {
                "Code": code,
                "Message": error.message,
                "Type": "Sender" if error.sender_fault else "Receiver",
            },
            "RequestId": request_id,
        }
        return Response(
            error.status, [("Content-Type", "application/json")], json.dumps(document).encode()
        )
