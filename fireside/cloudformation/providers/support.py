"""What every resource provider needs around `ctx.call`: errors, coercion, names, waiting.

Templates carry numbers and booleans as strings as often as not ("5", "true"), and
CloudFormation accepts both, so a provider coerces each property to its declared type before
handing it to a service, whose own code expects the decoded wire types: `as_int`/`as_bool` by
hand, or `call`, which conforms the params to the operation's input shape in botocore's model
and checks them with the model's constraints, as the wire parser would have. A service's
refusal becomes `ResourceFailed` worded as CloudFormation words it in stack events.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from fireside.aws.errors import ServiceError
from fireside.aws.model import Shape, load_service
from fireside.aws.validation import Validator
from fireside.cloudformation.resource_types import ResourceContext, ResourceFailed

__all__ = [
    "GONE",
    "as_bool",
    "as_int",
    "call",
    "conform",
    "failed",
    "gone",
    "name_for",
    "refused",
    "require",
    "tag_list",
    "wait_for",
]

#: CloudFormation's HandlerErrorCode for the service error codes providers meet most.
_HANDLER_CODES = {
    "ValidationException": "InvalidRequest",
    "InvalidParameterValue": "InvalidRequest",
    "InvalidParameterValueException": "InvalidRequest",
    "InvalidEventPatternException": "InvalidRequest",
    "InvalidParameterException": "InvalidRequest",
    "ResourceInUseException": "AlreadyExists",
    "ResourceAlreadyExistsException": "AlreadyExists",
    "ConflictException": "ResourceConflict",
    "ResourceNotFoundException": "NotFound",
    "LimitExceededException": "ServiceLimitExceeded",
    "ServiceQuotaExceededException": "ServiceLimitExceeded",
    "AccessDeniedException": "AccessDenied",
    "InvalidAction": "InvalidRequest",
    "ResourceConflictException": "ResourceConflict",
    "NotFoundException": "NotFound",
    "BadRequestException": "InvalidRequest",
    "TooManyRequestsException": "Throttling",
}
#: Error codes meaning "no such resource": a delete of it has nothing left to do.
GONE = frozenset({"ResourceNotFoundException", "NotFoundException", "NoSuchEntity"})
#: Members a service checks itself, in its own words (as its wire protocol leaves them).
_UNCHECKED = {
    ("lambda", "CreateFunction"): frozenset({"Runtime"}),
    ("lambda", "UpdateFunctionConfiguration"): frozenset({"Runtime"}),
    ("apigatewayv2", "CreateApi"): frozenset({"ProtocolType"}),
}
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})


def refused(message: str, handler_code: str = "InvalidRequest") -> ResourceFailed:
    """A handler failure as CloudFormation's stack events show it."""
    return ResourceFailed(
        f'Resource handler returned message: "{message}" '
        f"(RequestToken: {uuid.uuid4()}, HandlerErrorCode: {handler_code})"
    )


def failed(error: ServiceError) -> ResourceFailed:
    """A service error as CloudFormation's stack events show it."""
    handler_code = _HANDLER_CODES.get(error.code, "GeneralServiceException")
    if handler_code == "ResourceConflict" and "already exist" in error.message:
        handler_code = "AlreadyExists"
    return refused(error.message or error.code, handler_code)


def gone(error: ServiceError) -> bool:
    return error.code in GONE


@functools.cache
def _validator(service: str, operation: str) -> Validator | None:
    shape = load_service(service).operation(operation).input
    if shape is None:
        return None
    return Validator(shape, unchecked=_UNCHECKED.get((service, operation), frozenset()))


@functools.cache
def _input(service: str, operation: str) -> Shape | None:
    return load_service(service).operation(operation).input


def _scalar(shape: Shape, value: Any) -> Any:
    kind = shape.type_name
    if isinstance(value, str) and kind in ("integer", "long"):
        try:
            return int(value.strip())
        except ValueError:
            return value  # the validator or the service refuses it
    if isinstance(value, str) and kind in ("double", "float"):
        try:
            return float(value.strip())
        except ValueError:
            return value
    if isinstance(value, str) and kind == "boolean":
        return True if value in _TRUE else False if value in _FALSE else value
    if kind == "string" and isinstance(value, bool):
        return "true" if value else "false"
    if kind == "string" and isinstance(value, (int, float)):
        return str(value)
    if kind == "timestamp" and isinstance(value, (int, float, str)):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except ValueError:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if kind == "blob" and isinstance(value, str):
        return value.encode()
    return value


