"""The tree `rest_api_vtl` parses a mapping template into and `rest_api_vtl_eval` runs:
text, references, directives and expressions, as plain dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Binary",
    "Branch",
    "Foreach",
    "If",
    "ListExpr",
    "Literal",
    "MapExpr",
    "Node",
    "RangeExpr",
    "Ref",
    "Set",
    "Signal",
    "StringExpr",
    "UnsupportedTemplate",
]


class UnsupportedTemplate(Exception):
    """A template uses VTL Fireside does not run, is malformed, or outgrows a limit."""


@dataclass(slots=True)
class Ref:
    quiet: bool
    name: str
    #: ("prop", name) | ("call", name, [args]) | ("index", expr)
    steps: list[tuple[Any, ...]]
    text: str


@dataclass(slots=True)
class Literal:
    value: Any


@dataclass(slots=True)
class StringExpr:
    """A double-quoted string: its parts are rendered (references interpolated)."""

    parts: list[Node]


@dataclass(slots=True)
class ListExpr:
    items: list[Any]


@dataclass(slots=True)
class RangeExpr:
    start: Any
    stop: Any


@dataclass(slots=True)
class MapExpr:
    items: list[tuple[Any, Any]]


@dataclass(slots=True)
class Binary:
    op: str  # "||", "&&", "==", "+", ... and the unary "!" / "neg" (right is None)
    left: Any
    right: Any


@dataclass(slots=True)
class Set:
    target: Ref
    value: Any


@dataclass(slots=True)
class Branch:
    condition: Any  # None for #else
    body: list[Node] = field(default_factory=list)


@dataclass(slots=True)
class If:
    branches: list[Branch]


@dataclass(slots=True)
class Foreach:
    variable: str
    items: Any
    body: list[Node]


@dataclass(slots=True)
class Signal:
    kind: str  # "break" | "stop"


Node = str | Ref | Set | If | Foreach | Signal
