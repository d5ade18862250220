"""Template text to data and back: JSON, or YAML with CloudFormation's short-form tags
(`!Ref x` is `{"Ref": "x"}`, `!GetAtt a.b` is `{"Fn::GetAtt": ["a", "b"]}`, `!Sub ...` is
`{"Fn::Sub": ...}`). Dates stay strings (`2010-09-09` is a template version, not a date)."""

from __future__ import annotations

import json
from typing import Any

import yaml

__all__ = ["TemplateTextError", "dump_template", "load_template"]


class TemplateTextError(ValueError):
    pass


class _Loader(yaml.SafeLoader):
    pass


# No implicit timestamps: CloudFormation reads `2010-09-09` as a string.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _tagged(loader: _Loader, suffix: str, node: yaml.Node) -> Any:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{suffix}": value}


_Loader.add_multi_constructor("!", _tagged)


def load_template(text: str) -> dict[str, Any]:
    try:
        if text.lstrip().startswith("{"):
            loaded = json.loads(text)
        else:
            loaded = yaml.load(text, Loader=_Loader)
    except (ValueError, yaml.YAMLError) as error:
        raise TemplateTextError(f"the template is neither JSON nor YAML: {error}") from None
    if not isinstance(loaded, dict):
        raise TemplateTextError("the template is not a JSON or YAML object")
    return loaded


def dump_template(template: dict[str, Any]) -> str:
    return json.dumps(template, indent=1, default=str)
