"""A template made ready to run: parsed, transformed, checked, its parameters resolved.

Everything CloudFormation refuses synchronously (CreateStack, UpdateStack, CreateChangeSet
and ValidateTemplate answer a ValidationError) is found here, before a stack changes:
malformed templates, unsupported functions, unknown resource types, missing capabilities,
bad parameters, failed `Rules` assertions, unresolved references and circular dependencies.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from fireside.aws.errors import ServiceError
from fireside.cloudformation.graph import check_functions, dependencies, references
from fireside.cloudformation.intrinsics import Pseudo, Resolver, TemplateError
from fireside.cloudformation.parameters import Resolved, SsmReader, resolve_parameters
from fireside.cloudformation.template import check_structure, format_error, validation

__all__ = ["BUILTIN_TYPES", "Plan", "Transformer", "prepare", "resolver_for"]

#: Types the engine itself provides (no service behind them).
BUILTIN_TYPES: Final = frozenset(
    {
        "AWS::CloudFormation::WaitConditionHandle",
        "AWS::CloudFormation::WaitCondition",
        "AWS::CloudFormation::Stack",
        "AWS::CloudFormation::CustomResource",
        "AWS::CDK::Metadata",
    }
)
_IAM_NAMES: Final = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
}
_IAM_TYPES: Final = frozenset(
    {*_IAM_NAMES, "AWS::IAM::Policy", "AWS::IAM::AccessKey", "AWS::IAM::UserToGroupAddition"}
)

#: (template, capabilities, parameter values) -> the template with its transforms run.
Transformer = Callable[[dict[str, Any], list[str], dict[str, str]], Awaitable[dict[str, Any]]]


@dataclass(slots=True)
class Plan:
    template: dict[str, Any]
    parameters: Resolved
    graph: dict[str, set[str]]
    #: Capabilities the template needs (checked when `check_capabilities`).
    needs: list[str] = field(default_factory=list)


def insufficient(capability: str) -> ServiceError:
    return ServiceError(
        "InsufficientCapabilitiesException", f"Requires capabilities : [{capability}]", 400
    )


def needed_capabilities(template: dict[str, Any]) -> list[str]:
    needs: list[str] = []
    for resource in template["Resources"].values():
        kind = resource.get("Type")
        if kind in _IAM_TYPES:
            named = _IAM_NAMES.get(kind)
            if named and named in (resource.get("Properties") or {}):
                return ["CAPABILITY_NAMED_IAM"]
            needs = ["CAPABILITY_IAM"]
    return needs


def check_capabilities(needs: list[str], given: list[str]) -> None:
    for capability in needs:
        if capability == "CAPABILITY_IAM" and "CAPABILITY_NAMED_IAM" in given:
            continue
        if capability not in given:
            raise insufficient(capability)


def has_transform(template: dict[str, Any]) -> bool:
    return bool(template.get("Transform")) or _has_include(template)


def _has_include(value: Any) -> bool:
    if isinstance(value, dict):
        if value.get("Fn::Transform") is not None:
            return True
        return any(_has_include(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_include(v) for v in value)
    return False


def resolver_for(pseudo: Pseudo, template: dict[str, Any], values: dict[str, Any]) -> Resolver:
    """A resolver over parameters only (no resource exists yet)."""

    def no_import(name: str) -> str:
        raise TemplateError(f"No export named {name} found.")

    return Resolver(
        pseudo,
        values,
        template.get("Mappings") or {},
        template.get("Conditions") or {},
        lambda _name: None,
        lambda _name, _attr: None,
        no_import,
        frozenset(template["Resources"]),
    )


async def prepare(
    template: dict[str, Any],
    *,
    given: list[dict[str, Any]],
    previous: dict[str, str],
    capabilities: list[str],
    read_ssm: SsmReader,
    known_types: Callable[[str], bool],
    pseudo: Pseudo,
    transform: Transformer | None,
    check_caps: bool = True,
    check_parameters: bool = True,
    change_set: bool = False,
) -> Plan:
    if has_transform(template):
        # A change set shows the expanded template for review: no acknowledgement needed.
        if check_caps and not change_set and "CAPABILITY_AUTO_EXPAND" not in capabilities:
            raise insufficient("CAPABILITY_AUTO_EXPAND")
        if transform is None:
            raise validation("Transforms are not supported")
        values = {str(p.get("ParameterKey")): str(p.get("ParameterValue", "")) for p in given}
        template = await transform(template, capabilities, values)
    check_structure(template)
    for section in ("Resources", "Outputs", "Conditions", "Rules"):
        check_functions(template.get(section))
    # A type Fireside lacks fails the stack only where it would be made: a resource whose
    # condition is false (cdk bootstrap's KMS key, unless asked for) is never created.
    unknown = {
        name: str(r["Type"])
        for name, r in template["Resources"].items()
        if not known_types(str(r["Type"]))
    }
    _refuse_unknown(unknown, template, lambda name: True)
    declared = template.get("Parameters") or {}
    graph = dependencies(template, declared)
    conditions = template.get("Conditions") or {}
    for resource in template["Resources"].values():
        condition = resource.get("Condition")
        if condition is not None and condition not in conditions:
            raise format_error(
                f"Unresolved dependencies [{condition}]. Cannot reference resources in the "
                "Conditions block of the template"
            )
    needs = needed_capabilities(template)
    if check_caps:
        check_capabilities(needs, capabilities)
    if not check_parameters:  # ValidateTemplate, GetTemplateSummary
        return Plan(template, Resolved({}, [], {}), graph, needs)
    resolved = await resolve_parameters(declared, given, previous, read_ssm)
    resolver = resolver_for(pseudo, template, resolved.values)
    try:
        for name in conditions:
            resolver.condition(name)
        _check_rules(template.get("Rules") or {}, resolver)
        _check_outputs(template, resolver)
    except TemplateError as error:
        raise validation(str(error)) from None
    _refuse_unknown(unknown, template, resolver.condition, conditional=True)
    return Plan(template, resolved, graph, needs)


def _check_outputs(template: dict[str, Any], resolver: Resolver) -> None:
    """An output that will be shown may not name a resource whose condition is false."""
    resources = template["Resources"]
    missing: set[str] = set()

    def visit(value: Any) -> None:
        if isinstance(value, dict) and len(value) == 1:
            ((function, args),) = value.items()
            if function == "Fn::If" and isinstance(args, list) and len(args) == 3:
                visit(args[1] if resolver.condition(str(args[0])) else args[2])
                return
            if function in ("Ref", "Fn::GetAtt", "Fn::Sub"):
                for name in references(value):
                    condition = resources[name].get("Condition") if name in resources else None
                    if condition is not None and not resolver.condition(str(condition)):
                        missing.add(name)
                return
        children = value.values() if isinstance(value, dict) else value
        if isinstance(value, dict | list):
            for item in children:
                visit(item)

    for output in (template.get("Outputs") or {}).values():
        if not isinstance(output, dict):
            continue
        condition = output.get("Condition")
        if condition is None or resolver.condition(str(condition)):
            visit(output.get("Value"))
    if missing:
        raise validation(
            f"Unresolved resource dependencies [{', '.join(sorted(missing))}] in the Outputs "
            "block of the template"
        )


def _refuse_unknown(
    unknown: dict[str, str],
    template: dict[str, Any],
    holds: Callable[[str], bool],
    conditional: bool = False,
) -> None:
    """CloudFormation's error for the resource types Fireside lacks: first for the resources
    without a condition, then (`conditional`) for those whose condition holds."""
    found = set()
    for name, kind in unknown.items():
        condition = template["Resources"][name].get("Condition")
        if (condition is None) != conditional and (condition is None or holds(condition)):
            found.add(kind)
    if found:
        raise format_error(f"Unrecognized resource types: [{', '.join(sorted(found))}]")


def _check_rules(rules: dict[str, Any], resolver: Resolver) -> None:
    for name, rule in rules.items():
        if not isinstance(rule, dict):
            raise format_error(f"Rule {name} must be an object")
        condition = rule.get("RuleCondition")
        if condition is not None and not resolver.boolean(condition):
            continue
        for assertion in rule.get("Assertions") or []:
            if not resolver.boolean(assertion.get("Assert")):
                description = assertion.get("AssertDescription")
                raise validation(description or f"Template error: Assertion failed for rule {name}")
