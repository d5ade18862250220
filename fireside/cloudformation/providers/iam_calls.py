"""What the IAM resource providers share: IAM calls as the stack's account with errors as
CloudFormation reports them, idempotent clean-up calls, whole paginated listings, and the
property conversions (documents, generated names, tags, policy holders).
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Final

from fireside.aws.errors import ServiceError
from fireside.cloudformation.resource_types import ResourceContext, ResourceFailed

__all__ = [
    "HOLDERS",
    "as_document",
    "call",
    "code_of",
    "every",
    "holders_of",
    "name_for",
    "quietly",
    "strings",
    "tags_for",
]

#: IAM's error codes -> CloudFormation's handler error codes, as its events name them.
HANDLER_CODES: Final = {
    "NoSuchEntity": "NotFound",
    "EntityAlreadyExists": "AlreadyExists",
    "MalformedPolicyDocument": "InvalidRequest",
    "ValidationError": "InvalidRequest",
    "InvalidInput": "InvalidRequest",
    "LimitExceeded": "ServiceLimitExceeded",
    "DeleteConflict": "ResourceConflict",
}


def code_of(error: ServiceError) -> str:
    """IAM's wire code of an error (raised under its model shape's name, e.g.
    `NoSuchEntityException` for `NoSuchEntity`)."""
    return error.code.removesuffix("Exception")


async def call(ctx: ResourceContext, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """An IAM operation as the stack's account; its error as CloudFormation reports it."""
    try:
        return await ctx.call("iam", operation, params)
    except ServiceError as error:
        code = HANDLER_CODES.get(code_of(error), "GeneralServiceException")
        raise ResourceFailed(
            f'Resource handler returned message: "{error.message}" '
            f"(RequestToken: {uuid.uuid4()}, HandlerErrorCode: {code})"
        ) from error


async def quietly(ctx: ResourceContext, operation: str, params: dict[str, Any]) -> None:
    """A cleanup call: what is already gone is fine (deletes are idempotent)."""
    try:
        await ctx.call("iam", operation, params)
    except ServiceError as error:
        if code_of(error) != "NoSuchEntity":
            await call(ctx, operation, params)  # raises it as CloudFormation reports it


def as_document(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def name_for(ctx: ResourceContext, given: Any, longest: int) -> str:
    """The template's name, else CloudFormation's `<stack>-<logical>-<random>`, shortened in
    front of the random part to IAM's limit."""
    if given:
        return str(given)
    name = ctx.generated_name or f"{ctx.stack_name}-{ctx.logical_id}-{uuid.uuid4().hex[:12]}"
    if len(name) <= longest:
        return name
    head, _, suffix = name.rpartition("-")
    return f"{head[: longest - len(suffix) - 1]}-{suffix}"


def tags_for(ctx: ResourceContext, given: Any) -> list[dict[str, str]]:
    tags = {**ctx.tags, **{str(t["Key"]): str(t.get("Value", "")) for t in given or []}}
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def strings(value: Any) -> list[str]:
    return [str(v) for v in value or []]


#: The template property naming each kind of policy holder, its operations' noun, and the
#: member naming one.
HOLDERS: Final = (
    ("Roles", "Role", "RoleName"),
    ("Users", "User", "UserName"),
    ("Groups", "Group", "GroupName"),
)


def holders_of(properties: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(operation noun, member, name) of every role, user and group `properties` name."""
    return [
        (noun, member, name)
        for prop, noun, member in HOLDERS
        for name in strings(properties.get(prop))
    ]


async def every(
    ctx: ResourceContext, operation: str, params: dict[str, Any], key: str
) -> list[Any]:
    """Every item of a paginated IAM listing (`key` of each page), or [] when its subject is
    already gone."""
    items: list[Any] = []
    marker: str | None = None
    while True:
        page_params = {**params, **({"Marker": marker} if marker else {})}
        try:
            page = await ctx.call("iam", operation, page_params)
        except ServiceError as error:
            if code_of(error) == "NoSuchEntity":
                return items
            raise ResourceFailed(error.message) from error
        items += page[key]
        marker = page.get("Marker") if page.get("IsTruncated") else None
        if not marker:
            return items
