"""`AWS::SSM::Parameter`: a Parameter Store parameter, made and changed through Parameter
Store's own operations as the stack's account (`fireside.ssm`).

Ref is the parameter's name; `Fn::GetAtt` gives `Type` and `Value`. Unlike most types,
`Tags` is a JSON map here (`{"team": "blue"}`). CloudFormation creates String and
StringList parameters only (AWS refuses SecureString in templates), and a new `Name`
replaces the parameter; everything else is an overwrite (a new version) or a tag change.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from fireside.aws.errors import ServiceError
from fireside.cloudformation.resource_types import (
    Created,
    NeedsReplacement,
    ResourceContext,
    ResourceFailed,
    ResourceType,
)

__all__ = ["SsmParameter", "failed", "providers"]

#: Properties PutParameter takes, by the same name.
_PUT: Final = ("Type", "Value", "Description", "AllowedPattern", "Tier", "DataType", "Policies")
_TYPES: Final = ("String", "StringList")


def failed(error: ServiceError) -> ResourceFailed:
    """The stack event's reason for a service's refusal, worded as CloudFormation words it."""
    code = error.code
    if "AlreadyExists" in code:
        handler = "AlreadyExists"
    elif "NotFound" in code:
        handler = "NotFound"
    elif "Limit" in code or "TooMany" in code:
        handler = "ServiceLimitExceeded"
    elif code.startswith(("Invalid", "Validation")) or "Mismatch" in code:
        handler = "InvalidRequest"
    else:
        handler = "GeneralServiceException"
    return ResourceFailed(
        f'Resource handler returned message: "{error.message}" '
        f"(RequestToken: {uuid.uuid4()}, HandlerErrorCode: {handler})"
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _tags(ctx: ResourceContext, properties: dict[str, Any]) -> dict[str, str]:
    tags = properties.get("Tags") or {}
    if not isinstance(tags, dict):
        raise ResourceFailed(
            "Properties validation failed: Tags of AWS::SSM::Parameter is a JSON object "
            "(a map of tag keys to values)"
        )
    return {**ctx.tags, **{str(k): _text(v) for k, v in tags.items()}}


def _put_params(properties: dict[str, Any], name: str) -> dict[str, Any]:
    for required in ("Type", "Value"):
        if properties.get(required) is None:
            raise ResourceFailed(
                f"Properties validation failed: required key [{required}] not found"
            )
    if properties["Type"] not in _TYPES:
        raise ResourceFailed(
            f"Properties validation failed: Type {properties['Type']!r} is not one of "
            "[String, StringList] (CloudFormation does not create SecureString parameters)"
        )
    params: dict[str, Any] = {"Name": name}
    for member in _PUT:
        if properties.get(member) is not None:
            params[member] = _text(properties[member])
    return params


class SsmParameter:
    type_name = "AWS::SSM::Parameter"
    replace_on = frozenset({"Name"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        name = properties.get("Name") or ctx.generated_name[:2048]
        params = _put_params(properties, name)
        tags = _tags(ctx, properties)
        if tags:
            params["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        try:
            await ctx.call("ssm", "PutParameter", params)
        except ServiceError as error:
            raise failed(error) from None
        return self._created(name, params)

    async def update(
        self,
        ctx: ResourceContext,
        physical_id: str,
        old: dict[str, Any],
        new: dict[str, Any],
    ) -> Created:
        if new.get("Name") and new.get("Name") != old.get("Name"):
            raise NeedsReplacement("Name")
        params = _put_params(new, physical_id)
        try:
            if any(old.get(member) != new.get(member) for member in _PUT):
                for cleared in ("Description", "AllowedPattern"):  # a removed one is cleared
                    params.setdefault(cleared, "")
                await ctx.call("ssm", "PutParameter", {**params, "Overwrite": True})
            before, after = _tags(ctx, old), _tags(ctx, new)
            target = {"ResourceType": "Parameter", "ResourceId": physical_id}
            gone = [key for key in before if key not in after]
            if gone:
                await ctx.call("ssm", "RemoveTagsFromResource", {**target, "TagKeys": gone})
            changed = [{"Key": k, "Value": v} for k, v in after.items() if before.get(k) != v]
            if changed:
                await ctx.call("ssm", "AddTagsToResource", {**target, "Tags": changed})
        except ServiceError as error:
            raise failed(error) from None
        return self._created(physical_id, params)

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        try:
            await ctx.call("ssm", "DeleteParameter", {"Name": physical_id})
        except ServiceError as error:
            if error.code != "ParameterNotFound":
                raise failed(error) from None

    @staticmethod
    def _created(name: str, params: dict[str, Any]) -> Created:
        return Created(name, {"Type": params["Type"], "Value": params["Value"]})


def providers() -> list[ResourceType]:
    return [SsmParameter()]
