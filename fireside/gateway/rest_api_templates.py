"""Mapping templates and parameter mappings of REST API integrations: API Gateway's VTL
(`rest_api_vtl` parses, `rest_api_vtl_eval` runs) over what API Gateway gives templates.

Templates see `$context` (`RestCall.context`), `$stageVariables`, `$input` and `$util`:
`$input.body` (text), `$input.json('<path>')` (the JSON text at a JSONPath of the body),
`$input.path('<path>')` (the object there: a map, list, string, number...),
`$input.params()` (`{"path": {...}, "querystring": {...}, "header": {...}}`) and
`$input.params('<name>')` (path, then query string, then header, as AWS looks);
`$util.escapeJavaScript`, `$util.urlEncode` (Java's form encoding), `$util.urlDecode`,
`$util.base64Encode`, `$util.base64Decode`, `$util.parseJson`. A template may set
`$context.requestOverride.{header,querystring,path}.<name>` (the integration request's) and
`$context.responseOverride.status` / `.header.<name>` (the method response's): `Overrides`. JSONPath: `$`, `$.a.b`,
`$.a[0]`, `$['a']`. Anything a template cannot run raises `UnsupportedTemplate`: the front
door answers 500 and the server log says why.

Parameter mappings (`requestParameters`, `responseParameters`): `'literal'`, `context.*`,
`stageVariables.*`, `method.request.{path,querystring,header}.*`,
`method.request.body[.<path>]`, `integration.response.header.*` and
`integration.response.body[.<path>]`.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from fireside.gateway.rest_api_vtl import UnsupportedTemplate, parse
from fireside.gateway.rest_api_vtl_eval import Renderer, text_of

__all__ = ["Overrides", "TemplateInput", "UnsupportedTemplate", "map_parameter", "render"]


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


_PATH_STEP = re.compile(
    r"\.\.(?P<deep>[^.\[\]]+)|\.(?P<key>[^.\[\]]+)|\[(?P<index>-?\d+)\]|\['(?P<q1>[^']*)'\]"
    r"|\[\"(?P<q2>[^\"]*)\"\]|\[\*\]"
)
#: Values a JSONPath wildcard may gather (a bound on the work one expression does).
_MAX_MATCHES = 100_000


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    return list(value) if isinstance(value, list) else []


def _deep(value: Any, key: str, out: list[Any]) -> None:
    stack = [value]
    while stack and len(out) < _MAX_MATCHES:
        item = stack.pop()
        if isinstance(item, dict) and key in item:
            out.append(item[key])
        stack.extend(reversed(_children(item)))


def json_path(document: Any, path: str) -> Any:
    """The value at a JSONPath (`$`, `$.a.b`, `$.a[0]`, `$.a[-1]`, `$['a']`), or a list of
    them for one with wildcards (`[*]`, `.*`) or a deep scan (`..name`), as Jayway's
    JsonPath (API Gateway's) answers; None when nothing is there. Filters, slices and unions
    raise `UnsupportedTemplate`."""
    path = path.strip()
    if not path.startswith("$"):
        return None
    found: list[Any] = [document]
    definite = True
    position = 1
    for match in _PATH_STEP.finditer(path, 1):
        if match.start() != position:
            break
        position = match.end()
        step: list[Any] = []
        if match["deep"] is not None:
            definite = False
            for value in found:
                _deep(value, match["deep"], step)
        elif match["key"] == "*" or match[0] == "[*]":
            definite = False
            for value in found:
                step.extend(_children(value))
        elif match["index"] is not None:
            index = int(match["index"])
            step = [v[index] for v in found if isinstance(v, list) and -len(v) <= index < len(v)]
        else:
            key = match["key"] or match["q1"] or match["q2"] or ""
            step = [v[key] for v in found if isinstance(v, dict) and key in v]
        found = step[:_MAX_MATCHES]
    if position != len(path):
        raise UnsupportedTemplate(
            f"JSONPath {path!r}: filters, slices and unions are not supported"
        )
    if definite:
        return found[0] if found else None
    return found


def _dotted(source: Mapping[str, Any], names: list[str]) -> Any:
    found: Any = source
    for name in names:
        found = found.get(name) if isinstance(found, Mapping) else None
    return found


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return text_of(value)


def _param(source: TemplateInput, name: str) -> str | None:
    for where in (source.path_params, source.query):
        if name in where:
            return where[name]
    return source.headers.get(name.lower())


class _Input:
    """`$input`."""

    def __init__(self, source: TemplateInput) -> None:
        self._source = source

    def property(self, name: str) -> Any:
        if name == "body":
            return self._source.body.decode("utf-8", "replace")
        raise UnsupportedTemplate(f"$input.{name} is not supported")

    def invoke(self, name: str, args: list[Any]) -> Any:
        source = self._source
        if name in ("json", "path"):
            path = text_of(args[0]) if args else "$"
            found = json_path(_json_body(source), path or "$")
            return json.dumps(found) if name == "json" else found
        if name == "params":
            if not args:
                return {
                    "path": dict(source.path_params),
                    "querystring": dict(source.query),
                    "header": dict(source.headers),
                }
            return _param(source, text_of(args[0])) or ""
        raise UnsupportedTemplate(f"$input.{name}() is not supported")


def _base64_decode(text: str) -> str:
    try:
        return base64.b64decode(text, validate=False).decode("utf-8", "replace")
    except (binascii.Error, ValueError) as error:
        raise UnsupportedTemplate(f"$util.base64Decode: {error}") from None


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise UnsupportedTemplate(f"$util.parseJson: not JSON ({error})") from None


_UTIL = {
    "escapeJavaScript": lambda s: json.dumps(s)[1:-1].replace("'", "\\'"),
    "urlEncode": lambda s: quote_plus(s, safe="*"),
    "urlDecode": unquote_plus,
    "base64Encode": lambda s: base64.b64encode(s.encode()).decode(),
    "base64Decode": _base64_decode,
    "parseJson": _parse_json,
}


class _Util:
    """`$util`."""

    def property(self, name: str) -> Any:
        raise UnsupportedTemplate(f"$util.{name} is not supported")

    def invoke(self, name: str, args: list[Any]) -> Any:
        function = _UTIL.get(name)
        if function is None or len(args) != 1:
            raise UnsupportedTemplate(f"$util.{name}() with {len(args)} arguments is not supported")
        if args[0] is None:
            return None
        return function(args[0] if name == "parseJson" and not isinstance(args[0], str)
                        else text_of(args[0]))  # fmt: skip


@dataclass(slots=True)
class Overrides:
    """What a template set in `$context.requestOverride` / `$context.responseOverride`."""

    request_headers: dict[str, str] = field(default_factory=dict)
    request_query: dict[str, str] = field(default_factory=dict)
    request_path: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    response_headers: dict[str, str] = field(default_factory=dict)


def _strings(found: Any) -> dict[str, str]:
    if not isinstance(found, dict):
        return {}
    return {str(k): text_of(v) for k, v in found.items() if v is not None}


def render(template: str, source: TemplateInput, overrides: Overrides | None = None) -> str:
    """`template` run over `source`; what it overrides goes into `overrides`."""
    request = {"header": {}, "querystring": {}, "path": {}}  # type: ignore[var-annotated]
    response = {"header": {}, "status": None}  # type: ignore[var-annotated]
    context = {**source.context, "requestOverride": request, "responseOverride": response}
    roots = {
        "input": _Input(source),
        "util": _Util(),
        "context": context,
        "stageVariables": dict(source.stage_variables),
    }
    out = Renderer(roots).render(parse(template))
    if overrides is not None:
        overrides.request_headers.update(_strings(request.get("header")))
        overrides.request_query.update(_strings(request.get("querystring")))
        overrides.request_path.update(_strings(request.get("path")))
        overrides.response_headers.update(_strings(response.get("header")))
        status = text_of(response.get("status"))
        if status.isdigit() and 100 <= int(status) <= 599:
            overrides.status = int(status)
    return out


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
    if names[:3] == ["method", "request", "body"] or names[:3] == [
        "integration",
        "response",
        "body",
    ]:
        # The method request's body in a request parameter; the integration's in a response
        # parameter (each template input's `body` is the one its mapping sees).
        if len(names) == 3:
            return source.body.decode("utf-8", "replace")
        try:
            value = json_path(_json_body(source), "$." + ".".join(names[3:]))
        except UnsupportedTemplate:
            return None
        return None if value is None else _text(value)
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
    return None
