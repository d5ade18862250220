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

AWS's limits: at most 5 keys (a nested policy's top-level keys), at most 150 combinations
of values (counted as AWS documents: each list's length times its key's depth, multiplied),
256 KB of policy; `wildcard` (EventBridge's) is not SNS's. Errors are `InvalidParameter` in
AWS's words: "Invalid parameter: Attributes Reason: FilterPolicy: ..." from Subscribe,
"Invalid parameter: FilterPolicy: ..." from SetSubscriptionAttributes (without the
"at [Source: ...]" position AWS's JSON parser appends to some).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
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


def _invalid(reason: str, subscribing: bool) -> Exception:
    # Subscribe's attributes are reported as such; SetSubscriptionAttributes names the one.
    prefix = "Invalid parameter: Attributes Reason: " if subscribing else "Invalid parameter: "
    return _sns_error("InvalidParameter", f"{prefix}FilterPolicy: {reason}")


def _combinations(node: Mapping[str, Any], depth: int = 1) -> int:
    """AWS's count of a policy's value combinations: the product, over every list of values,
    of its length times the depth of its key (`{"a": {"b": [1, 2]}, "c": [3]}`: 2x2 x 1x1)."""
    total = 1
    for key, value in node.items():
        if key == "$or" and isinstance(value, list):
            total *= max(1, sum(_combinations(v, depth) for v in value if isinstance(v, dict)))
        elif isinstance(value, dict):
            total *= _combinations(value, depth + 1)
        elif isinstance(value, list):
            total *= max(1, len(value)) * depth
    return total


def _match_types(node: Any) -> Iterator[str]:
    """The match types (`prefix`, `numeric`...) a policy uses, anywhere in it."""
    if isinstance(node, dict):
        for value in node.values():
            if isinstance(value, list):
                for spec in value:
                    if isinstance(spec, dict):
                        yield from spec
            yield from _match_types(value)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict):
                yield from _match_types(item)


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


def compile_filter(
    text: str, scope: str = "MessageAttributes", *, subscribing: bool = False
) -> FilterPolicy:
    """Validate and compile a policy; raises SNS's InvalidParameter (worded as Subscribe's
    when `subscribing`, else as SetSubscriptionAttributes')."""
    if len(text.encode()) > _MAX_SIZE:
        raise _invalid("Filter policy is too long", subscribing)
    try:
        parsed = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except ValueError:
        raise _invalid("failed to parse JSON.", subscribing) from None
    if not isinstance(parsed, dict):
        raise _invalid("Filter policy must be a JSON object", subscribing)
    if scope == "MessageAttributes":
        for key, value in parsed.items():
            if isinstance(value, dict) or (key == "$or" and _nested_or(value)):
                raise _sns_error(
                    "InvalidParameter",
                    "Invalid parameter: Filter policy scope MessageAttributes does not support "
                    "nested filter policy",
                )
    # AWS counts a nested policy's top-level keys only.
    if len(parsed) > _MAX_KEYS:
        raise _invalid(f"Filter policy can not have more than {_MAX_KEYS} keys", subscribing)
    if _combinations(parsed) > _MAX_COMBINATIONS:
        raise _invalid("Filter policy is too complex", subscribing)
    if "wildcard" in set(_match_types(parsed)):  # EventBridge's, not SNS's
        raise _invalid("Unrecognized match type wildcard", subscribing)
    try:
        compile_pattern(parsed)  # AWS's reasons come from the policy as written
        pattern = compile_pattern(_rounded(parsed))
    except PatternError as exc:
        raise _invalid(exc.reason, subscribing) from None
    return FilterPolicy(pattern, scope)


def _nested_or(value: Any) -> bool:
    return isinstance(value, list) and any(
        isinstance(alt, dict) and any(isinstance(v, dict) for v in alt.values()) for alt in value
    )
