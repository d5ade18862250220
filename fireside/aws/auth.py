"""AWS Signature Version 4 verification of incoming requests.

`Authenticator.authenticate(request)` finds the request's SigV4 signature (the `Authorization`
header, or a presigned URL's `X-Amz-*` query parameters), checks it against the configured
secrets and returns the `Caller`: access key, account, and the region and service named by the
credential scope. Failures are `ServiceError`s with AWS's codes and wording.

Two modes:

* no credentials configured (a development server): nothing is verified. Unsigned requests pass
  as the default account; a well-formed signature passes unchecked and still names the caller;
* credentials configured: every request must carry a valid signature by one of them, made
  within 5 minutes of the server clock (or within `X-Amz-Expires` of a presigned URL's date).

Besides the configured keys, temporary ones are accepted: those given to execution
environments (until the environment stops) and STS sessions (until they expire). Each carries
its account and the `Identity` GetCallerIdentity reports.

The canonical request is rebuilt exactly as botocore's `SigV4Auth` builds it: for services
other than S3 the path is normalized and percent-encoded a second time (S3 signs it as sent),
the query is decoded and re-encoded,
and the payload hash is `x-amz-content-sha256` when sent, else the body's SHA-256. Session tokens
(`X-Amz-Security-Token`) are signed like any header or parameter but not validated. A
`STREAMING-AWS4-HMAC-SHA256-PAYLOAD` body's chunk signatures are checked too (`aws/chunked.py`).

This runs on every request (including the Lambda Invoke hot path), so the HMAC chain's result,
the signing key, is cached per (secret, date, region, service) and canonical paths are memoized.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from hashlib import sha256
from urllib.parse import quote, unquote_to_bytes

from fireside.aws.chunked import SIGNED_STREAMING, ChunkSigner, verify_chunk_signatures
from fireside.aws.errors import ServiceError
from fireside.http.types import Request

log = logging.getLogger(__name__)

ALGORITHM = "AWS4-HMAC-SHA256"
DEFAULT_ACCOUNT = "000000000000"
#: How far a header-signed request's date may be from the server clock, either way.
MAX_SKEW_SECONDS = 300
#: AWS's limit on a presigned URL's lifetime: one week.
MAX_PRESIGN_EXPIRES = 604800
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
#: How many temporary keys may be held before expired ones are swept out.
_SWEEP_THRESHOLD = 1024

_EMPTY_SHA256 = sha256(b"").hexdigest()
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_TERMINATOR = "aws4_request"
_AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
# Characters SigV4 leaves unescaped in query keys and values (RFC 3986 unreserved).
_QUERY_SAFE = "-_.~"
# Bound on cached signing keys; derived keys change daily, so clearing when full is enough.
_SIGNING_KEY_CACHE_SIZE = 1024
_PRESIGN_REQUIRED = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Signature",
    "X-Amz-Date",
    "X-Amz-SignedHeaders",
)
# Any of these in the query string means the request is trying presigned-URL auth.
_PRESIGN_MARKERS = frozenset({b"X-Amz-Algorithm", b"X-Amz-Credential", b"X-Amz-Signature"})
_PRESIGN_PARAMS = frozenset(name.encode() for name in (*_PRESIGN_REQUIRED, "X-Amz-Expires"))

_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


class SignatureError(ServiceError):
    """A refused request signature. Coral services word these alike (the code and message
    here); S3 has its own codes and words for each, so `reason` says which failure it was:
    `missing`, `expired-token`, `unknown-key`, `skewed`, `presign-expired`, `mismatch` or
    `malformed`, and `access_key_id` whose."""

    def __init__(
        self, code: str, message: str, status: int, reason: str, access_key_id: str = ""
    ) -> None:
        super().__init__(code, message, status)
        self.reason = reason
        self.access_key_id = access_key_id


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request, according to its signature."""

    #: The signing access key id; "" for an unsigned request.
    access_key_id: str
    #: 12 digits: see `account_for_access_key`.
    account_id: str
    #: The credential scope's region, or the default region when unsigned.
    region: str
    #: The credential scope's signing name (e.g. "lambda"); None when unsigned.
    service: str | None
    #: True when the request carried a SigV4 signature (verified if credentials are configured).
    signed: bool


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a key acts as, the way STS GetCallerIdentity reports it."""

    account_id: str
    #: `arn:aws:iam::<account>:root`, or `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
    arn: str
    #: The account id for the root; `<role id>:<session name>` for an assumed role.
    user_id: str


def root_identity(account_id: str) -> Identity:
    """A configured (long-term) key: without IAM users, each acts as its account's root."""
    return Identity(account_id, f"arn:aws:iam::{account_id}:root", account_id)


