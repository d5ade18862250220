"""IAM managed policies: customer managed ones (created, versioned, tagged, deleted), AWS
managed ones (`arn:aws:iam::aws:policy/...`, known by ARN, `fireside.iam.aws_managed`), and
who holds them (attaching is each holder's operation: `roles.py`, `users.py`, `groups.py`).

A customer managed policy keeps up to five versions, one of them the default; its document
is checked (`fireside.iam.documents`) but never enforced. Attachment counts are the caller's
account's: an AWS managed policy shows how many of that account's roles attach it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.iam import aws_managed
from fireside.iam.documents import check_managed_policy, encoded
from fireside.iam.entities import (
    ManagedPolicy,
    PolicyVersion,
    Tags,
    check_name,
    check_path,
    check_tag_count,
    iam_error,
    new_id,
    page,
    stable_id,
    timestamp,
)
from fireside.iam.state import IamState

__all__ = ["PolicyApi"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

MAX_POLICIES: Final = 1500  # customer managed policies per account, AWS's default quota
MAX_VERSIONS: Final = 5
#: When AWS managed policies are said to be made (their real dates are not known here).
_AWS_CREATED: Final = datetime(2015, 2, 6, 18, 40, tzinfo=UTC)
_EMPTY_DOCUMENT: Final = '{"Version":"2012-10-17","Statement":[]}'


class PolicyApi:
    def __init__(self, state: IamState, clock: Callable[[], float] = time.time) -> None:
        self.state = state
        self._clock = clock

    def operations(self) -> dict[str, Operation]:
        return {
            "CreatePolicy": self.create_policy,
            "GetPolicy": self.get_policy,
            "DeletePolicy": self.delete_policy,
            "ListPolicies": self.list_policies,
            "CreatePolicyVersion": self.create_policy_version,
            "GetPolicyVersion": self.get_policy_version,
            "ListPolicyVersions": self.list_policy_versions,
            "DeletePolicyVersion": self.delete_policy_version,
            "SetDefaultPolicyVersion": self.set_default_policy_version,
            "TagPolicy": self.tag_policy,
            "UntagPolicy": self.untag_policy,
            "ListPolicyTags": self.list_policy_tags,
            "ListEntitiesForPolicy": self.list_entities_for_policy,
        }

    # -- views ------------------------------------------------------------------------------

    def _usage(self, account: str) -> tuple[Counter[str], Counter[str]]:
        """(attachments, boundary uses) of each policy ARN among `account`'s roles, users
        and groups."""
        attached: Counter[str] = Counter()
        bounded: Counter[str] = Counter()
        for role in self.state.roles_of(account):
            attached.update(role.attached)
            if role.boundary is not None:
                bounded[role.boundary] += 1
        for user in self.state.users_of(account):
            attached.update(user.attached)
        for group in self.state.groups_of(account):
            attached.update(group.attached)
        return attached, bounded

    def _view(
        self, account: str, arn: str, *, full: bool, usage: tuple[Counter[str], Counter[str]]
    ) -> dict[str, Any]:
        attached, bounded = usage
        policy = self.state.find_policy(account, arn)
        if policy is None:  # an AWS managed policy
            match = aws_managed.AWS_POLICY_ARN.fullmatch(arn)
            assert match is not None
            return {
                "PolicyName": match["name"],
                "PolicyId": stable_id("ANPA", arn),
                "Arn": arn,
                "Path": match["path"],
                "DefaultVersionId": "v1",
                "AttachmentCount": attached[arn],
                "PermissionsBoundaryUsageCount": bounded[arn],
                "IsAttachable": True,
                "CreateDate": _AWS_CREATED,
                "UpdateDate": _AWS_CREATED,
            }
        out: dict[str, Any] = {
            "PolicyName": policy.name,
            "PolicyId": policy.policy_id,
            "Arn": policy.arn,
            "Path": policy.path,
            "DefaultVersionId": policy.default_version,
            "AttachmentCount": attached[arn],
            "PermissionsBoundaryUsageCount": bounded[arn],
            "IsAttachable": True,
            "CreateDate": timestamp(policy.created),
            "UpdateDate": timestamp(policy.updated),
        }
        if full:
            if policy.description is not None:
                out["Description"] = policy.description
            if policy.tags:
                out["Tags"] = policy.tags.listed()
        return out

    def _any_policy(self, account: str, arn: str) -> None:
        """That `arn` is the caller's policy or an AWS managed one."""
        if self.state.find_policy(account, arn) is None and not aws_managed.known(arn):
            raise iam_error("NoSuchEntityException", f"Policy {arn} was not found.")

    # -- policies ---------------------------------------------------------------------------

    async def create_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        account = ctx.account_id
        name: str = params["PolicyName"]
        check_name(name, "policyName", 128)
        path: str = params.get("Path") or "/"
        check_path(path)
        document: str = params["PolicyDocument"]
        check_managed_policy(document)
        tags = Tags.given(params.get("Tags"))
        check_tag_count(tags)
        if (account, name.lower()) in self.state.policies:
            raise iam_error(
                "EntityAlreadyExistsException",
                f"A policy called {name} already exists. Duplicate names are not allowed.",
            )
        if sum(1 for key in self.state.policies if key[0] == account) >= MAX_POLICIES:
            raise iam_error(
                "LimitExceededException",
                f"Cannot exceed quota for PoliciesPerAccount: {MAX_POLICIES}",
            )
        now = self._clock()
        policy = ManagedPolicy(
            account,
            name,
            path,
            new_id("ANPA"),
            now,
            now,
            [PolicyVersion("v1", document, now)],
            description=params.get("Description"),
            tags=tags,
        )
        self.state.save_policy(policy)
        usage = self._usage(account)
        return {"Policy": self._view(account, policy.arn, full=True, usage=usage)}

    async def get_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        arn: str = params["PolicyArn"]
        self._any_policy(ctx.account_id, arn)
        usage = self._usage(ctx.account_id)
        return {"Policy": self._view(ctx.account_id, arn, full=True, usage=usage)}

    async def delete_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        policy = self.state.policy(ctx.account_id, params["PolicyArn"])
        attached, bounded = self._usage(ctx.account_id)
        if attached[policy.arn] or bounded[policy.arn]:
            raise iam_error(
                "DeleteConflictException", "Cannot delete a policy attached to entities."
            )
        if len(policy.versions) > 1:
            raise iam_error(
                "DeleteConflictException",
                "This policy has more than one version. Before you delete a policy, you must "
                "delete the policy's versions. The default version is deleted with the policy.",
            )
        self.state.drop_policy(policy)
        return {}

    async def list_policies(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        account = ctx.account_id
        scope: str = params.get("Scope") or "All"
        prefix: str = params.get("PathPrefix") or "/"
        usage = self._usage(account)
        attached, bounded = usage
        arns: list[str] = []
        if scope in ("All", "Local"):
            arns += [p.arn for p in self.state.policies_of(account) if p.path.startswith(prefix)]
        if scope in ("All", "AWS"):
            known = set(aws_managed.names()) | {a for a in attached if a.startswith(_AWS)}
            known |= {a for a in bounded if a.startswith(_AWS)}
            for arn in known:
                match = aws_managed.AWS_POLICY_ARN.fullmatch(arn)
                if match is not None and match["path"].startswith(prefix):
                    arns.append(arn)
        if params.get("OnlyAttached"):
            kind = params.get("PolicyUsageFilter")
            arns = [
                a
                for a in arns
                if (kind != "PermissionsBoundary" and attached[a])
                or (kind != "PermissionsPolicy" and bounded[a])
            ]
        shown, out = page(sorted(arns), lambda arn: arn, params)
        return {"Policies": [self._view(account, a, full=False, usage=usage) for a in shown], **out}

    # -- versions ---------------------------------------------------------------------------

    def _version(self, policy: ManagedPolicy, version_id: str) -> PolicyVersion:
        version = policy.version(version_id)
        if version is None:
            raise iam_error(
                "NoSuchEntityException",
                f"Policy {policy.arn} version {version_id} does not exist or is not attachable.",
            )
        return version

    async def create_policy_version(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        policy = self.state.policy(ctx.account_id, params["PolicyArn"])
        document: str = params["PolicyDocument"]
        check_managed_policy(document)
        if len(policy.versions) >= MAX_VERSIONS:
            raise iam_error(
                "LimitExceededException",
                f"A managed policy can have up to {MAX_VERSIONS} versions. Before you create a "
                "new version, you must delete an existing version.",
            )
        now = self._clock()
        version = PolicyVersion(f"v{policy.next_version}", document, now)
        policy.versions.append(version)
        policy.next_version += 1
        policy.updated = now
        if params.get("SetAsDefault"):
            policy.default_version = version.version_id
        self.state.save_policy(policy)
        return {"PolicyVersion": _version_view(policy, version, document=False)}

    async def get_policy_version(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        arn: str = params["PolicyArn"]
        version_id: str = params["VersionId"]
        policy = self.state.find_policy(ctx.account_id, arn)
        if policy is None and aws_managed.known(arn) and version_id == "v1":
            # The document of an AWS managed policy is not known here: none is enforced.
            return {
                "PolicyVersion": {
                    "Document": encoded(_EMPTY_DOCUMENT),
                    "VersionId": "v1",
                    "IsDefaultVersion": True,
                    "CreateDate": _AWS_CREATED,
                }
            }
        policy = self.state.policy(ctx.account_id, arn)
        version = self._version(policy, version_id)
        return {"PolicyVersion": _version_view(policy, version, document=True)}

    async def list_policy_versions(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        policy = self.state.policy(ctx.account_id, params["PolicyArn"])
        newest_first = sorted(policy.versions, key=lambda v: -int(v.version_id[1:]))
        numbered = [(f"{i:04d}", v) for i, v in enumerate(newest_first)]
        shown, out = page(numbered, lambda entry: entry[0], params)
        return {"Versions": [_version_view(policy, v, document=False) for _, v in shown], **out}

    async def delete_policy_version(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        policy = self.state.policy(ctx.account_id, params["PolicyArn"])
        version = self._version(policy, params["VersionId"])
        if version.version_id == policy.default_version:
            raise iam_error(
                "DeleteConflictException", "Cannot delete the default version of a policy."
            )
        policy.versions.remove(version)
        self.state.save_policy(policy)
        return {}

    async def set_default_policy_version(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        policy = self.state.policy(ctx.account_id, params["PolicyArn"])
        version = self._version(policy, params["VersionId"])
        policy.default_version = version.version_id
        policy.updated = self._clock()
        self.state.save_policy(policy)
        return {}

    # -- tags -------------------------------------------------------------------------------

    async def tag_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        policy = self.state.policy(ctx.account_id, params["PolicyArn"])
        policy.tags.merge(Tags.given(params["Tags"]), "Policy")
        self.state.save_policy(policy)
        return {}

    async def untag_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        policy = self.state.policy(ctx.account_id, params["PolicyArn"])
        policy.tags.remove(params["TagKeys"])
        self.state.save_policy(policy)
        return {}

    async def list_policy_tags(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        policy = self.state.policy(ctx.account_id, params["PolicyArn"])
        numbered = [(f"{i:04d}", tag) for i, tag in enumerate(policy.tags.listed())]
        shown, out = page(numbered, lambda entry: entry[0], params)
        return {"Tags": [tag for _, tag in shown], **out}

        # -- who holds a policy -----------------------------------------------------------------

    async def list_entities_for_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        account = ctx.account_id
        arn: str = params["PolicyArn"]
        self._any_policy(account, arn)
        kind = params.get("PolicyUsageFilter")
        prefix: str = params.get("PathPrefix") or "/"
        wanted = params.get("EntityFilter")
        found: list[tuple[str, str, dict[str, str]]] = []  # (kind, key, entry)
        if wanted in (None, "Role"):
            for role in self.state.roles_of(account):
                if role.path.startswith(prefix) and (
                    (kind != "PermissionsBoundary" and arn in role.attached)
                    or (kind != "PermissionsPolicy" and role.boundary == arn)
                ):
                    found.append(
                        ("Roles", role.key, {"RoleName": role.name, "RoleId": role.role_id})
                    )
        if kind != "PermissionsBoundary" and wanted in (None, "User"):
            for user in self.state.users_of(account):
                if user.path.startswith(prefix) and arn in user.attached:
                    found.append(
                        ("Users", user.key, {"UserName": user.name, "UserId": user.user_id})
                    )
        if kind != "PermissionsBoundary" and wanted in (None, "Group"):
            for group in self.state.groups_of(account):
                if group.path.startswith(prefix) and arn in group.attached:
                    entry = {"GroupName": group.name, "GroupId": group.group_id}
                    found.append(("Groups", group.key, entry))
        # One listing across the three kinds: groups, then roles, then users, each by name.
        found.sort(key=lambda entity: (entity[0], entity[1]))
        shown, out = page(found, lambda entity: f"{entity[0]}/{entity[1]}", params)
        return {
            "PolicyGroups": [entry for kind_, _, entry in shown if kind_ == "Groups"],
            "PolicyUsers": [entry for kind_, _, entry in shown if kind_ == "Users"],
            "PolicyRoles": [entry for kind_, _, entry in shown if kind_ == "Roles"],
            **out,
        }


_AWS: Final = "arn:aws:iam::aws:policy/"


def _version_view(
    policy: ManagedPolicy, version: PolicyVersion, *, document: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "VersionId": version.version_id,
        "IsDefaultVersion": version.version_id == policy.default_version,
        "CreateDate": timestamp(version.created),
    }
    if document:
        out["Document"] = encoded(version.document)
    return out
