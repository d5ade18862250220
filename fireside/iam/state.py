"""IAM's state in memory, written through `IamStore`: the lookups every operation shares
(each raising AWS's `NoSuchEntity` with AWS's words) and the saves that make an answer durable.

Entities are per account: `(account, lower-cased name)` keys, so one account never sees (or
collides with) another's roles, whatever region signed the request.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final, TypeVar

from fireside.iam.aws_managed import AWS_POLICY_ARN, known
from fireside.iam.entities import InstanceProfile, ManagedPolicy, Role, iam_error, validation
from fireside.iam.principals import Group, User
from fireside.iam.store import GROUP, POLICY, PROFILE, ROLE, USER, IamStore

__all__ = ["IamState"]

E = TypeVar("E", Role, ManagedPolicy, InstanceProfile, User, Group)

_POLICY_ARN: Final = re.compile(
    r"arn:aws:iam::(?P<account>[0-9]{12}):policy(?P<path>/(?:.+/)?)(?P<name>[^/]+)"
)


class IamState:
    def __init__(self, store: IamStore) -> None:
        self.store = store
        self.roles: dict[tuple[str, str], Role] = {}
        self.policies: dict[tuple[str, str], ManagedPolicy] = {}
        self.profiles: dict[tuple[str, str], InstanceProfile] = {}
        self.users: dict[tuple[str, str], User] = {}
        self.groups: dict[tuple[str, str], Group] = {}
        for kind, record in store.load():
            if kind == ROLE:
                role = Role.from_record(record)
                self.roles[role.account, role.key] = role
            elif kind == POLICY:
                policy = ManagedPolicy.from_record(record)
                self.policies[policy.account, policy.key] = policy
            elif kind == PROFILE:
                profile = InstanceProfile.from_record(record)
                self.profiles[profile.account, profile.key] = profile
            elif kind == USER:
                user = User.from_record(record)
                self.users[user.account, user.key] = user
            elif kind == GROUP:
                group = Group.from_record(record)
                self.groups[group.account, group.key] = group

    # -- lookups ----------------------------------------------------------------------------

    def role(self, account: str, name: str) -> Role:
        role = self.roles.get((account, name.lower()))
        if role is None:
            raise iam_error("NoSuchEntityException", f"The role with name {name} cannot be found.")
        return role

    def roles_of(self, account: str) -> list[Role]:
        return sorted((r for r in self.roles.values() if r.account == account), key=_by_key)

    def policy(self, account: str, arn: str) -> ManagedPolicy:
        """The customer managed policy `arn` names, in the caller's account."""
        policy = self.find_policy(account, arn)
        if policy is None:
            raise iam_error("NoSuchEntityException", f"Policy {arn} was not found.")
        return policy

    def find_policy(self, account: str, arn: str) -> ManagedPolicy | None:
        match = _POLICY_ARN.fullmatch(arn)
        if match is None:
            if AWS_POLICY_ARN.fullmatch(arn) is None and not arn.startswith("arn:aws:iam::"):
                raise validation("Invalid ARN:  Could not be parsed!")
            return None
        if match["account"] != account:
            return None
        policy = self.policies.get((account, match["name"].lower()))
        if policy is None or policy.arn != arn:
            return None
        return policy

    def check_attachable(self, account: str, arn: str) -> None:
        """That `arn` names a policy a role of `account` may attach (or take as boundary)."""
        if AWS_POLICY_ARN.fullmatch(arn) is not None:
            if known(arn):
                return
        elif self.find_policy(account, arn) is not None:
            return
        raise iam_error(
            "NoSuchEntityException", f"Policy {arn} does not exist or is not attachable."
        )

    def policies_of(self, account: str) -> list[ManagedPolicy]:
        return sorted((p for p in self.policies.values() if p.account == account), key=_by_key)

    def profile(self, account: str, name: str) -> InstanceProfile:
        profile = self.profiles.get((account, name.lower()))
        if profile is None:
            raise iam_error("NoSuchEntityException", f"Instance Profile {name} cannot be found.")
        return profile

    def profiles_of(self, account: str) -> list[InstanceProfile]:
        return sorted((p for p in self.profiles.values() if p.account == account), key=_by_key)

    def user(self, account: str, name: str) -> User:
        user = self.users.get((account, name.lower()))
        if user is None:
            raise iam_error("NoSuchEntityException", f"The user with name {name} cannot be found.")
        return user

    def users_of(self, account: str) -> list[User]:
        return sorted((u for u in self.users.values() if u.account == account), key=_by_key)

    def group(self, account: str, name: str) -> Group:
        group = self.groups.get((account, name.lower()))
        if group is None:
            raise iam_error("NoSuchEntityException", f"The group with name {name} cannot be found.")
        return group

    def groups_of(self, account: str) -> list[Group]:
        return sorted((g for g in self.groups.values() if g.account == account), key=_by_key)

    # -- durable writes ---------------------------------------------------------------------
    # Operations change an entity in memory, then save it. Should the commit fail, the entity
    # in memory is read back from the store, so memory never holds what the disk does not.

    def save_role(self, role: Role) -> None:
        self._save(self.roles, role, ROLE, Role.from_record)

    def drop_role(self, role: Role) -> None:
        self._drop(self.roles, role, ROLE, Role.from_record)

    def save_policy(self, policy: ManagedPolicy) -> None:
        self._save(self.policies, policy, POLICY, ManagedPolicy.from_record)

    def drop_policy(self, policy: ManagedPolicy) -> None:
        self._drop(self.policies, policy, POLICY, ManagedPolicy.from_record)

    def save_profile(self, profile: InstanceProfile) -> None:
        self._save(self.profiles, profile, PROFILE, InstanceProfile.from_record)

    def drop_profile(self, profile: InstanceProfile) -> None:
        self._drop(self.profiles, profile, PROFILE, InstanceProfile.from_record)

    def save_user(self, user: User) -> None:
        self._save(self.users, user, USER, User.from_record)

    def drop_user(self, user: User) -> None:
        self._drop(self.users, user, USER, User.from_record)

    def save_group(self, group: Group) -> None:
        self._save(self.groups, group, GROUP, Group.from_record)

    def drop_group(self, group: Group) -> None:
        self._drop(self.groups, group, GROUP, Group.from_record)

    def _save(
        self,
        table: dict[tuple[str, str], E],
        entity: E,
        kind: str,
        load: Callable[[dict[str, Any]], E],
    ) -> None:
        try:
            self.store.put(entity.account, kind, entity.key, entity.record())
        except BaseException:
            self._restore(table, entity, kind, load)
            raise
        table[entity.account, entity.key] = entity

    def _drop(
        self,
        table: dict[tuple[str, str], E],
        entity: E,
        kind: str,
        load: Callable[[dict[str, Any]], E],
    ) -> None:
        try:
            self.store.delete(entity.account, kind, entity.key)
        except BaseException:
            self._restore(table, entity, kind, load)
            raise
        table.pop((entity.account, entity.key), None)

    def _restore(
        self,
        table: dict[tuple[str, str], E],
        entity: E,
        kind: str,
        load: Callable[[dict[str, Any]], E],
    ) -> None:
        record = self.store.get(entity.account, kind, entity.key)
        if record is None:
            table.pop((entity.account, entity.key), None)
        else:
            table[entity.account, entity.key] = load(record)


def _by_key(entity: Role | ManagedPolicy | InstanceProfile | User | Group) -> str:
    return entity.key
