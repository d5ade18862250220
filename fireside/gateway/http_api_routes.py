"""Route selection for HTTP APIs, as API Gateway orders it.

API Gateway picks the most specific route for a request ("Working with routes for HTTP
APIs"): a path with literal segments beats one with a path variable there, which beats a
greedy `{name+}` variable; among routes with the same path, the request's own method beats
`ANY`; when no route matches, the `$default` route, and without one a 404
`{"message":"Not Found"}`. A greedy variable matches one or more segments (so `/{proxy+}` does
not match `/`). Path parameters are decoded; the path is matched segment by segment, case
sensitively.

`RouteTable` is built once per deployment and asked once per request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

__all__ = ["Match", "RouteTable"]

_LITERAL, _VARIABLE, _GREEDY = 0, 1, 2


@dataclass(frozen=True, slots=True)
class _Segment:
    kind: int
    #: The literal text, or the variable's name.
    text: str


@dataclass(frozen=True, slots=True)
class _Route:
    route: dict[str, Any]
    method: str
    segments: tuple[_Segment, ...]


@dataclass(frozen=True, slots=True)
class Match:
    #: The route's control-plane record (`RouteKey`, `Target`, `AuthorizationType`, ...).
    route: dict[str, Any]
    path_parameters: dict[str, str]

    @property
    def route_key(self) -> str:
        return str(self.route["RouteKey"])


def _segments(path: str) -> tuple[_Segment, ...]:
    if path == "/":
        return ()
    parsed = []
    for part in path[1:].split("/"):
        if part.startswith("{") and part.endswith("+}"):
            parsed.append(_Segment(_GREEDY, part[1:-2]))
        elif part.startswith("{") and part.endswith("}"):
            parsed.append(_Segment(_VARIABLE, part[1:-1]))
        else:
            parsed.append(_Segment(_LITERAL, part))
    return tuple(parsed)


class RouteTable:
    """The routes of one deployment, ready to match requests."""

    def __init__(self, routes: list[dict[str, Any]]) -> None:
        self.default: dict[str, Any] | None = None
        self._routes: list[_Route] = []
        for route in routes:
            key = str(route["RouteKey"])
            if key == "$default":
                self.default = route
                continue
            method, _, path = key.partition(" ")
            self._routes.append(_Route(route, method, _segments(path)))

    def match(self, method: str, path: str) -> Match | None:
        """The route for `method` and the (percent-encoded) `path` below the stage."""
        parts = [unquote(part) for part in path.split("/")[1:]] if path not in ("", "/") else []
        best: tuple[tuple[int, ...], int] | None = None
        found: Match | None = None
        for route in self._routes:
            if route.method != method and route.method != "ANY":
                continue
            bound = _bind(route.segments, parts)
            if bound is None:
                continue
            rank = (bound[0], 1 if route.method == "ANY" else 0)
            if best is None or rank < best:
                best, found = rank, Match(route.route, bound[1])
        if found is None and self.default is not None:
            return Match(self.default, {})
        return found


def _bind(
    segments: tuple[_Segment, ...], parts: list[str]
) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """How specifically `segments` match `parts` (lower is more specific), with the values
    of their variables; None when they do not match."""
    kinds: list[int] = []
    values: dict[str, str] = {}
    for index, segment in enumerate(segments):
        if segment.kind == _GREEDY:
            rest = parts[index:]
            if not rest or rest == [""]:
                return None
            kinds.append(_GREEDY)
            values[segment.text] = "/".join(rest)
            return tuple(kinds), values
        if index >= len(parts):
            return None
        part = parts[index]
        if segment.kind == _LITERAL:
            if part != segment.text:
                return None
        elif not part:
            return None
        else:
            values[segment.text] = part
        kinds.append(segment.kind)
    if len(parts) != len(segments):
        return None
    return tuple(kinds), values
