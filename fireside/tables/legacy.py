"""DynamoDB's legacy (pre-expression) parameters, translated into bound expressions.

`Expected`, `QueryFilter`, `ScanFilter` and `KeyConditions` become conditions,
`AttributesToGet` a projection, `AttributeUpdates` an update, so the rest of the code knows
only one form. A request may not mix the two styles.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fireside.tables.errors import INVALID, validation
from fireside.tables.expressions.ast import (
    And,
    Between,
    Compare,
    Condition,
    Function,
    In,
    Literal,
    Not,
    Or,
    Path,
    SetValue,
    Update,
    UpdateAction,
)
from fireside.tables.keys import KeySchema
from fireside.tables.values import normalize_value, scalar_key, value_type

__all__ = [
    "attribute_updates",
    "attributes_to_get",
    "check_indexable",
    "expected_condition",
    "filter_condition",
    "reject_mixed",
]

# Both in the order DynamoDB lists them when a request mixes the two styles.
_LEGACY = (
    "AttributesToGet",
    "AttributeUpdates",
    "Expected",
    "QueryFilter",
    "ScanFilter",
    "ConditionalOperator",
    "KeyConditions",
)
_EXPRESSIONS = (
    "ProjectionExpression",
    "UpdateExpression",
    "ConditionExpression",
    "FilterExpression",
    "KeyConditionExpression",
)
_ARGUMENTS = {
    "EQ": 1,
    "NE": 1,
    "LE": 1,
    "LT": 1,
    "GE": 1,
    "GT": 1,
    "NOT_NULL": 0,
    "NULL": 0,
    "CONTAINS": 1,
    "NOT_CONTAINS": 1,
    "BEGINS_WITH": 1,
    "BETWEEN": 2,
}
_COMPARATORS = {"EQ": "=", "NE": "<>", "LE": "<=", "LT": "<", "GE": ">=", "GT": ">"}


def reject_mixed(params: Mapping[str, Any], prefix: str = "") -> None:
    legacy = [name for name in _LEGACY if params.get(name) is not None]
    modern = [name for name in _EXPRESSIONS if params.get(name) is not None]
    if params.get("KeyConditionExpression") is None and "KeyConditions" in legacy:
        # KeyConditions may go with expressions for the rest of a Query.
        legacy.remove("KeyConditions")
    if legacy and modern:
        raise validation(
            f"{prefix}Can not use both expression and non-expression parameters in the same "
            f"request: Non-expression parameters: {{{', '.join(legacy)}}} Expression "
            f"parameters: {{{', '.join(modern)}}}"
        )


def attributes_to_get(names: list[str]) -> list[Path]:
    if len(set(names)) != len(names):
        raise validation(
            f"{INVALID}Duplicate value in attribute name: {next(n for n in names if names.count(n) > 1)}"
        )
    return [Path((name,)) for name in names]


#: The AttributeValue types each operator takes in QueryFilter, ScanFilter and KeyConditions.
#: EQ and NE take every type, lists and maps included (DynamoDB's Condition reference; moto's
#: test_scan_with_scanfilter: boto3's table resource sends a map, which AWS accepts).
_ALL_TYPES = ("S", "N", "B", "SS", "NS", "BS", "BOOL", "NULL", "M", "L")
_FILTER_TYPES = {
    "EQ": _ALL_TYPES,
    "NE": _ALL_TYPES,
    "BEGINS_WITH": ("S", "B"),
}
_SCALARS = ("S", "N", "B")


def _check_arguments(operator: str, values: list[Any]) -> None:
    expected = _ARGUMENTS.get(operator)
    count_ok = bool(values) if operator == "IN" else expected == len(values)
    if not count_ok:
        raise validation(
            f"{INVALID}Invalid number of argument(s) for the {operator} ComparisonOperator"
        )
    if values and any(value_type(v) != value_type(values[0]) for v in values):
        raise validation(f"{INVALID}AttributeValues inside AttributeValueList must be of same type")


def _check_range(operator: str, values: list[Any]) -> None:
    if operator == "BETWEEN":
        low, high = scalar_key(values[0]), scalar_key(values[1])
        if low is not None and high is not None and low[0] == high[0] and low[1] > high[1]:
            raise validation(
                "The BETWEEN condition was provided a range where the lower bound is greater "
                "than the upper bound"
            )


def comparison(name: str, operator: str, values: list[Any]) -> Condition:
    """One legacy condition: `operator` applied to attribute `name` with checked `values`."""
    path = Path((name,))
    literals = [Literal(v) for v in values]
    if operator in _COMPARATORS:
        return Compare(_COMPARATORS[operator], path, literals[0])
    if operator == "NOT_NULL":
        return Function("attribute_exists", (path,))
    if operator == "NULL":
        return Function("attribute_not_exists", (path,))
    if operator == "CONTAINS":
        return Function("contains", (path, literals[0]))
    if operator == "NOT_CONTAINS":
        return And(
            Function("attribute_exists", (path,)), Not(Function("contains", (path, literals[0])))
        )
    if operator == "BEGINS_WITH":
        return Function("begins_with", (path, literals[0]))
    if operator == "BETWEEN":
        return Between(path, literals[0], literals[1])
    return In(path, tuple(literals))


def filter_comparison(name: str, condition: Mapping[str, Any]) -> Condition:
    """A QueryFilter, ScanFilter or KeyConditions entry ({ComparisonOperator, AttributeValueList})."""
    operator = condition["ComparisonOperator"]
    values = [normalize_value(v) for v in condition.get("AttributeValueList") or []]
    _check_arguments(operator, values)
    allowed = _FILTER_TYPES.get(operator, _SCALARS)
    for value in values:
        if value_type(value) not in allowed:
            raise validation(
                f"{INVALID}ComparisonOperator {operator} is not valid for {value_type(value)} "
                "AttributeValue type"
            )
    _check_range(operator, values)
    return comparison(name, operator, values)


_INDEXABLE = frozenset({"EQ", "LE", "LT", "GE", "GT", "BEGINS_WITH", "BETWEEN"})


def check_indexable(conditions: Mapping[str, Any], key: KeySchema) -> None:
    """KeyConditions name the key's attributes, then use only operators a key range serves."""
    if not key.composite and key.hash_name not in conditions:
        raise validation(f"Query condition missed key schema element: {key.hash_name}")
    if not key.composite and key.range_name and any(n not in key.names for n in conditions):
        raise validation(f"Query condition missed key schema element: {key.range_name}")
    if any(c["ComparisonOperator"] not in _INDEXABLE for c in conditions.values()):
        raise validation("Attempted conditional constraint is not an indexable operation")


