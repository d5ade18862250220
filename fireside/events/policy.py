"""Event bus policies: PutPermission, RemovePermission, and the check every event from another
account passes before it is put on a bus.

A bus's policy is an IAM resource policy (JSON text on the `Bus`), evaluated by
`fireside.resource_policy`, the one evaluator. PutPermission either adds one statement
(`StatementId`, `Action` = `events:PutEvents`, `Principal` = an account id or `*`, optional
`Condition`), written as AWS writes it, or replaces the whole document (`Policy`).

Who may put an event on a bus (`may_put`): its own account always (on AWS an identity policy
decides, which Fireside does not evaluate; a rule sending to a bus of its own account is
likewise allowed without a bus policy: AWS asks for an IAM role on the target, which is the
account's own); another account only where the policy allows `events:PutEvents` to it, with
the condition keys EventBridge documents for bus policies (`events:source`,
`events:detail-type`, `events:eventBusInvocation`, `aws:SourceArn`, `aws:SourceAccount`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from fireside.aws.errors import ModelledErrors, ServiceError
from fireside.events.store import Bus, EventStore
from fireside.resource_policy import allows, statements_of
from fireside.targets import Sender

__all__ = ["MAX_POLICY", "may_put", "put_permission", "remove_permission"]

error = ModelledErrors("events")

#: AWS's limit on a bus policy (PolicyLengthExceededException above it).
MAX_POLICY: Final = 10240


def may_put(bus: Bus, sender: Sender, event: Mapping[str, Any]) -> bool:
    """Whether `sender` may put `event` on `bus`, as the bus's policy decides."""
    if sender.account == bus.account:
        return True
    try:
        document = json.loads(bus.policy or "{}")
    except ValueError:
        return False
    return allows(
        statements_of(document),
        action="events:PutEvents",
        principal_account=sender.account,
        resource=bus.arn,
        context={
            "aws:SourceArn": sender.source_arn,
            "aws:SourceAccount": sender.account,
            "events:source": str(event.get("source", "")),
            "events:detail-type": str(event.get("detail-type", "")),
            "events:eventBusInvocation": "true" if sender.source_arn else "false",
        },
    )


def _document(bus: Bus) -> dict[str, Any]:
    try:
        document = json.loads(bus.policy) if bus.policy else None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        return {"Version": "2012-10-17", "Statement": []}
    document["Statement"] = statements_of(document)
    return document


def _save(store: EventStore, bus: Bus, document: dict[str, Any] | None) -> None:
    text = None if document is None else json.dumps(document, separators=(",", ":"))
    if text is not None and len(text) > MAX_POLICY:
        raise error("PolicyLengthExceededException", "Policy length exceeded the maximum.")
    bus.policy = text
    store.put_bus(bus)


def put_permission(store: EventStore, bus: Bus, params: Mapping[str, Any]) -> None:
    if params.get("Policy"):
        try:
            document = json.loads(params["Policy"])
        except ValueError:
            document = None
        if not isinstance(document, dict):
            raise ServiceError(
                "ValidationException", "Parameter Policy is not valid. Reason: Invalid JSON."
            )
        _save(store, bus, document)
        return
    for member in ("Action", "Principal", "StatementId"):
        if not params.get(member):
            raise ServiceError(
                "ValidationException",
                f"Parameter {member} must be specified if Policy is not specified.",
            )
    if params["Action"] != "events:PutEvents":
        raise ServiceError(
            "ValidationException", "Provided value in parameter 'action' is not supported."
        )
    principal = params["Principal"]
    statement: dict[str, Any] = {
        "Sid": params["StatementId"],
        "Effect": "Allow",
        "Principal": "*" if principal == "*" else {"AWS": f"arn:aws:iam::{principal}:root"},
        "Action": "events:PutEvents",
        "Resource": bus.arn,
    }
    condition = params.get("Condition")
    if condition:
        statement["Condition"] = {condition["Type"]: {condition["Key"]: condition["Value"]}}
    document = _document(bus)
    statements = [s for s in document["Statement"] if s.get("Sid") != params["StatementId"]]
    document["Statement"] = [*statements, statement]
    _save(store, bus, document)


def remove_permission(store: EventStore, bus: Bus, params: Mapping[str, Any]) -> None:
    if params.get("RemoveAllPermissions"):
        _save(store, bus, None)
        return
    if not params.get("StatementId"):
        raise ServiceError(
            "ValidationException",
            "Parameter StatementId must be specified if RemoveAllPermissions is not true.",
        )
    if not bus.policy:
        raise error("ResourceNotFoundException", "EventBus does not have a policy.")
    document = _document(bus)
    kept = [s for s in document["Statement"] if s.get("Sid") != params["StatementId"]]
    if len(kept) == len(document["Statement"]):
        raise error("ResourceNotFoundException", "Statement with the provided id does not exist.")
    document["Statement"] = kept
    _save(store, bus, document if kept else None)
