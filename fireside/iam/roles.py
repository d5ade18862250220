"""IAM roles: create, read, update, delete and list them, their tags, permissions boundary
and inline policies.

A role is stored and returned, never enforced: its trust policy does not decide who may
assume it (STS lets any caller of the role's account assume it, `fireside.sts`), and Lambda
runs a function as its execution role without looking the role up (PassRole is not checked).
What the answers carry follows AWS: CreateRole's role has no `MaxSessionDuration`, GetRole's
adds it and `RoleLastUsed`, ListRoles' has neither tags nor boundary.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.iam import holders
from fireside.iam.documents import (
    INLINE_ROLE_QUOTA,
    check_identity_policy,
    check_trust_policy,
    encoded,
    size,
)
from fireside.iam.entities import (
    Role,
    Tags,
    check_name,
    check_path,
    check_tag_count,
    iam_error,
    new_id,
    page,
    timestamp,
    validation,
)
from fireside.iam.state import IamState

__all__ = ["RoleApi", "role_view"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

MAX_ROLES: Final = 1000  # per account, AWS's default quota
_SESSION_RANGE: Final = (3600, 43200)


def role_view(role: Role, view: str = "get") -> dict[str, Any]:
    """A role as one of AWS's answers shows it: `create`, `get`, `list`, or `profile` (inside
    an instance profile: the role's identity and trust policy only)."""
    out: dict[str, Any] = {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.role_id,
        "Arn": role.arn,
        "CreateDate": timestamp(role.created),
        "AssumeRolePolicyDocument": encoded(role.trust),
    }
    if view == "profile":
        return out
    if role.description is not None:
        out["Description"] = role.description
    if view != "create":
        out["MaxSessionDuration"] = role.max_session
    if view != "list":
        if role.boundary is not None:
            out["PermissionsBoundary"] = {
                "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
                "PermissionsBoundaryArn": role.boundary,
            }
        if role.tags:
            out["Tags"] = role.tags.listed()
    if view == "get":
        out["RoleLastUsed"] = {}
    return out


def _session(value: Any) -> int:
    seconds = int(value)
    low, high = _SESSION_RANGE
    if not low <= seconds <= high:
        bound = "greater than or equal to 3600" if seconds < low else "less than or equal to 43200"
        raise validation(
            f"1 validation error detected: Value '{seconds}' at 'maxSessionDuration' failed "
            f"to satisfy constraint: Member must have value {bound}"
        )
    return seconds


