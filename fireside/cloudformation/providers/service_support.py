"""What the Lambda and API Gateway providers share beyond `support`: a base class, property
diffs, tags, API definitions read from S3, and waiting for a resource to settle.

`support.call` is the one way a provider calls a service (params conformed to the model and
checked, errors worded as CloudFormation's); this module builds on it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from fireside.cloudformation.providers.support import call, refused
from fireside.cloudformation.resource_types import Created, NeedsReplacement, ResourceContext

__all__ = [
    "Provider",
    "changed",
    "read_s3_document",
    "retag",
    "tags_of",
    "wait_until",
]


def changed(old: Mapping[str, Any], new: Mapping[str, Any], keys: frozenset[str]) -> set[str]:
    """The properties among `keys` whose value differs between `old` and `new`."""
    return {key for key in keys if old.get(key) != new.get(key)}


T = TypeVar("T")


async def wait_until(
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
            raise refused(f"Timed out waiting for {what}", "NotStabilized")
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
        raise refused(
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
