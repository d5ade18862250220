"""IAM resource-based policies: whether a document's statements allow an action.

One evaluator for every resource policy Fireside stores: Lambda function policies
(`fireside.compute.policies`), SQS queue policies, SNS topic policies and EventBridge bus
policies. It follows IAM's rules for the parts resource policies use: a matching `Deny` wins;
otherwise a matching `Allow` allows; otherwise the answer is no. A statement matches when its
`Principal`, `Action` (and `Resource`, when asked) match and every condition holds (the
operators ANDed, the keys of one operator ANDed, the values of one key ORed). Condition keys
are compared case-insensitively, as IAM does. Fireside has no organizations, so a statement
with an `aws:PrincipalOrgID` condition never matches, the safe reading of a caller outside
every organization. `NotPrincipal`, `NotAction` and `NotResource` are not evaluated: a
statement using them never matches (never grants).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["Statement", "allows", "statements_of"]

Statement = dict[str, Any]
_ACCOUNT_ROOT = re.compile(r"^arn:aws[a-zA-Z-]*:iam::(\d{12}):root$")


# -- matching ------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=4096)  # every front-door request matches the same few patterns
def _wildcard(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """IAM's wildcards: `*` any run of characters, `?` any one; nothing else is special."""
    body = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.compile(f"^{body}$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _like(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return bool(_wildcard(pattern, ignore_case=ignore_case).match(value))


def _arn_like(pattern: str, value: str) -> bool:
    """IAM's ArnLike / ArnEquals: each of the six colon-separated parts is matched on its own
    (wildcards do not cross a part), the sixth being the rest of the ARN."""
    wanted, given = pattern.split(":", 5), value.split(":", 5)
    if len(wanted) != 6 or len(given) != 6:
        return False
    return all(_like(w, g) for w, g in zip(wanted, given, strict=True))


def _values(value: Any) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [str(item).lower() if isinstance(item, bool) else str(item) for item in items]


Compare = Callable[[str, str], bool]  # (policy value, request value)
_COMPARE: dict[str, Compare] = {
    "stringequals": lambda want, got: want == got,
    "stringequalsignorecase": lambda want, got: want.lower() == got.lower(),
    "stringlike": _like,
    "arnequals": _arn_like,
    "arnlike": _arn_like,
    "bool": lambda want, got: want.lower() == got.lower(),
}
_NEGATED = {
    "stringnotequals": "stringequals",
    "stringnotequalsignorecase": "stringequalsignorecase",
    "stringnotlike": "stringlike",
    "arnnotequals": "arnequals",
    "arnnotlike": "arnlike",
}


def _condition_holds(operator: str, key: str, wanted: Any, context: Mapping[str, str]) -> bool:
    op = operator.lower()
    if_exists = op.endswith("ifexists")
    if if_exists:
        op = op.removesuffix("ifexists")
    got = context.get(key.lower())
    if op == "null":  # "true": the key must be absent
        return any((v.lower() == "true") == (got is None) for v in _values(wanted))
    if got is None and if_exists:
        return True
    negated = op in _NEGATED
    compare = _COMPARE.get(_NEGATED.get(op, op))
    if compare is None:
        return False  # an operator Fireside does not know never grants anything
    if got is None:
        return negated  # IAM: a missing key fails a positive test, passes a negated one
    matched = any(compare(want, got) for want in _values(wanted))
    return not matched if negated else matched


def _conditions_hold(conditions: Any, context: Mapping[str, str]) -> bool:
    if not conditions:
        return True
    if not isinstance(conditions, dict):
        return False
    return all(
        isinstance(keys, dict)
        and all(_condition_holds(op, key, wanted, context) for key, wanted in keys.items())
        for op, keys in conditions.items()
    )


def _principal_matches(
    principal: Any,
    service: str | None,
    account: str | None,
    arn: str | None,
) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    for kind, listed in principal.items():
        for value in _values(listed):
            if kind == "Service" and service is not None and value == service:
                return True
            if kind != "AWS":
                continue
            if value == "*":
                return True
            root = _ACCOUNT_ROOT.match(value)
            named = root[1] if root else value if re.fullmatch(r"\d{12}", value) else None
            if named is not None and account is not None and named == account:
                return True  # an account's root stands for every principal of the account
            if arn is not None and value == arn:
                return True
    return False


def _matches_any(patterns: Any, value: str, *, ignore_case: bool) -> bool:
    return any(_like(p, value, ignore_case=ignore_case) for p in _values(patterns))


def statements_of(document: Any) -> list[Statement]:
    """The statements of a parsed policy document (a single statement object counts as one)."""
    if not isinstance(document, dict):
        return []
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        return [statements]
    return [s for s in statements if isinstance(s, dict)] if isinstance(statements, list) else []


def allows(
    statements: Iterable[Statement],
    *,
    action: str,
    principal_service: str | None = None,
    principal_account: str | None = None,
    principal_arn: str | None = None,
    resource: str | None = None,
    context: Mapping[str, str | None] | None = None,
) -> bool:
    """Whether `statements` (a policy document's `Statement` list) allow `action` to the
    principal described: an AWS service (`principal_service`, e.g. `sns.amazonaws.com`),
    an account (`principal_account`: any principal of it; an account root ARN grants it), an
    IAM principal (`principal_arn`), or an anonymous caller (none of them: only `"*"` matches).

    `action` is matched with IAM's wildcards, case-insensitively (`sqs:*`, `*`);
    `resource`, when given, against each statement's `Resource`. `context` holds the request's
    condition keys (`aws:SourceArn`, `aws:SourceAccount`, ...); keys whose value is None are
    unknown to the request."""
    known = {key.lower(): value for key, value in (context or {}).items() if value is not None}
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict):
            continue
        if any(key in statement for key in ("NotPrincipal", "NotAction", "NotResource")):
            continue
        if not _principal_matches(
            statement.get("Principal"), principal_service, principal_account, principal_arn
        ):
            continue
        if not _matches_any(statement.get("Action", []), action, ignore_case=True):
            continue
        if resource is not None and not _matches_any(
            statement.get("Resource", []), resource, ignore_case=False
        ):
            continue
        if not _conditions_hold(statement.get("Condition"), known):
            continue
        if statement.get("Effect") == "Deny":
            return False  # an explicit deny wins over every allow
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed
