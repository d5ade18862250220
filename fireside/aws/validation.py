"""Constraint validation of decoded params against a shape, with AWS's (Coral's) messages.

AWS services reject values that break their model's `required`, `min`/`max`, `enum` and
`pattern` constraints with a `ValidationException` listing every problem:

    2 validation errors detected: Value null at 'role' failed to satisfy constraint: Member
    must not be null; Value '0' at 'timeout' failed to satisfy constraint: Member must have
    value greater than or equal to 1

Paths are lower-camel member names joined by '.', with list elements as `layers.1.member`.

Validation runs on every request (Lambda Invoke included), so each shape's rules are compiled
once into closures that only visit members which (transitively) carry a constraint; a request
whose params are all fine costs a few dict lookups and one regex match per constrained string.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from fireside.aws.errors import validation_error
from fireside.aws.model import Shape

__all__ = ["Validator", "compile_pattern", "lower_camel", "render"]

#: Appends the problems of `value` found at `path` to the list.
Check = Callable[[Any, str, list[str]], None]
#: The failed constraint descriptions of one scalar (or collection size), or None if it is fine.
Rule = Callable[[Any], list[str] | None]

_LENGTH_TYPES = frozenset({"string", "blob", "list", "map"})
_NUMBER_TYPES = frozenset({"integer", "long", "double", "float"})


class Validator:
    """The compiled constraints of one (input) structure shape."""

    def __init__(
        self,
        shape: Shape,
        *,
        constraints: bool = True,
        unchecked: frozenset[str] = frozenset(),
        echo_values: bool = True,
    ) -> None:
        """`constraints=False` checks `required` only: S3 is no Coral service and refuses
        bad values in its own words, parameter by parameter, never as a ValidationException.
        `unchecked` names members of `shape` whose values the provider checks itself,
        because AWS refuses them otherwise than Coral would (Lambda's Runtime).
        `echo_values=False` leaves a value that fails its pattern out of the problem, as
        CloudWatch Logs writes it (`Value at 'logGroupIdentifier' failed to satisfy ...`)."""
        compiler = _Compiler(constraints, echo_values)
        if unchecked and shape.type_name == "structure":
            self._check: Check | None = compiler.structure(shape, unchecked)
        else:
            self._check = compiler.check(shape)

    def problems(self, value: Any) -> list[str]:
        """Every constraint `value` breaks, as AWS phrases them (empty when valid)."""
        out: list[str] = []
        if self._check is not None:
            self._check(value, "", out)
        return out

    def validate(self, value: Any) -> None:
        """Raise a `ValidationException` ServiceError when `value` breaks any constraint."""
        if self._check is None:
            return
        out: list[str] = []
        self._check(value, "", out)
        if out:
            raise validation_error(out)


# AWS lists most enums in the model's order, but some in its own (its validator iterates a
# set). Orders recorded from AWS's answers, keyed by the enum's values.
_AWS_ENUM_ORDER: dict[frozenset[str], tuple[str, ...]] = {
    frozenset(order): order
    for order in (
        # DynamoDB Select (moto's AWS-verified test_select_values_are_case_sensitive)
        ("SPECIFIC_ATTRIBUTES", "COUNT", "ALL_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES"),
    )
}


def lower_camel(name: str) -> str:
    """Coral's spelling of a member name in error paths: `FunctionName` -> `functionName`."""
    return name[:1].lower() + name[1:]


@functools.lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> re.Pattern[str] | None:
    """Compile a model's (Java) regex for full matching, or None when Python cannot.

    ASCII mode because Java's `\\d`, `\\w`, `\\s` are ASCII-only. Patterns using Java-only
    syntax (`\\p{L}`) are skipped rather than approximated: accepting a value AWS would reject
    is safer for an emulator than rejecting one it accepts.
    """
    try:
        with warnings.catch_warnings():
            # Some models have sets like `[a-z--]` that newer Pythons flag as FutureWarning.
            warnings.simplefilter("ignore")
            return re.compile(pattern, re.ASCII)
    except (re.error, OverflowError):
        return None


def _join(path: str, label: str) -> str:
    return f"{path}.{label}" if path else label


def _bound(value: int | float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def render(value: Any) -> str:
    """A value the way Coral prints it in messages (Java `toString` conventions)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes | bytearray):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    if isinstance(value, list):
        return "[" + ", ".join(render(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{render(k)}={render(v)}" for k, v in value.items()) + "}"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _problem(value: Any, path: str, shape: Shape, constraint: str) -> str:
    # Sensitive members are not echoed back (AWS writes "Value at 'password' failed...").
    if shape.sensitive:
        return f"Value at '{path}' failed to satisfy constraint: {constraint}"
    return f"Value '{render(value)}' at '{path}' failed to satisfy constraint: {constraint}"


def _problem_unechoed(value: Any, path: str, shape: Shape, constraint: str) -> str:
    # CloudWatch Logs leaves out a value that fails its pattern (moto's AWS-verified ARN
    # tests), and shows others (`Value '51' at 'limit'`).
    if constraint.startswith("Member must satisfy regular expression pattern"):
        return f"Value at '{path}' failed to satisfy constraint: {constraint}"
    return _problem(value, path, shape, constraint)


def _rule(shape: Shape) -> Rule | None:
    """The size/value/enum/pattern rule of one shape, or None if it has none."""
    tests: list[tuple[Callable[[Any], bool], str]] = []
    if shape.type_name in _LENGTH_TYPES:
        if shape.min is not None and shape.min > 0:
            lo = shape.min
            tests.append(
                (
                    lambda v: len(v) < lo,
                    f"Member must have length greater than or equal to {_bound(lo)}",
                )
            )
        if shape.max is not None:
            hi = shape.max
            tests.append(
                (
                    lambda v: len(v) > hi,
                    f"Member must have length less than or equal to {_bound(hi)}",
                )
            )
    elif shape.type_name in _NUMBER_TYPES:
        if shape.min is not None:
            lo = shape.min
            tests.append(
                (lambda v: v < lo, f"Member must have value greater than or equal to {_bound(lo)}")
            )
        if shape.max is not None:
            hi = shape.max
            tests.append(
                (lambda v: v > hi, f"Member must have value less than or equal to {_bound(hi)}")
            )
    if shape.type_name == "string":
        if shape.pattern is not None:
            regex = compile_pattern(shape.pattern)
            if regex is not None:
                full = regex.fullmatch
                tests.append(
                    (
                        lambda v: full(v) is None,
                        f"Member must satisfy regular expression pattern: {shape.pattern}",
                    )
                )
        if shape.enum is not None:
            allowed = frozenset(shape.enum)
            listed = _AWS_ENUM_ORDER.get(allowed, shape.enum)
            tests.append(
                (
                    lambda v: v not in allowed,
                    f"Member must satisfy enum value set: [{', '.join(listed)}]",
                )
            )
    if not tests:
        return None
    if len(tests) == 1:
        test, messages = tests[0][0], [tests[0][1]]

        def single(value: Any) -> list[str] | None:
            return messages if test(value) else None

        return single
    frozen = tuple(tests)

    def many(value: Any) -> list[str] | None:
        failed = [message for test, message in frozen if test(value)]
        return failed or None

    return many


def _all_constraints(shape: Shape) -> list[str]:
    """Every constraint of a scalar shape, worded and ordered as Coral lists them inside
    `Member must satisfy constraint: [...]` (the upper bound first, a zero minimum too)."""
    found: list[str] = []
    if shape.type_name in _LENGTH_TYPES or shape.type_name in _NUMBER_TYPES:
        what = "length" if shape.type_name in _LENGTH_TYPES else "value"
        if shape.max is not None:
            found.append(f"Member must have {what} less than or equal to {_bound(shape.max)}")
        if shape.min is not None:
            found.append(f"Member must have {what} greater than or equal to {_bound(shape.min)}")
    if shape.type_name == "string":
        if shape.pattern is not None:
            found.append(f"Member must satisfy regular expression pattern: {shape.pattern}")
        if shape.enum is not None:
            listed = _AWS_ENUM_ORDER.get(frozenset(shape.enum), shape.enum)
            found.append(f"Member must satisfy enum value set: [{', '.join(listed)}]")
    return found


def _no_rule(shape: Shape) -> Rule | None:
    return None


class _Compiler:
    """Builds `Check` closures, memoized per shape so recursive shapes compile finitely."""

    def __init__(self, constraints: bool = True, echo_values: bool = True) -> None:
        self._rule = _rule if constraints else _no_rule
        self._problem = _problem if echo_values else _problem_unechoed
        self._checks: dict[int, Check | None] = {}
        self._constrained: dict[int, bool] = {}

    def check(self, shape: Shape) -> Check | None:
        key = id(shape)
        if key in self._checks:
            return self._checks[key]
        if not self._has_constraints(shape, set()):
            self._checks[key] = None
            return None
        # Register a forwarder first: a recursive reference to this shape resolves to it.
        cell: list[Check] = []

        def forward(value: Any, path: str, out: list[str]) -> None:
            cell[0](value, path, out)

        self._checks[key] = forward
        cell.append(self._build(shape))
        self._checks[key] = cell[0]
        return cell[0]

    def _has_constraints(self, shape: Shape, visiting: set[int]) -> bool:
        key = id(shape)
        known = self._constrained.get(key)
        if known is not None:
            return known
        if key in visiting:
            return False  # the path that reached it is still being explored
        visiting.add(key)
        if shape.is_document:
            found = False
        elif self._rule(shape) is not None or shape.required:
            found = True
        elif shape.type_name == "structure":
            found = any(self._has_constraints(m, visiting) for m in shape.members.values())
        elif shape.type_name == "list":
            found = self._has_constraints(shape.member, visiting)
        elif shape.type_name == "map":
            found = self._has_constraints(shape.key, visiting) or self._has_constraints(
                shape.value, visiting
            )
        else:
            found = False
        visiting.discard(key)
        # Only a positive answer is final; a negative one may have been cut short by a cycle.
        if found or not visiting:
            self._constrained[key] = found
        return found

    def _build(self, shape: Shape) -> Check:
        if shape.type_name == "structure":
            return self.structure(shape)
        if shape.type_name == "list":
            return self._list(shape)
        if shape.type_name == "map":
            return self._map(shape)
        return self._scalar(shape)

    def _scalar(self, shape: Shape) -> Check:
        rule = self._rule(shape)
        assert rule is not None  # only constrained scalars are compiled

        def check(value: Any, path: str, out: list[str]) -> None:
            failed = rule(value)
            if failed:
                out.extend(self._problem(value, path, shape, message) for message in failed)

        return check

    def structure(self, shape: Shape, unchecked: frozenset[str] = frozenset()) -> Check:
        required = set(shape.required)
        entries: list[tuple[str, str, bool, Check | None]] = []
        for name, member in shape.members.items():
            child = None if name in unchecked else self.check(member)
            if child is not None or name in required:
                entries.append((name, lower_camel(name), name in required, child))
        frozen = tuple(entries)

        def check(value: Mapping[str, Any], path: str, out: list[str]) -> None:
            for name, label, is_required, child in frozen:
                member_value = value.get(name)
                if member_value is None:
                    if is_required:
                        out.append(
                            f"Value null at '{_join(path, label)}' failed to satisfy "
                            "constraint: Member must not be null"
                        )
                elif child is not None:
                    child(member_value, _join(path, label), out)

        return check

    def _list(self, shape: Shape) -> Check:
        own = self._rule(shape)
        member = shape.member
        scalar_rule = None
        if member.type_name not in ("structure", "list", "map"):
            scalar_rule = self._rule(member)
        element = None if scalar_rule is not None else self.check(member)
        # Coral reports bad scalar elements once, for the whole list, naming every constraint
        # of the element (Lambda's recorded answers: `Value '[X86_64]' at 'architectures'
        # failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy
        # enum value set: [x86_64, arm64], Member must not be null]`). "Must not be null"
        # was recorded for lists that are members of the request itself, and not for those
        # of a nested structure (vpcConfig.subnetIds): the rule is inferred from those cases.
        every = _all_constraints(member)
        nested = f"Member must satisfy constraint: [{', '.join(every)}]"
        top = f"Member must satisfy constraint: [{', '.join([*every, 'Member must not be null'])}]"

        def check(value: list[Any], path: str, out: list[str]) -> None:
            if own is not None:
                failed = own(value)
                if failed:
                    out.extend(self._problem(value, path, shape, message) for message in failed)
            if scalar_rule is not None:
                if any(item is None or scalar_rule(item) for item in value):
                    out.append(self._problem(value, path, shape, nested if "." in path else top))
            elif element is not None:
                for index, item in enumerate(value, 1):
                    if item is not None:
                        element(item, f"{path}.{index}.member", out)

        return check

    def _map(self, shape: Shape) -> Check:
        own = self._rule(shape)
        key_rule = self._rule(shape.key)
        value_shape = shape.value
        scalar_value = value_shape.type_name not in ("structure", "list", "map")
        value_rule = self._rule(value_shape) if scalar_value else None
        value_check = None if scalar_value else self.check(value_shape)

        def check(value: dict[str, Any], path: str, out: list[str]) -> None:
            if own is not None:
                failed = own(value)
                if failed:
                    out.extend(self._problem(value, path, shape, message) for message in failed)
            # Coral reports bad keys (and bad scalar values) once for the whole map.
            for rule, what in ((key_rule, "keys"), (value_rule, "value")):
                if rule is None:
                    continue
                items = value.keys() if what == "keys" else value.values()
                failed_all: list[str] = []
                for item in items:
                    for message in rule(item) or ():
                        if message not in failed_all:
                            failed_all.append(message)
                if failed_all:
                    constraint = f"Map {what} must satisfy constraint: [{', '.join(failed_all)}]"
                    out.append(self._problem(value, path, shape, constraint))
            if value_check is not None:
                for key, item in value.items():
                    if item is not None:
                        value_check(item, f"{path}.{key}", out)

        return check
