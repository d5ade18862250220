"""Stack parameters: the values given (or defaulted, or kept from the last update) checked
against their declarations, as CloudFormation checks them before a stack operation starts.

A `Ref` to a parameter is its value: a string, or a list of strings for `List<...>` and
`CommaDelimitedList` types. `AWS::SSM::Parameter::Value<...>` parameters name a Parameter
Store parameter, read as the stack's account; DescribeStacks shows the name and the value it
resolved to. `NoEcho` values show as `****`.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from fireside.aws.errors import ServiceError
from fireside.cloudformation.template import validation

__all__ = ["MASK", "Resolved", "resolve_parameters"]

MASK: Final = "****"
_MAX_PARAMETERS: Final = 200
_SSM_TYPE: Final = re.compile(r"^AWS::SSM::Parameter::Value<(.+)>$")

#: name -> the parameter's value (`GetParameter`'s `Parameter.Value`).
SsmReader = Callable[[str], Awaitable[str]]


@dataclass(slots=True)
class Resolved:
    #: What `Ref` of each parameter gives.
    values: dict[str, Any]
    #: The Parameters DescribeStacks shows (ParameterKey, ParameterValue, ResolvedValue).
    described: list[dict[str, str]]
    #: The values given or defaulted, by name, to keep for `UsePreviousValue`.
    raw: dict[str, str]


def _is_list(kind: str) -> bool:
    return kind == "CommaDelimitedList" or kind.startswith("List<")


def _check(name: str, spec: dict[str, Any], value: str) -> None:
    kind = str(spec.get("Type", "String"))
    items = [v.strip() for v in value.split(",")] if _is_list(kind) else [value]
    allowed = spec.get("AllowedValues")
    pattern = spec.get("AllowedPattern")
    for item in items:
        if kind in ("Number", "List<Number>"):
            try:
                number = float(item)
            except ValueError:
                raise validation(f"Parameter '{name}' must be a number") from None
            if "MinValue" in spec and number < float(spec["MinValue"]):
                raise validation(
                    f"Parameter '{name}' must be a number not less than {spec['MinValue']}"
                )
            if "MaxValue" in spec and number > float(spec["MaxValue"]):
                raise validation(
                    f"Parameter '{name}' must be a number not greater than {spec['MaxValue']}"
                )
        if isinstance(allowed, list) and item not in [str(a) for a in allowed]:
            raise validation(f"Parameter '{name}' must be one of AllowedValues")
        if isinstance(pattern, str):
            try:
                matched = re.fullmatch(pattern, item) is not None
            except re.error:
                matched = False
            if not matched:
                raise validation(f"Parameter '{name}' must match pattern {pattern}")
    if "MinLength" in spec and len(value) < int(spec["MinLength"]):
        raise validation(f"Parameter '{name}' must contain at least {spec['MinLength']} characters")
    if "MaxLength" in spec and len(value) > int(spec["MaxLength"]):
        raise validation(f"Parameter '{name}' must contain at most {spec['MaxLength']} characters")


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


async def resolve_parameters(
    declared: dict[str, Any],
    given: list[dict[str, Any]],
    previous: dict[str, str],
    read_ssm: SsmReader,
) -> Resolved:
    """The stack's parameters, or CloudFormation's ValidationError for bad ones."""
    if len(given) > _MAX_PARAMETERS:
        raise validation(f"Parameter count {len(given)} exceeds the limit of {_MAX_PARAMETERS}")
    supplied: dict[str, str] = {}
    undeclared: list[str] = []
    for entry in given:
        key = str(entry.get("ParameterKey", ""))
        if key not in declared:
            undeclared.append(key)
            continue
        if entry.get("UsePreviousValue"):
            if entry.get("ParameterValue"):  # an empty value may go with it (AWS-verified)
                raise validation(
                    f"Invalid input for parameter key {key}. Cannot specify usePreviousValue "
                    "as true and non empty value for a parameter"
                )
            if key not in previous:
                raise validation(
                    f"Invalid input for parameter key {key}. Need to specify either "
                    "usePreviousValue as true or a value for the parameter"
                )
            supplied[key] = previous[key]
        else:
            supplied[key] = str(entry.get("ParameterValue", ""))
    if undeclared:
        raise validation(f"Parameters: [{', '.join(undeclared)}] do not exist in the template")
    missing = [
        name
        for name, spec in declared.items()
        if name not in supplied and not (isinstance(spec, dict) and "Default" in spec)
    ]
    if missing:
        raise validation(f"Parameters: [{', '.join(missing)}] must have values")
    values: dict[str, Any] = {}
    described: list[dict[str, str]] = []
    raw: dict[str, str] = {}
    for name, spec in declared.items():
        value = supplied[name] if name in supplied else _text(spec["Default"])
        raw[name] = value
        kind = str(spec.get("Type", "String"))
        entry = {"ParameterKey": name, "ParameterValue": value}
        ssm = _SSM_TYPE.match(kind)
        if ssm is not None:
            try:
                resolved = await read_ssm(value)
            except ServiceError:
                raise validation(
                    f"Unable to fetch parameters [{value}] from parameter store for this account."
                ) from None
            entry["ResolvedValue"] = resolved
            values[name] = (
                [v.strip() for v in resolved.split(",")] if _is_list(ssm[1]) else resolved
            )
        else:
            _check(name, spec, value)
            values[name] = [v.strip() for v in value.split(",")] if _is_list(kind) else value
        if str(spec.get("NoEcho", "false")).lower() == "true":
            entry["ParameterValue"] = MASK
            entry.pop("ResolvedValue", None)
        described.append(entry)
    return Resolved(values, described, raw)
