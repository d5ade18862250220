"""Lambda resource-based policies: which document applies to an invoke, and whether it allows it.

A function has up to one policy document per qualifier: the function itself (unqualified, keyed
`$LATEST` here), each published version, each alias. AddPermission appends statements in AWS's
format (`fireside.compute.policy_api`); this module stores the documents (the metadata store's
`function_policies` table behind an in-memory map, like event invoke configurations) and
evaluates them.

Which document an invoke is judged by, as AWS documents it ("Versioning, aliases and resource
policies", and AddPermission's `Qualifier`): a permission applies only to the ARN it was added
to. Invoking `fn:PROD` is judged by alias `PROD`'s document, not by the version `PROD` points
at, nor by the function's; invoking `fn:3` by version 3's; invoking `fn` (or `fn:$LATEST`, the
same configuration: AWS refuses to add policies to `$LATEST` itself) by the unqualified one.

Evaluation (`allows`) follows IAM's rules for the parts a Lambda policy uses: a matching `Deny`
wins; otherwise a matching `Allow` allows; otherwise the answer is no. A statement matches when
its `Principal`, `Action` (and `Resource`, when asked) match and every condition holds (the
operators ANDed, the keys of one operator ANDed, the values of one key ORed). Condition keys are
compared case-insensitively, as IAM does. Fireside has no organizations, so a statement with an
`aws:PrincipalOrgID` condition never matches, the safe reading of a caller outside every
organization.

The front doors and the async queue ask through `Policies`:

- `allows_api_gateway(account, region, function, qualifier, source_arn=...)`: may API Gateway
  (`apigateway.amazonaws.com`), calling from the `execute-api` ARN given, invoke?
- `allows_function_url(account, region, function, qualifier, auth_type=..., caller_account=...)`:
  may a Function URL request invoke? AWS's model since October 2025: both
  `lambda:InvokeFunctionUrl` (with `lambda:FunctionUrlAuthType`) and `lambda:InvokeFunction`
  (with `lambda:InvokedViaFunctionUrl` true) must be allowed;
- `allows_invoke(...)`: the general question, any principal, action and context.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fireside.compute.functions import LATEST, new_revision
from fireside.compute.versions import Versions
from fireside.store.database import Database

__all__ = ["POLICY_LIMIT", "Policies", "Policy", "allows", "compact"]

PolicyKey = tuple[str, str, str, str]  # (account, region, function, qualifier or $LATEST)
Statement = dict[str, Any]

#: AWS's cap on one document, measured as the compact JSON GetPolicy returns.
POLICY_LIMIT = 20_480
INVOKE = "lambda:InvokeFunction"
INVOKE_URL = "lambda:InvokeFunctionUrl"
API_GATEWAY = "apigateway.amazonaws.com"
_ACCOUNT_ROOT = re.compile(r"^arn:aws[a-zA-Z-]*:iam::(\d{12}):root$")


def compact(value: Any) -> str:
    """JSON the way Lambda returns policies and statements: no spaces."""
    return json.dumps(value, separators=(",", ":"))


# -- evaluation ------------------------------------------------------------------------------------
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


def allows(
    statements: Iterable[Statement],
    *,
    action: str,
    principal_service: str | None = None,
    principal_account: str | None = None,
    principal_arn: str | None = None,
    resource: str | None = None,
    source_arn: str | None = None,
    source_account: str | None = None,
    url_auth_type: str | None = None,
    via_function_url: bool = False,
    event_source_token: str | None = None,
) -> bool:
    """Whether `statements` (a policy document's `Statement` list) allow `action` to the
    principal described: an AWS service (`principal_service`, e.g. `apigateway.amazonaws.com`),
    an account (`principal_account`: any principal of it; an account root ARN grants it), an
    IAM principal (`principal_arn`), or an anonymous caller (none of them: only `"*"` matches).

    `action` is matched with IAM's wildcards, case-insensitively (`lambda:*`, `*`);
    `resource`, when given, against each statement's `Resource`. The request context holds
    `aws:SourceArn`, `aws:SourceAccount`, `lambda:FunctionUrlAuthType`,
    `lambda:InvokedViaFunctionUrl` ("true" / "false") and `lambda:EventSourceToken`, each
    only when known."""
    context = {
        "aws:sourcearn": source_arn,
        "aws:sourceaccount": source_account,
        "lambda:functionurlauthtype": url_auth_type,
        "lambda:invokedviafunctionurl": "true" if via_function_url else "false",
        "lambda:eventsourcetoken": event_source_token,
    }
    known = {key: value for key, value in context.items() if value is not None}
    allowed = False
    for statement in statements:
        if not isinstance(statement, dict):
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


# -- the documents ---------------------------------------------------------------------------------
@dataclass(slots=True)
class Policy:
    """One document: the statements added to one function, version or alias."""

    account: str
    region: str
    function: str
    qualifier: str  # $LATEST for the function itself
    revision_id: str = field(default_factory=new_revision)
    statements: list[Statement] = field(default_factory=list)

    @property
    def key(self) -> PolicyKey:
        return (self.account, self.region, self.function, self.qualifier)

    @property
    def resource_arn(self) -> str:
        """The ARN its statements name: unqualified for the function itself."""
        arn = f"arn:aws:lambda:{self.region}:{self.account}:function:{self.function}"
        return arn if self.qualifier == LATEST else f"{arn}:{self.qualifier}"

    def document(self, statements: list[Statement] | None = None) -> dict[str, Any]:
        return {
            "Version": "2012-10-17",
            "Id": "default",
            "Statement": self.statements if statements is None else statements,
        }

    def to_wire(self) -> dict[str, Any]:
        return {"Policy": compact(self.document()), "RevisionId": self.revision_id}


def _qualifier(qualifier: str | None) -> str:
    return LATEST if qualifier in (None, "") else str(qualifier)


class Policies:
    """Every function's policy documents, and the questions front doors ask of them."""

    def __init__(self, db: Database, versions: Versions) -> None:
        self._db = db
        self._versions = versions
        self._policies: dict[PolicyKey, Policy] = {}
        for account, region, function, qualifier, text in db.query(
            "SELECT account, region, function, qualifier, record FROM function_policies"
        ):
            record = json.loads(str(text))
            policy = Policy(
                str(account),
                str(region),
                str(function),
                str(qualifier),
                record["revision_id"],
                record["statements"],
            )
            self._policies[policy.key] = policy
        # A crash between deleting a function (version, alias) and its policy leaves one
        # behind: it must not open a new function of that name.
        for policy in [p for p in self._policies.values() if not versions.exists(*p.key)]:
            self.delete(policy)

    # -- the store -------------------------------------------------------------------------------
    def get(self, account: str, region: str, function: str, qualifier: str | None) -> Policy | None:
        return self._policies.get((account, region, function, _qualifier(qualifier)))

    def put(self, policy: Policy) -> None:
        record = {"revision_id": policy.revision_id, "statements": policy.statements}
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO function_policies (account, region, function, "
                "qualifier, record) VALUES (?, ?, ?, ?, ?)",
                (*policy.key, json.dumps(record)),
            )
        self._policies[policy.key] = policy

    def delete(self, policy: Policy) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "DELETE FROM function_policies WHERE account = ? AND region = ? "
                "AND function = ? AND qualifier = ?",
                policy.key,
            )
        self._policies.pop(policy.key, None)

    def forget(self, account: str, region: str, function: str, qualifier: str) -> None:
        """A version or alias was deleted: its policy goes with it."""
        policy = self.get(account, region, function, qualifier)
        if policy is not None:
            self.delete(policy)

    def forget_function(self, account: str, region: str, function: str) -> None:
        """The function was deleted: every policy of it goes with it."""
        for policy in [
            p for p in self._policies.values() if p.key[:3] == (account, region, function)
        ]:
            self.delete(policy)

    # -- the questions ---------------------------------------------------------------------------
    def allows_invoke(
        self,
        account: str,
        region: str,
        function: str,
        qualifier: str | None,
        *,
        action: str = INVOKE,
        principal_service: str | None = None,
        principal_account: str | None = None,
        source_arn: str | None = None,
        source_account: str | None = None,
        url_auth_type: str | None = None,
        via_function_url: bool = False,
    ) -> bool:
        """Whether the document of `function` (`qualifier`: None or `$LATEST` for the
        function itself, else a version or alias, exactly as invoked) allows `action`.

        A principal of the function's own account is allowed without a statement: Fireside
        has no identity policies, and every credential of an account acts for all of it,
        which AWS allows through the identity policy of an administrator. Services and
        anonymous callers always need a statement."""
        if principal_service is None and principal_account == account:
            return True
        policy = self.get(account, region, function, qualifier)
        if policy is None:
            return False
        return allows(
            policy.statements,
            action=action,
            principal_service=principal_service,
            principal_account=principal_account,
            source_arn=source_arn,
            source_account=source_account,
            url_auth_type=url_auth_type,
            via_function_url=via_function_url,
        )

    def allows_api_gateway(
        self,
        account: str,
        region: str,
        function: str,
        qualifier: str | None,
        *,
        source_arn: str,
        source_account: str | None = None,
    ) -> bool:
        """Whether API Gateway may invoke the function for the API method whose `execute-api`
        ARN is `source_arn` (`arn:aws:execute-api:<region>:<account>:<api-id>/<stage>/<METHOD>
        /<path>`); `source_account` is the API's account (default: the function's)."""
        return self.allows_invoke(
            account,
            region,
            function,
            qualifier,
            principal_service=API_GATEWAY,
            source_arn=source_arn,
            source_account=source_account or account,
        )

    def allows_function_url(
        self,
        account: str,
        region: str,
        function: str,
        qualifier: str | None,
        *,
        auth_type: str,
        caller_account: str | None = None,
    ) -> bool:
        """Whether a request to the function's URL (`qualifier`: None, or the alias the URL
        is for) may invoke it: `lambda:InvokeFunctionUrl` with `lambda:FunctionUrlAuthType`
        = `auth_type`, and `lambda:InvokeFunction` with `lambda:InvokedViaFunctionUrl`.

        `caller_account` is the SigV4-verified account of an `AWS_IAM` request (its own
        account's callers need no statement); for `NONE`, pass None: the caller is anonymous,
        so only a statement with `Principal` `"*"` lets it in, as on AWS."""
        return all(
            self.allows_invoke(
                account,
                region,
                function,
                qualifier,
                action=action,
                principal_account=caller_account,
                url_auth_type=auth_type,
                via_function_url=True,
            )
            for action in (INVOKE_URL, INVOKE)
        )
