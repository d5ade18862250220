"""SQS's wire protocol: json 1.0 (`X-Amz-Target: AmazonSQS.<Operation>`), as botocore sends it
today.

SQS moved from the query protocol to json, keeping its clients' error codes: every error
answer carries `x-amzn-query-error: <query code>;<Sender|Receiver>`, from which botocore
takes the code users see (`AWS.SimpleQueueService.NonExistentQueue`) while the error class
(`client.exceptions.QueueDoesNotExist`) comes from `__type`. This module adds that header to
the json protocol's errors; the codes are those of SQS's query API.

The query protocol (`Action=SendMessage&...`, XML answers), which SDKs from before 2024 send, is
not served yet: botocore's current model no longer carries the query wire names (`Attribute.N.
Name`, ...), so serving it needs a table of those names of our own (docs/messaging.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from fireside.aws.errors import ServiceError
from fireside.aws.jsonproto import JsonProtocol
from fireside.aws.model import ServiceModel, load_service
from fireside.aws.protocol import ParsedRequest
from fireside.http.types import Request, Response

__all__ = ["QUERY_CODES", "SqsProtocol"]

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


class SqsProtocol:
    """json 1.0 with SQS's query-compatible error header (implements `WireProtocol`)."""

    def __init__(self) -> None:
        # SQS checks values itself, in its own words (`InvalidAttributeName`...).
        self._json = JsonProtocol(
            load_service("sqs"), error_namespace="com.amazonaws.sqs", constraints=False
        )

    @property
    def service(self) -> ServiceModel:
        return self._json.service

    def parse(self, request: Request) -> ParsedRequest:
        return self._json.parse(request)

    def serialize_result(
        self, operation_name: str, result: Mapping[str, Any], request_id: str
    ) -> Response:
        return self._json.serialize_result(operation_name, result, request_id)

    def serialize_error(self, error: ServiceError, request_id: str) -> Response:
        code = QUERY_CODES.get(error.code, error.code)
        response = self._json.serialize_error(error, request_id)
        fault = "Sender" if error.sender_fault else "Receiver"
        response.headers.append(("x-amzn-query-error", f"{code};{fault}"))
        return response
