"""Who may act on a queue, as its policy decides: the one place SQS answers that question.

The owner account may do everything with its queues. Another account, or an AWS service acting
for a resource (SNS for a topic, EventBridge for a rule: `fireside.sqs.targets`), may do what
the queue's `Policy` attribute allows it: a statement whose `Principal` names the account
(`arn:aws:iam::<account>:root`, the bare id, or `"*"`), whose `Action` matches
`sqs:<Action>` (`sqs:*`, `SQS:SendMessage`; case does not matter) and whose `Resource` matches
the queue's ARN, its conditions holding for `aws:SourceAccount` / `aws:SourceArn`; never
what AWS keeps for the owner (DeleteQueue, SetQueueAttributes, tags, permissions, move
tasks...), whatever the policy says. The policy is judged by `fireside.resource_policy.allows`, the evaluator of every resource policy.

AddPermission and RemovePermission edit the same document, writing statements as AWS does
(`Sid` the label, `Principal` the accounts' root ARNs, `Action` `SQS:<name>`).
"""

from __future__ import annotations

import json
from typing import Any, Final

from fireside.aws.errors import ServiceError
from fireside.resource_policy import allows, statements_of
from fireside.sqs.queues import Queue, invalid_parameter, sqs_error

__all__ = ["action_of", "add_permission", "check_policy", "denied", "may", "remove_permission"]

#: What AddPermission may grant (AWS: the rest only the owner may do).
GRANTABLE: Final = frozenset(
    {
        "*",
        "ChangeMessageVisibility",
        "DeleteMessage",
        "GetQueueAttributes",
        "GetQueueUrl",
        "ListDeadLetterSourceQueues",
        "PurgeQueue",
        "ReceiveMessage",
        "SendMessage",
    }
)
#: What no policy grants another account (AWS: cross-account permissions do not apply).
_OWNER_ONLY: Final = frozenset(
    {
        "AddPermission",
        "RemovePermission",
        "CreateQueue",
        "DeleteQueue",
        "SetQueueAttributes",
        "TagQueue",
        "UntagQueue",
        "ListQueues",
        "ListQueueTags",
        "StartMessageMoveTask",
        "CancelMessageMoveTask",
        "ListMessageMoveTasks",
    }
)
#: A batch is allowed by its single operation's action (AWS: the same permission).
_BATCHES: Final = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
_MAX_ACTIONS = 7
_MAX_POLICY = 20 * 1024  # bytes: AWS's cap on a queue policy


def action_of(operation: str) -> str:
    """The IAM action name an operation asks for (without the `sqs:` prefix)."""
    return _BATCHES.get(operation, operation)


def may(
    queue: Queue,
    action: str,
    account: str,
    *,
    service: str | None = None,
    source_arn: str | None = None,
) -> bool:
    """Whether `account` (or `service` acting for `source_arn` of `account`) may do `action`
    (an SQS action name, e.g. `SendMessage`) on `queue`."""
    if service is None and account == queue.account:
        return True
    if action in _OWNER_ONLY:
        return False
    try:
        document = json.loads(queue.attributes.get("Policy") or "{}")
    except ValueError:
        return False
    return allows(
        statements_of(document),
        action=f"sqs:{action_of(action)}",
        principal_service=service,
        principal_account=None if service else account,
        resource=queue.arn,
        context={"aws:SourceArn": source_arn, "aws:SourceAccount": account},
    )


def denied(url: str) -> ServiceError:
    """AWS's answer to an account the queue's policy does not allow."""
    return sqs_error("AccessDenied", f"Access to the resource {url} is denied.", 403)


def check_policy(raw: str) -> None:
    """Refuse a `Policy` attribute that is not a policy document, in AWS's words."""
    if not raw:
        return
    bad = sqs_error("InvalidAttributeValue", "Invalid value for the parameter Policy.")
    if len(raw.encode()) > _MAX_POLICY:
        raise bad
    try:
        document = json.loads(raw)
    except ValueError:
        raise bad from None
    if not isinstance(document, dict):
        raise bad
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not all(
        isinstance(s, dict) and s.get("Effect") in ("Allow", "Deny") for s in statements
    ):
        raise bad


def _document(queue: Queue) -> dict[str, Any]:
    raw = queue.attributes.get("Policy")
    parsed: Any = json.loads(raw) if raw else None
    document: dict[str, Any] = (
        parsed
        if isinstance(parsed, dict)
        else {"Version": "2012-10-17", "Id": f"{queue.arn}/SQSDefaultPolicy"}
    )
    statements = document.get("Statement")
    document["Statement"] = [statements] if isinstance(statements, dict) else list(statements or [])
    return document


def _one_or_many(items: list[str]) -> str | list[str]:
    return items[0] if len(items) == 1 else items


def add_permission(queue: Queue, params: dict[str, Any]) -> None:
    """AddPermission: add a statement labelled `Label` to the queue's policy."""
    label: str = params.get("Label") or ""
    actions: list[str] = params.get("Actions") or []
    accounts: list[str] = params.get("AWSAccountIds") or []
    if not label:
        raise sqs_error("MissingParameter", "The request must contain the parameter Label.")
    if not actions:
        raise sqs_error("MissingParameter", "The request must contain the parameter Actions.")
    if not accounts:
        raise invalid_parameter(
            "Value [] for parameter PrincipalId is invalid. Reason: Unable to verify."
        )
    if len(actions) > _MAX_ACTIONS:
        raise sqs_error(
            "OverLimit",
            f"{len(actions)} Actions were found, maximum allowed is {_MAX_ACTIONS}.",
            403,
        )
    for action in actions:
        if action in _OWNER_ONLY:
            raise invalid_parameter(
                f"Value SQS:{action} for parameter ActionName is invalid. Reason: Only the "
                "queue owner is allowed to invoke this action."
            )
        if action not in GRANTABLE:
            raise invalid_parameter(
                f"Value SQS:{action} for parameter ActionName is invalid. Reason: Please "
                "refer to the appropriate WSDL for a list of valid actions."
            )
    for account in accounts:
        if not (len(account) == 12 and account.isdigit()):
            raise invalid_parameter(
                f"Value [{account}] for parameter PrincipalId is invalid. Reason: Unable to verify."
            )
    document = _document(queue)
    if any(s.get("Sid") == label for s in document["Statement"] if isinstance(s, dict)):
        raise invalid_parameter(
            f"Value {label} for parameter Label is invalid. Reason: Already exists."
        )
    document["Statement"].append(
        {
            "Sid": label,
            "Effect": "Allow",
            "Principal": {"AWS": _one_or_many([f"arn:aws:iam::{a}:root" for a in accounts])},
            "Action": _one_or_many([f"SQS:{a}" for a in actions]),
            "Resource": queue.arn,
        }
    )
    raw = json.dumps(document, separators=(",", ":"))
    check_policy(raw)  # the size cap
    queue.attributes["Policy"] = raw


def remove_permission(queue: Queue, params: dict[str, Any]) -> None:
    """RemovePermission: drop the statement labelled `Label`."""
    label: str = params.get("Label") or ""
    if not label:
        raise sqs_error("MissingParameter", "The request must contain the parameter Label.")
    document = _document(queue)
    kept = [s for s in document["Statement"] if not (isinstance(s, dict) and s.get("Sid") == label)]
    if len(kept) == len(document["Statement"]):
        raise invalid_parameter(
            f"Value {label} for parameter Label is invalid. Reason: can't find label on "
            "existing policy."
        )
    if kept:
        document["Statement"] = kept
        queue.attributes["Policy"] = json.dumps(document, separators=(",", ":"))
    else:
        queue.attributes.pop("Policy", None)
