"""What every provider of a served service shares: the call, the error, the name, the wait.

A provider acts through the service's own operations (`ResourceContext.call`), but a template
is not a wire request: its numbers and booleans often arrive as strings ("5", "true"), inline
code as text, timestamps as epoch seconds. `call` conforms the params to the operation's input
shape in botocore's model and checks them with the model's constraints, as the wire parser
would have, so the operation sees what a boto3 call would have given it and a bad property
gets the service's own validation message. A `ServiceError` becomes `ResourceFailed` worded
as CloudFormation's events word a handler's failure.
"""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from fireside.aws.errors import ServiceError
from fireside.aws.model import Shape, load_service
from fireside.aws.validation import Validator
from fireside.cloudformation.resource_types import (
    Created,
    NeedsReplacement,
    ResourceContext,
    ResourceFailed,
)

__all__ = [
    "GONE",
    "Provider",
    "call",
    "changed",
    "conform",
    "failed",
    "generated",
    "gone",
    "read_s3_document",
    "retag",
    "tags_of",
    "wait_for",
]

#: Error codes meaning "no such resource": a delete of it has nothing left to do.
GONE = frozenset({"ResourceNotFoundException", "NotFoundException", "NoSuchEntity"})
#: Handler error codes CloudFormation reports, by the service error that causes them.
_HANDLER_CODES = {
    "ResourceNotFoundException": "NotFound",
    "NotFoundException": "NotFound",
    "ResourceConflictException": "ResourceConflict",
    "ConflictException": "ResourceConflict",
    "ResourceAlreadyExistsException": "AlreadyExists",
    "InvalidParameterValueException": "InvalidRequest",
    "ValidationException": "InvalidRequest",
    "BadRequestException": "InvalidRequest",
    "AccessDeniedException": "AccessDenied",
    "TooManyRequestsException": "Throttling",
    "LimitExceededException": "ServiceLimitExceeded",
}
#: Members the service checks itself, in its own words (as its wire protocol leaves them).
_UNCHECKED = {
    ("lambda", "CreateFunction"): frozenset({"Runtime"}),
    ("lambda", "UpdateFunctionConfiguration"): frozenset({"Runtime"}),
    ("apigatewayv2", "CreateApi"): frozenset({"ProtocolType"}),
}
_TRUE = frozenset({"true", "True", "TRUE", "1"})
_FALSE = frozenset({"false", "False", "FALSE", "0"})


def failed(message: str, code: str = "InvalidRequest") -> ResourceFailed:
    """A handler failure as CloudFormation's stack events show it."""
    return ResourceFailed(
        f'Resource handler returned message: "{message}" '
        f"(RequestToken: {uuid.uuid4()}, HandlerErrorCode: {code})"
    )


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
    if kind in ("integer", "long") and isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return value  # the validator or the service refuses it
    if kind in ("double", "float") and isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return value
    if kind == "boolean" and isinstance(value, str):
        if value in _TRUE:
            return True
        if value in _FALSE:
            return False
        return value
    if kind == "string" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if kind == "string" and isinstance(value, bool):
        return "true" if value else "false"
    if kind == "timestamp" and isinstance(value, (int, float, str)):
        try:
            return datetime.fromtimestamp(float(value), UTC)
        except ValueError:
            return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if kind == "blob" and isinstance(value, str):
        return value.encode()
    return value


def conform(shape: Shape, value: Any) -> Any:
    """`value` as the wire parser would decode it for `shape` (None members dropped)."""
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
    """Run `operation` as the stack's account; a service error becomes `ResourceFailed`
    (or `{}` when `missing_ok` and the resource is not there)."""
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
        code = _HANDLER_CODES.get(error.code, "GeneralServiceException")
        if code == "ResourceConflict" and "already exist" in error.message:
            code = "AlreadyExists"
        raise failed(error.message or error.code, code) from error


