"""The records of the CloudFormation service: stacks, their resources, change sets.

Plain dataclasses, kept as JSON by `fireside.cloudformation.store`. A stack carries enough of
its operation's progress (each resource's status, what an update replaced, the template and
parameters it had before) that a server restarted mid-operation can finish or undo it.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HEAVY", "ChangeSet", "Resource", "Stack", "event"]

#: A stack's large fields, kept apart from its record (`Stack.revision`).
HEAVY = ("template_body", "template", "previous")


@dataclass(slots=True)
class Resource:
    logical_id: str
    type: str
    physical_id: str | None = None
    status: str = ""
    reason: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    attributes: dict[str, Any] = field(default_factory=dict)
    updated: float = field(default_factory=time.time)
    deletion_policy: str = "Delete"
    update_replace_policy: str = "Delete"
    metadata: Any = None
    #: During an update: "Add", "Modify" or "Replace", and the resource as it was before.
    action: str = ""
    old: dict[str, Any] | None = None
    #: In the stack's previous template only: deleted in the update's cleanup.
    removed: bool = False

    def snapshot(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "physical_id": self.physical_id,
            "properties": self.properties,
            "attributes": self.attributes,
            "deletion_policy": self.deletion_policy,
            "update_replace_policy": self.update_replace_policy,
            "metadata": self.metadata,
            "status": self.status,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Resource:
        return cls(**data)


@dataclass(slots=True)
class Stack:
    stack_id: str
    name: str
    account: str
    region: str
    status: str
    reason: str = ""
    created: float = field(default_factory=time.time)
    updated: float | None = None
    deleted: float | None = None
    description: str | None = None
    #: The template as the caller sent it (text) and as processed (transforms run).
    template_body: str = ""
    template: dict[str, Any] = field(default_factory=dict)
    #: DescribeStacks' Parameters, the raw values (UsePreviousValue), and Ref's values.
    parameters: list[dict[str, str]] = field(default_factory=list)
    raw_parameters: dict[str, str] = field(default_factory=dict)
    parameter_values: dict[str, Any] = field(default_factory=dict)
    capabilities: list[str] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    notification_arns: list[str] = field(default_factory=list)
    disable_rollback: bool = False
    on_failure_delete: bool = False
    termination_protection: bool = False
    timeout: int | None = None
    role_arn: str | None = None
    outputs: list[dict[str, str]] = field(default_factory=list)
    #: Export names this stack's template imports.
    imports: list[str] = field(default_factory=list)
    resources: dict[str, Resource] = field(default_factory=dict)
    #: The stack before the update in progress (template, parameters, outputs...).
    previous: dict[str, Any] | None = None
    #: The token of the request running the current operation (shown on its events).
    client_token: str | None = None
    change_set_id: str | None = None
    parent_id: str | None = None
    root_id: str | None = None
    retain: list[str] = field(default_factory=list)
    #: Bumped whenever a heavy field (HEAVY: the templates) changes, so the store rewrites
    #: them only then, not at every step of an operation.
    revision: int = 0

    def touch_templates(self) -> None:
        self.revision += 1

    def to_json(self) -> dict[str, Any]:
        """The record without its heavy fields (`heavy_json`)."""
        data = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in HEAVY and f.name != "resources"
        }
        data["resources"] = {k: dataclasses.asdict(v) for k, v in self.resources.items()}
        return data

    def heavy_json(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in HEAVY}

    @classmethod
    def from_json(cls, data: dict[str, Any], heavy: dict[str, Any]) -> Stack:
        resources = {k: Resource.from_json(v) for k, v in data.pop("resources", {}).items()}
        return cls(**data, **heavy, resources=resources)

    @property
    def in_progress(self) -> bool:
        return self.status.endswith("_IN_PROGRESS") and self.status != "REVIEW_IN_PROGRESS"

    @property
    def tag_map(self) -> dict[str, str]:
        return {t["Key"]: t["Value"] for t in self.tags}


@dataclass(slots=True)
class ChangeSet:
    change_set_id: str
    name: str
    stack_id: str
    stack_name: str
    account: str
    region: str
    kind: str  # CREATE or UPDATE
    status: str = "CREATE_PENDING"
    execution_status: str = "UNAVAILABLE"
    reason: str | None = None
    created: float = field(default_factory=time.time)
    description: str | None = None
    template_body: str = ""
    template: dict[str, Any] = field(default_factory=dict)
    parameters: list[dict[str, str]] = field(default_factory=list)
    raw_parameters: dict[str, str] = field(default_factory=dict)
    parameter_values: dict[str, Any] = field(default_factory=dict)
    capabilities: list[str] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)
    notification_arns: list[str] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    role_arn: str | None = None
    on_failure: str | None = None
    include_nested: bool = False
    deleted: bool = False

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChangeSet:
        return cls(**data)


def event(
    stack: Stack,
    logical_id: str,
    resource_type: str,
    status: str,
    physical_id: str | None,
    reason: str = "",
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A StackEvent as DescribeStackEvents shows it (Timestamp in epoch seconds)."""
    record: dict[str, Any] = {
        "StackId": stack.stack_id,
        "EventId": f"{logical_id}-{status}-{uuid.uuid4()}"
        if logical_id != stack.name
        else str(uuid.uuid4()),
        "StackName": stack.name,
        "LogicalResourceId": logical_id,
        "PhysicalResourceId": physical_id or "",
        "ResourceType": resource_type,
        "Timestamp": time.time(),
        "ResourceStatus": status,
    }
    if reason:
        record["ResourceStatusReason"] = reason
    if properties is not None:
        record["ResourceProperties"] = json.dumps(properties)
    if stack.client_token:
        record["ClientRequestToken"] = stack.client_token
    return record
