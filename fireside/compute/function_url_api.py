"""The Function URL configuration operations: Create, Get, Update, Delete and
ListFunctionUrlConfigs, with AWS's errors and messages.

Messages and shapes follow LocalStack's AWS-validated snapshots (`test_lambda_api.py`,
TestLambdaUrl, recorded November 2025): a URL belongs to the function itself or to an alias,
never to a version or `$LATEST` (the model's `Qualifier` pattern refuses them); a function or
alias that is not there is "Function does not exist" when creating, updating or listing, and
"The resource you requested does not exist." when getting or deleting, as is a URL that is
not there; Create and Update answer without `LastModifiedTime` and show `InvokeMode` only if
it was set, Get and List always (`BUFFERED` by default).

The URL is served by `fireside.gateway.function_urls`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError, validation_error
from fireside.aws.pagination import marker_page
from fireside.compute.errors import conflict, invalid_marker, lambda_error
from fireside.compute.function_urls import FunctionUrlConfig, FunctionUrls, url_time
from fireside.compute.functions import LATEST
from fireside.compute.registry import parse_function_name
from fireside.compute.versions import Versions

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
#: The model's FunctionUrlQualifier pattern: an alias name, not a version or `$LATEST`.
_QUALIFIER = re.compile(r"^(?!\d+$)[0-9a-zA-Z_-]+$")
_QUALIFIER_PATTERN = r"((?!^\d+$)^[0-9a-zA-Z-_]+$)"


def _no_function() -> ServiceError:
    return lambda_error("ResourceNotFoundException", "Function does not exist", Type="User")


def _no_resource() -> ServiceError:
    return lambda_error(
        "ResourceNotFoundException", "The resource you requested does not exist.", Type="User"
    )


class FunctionUrlApi:
    def __init__(self, urls: FunctionUrls, versions: Versions) -> None:
        self._urls = urls
        self._versions = versions

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateFunctionUrlConfig": self.create_function_url_config,
            "GetFunctionUrlConfig": self.get_function_url_config,
            "UpdateFunctionUrlConfig": self.update_function_url_config,
            "DeleteFunctionUrlConfig": self.delete_function_url_config,
            "ListFunctionUrlConfigs": self.list_function_url_configs,
        }

    # -- helpers -------------------------------------------------------------------------------
    def _target(
        self, ctx: RequestContext, params: dict[str, Any], missing: Callable[[], ServiceError]
    ) -> tuple[str, str]:
        """(function, `$LATEST` or the alias) that exist, or `missing()`."""
        try:
            name, qualifier = parse_function_name(
                params["FunctionName"], ctx.account_id, ctx.region, params.get("Qualifier")
            )
        except ServiceError as exc:
            if exc.code == "ResourceNotFoundException":
                raise missing() from exc
            raise
        if qualifier is not None and not _QUALIFIER.match(qualifier):
            # A version or $LATEST named in the ARN, which the model's pattern did not see.
            raise validation_error(
                [
                    f"Value '{qualifier}' at 'qualifier' failed to satisfy constraint: Member "
                    f"must satisfy regular expression pattern: {_QUALIFIER_PATTERN}"
                ]
            )
        if self._versions.functions.get(ctx.account_id, ctx.region, name) is None:
            raise missing()
        if qualifier is not None and (
            self._versions.aliases.get(ctx.account_id, ctx.region, name, qualifier) is None
        ):
            raise missing()
        return name, qualifier or LATEST

    def _existing(
        self, ctx: RequestContext, params: dict[str, Any], missing: Callable[[], ServiceError]
    ) -> FunctionUrlConfig:
        name, qualifier = self._target(ctx, params, missing)
        config = self._urls.get((ctx.account_id, ctx.region, name, qualifier))
        if config is None:
            raise _no_resource()
        return config

    # -- operations ----------------------------------------------------------------------------
    async def create_function_url_config(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        name, qualifier = self._target(ctx, params, _no_function)
        existing = self._urls.get((ctx.account_id, ctx.region, name, qualifier))
        if existing is not None:
            raise conflict(
                f"Failed to create function url config for [functionArn = "
                f"{existing.function_arn}]. Error message:  FunctionUrlConfig exists for this "
                "Lambda function"
            )
        now = url_time()
        config = FunctionUrlConfig(
            account=ctx.account_id,
            region=ctx.region,
            function=name,
            qualifier=qualifier,
            url_id=self._urls.unused_id(),
            auth_type=params["AuthType"],
            creation_time=now,
            last_modified=now,
            cors=params.get("Cors"),
            invoke_mode=params.get("InvokeMode"),
        )
        self._urls.put(config)
        return config.to_wire(ctx.endpoint_url, full=False)

    async def get_function_url_config(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._existing(ctx, params, _no_resource).to_wire(ctx.endpoint_url, full=True)

    async def update_function_url_config(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        config = self._existing(ctx, params, _no_function)
        changes: dict[str, Any] = {}
        if params.get("AuthType") is not None:
            changes["auth_type"] = params["AuthType"]
        if params.get("Cors") is not None:
            changes["cors"] = params["Cors"]
        if params.get("InvokeMode") is not None:
            changes["invoke_mode"] = params["InvokeMode"]
        updated = config.evolve(**changes)
        self._urls.put(updated)
        wire = updated.to_wire(ctx.endpoint_url, full=False)
        wire["LastModifiedTime"] = updated.last_modified
        return wire

    async def delete_function_url_config(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        self._urls.delete(self._existing(ctx, params, _no_resource))
        return {}

    async def list_function_url_configs(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            name, _ = parse_function_name(params["FunctionName"], ctx.account_id, ctx.region)
        except ServiceError as exc:
            if exc.code == "ResourceNotFoundException":
                raise _no_function() from exc
            raise
        if self._versions.functions.get(ctx.account_id, ctx.region, name) is None:
            raise _no_function()
        configs = self._urls.of_function(ctx.account_id, ctx.region, name)
        page, marker = marker_page(
            configs,
            lambda c: (c.function_arn,),
            params,
            scope=f"ListFunctionUrlConfigs:{ctx.account_id}:{ctx.region}:{name}",
            invalid=invalid_marker,
        )
        result: dict[str, Any] = {
            "FunctionUrlConfigs": [c.to_wire(ctx.endpoint_url, full=True) for c in page]
        }
        if marker:
            result["NextMarker"] = marker
        return result
