"""LabelParameterVersion and UnlabelParameterVersion: a label names one version of a
parameter (labelling another version moves it), at most 10 per version; labels AWS would
not accept come back in `InvalidLabels`. Runs inside the provider's lock.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Final

from fireside.aws.context import RequestContext
from fireside.ssm.names import error, not_found, version_not_found

if TYPE_CHECKING:
    from fireside.ssm.provider import SsmProvider

__all__ = ["label_version", "unlabel_version"]

MAX_LABELS: Final = 10
_LABEL: Final = re.compile(r"^[a-zA-Z0-9_.\-]{1,100}$")


def label_version(
    provider: SsmProvider, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    name = params["Name"]
    parameter = provider.parameter(ctx, name)
    if parameter is None:
        raise not_found(name)
    number = params.get("ParameterVersion") or parameter.latest.version
    versions = provider.store.versions(ctx.account_id, ctx.region, parameter.key)
    target = next((v for v in versions if v.version == number), None)
    if target is None:
        raise version_not_found(number, name)
    labels: list[str] = params["Labels"]
    bad = [label for label in labels if not _valid_label(label)]
    good = [label for label in dict.fromkeys(labels) if label not in bad]
    added = [label for label in good if label not in target.labels]
    if len(target.labels) + len(added) > MAX_LABELS:
        raise error(
            "ParameterVersionLabelLimitExceeded",
            "An error occurred (ParameterVersionLabelLimitExceeded) when calling the "
            "LabelParameterVersion operation: A parameter version can have maximum 10 "
            "labels.Move one or more labels to another version and try again.",
        )
    changed = [target]
    for version in versions:  # a label names one version of a parameter: it moves
        if version is not target and set(version.labels) & set(added):
            version.labels = [label for label in version.labels if label not in added]
            changed.append(version)
    target.labels += added
    if target.version == parameter.latest.version:
        parameter.latest = target
    provider.store.save(ctx.account_id, ctx.region, parameter, changed)
    return {"InvalidLabels": bad, "ParameterVersion": number}


def unlabel_version(
    provider: SsmProvider, ctx: RequestContext, params: dict[str, Any]
) -> dict[str, Any]:
    name = params["Name"]
    parameter = provider.parameter(ctx, name)
    if parameter is None:
        raise not_found(name)
    number = params["ParameterVersion"]
    versions = provider.store.versions(ctx.account_id, ctx.region, parameter.key)
    target = next((v for v in versions if v.version == number), None)
    if target is None:
        raise version_not_found(number, name)
    labels = list(dict.fromkeys(params["Labels"]))
    removed = [label for label in labels if label in target.labels]
    target.labels = [label for label in target.labels if label not in removed]
    if target.version == parameter.latest.version:
        parameter.latest = target
    provider.store.save(ctx.account_id, ctx.region, parameter, [target])
    return {
        "RemovedLabels": removed,
        "InvalidLabels": [label for label in labels if label not in removed],
    }


def _valid_label(label: str) -> bool:
    """AWS's label rules: letters, digits, `.-_`; not beginning with a digit, `aws` or
    `ssm`. A label breaking them comes back in `InvalidLabels`."""
    lowered = label.lower()
    return (
        bool(_LABEL.match(label))
        and not label[0].isdigit()
        and not lowered.startswith(("aws", "ssm"))
    )
