"""The IAM provider (query protocol, signing name `iam`): roles, inline and managed policies,
instance profiles, GetUser for the caller and ListAccountAliases (always none).

IAM is global: one set of entities per account, whatever region signed the request (clients
sign IAM as us-east-1). Everything is stored and returned; nothing is enforced (no policy
decides what a caller may do, and PassRole is not checked). Operations Fireside lacks (users,
groups, access keys, OIDC/SAML providers...) are absent from `operations()`, so the edge
answers them with a NotImplementedException naming them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from fireside.aws.auth import Identity
from fireside.aws.context import RequestContext
from fireside.iam.entities import iam_error, validation
from fireside.iam.policies import PolicyApi
from fireside.iam.profiles import ProfileApi
from fireside.iam.roles import RoleApi
from fireside.iam.state import IamState
from fireside.iam.store import IamStore

__all__ = ["IamProvider"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
#: Who a request's access key acts as (`Authenticator.identity`).
IdentityOf = Callable[[str, str], Identity]
_ACCOUNT_CREATED = datetime(2020, 1, 1, tzinfo=UTC)


class IamProvider:
    def __init__(self, store: IamStore, identity_of: IdentityOf | None = None) -> None:
        self.state = IamState(store)
        self._identity_of = identity_of
        self.roles = RoleApi(self.state)
        self.policies = PolicyApi(self.state)
        self.profiles = ProfileApi(self.state)

    def operations(self) -> dict[str, Operation]:
        return {
            **self.roles.operations(),
            **self.policies.operations(),
            **self.profiles.operations(),
            "GetUser": self.get_user,
            "ListAccountAliases": self.list_account_aliases,
        }

    def close(self) -> None:
        self.state.store.close()

    async def get_user(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        """The caller, when it is its account's root (the only user Fireside has)."""
        name = params.get("UserName")
        if name:
            raise iam_error("NoSuchEntityException", f"The user with name {name} cannot be found.")
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

    async def list_account_aliases(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        """No account has an alias here (CreateAccountAlias is not served)."""
        return {"AccountAliases": [], "IsTruncated": False}
