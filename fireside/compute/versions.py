"""Versions and aliases: PublishVersion, ListVersionsByFunction and the alias operations, and
how a `Qualifier` (`$LATEST`, a version number or an alias) names the configuration that runs.

A version is an immutable copy of `$LATEST`'s code and configuration, numbered from 1 per
function, never reused. Publishing when nothing changed since the last version returns that
version again, as AWS does. Versions share `$LATEST`'s unpacked code, so they are Active at
once (or when `$LATEST` finishes preparing, for `Publish=True` on a create or code update).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError, validation_error
from fireside.aws.pagination import marker_page
from fireside.compute.aliases import Alias, AliasStore
from fireside.compute.errors import (
    conflict,
    invalid,
    invalid_marker,
    lambda_error,
    precondition_failed,
    update_in_progress,
)
from fireside.compute.functions import (
    LATEST,
    FunctionConfig,
    new_revision,
    now_iso,
    version_order,
)
from fireside.compute.registry import FunctionRegistry, not_found, parse_function_name

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
_VERSION = re.compile(r"^[0-9]+$")


def alias_not_found(arn: str) -> ServiceError:
    return lambda_error("ResourceNotFoundException", f"Cannot find alias arn: {arn}", Type="User")


def alias_missing_for_update(arn: str) -> ServiceError:
    """UpdateAlias words a missing alias differently from GetAlias (as recorded on AWS)."""
    return lambda_error("ResourceNotFoundException", f"Alias not found: {arn}", Type="User")


def is_version(qualifier: str) -> bool:
    return bool(_VERSION.match(qualifier))


class Versions:
    """Resolves qualifiers and publishes versions (used by the provider and the invoker)."""

    def __init__(self, functions: FunctionRegistry, aliases: AliasStore) -> None:
        self.functions = functions
        self.aliases = aliases

    def exists(self, account: str, region: str, function: str, qualifier: str) -> bool:
        """Whether `$LATEST`, a version or an alias of a function is there (what a record kept
        beside one, a policy or a URL, checks at start-up: a crash between deleting both leaves
        it behind, and it must not come back with a new function of that name)."""
        if qualifier == LATEST:
            return self.functions.get(account, region, function) is not None
        if is_version(qualifier):
            return self.functions.version(account, region, function, qualifier) is not None
        return self.aliases.get(account, region, function, qualifier) is not None

    def resolve(
        self,
        account: str,
        region: str,
        name: str,
        qualifier: str | None,
        missing_alias: Callable[[str], ServiceError] = not_found,
    ) -> tuple[FunctionConfig, Alias | None]:
        """The configuration `qualifier` names (an alias: the version it points at), and the
        alias if it was one. Raises AWS's not-found errors, which name the qualifier asked for:
        `Function not found: <arn>:<qualifier>` (GetFunction, Invoke), or `missing_alias`'s
        message for an alias that is not there (the provisioned-concurrency operations say
        `Cannot find alias arn: ...`), whether or not the function itself exists."""
        latest = self.functions.get(account, region, name)
        arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
        if latest is None:
            if qualifier is None:
                raise not_found(arn)
            if qualifier == LATEST or is_version(qualifier):
                raise not_found(f"{arn}:{qualifier}")
            raise missing_alias(f"{arn}:{qualifier}")
        if qualifier in (None, LATEST):
            return latest, None
        assert qualifier is not None
        if is_version(qualifier):
            config = self.functions.version(account, region, name, qualifier)
            if config is None:
                raise not_found(f"{latest.arn}:{qualifier}")
            return config, None
        alias = self.aliases.get(account, region, name, qualifier)
        if alias is None:
            raise missing_alias(f"{latest.arn}:{qualifier}")
        config = self.functions.version(account, region, name, alias.function_version)
        if config is None:  # its version was deleted under it: cannot happen through the API
            raise not_found(f"{latest.arn}:{alias.function_version}")
        return config, alias

    def publish(
        self, latest: FunctionConfig, description: str | None = None, *, state: str = "Active"
    ) -> FunctionConfig:
        """Publish `latest` as the next version (or return the last one if nothing changed)."""
        fingerprint = latest.fingerprint()
        published = self.functions.versions(latest.account, latest.region, latest.name)
        if published and published[-1].published_from == fingerprint:
            return published[-1]
        number = latest.last_published + 1
        version = latest.evolve(
            version=str(number),
            revision_id=new_revision(),
            last_modified=now_iso(),
            description=latest.description if description is None else description,
            state=state,
            state_reason=None if state == "Active" else "The function is being created.",
            state_reason_code=None if state == "Active" else "Creating",
            last_update_status=None,
            last_update_status_reason=None,
            last_update_status_reason_code=None,
            last_published=0,
            reserved_concurrency=None,
            published_from=fingerprint,
        )
        self.functions.put(latest.evolve(last_published=number), version)
        return version


class VersionApi:
    """The operations on versions and aliases."""

    def __init__(self, versions: Versions) -> None:
        self._versions = versions
        self._functions = versions.functions
        self._aliases = versions.aliases

    def operations(self) -> dict[str, Operation]:
        return {
            "PublishVersion": self.publish_version,
            "ListVersionsByFunction": self.list_versions_by_function,
            "CreateAlias": self.create_alias,
            "GetAlias": self.get_alias,
            "UpdateAlias": self.update_alias,
            "DeleteAlias": self.delete_alias,
            "ListAliases": self.list_aliases,
        }

    def _latest(self, ctx: RequestContext, params: dict[str, Any]) -> FunctionConfig:
        name, _ = parse_function_name(params["FunctionName"], ctx.account_id, ctx.region)
        return self._functions.require(ctx.account_id, ctx.region, name)

    # -- versions ------------------------------------------------------------------------------
    async def publish_version(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        latest = self._latest(ctx, params)
        if params.get("RevisionId") not in (None, latest.revision_id):
            raise precondition_failed()
        code = params.get("CodeSha256")
        if code is not None and code != latest.code_sha256:
            raise invalid(
                f"CodeSHA256 ({code}) is different from current CodeSHA256 in $LATEST "
                f"({latest.code_sha256}). Please try again with the CodeSHA256 in $LATEST."
            )
        if latest.state != "Active" or latest.last_update_status == "InProgress":
            raise update_in_progress(latest.arn)
        return self._versions.publish(latest, params.get("Description")).to_wire()

    async def list_versions_by_function(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        latest = self._latest(ctx, params)
        every = [latest, *self._functions.versions(ctx.account_id, ctx.region, latest.name)]
        page, marker = marker_page(
            every,
            lambda c: version_order(c.version),
            params,
            scope=f"ListVersionsByFunction:{latest.arn}",
            invalid=invalid_marker,
        )
        result: dict[str, Any] = {"Versions": [c.to_wire(qualified=True) for c in page]}
        if marker:
            result["NextMarker"] = marker
        return result

    # -- aliases -------------------------------------------------------------------------------
    def _check_target(self, latest: FunctionConfig, version: str) -> None:
        if version != LATEST and (
            not is_version(version)
            or self._functions.version(latest.account, latest.region, latest.name, version) is None
        ):
            raise not_found(f"{latest.arn}:{version}")

    def _weights(
        self, latest: FunctionConfig, params: dict[str, Any], target: str
    ) -> dict[str, float]:
        weights = (params.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}
        if len(weights) > 1:
            raise invalid("Number of items in AdditionalVersionWeights cannot be greater than 1")
        for version, weight in weights.items():
            if not 0.0 <= weight < 1.0:
                raise validation_error(
                    [
                        f"Value '{{{version}={weight}}}' at 'routingConfig.additionalVersionWeights' "
                        "failed to satisfy constraint: Map value must satisfy constraint: [Member "
                        "must have value less than or equal to 1.0, Member must have value "
                        "greater than or equal to 0.0, Member must not be null]"
                    ]
                )
            if version == target:
                raise invalid(
                    f"Invalid function version {target}. Function version {target} is already "
                    "included in routing configuration."
                )
            if target == LATEST:
                raise invalid(
                    "$LATEST is not supported for an alias pointing to more than 1 version"
                )
            if not is_version(version):
                raise validation_error(
                    [
                        f"Value '{{{version}={weight}}}' at 'routingConfig.additionalVersionWeights' "
                        "failed to satisfy constraint: Map keys must satisfy constraint: [Member "
                        "must have length less than or equal to 1024, Member must have length "
                        "greater than or equal to 1, Member must satisfy regular expression "
                        "pattern: [0-9]+]"
                    ]
                )
            self._check_target(latest, version)
        return {version: float(weight) for version, weight in weights.items()}

    def _alias(
        self,
        ctx: RequestContext,
        params: dict[str, Any],
        missing: Callable[[str], ServiceError] = alias_not_found,
    ) -> tuple[FunctionConfig, Alias]:
        latest = self._latest(ctx, params)
        alias = self._aliases.get(ctx.account_id, ctx.region, latest.name, params["Name"])
        if alias is None:
            raise missing(f"{latest.arn}:{params['Name']}")
        return latest, alias

    async def create_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, target = params["Name"], params["FunctionVersion"]
        function, _ = parse_function_name(params["FunctionName"], ctx.account_id, ctx.region)
        found = self._functions.get(ctx.account_id, ctx.region, function)
        if found is None:  # named with the version the alias was to point at, as on AWS
            arn = f"arn:aws:lambda:{ctx.region}:{ctx.account_id}:function:{function}"
            raise not_found(f"{arn}:{target}")
        latest = found
        self._check_target(latest, target)
        weights = self._weights(latest, params, target)
        if self._aliases.get(ctx.account_id, ctx.region, latest.name, name) is not None:
            raise conflict(f"Alias already exists: {latest.arn}:{name}")
        alias = Alias(
            ctx.account_id, ctx.region, latest.name, name, target,
            params.get("Description", ""), weights,
        )  # fmt: skip
        self._aliases.put(alias)
        return alias.to_wire()

    async def get_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return self._alias(ctx, params)[1].to_wire()

    async def update_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        latest, alias = self._alias(ctx, params, alias_missing_for_update)
        if params.get("RevisionId") not in (None, alias.revision_id):
            raise precondition_failed()
        target = params.get("FunctionVersion", alias.function_version)
        self._check_target(latest, target)
        weights = (
            self._weights(latest, params, target) if "RoutingConfig" in params else alias.weights
        )
        if target in weights:
            raise invalid(
                f"Invalid function version {target}. Function version {target} is already "
                "included in routing configuration."
            )
        updated = alias.evolve(
            function_version=target,
            description=params.get("Description", alias.description),
            weights=weights,
            revision_id=new_revision(),
        )
        self._aliases.put(updated)
        return updated.to_wire()

    async def delete_alias(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        latest = self._latest(ctx, params)
        alias = self._aliases.get(ctx.account_id, ctx.region, latest.name, params["Name"])
        if alias is not None:  # deleting a missing alias succeeds, as on AWS
            self._aliases.delete(alias)
        return {}

    async def list_aliases(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        latest = self._latest(ctx, params)
        aliases = self._aliases.of_function(ctx.account_id, ctx.region, latest.name)
        if params.get("FunctionVersion"):
            wanted = params["FunctionVersion"]
            aliases = [a for a in aliases if a.function_version == wanted]
        # ListAliases is not documented as capped at 50 a page: MaxItems (to 10000) rules.
        page, marker = marker_page(
            aliases,
            lambda a: (a.name,),
            params,
            scope=f"ListAliases:{latest.arn}:{params.get('FunctionVersion') or ''}",
            invalid=invalid_marker,
            cap=None,
        )
        result: dict[str, Any] = {"Aliases": [a.to_wire() for a in page]}
        if marker:
            result["NextMarker"] = marker
        return result

    # -- deleting a version (DeleteFunction with a version Qualifier) --------------------------
    def delete_version(self, latest: FunctionConfig, qualifier: str) -> FunctionConfig:
        if qualifier == LATEST:
            raise invalid("$LATEST version cannot be deleted without deleting the function.")
        if not is_version(qualifier):
            raise invalid("Deletion of aliases is not supported.")
        version = self._functions.version(latest.account, latest.region, latest.name, qualifier)
        if version is None:
            raise not_found(f"{latest.arn}:{qualifier}")
        users = [
            a.name
            for a in self._aliases.of_function(latest.account, latest.region, latest.name)
            if a.function_version == qualifier or qualifier in a.weights
        ]
        if users:
            raise conflict(
                "Unable to delete version because the following aliases reference it: "
                f"[{', '.join(users)}]"
            )
        self._functions.delete_version(version)
        return version
