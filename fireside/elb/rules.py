"""Listener rules: CreateRule, DescribeRules, ModifyRule, DeleteRule, SetRulePriorities.

A rule belongs to a listener (`parent`); its `data` holds `Priority` (a string on the wire:
"1".."50000", or "default" for the listener's default rule), `Conditions`, `Actions` and
`IsDefault`. The data plane evaluates rules by ascending priority, the default rule last.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final

from fireside.aws.context import RequestContext
from fireside.elb.actions import check_actions, check_conditions
from fireside.elb.state import ElbState, Resource, elb_error, new_id, page, tag_map, validation

__all__ = ["RuleApi", "rule_wire"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

_MAX_RULES: Final = 100  # per listener, default rule excluded (AWS's quota)


def rule_wire(rule: Resource) -> dict[str, Any]:
    data = rule.data
    return {
        "RuleArn": rule.arn,
        "Priority": data["Priority"],
        "Conditions": data["Conditions"],
        "Actions": data["Actions"],
        "IsDefault": data["IsDefault"],
    }


class RuleApi:
    def __init__(self, state: ElbState) -> None:
        self.state = state

    def operations(self) -> dict[str, Operation]:
        return {
            "CreateRule": self.create_rule,
            "DescribeRules": self.describe_rules,
            "ModifyRule": self.modify_rule,
            "DeleteRule": self.delete_rule,
            "SetRulePriorities": self.set_rule_priorities,
        }

    def _rules(self, listener: str) -> list[Resource]:
        return [r for r in self.state.children(listener) if r.kind == "rule"]

    async def create_rule(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        listener = self.state.own(params.get("ListenerArn"), "listener", ctx)
        priority = str(params["Priority"])
        rules = self._rules(listener.arn)
        if any(r.data["Priority"] == priority for r in rules):
            raise elb_error("PriorityInUse", "The specified priority is in use.")
        if len(rules) > _MAX_RULES:
            raise elb_error(
                "TooManyRules", "The maximum number of rules on this listener has been reached"
            )
        conditions = check_conditions(params.get("Conditions"))
        if not conditions:
            raise validation("At least one condition must be specified")
        actions = check_actions(self.state, ctx, params.get("Actions"))
        # listener/app/<lb>/<lb id>/<listener id> -> listener-rule/app/<lb>/<lb id>/<id>/<new>
        arn = listener.arn.replace(":listener/", ":listener-rule/", 1) + "/" + new_id()
        rule = Resource(
            arn,
            "rule",
            ctx.account_id,
            ctx.region,
            "",
            parent=listener.arn,
            data={
                "Priority": priority,
                "Conditions": conditions,
                "Actions": actions,
                "IsDefault": False,
            },
            tags=tag_map(params.get("Tags")),
        )
        self.state.save(rule)
        return {"Rules": [rule_wire(rule)]}

    async def describe_rules(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        listener_arn, arns = params.get("ListenerArn"), params.get("RuleArns")
        if listener_arn and arns:
            raise validation(
                "Listener rule ARNs and a listener ARN cannot be specified at the same time"
            )
        if listener_arn:
            listener = self.state.own(listener_arn, "listener", ctx)
            rules = sorted(self._rules(listener.arn), key=_order)
        elif arns:
            rules = [self.state.find(arn, "rule", ctx) for arn in arns]  # type: ignore[misc]
            if any(r is None for r in rules):
                raise elb_error("RuleNotFound", "One or more rules not found")
        else:
            raise validation("You must specify either listener rule ARNs or a listener ARN")
        shown, marker = page(rules, params)
        result: dict[str, Any] = {"Rules": [rule_wire(r) for r in shown]}
        if marker:
            result["NextMarker"] = marker
        return result

    async def modify_rule(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rule = self.state.own(params.get("RuleArn"), "rule", ctx)
        if "Conditions" not in params and "Actions" not in params:
            raise validation("Either conditions or actions must be specified")
        data = dict(rule.data)
        if "Conditions" in params:
            if rule.data["IsDefault"] and params["Conditions"]:
                raise elb_error(
                    "OperationNotPermitted", "Conditions cannot be added to a default rule"
                )
            data["Conditions"] = check_conditions(params["Conditions"])
        if "Actions" in params:
            data["Actions"] = check_actions(self.state, ctx, params["Actions"])
        rule.data = data
        changed = [rule]
        if rule.data["IsDefault"] and "Actions" in params:
            listener = self.state.resources[rule.parent]
            listener.data["DefaultActions"] = data["Actions"]
            changed.append(listener)
        self.state.save(*changed)
        return {"Rules": [rule_wire(rule)]}

    async def delete_rule(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        rule = self.state.own(params.get("RuleArn"), "rule", ctx)
        if rule.data["IsDefault"]:
            raise elb_error("OperationNotPermitted", f"Default rule '{rule.arn}' cannot be deleted")
        self.state.save(delete=[rule])
        return {}

    async def set_rule_priorities(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        wanted = params.get("RulePriorities") or []
        seen: set[int] = set()
        changes: list[tuple[Resource, str]] = []
        for item in wanted:
            priority = item["Priority"]
            if priority in seen:
                raise validation(f"Priority '{priority}' was provided multiple times")
            seen.add(priority)
            rule = self.state.find(item.get("RuleArn", ""), "rule", ctx)
            if rule is None:
                raise elb_error("RuleNotFound", "One or more rules not found")
            if rule.data["IsDefault"]:
                raise elb_error(
                    "OperationNotPermitted",
                    f"Default rule '{rule.arn}' priority cannot be modified",
                )
            changes.append((rule, str(priority)))
        moving = {rule.arn for rule, _ in changes}
        for rule, priority in changes:
            others = self._rules(rule.parent)
            if any(o.arn not in moving and o.data["Priority"] == priority for o in others):
                raise elb_error("PriorityInUse", "The specified priority is in use.")
        for rule, priority in changes:
            rule.data = {**rule.data, "Priority": priority}
        self.state.save(*(rule for rule, _ in changes))
        return {"Rules": [rule_wire(rule) for rule, _ in changes]}


def _order(rule: Resource) -> tuple[int, int]:
    priority = rule.data["Priority"]
    return (1, 0) if priority == "default" else (0, int(priority))


def ordered(rules: list[Resource]) -> list[Resource]:
    """Rules in the order the data plane evaluates them: by priority, the default last."""
    return sorted(rules, key=_order)
