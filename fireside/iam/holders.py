"""What users and groups share with roles: inline policies within an aggregate size, and
attached managed policies within a count, answered in AWS's words for each kind of holder.
"""

from __future__ import annotations

from typing import Any, Final, Protocol

from fireside.iam.documents import check_identity_policy, encoded, size
from fireside.iam.entities import check_name, iam_error, page
from fireside.iam.state import IamState

__all__ = ["Holder", "attach", "attached_page", "detach", "inline_document", "put_inline"]

#: AWS's default quotas: all of a holder's inline policies together, in characters.
INLINE_QUOTA: Final = {"user": 2048, "group": 5120}
MAX_ATTACHED: Final = 10


class Holder(Protocol):
    name: str
    inline: dict[str, str]
    attached: list[str]


def put_inline(holder: Holder, params: dict[str, Any], kind: str) -> None:
    name: str = params["PolicyName"]
    check_name(name, "policyName", 128)
    document: str = params["PolicyDocument"]
    check_identity_policy(document)
    quota = INLINE_QUOTA[kind]
    others = sum(size(doc) for other, doc in holder.inline.items() if other != name)
    if others + size(document) > quota:
        raise iam_error(
            "LimitExceededException",
            f"Maximum policy size of {quota} bytes exceeded for {kind} {holder.name}",
        )
    holder.inline[name] = document


def inline_document(holder: Holder, name: str, kind: str) -> str:
    document = holder.inline.get(name)
    if document is None:
        raise iam_error(
            "NoSuchEntityException", f"The {kind} policy with name {name} cannot be found."
        )
    return document


def inline_answer(holder: Holder, name: str, kind: str) -> dict[str, Any]:
    document = inline_document(holder, name, kind)
    return {
        f"{kind.title()}Name": holder.name,
        "PolicyName": name,
        "PolicyDocument": encoded(document),
    }


def attach(state: IamState, account: str, holder: Holder, arn: str, kind: str) -> bool:
    """Attach `arn`; False if it already was (nothing to save)."""
    state.check_attachable(account, arn)
    if arn in holder.attached:
        return False
    if len(holder.attached) >= MAX_ATTACHED:
        raise iam_error(
            "LimitExceededException",
            f"Cannot exceed quota for PoliciesPer{kind.title()}: {MAX_ATTACHED}",
        )
    holder.attached.append(arn)
    return True


def detach(state: IamState, account: str, holder: Holder, arn: str) -> None:
    if arn not in holder.attached:
        state.find_policy(account, arn)  # a malformed ARN's own error first
        raise iam_error("NoSuchEntityException", f"Policy {arn} was not found.")
    holder.attached.remove(arn)


def attached_page(holder: Holder, params: dict[str, Any]) -> dict[str, Any]:
    prefix: str = params.get("PathPrefix") or "/"
    listed = []
    for arn in holder.attached:
        path, _, name = arn.partition(":policy")[2].rpartition("/")
        if (path + "/").startswith(prefix):
            listed.append({"PolicyName": name, "PolicyArn": arn})
    shown, out = page(sorted(listed, key=_arn), _arn, params)
    return {"AttachedPolicies": shown, **out}


def _arn(attached: dict[str, str]) -> str:
    return attached["PolicyArn"]
