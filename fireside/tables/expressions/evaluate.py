"""Binding expressions to a request's placeholders, and evaluating conditions and projections.

`Binder` turns a parsed (cached) expression into a bound one: `#name` placeholders become
attribute names and `:value` placeholders become `Literal` values, with DynamoDB's errors for
undefined ones, and it records what was used so unused placeholders can be reported once every
expression of the request is bound. Literal-only checks DynamoDB makes before touching an item
(BETWEEN bounds, attribute_type names, operand types of functions) happen here too.

`matches(condition, item)` and `project(item, paths)` then work on plain items.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fireside.tables.expressions.ast import (
    And,
    Arithmetic,
    Between,
    Compare,
    Condition,
    Function,
    In,
    Literal,
    Not,
    Operand,
    Or,
    Path,
    Projection,
    SetValue,
    Update,
    UpdateAction,
    Value,
)
from fireside.tables.expressions.parser import ExpressionError
from fireside.tables.values import (
    TYPES,
    AttributeValue,
    equal,
    render,
    scalar_key,
    value_type,
)

__all__ = ["Binder", "Literal", "matches", "paths_overlap", "project", "resolve"]


_ORDERED = frozenset({"N", "S", "B"})
_LONG_TYPES = {
    "S": "STRING",
    "N": "NUMBER",
    "B": "BINARY",
    "BOOL": "BOOLEAN",
    "NULL": "NULL",
    "L": "LIST",
    "M": "MAP",
    "SS": "STRING_SET",
    "NS": "NUMBER_SET",
    "BS": "BINARY_SET",
}


def incorrect_operand(function: str, tag: str) -> ExpressionError:
    return ExpressionError(
        "Incorrect operand type for operator or function; operator or function: "
        f"{function}, operand type: {tag}"
    )


class Binder:
    """Resolves placeholders of every expression in one request."""

    def __init__(
        self,
        names: Mapping[str, str] | None,
        values: Mapping[str, AttributeValue] | None,
    ) -> None:
        self.names = names or {}
        self.values = values or {}
        self.used_names: set[str] = set()
        self.used_values: set[str] = set()

    # -- placeholders --------------------------------------------------------------------------

    def name(self, element: str | int) -> str | int:
        if isinstance(element, int) or not element.startswith("#"):
            return element
        resolved = self.names.get(element)
        if resolved is None:
            raise ExpressionError(
                "An expression attribute name used in the document path is not defined; "
                f"attribute name: {element}"
            )
        self.used_names.add(element)
        return resolved

    def path(self, path: Path) -> Path:
        return Path(tuple(self.name(e) for e in path.elements))

    def value(self, value: Value) -> Literal:
        resolved = self.values.get(value.name)
        if resolved is None:
            raise ExpressionError(
                "An expression attribute value used in expression is not defined; "
                f"attribute value: {value.name}"
            )
        self.used_values.add(value.name)
        return Literal(resolved)

    def operand(self, operand: Operand) -> Any:
        if isinstance(operand, Path):
            return self.path(operand)
        if isinstance(operand, Value):
            return self.value(operand)
        if isinstance(operand, Literal):
            return operand
        if isinstance(operand, Arithmetic):
            left, right = self.operand(operand.left), self.operand(operand.right)
            for side in (left, right):
                if isinstance(side, Literal) and value_type(side.value) != "N":
                    raise incorrect_operand(operand.op, value_type(side.value))
            return Arithmetic(operand.op, left, right)
        args = tuple(self.operand(a) for a in operand.args)
        if operand.name == "list_append":
            for side in args:
                if isinstance(side, Literal) and value_type(side.value) != "L":
                    raise incorrect_operand("list_append", value_type(side.value))
        if operand.name == "if_not_exists" and not isinstance(args[0], Path):
            raise ExpressionError(
                "Operator or function requires a document path; operator or function: if_not_exists"
            )
        return Function(operand.name, args)

    # -- expressions ---------------------------------------------------------------------------

    def condition(self, condition: Condition) -> Condition:
        if isinstance(condition, And):
            return And(self.condition(condition.left), self.condition(condition.right))
        if isinstance(condition, Or):
            return Or(self.condition(condition.left), self.condition(condition.right))
        if isinstance(condition, Not):
            return Not(self.condition(condition.operand))
        if isinstance(condition, Compare):
            left, right = self.operand(condition.left), self.operand(condition.right)
            if condition.op not in ("=", "<>"):
                for side in (left, right):
                    if isinstance(side, Literal) and value_type(side.value) not in _ORDERED:
                        raise incorrect_operand(condition.op, value_type(side.value))
            return Compare(condition.op, left, right)
        if isinstance(condition, Between):
            operand = self.operand(condition.operand)
            low, high = self.operand(condition.low), self.operand(condition.high)
            for side in (operand, low, high):
                if isinstance(side, Literal) and value_type(side.value) not in _ORDERED:
                    raise incorrect_operand("BETWEEN", value_type(side.value))
            if isinstance(low, Literal) and isinstance(high, Literal):
                lo, hi = scalar_key(low.value), scalar_key(high.value)
                if lo is not None and hi is not None and lo[0] == hi[0] and lo[1] > hi[1]:
                    raise ExpressionError(
                        "The BETWEEN operator requires upper bound to be greater than or equal "
                        f"to lower bound; lower bound operand: AttributeValue: "
                        f"{render(low.value)}, upper bound operand: AttributeValue: "
                        f"{render(high.value)}"
                    )
            return Between(operand, low, high)
        if isinstance(condition, In):
            return In(
                self.operand(condition.operand), tuple(self.operand(c) for c in condition.choices)
            )
        return self.function(condition)

    def function(self, function: Function) -> Function:
        args = tuple(self.operand(a) for a in function.args)
        name = function.name
        if name == "attribute_type":
            kind = args[1]
            if isinstance(kind, Literal):
                tag = value_type(kind.value)
                if tag != "S":
                    raise incorrect_operand("attribute_type", tag)
                if kind.value["S"] not in TYPES:
                    raise ExpressionError(
                        f"Invalid attribute type name found; type: {kind.value['S']}, valid "
                        "types: { B,BOOL,BS,L,M,N,NS,NULL,S,SS }"
                    )
        elif name == "begins_with":
            for side in args:
                if isinstance(side, Literal) and value_type(side.value) not in ("S", "B"):
                    raise incorrect_operand("begins_with", value_type(side.value))
        return Function(name, args)

    def update(self, update: Update) -> Update:
        bound = Update(
            sets=tuple(SetValue(self.path(s.path), self.operand(s.value)) for s in update.sets),
            removes=tuple(UpdateAction("REMOVE", self.path(r.path)) for r in update.removes),
            adds=tuple(self._add_or_delete(a) for a in update.adds),
            deletes=tuple(self._add_or_delete(d) for d in update.deletes),
        )
        paths: list[Path] = [s.path for s in bound.sets]
        paths += [a.path for a in (*bound.removes, *bound.adds, *bound.deletes)]
        check_overlaps(paths)
        return bound

    def _add_or_delete(self, action: UpdateAction) -> UpdateAction:
        assert action.value is not None
        literal = action.value if isinstance(action.value, Literal) else self.value(action.value)
        tag = value_type(literal.value)
        allowed = ("N", "SS", "NS", "BS") if action.kind == "ADD" else ("SS", "NS", "BS")
        if tag not in allowed:
            raise incorrect_operand(f"operator: {action.kind}", _LONG_TYPES[tag])
        return UpdateAction(action.kind, self.path(action.path), literal)

    def projection(self, projection: Projection) -> list[Path]:
        paths = [self.path(p) for p in projection.paths]
        check_overlaps(paths)
        return paths

    # -- unused placeholders -------------------------------------------------------------------

    def unused_names(self) -> list[str]:
        return [n for n in self.names if n not in self.used_names]

    def unused_values(self) -> list[str]:
        return [v for v in self.values if v not in self.used_values]


def _render_path(path: Path) -> str:
    return "[" + ", ".join(f"[{e}]" if isinstance(e, int) else e for e in path.elements) + "]"


def paths_overlap(a: Path, b: Path) -> bool:
    shorter = min(len(a.elements), len(b.elements))
    return a.elements[:shorter] == b.elements[:shorter]


def check_overlaps(paths: Sequence[Path]) -> None:
    """DynamoDB rejects two paths where one is (a prefix of) the other, or that disagree on
    whether a step is a map key or a list index."""
    for i, first in enumerate(paths):
        for second in paths[i + 1 :]:
            if paths_overlap(first, second):
                raise ExpressionError(
                    "Two document paths overlap with each other; must remove or rewrite one of "
                    f"these paths; path one: {_render_path(first)}, path two: "
                    f"{_render_path(second)}"
                )
            for x, y in zip(first.elements, second.elements, strict=False):
                if x == y:
                    continue
                if isinstance(x, int) != isinstance(y, int):
                    raise ExpressionError(
                        "Two document paths conflict with each other; must remove or rewrite "
                        f"one of these paths; path one: {_render_path(first)}, path two: "
                        f"{_render_path(second)}"
                    )
                break


# -- evaluation --------------------------------------------------------------------------------


def resolve(path: Path, item: Mapping[str, AttributeValue]) -> AttributeValue | None:
    """The value at a (bound) path, or None when any step is missing or of the wrong type."""
    elements = path.elements
    first = elements[0]
    if isinstance(first, int):
        return None
    value = item.get(first)
    for element in elements[1:]:
        if value is None:
            return None
        if isinstance(element, int):
            inner = value.get("L")
            value = inner[element] if inner is not None and element < len(inner) else None
        else:
            inner = value.get("M")
            value = inner.get(element) if inner is not None else None
    return value


def operand_value(operand: Any, item: Mapping[str, AttributeValue]) -> AttributeValue | None:
    if isinstance(operand, Literal):
        return operand.value
    if isinstance(operand, Path):
        return resolve(operand, item)
    if isinstance(operand, Function) and operand.name == "size":
        value = operand_value(operand.args[0], item)
        if value is None:
            return None
        size = _size(value)
        return None if size is None else {"N": str(size)}
    return None


def _size(value: AttributeValue) -> int | None:
    tag = value_type(value)
    inner = value[tag]
    if tag == "S":
        return len(inner.encode("utf-8", "surrogatepass"))
    if tag == "B":
        return len(inner)
    if tag in ("SS", "NS", "BS", "L", "M"):
        return len(inner)
    return None


def _ordered(op: str, left: AttributeValue, right: AttributeValue) -> bool:
    a, b = scalar_key(left), scalar_key(right)
    if a is None or b is None or a[0] != b[0]:
        return False
    if op == "<":
        return bool(a[1] < b[1])
    if op == "<=":
        return bool(a[1] <= b[1])
    if op == ">":
        return bool(a[1] > b[1])
    return bool(a[1] >= b[1])


def matches(condition: Condition, item: Mapping[str, AttributeValue]) -> bool:
    """Whether a bound condition holds for `item` ({} for an absent item)."""
    if isinstance(condition, And):
        return matches(condition.left, item) and matches(condition.right, item)
    if isinstance(condition, Or):
        return matches(condition.left, item) or matches(condition.right, item)
    if isinstance(condition, Not):
        return not matches(condition.operand, item)
    if isinstance(condition, Compare):
        left = operand_value(condition.left, item)
        right = operand_value(condition.right, item)
        if condition.op == "<>":
            return left is None or right is None or not equal(left, right)
        if left is None or right is None:
            return False
        if condition.op == "=":
            return equal(left, right)
        return _ordered(condition.op, left, right)
    if isinstance(condition, Between):
        value = operand_value(condition.operand, item)
        low = operand_value(condition.low, item)
        high = operand_value(condition.high, item)
        if value is None or low is None or high is None:
            return False
        return _ordered(">=", value, low) and _ordered("<=", value, high)
    if isinstance(condition, In):
        value = operand_value(condition.operand, item)
        if value is None:
            return False
        for choice in condition.choices:
            candidate = operand_value(choice, item)
            if candidate is not None and equal(value, candidate):
                return True
        return False
    return _function(condition, item)


def _function(function: Function, item: Mapping[str, AttributeValue]) -> bool:
    name = function.name
    first = operand_value(function.args[0], item)
    if name == "attribute_exists":
        return first is not None
    if name == "attribute_not_exists":
        return first is None
    second = operand_value(function.args[1], item)
    if first is None or second is None:
        return False
    if name == "attribute_type":
        return "S" in second and value_type(first) == second["S"]
    first_tag, second_tag = value_type(first), value_type(second)
    if name == "begins_with":
        if first_tag != second_tag or first_tag not in ("S", "B"):
            return False
        return bool(first[first_tag].startswith(second[second_tag]))
    # contains
    if first_tag == "S" and second_tag == "S":
        return second["S"] in first["S"]
    if first_tag == "B" and second_tag == "B":
        return second["B"] in first["B"]
    if first_tag in ("SS", "NS", "BS"):
        return first_tag[0] == second_tag and second[second_tag] in first[first_tag]
    if first_tag == "L":
        return any(equal(element, second) for element in first["L"])
    return False


# -- projection --------------------------------------------------------------------------------


def _tree(paths: Sequence[Path]) -> dict[str | int, Any]:
    root: dict[str | int, Any] = {}
    for path in paths:
        node = root
        elements = path.elements
        for element in elements[:-1]:
            child = node.get(element)
            if child is True:
                break
            if child is None:
                child = node[element] = {}
            node = child
        else:
            node[elements[-1]] = True
    return root


def _project_value(value: AttributeValue, tree: dict[str | int, Any]) -> AttributeValue | None:
    if "M" in value:
        inner = value["M"]
        out = {}
        for key, sub in tree.items():
            if isinstance(key, int) or key not in inner:
                continue
            picked = inner[key] if sub is True else _project_value(inner[key], sub)
            if picked is not None:
                out[key] = picked
        return {"M": out} if out else None
    if "L" in value:
        items = value["L"]
        chosen = []
        for key in sorted(k for k in tree if isinstance(k, int)):
            if key < len(items):
                sub = tree[key]
                picked = items[key] if sub is True else _project_value(items[key], sub)
                if picked is not None:
                    chosen.append(picked)
        return {"L": chosen} if chosen else None
    return None


def project(item: Mapping[str, AttributeValue], paths: Sequence[Path]) -> dict[str, AttributeValue]:
    """The parts of `item` named by (bound) projection paths, nested structure kept."""
    out: dict[str, AttributeValue] = {}
    for key, sub in _tree(paths).items():
        if isinstance(key, int) or key not in item:
            continue
        picked = item[key] if sub is True else _project_value(item[key], sub)
        if picked is not None:
            out[key] = picked
    return out
