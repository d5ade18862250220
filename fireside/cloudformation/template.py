"""Template documents: JSON or YAML (with the short-form tags `!Ref`, `!GetAtt`, `!Sub`...)
parsed into plain dicts, and their structure checked as CloudFormation checks it.

CloudFormation reads a body that starts with `{` as JSON and anything else as YAML; YAML's
dates stay strings (`AWSTemplateFormatVersion: 2010-09-09` is a version, not a date) and a
short-form tag becomes the long form (`!GetAtt A.B` -> `{"Fn::GetAtt": ["A", "B"]}`). Bodies
are capped as AWS caps them: 51,200 bytes inline, 1 MB from a URL. Errors carry
CloudFormation's words (`Template format error: ...`), as ValidationError.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

import yaml

from fireside.aws.errors import ServiceError

__all__ = [
    "MAX_BODY",
    "MAX_URL_BODY",
    "TOP_LEVEL",
    "check_structure",
    "format_error",
    "parse_template",
    "validation",
]

MAX_BODY: Final = 51_200
MAX_URL_BODY: Final = 1_000_000
TOP_LEVEL: Final = frozenset(
    {
        "AWSTemplateFormatVersion",
        "Description",
        "Metadata",
        "Parameters",
        "Rules",
        "Mappings",
        "Conditions",
        "Transform",
        "Resources",
        "Outputs",
        "Hooks",
    }
)
#: Nesting deeper than this is refused (every walk over a template is recursive).
MAX_DEPTH: Final = 64
#: AWS's quotas per template.
_MAX_RESOURCES: Final = 500
_MAX_SECTION: Final = 200
_LOGICAL_ID: Final = re.compile(r"^[A-Za-z0-9]{1,255}$")
#: Short-form tags and the long names they stand for.
_TAGS: Final = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in [
            "Base64",
            "Cidr",
            "FindInMap",
            "GetAtt",
            "GetAZs",
            "ImportValue",
            "Join",
            "Select",
            "Split",
            "Sub",
            "Transform",
            "And",
            "Equals",
            "If",
            "Not",
            "Or",
            "Contains",
            "EachMemberEquals",
            "EachMemberIn",
            "ValueOf",
            "ValueOfAll",
            "RefAll",
            "Length",
            "ToJsonString",
            "ForEach",
        ]
    },
}


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message, 400)


def format_error(message: str) -> ServiceError:
    return validation(f"Template format error: {message}")


class _Loader(yaml.SafeLoader):
    """SafeLoader without the timestamp resolver, plus CloudFormation's tags; no aliases
    (CloudFormation refuses them, and they would let a small body expand without bound)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise format_error("YAML aliases are not allowed in CloudFormation templates")
        return super().compose_node(parent, index)


_Loader.yaml_implicit_resolvers = {
    key: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    name = _TAGS.get(suffix)
    if name is None:
        raise yaml.constructor.ConstructorError(
            None, None, f"unknown tag !{suffix}", node.start_mark
        )
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "Fn::GetAtt" and isinstance(value, str):
            logical, _, attribute = value.partition(".")
            value = [logical, attribute]
        elif name == "Fn::GetAZs" and value is None:
            value = ""
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_Loader.add_multi_constructor("!", _construct)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise format_error(f"JSON not well-formed. (Duplicate key '{key}')")
        found[key] = value
    return found


def parse_template(
    body: str | bytes, limit: int = MAX_BODY, member: str = "TemplateBody"
) -> dict[str, Any]:
    """The template document, or CloudFormation's error for a body it cannot read."""
    raw = body.encode() if isinstance(body, str) else body
    if len(raw) > limit:
        raise validation(
            f"1 validation error detected: Value '{member}' at '{member.lower()}' failed to "
            f"satisfy constraint: Member must have length less than or equal to {limit}"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise format_error("Template is not valid UTF-8.") from None
    if not text.strip():
        raise format_error("At least one Resources member must be defined.")
    document: Any
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text, object_pairs_hook=_no_duplicates)
        except RecursionError:
            raise format_error("the template is nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise format_error(
                f"JSON not well-formed. (line {exc.lineno}, column {exc.colno})"
            ) from None
    else:
        try:
            document = yaml.load(text, Loader=_Loader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise format_error(f"YAML not well-formed.{where}") from None
        except yaml.YAMLError:
            raise format_error("YAML not well-formed.") from None
        except RecursionError:
            raise format_error("the template is nested too deeply") from None
    if not isinstance(document, dict):
        raise format_error("unsupported structure.")
    if _depth(document) > MAX_DEPTH:
        raise format_error("the template is nested too deeply")
    return {str(k): v for k, v in document.items()}


def _depth(document: Any) -> int:
    deepest = 0
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        deepest = max(deepest, depth)
        if depth > MAX_DEPTH:
            break
        if isinstance(value, dict):
            pending.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            pending.extend((v, depth + 1) for v in value)
    return deepest


def check_structure(template: dict[str, Any]) -> None:
    """The checks CloudFormation makes before anything else (after transforms)."""
    unknown = sorted(k for k in template if k not in TOP_LEVEL)
    if unknown:
        raise format_error(f"Invalid template property or properties [{', '.join(unknown)}]")
    version = template.get("AWSTemplateFormatVersion")
    if version is not None and str(version) != "2010-09-09":
        raise format_error(f"'{version}' is not a supported version.")
    description = template.get("Description")
    if description is not None and not isinstance(description, str):
        raise format_error("Every Description member must be a string.")
    resources = template.get("Resources")
    if not isinstance(resources, dict) or not resources:
        raise format_error("At least one Resources member must be defined.")
    if len(resources) > _MAX_RESOURCES:
        raise format_error(
            f"Number of resources, {len(resources)}, is greater than maximum allowed, "
            f"{_MAX_RESOURCES}"
        )
    for section in ("Parameters", "Mappings", "Conditions", "Outputs", "Rules"):
        value = template.get(section)
        if value is not None and not isinstance(value, dict):
            raise format_error(f"{section} must be an object")
        if isinstance(value, dict) and len(value) > _MAX_SECTION:
            raise format_error(
                f"Number of {section.lower()}, {len(value)}, is greater than maximum allowed, "
                f"{_MAX_SECTION}"
            )
    for logical, resource in resources.items():
        if not _LOGICAL_ID.match(str(logical)):
            raise format_error(f"Resource name {logical} is non alphanumeric.")
        if not isinstance(resource, dict):
            raise format_error(f"[/Resources/{logical}] resource definition is malformed")
        if not isinstance(resource.get("Type"), str):
            raise format_error(
                f"[/Resources/{logical}] Every Resources object must contain a Type member."
            )
        properties = resource.get("Properties", {})
        if properties is not None and not isinstance(properties, dict):
            raise format_error(f"[/Resources/{logical}/Properties] properties must be an object")
        depends = resource.get("DependsOn", [])
        if not isinstance(depends, str | list):
            raise format_error(f"[/Resources/{logical}/DependsOn] must be a string or list")
    for name, output in (template.get("Outputs") or {}).items():
        if not isinstance(output, dict) or "Value" not in output:
            raise format_error(f"Every Outputs member must contain a Value object [{name}]")
    for name, parameter in (template.get("Parameters") or {}).items():
        if not isinstance(parameter, dict) or "Type" not in parameter:
            raise format_error(f"Every Parameters object must contain a Type member. [{name}]")
