"""The event invoke configuration operations: Put, Update (merges), Get, Delete and
ListFunctionEventInvokeConfigs, with AWS's errors and messages.

Messages were checked against LocalStack's AWS-validated snapshots
(`tests/aws/services/lambda_/test_lambda_api.snapshot.json`, TestLambdaEventInvokeConfig).
Destinations: a Lambda function the caller may invoke (`fireside.compute.permissions`: its
own, in any region, or another account's whose resource policy grants the caller; not the
function itself) is accepted on either side; an S3 bucket, `arn:aws:s3:::<bucket>`, is accepted as
OnFailure only, as on AWS (as OnSuccess it gets AWS's "invalid" message); SQS, SNS and
EventBridge are valid on AWS but not in Fireside yet, so they are refused with a message that
says so; anything else gets AWS's "invalid" message. A bucket is not checked here (AWS checks
the execution role's permissions, which Fireside does not model): a missing one, or one of
another account, loses the records sent to it, as a failed delivery does on AWS.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.aws.pagination import marker_page
from fireside.compute.destinations import (
    SERVICES,
    bucket_target,
    function_target,
    service_target,
)
from fireside.compute.errors import invalid, invalid_marker, lambda_error
from fireside.compute.event_config import EventConfigs, EventInvokeConfig
from fireside.compute.functions import LATEST
from fireside.compute.permissions import check_invoke
from fireside.compute.policies import Policies
from fireside.compute.registry import parse_function_name
from fireside.compute.versions import Versions
from fireside.targets import service_of

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
_SETTINGS = ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig")


def function_missing() -> ServiceError:
    return lambda_error("ResourceNotFoundException", "The function doesn't exist.", Type="User")


def no_config(arn: str) -> ServiceError:
    return lambda_error(
        "ResourceNotFoundException",
        f"The function {arn} doesn't have an EventInvokeConfig",
        Type="User",
    )


class EventConfigApi:
    def __init__(self, configs: EventConfigs, versions: Versions, policies: Policies) -> None:
        self._configs = configs
        self._versions = versions
        self._policies = policies

    def operations(self) -> dict[str, Operation]:
        return {
            "PutFunctionEventInvokeConfig": self.put_function_event_invoke_config,
            "UpdateFunctionEventInvokeConfig": self.update_function_event_invoke_config,
            "GetFunctionEventInvokeConfig": self.get_function_event_invoke_config,
            "DeleteFunctionEventInvokeConfig": self.delete_function_event_invoke_config,
            "ListFunctionEventInvokeConfigs": self.list_function_event_invoke_configs,
        }

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _name(ctx: RequestContext, params: dict[str, Any]) -> tuple[str, str]:
        """(function name, qualifier or `$LATEST`); a name of another account or region, or
        one that cannot be a function's, is not found (the caller says how)."""
        try:
            name, qualifier = parse_function_name(
                params["FunctionName"], ctx.account_id, ctx.region, params.get("Qualifier")
            )
        except ServiceError as exc:
            if exc.code == "ResourceNotFoundException":
                raise function_missing() from exc
            raise
        return name, qualifier or LATEST

    def _existing(self, ctx: RequestContext, params: dict[str, Any]) -> tuple[str, str]:
        """The function and qualifier named, which must exist (for Put and Update)."""
        name, qualifier = self._name(ctx, params)
        try:
            self._versions.resolve(ctx.account_id, ctx.region, name, qualifier)
        except ServiceError as exc:
            raise function_missing() from exc
        return name, qualifier

    @staticmethod
    def _require_setting(params: dict[str, Any]) -> None:
        if all(params.get(key) is None for key in _SETTINGS):
            raise invalid("You must specify at least one of error handling or destination setting.")

    def _config(self, ctx: RequestContext, params: dict[str, Any]) -> EventInvokeConfig:
        """The configuration Get and Delete name (AWS answers the same for a missing function)."""
        try:
            name, qualifier = self._name(ctx, params)
        except ServiceError as exc:
            if exc.code != "ResourceNotFoundException":
                raise
            raise no_config(
                f"{params['FunctionName']}:{params.get('Qualifier') or LATEST}"
            ) from exc
        config = self._configs.get((ctx.account_id, ctx.region, name, qualifier))
        if config is None:
            raise no_config(
                f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:function:{name}:{qualifier}"
            )
        return config

    def _destinations(
        self, ctx: RequestContext, name: str, given: dict[str, Any]
    ) -> dict[str, str | None]:
        """`on_success` / `on_failure` for each side `given` names (None: no destination)."""
        found: dict[str, str | None] = {}
        for side, attr in (("OnSuccess", "on_success"), ("OnFailure", "on_failure")):
            if side in given:
                found[attr] = (given[side] or {}).get("Destination") or None
        rejected = False
        for attr, arn in found.items():
            if arn is None:
                continue
            service = service_of(arn)
            if service == "lambda":
                self._check_function_destination(ctx, name, arn)
            elif service == "s3" and attr == "on_failure":
                if bucket_target(arn) is None:
                    raise invalid(f"The destination ARN {arn} is invalid.")
            elif service in SERVICES:
                # Whether the sender may use it is the target's policy's to say, when a
                # record is delivered (AWS checks the execution role here; Fireside has none).
                if service_target(arn) is None:
                    raise invalid(f"The destination ARN {arn} is invalid.")
            else:
                rejected = True
        if rejected:
            success, failure = found.get("on_success"), found.get("on_failure")
            on_success = f"OnSuccess(destination={success})" if success else "null"
            on_failure = f"OnFailure(destination={failure})" if failure else "null"
            raise invalid(
                f"The provided destination config DestinationConfig(onSuccess={on_success}, "
                f"onFailure={on_failure}) is invalid."
            )
        return found

    def _check_function_destination(self, ctx: RequestContext, name: str, arn: str) -> None:
        target = function_target(arn)
        if target is None:
            raise invalid(f"The destination ARN {arn} is invalid.")
        # Before looking the function up: whether another account's function exists is not
        # the caller's to learn.
        check_invoke(ctx.account_id, target, self._policies)
        try:
            self._versions.resolve(target.account, target.region, target.function, target.qualifier)
        except ServiceError as exc:
            raise invalid(f"The destination ARN {arn} is invalid.") from exc
        if (target.account, target.region, target.function) == (ctx.account_id, ctx.region, name):
            raise invalid("You can't specify the function as a destination for itself.")

    # -- operations ----------------------------------------------------------------------------
    async def put_function_event_invoke_config(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        self._require_setting(params)
        name, qualifier = self._existing(ctx, params)
        destinations = self._destinations(ctx, name, params.get("DestinationConfig") or {})
        config = EventInvokeConfig(
            ctx.account_id,
            ctx.region,
            name,
            qualifier,
            last_modified=time.time(),
            maximum_retry_attempts=params.get("MaximumRetryAttempts"),
            maximum_event_age=params.get("MaximumEventAgeInSeconds"),
            **destinations,
        )  # a Put replaces the whole configuration
        self._configs.put(config)
        return config.to_wire()

    async def update_function_event_invoke_config(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        self._name(ctx, params)  # a name's own errors (e.g. qualifier mismatch) come first
        self._require_setting(params)
        name, qualifier = self._existing(ctx, params)
        config = self._configs.get((ctx.account_id, ctx.region, name, qualifier))
        if config is None:
            raise no_config(
                f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:function:{name}:{qualifier}"
            )
        changes: dict[str, Any] = self._destinations(
            ctx, name, params.get("DestinationConfig") or {}
        )  # only the sides given change
        if params.get("MaximumRetryAttempts") is not None:
            changes["maximum_retry_attempts"] = params["MaximumRetryAttempts"]
        if params.get("MaximumEventAgeInSeconds") is not None:
            changes["maximum_event_age"] = params["MaximumEventAgeInSeconds"]
        updated = config.evolve(**changes)
        self._configs.put(updated)
        return updated.to_wire()

    async def get_function_event_invoke_config(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        return self._config(ctx, params).to_wire()

    async def delete_function_event_invoke_config(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        self._configs.delete(self._config(ctx, params))
        return {}

    async def list_function_event_invoke_configs(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        name, _ = self._name(ctx, params)
        if self._versions.functions.get(ctx.account_id, ctx.region, name) is None:
            raise function_missing()
        configs = self._configs.of_function(ctx.account_id, ctx.region, name)
        page, marker = marker_page(
            configs,
            lambda c: (c.function_arn,),
            params,
            scope=f"ListFunctionEventInvokeConfigs:{ctx.account_id}:{ctx.region}:{name}",
            invalid=invalid_marker,
        )
        result: dict[str, Any] = {"FunctionEventInvokeConfigs": [c.to_wire() for c in page]}
        if marker:
            result["NextMarker"] = marker
        return result
