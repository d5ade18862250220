"""AWS managed policies (`arn:aws:iam::aws:policy/...`): which exist, and what IAM says of one.

Templates attach them by ARN (SAM's `Policies: [AWSLambdaBasicExecutionRole]` becomes
`arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole`). When the
`aws-sam-translator` package is installed (the SAM transform needs it), its bundled map of
AWS's managed policies (about 1,200 names) says which ARNs exist, so a misspelt one is refused
as AWS refuses it. Without the package any well-formed ARN is accepted.

Fireside does not know these policies' documents: `GetPolicyVersion` answers a document with
no statements (`docs/deploy.md` says so). Nothing is enforced either way.
"""

from __future__ import annotations

import functools
import importlib
import re
from typing import Final

__all__ = ["AWS_POLICY_ARN", "known", "names"]

AWS_POLICY_ARN: Final = re.compile(
    r"arn:aws:iam::aws:policy(?P<path>/(?:[A-Za-z0-9.,+@=_-]+/)*)(?P<name>[\w+=,.@-]{1,128})"
)


@functools.cache
def _bundled() -> dict[str, str] | None:
    """ARN -> name of every AWS managed policy aws-sam-translator knows, or None."""
    try:
        module = importlib.import_module("samtranslator.internal.managed_policies")
        by_name = module.get_bundled_managed_policy_map("aws")
    except (ImportError, AttributeError):
        return None
    if not isinstance(by_name, dict):
        return None
    return {str(arn): str(name) for name, arn in by_name.items()}


def known(arn: str) -> bool:
    """Whether `arn` names an AWS managed policy (any well-formed one without the map)."""
    if AWS_POLICY_ARN.fullmatch(arn) is None:
        return False
    bundled = _bundled()
    return bundled is None or arn in bundled


def names() -> list[str]:
    """Every AWS managed policy ARN Fireside knows of (none without the map)."""
    bundled = _bundled()
    return sorted(bundled) if bundled is not None else []