def _combine(parts: list[Condition], operator: str | None) -> Condition:
    result = parts[0]
    for part in parts[1:]:
        result = Or(result, part) if operator == "OR" else And(result, part)
    return result


def expected_condition(expected: Mapping[str, Any], operator: str | None) -> Condition:
    """`Expected`, checked in DynamoDB's order; a `Value` beside a ComparisonOperator is its
    one argument, as if it were a one-element AttributeValueList."""
    parts: list[Condition] = []
    for name, entry in expected.items():
        value, listed = entry.get("Value"), entry.get("AttributeValueList")
        compare, exists = entry.get("ComparisonOperator"), entry.get("Exists")
        if value is not None and listed is not None:
            raise validation(
                f"{INVALID}Value and AttributeValueList cannot be used together for Attribute: "
                f"{name}"
            )
        if compare is not None:
            if exists is not None:
                raise validation(
                    f"{INVALID}Exists and ComparisonOperator cannot be used together for "
                    f"Attribute: {name}"
                )
            if compare not in ("NULL", "NOT_NULL") and value is None and listed is None:
                raise validation(
                    f"{INVALID}Value or AttributeValueList must be used with ComparisonOperator: "
                    f"{compare} for Attribute: {name}"
                )
            raw = listed if listed is not None else [value] if value is not None else []
            values = [normalize_value(v) for v in raw]
            _check_arguments(compare, values)
            if compare in ("LE", "LT", "GE", "GT") and value_type(values[0]) not in _SCALARS:
                raise validation(
                    f"{INVALID}ComparisonOperator {compare} is not valid for "
                    f"{value_type(values[0])} AttributeValue type"
                )
            _check_range(compare, values)
            parts.append(comparison(name, compare, values))
            continue
        if listed is not None:
            raise validation(
                f"{INVALID}AttributeValueList can only be used with a ComparisonOperator for "
                f"Attribute: {name}"
            )
        if exists is False:
            if value is not None:
                raise validation(
                    f"{INVALID}Value cannot be used when Exists is false for Attribute: {name}"
                )
            parts.append(Function("attribute_not_exists", (Path((name,)),)))
        else:
            if value is None:
                said = "null" if exists is None else "true"
                raise validation(
                    f"{INVALID}Value must be provided when Exists is {said} for Attribute: {name}"
                )
            parts.append(Compare("=", Path((name,)), Literal(normalize_value(value))))
    return _combine(parts, operator)


def filter_condition(conditions: Mapping[str, Any], operator: str | None) -> Condition:
    """QueryFilter / ScanFilter / KeyConditions."""
    return _combine([filter_comparison(name, c) for name, c in conditions.items()], operator)


def attribute_updates(updates: Mapping[str, Any]) -> Update:
    sets: list[SetValue] = []
    removes: list[UpdateAction] = []
    adds: list[UpdateAction] = []
    deletes: list[UpdateAction] = []
    for name, update in updates.items():
        action = update.get("Action", "PUT")
        raw = update.get("Value")
        value = normalize_value(raw) if raw is not None else None
        path = Path((name,))
        if action == "PUT":
            if value is None:
                raise validation(
                    f"{INVALID}Only DELETE action is allowed when no attribute value is "
                    f"specified: {name}"
                )
            sets.append(SetValue(path, Literal(value)))
        elif action == "DELETE":
            if value is None:
                removes.append(UpdateAction("REMOVE", path))
            else:
                if value_type(value) not in ("SS", "NS", "BS"):
                    raise validation(
                        f"{INVALID}DELETE action with value is not supported for the type "
                        f"{value_type(value)}"
                    )
                deletes.append(UpdateAction("DELETE", path, Literal(value)))
        else:  # ADD
            if value is None:
                raise validation(
                    f"{INVALID}Only DELETE action is allowed when no attribute value is "
                    f"specified: {name}"
                )
            tag = value_type(value)
            if tag == "L":
                empty = Literal({"L": []})
                appended = Function(
                    "list_append", (Function("if_not_exists", (path, empty)), Literal(value))
                )
                sets.append(SetValue(path, appended))
            elif tag in ("N", "SS", "NS", "BS"):
                adds.append(UpdateAction("ADD", path, Literal(value)))
            else:
                raise validation(f"{INVALID}ADD action is not supported for the type {tag}")
    return Update(tuple(sets), tuple(removes), tuple(adds), tuple(deletes))
