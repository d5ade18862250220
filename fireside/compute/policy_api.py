"""AddPermission, RemovePermission and GetPolicy: a function's resource-based policy, per
function, version or alias (`Qualifier`), in AWS's statement format and with its errors.

Formats and messages follow AWS's answers as LocalStack recorded them
(`tests/aws/services/lambda_/test_lambda_api.snapshot.json`, TestLambdaPermissions):

- a statement is `{"Sid", "Effect": "Allow", "Principal", "Action", "Resource", "Condition"}`,
  in that order; `Principal` is `{"Service": ...}` for a service (`*.amazonaws.com`),
  `{"AWS": "arn:aws:iam::<id>:root"}` for an account id, `{"AWS": <arn>}` for an IAM ARN, or
  `"*"`; `Resource` is the function's ARN, qualified by the version or alias;
- conditions: `StringEquals` holds `AWS:SourceAccount`, `lambda:FunctionUrlAuthType`,
  `aws:PrincipalOrgID` and `lambda:EventSourceToken`; `Bool` holds
  `lambda:InvokedViaFunctionUrl`; `ArnLike` holds `AWS:SourceArn`;
- AWS refuses policies on `$LATEST` itself; GetPolicy answers "The resource you requested does
  not exist." for a missing function, version, alias or policy alike.

RevisionId: a document has its own, renewed by every change. Before a document's first
statement, the RevisionId to pass is the function's (or version's, or alias's) own, from
GetFunction or GetAlias, which AWS's refusal tells the caller to call.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.compute.errors import invalid, lambda_error, precondition_failed
from fireside.compute.functions import LATEST
from fireside.compute.policies import POLICY_LIMIT, Policies, Policy, compact
from fireside.compute.registry import not_found, parse_function_name
from fireside.compute.versions import Versions, alias_not_found, is_version
from fireside.resource_policy import Statement

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]
_IAM_ARN = re.compile(r"^arn:aws[a-zA-Z-]*:iam::\d{12}:\S+$")
_ACCOUNT = re.compile(r"^\d{12}$")


def _missing(message: str) -> ServiceError:
    return lambda_error("ResourceNotFoundException", message, Type="User")


def principal_of(principal: str) -> str | dict[str, str]:
    """A statement's `Principal` from AddPermission's."""
    if principal == "*":
        return "*"
    if principal.endswith(".amazonaws.com"):
        return {"Service": principal}
    if _ACCOUNT.match(principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if _IAM_ARN.match(principal):
        return {"AWS": principal}
    raise invalid("The provided principal was invalid. Please check the principal and try again.")


def statement_of(params: dict[str, Any], resource: str) -> Statement:
    """The statement AddPermission's `params` describe, in AWS's key order."""
    statement: Statement = {
        "Sid": params["StatementId"],
        "Effect": "Allow",
        "Principal": principal_of(params["Principal"]),
        "Action": params["Action"],
        "Resource": resource,
    }
    equals: dict[str, str] = {}
    if params.get("SourceAccount"):
        equals["AWS:SourceAccount"] = params["SourceAccount"]
    if params.get("FunctionUrlAuthType"):
        equals["lambda:FunctionUrlAuthType"] = params["FunctionUrlAuthType"]
    if params.get("PrincipalOrgID"):
        equals["aws:PrincipalOrgID"] = params["PrincipalOrgID"]
    if params.get("EventSourceToken"):
        equals["lambda:EventSourceToken"] = params["EventSourceToken"]
    condition: dict[str, dict[str, str]] = {}
    if equals:
        condition["StringEquals"] = equals
    if params.get("InvokedViaFunctionUrl"):
        condition["Bool"] = {"lambda:InvokedViaFunctionUrl": "true"}
    if params.get("SourceArn"):
        condition["ArnLike"] = {"AWS:SourceArn": params["SourceArn"]}
    if condition:
        statement["Condition"] = condition
    return statement


class PolicyApi:
    def __init__(self, policies: Policies, versions: Versions) -> None:
        self._policies = policies
        self._versions = versions

    def operations(self) -> dict[str, Operation]:
        return {
            "AddPermission": self.add_permission,
            "RemovePermission": self.remove_permission,
            "GetPolicy": self.get_policy,
        }

    # -- helpers -------------------------------------------------------------------------------
    def _resource_revision(
        self, ctx: RequestContext, name: str, qualifier: str | None
    ) -> tuple[str, str]:
        """(qualifier or $LATEST, RevisionId) of the function, version or alias named, which
        must exist; raises AWS's not-found errors, which name the qualifier asked for."""
        # An alias name cannot hold `$`: AWS calls such a qualifier a missing function.
        missing = not_found if qualifier and "$" in qualifier else alias_not_found
        config, alias = self._versions.resolve(
            ctx.account_id, ctx.region, name, qualifier, missing_alias=missing
        )
        if alias is not None:
            return alias.name, alias.revision_id
        return (LATEST if qualifier is None else qualifier), config.revision_id

    # -- operations ----------------------------------------------------------------------------
    async def add_permission(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, qualifier = parse_function_name(
            params["FunctionName"], ctx.account_id, ctx.region, params.get("Qualifier")
        )
        if qualifier == LATEST:
            raise invalid("We currently do not support adding policies for $LATEST.")
        key, resource_revision = self._resource_revision(ctx, name, qualifier)
        policy = self._policies.get(ctx.account_id, ctx.region, name, key)
        if policy is None:
            policy = Policy(ctx.account_id, ctx.region, name, key)
        revision = params.get("RevisionId")
        current = policy.revision_id if policy.statements else resource_revision
        if revision is not None and revision != current:
            is_alias = key != LATEST and not is_version(key)
            raise precondition_failed("GetPolicy" if is_alias else "GetFunction/GetAlias")
        sid = params["StatementId"]
        if any(s.get("Sid") == sid for s in policy.statements):
            raise lambda_error(
                "ResourceConflictException",
                f"The statement id ({sid}) provided already exists. Please provide a new "
                "statement id, or remove the existing statement.",
                Type="User",
            )
        statement = statement_of(params, policy.resource_arn)
        statements = [*policy.statements, statement]
        size = len(compact(policy.document(statements)))
        if size > POLICY_LIMIT:
            raise lambda_error(
                "PolicyLengthExceededException",
                f"The final policy size ({size}) is bigger than the limit ({POLICY_LIMIT}).",
                Type="User",
            )
        self._policies.put(Policy(ctx.account_id, ctx.region, name, key, statements=statements))
        return {"Statement": compact(statement)}

    async def remove_permission(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        name, qualifier = parse_function_name(
            params["FunctionName"], ctx.account_id, ctx.region, params.get("Qualifier")
        )
        if self._versions.functions.get(ctx.account_id, ctx.region, name) is None:
            raise _missing(
                f"No policy found for: arn:aws:lambda:{ctx.region}:{ctx.account_id}:function:{name}"
            )
        key, _ = self._resource_revision(ctx, name, qualifier)
        policy = self._policies.get(ctx.account_id, ctx.region, name, key)
        if policy is None or not policy.statements:
            raise _missing("No policy is associated with the given resource.")
        sid = params["StatementId"]
        kept = [s for s in policy.statements if s.get("Sid") != sid]
        if len(kept) == len(policy.statements):
            raise _missing(f"Statement {sid} is not found in resource policy.")
        revision = params.get("RevisionId")
        if revision is not None and revision != policy.revision_id:
            raise precondition_failed()
        if kept:
            self._policies.put(Policy(ctx.account_id, ctx.region, name, key, statements=kept))
        else:  # the last statement takes the document with it
            self._policies.delete(policy)
        return {}

    async def get_policy(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name, qualifier = parse_function_name(
            params["FunctionName"], ctx.account_id, ctx.region, params.get("Qualifier")
        )
        try:
            key, _ = self._resource_revision(ctx, name, qualifier)
        except ServiceError as exc:
            if exc.code != "ResourceNotFoundException":
                raise
            raise _missing("The resource you requested does not exist.") from exc
        policy = self._policies.get(ctx.account_id, ctx.region, name, key)
        if policy is None or not policy.statements:
            raise _missing("The resource you requested does not exist.")
        return policy.to_wire()
