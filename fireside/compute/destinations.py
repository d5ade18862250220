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

Fireside delivers records to every kind of destination AWS has:

- a Lambda function (OnSuccess or OnFailure): an Event invoke of it, through the same durable
  queue (`fireside.compute.async_queue`);
- an SQS queue, an SNS topic or an EventBridge bus (OnSuccess or OnFailure): the record as
  the message (for a bus, the `detail` of an event from source `lambda` with detail-type
  `Lambda Function Invocation Result - Success` or `- Failure`);
- an S3 bucket (OnFailure only, as on AWS), `arn:aws:s3:::<bucket>`: the record is stored as a
  JSON object named as AWS names it,
  `aws/lambda/async/<function-name>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>` (UTC).

All but functions go through the durable outbox (`fireside.outbox`) and `fireside.targets`,
acting as the function's account (its execution role): the target's owner check and resource
policy decide, and a refused delivery loses the record, as a failed delivery does on AWS.
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

_BUCKET_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:s3:::(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])$")
#: Where S3 destinations put records: the prefix, then `<function>/YYYY/MM/DD/`.
RECORD_PREFIX = "aws/lambda/async/"

#: Destination services other than Lambda and S3, delivered through `fireside.targets`.
SERVICES = frozenset({"sqs", "sns", "events"})
_SERVICE_ARN = re.compile(
    r"^arn:aws[a-zA-Z-]*:(?P<service>sqs|sns|events):[a-z0-9-]+:\d{12}:(?P<resource>[^:\s]+)$"
)


@dataclass(frozen=True, slots=True)
class Target:
    """A Lambda function destination: the function and qualifier an Event invoke goes to."""

    account: str
    region: str
    function: str
    qualifier: str = LATEST


@dataclass(frozen=True, slots=True)
class BucketTarget:
    """An S3 bucket destination (OnFailure only): records become objects in `bucket`."""

    bucket: str


@dataclass(frozen=True, slots=True)
class ServiceTarget:
    """An SQS queue, SNS topic or EventBridge bus destination, by ARN."""

    arn: str
    service: str


Destination = Target | BucketTarget | ServiceTarget


def function_target(arn: str) -> Target | None:
    """The function a Lambda destination ARN names (qualified or not), or None if it is not
    a function ARN."""
    match = _FUNCTION_ARN.match(arn)
    if match is None:
        return None
    return Target(match["account"], match["region"], match["name"], match["qualifier"] or LATEST)


def bucket_target(arn: str) -> BucketTarget | None:
    """The bucket an S3 destination ARN (`arn:aws:s3:::<bucket>`, no key) names, or None."""
    match = _BUCKET_ARN.match(arn)
    return None if match is None else BucketTarget(match["bucket"])


def service_target(arn: str) -> ServiceTarget | None:
    """The queue, topic or bus a destination ARN names, or None if it names none."""
    match = _SERVICE_ARN.match(arn)
    if match is None:
        return None
    if match["service"] == "events" and not match["resource"].startswith("event-bus/"):
        return None
    return ServiceTarget(arn, match["service"])


def destination(arn: str) -> Destination | None:
    """What a configured destination ARN delivers to (None: nothing Fireside can deliver to)."""
    return function_target(arn) or bucket_target(arn) or service_target(arn)


def record_key(function: str, seconds: float, unique: str) -> str:
    """The object key of a record in an S3 destination, as AWS documents it:
    `aws/lambda/async/<function-name>/YYYY/MM/DD/YYYY-MM-DDTHH.MM.SS-<uuid>`, in UTC."""
    when = time.gmtime(seconds)
    return (
        f"{RECORD_PREFIX}{function}/{time.strftime('%Y/%m/%d', when)}/"
        f"{time.strftime('%Y-%m-%dT%H.%M.%S', when)}-{unique}"
    )


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
    at: float | None = None,
) -> bytes:
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": timestamp(at),
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
