"""The CloudFormation API's stack operations that change stacks (query protocol); the
reads are `fireside.cloudformation.reads`'s.

Requests are checked and their templates prepared (`plan.prepare`) before anything is
committed, so what CloudFormation refuses at once is refused here with its message; the
operation itself then runs in the background (`Engine.submit`) and is watched through
DescribeStacks and DescribeStackEvents, as on AWS. Stacks belong to an account and region:
another account's stack is a stack that does not exist.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.cloudformation import exports, operations
from fireside.cloudformation.engine import Engine, ServiceCaller
from fireside.cloudformation.intrinsics import Pseudo, TemplateError
from fireside.cloudformation.model import Stack
from fireside.cloudformation.plan import (
    Plan,
    Transformer,
    prepare,
    resolver_for,
)
from fireside.cloudformation.sources import Sources
from fireside.cloudformation.template import MAX_BODY, MAX_URL_BODY, parse_template, validation

__all__ = ["StackApi"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

_NAME: Final = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]{0,127}$")
_PAGE: Final = 100
_MAX_TAGS: Final = 50
_MAX_STACKS: Final = 2000  # per account and region, AWS's default quota
_UPDATABLE: Final = frozenset(
    {
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)


def not_found(name: str) -> ServiceError:
    return validation(f"Stack with id {name} does not exist")


def check_name(name: str) -> None:
    if not _NAME.match(name):
        raise validation(
            f"1 validation error detected: Value '{name}' at 'stackName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"
        )


def check_tags(tags: list[dict[str, Any]]) -> list[dict[str, str]]:
    if len(tags) > _MAX_TAGS:
        raise validation(f"The number of tags must not exceed {_MAX_TAGS}")
    return [{"Key": str(t.get("Key", "")), "Value": str(t.get("Value", ""))} for t in tags]


class StackApi:
    def __init__(
        self,
        engine: Engine,
        caller: ServiceCaller,
        known_types: Callable[[str], bool],
        transform: Callable[[RequestContext], Transformer] | None = None,
    ) -> None:
        self.engine = engine
        self.caller = caller
        self.sources = Sources(caller)
        self.known_types = known_types
        self.transform = transform

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateStack": self.create_stack,
            "UpdateStack": self.update_stack,
            "DeleteStack": self.delete_stack,
            "UpdateTerminationProtection": self.update_termination_protection,
            "CancelUpdateStack": self.cancel_update_stack,
        }

    # -- lookups ------------------------------------------------------------------------------

    def find(self, ctx: RequestContext, name: str) -> Stack | None:
        """A stack by name (the live one) or by id (deleted ones too), in the caller's
        account and region."""
        for stack in self.engine.stacks.values():
            if stack.account != ctx.account_id or stack.region != ctx.region:
                continue
            if stack.stack_id == name or (
                stack.name == name and stack.deleted is None and stack.status != "DELETE_COMPLETE"
            ):
                return stack
        return None

    def get(self, ctx: RequestContext, name: str) -> Stack:
        stack = self.find(ctx, name)
        if stack is None:
            raise not_found(name)
        return stack

    async def read_ssm(self, ctx: RequestContext, name: str) -> str:
        found = await self.caller(ctx.account_id, ctx.region, "ssm", "GetParameter", {"Name": name})
        return str(found["Parameter"]["Value"])

    async def template_of(
        self, ctx: RequestContext, params: dict[str, Any], required: bool = True
    ) -> tuple[str, dict[str, Any]] | None:
        """(text, document) of the request's template."""
        text = await self.sources.body(ctx.account_id, ctx.region, params)
        if text is None:
            if required:
                raise validation("Either Template URL or Template Body must be specified.")
            return None
        limit = MAX_URL_BODY if params.get("TemplateURL") is not None else MAX_BODY
        # A megabyte of YAML takes a while to read: off the event loop.
        return text, await asyncio.to_thread(parse_template, text, limit)

    async def plan(
        self,
        ctx: RequestContext,
        stack_name: str,
        stack_id: str,
        template: dict[str, Any],
        params: dict[str, Any],
        previous: dict[str, str],
        *,
        check_caps: bool = True,
        check_params: bool = True,
        change_set: bool = False,
    ) -> Plan:
        return await prepare(
            template,
            given=list(params.get("Parameters") or []),
            previous=previous,
            capabilities=list(params.get("Capabilities") or []),
            read_ssm=lambda name: self.read_ssm(ctx, name),
            known_types=self.known_types,
            pseudo=Pseudo(
                ctx.account_id,
                ctx.region,
                stack_name,
                stack_id,
                list(params.get("NotificationARNs") or []),
                url_suffix=self.engine.url_suffix,
            ),
            transform=self.transform(ctx) if self.transform is not None else None,
            check_caps=check_caps,
            check_parameters=check_params,
            change_set=change_set,
        )

    def check_imports(self, ctx: RequestContext, stack_name: str, plan: Plan) -> None:
        """CloudFormation refuses a template importing an export that does not exist."""
        pseudo = Pseudo(
            ctx.account_id, ctx.region, stack_name, "", url_suffix=self.engine.url_suffix
        )
        resolver = resolver_for(pseudo, plan.template, plan.parameters.values)
        for argument in _imports(plan.template.get("Resources"), plan.template.get("Outputs")):
            try:
                wanted = resolver.resolve(argument)
            except TemplateError:
                continue  # depends on a resource: checked when resolved
            if not isinstance(wanted, str):
                continue
            if (
                exports.find(self.engine.stacks.values(), ctx.account_id, ctx.region, wanted)
                is None
            ):
                raise validation(f"No export named {wanted} found.")

    def check_stack_quota(self, ctx: RequestContext) -> None:
        live = sum(
            1
            for s in self.engine.stacks.values()
            if s.account == ctx.account_id
            and s.region == ctx.region
            and s.status != "DELETE_COMPLETE"
        )
        if live >= _MAX_STACKS:
            raise ServiceError(
                "LimitExceededException",
                f"Limit on the number of stacks has been exceeded ({_MAX_STACKS})",
                400,
            )

    @staticmethod
    def stack_id(ctx: RequestContext, name: str) -> str:
        return f"arn:aws:cloudformation:{ctx.region}:{ctx.account_id}:stack/{name}/{uuid.uuid4()}"

    #: Set by the change-set API: finds a change set (for GetTemplate).
    change_set_lookup: Callable[[RequestContext, str, Any], Any]

    # -- create, update, delete ---------------------------------------------------------------

    async def create_stack(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params["StackName"])
        check_name(name)
        if params.get("DisableRollback") is not None and params.get("OnFailure") is not None:
            raise validation("You cannot specify both DisableRollback and OnFailure.")
        if self.find(ctx, name) is not None:
            raise ServiceError("AlreadyExistsException", f"Stack [{name}] already exists", 400)
        self.check_stack_quota(ctx)
        found = await self.template_of(ctx, params)
        assert found is not None
        text, template = found
        stack_id = self.stack_id(ctx, name)
        plan = await self.plan(ctx, name, stack_id, template, params, {})
        self.check_imports(ctx, name, plan)
        if self.find(ctx, name) is not None:  # made while this one was being prepared
            raise ServiceError("AlreadyExistsException", f"Stack [{name}] already exists", 400)
        on_failure = params.get("OnFailure", "ROLLBACK")
        stack = Stack(
            stack_id,
            name,
            ctx.account_id,
            ctx.region,
            "CREATE_IN_PROGRESS",
            client_token=params.get("ClientRequestToken"),
            tags=check_tags(list(params.get("Tags") or [])),
            capabilities=list(params.get("Capabilities") or []),
            notification_arns=list(params.get("NotificationARNs") or []),
            disable_rollback=bool(params.get("DisableRollback")) or on_failure == "DO_NOTHING",
            on_failure_delete=on_failure == "DELETE",
            termination_protection=bool(params.get("EnableTerminationProtection")),
            timeout=params.get("TimeoutInMinutes"),
            role_arn=params.get("RoleARN"),
        )
        self.apply_plan(stack, text, plan)
        self.engine.stacks[stack_id] = stack
        await self.engine.set_status(stack, "CREATE_IN_PROGRESS", "User Initiated")
        await self.engine.submit(stack, lambda: operations.create(self.engine, stack))
        return {"StackId": stack_id}

    @staticmethod
    def apply_plan(stack: Stack, text: str, plan: Plan) -> None:
        stack.touch_templates()
        stack.template_body = text
        stack.template = plan.template
        description = plan.template.get("Description")
        stack.description = None if description is None else str(description)
        stack.parameters = plan.parameters.described
        stack.raw_parameters = plan.parameters.raw
        stack.parameter_values = plan.parameters.values

    async def update_stack(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stack = self.get(ctx, str(params["StackName"]))
        self.check_updatable(stack)
        if params.get("UsePreviousTemplate"):
            if params.get("TemplateBody") is not None or params.get("TemplateURL") is not None:
                raise validation(
                    "You cannot specify both usePreviousTemplate and Template Body/Template Url"
                )
            text = stack.template_body
            template = await asyncio.to_thread(parse_template, text, MAX_URL_BODY)
        else:
            found = await self.template_of(ctx, params)
            assert found is not None
            text, template = found
        plan = await self.plan(
            ctx, stack.name, stack.stack_id, template, params, stack.raw_parameters
        )
        self.check_imports(ctx, stack.name, plan)
        self.check_updatable(stack)
        tags = check_tags(list(params["Tags"])) if "Tags" in params else stack.tags
        if (
            plan.template == stack.template
            and plan.parameters.raw == stack.raw_parameters
            and tags == stack.tags
        ):
            raise validation("No updates are to be performed.")
        await self.begin_update(stack, text, plan, params, tags)
        return {"StackId": stack.stack_id}

    @staticmethod
    def check_updatable(stack: Stack) -> None:
        if stack.status not in _UPDATABLE:
            raise validation(
                f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated."
            )

    async def begin_update(
        self,
        stack: Stack,
        text: str,
        plan: Plan,
        params: dict[str, Any],
        tags: list[dict[str, str]],
        change_set_id: str | None = None,
    ) -> None:
        self.stage_update(stack, text, plan, params, tags, change_set_id)
        await self.engine.set_status(stack, "UPDATE_IN_PROGRESS", "User Initiated")
        await self.engine.submit(stack, lambda: operations.update(self.engine, stack))

    def stage_update(
        self,
        stack: Stack,
        text: str,
        plan: Plan,
        params: dict[str, Any],
        tags: list[dict[str, str]],
        change_set_id: str | None = None,
    ) -> None:
        """Puts the update's template and parameters on the stack, the old ones aside."""
        stack.previous = {
            "template": stack.template,
            "template_body": stack.template_body,
            "parameters": stack.parameters,
            "raw_parameters": stack.raw_parameters,
            "parameter_values": stack.parameter_values,
            "outputs": stack.outputs,
            "imports": stack.imports,
            "tags": stack.tags,
            "description": stack.description,
        }
        self.apply_plan(stack, text, plan)
        stack.tags = tags
        stack.capabilities = list(params.get("Capabilities") or [])
        stack.client_token = params.get("ClientRequestToken")
        stack.change_set_id = change_set_id
        if params.get("DisableRollback") is not None:
            stack.disable_rollback = bool(params["DisableRollback"])
        if "NotificationARNs" in params:
            stack.notification_arns = list(params["NotificationARNs"])
        stack.updated = time.time()

    async def delete_stack(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        stack = self.find(ctx, str(params["StackName"]))
        if stack is None or stack.status == "DELETE_COMPLETE":
            return {}
        if stack.termination_protection:
            raise validation(
                f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled"
            )
        retain = list(params.get("RetainResources") or [])
        if retain and stack.status != "DELETE_FAILED":
            raise validation(
                f"Invalid operation on stack [{stack.stack_id}]. RetainResources can only be "
                "specified when the stack is in the DELETE_FAILED state"
            )
        stack.retain = retain
        stack.client_token = params.get("ClientRequestToken")
        if stack.status == "REVIEW_IN_PROGRESS":
            stack.deleted = time.time()
            await self.engine.set_status(stack, "DELETE_COMPLETE")
            for listener in self.engine.on_settled:
                await listener(stack)
            return {}
        if stack.status == "DELETE_IN_PROGRESS":
            return {}
        if not stack.in_progress:  # else it begins once the running operation ends
            await self.engine.set_status(stack, "DELETE_IN_PROGRESS", "User Initiated")
        await self.engine.submit(stack, lambda: operations.delete(self.engine, stack))
        return {}

    async def cancel_update_stack(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        stack = self.get(ctx, str(params["StackName"]))
        if stack.status != "UPDATE_IN_PROGRESS":
            raise validation("CancelUpdateStack cannot be called from current stack status")
        self.engine.cancelling.add(stack.stack_id)
        return {}

    async def update_termination_protection(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        stack = self.get(ctx, str(params["StackName"]))
        stack.termination_protection = bool(params["EnableTerminationProtection"])
        await self.engine.store.save(stack)
        return {"StackId": stack.stack_id}


def _imports(*sections: Any) -> list[Any]:
    """The arguments of every `Fn::ImportValue` in these template sections."""
    found: list[Any] = []
    pending = list(sections)
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            if len(value) == 1 and "Fn::ImportValue" in value:
                found.append(value["Fn::ImportValue"])
            else:
                pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)
    return found
