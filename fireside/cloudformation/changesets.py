"""Change sets: a proposed create or update, previewed as the changes it would make
(Add / Modify / Remove, with Replacement True / False / Conditional), then executed or
deleted. `aws cloudformation deploy`, `sam deploy` and `cdk deploy` all go this way.

A change set for a stack that does not exist yet makes the stack, in REVIEW_IN_PROGRESS.
A change set that changes nothing is FAILED with CloudFormation's words, which the tools
read as "no changes to deploy". Executing one runs the stack's create or update; the
stack's other change sets become OBSOLETE.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.cloudformation import operations
from fireside.cloudformation.api import StackApi, check_name, check_tags, not_found
from fireside.cloudformation.graph import references
from fireside.cloudformation.intrinsics import TemplateError, contains_unknown
from fireside.cloudformation.model import ChangeSet, Stack
from fireside.cloudformation.plan import Plan
from fireside.cloudformation.template import MAX_URL_BODY, parse_template, validation
from fireside.cloudformation.views import change_set_summary, page

__all__ = ["ChangeSetApi"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

EMPTY: Final = (
    "The submitted information didn't contain changes. Submit different information to "
    "create a change set."
)
_NAME_MAX: Final = 128
_PAGE: Final = 100
_MAX_PER_STACK: Final = 1000


def _change_set_missing(name: str) -> ServiceError:
    return ServiceError("ChangeSetNotFoundException", f"ChangeSet [{name}] does not exist", 404)


class ChangeSetApi:
    def __init__(self, stacks: StackApi) -> None:
        self.stacks = stacks
        self.engine = stacks.engine
        self.change_sets: dict[str, ChangeSet] = {
            c.change_set_id: c for c in self.engine.store.change_sets()
        }
        stacks.change_set_lookup = self.lookup
        self.engine.on_settled.append(self._settled)

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateChangeSet": self.create_change_set,
            "DescribeChangeSet": self.describe_change_set,
            "ExecuteChangeSet": self.execute_change_set,
            "DeleteChangeSet": self.delete_change_set,
            "ListChangeSets": self.list_change_sets,
        }

    def lookup(self, ctx: RequestContext, name: str, stack_name: Any) -> ChangeSet:
        for change_set in self.change_sets.values():
            if change_set.account != ctx.account_id or change_set.region != ctx.region:
                continue
            if change_set.change_set_id == name:
                return change_set
            if change_set.name == name and stack_name in (
                change_set.stack_name,
                change_set.stack_id,
            ):
                return change_set
        if not name.startswith("arn:") and stack_name is None:
            raise validation(
                "StackName must be specified if ChangeSetName is not specified as an ARN."
            )
        raise _change_set_missing(name)

    async def create_change_set(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        stack_name = str(params["StackName"])
        name = str(params["ChangeSetName"])
        if len(name) > _NAME_MAX or not name[:1].isalpha():
            raise validation(
                f"1 validation error detected: Value '{name}' at 'changeSetName' failed to "
                "satisfy constraint: Member must satisfy regular expression pattern: "
                "[a-zA-Z][-a-zA-Z0-9]*"
            )
        kind = str(params.get("ChangeSetType", "UPDATE"))
        if kind == "IMPORT":
            raise validation("Fireside does not import existing resources (ChangeSetType IMPORT)")
        stack = self.stacks.find(ctx, stack_name)
        if kind == "CREATE":
            check_name(stack_name)
            if stack is None:
                self.stacks.check_stack_quota(ctx)
            if stack is not None and stack.status != "REVIEW_IN_PROGRESS":
                raise validation(
                    f"Stack [{stack_name}] already exists and cannot be created again with "
                    f"the changeSet [{name}]."
                )
        elif stack is None:
            raise validation(f"Stack [{stack_name}] does not exist")
        elif stack.status == "REVIEW_IN_PROGRESS":
            raise validation(
                f"Stack [{stack_name}] does not exist"  # an UPDATE of a stack never created
            )
        else:
            StackApi.check_updatable(stack)
        if stack is not None and any(
            c.name == name and c.stack_id == stack.stack_id for c in self.change_sets.values()
        ):
            raise ServiceError("AlreadyExistsException", f"ChangeSet {name} already exists", 400)
        if stack is not None and (
            sum(c.stack_id == stack.stack_id for c in self.change_sets.values()) >= _MAX_PER_STACK
        ):
            raise ServiceError(
                "LimitExceededException",
                f"A stack may have at most {_MAX_PER_STACK} change sets",
                400,
            )
        previous = stack.raw_parameters if stack is not None and kind == "UPDATE" else {}
        if params.get("UsePreviousTemplate"):
            if stack is None or kind != "UPDATE":
                raise validation("UsePreviousTemplate can only be used with an existing stack")
            text = stack.template_body
            template = await asyncio.to_thread(parse_template, text, MAX_URL_BODY)
        else:
            found = await self.stacks.template_of(ctx, params)
            assert found is not None
            text, template = found
        stack_id = stack.stack_id if stack is not None else self.stacks.stack_id(ctx, stack_name)
        plan = await self.stacks.plan(
            ctx, stack_name, stack_id, template, params, previous, change_set=True
        )
        self.stacks.check_imports(ctx, stack_name, plan)
        if stack is None:
            stack = Stack(stack_id, stack_name, ctx.account_id, ctx.region, "REVIEW_IN_PROGRESS")
            self.engine.stacks[stack_id] = stack
            await self.engine.set_status(stack, "REVIEW_IN_PROGRESS", "User Initiated")
        tags = check_tags(list(params["Tags"])) if "Tags" in params else stack.tags
        change_set = ChangeSet(
            f"arn:aws:cloudformation:{ctx.region}:{ctx.account_id}:changeSet/{name}/{uuid.uuid4()}",
            name,
            stack.stack_id,
            stack.name,
            ctx.account_id,
            ctx.region,
            kind,
            description=params.get("Description"),
            template_body=text,
            template=plan.template,
            parameters=plan.parameters.described,
            raw_parameters=plan.parameters.raw,
            parameter_values=plan.parameters.values,
            capabilities=list(params.get("Capabilities") or []),
            tags=tags,
            notification_arns=list(params.get("NotificationARNs") or stack.notification_arns),
            role_arn=params.get("RoleARN"),
            on_failure=params.get("OnStackFailure"),
            include_nested=bool(params.get("IncludeNestedStacks")),
        )
        change_set.changes = self.changes(stack, plan, kind)
        unchanged = (
            kind == "UPDATE"
            and not change_set.changes
            and plan.template == stack.template
            and plan.parameters.raw == stack.raw_parameters
            and tags == stack.tags
        )
        if unchanged:
            change_set.status, change_set.reason = "FAILED", EMPTY
        else:
            change_set.status, change_set.execution_status = "CREATE_COMPLETE", "AVAILABLE"
        self.change_sets[change_set.change_set_id] = change_set
        await self.engine.store.save(None, change_sets=[change_set])
        return {"Id": change_set.change_set_id, "StackId": stack.stack_id}

    def changes(self, stack: Stack, plan: Plan, kind: str) -> list[dict[str, Any]]:
        """The resource changes executing the plan would make (a preview: values that
        depend on resources made or replaced by it are unknown)."""
        preview = Stack(
            stack.stack_id,
            stack.name,
            stack.account,
            stack.region,
            stack.status,
            template=plan.template,
            parameter_values=plan.parameters.values,
            notification_arns=stack.notification_arns,
            resources=dict(stack.resources) if kind == "UPDATE" else {},
        )
        unknown: set[str] = set()
        resolver = self.engine.resolver(preview, unknown=frozenset())
        try:
            active = self.engine.active(preview, resolver)
        except TemplateError as error:
            raise validation(str(error)) from None
        order = _topological(active)
        changed_parameters = {
            key
            for key in set(plan.parameters.raw) | set(stack.raw_parameters)
            if plan.parameters.raw.get(key) != stack.raw_parameters.get(key)
        }
        found: list[dict[str, Any]] = []
        for logical in order:
            definition = active[logical]
            existing = preview.resources.get(logical)
            kind_name = str(definition["Type"])
            if existing is None:
                unknown.add(logical)
                found.append(_change("Add", logical, kind_name))
                continue
            resolver = self.engine.resolver(preview, unknown=frozenset(unknown))
            try:
                new = resolver.resolve(definition.get("Properties") or {})
            except (TemplateError, ServiceError):
                new = {"": None}  # unresolvable now: shown as a dynamic change
            details = []
            replacement = "False"
            provider = self.engine.provider_for(kind_name)
            replace_on = provider.replace_on if provider is not None else frozenset()
            for key in sorted(set(new) | set(existing.properties)):
                if not key or new.get(key) == existing.properties.get(key):
                    continue
                dynamic = contains_unknown(new.get(key))
                recreate = key in replace_on
                if recreate:
                    replacement = "True" if not dynamic and replacement != "True" else replacement
                    if dynamic and replacement == "False":
                        replacement = "Conditional"
                detail: dict[str, Any] = {
                    "Target": {
                        "Attribute": "Properties",
                        "Name": key,
                        "RequiresRecreation": "Always" if recreate else "Never",
                    },
                    "Evaluation": "Dynamic" if dynamic else "Static",
                    "ChangeSource": "DirectModification",
                }
                named = references((definition.get("Properties") or {}).get(key))
                causes = (
                    sorted(named & unknown)
                    if dynamic
                    else sorted(n for n in named if n in changed_parameters)
                )
                if causes:
                    detail["ChangeSource"] = (
                        "ResourceReference" if dynamic else "ParameterReference"
                    )
                    detail["CausingEntity"] = causes[0]
                details.append(detail)
            if kind_name != existing.type:
                replacement = "True"
            if not details and kind_name == existing.type and "" not in new:
                continue
            if replacement == "True":
                unknown.add(logical)
            change = _change("Modify", logical, kind_name, existing.physical_id)
            change["ResourceChange"]["Replacement"] = replacement
            change["ResourceChange"]["Scope"] = ["Properties"]
            change["ResourceChange"]["Details"] = details
            found.append(change)
        for logical, resource in stack.resources.items():
            if kind == "UPDATE" and logical not in active and resource.status != "DELETE_COMPLETE":
                found.append(_change("Remove", logical, resource.type, resource.physical_id))
        return found

    async def describe_change_set(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        change_set = self.lookup(ctx, str(params["ChangeSetName"]), params.get("StackName"))
        chunk, token = page(
            change_set.changes, params.get("NextToken"), _PAGE, change_set.change_set_id
        )
        out: dict[str, Any] = {
            **change_set_summary(change_set),
            "Parameters": change_set.parameters,
            "NotificationARNs": change_set.notification_arns,
            "RollbackConfiguration": {},
            "Capabilities": change_set.capabilities,
            "Tags": change_set.tags,
            "Changes": chunk,
        }
        if change_set.on_failure:
            out["OnStackFailure"] = change_set.on_failure
        if token:
            out["NextToken"] = token
        return out

    async def list_change_sets(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stack = self.stacks.get(ctx, str(params["StackName"]))
        found = [c for c in self.change_sets.values() if c.stack_id == stack.stack_id]
        chunk, token = page(found, params.get("NextToken"), _PAGE, stack.stack_id)
        out: dict[str, Any] = {"Summaries": [change_set_summary(c) for c in chunk]}
        if token:
            out["NextToken"] = token
        return out

    async def delete_change_set(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        change_set = self.lookup(ctx, str(params["ChangeSetName"]), params.get("StackName"))
        if change_set.execution_status == "EXECUTE_IN_PROGRESS":
            raise ServiceError(
                "InvalidChangeSetStatusException",
                f"Cannot delete ChangeSet {change_set.change_set_id} in status "
                f"{change_set.execution_status}",
                400,
            )
        del self.change_sets[change_set.change_set_id]
        await self.engine.store.drop_change_set(change_set.change_set_id)
        return {}

    async def execute_change_set(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        change_set = self.lookup(ctx, str(params["ChangeSetName"]), params.get("StackName"))
        if change_set.status != "CREATE_COMPLETE" or change_set.execution_status != "AVAILABLE":
            raise ServiceError(
                "InvalidChangeSetStatusException",
                f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current "
                f"status of [{change_set.status}]",
                400,
            )
        stack = self.engine.stacks.get(change_set.stack_id)
        if stack is None:
            raise not_found(change_set.stack_name)
        plan = Plan(change_set.template, _resolved(change_set), {})
        settings = {
            "Capabilities": change_set.capabilities,
            "ClientRequestToken": params.get("ClientRequestToken"),
            "NotificationARNs": change_set.notification_arns,
        }
        if params.get("DisableRollback") is not None:
            settings["DisableRollback"] = params["DisableRollback"]
        if change_set.kind == "CREATE":
            if stack.status != "REVIEW_IN_PROGRESS":
                raise validation(f"Stack [{stack.name}] already exists")
            StackApi.apply_plan(stack, change_set.template_body, plan)
            stack.tags = change_set.tags
            stack.capabilities = change_set.capabilities
            stack.notification_arns = change_set.notification_arns
            stack.client_token = params.get("ClientRequestToken")
            stack.change_set_id = change_set.change_set_id
            stack.disable_rollback = bool(params.get("DisableRollback")) or (
                change_set.on_failure == "DO_NOTHING"
            )
            stack.on_failure_delete = change_set.on_failure == "DELETE"
            stack.created = change_set.created
            await self._executing(change_set, stack)
            await self.engine.set_status(stack, "CREATE_IN_PROGRESS", "User Initiated")
            await self.engine.submit(stack, lambda: operations.create(self.engine, stack))
        else:
            StackApi.check_updatable(stack)
            await self._executing(change_set, stack)
            await self.stacks.begin_update(
                stack,
                change_set.template_body,
                plan,
                settings,
                change_set.tags,
                change_set.change_set_id,
            )
        return {}

    async def _executing(self, change_set: ChangeSet, stack: Stack) -> None:
        change_set.execution_status = "EXECUTE_IN_PROGRESS"
        touched = [change_set]
        for other in self.change_sets.values():
            if other.stack_id == stack.stack_id and other is not change_set:
                other.execution_status = "OBSOLETE"
                touched.append(other)
        await self.engine.store.save(None, change_sets=touched)

    async def _settled(self, stack: Stack) -> None:
        if stack.status == "DELETE_COMPLETE":  # a deleted stack's change sets go with it
            for change_set in [
                c for c in self.change_sets.values() if c.stack_id == stack.stack_id
            ]:
                del self.change_sets[change_set.change_set_id]
                await self.engine.store.drop_change_set(change_set.change_set_id)
            return
        touched = []
        for change_set in self.change_sets.values():
            if (
                change_set.stack_id == stack.stack_id
                and change_set.execution_status == "EXECUTE_IN_PROGRESS"
                and not stack.in_progress
            ):
                ok = stack.status in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
                change_set.execution_status = "EXECUTE_COMPLETE" if ok else "EXECUTE_FAILED"
                touched.append(change_set)
        if touched:
            await self.engine.store.save(None, change_sets=touched)


def _resolved(change_set: ChangeSet) -> Any:
    from fireside.cloudformation.parameters import Resolved

    return Resolved(change_set.parameter_values, change_set.parameters, change_set.raw_parameters)


def _change(action: str, logical: str, kind: str, physical: str | None = None) -> dict[str, Any]:
    change: dict[str, Any] = {
        "Action": action,
        "LogicalResourceId": logical,
        "ResourceType": kind,
        "Scope": [],
        "Details": [],
    }
    if physical:
        change["PhysicalResourceId"] = physical
    return {"Type": "Resource", "ResourceChange": change}


def _topological(active: dict[str, dict[str, Any]]) -> list[str]:
    waits = {
        logical: (references(definition) | _depends(definition)) & set(active) - {logical}
        for logical, definition in active.items()
    }
    order: list[str] = []
    while waits:
        ready = sorted(n for n, deps in waits.items() if not deps) or sorted(waits)[:1]
        for name in ready:
            order.append(name)
            del waits[name]
        for deps in waits.values():
            deps.difference_update(ready)
    return order


def _depends(definition: dict[str, Any]) -> set[str]:
    depends = definition.get("DependsOn", [])
    return {depends} if isinstance(depends, str) else {str(d) for d in depends}
