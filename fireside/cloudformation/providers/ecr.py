"""`AWS::ECR::Repository`: an ECR repository with its lifecycle policy, repository policy,
tag mutability, scanning setting and tags, made through ECR's own operations as the stack's
account (`fireside.ecr`).

Ref is the repository's name; `Fn::GetAtt` gives `Arn` and `RepositoryUri`. A new
`RepositoryName` or `EncryptionConfiguration` replaces the repository (AWS's "Update
requires: Replacement"); the other properties are changed in place. `EmptyOnDelete` is
accepted (Fireside's repositories hold no images, so a delete never finds any).
"""

from __future__ import annotations

import json
from typing import Any, Final

from fireside.aws.errors import ServiceError
from fireside.cloudformation.providers.ssm import failed
from fireside.cloudformation.resource_types import (
    Created,
    NeedsReplacement,
    ResourceContext,
    ResourceFailed,
    ResourceType,
)

__all__ = ["EcrRepository", "providers"]

_REPLACE: Final = ("RepositoryName", "EncryptionConfiguration")
_MAX_NAME: Final = 256


def _flag(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _policy_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _tags(ctx: ResourceContext, properties: dict[str, Any]) -> dict[str, str]:
    tags = dict(ctx.tags)
    for tag in properties.get("Tags") or []:
        tags[str(tag["Key"])] = str(tag["Value"])
    return tags


def _generated(ctx: ResourceContext) -> str:
    """CloudFormation's name for an unnamed repository: ECR names are lower case."""
    return ctx.generated_name.lower()[:_MAX_NAME].strip("-._")


def _exclusions(properties: dict[str, Any]) -> list[dict[str, str]] | None:
    given = properties.get("ImageTagMutabilityExclusionFilters")
    if not given:
        return None
    return [
        {
            "filterType": f["ImageTagMutabilityExclusionFilterType"],
            "filter": f["ImageTagMutabilityExclusionFilterValue"],
        }
        for f in given
    ]


class EcrRepository:
    type_name = "AWS::ECR::Repository"
    replace_on = frozenset(_REPLACE)

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        name = properties.get("RepositoryName") or _generated(ctx)
        params: dict[str, Any] = {"repositoryName": name}
        if properties.get("ImageTagMutability"):
            params["imageTagMutability"] = properties["ImageTagMutability"]
        exclusions = _exclusions(properties)
        if exclusions:
            params["imageTagMutabilityExclusionFilters"] = exclusions
        scanning = properties.get("ImageScanningConfiguration")
        if scanning is not None:
            params["imageScanningConfiguration"] = {"scanOnPush": _flag(scanning.get("ScanOnPush"))}
        encryption = properties.get("EncryptionConfiguration")
        if encryption:
            params["encryptionConfiguration"] = {"encryptionType": encryption["EncryptionType"]}
            if encryption.get("KmsKey"):
                params["encryptionConfiguration"]["kmsKey"] = encryption["KmsKey"]
        tags = _tags(ctx, properties)
        if tags:
            params["tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        try:
            made = await ctx.call("ecr", "CreateRepository", params)
        except ServiceError as error:
            raise failed(error) from None
        try:
            await self._policies(ctx, name, {}, properties)
        except ResourceFailed:
            # Not recorded as created: leave nothing behind.
            await self.delete(ctx, name, properties)
            raise
        return self._created(made["repository"])

    async def update(
        self,
        ctx: ResourceContext,
        physical_id: str,
        old: dict[str, Any],
        new: dict[str, Any],
    ) -> Created:
        for member in _REPLACE:
            if old.get(member) != new.get(member) and (
                member != "RepositoryName" or new.get(member)
            ):
                raise NeedsReplacement(member)
        base = {"repositoryName": physical_id}
        try:
            if (old.get("ImageTagMutability"), _exclusions(old)) != (
                new.get("ImageTagMutability"),
                _exclusions(new),
            ):
                mutability: dict[str, Any] = {
                    **base,
                    "imageTagMutability": new.get("ImageTagMutability") or "MUTABLE",
                }
                if _exclusions(new):
                    mutability["imageTagMutabilityExclusionFilters"] = _exclusions(new)
                await ctx.call("ecr", "PutImageTagMutability", mutability)
            if old.get("ImageScanningConfiguration") != new.get("ImageScanningConfiguration"):
                scan = _flag((new.get("ImageScanningConfiguration") or {}).get("ScanOnPush"))
                await ctx.call(
                    "ecr",
                    "PutImageScanningConfiguration",
                    {**base, "imageScanningConfiguration": {"scanOnPush": scan}},
                )
            found = await ctx.call(
                "ecr", "DescribeRepositories", {"repositoryNames": [physical_id]}
            )
            repository = found["repositories"][0]
            arn = {"resourceArn": repository["repositoryArn"]}
            before, after = _tags(ctx, old), _tags(ctx, new)
            gone = [key for key in before if key not in after]
            if gone:
                await ctx.call("ecr", "UntagResource", {**arn, "tagKeys": gone})
            changed = [{"Key": k, "Value": v} for k, v in after.items() if before.get(k) != v]
            if changed:
                await ctx.call("ecr", "TagResource", {**arn, "tags": changed})
        except ServiceError as error:
            raise failed(error) from None
        await self._policies(ctx, physical_id, old, new)
        return self._created(repository)

    async def _policies(
        self, ctx: ResourceContext, name: str, old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        """Put, replace or remove the lifecycle and repository policies as `new` says."""
        base = {"repositoryName": name}
        before_lifecycle = (old.get("LifecyclePolicy") or {}).get("LifecyclePolicyText")
        lifecycle = new.get("LifecyclePolicy") or {}
        text = lifecycle.get("LifecyclePolicyText")
        registry = {"registryId": lifecycle["RegistryId"]} if lifecycle.get("RegistryId") else {}
        try:
            if text is not None and text != before_lifecycle:
                await ctx.call(
                    "ecr",
                    "PutLifecyclePolicy",
                    {**base, **registry, "lifecyclePolicyText": _policy_text(text)},
                )
            elif text is None and before_lifecycle is not None:
                await _forgiving(ctx.call("ecr", "DeleteLifecyclePolicy", base))
            policy, before_policy = new.get("RepositoryPolicyText"), old.get("RepositoryPolicyText")
            if policy is not None and policy != before_policy:
                await ctx.call(
                    "ecr", "SetRepositoryPolicy", {**base, "policyText": _policy_text(policy)}
                )
            elif policy is None and before_policy is not None:
                await _forgiving(ctx.call("ecr", "DeleteRepositoryPolicy", base))
        except ServiceError as error:
            raise failed(error) from None

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        params = {"repositoryName": physical_id, "force": _flag(properties.get("EmptyOnDelete"))}
        try:
            await ctx.call("ecr", "DeleteRepository", params)
        except ServiceError as error:
            if error.code != "RepositoryNotFoundException":
                raise failed(error) from None

    @staticmethod
    def _created(repository: dict[str, Any]) -> Created:
        return Created(
            repository["repositoryName"],
            {"Arn": repository["repositoryArn"], "RepositoryUri": repository["repositoryUri"]},
        )


async def _forgiving(call: Any) -> None:
    """A policy removal that finds no policy has nothing to do."""
    try:
        await call
    except ServiceError as error:
        if not error.code.endswith("PolicyNotFoundException"):
            raise


def providers() -> list[ResourceType]:
    return [EcrRepository()]
