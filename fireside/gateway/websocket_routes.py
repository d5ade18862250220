"""Which route of a WebSocket API a message goes to: the API's `RouteSelectionExpression`.

API Gateway evaluates the expression on each message ("Working with routes for WebSocket
APIs"): `$request.body.<path>` (or `${request.body.<path>}`, which can sit inside literal
text, e.g. `${request.body.service}/${request.body.action}`) reads a member of the JSON body,
`a.b.c` going down nested objects. The result is a route key; a message that is not JSON, an
expression naming a member the message does not have, or a key no route has, goes to
`$default`. With no `$default` route the message is unroutable: the door answers the client
with API Gateway's error frame. `$connect` and `$disconnect` are never a message's route.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = ["RouteSelector", "Selection", "parse_expression", "select_key"]

#: `$request.body.a.b` (a bare reference runs to the end of the name) or `${request.body.a.b}`.
_REFERENCE = re.compile(
    r"\$\{request\.body\.([^}]+)\}|\$request\.body\.([A-Za-z0-9_$-]+(?:\.[A-Za-z0-9_$-]+)*)"
)
_LIFECYCLE = frozenset({"$connect", "$disconnect"})
#: A message body deeper than this is not followed (json.loads caps it anyway).
_MAX_PATH = 32


@dataclass(frozen=True, slots=True)
class _Part:
    literal: str = ""
    path: tuple[str, ...] = ()


@lru_cache(maxsize=1024)
def parse_expression(expression: str) -> tuple[_Part, ...]:
    """The expression as literal text and body references, in order."""
    parts: list[_Part] = []
    at = 0
    for match in _REFERENCE.finditer(expression):
        if match.start() > at:
            parts.append(_Part(literal=expression[at : match.start()]))
        path = (match[1] or match[2]).split(".")[:_MAX_PATH]
        parts.append(_Part(path=tuple(path)))
        at = match.end()
    if at < len(expression):
        parts.append(_Part(literal=expression[at:]))
    return tuple(parts)


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return None  # objects, arrays and null select nothing


def select_key(expression: str, body: Any) -> str | None:
    """The route key `expression` yields for a message whose JSON is `body`, or None."""
    out: list[str] = []
    for part in parse_expression(expression):
        if not part.path:
            out.append(part.literal)
            continue
        value = body
        for name in part.path:
            if not isinstance(value, dict) or name not in value:
                return None
            value = value[name]
        text = _text(value)
        if text is None:
            return None
        out.append(text)
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Selection:
    #: The route (its control-plane record), or None: unroutable.
    route: dict[str, Any] | None
    #: The key the expression yielded (None for a non-JSON message or no match).
    selected: str | None


class RouteSelector:
    """A deployment's routes by key, for one API's selection expression."""

    def __init__(self, expression: str, routes: Iterable[dict[str, Any]]) -> None:
        self.expression = expression
        self.by_key = {str(r.get("RouteKey")): r for r in routes}

    def route(self, key: str) -> dict[str, Any] | None:
        return self.by_key.get(key)

    def select(self, data: bytes, text: bool) -> Selection:
        """The route of one message (`text` when it came in text frames)."""
        selected: str | None = None
        if text:
            try:
                body = json.loads(data)
            except (ValueError, RecursionError):
                body = None
            if isinstance(body, dict):
                selected = select_key(self.expression, body)
        if selected is not None and selected not in _LIFECYCLE:
            route = self.by_key.get(selected)
            if route is not None:
                return Selection(route, selected)
        return Selection(self.by_key.get("$default"), selected)
