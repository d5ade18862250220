"""What a target receives: the event itself, a constant `Input`, the part of the event an
`InputPath` selects, or an `InputTransformer`'s template filled from the event.

Paths are the JSONPath subset EventBridge documents: `$`, then `.name`, `['name']` or `[index]`
steps. A template's `<name>` placeholders take the values of `InputPathsMap` or of the
predefined `aws.events.*` variables. A placeholder inside a JSON string is replaced by the
value's text (escaped for the string); elsewhere by the value as JSON, so
`{"state": <state>}` gives `{"state": "running"}` and `"is <state>"` gives `"is running"`.
A path that selects nothing gives `""` (or nothing, inside a string). `<aws.events.event>` is
the event without its `detail` (`detail-type` spelt `detailType`), `<aws.events.event.json>`
the whole event.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "PathError",
    "TemplateError",
    "check_transformer",
    "parse_path",
    "payload",
    "select",
]

_STEP: Final = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")
_PLACEHOLDER: Final = re.compile(r"<([A-Za-z0-9_.\-]+)>")
_VARIABLE: Final = re.compile(r"[A-Za-z0-9_\-]+")
#: Variables every template may use without mapping them.
PREDEFINED: Final = frozenset(
    {
        "aws.events.rule-arn",
        "aws.events.rule-name",
        "aws.events.event.ingestion-time",
        "aws.events.event",
        "aws.events.event.json",
    }
)
_MISSING: Final = object()


class PathError(ValueError):
    """Not a JSONPath EventBridge accepts."""


class TemplateError(ValueError):
    """An InputTransformer EventBridge refuses (the message says why)."""


def parse_path(path: str) -> list[str | int]:
    if not path.startswith("$"):
        raise PathError(path)
    steps: list[str | int] = []
    at = 1
    while at < len(path):
        match = _STEP.match(path, at)
        if match is None:
            raise PathError(path)
        name, index, quoted, double = match.groups()
        if index is not None:
            steps.append(int(index))
        else:
            steps.append(next(s for s in (name, quoted, double) if s is not None))
        at = match.end()
    return steps


def select(event: Any, path: str) -> Any:
    """The value at `path` in `event`, or `_MISSING`."""
    node = event
    for step in parse_path(path):
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                return _MISSING
        elif not isinstance(node, dict) or step not in node:
            return _MISSING
        node = node[step]
    return node


def check_transformer(transformer: Mapping[str, Any], target_id: str = "") -> None:
    paths = transformer.get("InputPathsMap") or {}
    if len(paths) > 100:
        raise TemplateError("InputPathsMap can have at most 100 entries.")
    for name, path in paths.items():
        if not _VARIABLE.fullmatch(name):
            raise TemplateError(f"InputPathsMap has an invalid key: {name}.")
        if name.startswith("aws."):
            raise TemplateError(f"InputPathsMap cannot use the reserved key: {name}.")
        try:
            parse_path(path)
        except PathError:
            raise TemplateError(f"{path} is an invalid JSONPath in InputPathsMap.") from None
    for match in _PLACEHOLDER.finditer(transformer["InputTemplate"]):
        name = match[1]
        if name not in paths and name not in PREDEFINED:
            raise TemplateError(
                f"InputTemplate for target {target_id} contains invalid placeholder {name}."
            )


def _inside_string(template: str, end: int, start: int, was_inside: bool) -> bool:
    """Whether position `end` is inside a JSON string, knowing the state at `start`."""
    inside, escaped = was_inside, False
    for char in template[start:end]:
        if escaped:
            escaped = False
        elif char == "\\" and inside:
            escaped = True
        elif char == '"':
            inside = not inside
    return inside


def _fill(template: str, values: Mapping[str, Any]) -> str:
    out: list[str] = []
    at, inside = 0, False
    for match in _PLACEHOLDER.finditer(template):
        name = match[1]
        if name not in values:
            continue  # not a placeholder of ours: left as written
        inside = _inside_string(template, match.start(), at, inside)
        out.append(template[at : match.start()])
        value = values[name]
        if inside:
            if value is _MISSING or value is None:
                text = ""
            elif isinstance(value, str):
                text = value
            else:
                text = json.dumps(value, separators=(",", ":"))
            out.append(json.dumps(text)[1:-1])
        else:
            out.append('""' if value is _MISSING else json.dumps(value, separators=(",", ":")))
        at = match.end()
    out.append(template[at:])
    return "".join(out)


def payload(
    target: Mapping[str, Any], event: Mapping[str, Any], *, rule_arn: str, rule_name: str
) -> bytes:
    """The bytes `target` receives for `event`."""
    if target.get("Input") is not None:
        return str(target["Input"]).encode()
    if target.get("InputPath") is not None:
        value = select(event, target["InputPath"])
        return b"null" if value is _MISSING else json.dumps(value).encode()
    transformer = target.get("InputTransformer")
    if transformer is None:
        return json.dumps(event).encode()
    values: dict[str, Any] = {
        "aws.events.rule-arn": rule_arn,
        "aws.events.rule-name": rule_name,
        "aws.events.event.ingestion-time": event.get("time"),
        # The event without its detail (and `detail-type` spelt `detailType`), as AWS sends it.
        "aws.events.event": {
            ("detailType" if key == "detail-type" else key): value
            for key, value in event.items()
            if key != "detail"
        },
        "aws.events.event.json": event,
    }
    for name, path in (transformer.get("InputPathsMap") or {}).items():
        values[name] = select(event, path)
    text = _fill(transformer["InputTemplate"], values)
    return text.encode()
