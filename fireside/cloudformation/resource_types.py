"""What a resource provider is: the contract between the stack engine and the services.

The engine resolves a resource's template properties (intrinsics done) and asks the
provider registered for its type to create, update or delete it. A provider acts through
the served operations of its service, as the stack's account (`ResourceContext.call`), so
a stack can do nothing that account could not do with its own calls, and there is one
implementation of every service.

`Ref` of a resource is its physical id (as CloudFormation defines it: a queue's URL, a
topic's ARN, a function's name); `Fn::GetAtt` reads `Created.attributes`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "Created",
    "NeedsReplacement",
    "ResourceContext",
    "ResourceFailed",
    "ResourceType",
    "ResourceTypes",
]

#: (service, operation, params) -> the operation's decoded result; raises `ServiceError`.
Caller = Callable[[str, str, dict[str, Any]], Awaitable[dict[str, Any]]]


@dataclass(slots=True)
class ResourceContext:
    account: str
    region: str
    stack_name: str
    stack_id: str
    logical_id: str
    #: Runs a served operation as the stack's account: `await ctx.call("sqs", "CreateQueue", {...})`.
    call: Caller
    #: A name for resources the template leaves unnamed, as CloudFormation makes them:
    #: `<stack>-<logical id>-<random>`, cut to the service's length limit by the provider.
    generated_name: str = ""
    #: The stack's tags, which CloudFormation propagates to the resources that take tags.
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class Created:
    physical_id: str
    #: What `Fn::GetAtt` reads (`{"Arn": ..., "QueueName": ...}`).
    attributes: dict[str, Any] = field(default_factory=dict)


class ResourceFailed(Exception):
    """A create, update or delete failed; `str(error)` is the reason the stack events show
    (CloudFormation shows the service's message, e.g. `Resource handler returned message:
    "..."`)."""


class NeedsReplacement(Exception):
    """Raised by `update` when a changed property can only be applied by replacement
    (CloudFormation's "Update requires: Replacement"): the engine then creates the new
    resource, repoints references, and deletes the old one during cleanup."""


class ResourceType(Protocol):
    #: E.g. "AWS::SQS::Queue".
    type_name: str
    #: Properties whose change requires replacement (AWS's docs, "Update requires").
    replace_on: frozenset[str]

    async def create(self, ctx: ResourceContext, properties: dict[str, Any]) -> Created: ...

    async def update(
        self,
        ctx: ResourceContext,
        physical_id: str,
        old: dict[str, Any],
        new: dict[str, Any],
    ) -> Created: ...

    async def delete(
        self, ctx: ResourceContext, physical_id: str, properties: dict[str, Any]
    ) -> None:
        """Deleting what is already gone succeeds (CloudFormation's deletes are idempotent)."""
        ...


class ResourceTypes:
    """The registry of providers, by type name."""

    def __init__(self) -> None:
        self._types: dict[str, ResourceType] = {}

    def register(self, provider: ResourceType) -> None:
        self._types[provider.type_name] = provider

    def get(self, type_name: str) -> ResourceType | None:
        return self._types.get(type_name)

    def names(self) -> list[str]:
        return sorted(self._types)
