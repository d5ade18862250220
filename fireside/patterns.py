"""The event-pattern language of EventBridge rules (and of Lambda's FilterCriteria and SNS
payload filters): one implementation, no service behind it.

`compile_pattern(text)` validates a pattern once and answers a `Pattern` whose `matches(event)`
runs against parsed JSON (dicts, lists, str, int/float, bool, None) as often as wanted;
`matches_json(body)` parses first. A malformed pattern raises `PatternError` whose `reason`
is the text AWS puts after "Event pattern is not valid. Reason: ".

The semantics follow AWS's user guide ("Event patterns", "Content filtering", "Arrays"):

- a pattern is an object; a key maps to a nested object (a deeper field) or to an array of
  matchers, any of which may match (OR); all keys of an object must match (AND);
- an event's field holding an array matches when any element does; arrays of objects are
  walked through, so `{"a": {"b": [1]}}` matches `{"a": [{"b": 2}, {"b": 1}]}`, and fields
  matched inside one array of objects must come from the same element;
- exact matchers are strings, numbers (compared as decimal values: `5` matches `5.0`), booleans
  and null; a string never matches a number;
- `prefix`, `suffix` (each with an optional `equals-ignore-case` inside), `equals-ignore-case`,
  `wildcard` (`*` any run of characters, `\\*` a literal star), `anything-but` (a value, a list,
  or a `prefix`/`suffix`/`equals-ignore-case`/`wildcard` inside), `numeric` (up to one lower and
  one upper bound, or `=`), `exists` (true: the field holds a value; false: it does not),
  `cidr` (an IPv4 or IPv6 network), and `$or` (a list of at least two sub-patterns) at any level.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Final

__all__ = ["Pattern", "PatternError", "compile_pattern", "valid_pattern"]

#: A compiled matcher of one leaf value; `_MISSING` stands for an absent field.
Leaf = Callable[[Any], bool]
_MISSING: Final = object()
_LOWER: Final = {">": False, ">=": True}
_UPPER: Final = {"<": False, "<=": True}
_NUMBER_LIMIT: Final = Decimal("5e9")
#: More stars than this in one `wildcard` is a rule AWS calls too complex.
_MAX_WILDCARDS: Final = 5


class PatternError(ValueError):
    """A malformed pattern; `reason` is AWS's wording of what is wrong."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    @property
    def message(self) -> str:
        return f"Event pattern is not valid. Reason: {self.reason}"


