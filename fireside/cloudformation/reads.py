"""The CloudFormation API's read operations: stacks, their events, resources and
templates, template validation and summaries, exports and imports.

Everything here answers from the engine's records in memory (events from the store), for
the caller's account and region only.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.cloudformation import exports
from fireside.cloudformation.api import StackApi
from fireside.cloudformation.graph import check_functions
from fireside.cloudformation.parameters import Resolved
from fireside.cloudformation.plan import Plan, has_transform, needed_capabilities
from fireside.cloudformation.template import MAX_URL_BODY, parse_template, validation
from fireside.cloudformation.views import (
    newest_first_page,
    page,
    resource_detail,
    resource_summary,
    stack_resource,
    stack_summary,
    stack_view,
)

__all__ = ["StackReads"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

_PAGE: Final = 100


class StackReads:
    def __init__(self, api: StackApi) -> None:
        self.api = api
        self.engine = api.engine

    def operations(self) -> dict[str, Operation]:
        return {
            "DescribeStacks": self.describe_stacks,
            "ListStacks": self.list_stacks,
            "DescribeStackEvents": self.describe_stack_events,
            "DescribeStackResource": self.describe_stack_resource,
            "DescribeStackResources": self.describe_stack_resources,
            "ListStackResources": self.list_stack_resources,
            "GetTemplate": self.get_template,
            "GetTemplateSummary": self.get_template_summary,
            "ValidateTemplate": self.validate_template,
            "ListExports": self.list_exports,
            "ListImports": self.list_imports,
        }

    # -- stacks --------------------------------------------------------------------------------

    async def describe_stacks(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = params.get("StackName")
        if name is not None:
            return {"Stacks": [stack_view(self.api.get(ctx, str(name)))]}
        stacks = [
            s
            for s in self.engine.stacks.values()
            if s.account == ctx.account_id and s.region == ctx.region
            and s.status != "DELETE_COMPLETE"
        ]  # fmt: skip
        stacks.sort(key=lambda s: -s.created)
        chunk, token = newest_first_page(stacks, params.get("NextToken"), _PAGE, "DescribeStacks")
        out: dict[str, Any] = {"Stacks": [stack_view(s) for s in chunk]}
        if token:
            out["NextToken"] = token
        return out

    async def list_stacks(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        wanted = set(params.get("StackStatusFilter") or [])
        stacks = [
            s
            for s in self.engine.stacks.values()
            if s.account == ctx.account_id and s.region == ctx.region
            and (not wanted or s.status in wanted)
        ]  # fmt: skip
        stacks.sort(key=lambda s: -s.created)
        chunk, token = newest_first_page(stacks, params.get("NextToken"), _PAGE, "ListStacks")
        out: dict[str, Any] = {"StackSummaries": [stack_summary(s) for s in chunk]}
        if token:
            out["NextToken"] = token
        return out

    async def describe_stack_events(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        stack = self.api.get(ctx, str(params["StackName"]))
        events = await asyncio.to_thread(self.engine.store.events, stack.stack_id)
        chunk, token = newest_first_page(events, params.get("NextToken"), _PAGE, stack.stack_id)
        out: dict[str, Any] = {"StackEvents": chunk}
        if token:
            out["NextToken"] = token
        return out

    async def describe_stack_resource(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        stack = self.api.get(ctx, str(params["StackName"]))
        logical = str(params["LogicalResourceId"])
        resource = stack.resources.get(logical)
        if resource is None:
            raise validation(f"Resource {logical} does not exist for stack {stack.name}")
        return {"StackResourceDetail": resource_detail(stack, resource)}

    async def describe_stack_resources(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        name, physical = params.get("StackName"), params.get("PhysicalResourceId")
        if name is None and physical is None:
            raise validation("Either StackName or PhysicalResourceId must be specified.")
        if name is not None:
            stack = self.api.get(ctx, str(name))
        else:
            owner = next(
                (
                    s
                    for s in self.engine.stacks.values()
                    if s.account == ctx.account_id
                    and s.region == ctx.region
                    and s.status != "DELETE_COMPLETE"
                    and any(r.physical_id == physical for r in s.resources.values())
                ),
                None,
            )
            if owner is None:
                raise validation(f"Stack for {physical} does not exist")
            stack = owner
        logical = params.get("LogicalResourceId")
        resources = [
            stack_resource(stack, r)
            for r in stack.resources.values()
            if logical is None or r.logical_id == logical
        ]
        return {"StackResources": resources}

    async def list_stack_resources(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        stack = self.api.get(ctx, str(params["StackName"]))
        resources = [r for r in stack.resources.values() if not r.removed]
        chunk, token = page(resources, params.get("NextToken"), _PAGE, stack.stack_id)
        out: dict[str, Any] = {"StackResourceSummaries": [resource_summary(r) for r in chunk]}
        if token:
            out["NextToken"] = token
        return out

    async def get_template(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:

        stage = params.get("TemplateStage", "Original")
        change_set = params.get("ChangeSetName")
        if change_set is not None:
            found = self.api.change_set_lookup(ctx, str(change_set), params.get("StackName"))
            body, processed = found.template_body, found.template
        else:
            stack = self.api.get(ctx, str(params.get("StackName", "")))
            body, processed = stack.template_body, stack.template
        text = body
        if stage == "Processed" and processed != await asyncio.to_thread(
            parse_template, body, MAX_URL_BODY
        ):
            text = json.dumps(processed)
        return {"TemplateBody": text, "StagesAvailable": ["Original", "Processed"]}

    async def _summary_template(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        if params.get("StackName") is not None:
            body = self.api.get(ctx, str(params["StackName"])).template_body
            return await asyncio.to_thread(parse_template, body, MAX_URL_BODY)
        found = await self.api.template_of(ctx, params)
        assert found is not None
        return found[1]

    async def _checked(self, ctx: RequestContext, template: dict[str, Any]) -> Plan:
        """The template checked as CreateStack would, parameters and capabilities aside.
        A template with transforms is checked as written, not expanded (as AWS does: an
        unpackaged SAM template validates)."""
        if has_transform(template):
            for section in ("Resources", "Outputs", "Conditions", "Rules"):
                check_functions(template.get(section))
            if not isinstance(template.get("Resources"), dict) or not template["Resources"]:
                raise validation(
                    "Template format error: At least one Resources member must be defined."
                )
            return Plan(template, Resolved({}, [], {}), {})
        return await self.api.plan(
            ctx, "validate", "validate", template, {}, {}, check_caps=False, check_params=False
        )

    async def validate_template(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        found = await self.api.template_of(ctx, params)
        assert found is not None
        template = found[1]
        plan = await self._checked(ctx, template)
        out: dict[str, Any] = {"Parameters": _declared(template, summary=False)}
        if template.get("Description") is not None:
            out["Description"] = str(template["Description"])
        needs = needed_capabilities(plan.template)
        if needs:
            out["Capabilities"] = needs
            out["CapabilitiesReason"] = (
                "The following resource(s) require capabilities: ["
                + (
                    ", ".join(
                        sorted(
                            {
                                r["Type"]
                                for r in plan.template["Resources"].values()
                                if str(r["Type"]).startswith("AWS::IAM::")
                            }
                        )
                    )
                )
                + "]"
            )
        transforms = template.get("Transform")
        if transforms:
            out["DeclaredTransforms"] = transforms if isinstance(transforms, list) else [transforms]
        return out

    async def get_template_summary(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        template = await self._summary_template(ctx, params)
        plan = await self._checked(ctx, template)
        processed = plan.template
        out: dict[str, Any] = {
            "Parameters": _declared(template, summary=True),
            "ResourceTypes": sorted(
                {str(r.get("Type")) for r in (processed.get("Resources") or {}).values()}
            ),
            "Version": str(template.get("AWSTemplateFormatVersion", "2010-09-09")),
        }
        if template.get("Description") is not None:
            out["Description"] = str(template["Description"])
        if template.get("Metadata") is not None:
            out["Metadata"] = json.dumps(template["Metadata"])
        needs = needed_capabilities(processed)
        if has_transform(template):
            needs = [*needs, "CAPABILITY_AUTO_EXPAND"]
        if needs:
            out["Capabilities"] = needs
            out["CapabilitiesReason"] = "The following resource(s) require capabilities"
        transforms = template.get("Transform")
        if transforms:
            out["DeclaredTransforms"] = transforms if isinstance(transforms, list) else [transforms]
        return out

    # -- exports ------------------------------------------------------------------------------

    async def list_exports(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        found = exports.listed(self.engine.stacks.values(), ctx.account_id, ctx.region)
        chunk, token = page(found, params.get("NextToken"), _PAGE, "ListExports")
        out: dict[str, Any] = {
            "Exports": [
                {"ExportingStackId": stack.stack_id, "Name": name, "Value": value}
                for stack, name, value in chunk
            ]
        }
        if token:
            out["NextToken"] = token
        return out

    async def list_imports(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        name = str(params["ExportName"])
        users = exports.importers(self.engine.stacks.values(), ctx.account_id, ctx.region, name)
        if not users:
            raise validation(f"Export '{name}' is not imported by any stack.")
        chunk, token = page(users, params.get("NextToken"), _PAGE, "ListImports")
        out: dict[str, Any] = {"Imports": chunk}
        if token:
            out["NextToken"] = token
        return out


def _declared(template: dict[str, Any], *, summary: bool) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    declared = template.get("Parameters") or {}
    if not isinstance(declared, dict):
        return found
    for key, spec in declared.items():
        if not isinstance(spec, dict):
            continue
        entry: dict[str, Any] = {
            "ParameterKey": key,
            "NoEcho": str(spec.get("NoEcho", "false")).lower() == "true",
        }
        if "Default" in spec:
            default = spec["Default"]
            entry["DefaultValue"] = (
                ",".join(map(str, default)) if isinstance(default, list) else str(default)
            )
        if spec.get("Description") is not None:
            entry["Description"] = str(spec["Description"])
        if summary:
            entry["ParameterType"] = str(spec.get("Type", "String"))
            allowed = spec.get("AllowedValues")
            entry["ParameterConstraints"] = (
                {"AllowedValues": [str(v) for v in allowed]} if isinstance(allowed, list) else {}
            )
        found.append(entry)
    return found
