"""IAM users: created, read, tagged, given inline and managed policies, deleted.

Users are records only: Fireside issues them no access keys or passwords (CreateAccessKey is
not served), so requests are signed by the configured keys, each its account's root. GetUser
without a name therefore answers the root, as AWS does for root credentials.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

from fireside.aws.auth import Identity
from fireside.aws.context import RequestContext
from fireside.iam import holders
from fireside.iam.entities import (
    Tags,
    check_name,
    check_path,
    check_tag_count,
    iam_error,
    new_id,
    page,
    validation,
)
from fireside.iam.principals import User
from fireside.iam.state import IamState

__all__ = ["UserApi"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
#: Who a request's access key acts as (`Authenticator.identity`).
IdentityOf = Callable[[str, str], Identity]

MAX_USERS: Final = 5000  # per account, AWS's default quota
_ACCOUNT_CREATED: Final = datetime(2020, 1, 1, tzinfo=UTC)


class UserApi:
    def __init__(
        self,
        state: IamState,
        identity_of: IdentityOf | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self._identity_of = identity_of
        self._clock = clock

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateUser": self.create_user,
            "GetUser": self.get_user,
            "DeleteUser": self.delete_user,
            "ListUsers": self.list_users,
            "TagUser": self.tag_user,
            "UntagUser": self.untag_user,
            "ListUserTags": self.list_user_tags,
            "PutUserPolicy": self.put_user_policy,
            "GetUserPolicy": self.get_user_policy,
            "DeleteUserPolicy": self.delete_user_policy,
            "ListUserPolicies": self.list_user_policies,
            "AttachUserPolicy": self.attach_user_policy,
            "DetachUserPolicy": self.detach_user_policy,
            "ListAttachedUserPolicies": self.list_attached_user_policies,
            "ListGroupsForUser": self.list_groups_for_user,
        }

    async def create_user(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        account = ctx.account_id
        name: str = params["UserName"]
        check_name(name, "userName", 64)
        path: str = params.get("Path") or "/"
        check_path(path)
        tags = Tags.given(params.get("Tags"))
        check_tag_count(tags)
        if (account, name.lower()) in self.state.users:
            raise iam_error(
                "EntityAlreadyExistsException", f"User with name {name} already exists."
            )
        if sum(1 for key in self.state.users if key[0] == account) >= MAX_USERS:
            raise iam_error(
                "LimitExceededException", f"Cannot exceed quota for UsersPerAccount: {MAX_USERS}"
            )
        user = User(account, name, path, new_id("AIDA"), self._clock(), tags=tags)
        self.state.save_user(user)
        return {"User": user.view(tags=True)}

    async def get_user(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """A named user; without a name, the caller, which is its account's root (the only
        identity that signs requests here besides functions' and STS sessions' roles)."""
        name = params.get("UserName")
        if name:
            return {"User": self.state.user(ctx.account_id, name).view(tags=True)}
        if self._identity_of is not None:
            who = self._identity_of(ctx.access_key_id, ctx.account_id)
            if not who.arn.endswith(":root"):
                raise validation("Must specify userName when calling with non-User credentials")
        return {
            "User": {
                "Path": "/",
                "UserId": ctx.account_id,
                "Arn": f"arn:aws:iam::{ctx.account_id}:root",
                "CreateDate": _ACCOUNT_CREATED,
            }
        }

    async def delete_user(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        user = self.state.user(ctx.account_id, params["UserName"])
        if any(user.key in g.users for g in self.state.groups_of(ctx.account_id)):
            raise iam_error(
                "DeleteConflictException",
                "Cannot delete entity, must remove users from group first.",
            )
        if user.attached:
            raise iam_error(
                "DeleteConflictException", "Cannot delete entity, must detach all policies first."
            )
        if user.inline:
            raise iam_error(
                "DeleteConflictException", "Cannot delete entity, must delete policies first."
            )
        self.state.drop_user(user)
        return {}

    async def list_users(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        prefix: str = params.get("PathPrefix") or "/"
        users = [u for u in self.state.users_of(ctx.account_id) if u.path.startswith(prefix)]
        shown, out = page(users, lambda u: u.key, params)
        return {"Users": [u.view() for u in shown], **out}

    async def tag_user(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        user = self.state.user(ctx.account_id, params["UserName"])
        user.tags.merge(Tags.given(params["Tags"]), "User")
        self.state.save_user(user)
        return {}

    async def untag_user(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        user = self.state.user(ctx.account_id, params["UserName"])
        user.tags.remove(params["TagKeys"])
        self.state.save_user(user)
        return {}

    async def list_user_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        user = self.state.user(ctx.account_id, params["UserName"])
        numbered = [(f"{i:04d}", tag) for i, tag in enumerate(user.tags.listed())]
        shown, out = page(numbered, lambda entry: entry[0], params)
        return {"Tags": [tag for _, tag in shown], **out}

    async def put_user_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        user = self.state.user(ctx.account_id, params["UserName"])
        holders.put_inline(user, params, "user")
        self.state.save_user(user)
        return {}

    async def get_user_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        user = self.state.user(ctx.account_id, params["UserName"])
        return holders.inline_answer(user, params["PolicyName"], "user")

    async def delete_user_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        user = self.state.user(ctx.account_id, params["UserName"])
        holders.inline_document(user, params["PolicyName"], "user")
        del user.inline[params["PolicyName"]]
        self.state.save_user(user)
        return {}

    async def list_user_policies(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        user = self.state.user(ctx.account_id, params["UserName"])
        shown, out = page(sorted(user.inline), lambda name: name, params)
        return {"PolicyNames": shown, **out}

    async def attach_user_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        user = self.state.user(ctx.account_id, params["UserName"])
        if holders.attach(self.state, ctx.account_id, user, params["PolicyArn"], "user"):
            self.state.save_user(user)
        return {}

    async def detach_user_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        user = self.state.user(ctx.account_id, params["UserName"])
        holders.detach(self.state, ctx.account_id, user, params["PolicyArn"])
        self.state.save_user(user)
        return {}

    async def list_attached_user_policies(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        user = self.state.user(ctx.account_id, params["UserName"])
        return holders.attached_page(user, params)

    async def list_groups_for_user(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        user = self.state.user(ctx.account_id, params["UserName"])
        groups = [g for g in self.state.groups_of(ctx.account_id) if user.key in g.users]
        shown, out = page(groups, lambda g: g.key, params)
        return {"Groups": [g.view() for g in shown], **out}
