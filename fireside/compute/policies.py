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

Evaluation is `fireside.resource_policy`'s, with Lambda's condition keys (`allows` here).

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

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from fireside import resource_policy
from fireside.compute.functions import LATEST, new_revision
from fireside.compute.versions import Versions
from fireside.resource_policy import Statement
from fireside.store.database import Database

__all__ = ["POLICY_LIMIT", "Policies", "Policy", "allows", "compact"]

PolicyKey = tuple[str, str, str, str]  # (account, region, function, qualifier or $LATEST)

#: AWS's cap on one document, measured as the compact JSON GetPolicy returns.
POLICY_LIMIT = 20_480
INVOKE = "lambda:InvokeFunction"
INVOKE_URL = "lambda:InvokeFunctionUrl"
API_GATEWAY = "apigateway.amazonaws.com"


def compact(value: Any) -> str:
    """JSON the way Lambda returns policies and statements: no spaces."""
    return json.dumps(value, separators=(",", ":"))


# -- evaluation ------------------------------------------------------------------------------------
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
    """`fireside.resource_policy.allows` with Lambda's request context: `aws:SourceArn`,
    `aws:SourceAccount`, `lambda:FunctionUrlAuthType`, `lambda:InvokedViaFunctionUrl`
    ("true" / "false") and `lambda:EventSourceToken`, each only when known."""
    return resource_policy.allows(
        statements,
        action=action,
        principal_service=principal_service,
        principal_account=principal_account,
        principal_arn=principal_arn,
        resource=resource,
        context={
            "aws:SourceArn": source_arn,
            "aws:SourceAccount": source_account,
            "lambda:FunctionUrlAuthType": url_auth_type,
            "lambda:InvokedViaFunctionUrl": "true" if via_function_url else "false",
            "lambda:EventSourceToken": event_source_token,
        },
    )


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
