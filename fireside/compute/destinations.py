"""Destinations of asynchronous invocations: where a finished Event invoke's record goes, and
the record itself.

When an Event invoke succeeds, or fails for good (retries exhausted, event too old, or the
function's reserved concurrency is 0), Lambda sends an *invocation record* to the function's
`OnSuccess` or `OnFailure` destination. Its format, as AWS documents it
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html):

    {"version": "1.0", "timestamp": "2019-11-14T18:16:05.568Z",
     "requestContext": {"requestId": ..., "functionArn": "<the ARN invoked, qualified>",
                        "condition": "Success" | "RetriesExhausted" | "EventAgeExceeded",
                        "approximateInvokeCount": 3},
     "requestPayload": <the event>,
     "responseContext": {"statusCode": 200, "executedVersion": "$LATEST",
                         "functionError": "Unhandled"},      (functionError on failure only)
     "responsePayload": <what the function returned, or its error>}

A record for an event that never ran (`ZeroReservedConcurrency`, or too old while throttled)
has no `responseContext` or `responsePayload`, as AWS sends it for reserved concurrency 0.

Fireside delivers records to Lambda function destinations only: an Event invoke of the
destination function, through the same durable queue.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from fireside.compute.functions import LATEST

SUCCESS = "Success"
RETRIES_EXHAUSTED = "RetriesExhausted"
EVENT_AGE_EXCEEDED = "EventAgeExceeded"
ZERO_RESERVED_CONCURRENCY = "ZeroReservedConcurrency"

_FUNCTION_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):function:"
    r"(?P<name>[a-zA-Z0-9_-]+)(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9_-]+))?$"
)

#: Destination services AWS accepts that Fireside cannot deliver to yet: ARN service -> name.
NOT_IN_FIRESIDE = {
    "sqs": "Amazon SQS",
    "sns": "Amazon SNS",
    "events": "Amazon EventBridge",
    "s3": "Amazon S3",
}


@dataclass(frozen=True, slots=True)
class Target:
    """A Lambda function destination: the function and qualifier an Event invoke goes to."""

    account: str
    region: str
    function: str
    qualifier: str = LATEST


def service_of(arn: str) -> str:
    """The service part of an ARN (`arn:aws:<service>:...`), or "" if it has none."""
    parts = arn.split(":")
    return parts[2] if len(parts) > 2 and parts[0] == "arn" else ""


def function_target(arn: str) -> Target | None:
    """The function a Lambda destination ARN names (qualified or not), or None if it is not
    a function ARN."""
    match = _FUNCTION_ARN.match(arn)
    if match is None:
        return None
    return Target(match["account"], match["region"], match["name"], match["qualifier"] or LATEST)


def timestamp(seconds: float | None = None) -> str:
    """The record's timestamp: ISO 8601 in UTC with milliseconds, `2019-11-14T18:16:05.568Z`."""
    now = time.time() if seconds is None else seconds
    millis = int(now * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{millis:03d}Z"


def _json_or_text(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:  # a runtime may answer with something other than JSON
        return data.decode(errors="replace")


@dataclass(frozen=True, slots=True)
class Response:
    """What one run of the function answered (the last one, for a failure)."""

    executed_version: str
    payload: bytes
    function_error: str | None = None


def invocation_record(
    *,
    request_id: str,
    function_arn: str,
    condition: str,
    invoke_count: int,
    request_payload: bytes,
    response: Response | None,
) -> bytes:
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": timestamp(),
        "requestContext": {
            "requestId": request_id,
            "functionArn": function_arn,
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": _json_or_text(request_payload),
    }
    if response is not None:
        context: dict[str, Any] = {"statusCode": 200, "executedVersion": response.executed_version}
        if response.function_error:
            context["functionError"] = response.function_error
        record["responseContext"] = context
        record["responsePayload"] = _json_or_text(response.payload)
    return json.dumps(record).encode()
