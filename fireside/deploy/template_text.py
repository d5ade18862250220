"""Template text to data and back, for `fireside deploy`: read as CloudFormation reads it
(`fireside.cloudformation.template`: JSON, or YAML with the short-form tags), written as
JSON."""

from __future__ import annotations

import json
from typing import Any

from fireside.aws.errors import ServiceError
from fireside.cloudformation.template import parse_template

__all__ = ["TemplateTextError", "dump_template", "load_template"]

#: A local template may be larger than an inline body: the deploy sends it through S3.
LOCAL_LIMIT = 10 * 1024 * 1024


class TemplateTextError(ValueError):
    pass


def load_template(text: str) -> dict[str, Any]:
    try:
        return parse_template(text, limit=LOCAL_LIMIT)
    except ServiceError as error:
        raise TemplateTextError(error.message) from None


def dump_template(template: dict[str, Any]) -> str:
    return json.dumps(template, indent=1, default=str)
