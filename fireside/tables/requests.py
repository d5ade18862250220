"""What every item-plane request shares: its expressions, return-value modes and capacity.

`RequestExpressions` binds all the expressions of one request to its placeholders and then
reports unused ones, with DynamoDB's messages. PutItem, UpdateItem and DeleteItem report
these problems with Coral's "1 validation error detected: " lead, the read operations and
transactions without it (as DynamoDB does today).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from fireside.aws.errors import ServiceError
from fireside.tables.errors import validation
from fireside.tables.expressions import (
    Binder,
    ExpressionError,
    parse_condition,
    parse_projection,
    parse_update,
)
from fireside.tables.expressions.ast import Condition, Path, Update
from fireside.tables.legacy import reject_mixed
from fireside.tables.schema import TableInfo
from fireside.tables.values import names_of, normalize_value

__all__ = [
    "CODED_PREFIX",
    "RequestExpressions",
    "capacity",
    "check_scalar_keys",
    "read_units",
    "write_units",
]

CODED_PREFIX = "1 validation error detected: "
#: The expressions that can use ExpressionAttributeValues, in the order DynamoDB names them.
_VALUE_EXPRESSIONS = (
    "UpdateExpression",
    "FilterExpression",
    "KeyConditionExpression",
    "ConditionExpression",
)
_PLACEHOLDER = re.compile(r"[#:][A-Za-z0-9_]+")


class RequestExpressions:
    """The expressions of one request, bound to its ExpressionAttributeNames/Values."""

    def __init__(
        self, params: Mapping[str, Any], *, prefix: str = "", expressions: tuple[str, ...] = ()
    ) -> None:
        """`expressions`: the expression members this operation has (to reject stray maps)."""
        self.prefix = prefix
        reject_mixed(params, prefix)
        names = params.get("ExpressionAttributeNames")
        values = params.get("ExpressionAttributeValues")
        used = [e for e in expressions if params.get(e) is not None]
        if names is not None and not used:
            raise self.error(
                "ExpressionAttributeNames can only be specified when using expressions"
            )
        takes_values = [e for e in _VALUE_EXPRESSIONS if e in expressions]
        if values is not None and takes_values and all(params.get(e) is None for e in takes_values):
            verb = "are" if len(takes_values) > 1 else "is"
            raise self.error(
                "ExpressionAttributeValues can only be specified when using expressions: "
                f"{' and '.join(takes_values)} {verb} null"
            )
        if values is not None and not used:
            raise self.error(
                "ExpressionAttributeValues can only be specified when using expressions"
            )
        self._names, self._values = names, values
        self._binder: Binder | None = None

    @property
    def binder(self) -> Binder:
        """The placeholders, checked when first used: DynamoDB judges them after the request's
        other parameters (an item's values, the legacy conditions), before its expressions."""
        if self._binder is None:
            names, values = self._names, self._values
            if names is not None and not names:
                raise self.error("ExpressionAttributeNames must not be empty")
            if values is not None and not values:
                raise self.error("ExpressionAttributeValues must not be empty")
            for given, member, lead in ((names, "ExpressionAttributeNames", "#"),
                                        (values, "ExpressionAttributeValues", ":")):  # fmt: skip
                for key in given or ():
                    if not _PLACEHOLDER.fullmatch(key) or not key.startswith(lead):
                        raise self.error(
                            f'{member} contains invalid key: Syntax error; key: "{key}"'
                        )
            normalized = _expression_values(values, self.prefix) if values else None
            self._binder = Binder(names, normalized)
        return self._binder

    def error(self, message: str) -> ServiceError:
        return validation(self.prefix + message)

    def _invalid(self, kind: str, exc: ExpressionError) -> ServiceError:
        return self.error(f"Invalid {kind}Expression: {exc.detail}")

    def condition(self, text: str | None, kind: str = "Condition") -> Condition | None:
        if text is None:
            return None
        try:
            return self.binder.condition(parse_condition(text))
        except ExpressionError as exc:
            raise self._invalid(kind, exc) from None

    def update(self, text: str) -> Update:
        try:
            return self.binder.update(parse_update(text))
        except ExpressionError as exc:
            raise self._invalid("Update", exc) from None

    def projection(self, text: str | None) -> list[Path] | None:
        if text is None:
            return None
        try:
            return self.binder.projection(parse_projection(text))
        except ExpressionError as exc:
            raise self._invalid("Projection", exc) from None

    def finish(self) -> None:
        """Reject placeholders no expression used."""
        if self._names is None and self._values is None:
            return  # none given: none unused
        unused = self.binder.unused_names()
        if unused:
            raise self.error(
                f"Value provided in ExpressionAttributeNames unused in expressions: keys: "
                f"{names_of(unused)}"
            )
        unused = self.binder.unused_values()
        if unused:
            raise self.error(
                f"Value provided in ExpressionAttributeValues unused in expressions: keys: "
                f"{names_of(unused)}"
            )


def _expression_values(values: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """ExpressionAttributeValues checked one by one. A bad one is named in DynamoDB's words
    ("ExpressionAttributeValues contains invalid value: ... for key :v"), except an empty set,
    which DynamoDB reports as it does in an item (moto's AWS-verified tests)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        try:
            out[key] = normalize_value(value, prefix=prefix)
        except ServiceError as exc:
            if exc.message.endswith("may not be empty"):
                raise
            raise validation(
                f"ExpressionAttributeValues contains invalid value: {exc.message} for key {key}"
            ) from None
    return out


def check_return_values(value: str | None, allowed: tuple[str, ...], prefix: str = "") -> str:
    value = value or "NONE"
    if value not in allowed:
        if allowed == ("NONE", "ALL_OLD"):
            raise validation(prefix + "ReturnValues can only be ALL_OLD or NONE")
        raise validation(prefix + "Return values set to invalid value")
    return value


def write_units(size: int) -> float:
    return float(max(1, math.ceil(size / 1024)))


def read_units(size: int, consistent: bool) -> float:
    units = max(1, math.ceil(size / 4096))
    return float(units) if consistent else units / 2


def capacity(
    mode: str | None, table: TableInfo, units: float, index: str | None = None
) -> dict[str, Any] | None:
    """`ConsumedCapacity` for ReturnConsumedCapacity TOTAL or INDEXES (None for NONE)."""
    if mode not in ("TOTAL", "INDEXES"):
        return None
    out: dict[str, Any] = {"TableName": table.name, "CapacityUnits": units}
    if mode == "INDEXES":
        if index is None:
            out["Table"] = {"CapacityUnits": units}
        else:
            out["Table"] = {"CapacityUnits": 0.0}
            member = (
                "GlobalSecondaryIndexes"
                if table.indexes[index].kind == "GSI"
                else "LocalSecondaryIndexes"
            )
            out[member] = {index: {"CapacityUnits": units}}
    return out


def key_attributes_touched(update: Update, key_names: tuple[str, ...]) -> str | None:
    paths = [s.path for s in update.sets]
    paths += [a.path for a in (*update.removes, *update.adds, *update.deletes)]
    for path in paths:
        first = path.elements[0]
        if first in key_names:
            return str(first)
    return None


def _paths(node: object) -> Iterator[Path]:
    """Every document path in a bound expression tree (conditions, updates, projections)."""
    if isinstance(node, Path):
        yield node
    elif isinstance(node, list | tuple):
        for child in node:
            yield from _paths(child)
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        for member in dataclasses.fields(node):
            yield from _paths(getattr(node, member.name))


def check_scalar_keys(table: TableInfo, *expressions: object) -> None:
    """Key attributes are scalars: no path may look inside one (DynamoDB's check, made once the
    table's and its indexes' keys are known)."""
    if all(expression is None for expression in expressions):
        return
    index_keys = {e["AttributeName"] for i in table.indexes.values() for e in i.key_schema}
    for path in _paths(expressions):
        if len(path.elements) < 2:
            continue
        first = path.elements[0]
        what = "Key" if first in table.key.names else "IndexKey" if first in index_keys else None
        if what is not None:
            raise validation(
                "Key attributes must be scalars; list random access '[]' and map lookup '.' are "
                f"not allowed: {what}: {first}"
            )
