"""Mapping templates and parameter mappings of REST API integrations: the subset of API
Gateway's VTL that MOCK integrations and simple mappings use.

Supported in templates: references, plain (`$context.requestId`), quiet (`$!context.x`) and
braced (`${stageVariables.color}`), to `$context.*`, `$stageVariables.*`, `$input.body`,
`$input.json('<path>')`, `$input.path('<path>')`, `$input.params('<name>')` (path, then query
string, then header, as AWS looks) and `$util.escapeJavaScript(...)`/`$util.urlEncode(...)` of
one such reference. JSONPath: `$`, `$.a.b`, `$.a[0]`, `$['a']`.
Directives: `#if`/`#elseif`/`#else`/`#end` and `#set` (`rest_api_vtl`). Not supported:
`#foreach` and the other directives, arithmetic, method calls on values, `$input.params()`
without a name: such a template raises `UnsupportedTemplate`, the front door answers 500 and the
server log says why.

Parameter mappings (`responseParameters`): `'literal'`, `context.*`, `stageVariables.*`,
`method.request.{path,querystring,header}.*`, `integration.response.header.*` and
`integration.response.body[.<path>]`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from fireside.gateway.rest_api_vtl import UnsupportedTemplate, run

__all__ = ["TemplateInput", "UnsupportedTemplate", "map_parameter", "render"]

_REFERENCE = re.compile(
    r"\$!?(?:\{(?P<braced>[A-Za-z][\w.]*)\}|"
    r"(?P<call>util\.\w+|input\.(?:json|path|params))\((?P<arg>[^()]*(?:\([^()]*\)[^()]*)*)\)|"
    r"(?P<plain>[A-Za-z][\w]*(?:\.[A-Za-z_][\w-]*)*))"
)


@dataclass(slots=True)
class TemplateInput:
    """What a template can see of the request (or, in a response template, of the
    integration's response: its `body`)."""

    body: bytes = b""
    context: Mapping[str, Any] = field(default_factory=dict)
    stage_variables: Mapping[str, str] = field(default_factory=dict)
    path_params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    response_headers: Mapping[str, str] = field(default_factory=dict)
    #: The body as JSON, once read (`_UNREAD` until then).
    parsed: Any = field(default=None, repr=False, compare=False)
    read: bool = field(default=False, repr=False, compare=False)


def _json_body(source: TemplateInput) -> Any:
    """The body as JSON (None when it is not JSON), read once per request: a template with
    many `$input.json(...)` references would otherwise parse a 10 MB body once for each, on
    the event loop, holding up every other request meanwhile."""
    if not source.read:
        try:
            body = source.body
            source.parsed = json.loads(body) if body.strip() else {}
        except (ValueError, RecursionError):  # nested too deep to read is not JSON either
            source.parsed = None
        source.read = True
    return source.parsed


def json_path(document: Any, path: str) -> Any:
    path = path.strip()
    if not path.startswith("$"):
        return None
    found = document
    for match in re.finditer(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]", path[1:]):
        key = match[1] or match[3] or match[4]
        if key is not None:
            found = found.get(key) if isinstance(found, dict) else None
        else:
            index = int(match[2])
            found = found[index] if isinstance(found, list) and index < len(found) else None
        if found is None:
            return None
    return found


def _dotted(source: Mapping[str, Any], names: list[str]) -> Any:
    found: Any = source
    for name in names:
        found = found.get(name) if isinstance(found, Mapping) else None
    return found


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def _argument(raw: str, source: TemplateInput, variables: dict[str, str]) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1]
    if raw.startswith("$"):
        return _resolve(raw, source, variables)
    return raw


def _param(source: TemplateInput, name: str) -> str | None:
    for where in (source.path_params, source.query):
        if name in where:
            return where[name]
    return source.headers.get(name.lower())


def _resolve(text: str, source: TemplateInput, variables: dict[str, str]) -> str:
    match = _REFERENCE.fullmatch(text.strip())
    if match is None:
        return text
    if match["call"]:
        name, argument = match["call"], _argument(match["arg"], source, variables)
        if name == "input.json":
            return json.dumps(json_path(_json_body(source), argument or "$"))
        if name == "input.path":
            return _text(json_path(_json_body(source), argument or "$"))
        if name == "input.params":
            return _param(source, argument) or ""
        if name == "util.escapeJavaScript":
            return json.dumps(argument)[1:-1].replace("'", "\\'")
        if name == "util.urlEncode":
            return quote(argument, safe="")
        if name == "util.urlDecode":
            return unquote(argument)
        raise UnsupportedTemplate(f"${name}() is not supported")
    names = (match["braced"] or match["plain"]).split(".")
    if len(names) == 1 and names[0] in variables:  # made by #set
        return variables[names[0]]
    if names[0] == "context":
        return _text(_dotted(source.context, names[1:]))
    if names[0] == "stageVariables":
        return _text(_dotted(source.stage_variables, names[1:]))
    if names[:2] == ["input", "body"]:
        return source.body.decode("utf-8", "replace")
    if names[0] == "util" or names[0] == "input":
        raise UnsupportedTemplate(f"${'.'.join(names)} is not supported")
    return ""  # VTL leaves an unknown reference as is; API Gateway's variables are all known


def render(template: str, source: TemplateInput) -> str:
    def expand(text: str, variables: dict[str, str]) -> str:
        return _REFERENCE.sub(lambda m: _resolve(m[0], source, variables), text)

    def value(reference: str, variables: dict[str, str]) -> str:
        return _resolve(reference, source, variables)

    return run(template, expand, value)


def map_parameter(expression: str, source: TemplateInput) -> str | None:
    """The value of a parameter mapping expression, or None when it maps to nothing."""
    expression = expression.strip()
    if len(expression) >= 2 and expression[0] == expression[-1] == "'":
        return expression[1:-1]
    names = expression.split(".")
    if names[0] == "context":
        value = _dotted(source.context, names[1:])
        return None if value is None else _text(value)
    if names[0] == "stageVariables":
        return source.stage_variables.get(".".join(names[1:]))
    if names[:2] == ["method", "request"] and len(names) >= 4:
        name = ".".join(names[3:])
        if names[2] == "path":
            return source.path_params.get(name)
        if names[2] == "querystring":
            return source.query.get(name)
        if names[2] == "header":
            return source.headers.get(name.lower())
        return None
    if names[:3] == ["integration", "response", "header"]:
        return source.response_headers.get(".".join(names[3:]).lower())
    if names[:3] == ["integration", "response", "body"]:
        if len(names) == 3:
            return source.body.decode("utf-8", "replace")
        value = json_path(_json_body(source), "$." + ".".join(names[3:]))
        return None if value is None else _text(value)
    return None
