"""Subscription filter policies: EventBridge's pattern language (`fireside.patterns`) with
SNS's rules around it.

A policy scoped to `MessageAttributes` (the default) is a flat object whose keys are
attribute names: it is matched against the message's attributes, `String` values as strings,
`Number` values as numbers, `String.Array` values as the JSON array they hold (any element may
match); `Binary` attributes are never matched. A policy scoped to `MessageBody` is matched
against the message, which must be a JSON object (a body that is not never matches).

Numbers are compared to five decimal places, as SNS compares them (`100.123456789` matches
`100.1234567`): policy and message numbers alike are rounded before matching. A
`String.Array` value that is not a JSON array is matched as the single JSON value it holds
(no match when it is not JSON). An empty policy (`{}`) matches every message.

AWS's limits: at most 5 attribute keys (leaf keys for a body policy), at most 150
combinations of values, 256 KB of policy; errors are `InvalidParameter` with AWS's
"Invalid parameter: FilterPolicy: ..." wording.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from fireside.aws.errors import ModelledErrors
from fireside.patterns import Pattern, PatternError, compile_pattern

__all__ = ["FilterPolicy", "attribute_values", "compile_filter"]

_MAX_KEYS: Final = 5
_MAX_COMBINATIONS: Final = 150
_MAX_SIZE: Final = 256 * 1024
_sns_error = ModelledErrors("sns")
_PLACES: Final = Decimal("0.00001")


def _invalid(reason: str) -> Exception:
    return _sns_error("InvalidParameter", f"Invalid parameter: FilterPolicy: {reason}")


def _combinations(node: Mapping[str, Any]) -> tuple[int, int]:
    """(value combinations, leaf keys) of a policy object, as AWS counts them."""
    total, keys = 1, 0
    for key, value in node.items():
        if key == "$or" and isinstance(value, list):
            counted = [_combinations(v) for v in value if isinstance(v, dict)]
            total *= max(1, sum(c for c, _ in counted))
            keys += sum(k for _, k in counted)
        elif isinstance(value, dict):
            combos, inner = _combinations(value)
            total *= combos
            keys += inner
        elif isinstance(value, list):
            total *= max(1, len(value))
            keys += 1
    return total, keys


class FilterPolicy:
    """A compiled filter policy of one subscription."""

    __slots__ = ("_pattern", "scope")

    def __init__(self, pattern: Pattern, scope: str) -> None:
        self._pattern = pattern
        self.scope = scope

    def matches(self, message: str, attributes: Mapping[str, Mapping[str, Any]]) -> bool:
        if self.scope == "MessageBody":
            try:
                body = json.loads(message, parse_float=_number, parse_int=_number)
            except ValueError:
                return False
            return isinstance(body, dict) and self._pattern.matches(body)
        return self._pattern.matches(attribute_values(attributes))


def _number(text: str) -> Decimal:
    """A JSON number as SNS compares it: five decimal places."""
    try:
        return Decimal(text).quantize(_PLACES)
    except InvalidOperation:  # beyond quantize's precision: compare as given
        return Decimal(text)


def _rounded(node: Any) -> Any:
    """A parsed policy with its numbers rounded as messages' numbers are."""
    if isinstance(node, dict):
        return {key: _rounded(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_rounded(value) for value in node]
    if isinstance(node, Decimal):
        return _number(str(node))
    return node


def attribute_values(attributes: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Message attributes (Publish's form) as the values a filter policy matches."""
    values: dict[str, Any] = {}
    for name, attribute in attributes.items():
        kind = str(attribute.get("DataType", ""))
        text = attribute.get("StringValue")
        if not isinstance(text, str):
            continue  # binary values are not matched
        if kind.startswith("Number"):
            try:
                values[name] = _number(text)
            except InvalidOperation:
                continue
        elif kind == "String.Array":
            try:
                values[name] = json.loads(text, parse_float=_number, parse_int=_number)
            except ValueError:
                continue
        elif kind.startswith("String"):
            values[name] = text
    return values


def compile_filter(text: str, scope: str = "MessageAttributes") -> FilterPolicy:
    """Validate and compile a policy; raises SNS's InvalidParameter."""
    if len(text.encode()) > _MAX_SIZE:
        raise _invalid("Filter policy is too long")
    try:
        parsed = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except ValueError:
        raise _invalid("failed to parse JSON.") from None
    if not isinstance(parsed, dict):
        raise _invalid("Filter policy must be a JSON object")
    if scope == "MessageAttributes":
        for key, value in parsed.items():
            if isinstance(value, dict) or (key == "$or" and _nested_or(value)):
                raise _sns_error(
                    "InvalidParameter",
                    "Invalid parameter: Filter policy scope MessageAttributes does not support "
                    "nested filter policy",
                )
    combinations, keys = _combinations(parsed)
    if keys > _MAX_KEYS:
        raise _invalid(f"Filter policy can not have more than {_MAX_KEYS} keys")
    if combinations > _MAX_COMBINATIONS:
        raise _invalid("Filter policy is too complex")
    try:
        compile_pattern(parsed)  # AWS's reasons come from the policy as written
        pattern = compile_pattern(_rounded(parsed))
    except PatternError as exc:
        raise _invalid(exc.reason) from None
    return FilterPolicy(pattern, scope)


def _nested_or(value: Any) -> bool:
    return isinstance(value, list) and any(
        isinstance(alt, dict) and any(isinstance(v, dict) for v in alt.values()) for alt in value
    )
