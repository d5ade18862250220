"""The IAM provider (query protocol, signing name `iam`): roles, inline and managed policies,
instance profiles, users and groups, and ListAccountAliases (always none).

IAM is global: one set of entities per account, whatever region signs the request (clients
sign IAM as us-east-1). Everything is stored and returned; nothing is enforced (no policy
decides what a caller may do, and PassRole is not checked). Operations Fireside lacks (access
keys, login profiles, MFA, OIDC/SAML providers...) are absent from `operations()`, so the edge
answers them with a NotImplementedException naming them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fireside.aws.context import RequestContext
from fireside.iam.groups import GroupApi
from fireside.iam.policies import PolicyApi
from fireside.iam.profiles import ProfileApi
from fireside.iam.roles import RoleApi
from fireside.iam.state import IamState
from fireside.iam.store import IamStore
from fireside.iam.users import IdentityOf, UserApi

__all__ = ["IamProvider"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]


class IamProvider:
    def __init__(self, store: IamStore, identity_of: IdentityOf | None = None) -> None:
        self.state = IamState(store)
        self.roles = RoleApi(self.state)
        self.policies = PolicyApi(self.state)
        self.profiles = ProfileApi(self.state)
        self.users = UserApi(self.state, identity_of)
        self.groups = GroupApi(self.state)

    def operations(self) -> dict[str, Operation]:
        return {
            **self.roles.operations(),
            **self.policies.operations(),
            **self.profiles.operations(),
            **self.users.operations(),
            **self.groups.operations(),
            "ListAccountAliases": self.list_account_aliases,
        }

    def close(self) -> None:
        self.state.store.close()

    async def list_account_aliases(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        """No account has an alias here (CreateAccountAlias is not served)."""
        return {"AccountAliases": [], "IsTruncated": False}
