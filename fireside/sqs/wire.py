"""SQS's wire protocols: json 1.0 (`X-Amz-Target: AmazonSQS.<Operation>`), as botocore sends it
today, and the query protocol (`Action=SendMessage&...`, XML answers) that SDKs from before 2024
(botocore < 1.34.23, the Java SDK v1, the AWS CLI v1 of that time) send.

SQS moved from the query protocol to json, keeping its clients' error codes: every error
answer carries `x-amzn-query-error: <query code>;<Sender|Receiver>`, from which botocore
takes the code users see (`AWS.SimpleQueueService.NonExistentQueue`) while the error class
(`client.exceptions.QueueDoesNotExist`) comes from `__type`. This module adds that header to
the json protocol's errors; the codes are those of SQS's query API.

A request is json when it names an `X-Amz-Target`, else query. The query protocol is read and
written with the description `query_names` makes from the json model; its answers and errors
are XML in SQS's namespace, the errors with the query codes. The answer goes out in the
protocol the request came in (remembered per request task). A query request posted to a
queue's URL (`POST /<account>/<queue>`) without a `QueueUrl` parameter is for that queue, as
the query API allows, and a missing required parameter is SQS's `MissingParameter`.
"""

from __future__ import annotations

import contextvars
import logging
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote, unquote

from fireside.aws.errors import ServiceError
from fireside.aws.jsonproto import JsonProtocol
from fireside.aws.model import (
    ServiceModel,
    load_description,
    load_service,
    service_from_description,
)
from fireside.aws.protocol import ParsedRequest
from fireside.aws.query import QueryProtocol
from fireside.http.types import Request, Response
from fireside.sqs.query_names import query_description

__all__ = ["QUERY_CODES", "SqsProtocol"]

log = logging.getLogger(__name__)

#: json `__type` code -> the query API's code (when they differ).
QUERY_CODES: Final = {
    "QueueDoesNotExist": "AWS.SimpleQueueService.NonExistentQueue",
    "QueueNameExists": "QueueAlreadyExists",
    "QueueDeletedRecently": "AWS.SimpleQueueService.QueueDeletedRecently",
    "PurgeQueueInProgress": "AWS.SimpleQueueService.PurgeQueueInProgress",
    "TooManyEntriesInBatchRequest": "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
    "EmptyBatchRequest": "AWS.SimpleQueueService.EmptyBatchRequest",
    "BatchEntryIdsNotDistinct": "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
    "BatchRequestTooLong": "AWS.SimpleQueueService.BatchRequestTooLong",
    "InvalidBatchEntryId": "AWS.SimpleQueueService.InvalidBatchEntryId",
    "MessageNotInflight": "AWS.SimpleQueueService.MessageNotInflight",
    "UnsupportedOperation": "AWS.SimpleQueueService.UnsupportedOperation",
    "UnknownOperationException": "InvalidAction",
    "ValidationException": "ValidationError",
    "SerializationException": "MalformedQueryString",
}


#: Whether the request being answered in this task came in the query protocol.
_QUERY: contextvars.ContextVar[bool] = contextvars.ContextVar("sqs_query", default=False)


class SqsProtocol:
    """json 1.0 with SQS's query-compatible error header, and the query protocol
    (implements `WireProtocol`)."""

    def __init__(self) -> None:
        # SQS checks values itself, in its own words (`InvalidAttributeName`...).
        self._json = JsonProtocol(
            load_service("sqs"), error_namespace="com.amazonaws.sqs", constraints=False
        )
        unnamed: list[str] = []
        description = query_description(load_description("sqs"), unnamed)
        if unnamed:
            log.warning("SQS query protocol: wire names guessed for %s", ", ".join(unnamed))
        # A missing top-level parameter is SQS's `MissingParameter` (checked in `parse`); an
        # empty list is no parameter at all in the query protocol: the provider judges it
        # (`EmptyBatchRequest`...).
        shapes = description["shapes"]
        self._required: dict[str, tuple[str, ...]] = {}
        for name, operation in description["operations"].items():
            if "input" in operation:
                shape = shapes[operation["input"]["shape"]]
                self._required[name] = tuple(
                    member
                    for member in shape.pop("required", ())
                    if shapes[shape["members"][member]["shape"]]["type"] not in ("list", "map")
                )
        self._query = QueryProtocol(service_from_description(description, "sqs"), constraints=False)

    @property
    def service(self) -> ServiceModel:
        return self._json.service

    def parse(self, request: Request) -> ParsedRequest:
        if "x-amz-target" in request.headers:
            _QUERY.set(False)
            return self._json.parse(request)
        _QUERY.set(True)
        parsed = self._query.parse(_with_queue_url(request))
        for name in self._required.get(parsed.operation_name, ()):
            if name not in parsed.params:
                raise ServiceError(
                    "MissingParameter", f"The request must contain the parameter {name}.", 400
                )
        return parsed

    def serialize_result(
        self, operation_name: str, result: Mapping[str, Any], request_id: str
    ) -> Response:
        if _QUERY.get():
            return self._query.serialize_result(operation_name, result, request_id)
        return self._json.serialize_result(operation_name, result, request_id)

    def serialize_error(self, error: ServiceError, request_id: str) -> Response:
        code = QUERY_CODES.get(error.code, error.code)
        if _QUERY.get():
            query_error = ServiceError(
                code,
                error.message,
                error.status,
                sender_fault=error.sender_fault,
                headers=error.headers,
                **error.fields,
            )
            return self._query.serialize_error(query_error, request_id)
        response = self._json.serialize_error(error, request_id)
        fault = "Sender" if error.sender_fault else "Receiver"
        response.headers.append(("x-amzn-query-error", f"{code};{fault}"))
        return response


def _with_queue_url(request: Request) -> Request:
    """A query request posted to `/<account>/<queue>` names its queue by its path."""
    parts = [p for p in request.path.split("/") if p]
    if len(parts) != 2 or b"QueueUrl=" in request.body or "QueueUrl=" in request.query:
        return request
    extra = f"QueueUrl={quote(unquote(request.path), safe='')}".encode()
    body = request.body + b"&" + extra if request.body else extra
    return Request(request.method, request.path, request.query, request.headers, body)
