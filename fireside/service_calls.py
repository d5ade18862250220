"""One service's operation run in-process as an account, answered on that service's wire.

API Gateway's service integrations call an AWS action on the API owner's behalf and hand the
client what the service answered. This runs the served operation (the same provider method,
and so the same owner checks, an account's own call would reach) with that account's
context, and encodes its result or error with the service's own protocol.
"""

from __future__ import annotations

from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.edge import Service
from fireside.http.types import Response

__all__ = ["LocalServiceCalls"]


class LocalServiceCalls:
    def __init__(self) -> None:
        self._services: dict[str, Service] = {}
        self.endpoint_url = ""

    def serve(self, services: list[Service], endpoint_url: str) -> None:
        self._services = {service.name: service for service in services}
        self.endpoint_url = endpoint_url

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
