"""IAM groups: created, read with their members, given inline and managed policies, deleted.

A group holds users (at most 10 groups a user, AWS's quota); like users, groups are records
whose policies are stored and returned, never enforced.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.iam import holders
from fireside.iam.entities import check_name, check_path, iam_error, new_id, page
from fireside.iam.principals import Group
from fireside.iam.state import IamState

__all__ = ["GroupApi"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

MAX_GROUPS: Final = 300  # per account, AWS's default quota
MAX_GROUPS_PER_USER: Final = 10


class GroupApi:
    def __init__(self, state: IamState, clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self._clock = clock

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateGroup": self.create_group,
            "GetGroup": self.get_group,
            "DeleteGroup": self.delete_group,
            "ListGroups": self.list_groups,
            "AddUserToGroup": self.add_user_to_group,
            "RemoveUserFromGroup": self.remove_user_from_group,
            "PutGroupPolicy": self.put_group_policy,
            "GetGroupPolicy": self.get_group_policy,
            "DeleteGroupPolicy": self.delete_group_policy,
            "ListGroupPolicies": self.list_group_policies,
            "AttachGroupPolicy": self.attach_group_policy,
            "DetachGroupPolicy": self.detach_group_policy,
            "ListAttachedGroupPolicies": self.list_attached_group_policies,
        }

    async def create_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        account = ctx.account_id
        name: str = params["GroupName"]
        check_name(name, "groupName", 128)
        path: str = params.get("Path") or "/"
        check_path(path)
        if (account, name.lower()) in self.state.groups:
            raise iam_error(
                "EntityAlreadyExistsException", f"Group with name {name} already exists."
            )
        if sum(1 for key in self.state.groups if key[0] == account) >= MAX_GROUPS:
            raise iam_error(
                "LimitExceededException", f"Cannot exceed quota for GroupsPerAccount: {MAX_GROUPS}"
            )
        group = Group(account, name, path, new_id("AGPA"), self._clock())
        self.state.save_group(group)
        return {"Group": group.view()}

    async def get_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self.state.group(ctx.account_id, params["GroupName"])
        members = [self.state.users.get((group.account, key)) for key in group.users]
        users = sorted((u for u in members if u is not None), key=lambda u: u.key)
        shown, out = page(users, lambda u: u.key, params)
        return {"Group": group.view(), "Users": [u.view() for u in shown], **out}

    async def delete_group(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self.state.group(ctx.account_id, params["GroupName"])
        if group.users:
            raise iam_error(
                "DeleteConflictException",
                "Cannot delete entity, must remove users from group first.",
            )
        if group.attached:
            raise iam_error(
                "DeleteConflictException", "Cannot delete entity, must detach all policies first."
            )
        if group.inline:
            raise iam_error(
                "DeleteConflictException", "Cannot delete entity, must delete policies first."
            )
        self.state.drop_group(group)
        return {}

    async def list_groups(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix: str = params.get("PathPrefix") or "/"
        groups = [g for g in self.state.groups_of(ctx.account_id) if g.path.startswith(prefix)]
        shown, out = page(groups, lambda g: g.key, params)
        return {"Groups": [g.view() for g in shown], **out}

    async def add_user_to_group(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        group = self.state.group(ctx.account_id, params["GroupName"])
        user = self.state.user(ctx.account_id, params["UserName"])
        if user.key in group.users:
            return {}  # already a member: nothing changes, as on AWS
        joined = sum(1 for g in self.state.groups_of(ctx.account_id) if user.key in g.users)
        if joined >= MAX_GROUPS_PER_USER:
            raise iam_error(
                "LimitExceededException",
                f"Cannot exceed quota for GroupsPerUser: {MAX_GROUPS_PER_USER}",
            )
        group.users.append(user.key)
        self.state.save_group(group)
        return {}

    async def remove_user_from_group(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        group = self.state.group(ctx.account_id, params["GroupName"])
        name: str = params["UserName"]
        self.state.user(ctx.account_id, name)
        if name.lower() not in group.users:
            raise iam_error("NoSuchEntityException", f"The user with name {name} cannot be found.")
        group.users.remove(name.lower())
        self.state.save_group(group)
        return {}

    async def put_group_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self.state.group(ctx.account_id, params["GroupName"])
        holders.put_inline(group, params, "group")
        self.state.save_group(group)
        return {}

    async def get_group_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        group = self.state.group(ctx.account_id, params["GroupName"])
        return holders.inline_answer(group, params["PolicyName"], "group")

    async def delete_group_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        group = self.state.group(ctx.account_id, params["GroupName"])
        holders.inline_document(group, params["PolicyName"], "group")
        del group.inline[params["PolicyName"]]
        self.state.save_group(group)
        return {}

    async def list_group_policies(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        group = self.state.group(ctx.account_id, params["GroupName"])
        shown, out = page(sorted(group.inline), lambda name: name, params)
        return {"PolicyNames": shown, **out}

    async def attach_group_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        group = self.state.group(ctx.account_id, params["GroupName"])
        if holders.attach(self.state, ctx.account_id, group, params["PolicyArn"], "group"):
            self.state.save_group(group)
        return {}

    async def detach_group_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        group = self.state.group(ctx.account_id, params["GroupName"])
        holders.detach(self.state, ctx.account_id, group, params["PolicyArn"])
        self.state.save_group(group)
        return {}

    async def list_attached_group_policies(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        group = self.state.group(ctx.account_id, params["GroupName"])
        return holders.attached_page(group, params)
