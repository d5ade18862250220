"""Which resource of a deployed REST API a request path names, as API Gateway matches them.

At each path segment a static child beats a `{param}` child, which beats a `{proxy+}` child
(greedy: it takes the rest of the path, one segment or more); when the more specific branch
dead-ends deeper down, the next one is tried. The root resource `/` matches the empty path.
Routes are compiled once per deployment (a deployment never changes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

__all__ = ["Match", "RouteTree"]


@dataclass(slots=True)
class _Node:
    resource: dict[str, Any]
    static: dict[str, _Node] = field(default_factory=dict)
    param: tuple[str, _Node] | None = None
    greedy: tuple[str, _Node] | None = None


@dataclass(frozen=True, slots=True)
class Match:
    resource: dict[str, Any]
    #: Path parameters, decoded.
    path_parameters: dict[str, str]


class RouteTree:
    def __init__(self, resources: dict[str, dict[str, Any]]) -> None:
        nodes = {key: _Node(resource) for key, resource in resources.items()}
        self._root: _Node | None = None
        for node in nodes.values():
            resource = node.resource
            parent = nodes.get(resource.get("parentId", ""))
            if parent is None:
                if resource.get("path") == "/":
                    self._root = node
                continue
            part: str = resource["pathPart"]
            if part.startswith("{") and part.endswith("+}"):
                parent.greedy = (part[1:-2], node)
            elif part.startswith("{") and part.endswith("}"):
                parent.param = (part[1:-1], node)
            else:
                parent.static[part] = node

    def match(self, path: str) -> Match | None:
        """The resource `path` (percent-encoded, after the stage) names, or None."""
        if self._root is None:
            return None
        segments = [s for s in path.split("/") if s]
        return _walk(self._root, segments, 0, {})

    def __bool__(self) -> bool:
        return self._root is not None


def _walk(node: _Node, segments: list[str], index: int, params: dict[str, str]) -> Match | None:
    if index == len(segments):
        return Match(node.resource, params)
    segment = segments[index]
    child = node.static.get(unquote(segment))
    if child is not None:
        found = _walk(child, segments, index + 1, params)
        if found is not None:
            return found
    if node.param is not None:
        name, child = node.param
        found = _walk(child, segments, index + 1, {**params, name: unquote(segment)})
        if found is not None:
            return found
    if node.greedy is not None:
        name, child = node.greedy
        rest = "/".join(unquote(s) for s in segments[index:])
        return Match(child.resource, {**params, name: rest})
    return None