def generated(ctx: ResourceContext, limit: int, given: Any = None) -> str:
    """The template's name, else CloudFormation's `<stack>-<logical>-<RANDOM>` cut to the
    service's limit, keeping the random tail that makes it unique."""
    if given:
        return str(given)
    name = (
        ctx.generated_name or f"{ctx.stack_name}-{ctx.logical_id}-{uuid.uuid4().hex[:12].upper()}"
    )
    if len(name) <= limit:
        return name
    head, _, tail = name.rpartition("-")
    if not head or len(tail) >= limit:
        return name[-limit:]
    return f"{head[: limit - len(tail) - 1]}-{tail}"


def changed(old: Mapping[str, Any], new: Mapping[str, Any], keys: frozenset[str]) -> set[str]:
    """The properties among `keys` whose value differs between `old` and `new`."""
    return {key for key in keys if old.get(key) != new.get(key)}


T = TypeVar("T")


async def wait_for(
    probe: Callable[[], Awaitable[T | None]], what: str, timeout: float = 300.0
) -> T:
    """Poll `probe` until it returns a value (not None); `ResourceFailed` after `timeout`."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        found = await probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise failed(f"Timed out waiting for {what}", "NotStabilized")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)  # in-process probes are cheap; deploys are timed


def tags_of(ctx: ResourceContext, given: Any) -> dict[str, str]:
    """A resource's tags: the stack's (which CloudFormation propagates) and the template's
    (a list of `{Key, Value}` or a map), the template's winning."""
    tags = dict(ctx.tags)
    if isinstance(given, list):
        tags.update({str(t["Key"]): str(t.get("Value", "")) for t in given if "Key" in t})
    elif isinstance(given, Mapping):
        tags.update({str(k): str(v) for k, v in given.items()})
    return tags


async def retag(
    ctx: ResourceContext,
    service: str,
    arn: str,
    before: dict[str, str],
    after: dict[str, str],
    names: tuple[str, str, str, str] = ("TagResource", "UntagResource", "ResourceArn", "Tags"),
) -> None:
    """Tags taken from `before` to `after` with the service's TagResource/UntagResource
    (`names`: the two operations, and the ARN's and tag map's member names; the key list is
    the tag map's name with `Keys`)."""
    tag, untag, arn_member, tags_member = names
    gone = sorted(set(before) - set(after))
    if gone:
        key_member = tags_member[:-1] + "Keys" if tags_member.endswith("s") else tags_member
        await call(ctx, service, untag, {arn_member: arn, key_member: gone})
    changed_tags = {k: v for k, v in after.items() if before.get(k) != v}
    if changed_tags:
        await call(ctx, service, tag, {arn_member: arn, tags_member: changed_tags})


#: The largest OpenAPI document read from S3 (`BodyS3Location`): what Fireside's edge lets an
#: import request carry.
MAX_S3_DOCUMENT = 8 * 1024 * 1024


async def read_s3_document(ctx: ResourceContext, location: Mapping[str, Any]) -> bytes:
    """An API definition named by `BodyS3Location` ({Bucket, Key, Version}), read as the
    stack's account; its size checked before it is read."""
    params = {"Bucket": location["Bucket"], "Key": location["Key"]}
    if location.get("Version"):
        params["VersionId"] = location["Version"]
    head = await call(ctx, "s3", "HeadObject", params)
    size = int(head.get("ContentLength") or 0)
    if size > MAX_S3_DOCUMENT:
        raise failed(
            f"The API definition s3://{params['Bucket']}/{params['Key']} is {size} bytes; "
            f"Fireside imports definitions of at most {MAX_S3_DOCUMENT} bytes."
        )
    answer = await call(ctx, "s3", "GetObject", params)
    data = answer.get("Body", b"")
    return data if isinstance(data, bytes) else bytes(data)


class Provider:
    """A resource type whose every property change needs replacement unless `update` says
    otherwise; subclasses set `type_name` and `replace_on` and override what they need."""

    type_name = ""
    replace_on: frozenset[str] = frozenset()

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        raise NotImplementedError

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        raise NeedsReplacement(self.type_name)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        raise NotImplementedError