def _decimal(value: Any) -> Decimal | None:
    """The exact decimal value of a JSON number (None for anything else, bools included)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    try:
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _exact(wanted: Any) -> Leaf:
    number = _decimal(wanted)
    if number is not None:
        return lambda value: _decimal(value) == number
    if isinstance(wanted, str):
        return lambda value: isinstance(value, str) and value == wanted
    if wanted is None:
        return lambda value: value is None
    return lambda value: isinstance(value, bool) and value is wanted


def _string_of(kind: str, value: Any) -> str:
    if not isinstance(value, str):
        raise PatternError(f"{kind} match pattern must be a string")
    return value


def _affix(kind: str, spec: Any) -> Leaf:
    """`prefix` or `suffix`: a string, or `{"equals-ignore-case": string}`."""
    fold = False
    if isinstance(spec, dict):
        if list(spec) != ["equals-ignore-case"]:
            raise PatternError(f"Unsupported {kind} pattern: {json.dumps(spec)}")
        spec, fold = spec["equals-ignore-case"], True
    text = _string_of(kind, spec)
    if fold:
        text = text.casefold()
    test = str.startswith if kind == "prefix" else str.endswith
    if fold:
        return lambda value: isinstance(value, str) and test(value.casefold(), text)
    return lambda value: isinstance(value, str) and test(value, text)


def _wildcard(spec: Any) -> Leaf:
    text = _string_of("wildcard", spec)
    parts: list[str] = []
    i, previous_star = 0, False
    while i < len(text):
        char = text[i]
        if char == "\\":
            if i + 1 >= len(text) or text[i + 1] not in "*\\":
                raise PatternError(f"Invalid escape character at pos {i}")
            parts.append(re.escape(text[i + 1]))
            i += 2
            previous_star = False
            continue
        if char == "*":
            if previous_star:
                raise PatternError(f"Consecutive wildcard characters at pos {i}")
            parts.append(".*")
            previous_star = True
        else:
            parts.append(re.escape(char))
            previous_star = False
        i += 1
    if parts.count(".*") > _MAX_WILDCARDS:
        raise PatternError(
            "Rule is too complex - try using fewer wildcard characters or fewer repeating "
            "character sequences after a wildcard character"
        )
    regex = re.compile("".join(parts), re.DOTALL)
    return lambda value: isinstance(value, str) and regex.fullmatch(value) is not None


def _operand(operator: str, value: Any) -> Decimal:
    number = _decimal(value)
    if number is None:
        raise PatternError(f"Value of {'equals' if operator == '=' else operator} must be numeric")
    if abs(number) > _NUMBER_LIMIT:
        raise PatternError(f"Value of {operator} must be between -5.0E9 and 5.0E9")
    return number


def _numeric(spec: Any) -> Leaf:
    """`[op, value]` (op one of = < <= > >=) or `[> or >=, low, < or <=, high]`."""
    if not isinstance(spec, list):
        raise PatternError("Value of numeric must be an array.")
    if not spec:
        raise PatternError("Invalid member in numeric match: ]")
    operator = spec[0]
    if not isinstance(operator, str):
        raise PatternError(f"Invalid member in numeric match: {json.dumps(operator)}")
    if operator not in ("=", *_LOWER, *_UPPER):
        raise PatternError(f"Unrecognized numeric range operator: {operator}")
    first = _operand(operator, spec[1] if len(spec) > 1 else None)
    lower: tuple[Decimal, bool] | None = None
    upper: tuple[Decimal, bool] | None = None
    equal: Decimal | None = None
    if operator == "=":
        equal = first
    elif operator in _LOWER:
        lower = (first, _LOWER[operator])
    else:
        upper = (first, _UPPER[operator])
    if len(spec) > 2:
        if lower is None:
            raise PatternError("Too many elements in numeric expression")
        second_operator = spec[2]
        if not isinstance(second_operator, str):
            raise PatternError(f"Bad value in numeric range: {json.dumps(second_operator)}")
        if second_operator not in _UPPER:
            raise PatternError(f"Bad numeric range operator: {second_operator}")
        second = _operand(second_operator, spec[3] if len(spec) > 3 else None)
        if second <= first:
            raise PatternError("Bottom must be less than top")
        if len(spec) > 4:
            raise PatternError("Too many terms in numeric range expression")
        upper = (second, _UPPER[second_operator])

    def test(value: Any) -> bool:
        number = _decimal(value)
        if number is None:
            return False
        if equal is not None:
            return number == equal
        if lower is not None and not (number >= lower[0] if lower[1] else number > lower[0]):
            return False
        return upper is None or (number <= upper[0] if upper[1] else number < upper[0])

    return test


def _cidr(spec: Any) -> Leaf:
    if not isinstance(spec, str):
        raise PatternError("prefix match pattern must be a string")  # AWS's words for cidr too
    address, slash, bits = spec.partition("/")
    if not slash or "/" in bits:
        raise PatternError("Malformed CIDR, one '/' required")
    if not bits.isdigit():
        raise PatternError("Malformed CIDR, mask bits must be an integer")
    try:
        network = ipaddress.ip_network(spec)
    except ValueError:
        raise PatternError(f"Nonstandard IP address: {address}") from None

    def test(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            return ipaddress.ip_address(value) in network
        except ValueError:
            return False

    return test


def _anything_but(spec: Any) -> Leaf:
    if isinstance(spec, dict):
        if len(spec) != 1:
            raise PatternError("Only one key allowed in match expression")
        ((kind, inner),) = spec.items()
        if kind in ("prefix", "suffix"):
            if isinstance(inner, dict):
                raise PatternError(
                    "Value of anything-but must be an array or single string/number value."
                )
            affixes = inner if isinstance(inner, list) else [inner]
            if not all(isinstance(a, str) for a in affixes):
                raise PatternError("prefix/suffix match pattern must be a string")
            if not affixes or not all(affixes):
                raise PatternError("Null prefix/suffix not allowed")
            tests = [_affix(kind, a) for a in affixes]

            def matcher(value: Any) -> bool:
                return any(t(value) for t in tests)
        elif kind == "wildcard":
            wildcards = [_wildcard(w) for w in (inner if isinstance(inner, list) else [inner])]

            def matcher(value: Any) -> bool:
                return any(w(value) for w in wildcards)

        elif kind == "equals-ignore-case":
            values = inner if isinstance(inner, list) else [inner]
            if not values or not all(isinstance(v, str) for v in values):
                raise PatternError(
                    "Inside anything-but/equals-ignore-case list, number|start|null|boolean "
                    "is not supported."
                )
            folded = {v.casefold() for v in values}

            def matcher(value: Any) -> bool:
                return isinstance(value, str) and value.casefold() in folded
        else:
            raise PatternError(f"Unsupported anything-but pattern: {kind}")
        return lambda value: value is not _MISSING and not matcher(value)
    values = spec if isinstance(spec, list) else [spec]
    if not values:
        raise PatternError("Empty arrays are not allowed")
    for value in values:
        if not isinstance(value, str) and _decimal(value) is None:
            raise PatternError(
                "Inside anything but list, start|null|boolean is not supported."
                if isinstance(spec, list)
                else "Value of anything-but must be an array or single string/number value."
            )
    tests = [_exact(v) for v in values]
    return lambda value: value is not _MISSING and not any(t(value) for t in tests)


def _matcher(spec: Any) -> Leaf:
    if not isinstance(spec, dict):
        if spec is None or isinstance(spec, str | bool) or _decimal(spec) is not None:
            return _exact(spec)
        raise PatternError("Match value must be String, number, true, false, or null")
    if len(spec) != 1:
        raise PatternError(
            "Only one key allowed in match expression" if spec else "Empty objects are not allowed"
        )
    ((kind, inner),) = spec.items()
    if kind in ("prefix", "suffix"):
        return _affix(kind, inner)
    if kind == "equals-ignore-case":
        folded = _string_of(kind, inner).casefold()
        return lambda value: isinstance(value, str) and value.casefold() == folded
    if kind == "wildcard":
        return _wildcard(inner)
    if kind == "anything-but":
        return _anything_but(inner)
    if kind == "numeric":
        return _numeric(inner)
    if kind == "cidr":
        return _cidr(inner)
    if kind == "exists":
        if not isinstance(inner, bool):
            raise PatternError("exists match pattern must be either true or false.")
        if inner:
            return lambda value: value is not _MISSING
        return lambda value: value is _MISSING
    raise PatternError(f"Unrecognized match type {kind}")


@dataclass(frozen=True, slots=True)
class _Object:
    """A compiled pattern object: leaf fields, nested objects and `$or` alternatives."""

    leaves: tuple[tuple[str, tuple[Leaf, ...]], ...]
    nested: tuple[tuple[str, _Object], ...]
    alternatives: tuple[tuple[_Object, ...], ...]


def _compile_object(pattern: Mapping[str, Any]) -> _Object:
    leaves: list[tuple[str, tuple[Leaf, ...]]] = []
    nested: list[tuple[str, _Object]] = []
    alternatives: list[tuple[_Object, ...]] = []
    for key, value in pattern.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise PatternError("Or relationship must have at least two alternatives")
            if not all(isinstance(alternative, dict) and alternative for alternative in value):
                raise PatternError("Or relationship must contain objects")
            alternatives.append(tuple(_compile_object(alternative) for alternative in value))
        elif isinstance(value, dict):
            nested.append((key, _compile_object(value)))
        elif isinstance(value, list):
            if not value:
                raise PatternError("Empty arrays are not allowed")
            leaves.append((key, tuple(_matcher(spec) for spec in value)))
        else:
            raise PatternError(f'"{key}" must be an object or an array')
    return _Object(tuple(leaves), tuple(nested), tuple(alternatives))


def _flat(value: Any) -> Iterator[Any]:
    """A field's values: the elements of (nested) arrays, or the value itself."""
    if isinstance(value, list):
        for element in value:
            yield from _flat(element)
    else:
        yield value


