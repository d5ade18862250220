"""Template transforms: `AWS::Include` snippets and the SAM transform
(`AWS::Serverless-2016-10-31`), run on the server as CloudFormation runs them.

SAM templates are translated by `fireside.cloudformation.sam` (the `aws-sam-translator`
package, what AWS's own transform runs), offline, for the request's region, in a thread off
the event loop.
`AWS::LanguageExtensions`: `Fn::ForEach` is unrolled (`fireside.cloudformation.foreach`);
its `Fn::Length` and `Fn::ToJsonString` are intrinsics here. `Fn::Transform` with `AWS::Include`
reads its `Location` (`s3://bucket/key`) from Fireside's S3 as the calling account.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from fireside.cloudformation.foreach import expand_foreach
from fireside.cloudformation.sam import SAM_TRANSFORM as SAM
from fireside.cloudformation.sam import TransformFailed, expand_sam
from fireside.cloudformation.template import MAX_URL_BODY, parse_template, validation

__all__ = ["SAM", "Transforms"]

log = logging.getLogger(__name__)

_INCLUDE: Final = "AWS::Include"
_EXTENSIONS: Final = "AWS::LanguageExtensions"
_ACCEPTED: Final = frozenset({SAM, _INCLUDE, _EXTENSIONS})
_MAX_INCLUDES: Final = 100

#: (s3:// or https:// URL) -> the object's bytes, read as the calling account.
Reader = Callable[[str], Awaitable[bytes]]


def _translate(template: dict[str, Any], region: str, parameters: dict[str, str]) -> Any:
    """The SAM expansion (`fireside.cloudformation.sam`), or the error to raise."""
    try:
        return expand_sam(template, region, parameters)
    except TransformFailed as error:
        return validation(str(error))
    except Exception as error:  # the translator's own bugs
        log.exception("the SAM transform failed")
        return validation(f"Transform {SAM} failed with: {error}")


class Transforms:
    def __init__(self, region: str, read: Reader) -> None:
        self.region = region
        self.read = read

    async def __call__(
        self, template: dict[str, Any], capabilities: list[str], parameters: dict[str, str]
    ) -> dict[str, Any]:
        declared = template.get("Transform")
        names = declared if isinstance(declared, list) else [declared] if declared else []
        for name in names:
            if not isinstance(name, str):
                raise validation("Template format error: every transform must be a name")
            if name not in _ACCEPTED:
                raise validation(f"Template format error: Unrecognized transform: {name}")
        template = await self._includes(copy.deepcopy(template), [0])
        if _EXTENSIONS in names:
            template = expand_foreach(template, parameters)
        if SAM in names:
            translated = await asyncio.to_thread(_translate, template, self.region, parameters)
            if isinstance(translated, Exception):
                raise translated
            template = translated
        else:
            template.pop("Transform", None)
        return template

    async def _includes(self, value: Any, count: list[int]) -> Any:
        """`value` with each `Fn::Transform: {Name: AWS::Include, ...}` replaced by the
        snippet it names (merged into the mapping that holds it)."""
        if isinstance(value, list):
            return [await self._includes(item, count) for item in value]
        if not isinstance(value, dict):
            return value
        spec = value.get("Fn::Transform")
        if spec is not None:
            if not isinstance(spec, dict) or spec.get("Name") != _INCLUDE:
                name = spec.get("Name") if isinstance(spec, dict) else spec
                raise validation(f"Template format error: Unrecognized transform: {name}")
            count[0] += 1
            if count[0] > _MAX_INCLUDES:
                raise validation("Template format error: too many AWS::Include transforms")
            location = str((spec.get("Parameters") or {}).get("Location", ""))
            snippet = parse_template(await self.read(location), MAX_URL_BODY, "Location")
            rest = {k: v for k, v in value.items() if k != "Fn::Transform"}
            value = {**rest, **snippet} if rest else snippet
            return await self._includes(value, count)
        return {key: await self._includes(item, count) for key, item in value.items()}
