"""Policy documents: the checks IAM makes before storing one, and how it hands them back.

Fireside stores policies and returns them; it does not enforce them (resource policies of
other services are judged by `fireside.resource_policy`). So the checks here are the ones a
deploy tool meets first: the text is JSON, shaped as a policy (`Version`, `Statement` with
`Effect` and `Action`, `Resource` where an identity policy needs one, no `Resource` in a
trust policy), within AWS's size quotas, answered with IAM's `MalformedPolicyDocument` and
`LimitExceeded` messages. IAM does not count white space against the quotas.

Every document IAM answers with (trust policies, inline and managed policy versions) is
URL-encoded JSON on the wire; botocore decodes it back into a dict.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final
from urllib.parse import quote

from fireside.aws.errors import ServiceError
from fireside.iam.entities import iam_error

__all__ = [
    "INLINE_ROLE_QUOTA",
    "MANAGED_QUOTA",
    "TRUST_QUOTA",
    "check_identity_policy",
    "check_trust_policy",
    "encoded",
    "size",
]

#: AWS's default quotas, in characters without white space.
TRUST_QUOTA: Final = 2048
INLINE_ROLE_QUOTA: Final = 10240
MANAGED_QUOTA: Final = 6144
_VERSIONS: Final = frozenset({"2012-10-17", "2008-10-17"})
_STATEMENT_KEYS: Final = frozenset(
    {
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
    }
)
_WHITE: Final = re.compile(r"\s+")
_SID: Final = re.compile(r"[0-9A-Za-z]*")


def _malformed(message: str) -> ServiceError:
    return iam_error("MalformedPolicyDocumentException", message)


def encoded(document: str) -> str:
    """A document as IAM's answers carry it: URL-encoded (botocore unquotes and parses it)."""
    return quote(document, safe="")


def size(document: str) -> int:
    return len(_WHITE.sub("", document))


def _statements(document: str) -> list[dict[str, Any]]:
    try:
        parsed = json.loads(document)
    except ValueError:
        raise _malformed("This policy contains invalid Json") from None
    if not isinstance(parsed, dict) or "Statement" not in parsed:
        raise _malformed("Syntax errors in policy.")
    if set(parsed) - {"Version", "Id", "Statement"}:
        raise _malformed("Syntax errors in policy.")
    if "Version" in parsed and parsed["Version"] not in _VERSIONS:
        raise _malformed("Policy document must be version 2012-10-17 or greater.")
    statement = parsed["Statement"]
    statements = statement if isinstance(statement, list) else [statement]
    sids: set[str] = set()
    for each in statements:
        if not isinstance(each, dict) or set(each) - _STATEMENT_KEYS:
            raise _malformed("Syntax errors in policy.")
        if each.get("Effect") not in ("Allow", "Deny"):
            raise _malformed("Syntax errors in policy.")
        sid = each.get("Sid")
        if sid is not None:
            if not isinstance(sid, str):
                raise _malformed("Syntax errors in policy.")
            if not _SID.fullmatch(sid):
                raise _malformed(
                    "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies "
                    "the regular expression [0-9A-Za-z]*"
                )
            if sid in sids:
                raise _malformed("Statement IDs (SID) in a single policy must be unique.")
            sids.add(sid)
        if "Action" not in each and "NotAction" not in each:
            raise _malformed("Policy statement must contain actions.")
        for key in ("Action", "NotAction"):
            _check_actions(each.get(key))
    return statements


def _check_actions(actions: Any) -> None:
    if actions is None:
        return
    for action in actions if isinstance(actions, list) else [actions]:
        if not isinstance(action, str):
            raise _malformed("Syntax errors in policy.")
        if action != "*" and ":" not in action:
            raise _malformed(
                "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
            )
        if action.count(":") > 1:
            raise _malformed("Actions/Condition can contain only one colon.")


def check_identity_policy(document: str) -> None:
    """An inline or managed (permissions) policy."""
    for statement in _statements(document):
        if "Principal" in statement or "NotPrincipal" in statement:
            raise _malformed("Policy document should not specify a principal.")
        if "Resource" not in statement and "NotResource" not in statement:
            raise _malformed("Policy statement must contain resources.")


def check_trust_policy(document: str) -> None:
    """A role's trust (assume-role) policy, within its 2,048-character quota."""
    for statement in _statements(document):
        if "Resource" in statement or "NotResource" in statement:
            raise _malformed("Has prohibited field Resource.")
    if size(document) > TRUST_QUOTA:
        raise iam_error(
            "LimitExceededException", f"Cannot exceed quota for ACLSizePerRole: {TRUST_QUOTA}"
        )


def check_managed_policy(document: str) -> None:
    check_identity_policy(document)
    if size(document) > MANAGED_QUOTA:
        raise iam_error(
            "LimitExceededException", f"Cannot exceed quota for PolicySize: {MANAGED_QUOTA}"
        )
