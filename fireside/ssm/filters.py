"""The filters of DescribeParameters and GetParametersByPath (`ParameterFilters`, and
DescribeParameters' older `Filters`): checked as Parameter Store checks them, with its
messages, then applied to a parameter (and, for `Label`, to one of its versions).

The model's validator has already checked each filter's shape (a key of the allowed
pattern, 1 to 50 values of 1 to 1024 characters); these are the rules that depend on which
operation asks and on the key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from fireside.ssm.names import check_path, error, invalid
from fireside.ssm.store import Parameter, Version

__all__ = ["Filter", "check_filters", "legacy_filters", "matches"]

#: (key, option, values) of one filter, checked.
Filter = tuple[str, str, list[str]]

_TYPES: Final = ("String", "StringList", "SecureString")
_TIERS: Final = ("Standard", "Advanced", "Intelligent-Tiering")
_NEEDS_VALUES: Final = frozenset({"Name", "Type", "Path", "Tier", "KeyId", "DataType"})
_RESERVED_PATH: Final = (
    'Filters for common parameters can\'t be prefixed with "aws" or "ssm" (case-insensitive). '
    "When using global parameters, please specify within a global namespace."
)


def _bad_key(key: str, valid: str) -> Exception:
    return error(
        "InvalidFilterKey",
        f"The following filter key is not valid: {key}. Valid filter keys include: {valid}.",
    )


def _bad_option(option: str, valid: str) -> Exception:
    return error(
        "InvalidFilterOption",
        f"The following filter option is not valid: {option}. Valid options include: {valid}.",
    )


def _bad_value(value: str, valid: str) -> Exception:
    return error(
        "InvalidFilterOption",
        f"The following filter value is not valid: {value}. Valid values include: {valid}.",
    )


def check_filters(filters: list[dict[str, Any]] | None, *, by_path: bool) -> list[Filter]:
    """`filters` checked for DescribeParameters (`by_path=False`) or GetParametersByPath."""
    checked: list[Filter] = []
    seen: set[str] = set()
    for given in filters or []:
        key: str = given["Key"]
        values: list[str] = list(given.get("Values") or [])
        option: str = given.get("Option") or ("OneLevel" if key == "Path" else "Equals")
        if by_path and key in ("Name", "Path", "Tier"):
            raise _bad_key(key, "[Type, KeyId]")
        if not by_path and key == "Label":
            raise _bad_key(key, "[Path, Name, Type, KeyId, Tier]")
        if key in _NEEDS_VALUES and not values:
            raise error(
                "InvalidFilterValue",
                f"The following filter values are missing : null for filter key {key}.",
            )
        if key in seen:
            raise error(
                "InvalidFilterKey",
                f"The following filter is duplicated in the request: {key}. A request can "
                "contain only one occurrence of a specific filter.",
            )
        seen.add(key)
        if key == "Path":
            if option not in ("Recursive", "OneLevel"):
                raise _bad_option(option, "[Recursive, OneLevel]")
            for value in values:
                if value.lower().startswith(("/aws", "/ssm")):
                    raise invalid(_RESERVED_PATH)
                check_path(value)  # raises AWS's message for a malformed path
        elif key == "Label":
            if option != "Equals":
                raise _bad_option(option, "[Equals]")
        else:
            allowed = (
                ("Equals", "BeginsWith", "Contains") if key == "Name" else ("Equals", "BeginsWith")
            )
            if option not in allowed:
                raise _bad_option(option, "[" + ", ".join(allowed) + "]")
        if key == "Type":
            for value in values:
                if value not in _TYPES:
                    raise _bad_value(value, "[String, StringList, SecureString]")
        if key == "Tier":
            for value in values:
                if value not in _TIERS:
                    raise _bad_value(value, "[Standard, Advanced, Intelligent-Tiering]")
        checked.append((key, option, values))
    return checked


def legacy_filters(filters: list[dict[str, Any]]) -> list[Filter]:
    """DescribeParameters' `Filters` (Name, Type, KeyId) as `ParameterFilters`: a name
    filter matches names that begin with a value, the others are equalities."""
    checked: list[Filter] = []
    for given in filters:
        key = given["Key"]
        option = "BeginsWith" if key == "Name" else "Equals"
        checked.append((key, option, list(given.get("Values") or [])))
    return checked


def _slash(name: str) -> str:
    return "/" + name.lstrip("/")


def _compare(option: str) -> Callable[[str, str], bool]:
    if option == "BeginsWith":
        return lambda found, wanted: found.startswith(wanted)
    if option == "Contains":
        return lambda found, wanted: wanted in found
    return lambda found, wanted: found == wanted


def _in_path(name: str, option: str, path: str) -> bool:
    name = _slash(name)
    if path == "/":
        return option == "Recursive" or name.count("/") == 1
    prefix = path.rstrip("/") + "/"
    if not name.startswith(prefix):
        return False
    return option == "Recursive" or "/" not in name[len(prefix) :]


def matches(parameter: Parameter, version: Version, filters: list[Filter]) -> bool:
    """Whether `version` of `parameter` passes every filter."""
    for key, option, values in filters:
        compare = _compare(option)
        if key == "Name":
            name = _slash(parameter.name)
            wanted = values if option == "Contains" else [_slash(v) for v in values]
            if not any(compare(name, value) for value in wanted):
                return False
        elif key == "Path":
            if not any(_in_path(parameter.name, option, value) for value in values):
                return False
        elif key == "Label":
            if not set(values) & set(version.labels):
                return False
        elif key.startswith("tag:"):
            tag = parameter.tags.get(key[4:])
            if tag is None or (values and not any(compare(tag, value) for value in values)):
                return False
        else:
            found = {
                "Type": version.type,
                "KeyId": version.key_id,
                "Tier": version.tier,
                "DataType": version.data_type,
            }.get(key)
            if found is None or not any(compare(found, value) for value in values):
                return False
    return True
