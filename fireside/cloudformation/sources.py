"""Where a template comes from: the request's `TemplateBody`, or a `TemplateURL` naming an
object in Fireside's S3, read as the calling account (so bucket ownership and policies are
checked as for the account's own GetObject).

The URL may be path-style on Fireside's endpoint (`http://host:4566/<bucket>/<key>`), or one
of AWS's S3 URLs, which Fireside serves itself: `https://<bucket>.s3.amazonaws.com/<key>`,
`https://<bucket>.s3.<region>.amazonaws.com/<key>`, `https://s3.<region>.amazonaws.com/
<bucket>/<key>` (what CDK and SAM upload to).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from fireside.aws.errors import ServiceError
from fireside.cloudformation.template import MAX_URL_BODY, validation

__all__ = ["Sources", "s3_location"]

_VIRTUAL: Final = re.compile(r"^(?P<bucket>.+)\.s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com$")
_PATH: Final = re.compile(r"^s3(?:[.-](?P<region>[a-z0-9-]+))?\.amazonaws\.com$")
_MAX_URL: Final = 5120

Caller = Callable[[str, str, str, str, dict[str, Any]], Awaitable[dict[str, Any]]]


def s3_location(url: str, allow_s3: bool = False) -> tuple[str, str]:
    """(bucket, key) of a template URL (or of an `s3://bucket/key` location, where
    `AWS::Include` takes one), or CloudFormation's error for one it cannot read."""
    if len(url) > _MAX_URL:
        raise validation(f"TemplateURL must be at most {_MAX_URL} characters")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    path = unquote(parts.path)
    if allow_s3 and parts.scheme == "s3" and parts.netloc:
        bucket, key = parts.netloc, path.lstrip("/")
        if not key:
            raise validation(f"{url} is not a valid S3 location")
        return bucket, key
    if parts.scheme not in ("http", "https") or not host:
        raise validation("TemplateURL must be a supported URL.")
    virtual = _VIRTUAL.match(host)
    if virtual is not None and not _PATH.match(host):
        bucket, key = virtual["bucket"], path.lstrip("/")
    else:
        bucket, _, key = path.lstrip("/").partition("/")
    if not bucket or not key:
        raise validation("TemplateURL must reference a valid S3 object to which you have access.")
    return bucket, key


class Sources:
    def __init__(self, caller: Caller) -> None:
        self._caller = caller

    async def read_url(
        self, account: str, region: str, url: str, *, allow_s3: bool = False
    ) -> bytes:
        bucket, key = s3_location(url, allow_s3)
        try:
            found = await self._caller(
                account, region, "s3", "GetObject", {"Bucket": bucket, "Key": key}
            )
        except ServiceError as error:
            raise validation(f"S3 error: {error.message}") from None
        body = found.get("Body", b"")
        if not isinstance(body, bytes):
            body = bytes(body)
        if len(body) > MAX_URL_BODY:
            raise validation(f"Template may not exceed {MAX_URL_BODY} bytes in size.")
        return body

    async def body(self, account: str, region: str, params: dict[str, Any]) -> str | None:
        """The template text a request names (None when it names none)."""
        text = params.get("TemplateBody")
        url = params.get("TemplateURL")
        if text is not None and url is not None:
            raise validation("Specify exactly one of TemplateBody or TemplateURL.")
        if url is not None:
            raw = await self.read_url(account, region, str(url))
            try:
                return raw.decode("utf-8")
            except UnicodeDecodeError:
                raise validation("Template format error: Template is not valid UTF-8.") from None
        return None if text is None else str(text)
