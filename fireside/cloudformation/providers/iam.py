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

from typing import Any

from fireside.aws.errors import ServiceError
from fireside.cloudformation.providers.iam_calls import (
    HOLDERS,
    as_document,
    call,
    code_of,
    every,
    holders_of,
    name_for,
    quietly,
    strings,
    tags_for,
)
from fireside.cloudformation.resource_types import (
    Created,
    ResourceContext,
    ResourceFailed,
    ResourceType,
)

__all__ = ["providers"]

# -- AWS::IAM::Role ---------------------------------------------------------------------------


class Role:
    type_name = "AWS::IAM::Role"
    replace_on = frozenset({"RoleName", "Path"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        name = name_for(ctx, properties.get("RoleName"), 64)
        params: dict[str, Any] = {
            "RoleName": name,
            "AssumeRolePolicyDocument": as_document(properties.get("AssumeRolePolicyDocument")),
            "Path": str(properties.get("Path") or "/"),
        }
        if properties.get("Description") is not None:
            params["Description"] = str(properties["Description"])
        if properties.get("MaxSessionDuration") is not None:
            params["MaxSessionDuration"] = int(properties["MaxSessionDuration"])
        if properties.get("PermissionsBoundary"):
            params["PermissionsBoundary"] = str(properties["PermissionsBoundary"])
        tags = tags_for(ctx, properties.get("Tags"))
        if tags:
            params["Tags"] = tags
        role = (await call(ctx, "CreateRole", params))["Role"]
        try:
            for policy in properties.get("Policies") or []:
                await _put_inline(ctx, name, policy)
            for arn in strings(properties.get("ManagedPolicyArns")):
                await call(ctx, "AttachRolePolicy", {"RoleName": name, "PolicyArn": arn})
        except ResourceFailed:
            await self.delete(ctx, name, properties)  # leave no half-made role behind
            raise
        return Created(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        name = physical_id
        trust = as_document(new.get("AssumeRolePolicyDocument"))
        if trust != as_document(old.get("AssumeRolePolicyDocument")):
            await call(ctx, "UpdateAssumeRolePolicy", {"RoleName": name, "PolicyDocument": trust})
        changes: dict[str, Any] = {}
        if new.get("Description") != old.get("Description"):
            changes["Description"] = str(new.get("Description") or "")
        if new.get("MaxSessionDuration") != old.get("MaxSessionDuration"):
            changes["MaxSessionDuration"] = int(new.get("MaxSessionDuration") or 3600)
        if changes:
            await call(ctx, "UpdateRole", {"RoleName": name, **changes})
        if new.get("PermissionsBoundary") != old.get("PermissionsBoundary"):
            if new.get("PermissionsBoundary"):
                boundary = {"RoleName": name, "PermissionsBoundary": new["PermissionsBoundary"]}
                await call(ctx, "PutRolePermissionsBoundary", boundary)
            else:
                await quietly(ctx, "DeleteRolePermissionsBoundary", {"RoleName": name})
        await _update_inline(ctx, name, old.get("Policies") or [], new.get("Policies") or [])
        before = strings(old.get("ManagedPolicyArns"))
        after = strings(new.get("ManagedPolicyArns"))
        for arn in [a for a in before if a not in after]:
            await quietly(ctx, "DetachRolePolicy", {"RoleName": name, "PolicyArn": arn})
        for arn in [a for a in after if a not in before]:
            await call(ctx, "AttachRolePolicy", {"RoleName": name, "PolicyArn": arn})
        await _update_tags(ctx, name, old, new)
        role = (await call(ctx, "GetRole", {"RoleName": name}))["Role"]
        return Created(name, {"Arn": role["Arn"], "RoleId": role["RoleId"]})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        name = physical_id
        params = {"RoleName": name}
        for policy in await every(ctx, "ListAttachedRolePolicies", params, "AttachedPolicies"):
            detach = {"RoleName": name, "PolicyArn": policy["PolicyArn"]}
            await quietly(ctx, "DetachRolePolicy", detach)
        for policy_name in await every(ctx, "ListRolePolicies", params, "PolicyNames"):
            await quietly(ctx, "DeleteRolePolicy", {"RoleName": name, "PolicyName": policy_name})
        await quietly(ctx, "DeleteRole", {"RoleName": name})


async def _put_inline(ctx: ResourceContext, role: str, policy: dict[str, Any]) -> None:
    params = {
        "RoleName": role,
        "PolicyName": str(policy.get("PolicyName") or ""),
        "PolicyDocument": as_document(policy.get("PolicyDocument")),
    }
    await call(ctx, "PutRolePolicy", params)


async def _update_inline(
    ctx: ResourceContext, role: str, old: list[dict[str, Any]], new: list[dict[str, Any]]
) -> None:
    before = {str(p.get("PolicyName")): as_document(p.get("PolicyDocument")) for p in old}
    after = {str(p.get("PolicyName")): as_document(p.get("PolicyDocument")) for p in new}
    for name in [n for n in before if n not in after]:
        await quietly(ctx, "DeleteRolePolicy", {"RoleName": role, "PolicyName": name})
    for name, document in after.items():
        if before.get(name) != document:
            await _put_inline(ctx, role, {"PolicyName": name, "PolicyDocument": document})


async def _update_tags(
    ctx: ResourceContext, role: str, old: dict[str, Any], new: dict[str, Any]
) -> None:
    before = {t["Key"]: t["Value"] for t in tags_for(ctx, old.get("Tags"))}
    after = tags_for(ctx, new.get("Tags"))
    gone = [key for key in before if key not in {t["Key"] for t in after}]
    if gone:
        await call(ctx, "UntagRole", {"RoleName": role, "TagKeys": gone})
    changed = [t for t in after if before.get(t["Key"]) != t["Value"]]
    if changed:
        await call(ctx, "TagRole", {"RoleName": role, "Tags": changed})


# -- AWS::IAM::Policy (inline) ----------------------------------------------------------------


class Policy:
    type_name = "AWS::IAM::Policy"
    replace_on: frozenset[str] = frozenset()

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        held = holders_of(properties)
        if not held:
            raise ResourceFailed("At least one of [Groups,Roles,Users] must be non-empty.")
        physical_id = name_for(ctx, None, 64)
        made: list[tuple[str, str, str]] = []
        try:
            for holder in held:
                await _put_policy(ctx, holder, properties)
                made.append(holder)
        except ResourceFailed:
            await _delete_policies(ctx, made, str(properties.get("PolicyName")))
            raise
        return Created(physical_id, {"Id": physical_id})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        after = holders_of(new)
        if not after:
            raise ResourceFailed("At least one of [Groups,Roles,Users] must be non-empty.")
        old_name = str(old.get("PolicyName"))
        renamed = old_name != str(new.get("PolicyName"))
        gone = [h for h in holders_of(old) if renamed or h not in after]
        await _delete_policies(ctx, gone, old_name)
        for holder in after:
            await _put_policy(ctx, holder, new)
        return Created(physical_id, {"Id": physical_id})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        await _delete_policies(ctx, holders_of(properties), str(properties.get("PolicyName")))


async def _put_policy(
    ctx: ResourceContext, holder: tuple[str, str, str], properties: dict[str, Any]
) -> None:
    noun, member, name = holder
    params = {
        member: name,
        "PolicyName": str(properties.get("PolicyName") or ""),
        "PolicyDocument": as_document(properties.get("PolicyDocument")),
    }
    await call(ctx, f"Put{noun}Policy", params)


async def _delete_policies(
    ctx: ResourceContext, held: list[tuple[str, str, str]], policy_name: str
) -> None:
    for noun, member, name in held:
        await quietly(ctx, f"Delete{noun}Policy", {member: name, "PolicyName": policy_name})


# -- AWS::IAM::ManagedPolicy ------------------------------------------------------------------


class ManagedPolicy:
    type_name = "AWS::IAM::ManagedPolicy"
    replace_on = frozenset({"ManagedPolicyName", "Path", "Description"})

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created:
        params: dict[str, Any] = {
            "PolicyName": name_for(ctx, properties.get("ManagedPolicyName"), 128),
            "Path": str(properties.get("Path") or "/"),
            "PolicyDocument": as_document(properties.get("PolicyDocument")),
        }
        if properties.get("Description") is not None:
            params["Description"] = str(properties["Description"])
        policy = (await call(ctx, "CreatePolicy", params))["Policy"]
        arn = policy["Arn"]
        try:
            for noun, member, name in holders_of(properties):
                await call(ctx, f"Attach{noun}Policy", {member: name, "PolicyArn": arn})
        except ResourceFailed:
            await self.delete(ctx, arn, properties)
            raise
        return Created(arn, _policy_attributes(policy))

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        arn = physical_id
        document = as_document(new.get("PolicyDocument"))
        if document != as_document(old.get("PolicyDocument")):
            versions = (await call(ctx, "ListPolicyVersions", {"PolicyArn": arn}))["Versions"]
            spare = [v["VersionId"] for v in versions if not v["IsDefaultVersion"]]
            if len(versions) >= 5 and spare:  # make room: the oldest non-default goes
                oldest = min(spare, key=lambda v: int(v[1:]))
                await call(ctx, "DeletePolicyVersion", {"PolicyArn": arn, "VersionId": oldest})
            params = {"PolicyArn": arn, "PolicyDocument": document, "SetAsDefault": True}
            await call(ctx, "CreatePolicyVersion", params)
        before, after = holders_of(old), holders_of(new)
        for noun, member, name in [h for h in before if h not in after]:
            await quietly(ctx, f"Detach{noun}Policy", {member: name, "PolicyArn": arn})
        for noun, member, name in [h for h in after if h not in before]:
            await call(ctx, f"Attach{noun}Policy", {member: name, "PolicyArn": arn})
        policy = (await call(ctx, "GetPolicy", {"PolicyArn": arn}))["Policy"]
        return Created(arn, _policy_attributes(policy))

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        arn = physical_id
        try:
            versions = await ctx.call("iam", "ListPolicyVersions", {"PolicyArn": arn})
        except ServiceError as error:
            if code_of(error) == "NoSuchEntity":
                return
            raise ResourceFailed(error.message) from error
        for kind, noun, member in HOLDERS:
            params = {"PolicyArn": arn, "EntityFilter": noun}
            for entity in await every(ctx, "ListEntitiesForPolicy", params, f"Policy{kind}"):
                detach = {member: entity[member], "PolicyArn": arn}
                await quietly(ctx, f"Detach{noun}Policy", detach)
        for version in versions["Versions"]:
            if not version["IsDefaultVersion"]:
                drop = {"PolicyArn": arn, "VersionId": version["VersionId"]}
                await quietly(ctx, "DeletePolicyVersion", drop)
        await quietly(ctx, "DeletePolicy", {"PolicyArn": arn})


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
        name = name_for(ctx, properties.get("InstanceProfileName"), 128)
        params = {"InstanceProfileName": name, "Path": str(properties.get("Path") or "/")}
        profile = (await call(ctx, "CreateInstanceProfile", params))["InstanceProfile"]
        try:
            for role in strings(properties.get("Roles")):
                add = {"InstanceProfileName": name, "RoleName": role}
                await call(ctx, "AddRoleToInstanceProfile", add)
        except ResourceFailed:
            await self.delete(ctx, name, properties)
            raise
        return Created(name, {"Arn": profile["Arn"]})

    async def update(
        self, ctx: ResourceContext, physical_id: str, old: dict[str, Any], new: dict[str, Any]
    ) -> Created:
        name = physical_id
        before, after = strings(old.get("Roles")), strings(new.get("Roles"))
        for role in [r for r in before if r not in after]:
            remove = {"InstanceProfileName": name, "RoleName": role}
            await quietly(ctx, "RemoveRoleFromInstanceProfile", remove)
        for role in [r for r in after if r not in before]:
            await call(
                ctx, "AddRoleToInstanceProfile", {"InstanceProfileName": name, "RoleName": role}
            )
        got = await call(ctx, "GetInstanceProfile", {"InstanceProfileName": name})
        return Created(name, {"Arn": got["InstanceProfile"]["Arn"]})

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        name = physical_id
        try:
            got = await ctx.call("iam", "GetInstanceProfile", {"InstanceProfileName": name})
        except ServiceError as error:
            if code_of(error) == "NoSuchEntity":
                return
            raise ResourceFailed(error.message) from error
        for role in got["InstanceProfile"]["Roles"]:
            remove = {"InstanceProfileName": name, "RoleName": role["RoleName"]}
            await quietly(ctx, "RemoveRoleFromInstanceProfile", remove)
        await quietly(ctx, "DeleteInstanceProfile", {"InstanceProfileName": name})


def providers() -> list[ResourceType]:
    return [Role(), Policy(), ManagedPolicy(), InstanceProfile()]
