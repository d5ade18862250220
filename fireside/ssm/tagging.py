"""AddTagsToResource, RemoveTagsFromResource and ListTagsForResource, for parameters (the
one SSM resource type Fireside has; a tag call for any other type names a resource that
does not exist here, and is answered so).

A parameter's tags live with it in the store and go when it is deleted. The resource id is
the parameter's name, with or without a one-level name's leading slash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from fireside.aws.context import RequestContext
from fireside.ssm.names import error
from fireside.ssm.store import Parameter

if TYPE_CHECKING:
    from fireside.ssm.provider import SsmProvider

__all__ = ["MAX_TAGS", "TagOperations", "tag_map"]

MAX_TAGS: Final = 50


def tag_map(tags: list[dict[str, str]] | None) -> dict[str, str]:
    found = {tag["Key"]: tag["Value"] for tag in tags or []}
    _check_count(found)
    return found


def _check_count(tags: dict[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise error(
            "TooManyTagsError",
            f"The resource can't have more than {MAX_TAGS} tags. Remove one or more tags "
            "and try again.",
        )


class TagOperations:
    def __init__(self, provider: SsmProvider) -> None:
        self.provider = provider

    def _parameter(self, ctx: RequestContext, params: dict[str, Any]) -> Parameter:
        if params["ResourceType"] != "Parameter":
            raise error("InvalidResourceId", "Invalid Resource Id")
        parameter = self.provider.parameter(ctx, params["ResourceId"])
        if parameter is None:
            raise error("InvalidResourceId", "Invalid Resource Id")
        return parameter

    def add(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        parameter = self._parameter(ctx, params)
        tags = {**parameter.tags, **{t["Key"]: t["Value"] for t in params["Tags"]}}
        _check_count(tags)
        parameter.tags = tags
        self.provider.store.save(ctx.account_id, ctx.region, parameter, [])
        return {}

    def remove(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        parameter = self._parameter(ctx, params)
        gone = set(params["TagKeys"])
        parameter.tags = {k: v for k, v in parameter.tags.items() if k not in gone}
        self.provider.store.save(ctx.account_id, ctx.region, parameter, [])
        return {}

    def list(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        parameter = self._parameter(ctx, params)
        return {"TagList": [{"Key": k, "Value": v} for k, v in sorted(parameter.tags.items())]}
