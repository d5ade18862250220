"""The stack engine: runs a stack's create, update and delete, and undoes them on failure.

Each operation is a background task (owned by `run`, the supervised loop) holding the
stack's lock. Resources are made in dependency order, independent ones at once
(`graph.run_graph`); a failure stops new work, lets running work finish and rolls back in
reverse order: a failed create deletes what it made (ROLLBACK_COMPLETE), a failed update
puts every touched resource back as it was (UPDATE_ROLLBACK_COMPLETE). Every state change
is committed with its events before the next step, so a server restarted mid-operation
settles the stack as AWS would after a failure: a create or update rolls back, a delete
or a cleanup goes on (`resume`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import secrets
import string
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

from fireside.aws.errors import ServiceError
from fireside.cloudformation import exports
from fireside.cloudformation.builtins import ANY_ATTRIBUTE
from fireside.cloudformation.graph import references, run_graph
from fireside.cloudformation.intrinsics import (
    UNKNOWN,
    Pseudo,
    Resolver,
    TemplateError,
    contains_unknown,
)
from fireside.cloudformation.model import Resource, Stack, event
from fireside.cloudformation.resource_types import (
    NeedsReplacement,
    ResourceContext,
    ResourceFailed,
    ResourceType,
)
from fireside.cloudformation.store import CloudFormationStore
from fireside.supervisor import TaskSet

__all__ = ["Engine", "ServiceCaller"]

log = logging.getLogger(__name__)

#: (account, region, service, operation, params) -> the decoded result.
ServiceCaller = Callable[[str, str, str, str, dict[str, Any]], Awaitable[dict[str, Any]]]
STACK_TYPE: Final = "AWS::CloudFormation::Stack"
_RETAINED: Final = frozenset({"Retain", "RetainExceptOnCreate", "Snapshot"})
_RANDOM: Final = string.ascii_uppercase + string.digits
#: Where a stack goes when its operation breaks on a Fireside bug.
_FAILED_AFTER: Final = {
    "CREATE_IN_PROGRESS": "CREATE_FAILED",
    "ROLLBACK_IN_PROGRESS": "ROLLBACK_FAILED",
    "DELETE_IN_PROGRESS": "DELETE_FAILED",
    "UPDATE_IN_PROGRESS": "UPDATE_FAILED",
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS": "UPDATE_FAILED",
    "UPDATE_ROLLBACK_IN_PROGRESS": "UPDATE_ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS": "UPDATE_ROLLBACK_FAILED",
}


def failure_reason(error: BaseException) -> str:
    if isinstance(error, ResourceFailed | TemplateError):
        return str(error)
    if isinstance(error, ServiceError):
        return (
            f'Resource handler returned message: "{error.message}" (HandlerErrorCode: {error.code})'
        )
    return "Internal Failure"


class Engine:
    def __init__(
        self,
        store: CloudFormationStore,
        provider_for: Callable[[str], ResourceType | None],
        caller: ServiceCaller,
        url_suffix: str = "amazonaws.com",
        minute: float = 60.0,
        settle: float = 0.25,
    ) -> None:
        self.store = store
        #: Seconds a stack operation's request waits for it to end (`submit`).
        self.settle = settle
        #: Seconds in a minute of TimeoutInMinutes (`cfn_minute`).
        self.minute = minute
        self.provider_for = provider_for
        self.caller = caller
        self.url_suffix = url_suffix
        self.stacks: dict[str, Stack] = {s.stack_id: s for s in store.stacks()}
        self._locks: dict[str, asyncio.Lock] = {}
        self._tasks = TaskSet("cloudformation")
        self._queue: asyncio.Queue[tuple[str, Callable[[], Awaitable[None]]]] = asyncio.Queue()
        #: Stacks whose update CancelUpdateStack stopped (it rolls back once running work ends).
        self.cancelling: set[str] = set()
        #: Called when an operation of a stack ends (nested stacks and change sets listen).
        self.on_settled: list[Callable[[Stack], Awaitable[None]]] = []

    # -- scheduling ---------------------------------------------------------------------------

    async def submit(self, stack: Stack, work: Callable[[], Awaitable[None]]) -> None:
        """Runs `work` as the stack's next operation (after any running one), and waits up to
        `settle` seconds for it to end before the request that started it is answered.

        Tools poll a stack with waiters that sleep 30 s between calls (the AWS CLI's deploy,
        SAM's managed stack and delete); a small stack that is already complete at their first
        DescribeStacks costs them no sleep. The answer is the same either way."""
        done = asyncio.Event()

        async def tracked() -> None:
            try:
                await work()
            finally:
                done.set()

        self._queue.put_nowait((stack.stack_id, tracked))
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settle):
                await done.wait()

    async def run(self) -> None:
        """The supervised loop: settles stacks a stop interrupted, then runs operations."""
        from fireside.cloudformation.operations import resume  # operations build on this

        for stack in list(self.stacks.values()):
            if stack.in_progress:
                self._tasks.spawn(
                    self._locked(stack.stack_id, functools.partial(resume, self, stack))
                )
        try:
            while True:
                stack_id, work = await self._queue.get()
                self._tasks.spawn(self._locked(stack_id, work), name=f"stack {stack_id}")
        finally:
            await self._tasks.close()

    def lock_for(self, stack_id: str) -> asyncio.Lock:
        """The lock a stack's operations hold (one operation at a time)."""
        return self._locks.setdefault(stack_id, asyncio.Lock())

    async def _locked(self, stack_id: str, work: Callable[[], Awaitable[None]]) -> None:
        async with self.lock_for(stack_id):
            try:
                await work()
            except Exception:
                # A Fireside bug: the stack must not stay IN_PROGRESS until the next start.
                log.exception("stack %s: the operation failed", stack_id)
                stack = self.stacks.get(stack_id)
                if stack is not None and stack.in_progress:
                    failed = _FAILED_AFTER.get(stack.status, "CREATE_FAILED")
                    await self.set_status(stack, failed, "Internal Failure")
        stack = self.stacks.get(stack_id)
        if stack is not None:
            for listener in self.on_settled:
                await listener(stack)

    async def wait_idle(self) -> None:
        await self._tasks.wait()

    # -- records and events -------------------------------------------------------------------

    async def set_status(self, stack: Stack, status: str, reason: str = "") -> None:
        stack.status = status
        stack.reason = reason
        await self.commit(
            stack, [event(stack, stack.name, STACK_TYPE, status, stack.stack_id, reason)]
        )

    async def commit(self, stack: Stack, records: list[dict[str, Any]]) -> None:
        """Saves the stack with new events, then tells its NotificationARNs about them."""
        await self.store.save(stack, records)
        for topic in stack.notification_arns:
            for record in records:
                try:
                    await self.caller(
                        stack.account,
                        stack.region,
                        "sns",
                        "Publish",
                        {
                            "TopicArn": topic,
                            "Subject": "AWS CloudFormation Notification",
                            "Message": notification(stack, record),
                        },
                    )
                except ServiceError as error:
                    log.warning("stack %s: notifying %s: %s", stack.name, topic, error.message)

    async def resource_event(
        self, stack: Stack, resource: Resource, status: str, reason: str = "", **extra: Any
    ) -> None:
        resource.status = status
        resource.reason = reason
        resource.updated = time.time()
        records = [
            event(stack, resource.logical_id, resource.type, status, resource.physical_id, reason)
        ]
        if "also" in extra:  # a second event committed with the first
            also_status, also_reason = extra["also"]
            resource.status, resource.reason = also_status, also_reason
            records.append(
                event(
                    stack,
                    resource.logical_id,
                    resource.type,
                    also_status,
                    resource.physical_id,
                    also_reason,
                )
            )
        await self.commit(stack, records)

    # -- resolving ----------------------------------------------------------------------------

    def pseudo(self, stack: Stack) -> Pseudo:
        return Pseudo(
            stack.account,
            stack.region,
            stack.name,
            stack.stack_id,
            stack.notification_arns,
            url_suffix=self.url_suffix,
        )

    def resolver(
        self, stack: Stack, imported: list[str] | None = None, unknown: frozenset[str] = frozenset()
    ) -> Resolver:
        template = stack.template

        def physical(name: str) -> str | None:
            resource = stack.resources.get(name)
            if name in unknown or resource is None or resource.removed:
                return None
            return resource.physical_id

        def attribute(name: str, attribute: str) -> Any:
            resource = stack.resources.get(name)
            if name in unknown or resource is None or resource.physical_id is None:
                return UNKNOWN
            if attribute in resource.attributes:
                return resource.attributes[attribute]
            if ANY_ATTRIBUTE in resource.attributes:  # a placeholder
                return resource.attributes[ANY_ATTRIBUTE]
            raise TemplateError(
                f"Template error: resource {name} does not support attribute type "
                f"{attribute} in Fn::GetAtt"
            )

        def import_value(name: str) -> str:
            found = exports.find(self.stacks.values(), stack.account, stack.region, name)
            if found is None:
                raise TemplateError(f"No export named {name} found.")
            if imported is not None and name not in imported:
                imported.append(name)
            return found[1]

        return Resolver(
            self.pseudo(stack),
            stack.parameter_values,
            template.get("Mappings") or {},
            template.get("Conditions") or {},
            physical,
            attribute,
            import_value,
            frozenset(template.get("Resources") or {}),
        )

    @staticmethod
    def active(stack: Stack, resolver: Resolver) -> dict[str, dict[str, Any]]:
        """The template's resources whose Condition holds."""
        resources: dict[str, dict[str, Any]] = stack.template.get("Resources") or {}
        return {
            logical: definition
            for logical, definition in resources.items()
            if definition.get("Condition") is None
            or resolver.condition(str(definition["Condition"]))
        }

    def outputs(self, stack: Stack, resolver: Resolver) -> list[dict[str, str]]:
        found: list[dict[str, str]] = []
        for key, output in (stack.template.get("Outputs") or {}).items():
            condition = output.get("Condition")
            if condition is not None and not resolver.condition(str(condition)):
                continue
            value = resolver.resolve(output["Value"])
            if contains_unknown(value):
                raise TemplateError(f"Template error: output {key} cannot be resolved")
            entry = {"OutputKey": key, "OutputValue": _text(value)}
            if output.get("Description") is not None:
                entry["Description"] = str(output["Description"])
            export = output.get("Export")
            if isinstance(export, dict) and "Name" in export:
                entry["ExportName"] = _text(resolver.resolve(export["Name"]))
            found.append(entry)
        return found

    # -- one resource -------------------------------------------------------------------------

    def context(self, stack: Stack, logical: str) -> ResourceContext:
        account, region = stack.account, stack.region

        async def call(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
            return await self.caller(account, region, service, operation, params)

        suffix = "".join(secrets.choice(_RANDOM) for _ in range(12))
        return ResourceContext(
            account,
            region,
            stack.name,
            stack.stack_id,
            logical,
            call,
            generated_name=f"{stack.name}-{logical}-{suffix}",
            tags={"aws:cloudformation:stack-name": stack.name, **stack.tag_map},
        )

    def _provider(self, kind: str) -> ResourceType:
        provider = self.provider_for(kind)
        if provider is None:
            raise ResourceFailed(f"Resource type {kind} is not supported by Fireside")
        return provider

    async def create_resource(
        self, stack: Stack, logical: str, definition: dict[str, Any], resolver: Resolver, *,
        replacing: Resource | None = None,
    ) -> bool:  # fmt: skip
        kind = str(definition["Type"])
        if replacing is None:
            resource = Resource(
                logical,
                kind,
                deletion_policy=str(definition.get("DeletionPolicy", "Delete")),
                update_replace_policy=str(definition.get("UpdateReplacePolicy", "Delete")),
                metadata=definition.get("Metadata"),
            )
            stack.resources[logical] = resource
            progress, complete, failed = "CREATE_IN_PROGRESS", "CREATE_COMPLETE", "CREATE_FAILED"
        else:
            resource = replacing
            progress, complete, failed = "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE", "UPDATE_FAILED"
        try:
            properties = resolver.resolve(definition.get("Properties") or {})
            if contains_unknown(properties):
                raise TemplateError("Template error: a referenced resource is not available")
        except (TemplateError, ServiceError) as error:
            await self.resource_event(stack, resource, failed, failure_reason(error))
            return False
        if replacing is None:
            await self.resource_event(stack, resource, progress)
        else:
            await self.resource_event(
                stack,
                resource,
                progress,
                "Requested update requires the creation of a new physical resource; "
                "hence creating one.",
            )
        try:
            created = await self._provider(kind).create(self.context(stack, logical), properties)
        except Exception as error:
            if not isinstance(error, ResourceFailed | ServiceError):
                log.exception("stack %s: creating %s failed", stack.name, logical)
            await self.resource_event(stack, resource, failed, failure_reason(error))
            return False
        resource.type = kind
        resource.physical_id = created.physical_id
        resource.attributes = created.attributes
        resource.properties = properties
        resource.deletion_policy = str(definition.get("DeletionPolicy", "Delete"))
        resource.update_replace_policy = str(definition.get("UpdateReplacePolicy", "Delete"))
        resource.metadata = definition.get("Metadata")
        initiated = "Resource creation Initiated" if replacing is None else ""
        await self.resource_event(stack, resource, progress, initiated, also=(complete, ""))
        return True

    async def update_resource(
        self, stack: Stack, logical: str, definition: dict[str, Any], resolver: Resolver
    ) -> bool:
        resource = stack.resources[logical]
        kind = str(definition["Type"])
        try:
            properties = resolver.resolve(definition.get("Properties") or {})
        except (TemplateError, ServiceError) as error:
            await self.resource_event(stack, resource, "UPDATE_FAILED", failure_reason(error))
            return False
        resource.deletion_policy = str(definition.get("DeletionPolicy", "Delete"))
        resource.update_replace_policy = str(definition.get("UpdateReplacePolicy", "Delete"))
        resource.metadata = definition.get("Metadata")
        if kind == resource.type and properties == resource.properties:
            return True
        provider = self._provider(kind)
        changed = {
            key
            for key in set(properties) | set(resource.properties)
            if properties.get(key) != resource.properties.get(key)
        }
        resource.old = resource.snapshot()
        replace = kind != resource.type or bool(changed & provider.replace_on)
        if not replace:
            resource.action = "Modify"
            await self.resource_event(stack, resource, "UPDATE_IN_PROGRESS")
            try:
                assert resource.physical_id is not None
                updated = await provider.update(
                    self.context(stack, logical),
                    resource.physical_id,
                    resource.properties,
                    properties,
                )
            except NeedsReplacement:
                replace = True
            except Exception as error:
                if not isinstance(error, ResourceFailed | ServiceError):
                    log.exception("stack %s: updating %s failed", stack.name, logical)
                # Maybe applied in part: the rollback updates back from what was asked.
                resource.old["attempted"] = properties
                await self.resource_event(stack, resource, "UPDATE_FAILED", failure_reason(error))
                return False
            else:
                if updated.physical_id != resource.physical_id:
                    resource.action = "Replace"  # the old one is deleted in the cleanup
                resource.physical_id = updated.physical_id
                resource.attributes = updated.attributes
                resource.properties = properties
                await self.resource_event(stack, resource, "UPDATE_COMPLETE")
                return True
        resource.action = "Replace"
        return await self.create_resource(stack, logical, definition, resolver, replacing=resource)

    async def restore_resource(self, stack: Stack, resource: Resource, old: dict[str, Any]) -> None:
        """Puts an updated-in-place resource back as it was (an update's rollback)."""
        await self.resource_event(stack, resource, "UPDATE_IN_PROGRESS")
        reason = ""
        current = old.get("attempted", resource.properties)
        if resource.physical_id is not None and current != old["properties"]:
            try:
                await self._provider(resource.type).update(
                    self.context(stack, resource.logical_id),
                    resource.physical_id,
                    current,
                    old["properties"],
                )
            except Exception as error:
                reason = failure_reason(error)
        resource.type = old["type"]
        resource.physical_id = old["physical_id"]
        resource.properties = old["properties"]
        resource.attributes = old["attributes"]
        await self.resource_event(
            stack, resource, "UPDATE_FAILED" if reason else "UPDATE_COMPLETE", reason
        )

    async def delete_physical(
        self,
        stack: Stack,
        resource: Resource,
        physical_id: str | None,
        properties: dict[str, Any],
        policy: str,
        kind: str | None = None,
    ) -> bool:
        """Deletes one physical resource (or skips it, as its policy says), with events."""
        shown = Resource(resource.logical_id, kind or resource.type, physical_id)
        if policy in _RETAINED and physical_id is not None:
            await self._event_for(stack, shown, "DELETE_SKIPPED")
            return True
        if physical_id is None:
            await self._event_for(stack, shown, "DELETE_COMPLETE")
            return True
        await self._event_for(stack, shown, "DELETE_IN_PROGRESS")
        try:
            provider = self._provider(shown.type)
            await provider.delete(self.context(stack, resource.logical_id), physical_id, properties)
        except Exception as error:
            if not isinstance(error, ResourceFailed | ServiceError):
                log.exception("stack %s: deleting %s failed", stack.name, resource.logical_id)
            await self._event_for(stack, shown, "DELETE_FAILED", failure_reason(error))
            resource.status, resource.reason = "DELETE_FAILED", failure_reason(error)
            return False
        await self._event_for(stack, shown, "DELETE_COMPLETE")
        return True

    async def _event_for(
        self, stack: Stack, shown: Resource, status: str, reason: str = ""
    ) -> None:
        await self.commit(
            stack,
            [event(stack, shown.logical_id, shown.type, status, shown.physical_id, reason)],
        )

    async def delete_resources(
        self, stack: Stack, logicals: list[str], *, create_rollback: bool = False
    ) -> list[str]:
        """Deletes these resources, dependents first; answers those that failed.
        (`RetainExceptOnCreate` resources are deleted when a create rolls back.)"""
        chosen = set(logicals)
        waits: dict[str, set[str]] = {name: set() for name in chosen}
        definitions = stack.template.get("Resources") or {}
        for name in chosen:
            for target in references(definitions.get(name, {})) | _depends(definitions.get(name)):
                if target in chosen and target != name:
                    waits[target].add(name)
        failed: list[str] = []

        async def one(name: str) -> bool:
            resource = stack.resources[name]
            policy = "Retain" if name in stack.retain else resource.deletion_policy
            if create_rollback and policy == "RetainExceptOnCreate":
                policy = "Delete"
            if resource.status == "CREATE_FAILED" and resource.physical_id is None:
                policy = "Delete"
            ok = await self.delete_physical(
                stack, resource, resource.physical_id, resource.properties, policy
            )
            if ok:
                resource.status = "DELETE_COMPLETE"
            else:
                failed.append(name)
            return True  # keep deleting the others

        await run_graph(waits, one)
        return sorted(failed)


def notification(stack: Stack, record: dict[str, Any]) -> str:
    """A stack event as CloudFormation writes it to a notification topic."""
    when = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record["Timestamp"]))
    fields = [
        ("StackId", record["StackId"]),
        ("Timestamp", f"{when}.{int(record['Timestamp'] % 1 * 1000):03d}Z"),
        ("EventId", record["EventId"]),
        ("LogicalResourceId", record["LogicalResourceId"]),
        ("Namespace", stack.account),
        ("PhysicalResourceId", record.get("PhysicalResourceId", "")),
        ("PrincipalId", stack.account),
        ("ResourceProperties", record.get("ResourceProperties", "null")),
        ("ResourceStatus", record["ResourceStatus"]),
        ("ResourceStatusReason", record.get("ResourceStatusReason", "")),
        ("ResourceType", record["ResourceType"]),
        ("StackName", record["StackName"]),
        ("ClientRequestToken", record.get("ClientRequestToken", "null")),
    ]
    return "".join(f"{name}='{value}'\n" for name, value in fields)


def _depends(definition: dict[str, Any] | None) -> set[str]:
    if not definition:
        return set()
    depends = definition.get("DependsOn", [])
    return {depends} if isinstance(depends, str) else {str(d) for d in depends}


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(_text(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)
