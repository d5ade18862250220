"""Lambda's TagResource, UntagResource and ListTags, for functions.

Tags live on the function (`$LATEST`'s configuration, which GetFunction shows); a version or
alias ARN is refused, as AWS refuses it. Changing tags changes nothing else: no new revision,
no update status (Lambda's tags are not part of the function's configuration). Fireside's
egress tags (`fireside:egress=...`) apply to environments started after the change.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fireside.aws.context import RequestContext
from fireside.compute.errors import invalid
from fireside.compute.functions import FunctionConfig
from fireside.compute.registry import FunctionRegistry, parse_function_name

__all__ = ["TagsApi"]

#: AWS's limit on a resource's tags.
MAX_TAGS = 50


class TagsApi:
    def __init__(self, functions: FunctionRegistry) -> None:
        self._functions = functions

    def operations(
        self,
    ) -> dict[str, Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]]:
        return {
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTags": self.list_tags,
        }

    def _function(self, ctx: RequestContext, resource: str) -> FunctionConfig:
        if ":function:" not in resource:
            raise invalid(f"Fireside supports tags on functions only, not on {resource}.")
        name, qualifier = parse_function_name(resource, ctx.account_id, ctx.region)
        if qualifier is not None:
            raise invalid(
                "Tags on function aliases and versions are not supported. Please specify a "
                "function ARN."
            )
        return self._functions.require(ctx.account_id, ctx.region, name)

    async def tag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        config = self._function(ctx, params["Resource"])
        tags = {**config.tags, **(params.get("Tags") or {})}
        if len(tags) > MAX_TAGS:
            raise invalid(f"Number of tags exceeds resource tag limit of {MAX_TAGS}.")
        self._functions.put(config.evolve(tags=tags))
        return {}

    async def untag_resource(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        config = self._function(ctx, params["Resource"])
        gone = set(params.get("TagKeys") or ())
        self._functions.put(
            config.evolve(tags={k: v for k, v in config.tags.items() if k not in gone})
        )
        return {}

    async def list_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"Tags": dict(self._function(ctx, params["Resource"]).tags)}
