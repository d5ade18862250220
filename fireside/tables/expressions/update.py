"""Applying a bound UpdateExpression to an item.

Every value on the right of SET is computed from the item as it was before the update (so
`SET a = b, b = a` swaps), then the actions are applied: SET, REMOVE (list elements from the
highest index down, so indexes mean what they meant in the original item), ADD, DELETE.
Errors are DynamoDB's ValidationExceptions (raised as `ServiceError`).
"""

from __future__ import annotations

import copy
from typing import Any

from fireside.aws.errors import ServiceError
from fireside.tables.errors import validation
from fireside.tables.expressions.ast import Arithmetic, Function, Literal, Path, Update
from fireside.tables.expressions.evaluate import resolve
from fireside.tables.values import AttributeValue, Item, add_numbers, value_type

__all__ = ["apply_update", "updated_paths"]

_BAD_PATH = "The document path provided in the update expression is invalid for update"
_BAD_TYPE = "An operand in the update expression has an incorrect data type"
_MISSING = "The provided expression refers to an attribute that does not exist in the item"


def _invalid(message: str) -> ServiceError:
    return validation(message)


_IMMUTABLE = (str, bytes, bool, int, float, type(None))


def _copy(value: Any) -> Any:
    """A deep copy of an item or attribute value (dicts, lists and immutable leaves), several
    times cheaper than `copy.deepcopy`, which every UpdateItem and transaction update pays."""
    kind = type(value)
    if kind is dict:
        return {k: _copy(v) for k, v in value.items()}
    if kind is list:
        return [_copy(v) for v in value]
    if kind in _IMMUTABLE:
        return value
    return copy.deepcopy(value)


def _value(operand: Any, item: Item) -> AttributeValue:
    if isinstance(operand, Literal):
        return operand.value
    if isinstance(operand, Path):
        found = resolve(operand, item)
        if found is None:
            raise _invalid(_MISSING)
        return found
    if isinstance(operand, Arithmetic):
        left, right = _value(operand.left, item), _value(operand.right, item)
        if "N" not in left or "N" not in right:
            raise _invalid(_BAD_TYPE)
        return {"N": add_numbers(left["N"], right["N"], subtract=operand.op == "-")}
    assert isinstance(operand, Function)
    if operand.name == "if_not_exists":
        path = operand.args[0]
        assert isinstance(path, Path)
        existing = resolve(path, item)
        return existing if existing is not None else _value(operand.args[1], item)
    # list_append
    first, second = _value(operand.args[0], item), _value(operand.args[1], item)
    if "L" not in first or "L" not in second:
        raise _invalid(_BAD_TYPE)
    return {"L": [*first["L"], *second["L"]]}


def _container(item: Item, path: Path) -> Any:
    """The map (dict) or list holding the last step of `path`; raises when it is missing."""
    elements = path.elements
    if len(elements) == 1:
        return item
    parent = resolve(Path(elements[:-1]), item)
    last = elements[-1]
    if parent is None:
        raise _invalid(_BAD_PATH)
    if isinstance(last, int):
        if "L" not in parent:
            raise _invalid(_BAD_PATH)
        return parent["L"]
    if "M" not in parent:
        raise _invalid(_BAD_PATH)
    return parent["M"]


def _set(item: Item, path: Path, value: AttributeValue) -> None:
    container = _container(item, path)
    last = path.elements[-1]
    if isinstance(last, int):
        if last < len(container):
            container[last] = value
        else:
            container.append(value)
    else:
        container[last] = value


def _remove(item: Item, path: Path) -> None:
    elements = path.elements
    if len(elements) > 1 and resolve(Path(elements[:-1]), item) is None:
        return
    container = _container(item, path)
    last = elements[-1]
    if isinstance(last, int):
        if last < len(container):
            del container[last]
    else:
        container.pop(last, None)


def _add(item: Item, path: Path, value: AttributeValue) -> None:
    existing = resolve(path, item)
    tag = value_type(value)
    if existing is None:
        _set(item, path, _copy(value))
        return
    if value_type(existing) != tag:
        raise _invalid(_BAD_TYPE)
    if tag == "N":
        _set(item, path, {"N": add_numbers(existing["N"], value["N"])})
        return
    merged = list(existing[tag])
    merged.extend(v for v in value[tag] if v not in existing[tag])
    _set(item, path, {tag: merged})


def _delete(item: Item, path: Path, value: AttributeValue) -> None:
    existing = resolve(path, item)
    if existing is None:
        return
    tag = value_type(value)
    if value_type(existing) != tag:
        raise _invalid(_BAD_TYPE)
    drop = set(value[tag])
    kept = [v for v in existing[tag] if v not in drop]
    if kept:
        _set(item, path, {tag: kept})
    else:
        _remove(item, path)


def _list_order(path: Path) -> int:
    """Sort key keeping other writes in place (stable sort) and list elements by index."""
    last = path.elements[-1]
    return last if isinstance(last, int) else -1


def apply_update(update: Update, old: Item) -> Item:
    """The item after `update` (bound); `old` is not modified."""
    new: Item = _copy(old)
    computed = [(action.path, _value(action.value, old)) for action in update.sets]
    # Writes to list elements go in index order, as DynamoDB applies them: `SET l[4] = :a,
    # l[2] = :b` on a 2-element list appends :b, then :a.
    for path, value in sorted(computed, key=lambda pair: _list_order(pair[0])):
        _set(new, path, _copy(value))
    # Remove list elements from the highest index down: indexes refer to the original list.
    removals = sorted(
        (action.path for action in update.removes),
        key=lambda p: p.elements[-1] if isinstance(p.elements[-1], int) else -1,
        reverse=True,
    )
    for path in removals:
        _remove(new, path)
    for action in sorted(update.adds, key=lambda a: _list_order(a.path)):
        assert isinstance(action.value, Literal)
        _add(new, action.path, action.value.value)
    for action in update.deletes:
        assert isinstance(action.value, Literal)
        _delete(new, action.path, action.value.value)
    return new


def updated_paths(update: Update) -> list[Path]:
    """The paths an update writes (for ReturnValues UPDATED_OLD / UPDATED_NEW)."""
    paths = [s.path for s in update.sets]
    return paths + [a.path for a in (*update.removes, *update.adds, *update.deletes)]
