"""The parsed form of DynamoDB expressions.

Placeholders (`#name`, `:value`) are kept as written; they are resolved against a request's
ExpressionAttributeNames/Values when the expression is evaluated, so one parse of an
expression string serves every request that uses it (the parser caches by text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "And",
    "Between",
    "Compare",
    "Condition",
    "Function",
    "In",
    "Literal",
    "Not",
    "Operand",
    "Or",
    "Path",
    "Projection",
    "SetValue",
    "Update",
    "UpdateAction",
    "Value",
]


@dataclass(frozen=True, slots=True)
class Path:
    """A document path: `a.b[2].#c` -> elements ("a", "b", 2, "#c")."""

    elements: tuple[str | int, ...]

    def __str__(self) -> str:
        out = ""
        for element in self.elements:
            out += f"[{element}]" if isinstance(element, int) else ("." if out else "") + element
        return out


@dataclass(frozen=True, slots=True)
class Value:
    """An `:value` placeholder."""

    name: str


@dataclass(frozen=True, slots=True)
class Literal:
    """A bound `:value`: the attribute value itself (`Binder` makes these from `Value`s)."""

    value: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Function:
    """A function call: condition functions, `size`, and update's `if_not_exists`/`list_append`."""

    name: str
    args: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """`a + b` or `a - b` on the right of an update's SET."""

    op: str
    left: Operand
    right: Operand


Operand = Path | Value | Literal | Function | Arithmetic


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # = <> < <= > >=
    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class Between:
    operand: Operand
    low: Operand
    high: Operand


@dataclass(frozen=True, slots=True)
class In:
    operand: Operand
    choices: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class And:
    left: Condition
    right: Condition


@dataclass(frozen=True, slots=True)
class Or:
    left: Condition
    right: Condition


@dataclass(frozen=True, slots=True)
class Not:
    operand: Condition


Condition = Compare | Between | In | And | Or | Not | Function


@dataclass(frozen=True, slots=True)
class SetValue:
    path: Path
    value: Operand


@dataclass(frozen=True, slots=True)
class UpdateAction:
    """REMOVE path, ADD path :v, DELETE path :v."""

    kind: str
    path: Path
    value: Value | Literal | None = None


@dataclass(frozen=True, slots=True)
class Update:
    sets: tuple[SetValue, ...] = ()
    removes: tuple[UpdateAction, ...] = ()
    adds: tuple[UpdateAction, ...] = ()
    deletes: tuple[UpdateAction, ...] = ()


@dataclass(frozen=True, slots=True)
class Projection:
    paths: tuple[Path, ...]


@dataclass(slots=True)
class Placeholders:
    """The `#names` and `:values` an expression mentions (to find unused or undefined ones)."""

    names: set[str] = field(default_factory=set)
    values: set[str] = field(default_factory=set)
