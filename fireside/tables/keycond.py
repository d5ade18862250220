"""Query's key condition: from a bound condition to one partition and a sort-key range.

A key condition is `partition = :v`, optionally AND one sort-key condition among
`= < <= > >=`, `BETWEEN` and `begins_with`. Anything else is refused with DynamoDB's message.
"""

from __future__ import annotations

from dataclasses import dataclass

from fireside.aws.errors import ServiceError
from fireside.tables.engine import Bound
from fireside.tables.errors import INVALID, validation
from fireside.tables.expressions.ast import (
    And,
    Between,
    Compare,
    Condition,
    Function,
    Literal,
    Path,
)
from fireside.tables.keys import (
    KeySchema,
    encode_component,
    encode_value,
    escape_prefix,
    partition_bytes,
)
from fireside.tables.values import AttributeValue, value_type

__all__ = ["KeyRange", "check_key_condition", "key_range"]

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "="}


@dataclass(frozen=True, slots=True)
class KeyRange:
    pk: bytes
    low: Bound | None
    high: Bound | None
    #: The partition key value (for messages and LastEvaluatedKey checks).
    partition: AttributeValue


def _invalid(detail: str) -> ServiceError:
    return validation(f"Invalid KeyConditionExpression: {detail}")


def _parts(condition: Condition) -> list[Condition]:
    if isinstance(condition, And):
        return _parts(condition.left) + _parts(condition.right)
    return [condition]


def _single(path: object) -> str:
    assert isinstance(path, Path)
    if len(path.elements) != 1:
        raise _invalid("KeyConditionExpressions cannot have conditions on nested attributes")
    return str(path.elements[0])


def _split(condition: Condition) -> tuple[str, str, list[AttributeValue]]:
    """(attribute, operator, values) of one key condition."""
    if isinstance(condition, Compare):
        left, right = condition.left, condition.right
        if isinstance(left, Path) and isinstance(right, Path):
            raise _invalid(
                "Invalid condition in KeyConditionExpression: Multiple attribute names used in "
                "one condition"
            )
        op = condition.op
        if op == "<>":
            raise _invalid("Invalid operator used in KeyConditionExpression: <>")
        if isinstance(right, Path):
            left, right, op = right, left, _FLIP[op]
        if not isinstance(left, Path) or not isinstance(right, Literal):
            raise _invalid(
                "Invalid condition in KeyConditionExpression: No key attribute specified"
            )
        return _single(left), op, [right.value]
    if isinstance(condition, Between):
        if not isinstance(condition.low, Literal) or not isinstance(condition.high, Literal):
            raise _invalid(
                "Invalid condition in KeyConditionExpression: Multiple attribute names used in "
                "one condition"
            )
        return _single(condition.operand), "BETWEEN", [condition.low.value, condition.high.value]
    if isinstance(condition, Function):
        if condition.name != "begins_with":
            raise _invalid(f"Invalid operator used in KeyConditionExpression: {condition.name}")
        path, value = condition.args
        if not isinstance(value, Literal):
            raise _invalid(
                "Invalid condition in KeyConditionExpression: Multiple attribute names used in "
                "one condition"
            )
        return _single(path), "begins_with", [value.value]
    name = type(condition).__name__.upper()
    raise _invalid(f"Invalid operator used in KeyConditionExpression: {name}")


def check_key_condition(condition: Condition) -> None:
    """What DynamoDB checks of a key condition before it looks up the table's key schema."""
    names = [_split(part)[0] for part in _parts(condition)]
    if len(set(names)) != len(names):
        raise _invalid("KeyConditionExpressions must only contain one condition per key")


