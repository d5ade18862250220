"""S3's opaque continuation tokens (ListObjectsV2, ListBuckets): the name to resume after.

S3's own tokens are opaque; a token it did not issue is refused with `InvalidArgument`
naming `continuation-token`, which is what `decode` raises for one that is not ours.
"""

from __future__ import annotations

import base64
import binascii

from fireside.s3.errors import invalid_argument

__all__ = ["decode", "encode"]


def encode(after: str) -> str:
    return base64.urlsafe_b64encode(after.encode("utf-8")).decode("ascii")


def decode(token: str) -> str:
    try:
        return base64.urlsafe_b64decode(token.encode("ascii")).decode("utf-8")
    except (binascii.Error, UnicodeError, ValueError):
        raise invalid_argument(
            "The continuation token provided is incorrect", "continuation-token", token
        ) from None
