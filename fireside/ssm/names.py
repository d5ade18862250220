"""Parameter names as Parameter Store reads them: validation with AWS's messages, the key a
name is stored under, ARNs, and the `name:version` / `name:label` selectors.

A name is either one level (`db-password`, or `/db-password`, which AWS treats as the same
parameter) or a path of at most 15 levels (`/app/prod/db/password`). So the stored key of a
one-level name drops its leading slash; a path keeps it. A parameter keeps the name it was
created with, which is what the API answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from fireside.aws.errors import ModelledErrors, ServiceError

__all__ = [
    "MAX_LEVELS",
    "Selector",
    "check_name",
    "check_path",
    "error",
    "key_of",
    "not_found",
    "parameter_arn",
    "parse_selector",
    "version_not_found",
]

error = ModelledErrors("ssm")

MAX_LEVELS: Final = 15
_CHARS: Final = re.compile(r"^[a-zA-Z0-9_.\-/]+$")
_ARN: Final = re.compile(
    r"^arn:aws[\w-]*:ssm:(?P<region>[^:]+):(?P<account>\d{12}):parameter/(?P<name>.+)$"
)
_SUB_PATHS: Final = (
    "If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path "
    "can be formed as a mix of letters, numbers and the following 3 symbols .-_"
)
_BAD_NAME: Final = f'Parameter name: can\'t be prefixed with "ssm" (case-insensitive). {_SUB_PATHS}'
_BAD_PATH: Final = (
    "The parameter doesn't meet the parameter name requirements. The parameter name must begin "
    'with a forward slash "/". It can\'t be prefixed with "aws" or "ssm" (case-insensitive). '
    "It must use only letters, numbers, or the following symbols: . (period), - (hyphen), "
    "_ (underscore). Special characters are not allowed. All sub-paths, if specified, must use "
    'the forward slash symbol "/". Valid example: /get/parameters2-/by1./path0_.'
)


def invalid(message: str) -> ServiceError:
    return error("ValidationException", message)


def not_found(name: str) -> ServiceError:
    return error("ParameterNotFound", f"Parameter {name} not found.")


def version_not_found(version: int, name: str) -> ServiceError:
    return error(
        "ParameterVersionNotFound",
        f"Systems Manager could not find version {version} of {name}. "
        "Verify the version and try again.",
    )


def key_of(name: str) -> str:
    """The stored key of `name`: `/x` and `x` are one parameter; a path keeps its slash."""
    if name.startswith("/") and name.count("/") == 1:
        return name[1:]
    return name


def parameter_arn(account: str, region: str, name: str) -> str:
    return f"arn:aws:ssm:{region}:{account}:parameter/{name.lstrip('/')}"


def check_name(name: str) -> None:
    """Refuse a name PutParameter would refuse, as AWS words it."""
    if not _CHARS.match(name) or "//" in name or name.endswith("/"):
        raise invalid(_BAD_NAME)
    if "/" in name and not name.startswith("/"):
        raise invalid("Parameter name must be a fully qualified name.")
    is_path = name.count("/") > 1
    bare = name.lstrip("/").lower()
    if bare.startswith(("aws", "ssm")):
        if is_path and bare.startswith("aws"):
            raise error("AccessDeniedException", f"No access to reserved parameter name: {name}.")
        if not is_path:
            raise invalid(
                'Parameter name: can\'t be prefixed with "aws" or "ssm" (case-insensitive).'
            )
        raise invalid(_BAD_NAME)
    if name.count("/") > MAX_LEVELS:
        raise error(
            "HierarchyLevelLimitExceededException",
            f"A hierarchy can have a maximum of {MAX_LEVELS} levels.",
        )


def check_path(path: str) -> str:
    """The prefix GetParametersByPath lists under (`/a/b/`), or AWS's refusal of `path`."""
    if not path.startswith("/") or "//" in path or not _CHARS.match(path):
        raise invalid(_BAD_PATH)
    return path.rstrip("/") + "/"


@dataclass(frozen=True, slots=True)
class Selector:
    """A name as GetParameter takes it: the stored key, and a version or a label, if any."""

    key: str
    #: The part after the colon, as given (`:3`, `:prod`), for the answer's `Selector`.
    selector: str | None = None
    version: int | None = None
    label: str | None = None


def parse_selector(account: str, region: str, given: str) -> Selector | None:
    """What `given` (a name, an ARN, either with `:version` or `:label`) selects; None when
    it cannot name a parameter of `account` in `region` (answered as not found)."""
    found = _ARN.match(given)
    if found is not None:
        if found["account"] != account or found["region"] != region:
            return None
        rest = found["name"]
        given = "/" + rest if "/" in rest.split(":")[0] else rest
    name, colon, tail = given.partition(":")
    if not name or ":" in tail:
        return None
    if not colon:
        return Selector(key_of(name))
    if not tail:
        return None
    if tail.isdigit():
        return Selector(key_of(name), f":{tail}", version=int(tail))
    return Selector(key_of(name), f":{tail}", label=tail)
