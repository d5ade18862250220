"""The SAM transform (`Transform: AWS::Serverless-2016-10-31`), run on the server as
CloudFormation runs it, with AWS's own translator (the `aws-sam-translator` package), offline.

The translator needs the region (it builds ARNs from it) and keeps it in process-wide state,
so translations run one at a time. Managed policy names and SAM's policy templates resolve
from maps the package bundles: no IAM call is made. A template the translator rejects fails
with CloudFormation's words: `Transform AWS::Serverless-2016-10-31 failed with: <why>`.
The translator is synchronous (tens of milliseconds): call `expand_sam` in a thread.
"""

from __future__ import annotations

import copy
import threading
from functools import lru_cache
from typing import Any

__all__ = ["SAM_TRANSFORM", "TransformFailed", "expand_sam", "uses_sam"]

SAM_TRANSFORM = "AWS::Serverless-2016-10-31"
_LOCK = threading.Lock()


class TransformFailed(Exception):
    """The transform refused the template; `str()` is CloudFormation's message."""


def uses_sam(template: dict[str, Any]) -> bool:
    transform = template.get("Transform")
    names = transform if isinstance(transform, list) else [transform]
    return SAM_TRANSFORM in names


@lru_cache(maxsize=32)
def _session(region: str) -> Any:
    import boto3

    return boto3.Session(region_name=region)


def expand_sam(template: dict[str, Any], region: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """`template` with its `AWS::Serverless::*` resources expanded into CloudFormation's
    (the transform's entry removed from `Transform`, others kept)."""
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    source = copy.deepcopy(template)
    try:
        with _LOCK:
            translator = Translator(None, Parser(), boto_session=_session(region))
            expanded: dict[str, Any] = translator.translate(
                source, parameter_values=dict(parameters)
            )
    except InvalidDocumentException as error:
        causes = "; ".join(str(cause.message) for cause in error.causes)
        raise TransformFailed(
            f"Transform {SAM_TRANSFORM} failed with: Invalid Serverless Application "
            f"Specification document. Number of errors found: {len(error.causes)}. {causes}"
        ) from None
    except Exception as error:  # the translator's own failures, named, never a 500
        raise TransformFailed(f"Transform {SAM_TRANSFORM} failed with: {error}") from None
    others = template.get("Transform")
    if isinstance(others, list):
        remaining = [name for name in others if name != SAM_TRANSFORM]
        if remaining:
            expanded["Transform"] = remaining
    return expanded