def _prefix_end(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with `prefix`."""
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes((trimmed[-1] + 1,))


def key_range(condition: Condition, key: KeySchema) -> KeyRange:
    parts = _parts(condition)
    if len(parts) > (len(key.names) if key.composite else 2):
        raise _invalid("Conditions can be of length 1 or 2 only")
    split = [_split(p) for p in parts]
    names = [s[0] for s in split]
    if len(set(names)) != len(names):
        raise _invalid("KeyConditionExpressions must only contain one condition per key")
    by_name = {s[0]: s for s in split}
    if key.composite:
        return _composite_range(by_name, key)
    if key.hash_name not in by_name:
        raise validation(f"Query condition missed key schema element: {key.hash_name}")
    for name in names:
        if name not in key.names:
            if key.range_name is not None:
                raise validation(f"Query condition missed key schema element: {key.range_name}")
            raise validation("Query key condition not supported")
    _, op, values = by_name[key.hash_name]
    if op != "=":
        raise validation("Query key condition not supported")
    partition = values[0]
    if value_type(partition) != key.hash_type:
        raise validation(f"{INVALID}Condition parameter type does not match schema type")
    pk = partition_bytes(encode_value(partition))
    low: Bound | None = None
    high: Bound | None = None
    if key.range_name is not None and key.range_name in by_name:
        _, op, values = by_name[key.range_name]
        for value in values:
            if value_type(value) != key.range_type:
                if op == "begins_with" and value_type(value) not in ("S", "B"):
                    raise _invalid(
                        "Incorrect operand type for operator or function; operator or function: "
                        f"begins_with, operand type: {value_type(value)}"
                    )
                raise validation(f"{INVALID}Condition parameter type does not match schema type")
        encoded = [encode_value(v) for v in values]
        if op == "=":
            low = high = Bound(encoded[0])
        elif op in ("<", "<="):
            high = Bound(encoded[0], op == "<=")
        elif op in (">", ">="):
            low = Bound(encoded[0], op == ">=")
        elif op == "BETWEEN":
            low, high = Bound(encoded[0]), Bound(encoded[1])
        else:  # begins_with
            if key.range_type == "N":
                raise _invalid(
                    "Incorrect operand type for operator or function; operator or function: "
                    "begins_with, operand type: N"
                )
            low = Bound(encoded[0])
            end = _prefix_end(encoded[0])
            high = Bound(end, False) if end is not None else None
    return KeyRange(pk, low, high, partition)


def _bounds_for(
    op: str, prefix: bytes, values: list[AttributeValue]
) -> tuple[Bound | None, Bound | None]:
    """The byte range of the last sort attribute's condition, after an equality `prefix`."""
    whole = _prefix_end(prefix) if prefix else None
    floor = Bound(prefix) if prefix else None
    ceiling = Bound(whole, False) if whole is not None else None
    if op == "begins_with":
        start = prefix + escape_prefix(values[0])
        end = _prefix_end(start)
        return Bound(start), (Bound(end, False) if end is not None else ceiling)
    first = prefix + encode_component(values[0])
    after_first = _prefix_end(first)
    if op == "=":
        return Bound(first), (Bound(after_first, False) if after_first is not None else ceiling)
    if op == "<":
        return floor, Bound(first, False)
    if op == "<=":
        return floor, (Bound(after_first, False) if after_first is not None else ceiling)
    if op == ">":
        return (Bound(after_first) if after_first is not None else Bound(first, False)), ceiling
    if op == ">=":
        return Bound(first), ceiling
    # BETWEEN
    last = prefix + encode_component(values[1])
    after_last = _prefix_end(last)
    return Bound(first), (Bound(after_last, False) if after_last is not None else ceiling)


def _composite_range(
    by_name: dict[str, tuple[str, str, list[AttributeValue]]], key: KeySchema
) -> KeyRange:
    """A multi-attribute (GSI) key: every partition attribute by equality, then a leading run
    of sort attributes, all by equality but the last given, which may use any operator."""
    partition = b""
    for name, kind in key.hashes:
        if name not in by_name:
            raise validation(f"Query condition missed key schema element: {name}")
        _, op, values = by_name[name]
        if op != "=":
            raise validation("Query key condition not supported")
        if value_type(values[0]) != kind:
            raise validation(f"{INVALID}Condition parameter type does not match schema type")
        partition += encode_component(values[0])
    known = {name for name, _ in (*key.hashes, *key.ranges)}
    for name in by_name:
        if name not in known:
            raise validation("Query key condition not supported")
    given = [(name, kind) for name, kind in key.ranges if name in by_name]
    for position, (name, _) in enumerate(key.ranges[: len(given)]):
        if name not in by_name:
            raise validation(f"Query condition missed key schema element: {name}")
        if position < len(given) - 1 and by_name[name][1] != "=":
            raise _invalid(
                "Only the last sort key attribute in a condition may use a range operator; "
                f"sort key: {name}"
            )
    prefix = b""
    low: Bound | None = None
    high: Bound | None = None
    for position, (name, kind) in enumerate(given):
        _, op, values = by_name[name]
        for value in values:
            if value_type(value) != kind:
                raise validation(f"{INVALID}Condition parameter type does not match schema type")
        if op == "begins_with" and kind == "N":
            raise _invalid(
                "Incorrect operand type for operator or function; operator or function: "
                "begins_with, operand type: N"
            )
        if position < len(given) - 1:
            prefix += encode_component(values[0])
        else:
            low, high = _bounds_for(op, prefix, values)
    pk = partition_bytes(partition)
    return KeyRange(pk, low, high, {"S": ""})
