"""What the CloudFormation API shows of its records: stacks, summaries, resources, events,
and the opaque `NextToken` pages of its list operations.

Dicts here are named as botocore's cloudformation model names the members; the protocol
layer writes them.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any, TypeVar

from fireside.cloudformation.model import ChangeSet, Resource, Stack
from fireside.cloudformation.template import validation

__all__ = [
    "change_set_summary",
    "newest_first_page",
    "page",
    "resource_detail",
    "resource_summary",
    "stack_resource",
    "stack_summary",
    "stack_view",
]

T = TypeVar("T")


def _decode(token: str, scope: str) -> int:
    try:
        found = json.loads(base64.urlsafe_b64decode(token.encode("ascii") + b"=="))
        if not isinstance(found, list) or found[0] != scope or not isinstance(found[1], int):
            raise ValueError(token)
    except (ValueError, UnicodeError, binascii.Error, IndexError):
        raise validation("Invalid NextToken") from None
    return max(0, found[1])


def _encode(scope: str, position: int) -> str:
    return base64.urlsafe_b64encode(json.dumps([scope, position]).encode()).decode().rstrip("=")


def page(
    items: Sequence[T], token: str | None, size: int, scope: str
) -> tuple[list[T], str | None]:
    """One page of `items` after `token`, and the token of the next page (None at the end)."""
    start = _decode(token, scope) if token else 0
    chunk = list(items[start : start + size])
    following = start + size
    if following >= len(items):
        return chunk, None
    return chunk, _encode(scope, following)


def newest_first_page(
    items: Sequence[T], token: str | None, size: int, scope: str
) -> tuple[list[T], str | None]:
    """A page of a newest-first listing that grows at its head (stack events): the token
    counts the older items still to give, so events added between pages shift nothing."""
    remaining = min(_decode(token, scope), len(items)) if token else len(items)
    start = len(items) - remaining
    chunk = list(items[start : start + size])
    left = remaining - len(chunk)
    return chunk, _encode(scope, left) if left > 0 else None


def _drift() -> dict[str, str]:
    return {"StackDriftStatus": "NOT_CHECKED"}


def stack_view(stack: Stack) -> dict[str, Any]:
    view: dict[str, Any] = {
        "StackId": stack.stack_id,
        "StackName": stack.name,
        "Parameters": stack.parameters,
        "CreationTime": stack.created,
        "RollbackConfiguration": {},
        "StackStatus": stack.status,
        "DisableRollback": stack.disable_rollback,
        "NotificationARNs": stack.notification_arns,
        "Capabilities": stack.capabilities,
        "Tags": stack.tags,
        "EnableTerminationProtection": stack.termination_protection,
        "DriftInformation": _drift(),
    }
    optional = {
        # A stack without outputs (all conditional and off, say) has no `Outputs` member.
        "Outputs": stack.outputs or None,
        "ChangeSetId": stack.change_set_id,
        "Description": stack.description,
        "DeletionTime": stack.deleted,
        "LastUpdatedTime": stack.updated,
        "StackStatusReason": stack.reason or None,
        "TimeoutInMinutes": stack.timeout,
        "RoleARN": stack.role_arn,
        "ParentId": stack.parent_id,
        "RootId": stack.root_id,
    }
    view.update({k: v for k, v in optional.items() if v is not None})
    return view


def stack_summary(stack: Stack) -> dict[str, Any]:
    view = {
        "StackId": stack.stack_id,
        "StackName": stack.name,
        "CreationTime": stack.created,
        "StackStatus": stack.status,
        "DriftInformation": _drift(),
    }
    optional = {
        "TemplateDescription": stack.description,
        "LastUpdatedTime": stack.updated,
        "DeletionTime": stack.deleted,
        "StackStatusReason": stack.reason or None,
        "ParentId": stack.parent_id,
        "RootId": stack.root_id,
    }
    view.update({k: v for k, v in optional.items() if v is not None})
    return view


def _common(resource: Resource) -> dict[str, Any]:
    view: dict[str, Any] = {
        "LogicalResourceId": resource.logical_id,
        "ResourceType": resource.type,
        "ResourceStatus": resource.status,
    }
    if resource.physical_id:
        view["PhysicalResourceId"] = resource.physical_id
    if resource.reason:
        view["ResourceStatusReason"] = resource.reason
    return view


def stack_resource(stack: Stack, resource: Resource) -> dict[str, Any]:
    return {
        "StackName": stack.name,
        "StackId": stack.stack_id,
        "Timestamp": resource.updated,
        "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
        **_common(resource),
    }


def resource_detail(stack: Stack, resource: Resource) -> dict[str, Any]:
    view = {
        "StackName": stack.name,
        "StackId": stack.stack_id,
        "LastUpdatedTimestamp": resource.updated,
        "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
        **_common(resource),
    }
    if resource.metadata is not None:
        view["Metadata"] = json.dumps(resource.metadata)
    return view


def resource_summary(resource: Resource) -> dict[str, Any]:
    return {
        "LastUpdatedTimestamp": resource.updated,
        "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
        **_common(resource),
    }


def change_set_summary(change_set: ChangeSet) -> dict[str, Any]:
    view: dict[str, Any] = {
        "StackId": change_set.stack_id,
        "StackName": change_set.stack_name,
        "ChangeSetId": change_set.change_set_id,
        "ChangeSetName": change_set.name,
        "ExecutionStatus": change_set.execution_status,
        "Status": change_set.status,
        "CreationTime": change_set.created,
        "IncludeNestedStacks": change_set.include_nested,
    }
    if change_set.reason:
        view["StatusReason"] = change_set.reason
    if change_set.description:
        view["Description"] = change_set.description
    return view