def conform(shape: Shape, value: Any) -> Any:
    """`value` as the wire parser would decode it for `shape`: template strings for numbers
    and booleans ("5", "true") typed, inline text for blobs encoded, epoch seconds for
    timestamps made datetimes, None members dropped."""
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping) and not shape.is_document:
        members = shape.members
        out: dict[str, Any] = {}
        for key, item in value.items():
            if item is None:
                continue
            member = members.get(key)
            out[key] = item if member is None else conform(member, item)
        return out
    if kind == "list" and isinstance(value, list):
        return [conform(shape.member, item) for item in value]
    if kind == "map" and isinstance(value, Mapping):
        return {str(k): conform(shape.value, v) for k, v in value.items()}
    return _scalar(shape, value)


async def call(
    ctx: ResourceContext,
    service: str,
    operation: str,
    params: dict[str, Any],
    *,
    missing_ok: bool = False,
) -> dict[str, Any]:
    """`ctx.call` with the params conformed to the operation's model and checked against it,
    as the wire parser decodes and checks a client's (`ctx.call` runs the operation itself,
    past the parser); service errors turned into `ResourceFailed` (or `{}` when `missing_ok`
    and the resource is not there)."""
    shape = _input(service, operation)
    conformed = conform(shape, params) if shape is not None else dict(params)
    try:
        validator = _validator(service, operation)
        if validator is not None:
            validator.validate(conformed)
        return await ctx.call(service, operation, conformed)
    except ServiceError as error:
        if missing_ok and gone(error):
            return {}
        raise failed(error) from None


def require(properties: Mapping[str, Any], *names: str, resource: str, path: str = "#") -> None:
    """Required properties present, else CloudFormation's model-validation message
    (`resource` is the logical id; `path` where in the properties, e.g. `#/Target`)."""
    missing = [n for n in names if properties.get(n) in (None, "", [])]
    if missing:
        raise ResourceFailed(
            f"Properties validation failed for resource {resource} with message: "
            + ", ".join(f"{path}: required key [{n}] not found" for n in missing)
        )


def as_int(value: Any, where: str) -> int:
    """An Integer or Long property, given as a number or a numeric string."""
    if isinstance(value, bool):
        raise ResourceFailed(f"Value of property {where} must be of type Integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ResourceFailed(f"Value of property {where} must be of type Integer")


def as_bool(value: Any, where: str) -> bool:
    """A Boolean property, given as a boolean or as "true"/"false" (any case)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ResourceFailed(f"Value of property {where} must be of type Boolean")


def tag_list(ctx: ResourceContext, tags: Any, where: str = "Tags") -> list[dict[str, str]]:
    """The stack's tags then the resource's own `[{Key, Value}]`, the resource's winning."""
    merged = dict(ctx.tags)
    if tags is not None:
        if not isinstance(tags, list):
            raise ResourceFailed(f"Value of property {where} must be of type List")
        for tag in tags:
            if not isinstance(tag, dict) or "Key" not in tag:
                raise ResourceFailed(f"Value of property {where} must be a list of Key/Value")
            merged[str(tag["Key"])] = str(tag.get("Value", ""))
    return [{"Key": k, "Value": v} for k, v in merged.items()]


def name_for(ctx: ResourceContext, given: Any, limit: int) -> str:
    """The template's name for a resource, else CloudFormation's generated one, cut to
    `limit` characters by dropping the middle (the random suffix must survive)."""
    if given not in (None, ""):
        return str(given)
    name = ctx.generated_name or f"{ctx.stack_name}-{ctx.logical_id}-{uuid.uuid4().hex[:12]}"
    if len(name) <= limit:
        return name
    tail = "-" + name.rsplit("-", 1)[-1]
    return name[: limit - len(tail)] + tail if len(tail) < limit else name[:limit]


async def wait_for(check: Callable[[], Awaitable[bool]], what: str, timeout: float = 300.0) -> None:
    """Poll `check` (a served read) until it is true; a resource that never gets there fails."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while not await check():
        if time.monotonic() > deadline:
            raise ResourceFailed(f"Timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.5)