@dataclass(frozen=True, slots=True)
class _Temporary:
    secret: str
    account_id: str
    #: None: the key acts as its account's root.
    identity: Identity | None
    #: Epoch seconds after which the key is refused; None: until revoked.
    expires: float | None


def account_for_access_key(access_key_id: str) -> str:
    """The account an access key belongs to: a 12-digit key *is* that account id.

    Without IAM, this is how a client picks its account (as other AWS emulators do): use the
    account id as the access key id. Any other key is the default account.
    """
    if len(access_key_id) == 12 and access_key_id.isascii() and access_key_id.isdigit():
        return access_key_id
    return DEFAULT_ACCOUNT


@dataclass(frozen=True, slots=True)
class _Signature:
    """The SigV4 parts of a request, parsed and well-formed but not yet verified."""

    access_key_id: str
    scope_date: str
    region: str
    service: str
    signed_headers: str
    signature: str
    #: The request date as used in the string to sign (YYYYMMDDTHHMMSSZ), and as epoch seconds.
    amz_date: str
    signed_at: float
    presigned: bool
    #: A presigned URL's X-Amz-Expires in seconds; None for header auth (or when absent).
    expires: int | None


class Authenticator:
    """Verifies SigV4 signatures against a fixed set of access keys (see the module docstring)."""

    def __init__(
        self,
        credentials: Mapping[str, str],
        *,
        default_region: str = "us-east-1",
        clock: Callable[[], float] = time.time,
    ) -> None:
        #: Access key id -> secret access key. Empty means "accept everything".
        self._credentials = dict(credentials)
        #: Temporary keys: those handed to execution environments, and STS sessions.
        self._temporary: dict[str, _Temporary] = {}
        self._sweep_at = _SWEEP_THRESHOLD
        self._default_region = default_region
        self._clock = clock
        self._signing_keys: dict[tuple[str, str, str, str], bytes] = {}

    def add_temporary(
        self,
        access_key_id: str,
        secret: str,
        account_id: str,
        *,
        identity: Identity | None = None,
        expires: float | None = None,
    ) -> None:
        """Accept a temporary key of one account, until `expires` (epoch seconds) if given.

        `identity`: who the key acts as (an assumed role...); by default its account's root.
        """
        if len(self._temporary) >= self._sweep_at:
            # Expired sessions are forgotten in bulk, so lookups stay one dict access.
            now = self._clock()
            self._temporary = {
                key: t for key, t in self._temporary.items() if t.expires is None or t.expires > now
            }
            self._sweep_at = max(_SWEEP_THRESHOLD, 2 * len(self._temporary))
        self._temporary[access_key_id] = _Temporary(secret, account_id, identity, expires)

    def revoke(self, access_key_id: str) -> None:
        self._temporary.pop(access_key_id, None)

    def identity(self, access_key_id: str, account_id: str) -> Identity:
        """Who a request signed by `access_key_id` (of `account_id`) acts as."""
        temporary = self._temporary.get(access_key_id)
        if temporary is not None and temporary.identity is not None:
            return temporary.identity
        return root_identity(account_id)

    def is_temporary(self, access_key_id: str) -> bool:
        return access_key_id in self._temporary

    def authenticate(self, request: Request) -> Caller:
        """Who sent `request`; raises `ServiceError` (403) if it may not be served."""
        headers = request.headers
        authorization = headers.get("authorization", "").strip()
        query = _parse_query(request.query) if request.query else []
        presign_params = _presign_params(query)
        if authorization and presign_params is not None:
            raise _incomplete(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or "
                "the Authorization header should be specified."
            )
        if authorization:
            signature = _parse_authorization(authorization, headers)
        elif presign_params is not None:
            signature = _parse_presigned(presign_params)
        elif self._credentials:
            raise SignatureError(
                "MissingAuthenticationTokenException",
                "Missing Authentication Token",
                403,
                "missing",
            )
        else:
            return Caller("", DEFAULT_ACCOUNT, self._default_region, None, False)

        temporary = self._temporary.get(signature.access_key_id)
        expires = temporary.expires if temporary is not None else None
        if expires is not None and expires <= self._clock():
            if self._credentials:
                raise SignatureError(
                    "ExpiredTokenException",
                    "The security token included in the request is expired",
                    400,
                    "expired-token",
                    signature.access_key_id,
                )
            temporary = None
        caller = Caller(
            signature.access_key_id,
            temporary.account_id
            if temporary is not None
            else account_for_access_key(signature.access_key_id),
            signature.region,
            signature.service,
            True,
        )
        if not self._credentials:
            return caller
        secret = (
            temporary.secret
            if temporary is not None
            else self._credentials.get(signature.access_key_id)
        )
        if secret is None:
            raise SignatureError(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
                403,
                "unknown-key",
                signature.access_key_id,
            )
        # Cheap checks first: a stale or malformed request costs no hashing.
        _check_form(signature)
        self._check_time(signature)
        self._check_signature(request, query, signature, secret)
        declared = headers.get("x-amz-content-sha256", "")
        if declared in SIGNED_STREAMING:
            # The request's signature covers its head only; each chunk signs its own bytes.
            key = self._signing_key(
                secret, signature.scope_date, signature.region, signature.service
            )
            scope = f"{signature.scope_date}/{signature.region}/{signature.service}/{_TERMINATOR}"
            signer = ChunkSigner(key, signature.amz_date, scope, signature.signature)
            verify_chunk_signatures(request.body, signer, trailer=declared.endswith("-TRAILER"))
        return caller

    def _check_time(self, signature: _Signature) -> None:
        now = self._clock()
        signed_at = signature.signed_at
        if signed_at > now + MAX_SKEW_SECONDS:
            raise _invalid(
                f"Signature not yet current: {signature.amz_date} is still later than "
                f"{_format(now + MAX_SKEW_SECONDS)} ({_format(now)} + 5 min.)",
                "skewed",
            )
        if signature.expires is None:
            if signed_at < now - MAX_SKEW_SECONDS:
                raise _invalid(
                    f"Signature expired: {signature.amz_date} is now earlier than "
                    f"{_format(now - MAX_SKEW_SECONDS)} ({_format(now)} - 5 min.)",
                    "skewed",
                )
        elif now > signed_at + signature.expires:
            raise _invalid(
                f"Signature expired: the presigned URL signed at {signature.amz_date} was valid "
                f"for {signature.expires} seconds (X-Amz-Expires), until "
                f"{_format(signed_at + signature.expires)}; it is now {_format(now)}.",
                "presign-expired",
            )

    def _check_signature(
        self,
        request: Request,
        query: list[tuple[bytes, bytes]],
        signature: _Signature,
        secret: str,
    ) -> None:
        key = self._signing_key(secret, signature.scope_date, signature.region, signature.service)
        head = _canonical_head(request, query, signature)
        provided = signature.signature.encode("utf-8", "replace")
        payload_hash = _payload_hash(request)
        if hmac.compare_digest(_sign(key, signature, head, payload_hash), provided):
            return
        # botocore's presigner (non-S3) signs the body's hash, S3-style presigners sign
        # UNSIGNED-PAYLOAD; accept either, paying for the second HMAC only on a miss.
        if signature.presigned and payload_hash != UNSIGNED_PAYLOAD:
            expected = _sign(key, signature, head, UNSIGNED_PAYLOAD)
            if hmac.compare_digest(expected, provided):
                return
        # The client is never told the canonical request; the server log is where a developer
        # debugging a home-grown signer can compare it with theirs.
        log.debug(
            "SigV4 mismatch for %s; canonical request we computed:\n%s\n%s",
            signature.access_key_id,
            head,
            payload_hash,
        )
        raise _invalid(_SIGNATURE_MISMATCH, "mismatch", signature.access_key_id)

    def _signing_key(self, secret: str, date: str, region: str, service: str) -> bytes:
        cache_key = (secret, date, region, service)
        key = self._signing_keys.get(cache_key)
        if key is None:
            key = hmac.digest(f"AWS4{secret}".encode(), date.encode(), "sha256")
            for part in (region, service, _TERMINATOR):
                key = hmac.digest(key, part.encode(), "sha256")
            if len(self._signing_keys) >= _SIGNING_KEY_CACHE_SIZE:
                self._signing_keys.clear()
            self._signing_keys[cache_key] = key
        return key


