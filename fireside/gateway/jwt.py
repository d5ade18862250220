"""JSON Web Tokens as an HTTP API's JWT authorizer checks them.

API Gateway ("Controlling access to HTTP APIs with JWT authorizers") takes the token from the
identity source (a `Bearer ` prefix is dropped), reads the key id from its header, finds the
key in the issuer's JWKS, and checks the RSA signature (RS256, RS384, RS512), `exp`, `nbf`
and `iat`, that `iss` is the authorizer's issuer, and that `aud` or `client_id` is one of its
audiences. Scopes (`scope` or `scp`) are checked against the route's by the caller.

The JWKS comes from the issuer's OpenID discovery document
(`<issuer>/.well-known/openid-configuration`, its `jwks_uri`), else from
`<issuer>/.well-known/jwks.json`; an issuer `file:///path/jwks.json` names a JWKS file,
for tokens minted locally. Such files are read only inside one directory the operator
chooses (`<data dir>/jwks` unless `FIRESIDE_JWKS_DIR` says otherwise): an API definition is
any account's input, and must not make the server read its other files. Key sets are cached per issuer for an hour, and fetched again
(at most once a minute) when a token names a key id they lack.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = ["InvalidToken", "JwksCache", "scopes_of", "verify"]

_HASHES: dict[str, Callable[[], hashes.HashAlgorithm]] = {
    "RS256": hashes.SHA256,
    "RS384": hashes.SHA384,
    "RS512": hashes.SHA512,
}
_KEYS_LIFETIME = 3600.0
_REFETCH_AFTER = 60.0
_FETCH_TIMEOUT = 5.0
_MAX_JWKS_BYTES = 1024 * 1024
#: Seconds of clock difference tolerated on `exp`, `nbf` and `iat`.
_LEEWAY = 0


class InvalidToken(ValueError):
    """A token the authorizer refuses (the client gets 401); the message is for the logs."""


def _b64(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("not base64url") from exc


def _json(part: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64(part))
    except (ValueError, RecursionError) as exc:  # a token nesting `[` 10,000 deep is a client's
        raise InvalidToken("not JSON") from exc
    if not isinstance(value, dict):
        raise InvalidToken("not a JSON object")
    return value


def _rsa_key(jwk: dict[str, Any]) -> rsa.RSAPublicKey:
    n = int.from_bytes(_b64(str(jwk.get("n", ""))), "big")
    e = int.from_bytes(_b64(str(jwk.get("e", ""))), "big")
    return rsa.RSAPublicNumbers(e, n).public_key()


class JwksCache:
    """Issuers' key sets, fetched in a thread and kept for an hour."""

    def __init__(
        self, *, clock: Callable[[], float] = time.time, files: Path | None = None
    ) -> None:
        self._clock = clock
        #: The one directory `file://` issuers and key sets may name (None: no files).
        self._files = files
        self._sets: dict[str, tuple[float, dict[str, dict[str, Any]]]] = {}

    async def key(self, issuer: str, kid: str | None) -> dict[str, Any]:
        now = self._clock()
        cached = self._sets.get(issuer)
        if (
            cached is None
            or now - cached[0] > _KEYS_LIFETIME
            or (_pick(cached[1], kid) is None and now - cached[0] > _REFETCH_AFTER)
        ):
            cached = (now, await asyncio.to_thread(_fetch_keys, issuer, self._files))
            if len(self._sets) > 256:  # bounded: issuers come from API definitions
                self._sets.clear()
            self._sets[issuer] = cached
        found = _pick(cached[1], kid)
        if found is None:
            raise InvalidToken(f"no key {kid!r} in the issuer's JWKS")
        return found


def _pick(keys: dict[str, dict[str, Any]], kid: str | None) -> dict[str, Any] | None:
    if kid is not None:
        return keys.get(kid)
    return next(iter(keys.values())) if len(keys) == 1 else None


def _read(url: str, files: Path | None) -> bytes:
    if url.startswith("file://"):
        path = Path(unquote(urlsplit(url).path)).resolve()
        if files is None or not path.is_relative_to(files.resolve()):
            raise OSError(f"file:// key sets are read only under {files or 'no directory'}")
        with open(path, "rb") as handle:
            return handle.read(_MAX_JWKS_BYTES)
    with urllib.request.urlopen(url, timeout=_FETCH_TIMEOUT) as response:
        data: bytes = response.read(_MAX_JWKS_BYTES)
        return data


def _fetch_keys(issuer: str, files: Path | None) -> dict[str, dict[str, Any]]:
    """The issuer's RSA signing keys by key id (see the module docstring for where from)."""
    try:
        if issuer.startswith("file://"):
            document = json.loads(_read(issuer, files))
        else:
            base = issuer.rstrip("/")
            try:
                discovery = json.loads(_read(f"{base}/.well-known/openid-configuration", files))
                jwks_uri = str(discovery["jwks_uri"])
            except (OSError, ValueError, KeyError, TypeError):
                jwks_uri = f"{base}/.well-known/jwks.json"
            document = json.loads(_read(jwks_uri, files))
    except (OSError, ValueError) as exc:
        raise InvalidToken(f"the JWKS of {issuer} could not be read: {exc}") from exc
    keys: dict[str, dict[str, Any]] = {}
    for index, jwk in enumerate(document.get("keys", []) if isinstance(document, dict) else []):
        if isinstance(jwk, dict) and jwk.get("kty") == "RSA" and jwk.get("use", "sig") == "sig":
            keys[str(jwk.get("kid", index))] = jwk
    return keys


async def verify(
    token: str,
    *,
    issuer: str,
    audiences: list[str],
    keys: JwksCache,
    now: float,
) -> dict[str, Any]:
    """The claims of `token` if API Gateway would accept it; raises InvalidToken."""
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidToken("not a JWT")
    header, claims = _json(parts[0]), _json(parts[1])
    algorithm = header.get("alg")
    if algorithm not in _HASHES:
        raise InvalidToken(f"unsupported algorithm {algorithm!r}")
    jwk = await keys.key(issuer, header.get("kid"))
    try:
        _rsa_key(jwk).verify(
            _b64(parts[2]),
            f"{parts[0]}.{parts[1]}".encode(),
            padding.PKCS1v15(),
            _HASHES[str(algorithm)](),
        )
    except (InvalidSignature, ValueError) as exc:
        raise InvalidToken("bad signature") from exc
    if claims.get("iss") != issuer:
        raise InvalidToken(f"issuer {claims.get('iss')!r} is not {issuer!r}")
    audience = claims.get("aud")
    offered = [*(audience if isinstance(audience, list) else [audience]), claims.get("client_id")]
    if not any(a in audiences for a in offered if isinstance(a, str)):
        raise InvalidToken(f"audience {audience!r} is not among {audiences}")
    for claim, late in (("exp", True), ("nbf", False), ("iat", False)):
        value = claims.get(claim)
        if value is None:
            if claim == "exp":
                raise InvalidToken("no exp claim")
            continue
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise InvalidToken(f"{claim} is not a number")
        if late and now >= value + _LEEWAY:
            raise InvalidToken("expired")
        if not late and value > now + _LEEWAY:
            raise InvalidToken(f"{claim} is in the future")
    return claims


def scopes_of(claims: dict[str, Any]) -> list[str]:
    """The token's scopes: `scope` (space-separated) or `scp` (a list or a string)."""
    value = claims.get("scope", claims.get("scp"))
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list):
        return [str(v) for v in value]
    return []