def _leaf_matches(value: Any, matchers: tuple[Leaf, ...]) -> bool:
    if not isinstance(value, list | dict):  # the common case: one scalar, or none
        return any(test(value) for test in matchers)
    found = False
    for item in _flat(value):
        if isinstance(item, dict):
            continue  # a pattern's array matches leaf values, never objects
        found = True
        if any(test(item) for test in matchers):
            return True
    return not found and any(test(_MISSING) for test in matchers)


def _object_matches(pattern: _Object, node: Mapping[str, Any]) -> bool:
    for key, matchers in pattern.leaves:
        if not _leaf_matches(node.get(key, _MISSING), matchers):
            return False
    for key, inner in pattern.nested:
        value = node.get(key)
        if isinstance(value, dict):
            if not _object_matches(inner, value):
                return False
            continue
        # Fields matched inside an array of objects must come from one element, as on AWS.
        objects = [item for item in _flat(value) if isinstance(item, dict)]
        if not any(_object_matches(inner, item) for item in objects or [{}]):
            return False
    return all(
        any(_object_matches(alternative, node) for alternative in choice)
        for choice in pattern.alternatives
    )


class Pattern:
    """A validated, compiled event pattern."""

    __slots__ = ("_compiled", "source")

    def __init__(self, source: Mapping[str, Any], compiled: _Object) -> None:
        self.source = source
        self._compiled = compiled

    def matches(self, event: Mapping[str, Any]) -> bool:
        """Whether `event` (parsed JSON) matches."""
        return _object_matches(self._compiled, event)

    def matches_json(self, body: str | bytes) -> bool:
        """Whether a JSON text matches (False for text that is not a JSON object)."""
        try:
            event = json.loads(body, parse_float=Decimal)
        except ValueError:
            return False
        return isinstance(event, dict) and self.matches(event)


def compile_pattern(pattern: str | Mapping[str, Any]) -> Pattern:
    """Validate and compile a pattern (JSON text or parsed); raises `PatternError`."""
    if isinstance(pattern, str):
        try:
            parsed = json.loads(pattern, parse_float=Decimal)
        except ValueError:
            raise PatternError("Invalid JSON") from None
    else:
        parsed = pattern
    if not isinstance(parsed, dict):
        raise PatternError("Filter is not an object")
    return Pattern(parsed, _compile_object(parsed))


def valid_pattern(pattern: str) -> str | None:
    """None if `pattern` is valid, else AWS's reason."""
    try:
        compile_pattern(pattern)
    except PatternError as exc:
        return exc.reason
    return None