# -- parsing ----------------------------------------------------------------------------------


def _parse_authorization(value: str, headers: Mapping[str, str]) -> _Signature:
    """Parse `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`."""
    algorithm, _, rest = value.partition(" ")
    params: dict[str, str] = {}
    for item in rest.split(","):
        item = item.strip()
        if not item:
            continue
        name, equals, param = item.partition("=")
        if not equals:
            if algorithm == ALGORITHM:
                raise _incomplete(
                    f"'{item}' not a valid key=value pair (missing equal-sign) in "
                    f"Authorization header: '{value}'."
                )
            continue  # e.g. a bearer token: reported below as missing parameters
        params[name.strip()] = param.strip()

    problems = []
    if algorithm != ALGORITHM:
        problems.append(
            f"Authorization header requires the '{ALGORITHM}' algorithm, not '{algorithm}'."
        )
    for required in ("Credential", "Signature", "SignedHeaders"):
        if not params.get(required):
            problems.append(f"Authorization header requires '{required}' parameter.")
    # botocore signs with X-Amz-Date, or only with Date when the caller set a Date header.
    raw_date = headers.get("x-amz-date") or headers.get("date")
    if not raw_date:
        problems.append(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    if problems:
        raise _incomplete(" ".join(problems) + f" Authorization={value}")
    assert raw_date is not None  # for mypy: a missing date was reported above

    access_key_id, scope_date, region, service = _parse_credential(params["Credential"])
    amz_date, signed_at = _parse_request_date(raw_date)
    return _Signature(
        access_key_id,
        scope_date,
        region,
        service,
        params["SignedHeaders"],
        params["Signature"],
        amz_date,
        signed_at,
        presigned=False,
        expires=None,
    )


def _parse_presigned(params: Mapping[str, str]) -> _Signature:
    """Parse a presigned URL's `X-Amz-*` query parameters (already percent-decoded)."""
    missing = [name for name in _PRESIGN_REQUIRED if not params.get(name)]
    if missing:
        raise _incomplete(
            " ".join(f"AWS query-string parameters must include '{name}'." for name in missing)
            + " Re-examine the query-string parameters."
        )
    algorithm = params["X-Amz-Algorithm"]
    if algorithm != ALGORITHM:
        raise _incomplete(f"X-Amz-Algorithm only supports '{ALGORITHM}', not '{algorithm}'.")
    access_key_id, scope_date, region, service = _parse_credential(params["X-Amz-Credential"])
    amz_date = params["X-Amz-Date"]
    signed_at = _parse_amz_date(amz_date)
    if signed_at is None:
        raise _bad_date(amz_date)
    expires: int | None = None
    raw_expires = params.get("X-Amz-Expires")
    if raw_expires is not None:
        if not (raw_expires.isascii() and raw_expires.isdigit()):
            raise _incomplete(
                f"X-Amz-Expires must be a non-negative whole number of seconds, "
                f"not '{raw_expires}'."
            )
        expires = int(raw_expires)
        if expires > MAX_PRESIGN_EXPIRES:
            raise _incomplete(
                "X-Amz-Expires must be less than a week (in seconds) that is "
                f"{MAX_PRESIGN_EXPIRES}, not {expires}."
            )
    return _Signature(
        access_key_id,
        scope_date,
        region,
        service,
        params["X-Amz-SignedHeaders"],
        params["X-Amz-Signature"],
        amz_date,
        signed_at,
        presigned=True,
        expires=expires,
    )


def _parse_credential(credential: str) -> tuple[str, str, str, str]:
    """`AKID/YYYYMMDD/region/service/aws4_request` -> (access key id, date, region, service)."""
    parts = credential.split("/")
    if len(parts) != 5:
        raise _incomplete(
            "Credential must have exactly 5 slash-delimited elements, "
            f"e.g. keyid/date/region/service/term, got '{credential}'"
        )
    access_key_id, date, region, service, terminator = parts
    if terminator != _TERMINATOR:
        raise _incomplete(
            f"Credential should be scoped with a valid terminator: '{_TERMINATOR}', "
            f"not '{terminator}'."
        )
    if not (len(date) == 8 and date.isascii() and date.isdigit()):
        raise _incomplete(
            f"Credential should be scoped to a date in YYYYMMDD format, not '{date}'."
        )
    if not region:
        raise _incomplete("Credential should be scoped to a valid region, not ''.")
    if not service:
        raise _incomplete("Credential should be scoped to a valid service, not ''.")
    return access_key_id, date, region, service


def _parse_request_date(raw: str) -> tuple[str, float]:
    """The signing date from X-Amz-Date (or Date): (YYYYMMDDTHHMMSSZ, epoch seconds)."""
    signed_at = _parse_amz_date(raw)
    if signed_at is not None:
        return raw, signed_at
    # A Date header is an HTTP date; botocore still signs the ISO 8601 basic form of it.
    try:
        moment = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        raise _bad_date(raw) from None
    if moment.tzinfo is None:  # "-0000": UTC, with no claim about the local zone
        moment = moment.replace(tzinfo=UTC)
    signed_at = moment.timestamp()
    return _format(signed_at), signed_at


def _parse_amz_date(value: str) -> float | None:
    """Epoch seconds of a `YYYYMMDDTHHMMSSZ` date, or None if it is not one."""
    # Slicing and datetime() are several times faster than strptime on this hot path.
    if len(value) != 16 or value[8] != "T" or value[15] != "Z":
        return None
    digits = value[:8] + value[9:15]
    if not (digits.isascii() and digits.isdigit()):
        return None
    try:
        moment = datetime(
            int(value[0:4]),
            int(value[4:6]),
            int(value[6:8]),
            int(value[9:11]),
            int(value[11:13]),
            int(value[13:15]),
            tzinfo=UTC,
        )
    except ValueError:
        return None
    return moment.timestamp()


def _parse_query(query: str) -> list[tuple[bytes, bytes]]:
    """Decode a raw query string into (key, value) byte pairs, in order, repeats kept."""
    pairs = []
    for part in _wire_bytes(query).split(b"&"):
        if not part:
            continue
        key, _, value = part.partition(b"=")
        # "+" is a space: botocore's AWSRequest(params=...) sends spaces that way (urlencode)
        # while signing them as %20; a literal "+" arrives as %2B.
        pairs.append(
            (
                unquote_to_bytes(key.replace(b"+", b" ")),
                unquote_to_bytes(value.replace(b"+", b" ")),
            )
        )
    return pairs


def _presign_params(query: list[tuple[bytes, bytes]]) -> dict[str, str] | None:
    """The presigned-URL auth parameters in the query, or None if it has none."""
    if not any(key in _PRESIGN_MARKERS for key, _ in query):
        return None
    return {
        key.decode(): value.decode("utf-8", "replace")
        for key, value in query
        if key in _PRESIGN_PARAMS
    }


# -- the canonical request ----------------------------------------------------------------------


def _sign(key: bytes, signature: _Signature, head: str, payload_hash: str) -> bytes:
    """The hex signature (as bytes) of a canonical request: `head` plus its payload hash."""
    canonical = f"{head}\n{payload_hash}".encode()
    string_to_sign = (
        f"{ALGORITHM}\n{signature.amz_date}\n"
        f"{signature.scope_date}/{signature.region}/{signature.service}/{_TERMINATOR}\n"
        f"{sha256(canonical).hexdigest()}"
    )
    return hmac.digest(key, string_to_sign.encode(), "sha256").hex().encode()


def _canonical_head(
    request: Request, query: list[tuple[bytes, bytes]], signature: _Signature
) -> str:
    """The canonical request up to (not including) the payload hash line."""
    headers = request.headers
    lines = []
    for name in signature.signed_headers.split(";"):
        # A signed header that did not arrive canonicalizes as empty, so the signature fails.
        value = headers.get(name.lower(), "")
        lines.append(f"{name}:{' '.join(value.split())}\n")
    return "\n".join(
        (
            request.method.upper(),
            _s3_canonical_uri(request.path)
            if signature.service == "s3"
            else _canonical_uri(request.path),
            _canonical_query(query, signature.presigned),
            "".join(lines),
            signature.signed_headers,
        )
    )


@lru_cache(maxsize=4096)
def _canonical_uri(path: str) -> str:
    """The path as botocore signs it for non-S3 services: normalized, then quoted again.

    The path arrives still percent-encoded; botocore quotes that encoded form once more, so
    `%3A` becomes `%253A`. Memoized: the same few paths (e.g. one function's invocations URL)
    arrive over and over.
    """
    return quote(_wire_bytes(_normalize_path(path)), safe="/~")


def _s3_canonical_uri(path: str) -> str:
    """S3 signs the path exactly as sent: no dot-segment removal, no second encoding."""
    return path or "/"


def _normalize_path(path: str) -> str:
    """RFC 3986 dot-segment removal plus collapsing of `//`, as botocore does before signing."""
    if not path:
        return "/"
    segments: list[str] = []
    for segment in path.split("/"):
        if not segment or segment == ".":
            continue
        if segment == "..":
            if segments:
                segments.pop()
        else:
            segments.append(segment)
    head = "/" if path.startswith("/") else ""
    tail = "/" if path.endswith("/") and segments else ""
    return head + "/".join(segments) + tail


def _canonical_query(query: list[tuple[bytes, bytes]], presigned: bool) -> str:
    """Keys and values re-encoded the SigV4 way, sorted by key then value."""
    if not query:
        return ""
    encoded = sorted(
        (quote(key, safe=_QUERY_SAFE), quote(value, safe=_QUERY_SAFE))
        for key, value in query
        # A presigned URL's signature cannot sign itself.
        if not (presigned and key == b"X-Amz-Signature")
    )
    return "&".join(f"{key}={value}" for key, value in encoded)


def _payload_hash(request: Request) -> str:
    """`x-amz-content-sha256` when sent (checked against the body if it is a hash), else
    the body's SHA-256."""
    declared = request.headers.get("x-amz-content-sha256")
    if declared is not None:
        # A declared hash is what gets signed, so the body must be held to it; special values
        # (UNSIGNED-PAYLOAD, STREAMING-...) deliberately leave the body unsigned.
        if _SHA256_HEX.fullmatch(declared) and sha256(request.body).hexdigest() != declared.lower():
            raise ServiceError(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
                400,
            )
        return declared
    if not request.body:
        return _EMPTY_SHA256
    return sha256(request.body).hexdigest()


# -- helpers ------------------------------------------------------------------------------------


def _wire_bytes(text: str) -> bytes:
    """The bytes a raw path or query arrived as.

    The HTTP server decodes the request line as latin-1, so encoding back to latin-1 restores
    the exact bytes (unescaped UTF-8 included); text built in code may hold wider characters,
    which a client would have sent as UTF-8.
    """
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8")


def _check_form(signature: _Signature) -> None:
    """What AWS demands of a signature beyond its syntax: a signed Host, a consistent date."""
    if "host" not in signature.signed_headers.lower().split(";"):
        # Unsigned, the Host could be swapped to replay a request against another endpoint.
        raise _incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    if signature.scope_date != signature.amz_date[:8]:
        raise _invalid(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{signature.scope_date}' != '{signature.amz_date[:8]}', "
            f"from '{signature.amz_date}'."
        )


def _format(epoch: float) -> str:
    return time.strftime(_AMZ_DATE_FORMAT, time.gmtime(epoch))


def _bad_date(raw: str) -> ServiceError:
    return _incomplete(
        f"Date must be in ISO-8601 'basic format'. Got '{raw}'. "
        "See http://en.wikipedia.org/wiki/ISO_8601"
    )


def _incomplete(message: str) -> ServiceError:
    return SignatureError("IncompleteSignatureException", message, 403, "malformed")


def _invalid(message: str, reason: str = "malformed", access_key_id: str = "") -> ServiceError:
    return SignatureError("InvalidSignatureException", message, 403, reason, access_key_id)
