"""Download links for code and layer archives: GetFunction's `Code.Location` and
GetLayerVersion's `Content.Location`.

On AWS these are presigned S3 URLs that expire after 10 minutes. Fireside's are links to its
own `/_fireside/code/<sha256>.zip`, signed with a key the server draws at start (so a restart
also ends them) and checked on use: whoever holds a link may download that one archive until
it expires, and nobody can fetch an archive by its digest alone.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Callable
from hashlib import sha256
from urllib.parse import parse_qs

__all__ = ["LINK_LIFETIME", "CodeLinks"]

#: How long a link works, in seconds: AWS's code locations last 10 minutes.
LINK_LIFETIME = 600


class CodeLinks:
    def __init__(self, clock: Callable[[], float] = time.time, key: bytes | None = None) -> None:
        self._clock = clock
        self._key = key if key is not None else os.urandom(32)

    def _signature(self, digest: str, expires: int) -> str:
        return hmac.new(self._key, f"{digest}\n{expires}".encode(), sha256).hexdigest()

    def url(self, endpoint_url: str, digest: str) -> str:
        """A link to the archive with SHA-256 `digest`, valid for `LINK_LIFETIME` seconds."""
        expires = int(self._clock()) + LINK_LIFETIME
        return (
            f"{endpoint_url}/_fireside/code/{digest}.zip"
            f"?Expires={expires}&Signature={self._signature(digest, expires)}"
        )

    def check(self, digest: str, query: str) -> str | None:
        """Why a link to `digest` with this query may not be used (None: it may), worded as
        S3 words a refused presigned URL."""
        params = parse_qs(query[:1024])
        expires_text = (params.get("Expires") or [""])[0]
        signature = (params.get("Signature") or [""])[0]
        if not expires_text.isdigit() or not signature:
            return "Query-string authentication requires the Signature and Expires parameters"
        expires = int(expires_text[:12])
        if not hmac.compare_digest(self._signature(digest, expires), signature):
            return "The request signature we calculated does not match the signature you provided."
        if self._clock() > expires:
            return "Request has expired"
        return None