class RoleApi:
    def __init__(self, state: IamState, clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self._clock = clock

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateRole": self.create_role,
            "GetRole": self.get_role,
            "DeleteRole": self.delete_role,
            "ListRoles": self.list_roles,
            "UpdateRole": self.update_role,
            "UpdateRoleDescription": self.update_role_description,
            "UpdateAssumeRolePolicy": self.update_assume_role_policy,
            "TagRole": self.tag_role,
            "UntagRole": self.untag_role,
            "ListRoleTags": self.list_role_tags,
            "PutRolePermissionsBoundary": self.put_role_permissions_boundary,
            "DeleteRolePermissionsBoundary": self.delete_role_permissions_boundary,
            "PutRolePolicy": self.put_role_policy,
            "GetRolePolicy": self.get_role_policy,
            "DeleteRolePolicy": self.delete_role_policy,
            "ListRolePolicies": self.list_role_policies,
            "AttachRolePolicy": self.attach_role_policy,
            "DetachRolePolicy": self.detach_role_policy,
            "ListAttachedRolePolicies": self.list_attached_role_policies,
        }

    # -- roles ------------------------------------------------------------------------------

    async def create_role(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        account = ctx.account_id
        name: str = params["RoleName"]
        check_name(name, "roleName", 64)
        path: str = params.get("Path") or "/"
        check_path(path)
        trust: str = params["AssumeRolePolicyDocument"]
        check_trust_policy(trust)
        tags = Tags.given(params.get("Tags"))
        check_tag_count(tags)
        session = _session(params.get("MaxSessionDuration", 3600))
        boundary: str | None = params.get("PermissionsBoundary")
        if boundary is not None:
            self.state.check_attachable(account, boundary)
        if (account, name.lower()) in self.state.roles:
            raise iam_error(
                "EntityAlreadyExistsException", f"Role with name {name} already exists."
            )
        if sum(1 for key in self.state.roles if key[0] == account) >= MAX_ROLES:
            raise iam_error(
                "LimitExceededException", f"Cannot exceed quota for RolesPerAccount: {MAX_ROLES}"
            )
        role = Role(
            account,
            name,
            path,
            new_id("AROA"),
            self._clock(),
            trust,
            description=params.get("Description"),
            max_session=session,
            boundary=boundary,
            tags=tags,
        )
        self.state.save_role(role)
        return {"Role": role_view(role, "create")}

    async def get_role(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        return {"Role": role_view(self.state.role(ctx.account_id, params["RoleName"]))}

    async def delete_role(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        role = self.state.role(ctx.account_id, params["RoleName"])
        if any(role.key in p.roles for p in self.state.profiles_of(ctx.account_id)):
            raise iam_error(
                "DeleteConflictException",
                "Cannot delete entity, must remove roles from instance profile first.",
            )
        if role.attached:
            raise iam_error(
                "DeleteConflictException", "Cannot delete entity, must detach all policies first."
            )
        if role.inline:
            raise iam_error(
                "DeleteConflictException", "Cannot delete entity, must delete policies first."
            )
        self.state.drop_role(role)
        return {}

    async def list_roles(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix: str = params.get("PathPrefix") or "/"
        roles = [r for r in self.state.roles_of(ctx.account_id) if r.path.startswith(prefix)]
        shown, out = page(roles, lambda r: r.key, params)
        return {"Roles": [role_view(r, "list") for r in shown], **out}

    async def update_role(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        role = self.state.role(ctx.account_id, params["RoleName"])
        if "MaxSessionDuration" in params:
            role.max_session = _session(params["MaxSessionDuration"])
        if "Description" in params:
            role.description = params["Description"]
        self.state.save_role(role)
        return {}

    async def update_role_description(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        role = self.state.role(ctx.account_id, params["RoleName"])
        role.description = params["Description"]
        self.state.save_role(role)
        return {"Role": role_view(role)}

    async def update_assume_role_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        role = self.state.role(ctx.account_id, params["RoleName"])
        document: str = params["PolicyDocument"]
        check_trust_policy(document)
        role.trust = document
        self.state.save_role(role)
        return {}

    # -- tags and boundary ------------------------------------------------------------------

    async def tag_role(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        role = self.state.role(ctx.account_id, params["RoleName"])
        role.tags.merge(Tags.given(params["Tags"]), "Role")
        self.state.save_role(role)
        return {}

    async def untag_role(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        role = self.state.role(ctx.account_id, params["RoleName"])
        role.tags.remove(params["TagKeys"])
        self.state.save_role(role)
        return {}

    async def list_role_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        role = self.state.role(ctx.account_id, params["RoleName"])
        numbered = [(f"{i:04d}", tag) for i, tag in enumerate(role.tags.listed())]
        shown, out = page(numbered, lambda entry: entry[0], params)
        return {"Tags": [tag for _, tag in shown], **out}

    async def put_role_permissions_boundary(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        role = self.state.role(ctx.account_id, params["RoleName"])
        arn: str = params["PermissionsBoundary"]
        self.state.check_attachable(ctx.account_id, arn)
        role.boundary = arn
        self.state.save_role(role)
        return {}

    async def delete_role_permissions_boundary(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        role = self.state.role(ctx.account_id, params["RoleName"])
        role.boundary = None
        self.state.save_role(role)
        return {}

    # -- inline policies --------------------------------------------------------------------

    async def put_role_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        role = self.state.role(ctx.account_id, params["RoleName"])
        name: str = params["PolicyName"]
        check_name(name, "policyName", 128)
        document: str = params["PolicyDocument"]
        check_identity_policy(document)
        others = sum(size(doc) for other, doc in role.inline.items() if other != name)
        if others + size(document) > INLINE_ROLE_QUOTA:
            raise iam_error(
                "LimitExceededException",
                f"Maximum policy size of {INLINE_ROLE_QUOTA} bytes exceeded for role {role.name}",
            )
        role.inline[name] = document
        self.state.save_role(role)
        return {}

    def _inline(self, role: Role, name: str) -> str:
        document = role.inline.get(name)
        if document is None:
            raise iam_error(
                "NoSuchEntityException", f"The role policy with name {name} cannot be found."
            )
        return document

    async def get_role_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        role = self.state.role(ctx.account_id, params["RoleName"])
        name: str = params["PolicyName"]
        document = self._inline(role, name)
        return {"RoleName": role.name, "PolicyName": name, "PolicyDocument": encoded(document)}

    async def delete_role_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        role = self.state.role(ctx.account_id, params["RoleName"])
        self._inline(role, params["PolicyName"])
        del role.inline[params["PolicyName"]]
        self.state.save_role(role)
        return {}

    async def list_role_policies(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        role = self.state.role(ctx.account_id, params["RoleName"])
        shown, out = page(sorted(role.inline), lambda name: name, params)
        return {"PolicyNames": shown, **out}

    # -- managed policies -------------------------------------------------------------------

    async def attach_role_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        role = self.state.role(ctx.account_id, params["RoleName"])
        if holders.attach(self.state, ctx.account_id, role, params["PolicyArn"], "role"):
            self.state.save_role(role)
        return {}  # attaching twice changes nothing, as on AWS

    async def detach_role_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        role = self.state.role(ctx.account_id, params["RoleName"])
        holders.detach(self.state, ctx.account_id, role, params["PolicyArn"])
        self.state.save_role(role)
        return {}

    async def list_attached_role_policies(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        role = self.state.role(ctx.account_id, params["RoleName"])
        return holders.attached_page(role, params)
