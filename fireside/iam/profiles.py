"""IAM instance profiles: containers for one role, which EC2 would hand an instance.

Fireside runs no instances; profiles are stored and returned so templates and tools that make
them (`AWS::IAM::InstanceProfile`, CDK's bootstrap variants) deploy. A profile holds at most
one role (AWS's quota), and a role in a profile cannot be deleted.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.iam.entities import (
    InstanceProfile,
    Tags,
    check_name,
    check_path,
    check_tag_count,
    iam_error,
    new_id,
    page,
    timestamp,
)
from fireside.iam.roles import role_view
from fireside.iam.state import IamState

__all__ = ["ProfileApi"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

MAX_PROFILES: Final = 1000  # per account, AWS's default quota


class ProfileApi:
    def __init__(self, state: IamState, clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self._clock = clock

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateInstanceProfile": self.create_instance_profile,
            "GetInstanceProfile": self.get_instance_profile,
            "DeleteInstanceProfile": self.delete_instance_profile,
            "AddRoleToInstanceProfile": self.add_role_to_instance_profile,
            "RemoveRoleFromInstanceProfile": self.remove_role_from_instance_profile,
            "ListInstanceProfiles": self.list_instance_profiles,
            "ListInstanceProfilesForRole": self.list_instance_profiles_for_role,
            "TagInstanceProfile": self.tag_instance_profile,
            "UntagInstanceProfile": self.untag_instance_profile,
            "ListInstanceProfileTags": self.list_instance_profile_tags,
        }

    def _view(self, profile: InstanceProfile) -> dict[str, Any]:
        roles = [self.state.roles.get((profile.account, key)) for key in profile.roles]
        out: dict[str, Any] = {
            "Path": profile.path,
            "InstanceProfileName": profile.name,
            "InstanceProfileId": profile.profile_id,
            "Arn": profile.arn,
            "CreateDate": timestamp(profile.created),
            "Roles": [role_view(role, "profile") for role in roles if role is not None],
        }
        if profile.tags:
            out["Tags"] = profile.tags.listed()
        return out

    async def create_instance_profile(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        account = ctx.account_id
        name: str = params["InstanceProfileName"]
        check_name(name, "instanceProfileName", 128)
        path: str = params.get("Path") or "/"
        check_path(path)
        tags = Tags.given(params.get("Tags"))
        check_tag_count(tags)
        if (account, name.lower()) in self.state.profiles:
            raise iam_error(
                "EntityAlreadyExistsException", f"Instance Profile {name} already exists."
            )
        if sum(1 for key in self.state.profiles if key[0] == account) >= MAX_PROFILES:
            raise iam_error(
                "LimitExceededException",
                f"Cannot exceed quota for InstanceProfilesPerAccount: {MAX_PROFILES}",
            )
        profile = InstanceProfile(account, name, path, new_id("AIPA"), self._clock(), tags=tags)
        self.state.save_profile(profile)
        return {"InstanceProfile": self._view(profile)}

    async def get_instance_profile(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        profile = self.state.profile(ctx.account_id, params["InstanceProfileName"])
        return {"InstanceProfile": self._view(profile)}

    async def delete_instance_profile(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        profile = self.state.profile(ctx.account_id, params["InstanceProfileName"])
        if profile.roles:
            raise iam_error(
                "DeleteConflictException",
                "Cannot delete entity, must remove roles from instance profile first.",
            )
        self.state.drop_profile(profile)
        return {}

    async def add_role_to_instance_profile(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        profile = self.state.profile(ctx.account_id, params["InstanceProfileName"])
        role = self.state.role(ctx.account_id, params["RoleName"])
        if profile.roles:
            raise iam_error(
                "LimitExceededException",
                "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1",
            )
        profile.roles.append(role.key)
        self.state.save_profile(profile)
        return {}

    async def remove_role_from_instance_profile(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        profile = self.state.profile(ctx.account_id, params["InstanceProfileName"])
        name: str = params["RoleName"]
        if name.lower() not in profile.roles:
            raise iam_error("NoSuchEntityException", f"The role with name {name} cannot be found.")
        profile.roles.remove(name.lower())
        self.state.save_profile(profile)
        return {}

    async def list_instance_profiles(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        prefix: str = params.get("PathPrefix") or "/"
        profiles = [p for p in self.state.profiles_of(ctx.account_id) if p.path.startswith(prefix)]
        shown, out = page(profiles, lambda p: p.key, params)
        return {"InstanceProfiles": [self._view(p) for p in shown], **out}

    async def list_instance_profiles_for_role(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        role = self.state.role(ctx.account_id, params["RoleName"])
        profiles = [p for p in self.state.profiles_of(ctx.account_id) if role.key in p.roles]
        shown, out = page(profiles, lambda p: p.key, params)
        return {"InstanceProfiles": [self._view(p) for p in shown], **out}

    async def tag_instance_profile(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        profile = self.state.profile(ctx.account_id, params["InstanceProfileName"])
        profile.tags.merge(Tags.given(params["Tags"]), "InstanceProfile")
        self.state.save_profile(profile)
        return {}

    async def untag_instance_profile(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        profile = self.state.profile(ctx.account_id, params["InstanceProfileName"])
        profile.tags.remove(params["TagKeys"])
        self.state.save_profile(profile)
        return {}

    async def list_instance_profile_tags(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        profile = self.state.profile(ctx.account_id, params["InstanceProfileName"])
        numbered = [(f"{i:04d}", tag) for i, tag in enumerate(profile.tags.listed())]
        shown, out = page(numbered, lambda entry: entry[0], params)
        return {"Tags": [tag for _, tag in shown], **out}
