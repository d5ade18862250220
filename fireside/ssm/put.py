"""PutParameter: the rules a write must pass (name, value size per tier, allowed pattern,
quotas, the version cap) and the new version it makes, its value sealed when it is a
SecureString. Runs inside the provider's lock (`fireside.ssm.provider`).
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any, Final

from fireside.aws.context import RequestContext
from fireside.aws.errors import validation_error
from fireside.aws.protocol import not_implemented
from fireside.ssm.names import check_name, error, invalid, key_of
from fireside.ssm.store import Parameter, Version
from fireside.ssm.tagging import tag_map

if TYPE_CHECKING:
    from fireside.ssm.provider import SsmProvider

__all__ = ["PARAMETER_LIMITS", "put"]

DEFAULT_KEY: Final = "alias/aws/ssm"
MAX_VERSIONS: Final = 100
#: Values per tier, and parameters per tier per account and region (AWS's quotas).
VALUE_LIMITS: Final = {"Standard": 4096, "Advanced": 8192}
PARAMETER_LIMITS: Final = {"Standard": 10_000, "Advanced": 100_000}
_DATA_TYPES: Final = frozenset({"text", "aws:ec2:image", "aws:ssm:integration"})


def put(provider: SsmProvider, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    name: str = params["Name"]
    value: str = params["Value"]
    overwrite = bool(params.get("Overwrite"))
    check_name(name)
    if value == "":
        raise validation_error(
            [
                "Value '' at 'value' failed to satisfy constraint: Member must have "
                "length greater than or equal to 1"
            ]
        )
    if overwrite and params.get("Tags"):
        raise invalid(
            "Invalid request: tags and overwrite can't be used together. To create a "
            "parameter with tags, please remove overwrite flag. To update tags for an "
            "existing parameter, please use AddTagsToResource or RemoveTagsFromResource."
        )
    if params.get("Policies"):
        raise not_implemented("PutParameter with Policies (parameter policies)", "SSM")
    data_type = params.get("DataType")
    if data_type is not None and data_type not in _DATA_TYPES:
        raise invalid(
            f"The following data type is not supported: {data_type} "
            "(Data type names are all lowercase.)"
        )
    key = key_of(name)
    account, region = ctx.account_id, ctx.region
    existing = provider.store.get(account, region, key)
    if existing is not None and not overwrite:
        raise error(
            "ParameterAlreadyExists",
            "The parameter already exists. To overwrite this value, set the overwrite "
            "option in the request to true.",
        )
    before = existing.latest if existing is not None else None
    kind = params.get("Type") or (before.type if before else None)
    if kind is None:
        raise invalid("A parameter type is required when you create a parameter.")
    tier = _tier(params.get("Tier"), before, value)
    pattern = params.get("AllowedPattern", before.allowed_pattern if before else None)
    _check_pattern(pattern, value)
    if before is None or before.tier != tier:
        limit = provider.limits[tier]
        if provider.store.count(account, region, tier) >= limit:
            raise error("ParameterLimitExceeded", _limit_message(tier, limit))
    key_id = None
    if kind == "SecureString":
        kept = before.key_id if before and before.type == "SecureString" else None
        key_id = params.get("KeyId") or kept or DEFAULT_KEY
    stored = provider.box.seal(value, f"{account}/{region}/{key}") if key_id else value
    version = Version(
        version=before.version + 1 if before else 1,
        type=kind,
        value=stored,
        modified=time.time(),
        user=f"arn:aws:iam::{account}:root",
        tier=tier,
        data_type=data_type or (before.data_type if before else "text"),
        description=params.get("Description", before.description if before else None),
        allowed_pattern=pattern,
        key_id=key_id,
    )
    dropped: list[int] = []
    if existing is not None:
        history = provider.store.versions(account, region, key)
        if len(history) >= MAX_VERSIONS:
            oldest = history[0]
            if oldest.labels:
                raise error(
                    "ParameterMaxVersionLimitExceeded",
                    f"You attempted to create a new version of {name} by calling the "
                    f"PutParameter API with the overwrite flag. Version {oldest.version}, "
                    "the oldest version, can't be deleted because it has a label "
                    "associated with it. Move the label to another version of the "
                    "parameter, and try again.",
                )
            dropped.append(oldest.version)
        parameter = Parameter(key, existing.name, version, existing.tags)
    else:
        parameter = Parameter(key, name, version, tag_map(params.get("Tags")))
    provider.store.save(account, region, parameter, [version], dropped)
    return {"Version": version.version, "Tier": tier}


def _tier(requested: str | None, before: Version | None, value: str) -> str:
    previous = before.tier if before is not None else None
    tier = requested or previous or "Standard"
    if tier == "Intelligent-Tiering":
        big = len(value) > VALUE_LIMITS["Standard"]
        tier = "Advanced" if big or previous == "Advanced" else "Standard"
    if previous == "Advanced" and tier == "Standard":
        raise invalid(
            "This parameter uses the advanced-parameter tier. You can't downgrade a "
            "parameter from the advanced-parameter tier to the standard-parameter tier. "
            "If necessary, you can delete the advanced parameter and recreate it as a "
            "standard parameter."
        )
    if len(value) > VALUE_LIMITS[tier]:
        if tier == "Standard":
            raise invalid(
                "Standard tier parameters support a maximum parameter value of 4096 "
                "characters. To create a larger parameter value, upgrade the parameter to "
                "use the advanced-parameter tier. For more information, see "
                "https://docs.aws.amazon.com/systems-manager/latest/userguide/"
                "parameter-store-advanced-parameters.html"
            )
        raise validation_error(
            [
                "Value at 'value' failed to satisfy constraint: Member must have length "
                f"less than or equal to {VALUE_LIMITS['Advanced']}"
            ]
        )
    return tier


def _check_pattern(pattern: str | None, value: str) -> None:
    if not pattern:
        return
    try:
        compiled = re.compile(pattern)
    except re.error:
        raise error(
            "InvalidAllowedPatternException",
            "The request doesn't meet the regular expression requirement.",
        ) from None
    if compiled.fullmatch(value) is None:
        raise error(
            "ParameterPatternMismatchException",
            f"Parameter value, cannot be validated against allowedPattern: {pattern}",
        )


def _limit_message(tier: str, limit: int) -> str:
    if tier == "Standard":
        return (
            f"You have reached the maximum number of standard parameters for this AWS account "
            f"and Region ({limit}). To add more parameters, either delete existing parameters "
            "or upgrade to the advanced-parameter tier (charges apply)."
        )
    return (
        f"You have reached the maximum number of advanced parameters for this AWS account "
        f"and Region ({limit}). To add more parameters, delete existing parameters."
    )
