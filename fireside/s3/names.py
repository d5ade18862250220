"""S3's bucket naming rules (general purpose buckets)."""

from __future__ import annotations

import re

from fireside.s3.errors import invalid_bucket_name

__all__ = ["check_bucket_name"]

_SHAPE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_ADDRESS = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def check_bucket_name(name: str) -> None:
    """Raise `InvalidBucketName` unless `name` follows S3's rules: 3 to 63 lower-case letters,
    digits, dots and hyphens, starting and ending with a letter or digit, no `..`, not shaped
    like an IP address, none of the reserved prefixes and suffixes."""
    if (
        not _SHAPE.fullmatch(name)
        or ".." in name
        or _IP_ADDRESS.fullmatch(name)
        or name.startswith(_RESERVED_PREFIXES)
        or name.endswith(_RESERVED_SUFFIXES)
    ):
        raise invalid_bucket_name(name)
