"""PutResourcePolicy, GetResourcePolicy, DeleteResourcePolicy: policies on tables and streams.

A policy is kept in its table's stored metadata (`TableInfo.policies`: the table's under "",
each stream's under its label), so it commits with the rest of the table's definition on every
engine and goes when the table is deleted. Indexes have none of their own: on DynamoDB the
table's policy covers them.

Fireside stores and returns policies but authorizes nothing by them (it has no IAM
evaluation); `ConfirmRemoveSelfResourceAccess` is accepted and has nothing to guard.

Revision ids are the time of the change in milliseconds, as DynamoDB's look, and increase
with every change of a resource's policy: they compare as strings too (equal lengths), which
is how DynamoDB tells clients to compare them. Putting the policy already in place changes
nothing and answers its revision id.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.tables.catalog import locked_table
from fireside.tables.engine import WriteTxn
from fireside.tables.errors import dynamodb_error, not_found, table_not_found, validation
from fireside.tables.schema import TableInfo
from fireside.tables.service import Tables

__all__ = [
    "check_policy",
    "delete_resource_policy",
    "get_resource_policy",
    "new_revision",
    "put_resource_policy",
]

#: "The maximum size supported for a resource-based policy document is 20 KB. DynamoDB counts
#: whitespaces when calculating the size of a policy against this limit."
MAX_POLICY_BYTES: Final = 20 * 1024
#: ExpectedRevisionId meaning "only if the resource has no policy yet".
NO_POLICY: Final = "NO_POLICY"
_TABLE: Final = ""
_ARN: Final = re.compile(
    r"arn:aws[a-z-]*:dynamodb:(?P<region>[^:]*):(?P<account>[^:]*):table/(?P<name>[^/]+)"
    r"(?:/(?P<kind>stream|index)/(?P<sub>.+))?"
)


def _policy_not_found(detail: str) -> ServiceError:
    return dynamodb_error(
        "PolicyNotFoundException",
        f"Resource-based policy not found for the provided ResourceArn: {detail}",
    )


def new_revision(now: float, previous: str | None = None) -> str:
    """A revision id for a change at `now`, later than `previous` (even within a millisecond)."""
    millis = int(now * 1000)
    if previous is not None and previous.isdigit():
        millis = max(millis, int(previous) + 1)
    return str(millis)


def check_policy(text: str) -> Any:
    """The parsed policy document; DynamoDB's checks that need no IAM (JSON, size, grammar)."""
    if len(text.encode()) > MAX_POLICY_BYTES:
        raise validation(
            f"Invalid policy document: the policy is {len(text.encode())} bytes, more than "
            f"the limit of {MAX_POLICY_BYTES} bytes (20 KB, whitespace included)"
        )
    try:
        document = json.loads(text)
    except ValueError:
        raise validation("Invalid policy document: the policy is not valid JSON") from None
    if not isinstance(document, dict):
        raise validation("Invalid policy document: the policy must be a JSON object")
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise validation("Invalid policy document: missing required field Statement")
    for statement in statements:
        if not isinstance(statement, dict):
            raise validation("Invalid policy document: each Statement must be a JSON object")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise validation("Invalid policy document: Effect must be Allow or Deny")
        if "Principal" not in statement and "NotPrincipal" not in statement:
            raise validation(
                "Invalid policy document: a resource-based policy statement must name a Principal"
            )
        if "Action" not in statement and "NotAction" not in statement:
            raise validation("Invalid policy document: missing required field Action")
    return document


def _resource(tables: Tables, ctx: RequestContext, arn: str) -> tuple[TableInfo, str, str]:
    """(table, policy key, what DynamoDB calls the target in messages) of a ResourceArn."""
    match = _ARN.fullmatch(arn)
    if match is None:
        raise validation(f"Invalid ResourceArn provided as input {arn}")
    if match["kind"] == "index":
        raise validation(
            f"Invalid ResourceArn provided as input {arn}: policies attach to tables and "
            "streams; a table's policy covers its indexes"
        )
    name = match["name"]
    table = None
    if match["region"] == ctx.region and match["account"] == ctx.account_id:
        table = tables.catalog.get(ctx.account_id, ctx.region, name)
    if match["kind"] is None:
        if table is None:
            raise table_not_found(name)
        return table, _TABLE, f"table {table.name}"
    label = match["sub"]
    if table is None or table.stream_label != label:
        raise not_found(f"Requested resource not found: Stream: {arn} not found")
    return table, label, f"stream {arn}"


def _check_expected(expected: str | None, current: dict[str, str] | None, target: str) -> None:
    if expected is None:
        return
    if expected == NO_POLICY:
        if current is not None:
            raise _policy_not_found(
                f"Requested policy update expecting none to be present for {target}, but a "
                f"policy exists with revision id {current['RevisionId']}."
            )
        return
    if current is None:
        raise _policy_not_found(
            f"Requested update for policy with revision id {expected}, but no policy is "
            f"associated to target {target}."
        )
    if current["RevisionId"] != expected:
        raise _policy_not_found(
            f"Requested update for policy with revision id {expected}, but the policy "
            f"associated to target {target} has revision id {current['RevisionId']}."
        )


async def _change(
    tables: Tables,
    ctx: RequestContext,
    arn: str,
    expected: str | None,
    policy: str | None,
) -> str:
    """Put (`policy`) or delete (None) a resource's policy; the revision id it had or has."""
    table, key, target = _resource(tables, ctx, arn)
    document = check_policy(policy) if policy is not None else None
    tid = table.table_id
    now = tables.clock()

    def job(txn: WriteTxn) -> str:
        live = locked_table(txn, tid)
        if live is None:
            raise table_not_found(table.name)
        if key != _TABLE and live.stream_label != key:
            raise not_found(f"Requested resource not found: Stream: {arn} not found")
        current = live.policies.get(key)
        _check_expected(expected, current, target)
        if policy is None:
            if current is None:
                raise _policy_not_found(arn)
        elif current is not None and json.loads(current["Policy"]) == document:
            return current["RevisionId"]  # the same policy again: nothing changes
        changed = TableInfo.from_json(live.to_json())
        # Policies of streams that have since been replaced are unreachable: drop them.
        changed.policies = {
            k: v for k, v in changed.policies.items() if k in (_TABLE, changed.stream_label)
        }
        if policy is None:
            del changed.policies[key]
            revision = current["RevisionId"] if current is not None else ""
        else:
            previous = current["RevisionId"] if current is not None else None
            revision = new_revision(now, previous)
            changed.policies[key] = {"Policy": policy, "RevisionId": revision}
        txn.save_table(tid, changed.to_json())
        tables.catalog.put(changed, txn)
        txn.on_rollback.append(lambda: tables.catalog.put(live))
        return revision

    return await tables.engine.write(job)


async def put_resource_policy(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    revision = await _change(
        tables, ctx, params["ResourceArn"], params.get("ExpectedRevisionId"), params["Policy"]
    )
    return {"RevisionId": revision}


async def get_resource_policy(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    arn = params["ResourceArn"]
    table, key, _ = _resource(tables, ctx, arn)
    current = table.policies.get(key)
    if current is None:
        raise _policy_not_found(arn)
    return {"Policy": current["Policy"], "RevisionId": current["RevisionId"]}


async def delete_resource_policy(
    tables: Tables, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    revision = await _change(
        tables, ctx, params["ResourceArn"], params.get("ExpectedRevisionId"), None
    )
    return {"RevisionId": revision}
