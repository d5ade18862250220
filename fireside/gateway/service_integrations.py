"""HTTP APIs' first-class AWS service integrations: a route that sends a message, receives or
deletes one, purges a queue or puts an event, with no function in between.

An `AWS_PROXY` integration with an `IntegrationSubtype` (`SQS-SendMessage`,
`SQS-ReceiveMessage`, `SQS-DeleteMessage`, `SQS-PurgeQueue`, `EventBridge-PutEvents`) maps
the request into the action's parameters with `RequestParameters`: each value is a static
string, a selection expression (`$request.body.order.id`, `$request.body`,
`$request.header.name`, `$request.querystring.name`, `$request.path.name`,
`$context.requestId`, `$stageVariables.name`), or a string with `${...}` expressions in it.
The action runs as the API's account (its `CredentialsArn` role: Fireside does not evaluate
IAM roles, so the account's own resources are open to it and another account's only
through their resource policies), through the service's own operation, and the route
answers with what the service answered on its wire.

Checked when the integration is created (`check`), as API Gateway checks it: a known subtype,
its required parameters present and no others, `PayloadFormatVersion` 1.0. Subtypes of
services Fireside does not run (AppConfig, Kinesis, Step Functions) are refused, naming them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol
from urllib.parse import parse_qsl

from fireside.aws.errors import ServiceError
from fireside.http.types import Request, Response

__all__ = ["SUBTYPES", "ServiceCalls", "Source", "Subtype", "check", "parameters", "value_of"]


@dataclass(frozen=True, slots=True)
class Subtype:
    service: str
    operation: str
    required: tuple[str, ...]
    optional: tuple[str, ...]


SUBTYPES: Final = {
    "SQS-SendMessage": Subtype(
        "sqs",
        "SendMessage",
        ("QueueUrl", "MessageBody"),
        (
            "DelaySeconds",
            "MessageAttributes",
            "MessageDeduplicationId",
            "MessageGroupId",
            "MessageSystemAttributes",
            "Region",
        ),
    ),
    "SQS-ReceiveMessage": Subtype(
        "sqs",
        "ReceiveMessage",
        ("QueueUrl",),
        (
            "AttributeNames",
            "MaxNumberOfMessages",
            "MessageAttributeNames",
            "ReceiveRequestAttemptId",
            "VisibilityTimeout",
            "WaitTimeSeconds",
            "Region",
        ),
    ),
    "SQS-DeleteMessage": Subtype(
        "sqs", "DeleteMessage", ("QueueUrl", "ReceiptHandle"), ("Region",)
    ),
    "SQS-PurgeQueue": Subtype("sqs", "PurgeQueue", ("QueueUrl",), ("Region",)),
    "EventBridge-PutEvents": Subtype(
        "events",
        "PutEvents",
        ("Detail", "DetailType", "Source"),
        ("Time", "EventBusName", "Region", "Resources", "TraceHeader"),
    ),
}
#: AWS's other subtypes, for services Fireside does not run.
_ELSEWHERE: Final = frozenset(
    {
        "AppConfig-GetConfiguration",
        "Kinesis-PutRecord",
        "StepFunctions-StartExecution",
        "StepFunctions-StartSyncExecution",
        "StepFunctions-StopExecution",
    }
)
_INTEGERS: Final = frozenset(
    {"DelaySeconds", "MaxNumberOfMessages", "VisibilityTimeout", "WaitTimeSeconds"}
)
_LISTS: Final = frozenset({"AttributeNames", "MessageAttributeNames", "Resources"})
_OBJECTS: Final = frozenset({"MessageAttributes", "MessageSystemAttributes"})
_EXPRESSION: Final = re.compile(
    r"\$(?:\{([^}]+)\}|(request\.[A-Za-z0-9_.\-]+|context\.[A-Za-z0-9_.]+|stageVariables\.[A-Za-z0-9_]+))"
)


class ServiceCalls(Protocol):
    """Runs one service operation as an account, answering on that service's wire."""

    async def call(
        self,
        account: str,
        region: str,
        service: str,
        operation: str,
        params: dict[str, Any],
        request_id: str,
    ) -> Response: ...


def _bad(message: str) -> ServiceError:
    return ServiceError("BadRequestException", message, 400)


def check(integration: Mapping[str, Any]) -> None:
    """A first-class integration's members, as API Gateway checks them."""
    name = str(integration.get("IntegrationSubtype"))
    if name in _ELSEWHERE:
        raise _bad(
            f"Fireside does not support the integration subtype {name}: it needs a service "
            "Fireside does not run."
        )
    subtype = SUBTYPES.get(name)
    if subtype is None:
        raise _bad(f"Invalid integration subtype specified: {name}")
    if integration.get("PayloadFormatVersion") not in (None, "1.0"):
        raise _bad(f"PayloadFormatVersion must be 1.0 for integration subtype {name}")
    given = dict(integration.get("RequestParameters") or {})
    for key in subtype.required:
        if not given.get(key):
            raise _bad(f"Parameter {key} is required for integration subtype {name}")
    for key in given:
        if key not in subtype.required and key not in subtype.optional:
            raise _bad(f"Parameter {key} is not supported for integration subtype {name}")


@dataclass(frozen=True, slots=True)
class Source:
    """What a selection expression reads: the request and its route's context."""

    request: Request
    path_parameters: Mapping[str, str]
    context: Mapping[str, str]
    stage_variables: Mapping[str, str]


def _select(expression: str, source: Source) -> str:
    where, _, name = expression.partition(".")
    if where == "request":
        part, _, rest = name.partition(".")
        if part == "body":
            body = source.request.body.decode("utf-8", errors="replace")
            if not rest:
                return body
            try:
                value: Any = json.loads(body)
            except ValueError:
                return ""
            for step in rest.split("."):
                value = value.get(step) if isinstance(value, dict) else None
            if value is None:
                return ""
            return value if isinstance(value, str) else json.dumps(value)
        if part == "header":
            return source.request.headers.get(rest.lower()) or ""
        if part == "querystring":
            return dict(parse_qsl(source.request.query, keep_blank_values=True)).get(rest, "")
        if part == "path":
            return source.path_parameters.get(rest, "")
        return ""
    if where == "context":
        return source.context.get(name, "")
    if where == "stageVariables":
        return source.stage_variables.get(name, "")
    return ""


def value_of(template: str, source: Source) -> str:
    """A parameter's value for one request: static, one expression, or `${...}` inside."""
    whole = _EXPRESSION.fullmatch(template)
    if whole is not None:
        return _select(whole[1] or whole[2], source)
    return _EXPRESSION.sub(lambda m: _select(m[1] or m[2], source), template)


def _typed(key: str, text: str) -> Any:
    if key in _INTEGERS:
        try:
            return int(text)
        except ValueError:
            raise _bad(f"Parameter {key} must be a number, not {text!r}") from None
    if key in _LISTS:
        if text.startswith("["):
            try:
                return [str(v) for v in json.loads(text)]
            except ValueError:
                raise _bad(f"Parameter {key} is not a JSON list") from None
        return [part.strip() for part in text.split(",") if part.strip()]
    if key in _OBJECTS:
        try:
            return json.loads(text)
        except ValueError:
            raise _bad(f"Parameter {key} is not a JSON object") from None
    return text


def parameters(subtype: Subtype, mapped: Mapping[str, str], source: Source) -> dict[str, Any]:
    """The operation's parameters for one request (Region aside)."""
    values = {
        key: _typed(key, value_of(str(template), source))
        for key, template in mapped.items()
        if key != "Region"
    }
    if subtype.operation == "PutEvents":
        return {"Entries": [values]}
    return values
