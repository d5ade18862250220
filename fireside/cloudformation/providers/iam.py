"""CloudFormation resource providers for IAM: AWS::IAM::Role, Policy, ManagedPolicy and
InstanceProfile.

Each acts through IAM's served operations as the stack's account (`ctx.call("iam", ...)`), so
a stack makes exactly the roles that account's own calls would, with the same checks and
errors. Policy documents arrive from templates as JSON objects (or strings) and are sent as
IAM takes them, JSON text. As on AWS, roles and policies are stored and returned, not enforced.

Ref and GetAtt follow AWS's "Return values": a role's Ref is its name (GetAtt Arn, RoleId); a
managed policy's Ref is its ARN (GetAtt PolicyArn, PolicyId, DefaultVersionId); an instance
profile's Ref is its name (GetAtt Arn); an inline AWS::IAM::Policy's Ref is a generated id.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, Final

from fireside.aws.errors import ServiceError
from fireside.cloudformation.resource_types import (
    Created,
    ResourceContext,
    ResourceFailed,
    ResourceType,
)

__all__ = ["providers"]

#: IAM's error codes -> CloudFormation's handler error codes, as its events name them.
_HANDLER_CODES: Final = {
    "NoSuchEntity": "NotFound",
    "EntityAlreadyExists": "AlreadyExists",
    "MalformedPolicyDocument": "InvalidRequest",
    "ValidationError": "InvalidRequest",
    "InvalidInput": "InvalidRequest",
    "LimitExceeded": "ServiceLimitExceeded",
    "DeleteConflict": "ResourceConflict",
}


def _code(error: ServiceError) -> str:
    """IAM's wire code of an error (raised under its model shape's name, e.g.
    `NoSuchEntityException` for `NoSuchEntity`)."""
    return error.code.removesuffix("Exception")


async def _call(ctx: ResourceContext, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    """An IAM operation as the stack's account; its error as CloudFormation reports it."""
    try:
        return await ctx.call("iam", operation, params)
    except ServiceError as error:
        code = _HANDLER_CODES.get(_code(error), "GeneralServiceException")
        raise ResourceFailed(
            f'Resource handler returned message: "{error.message}" '
            f"(RequestToken: {uuid.uuid4()}, HandlerErrorCode: {code})"
        ) from error


async def _quietly(ctx: ResourceContext, operation: str, params: dict[str, Any]) -> None:
    """A cleanup call: what is already gone is fine (deletes are idempotent)."""
    try:
        await ctx.call("iam", operation, params)
    except ServiceError as error:
        if _code(error) != "NoSuchEntity":
            await _call(ctx, operation, params)  # raises it as CloudFormation reports it


def _document(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _name(ctx: ResourceContext, given: Any, longest: int) -> str:
    """The template's name, else CloudFormation's `<stack>-<logical>-<random>`, shortened in
    front of the random part to IAM's limit."""
    if given:
        return str(given)
    name = ctx.generated_name or f"{ctx.stack_name}-{ctx.logical_id}-{uuid.uuid4().hex[:12]}"
    if len(name) <= longest:
        return name
    head, _, suffix = name.rpartition("-")
    return f"{head[: longest - len(suffix) - 1]}-{suffix}"


def _tags(ctx: ResourceContext, given: Any) -> list[dict[str, str]]:
    tags = {**ctx.tags, **{str(t["Key"]): str(t.get("Value", "")) for t in given or []}}
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value or []]


def _no_users_or_groups(properties: dict[str, Any], *, some: bool = False) -> None:
    """Fireside has roles only; an inline policy (`some`) must name at least one holder."""
    held = properties.get("Roles") or properties.get("Users") or properties.get("Groups")
    if some and not held:
        raise ResourceFailed("At least one of [Groups,Roles,Users] must be non-empty.")
    if properties.get("Users") or properties.get("Groups"):
        raise ResourceFailed(
            "Fireside has no IAM users or groups: attach this policy to Roles only"
        )


# -- AWS::IAM::Role ---------------------------------------------------------------------------


