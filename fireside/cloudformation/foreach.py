"""`Fn::ForEach` of the `AWS::LanguageExtensions` transform: a fragment repeated for each
item of a collection, in Resources, Outputs and Conditions.

    Fn::ForEach::Topics:
      - Name                          # the identifier
      - [Success, Failure]            # the collection (or a Ref to a list parameter)
      - 'Topic${Name}':               # ${Name} and &{Name} (non-alphanumerics dropped)
          Type: AWS::SNS::Topic       # in keys; Ref Name and ${Name} in Fn::Sub in values
          Properties: {TopicName: !Ref Name}

Loops nest up to five deep, as AWS allows; the expansion is capped in size.
"""

from __future__ import annotations

import re
from typing import Any, Final

from fireside.cloudformation.template import format_error

__all__ = ["expand_foreach"]

_PREFIX: Final = "Fn::ForEach::"
_MAX_DEPTH: Final = 5
_MAX_ITEMS: Final = 1000
_ALNUM: Final = re.compile(r"[^A-Za-z0-9]")


def _collection(value: Any, parameters: dict[str, Any]) -> list[str]:
    if isinstance(value, dict) and set(value) == {"Ref"}:
        found = parameters.get(str(value["Ref"]))
        if found is None:
            raise format_error(f"Fn::ForEach could not resolve the collection {value['Ref']}")
        value = found
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",")]
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise format_error("Fn::ForEach's collection must be a list of strings")
    return [str(v) for v in value]


def _substitute(value: Any, name: str, item: str) -> Any:
    if isinstance(value, str):
        return value.replace("${" + name + "}", item).replace(
            "&{" + name + "}", _ALNUM.sub("", item)
        )
    if isinstance(value, list):
        return [_substitute(v, name, item) for v in value]
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] == name:
            return item
        return {_substitute(k, name, item): _substitute(v, name, item) for k, v in value.items()}
    return value


def _expand(section: dict[str, Any], parameters: dict[str, Any], depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in section.items():
        if not key.startswith(_PREFIX):
            out[key] = value
            continue
        if depth >= _MAX_DEPTH:
            raise format_error("Fn::ForEach may nest at most 5 levels")
        if not isinstance(value, list) or len(value) != 3 or not isinstance(value[2], dict):
            raise format_error(f"{key} must be a list of an identifier, a collection and a map")
        name, items, fragment = str(value[0]), _collection(value[1], parameters), value[2]
        for item in items:
            expanded = _expand(_substitute(fragment, name, item), parameters, depth + 1)
            for made, body in expanded.items():
                if made in out:
                    raise format_error(f"Fn::ForEach made {made} twice")
                out[made] = body
                if len(out) > _MAX_ITEMS:
                    raise format_error("Fn::ForEach made too many entries")
    return out


def expand_foreach(template: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    """`template` with its loops unrolled; list parameters resolve from `given` or their
    defaults."""
    parameters: dict[str, Any] = {}
    for name, spec in (template.get("Parameters") or {}).items():
        if isinstance(spec, dict) and "Default" in spec:
            parameters[name] = spec["Default"]
    parameters.update(given)
    for section in ("Resources", "Outputs", "Conditions"):
        value = template.get(section)
        if isinstance(value, dict):
            template[section] = _expand(value, parameters, 0)
    return template