class Role:
    type_name = "AWS::IAM::Role"
    replace_on = frozenset({"RoleName", "Path"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        name = _name(ctx, properties.get("RoleName"), 64)
        params: dict[str, Any] = {
            "RoleName": name,
            "AssumeRolePolicyDocument": _document(properties.get("AssumeRolePolicyDocument")),
            "Path": str(properties.get("Path") or "/"),
        }
        if properties.get("Description") is not None:
            params["Description"] = str(properties["Description"])
        if properties.get("MaxSessionDuration") is not None:
            params["MaxSessionDuration"] = int(properties["MaxSessionDuration"])
        if properties.get("PermissionsBoundary"):
            params["PermissionsBoundary"] = str(properties["PermissionsBoundary"])
        tags = _tags(ctx, properties.get("Tags"))
        if tags:
            params["Tags"] = tags
        role = (await _call(ctx, "CreateRole", params))["Role"]
        try:
            for policy in properties.get("Policies") or []:
                await _put_inline(ctx, name, policy)
            for arn in _strings(properties.get("ManagedPolicyArns")):
                await _call(ctx, "AttachRolePolicy", {"RoleName": name, "PolicyArn": arn})
        except ResourceFailed:
            await self.delete(ctx, name, properties)  # leave no half-made role behind
            raise
        return Created(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        name = physical_id
        trust = _document(new.get("AssumeRolePolicyDocument"))
        if trust != _document(old.get("AssumeRolePolicyDocument")):
            await _call(ctx, "UpdateAssumeRolePolicy", {"RoleName": name, "PolicyDocument": trust})
        changes: dict[str, Any] = {}
        if new.get("Description") != old.get("Description"):
            changes["Description"] = str(new.get("Description") or "")
        if new.get("MaxSessionDuration") != old.get("MaxSessionDuration"):
            changes["MaxSessionDuration"] = int(new.get("MaxSessionDuration") or 3600)
        if changes:
            await _call(ctx, "UpdateRole", {"RoleName": name, **changes})
        if new.get("PermissionsBoundary") != old.get("PermissionsBoundary"):
            if new.get("PermissionsBoundary"):
                boundary = {"RoleName": name, "PermissionsBoundary": new["PermissionsBoundary"]}
                await _call(ctx, "PutRolePermissionsBoundary", boundary)
            else:
                await _quietly(ctx, "DeleteRolePermissionsBoundary", {"RoleName": name})
        await _update_inline(ctx, name, old.get("Policies") or [], new.get("Policies") or [])
        before = _strings(old.get("ManagedPolicyArns"))
        after = _strings(new.get("ManagedPolicyArns"))
        for arn in [a for a in before if a not in after]:
            await _quietly(ctx, "DetachRolePolicy", {"RoleName": name, "PolicyArn": arn})
        for arn in [a for a in after if a not in before]:
            await _call(ctx, "AttachRolePolicy", {"RoleName": name, "PolicyArn": arn})
        await _update_tags(ctx, name, old, new)
        role = (await _call(ctx, "GetRole", {"RoleName": name}))["Role"]
        return Created(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        name = physical_id
        try:
            attached = await ctx.call("iam", "ListAttachedRolePolicies", {"RoleName": name})
            inline = await ctx.call("iam", "ListRolePolicies", {"RoleName": name})
        except ServiceError as error:
            if _code(error) == "NoSuchEntity":
                return
            raise ResourceFailed(error.message) from error
        for policy in attached["AttachedPolicies"]:
            detach = {"RoleName": name, "PolicyArn": policy["PolicyArn"]}
            await _quietly(ctx, "DetachRolePolicy", detach)
        for policy_name in inline["PolicyNames"]:
            await _quietly(ctx, "DeleteRolePolicy", {"RoleName": name, "PolicyName": policy_name})
        await _quietly(ctx, "DeleteRole", {"RoleName": name})


async def _put_inline(ctx: ResourceContext, role: str, policy: dict[str, Any]) -> None:
    params = {
        "RoleName": role,
        "PolicyName": str(policy.get("PolicyName") or ""),
        "PolicyDocument": _document(policy.get("PolicyDocument")),
    }
    await _call(ctx, "PutRolePolicy", params)


async def _update_inline(
    ctx: ResourceContext, role: str, old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> None:
    before = {str(p.get("PolicyName")): _document(p.get("PolicyDocument")) for p in old}
    after = {str(p.get("PolicyName")): _document(p.get("PolicyDocument")) for p in new}
    for name in [n for n in before if n not in after]:
        await _quietly(ctx, "DeleteRolePolicy", {"RoleName": role, "PolicyName": name})
    for name, document in after.items():
        if before.get(name) != document:
            await _put_inline(ctx, role, {"PolicyName": name, "PolicyDocument": document})


async def _update_tags(
    ctx: ResourceContext, role: str, old: dict[str, Any], new: dict[str, Any]
) -> None:
    before = {t["Key"]: t["Value"] for t in _tags(ctx, old.get("Tags"))}
    after = _tags(ctx, new.get("Tags"))
    gone = [key for key in before if key not in {t["Key"] for t in after}]
    if gone:
        await _call(ctx, "UntagRole", {"RoleName": role, "TagKeys": gone})
    changed = [t for t in after if before.get(t["Key"]) != t["Value"]]
    if changed:
        await _call(ctx, "TagRole", {"RoleName": role, "Tags": changed})


# -- AWS::IAM::Policy (inline) ----------------------------------------------------------------


class Policy:
    type_name = "AWS::IAM::Policy"
    replace_on: frozenset[str] = frozenset()

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        _no_users_or_groups(properties, some=True)
        physical_id = _name(ctx, None, 64)
        made: list[str] = []
        try:
            for role in _strings(properties.get("Roles")):
                await _put_inline(ctx, role, properties)
                made.append(role)
        except ResourceFailed:
            name = str(properties.get("PolicyName"))
            for role in made:
                await _quietly(ctx, "DeleteRolePolicy", {"RoleName": role, "PolicyName": name})
            raise
        return Created(physical_id, {"Id": physical_id})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        _no_users_or_groups(new, some=True)
        old_name, new_name = str(old.get("PolicyName")), str(new.get("PolicyName"))
        after = _strings(new.get("Roles"))
        for role in _strings(old.get("Roles")):
            if role not in after or old_name != new_name:
                await _quietly(ctx, "DeleteRolePolicy", {"RoleName": role, "PolicyName": old_name})
        for role in after:
            await _put_inline(ctx, role, new)
        return Created(physical_id, {"Id": physical_id})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        name = str(properties.get("PolicyName"))
        for role in _strings(properties.get("Roles")):
            await _quietly(ctx, "DeleteRolePolicy", {"RoleName": role, "PolicyName": name})


# -- AWS::IAM::ManagedPolicy ------------------------------------------------------------------


class ManagedPolicy:
    type_name = "AWS::IAM::ManagedPolicy"
    replace_on = frozenset({"ManagedPolicyName", "Path", "Description"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        _no_users_or_groups(properties)
        params: dict[str, Any] = {
            "PolicyName": _name(ctx, properties.get("ManagedPolicyName"), 128),
            "Path": str(properties.get("Path") or "/"),
            "PolicyDocument": _document(properties.get("PolicyDocument")),
        }
        if properties.get("Description") is not None:
            params["Description"] = str(properties["Description"])
        policy = (await _call(ctx, "CreatePolicy", params))["Policy"]
        arn = policy["Arn"]
        try:
            for role in _strings(properties.get("Roles")):
                await _call(ctx, "AttachRolePolicy", {"RoleName": role, "PolicyArn": arn})
        except ResourceFailed:
            await self.delete(ctx, arn, properties)
            raise
        return Created(arn, _policy_attributes(policy))

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        _no_users_or_groups(new)
        arn = physical_id
        document = _document(new.get("PolicyDocument"))
        if document != _document(old.get("PolicyDocument")):
            versions = (await _call(ctx, "ListPolicyVersions", {"PolicyArn": arn}))["Versions"]
            spare = [v["VersionId"] for v in versions if not v["IsDefaultVersion"]]
            if len(versions) >= 5 and spare:  # make room: the oldest non-default goes
                oldest = min(spare, key=lambda v: int(v[1:]))
                await _call(ctx, "DeletePolicyVersion", {"PolicyArn": arn, "VersionId": oldest})
            params = {"PolicyArn": arn, "PolicyDocument": document, "SetAsDefault": True}
            await _call(ctx, "CreatePolicyVersion", params)
        before, after = _strings(old.get("Roles")), _strings(new.get("Roles"))
        for role in [r for r in before if r not in after]:
            await _quietly(ctx, "DetachRolePolicy", {"RoleName": role, "PolicyArn": arn})
        for role in [r for r in after if r not in before]:
            await _call(ctx, "AttachRolePolicy", {"RoleName": role, "PolicyArn": arn})
        policy = (await _call(ctx, "GetPolicy", {"PolicyArn": arn}))["Policy"]
        return Created(arn, _policy_attributes(policy))

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        arn = physical_id
        try:
            entities = await ctx.call("iam", "ListEntitiesForPolicy", {"PolicyArn": arn})
            versions = await ctx.call("iam", "ListPolicyVersions", {"PolicyArn": arn})
        except ServiceError as error:
            if _code(error) == "NoSuchEntity":
                return
            raise ResourceFailed(error.message) from error
        for role in entities["PolicyRoles"]:
            detach = {"RoleName": role["RoleName"], "PolicyArn": arn}
            await _quietly(ctx, "DetachRolePolicy", detach)
        for version in versions["Versions"]:
            if not version["IsDefaultVersion"]:
                drop = {"PolicyArn": arn, "VersionId": version["VersionId"]}
                await _quietly(ctx, "DeletePolicyVersion", drop)
        await _quietly(ctx, "DeletePolicy", {"PolicyArn": arn})


def _policy_attributes(policy: dict[str, Any]) -> dict[str, Any]:
    return {
        "PolicyArn": policy["Arn"],
        "PolicyId": policy["PolicyId"],
        "DefaultVersionId": policy["DefaultVersionId"],
        "AttachmentCount": policy["AttachmentCount"],
        "IsAttachable": policy["IsAttachable"],
        "PermissionsBoundaryUsageCount": policy["PermissionsBoundaryUsageCount"],
        "CreateDate": policy["CreateDate"].isoformat(),
        "UpdateDate": policy["UpdateDate"].isoformat(),
    }


# -- AWS::IAM::InstanceProfile ----------------------------------------------------------------


class InstanceProfile:
    type_name = "AWS::IAM::InstanceProfile"
    replace_on = frozenset({"InstanceProfileName", "Path"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        name = _name(ctx, properties.get("InstanceProfileName"), 128)
        params = {"InstanceProfileName": name, "Path": str(properties.get("Path") or "/")}
        profile = (await _call(ctx, "CreateInstanceProfile", params))["InstanceProfile"]
        try:
            for role in _strings(properties.get("Roles")):
                add = {"InstanceProfileName": name, "RoleName": role}
                await _call(ctx, "AddRoleToInstanceProfile", add)
        except ResourceFailed:
            await self.delete(ctx, name, properties)
            raise
        return Created(name, {"Arn": profile["Arn"]})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        name = physical_id
        before, after = _strings(old.get("Roles")), _strings(new.get("Roles"))
        for role in [r for r in before if r not in after]:
            remove = {"InstanceProfileName": name, "RoleName": role}
            await _quietly(ctx, "RemoveRoleFromInstanceProfile", remove)
        for role in [r for r in after if r not in before]:
            await _call(
                ctx, "AddRoleToInstanceProfile", {"InstanceProfileName": name, "RoleName": role}
            )
        got = await _call(ctx, "GetInstanceProfile", {"InstanceProfileName": name})
        return Created(name, {"Arn": got["InstanceProfile"]["Arn"]})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        name = physical_id
        try:
            got = await ctx.call("iam", "GetInstanceProfile", {"InstanceProfileName": name})
        except ServiceError as error:
            if _code(error) == "NoSuchEntity":
                return
            raise ResourceFailed(error.message) from error
        for role in got["InstanceProfile"]["Roles"]:
            remove = {"InstanceProfileName": name, "RoleName": role["RoleName"]}
            await _quietly(ctx, "RemoveRoleFromInstanceProfile", remove)
        await _quietly(ctx, "DeleteInstanceProfile", {"InstanceProfileName": name})


def providers() -> list[ResourceType]:
    return [Role(), Policy(), ManagedPolicy(), InstanceProfile()]
