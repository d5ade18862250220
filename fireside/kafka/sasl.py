"""SASL on a Kafka listener: the two mechanisms of Amazon MSK's IAM access control.

A client proves who it is with a SigV4-presigned request for the action
`kafka-cluster:Connect` (signing name `kafka-cluster`), in one of two envelopes:

- OAUTHBEARER (RFC 7628), as `aws-msk-iam-sasl-signer-python` and its siblings make it: the
  bearer token is the base64url (unpadded) of a presigned URL
  `https://kafka.<region>.amazonaws.com/?Action=kafka-cluster%3AConnect&X-Amz-...` with a
  `User-Agent` parameter appended after signing (so it is not part of the signature);
- AWS_MSK_IAM, the Java `aws-msk-iam-auth` mechanism: a JSON object of the presigned request's
  query parameters (names in lower case), its `host` header, `version` "2020_10_22" and a
  `user-agent`; the server answers `{"version": ..., "request-id": ...}`.

Both are turned back into the HTTP request that was signed and verified by the one SigV4 path
Fireside has (`fireside.aws.auth.Authenticator.authenticate`: the key's secret, the signature,
the date and `X-Amz-Expires`), so a Kafka principal is exactly an AWS caller: an access key,
its account and its identity. Whether that account may use a listener is the listener's
`SaslGate` (an MSK cluster admits its own account only).
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from fireside.aws.auth import Caller, Identity
from fireside.aws.errors import ServiceError
from fireside.http.types import Request
from fireside.kafka.codec import Api, Arr, F, Struct

__all__ = [
    "MECHANISMS",
    "SASL_AUTHENTICATE",
    "SASL_HANDSHAKE",
    "IamVerifier",
    "Principal",
    "SaslFailure",
    "SaslGate",
]

S = Struct.of

#: SaslHandshake v1 only: v0 (raw tokens after the handshake) is gone from Kafka 4 (KIP-896).
SASL_HANDSHAKE = Api(
    17, "SaslHandshake", 1, 1, 0x7FFF,
    S(F("mechanism", "str")),
    S(F("error_code", "i16"), F("mechanisms", Arr("str"))),
)  # fmt: skip

SASL_AUTHENTICATE = Api(
    36, "SaslAuthenticate", 0, 2, 2,
    S(F("auth_bytes", "bytes")),
    S(
        F("error_code", "i16"),
        F("error_message", "nstr"),
        F("auth_bytes", "bytes"),
        F("session_lifetime_ms", "i64", 1),
    ),
)  # fmt: skip

OAUTHBEARER = "OAUTHBEARER"
AWS_MSK_IAM = "AWS_MSK_IAM"
MECHANISMS = (AWS_MSK_IAM, OAUTHBEARER)
#: The largest SASL message read (a presigned URL with a session token is ~2 KiB).
MAX_AUTH_BYTES = 16 * 1024
_ACTION = "kafka-cluster:Connect"
_SIGNING_NAME = "kafka-cluster"
_IAM_VERSION = "2020_10_22"
#: AWS_MSK_IAM payload keys -> the query parameters they were (the rest are not signed).
_IAM_PARAMS = {
    "action": "Action",
    "x-amz-algorithm": "X-Amz-Algorithm",
    "x-amz-credential": "X-Amz-Credential",
    "x-amz-date": "X-Amz-Date",
    "x-amz-expires": "X-Amz-Expires",
    "x-amz-signedheaders": "X-Amz-SignedHeaders",
    "x-amz-signature": "X-Amz-Signature",
    "x-amz-security-token": "X-Amz-Security-Token",
}


class SaslFailure(Exception):
    """Authentication refused; the message is what the client is told."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a connection authenticated as."""

    access_key_id: str
    account: str
    region: str
    #: The identity's ARN (`arn:aws:iam::<account>:root`, an assumed role's session ARN, ...).
    arn: str


def _failed(request_id: str, why: str) -> SaslFailure:
    # MSK words its refusals "[<request id>]: <reason>" (e.g. "Access denied").
    return SaslFailure(f"[{request_id}]: {why}")


class IamVerifier:
    """Turns either mechanism's message into the signed request and verifies it."""

    def __init__(
        self,
        authenticate: Callable[[Request], Caller],
        identity: Callable[[str, str], Identity],
    ) -> None:
        self._authenticate = authenticate
        self._identity = identity

    def verify(self, mechanism: str, message: bytes) -> tuple[Principal, bytes]:
        """The principal, and the bytes to answer with; raises `SaslFailure`."""
        request_id = str(uuid.uuid4())
        if len(message) > MAX_AUTH_BYTES:
            raise _failed(request_id, "Authentication payload too large")
        if mechanism == OAUTHBEARER:
            request = _oauthbearer_request(message, request_id)
            answer = b""
        else:
            request = _msk_iam_request(message, request_id)
            answer = json.dumps({"version": _IAM_VERSION, "request-id": request_id}).encode()
        params = dict(parse_qsl(request.query, keep_blank_values=True))
        if params.get("Action") != _ACTION:
            raise _failed(request_id, "Invalid action: only kafka-cluster:Connect is accepted")
        if "X-Amz-Signature" not in params:
            raise _failed(request_id, "The authentication payload is not a presigned request")
        try:
            caller = self._authenticate(request)
        except ServiceError as refused:
            raise _failed(request_id, refused.message) from None
        if caller.service != _SIGNING_NAME:
            raise _failed(request_id, f"Credential should be scoped to '{_SIGNING_NAME}'")
        identity = self._identity(caller.access_key_id, caller.account_id)
        principal = Principal(caller.access_key_id, caller.account_id, caller.region, identity.arn)
        return principal, answer


def _oauthbearer_request(message: bytes, request_id: str) -> Request:
    """RFC 7628's client first message: `n,[a=authzid],\\x01auth=Bearer <token>\\x01...\\x01`."""
    try:
        text = message.decode("utf-8")
    except UnicodeDecodeError:
        raise _failed(request_id, "Invalid OAUTHBEARER message") from None
    header, sep, rest = text.partition("\x01")
    if not sep or not header.startswith("n,") or not rest.endswith("\x01\x01"):
        raise _failed(request_id, "Invalid OAUTHBEARER message")
    fields = dict(kv.partition("=")[::2] for kv in rest[:-2].split("\x01") if kv)
    scheme, _, token = fields.get("auth", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _failed(request_id, "Invalid OAUTHBEARER message: no bearer token")
    try:
        url = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise _failed(request_id, "Invalid token: not base64url") from None
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.netloc:
        raise _failed(request_id, "Invalid token: not a presigned URL")
    # The signer appends User-Agent after signing: the signature does not cover it.
    query = "&".join(p for p in parts.query.split("&") if p and p.partition("=")[0] != "User-Agent")
    return Request("GET", parts.path or "/", query, {"host": parts.netloc})


def _msk_iam_request(message: bytes, request_id: str) -> Request:
    try:
        payload: Any = json.loads(message)
    except (UnicodeDecodeError, ValueError):
        raise _failed(request_id, "Invalid AWS_MSK_IAM payload: not JSON") from None
    if not isinstance(payload, dict) or not all(isinstance(v, str) for v in payload.values()):
        raise _failed(request_id, "Invalid AWS_MSK_IAM payload")
    if payload.get("version") != _IAM_VERSION:
        raise _failed(request_id, f"Unsupported version: {payload.get('version')}")
    host = payload.get("host")
    if not host:
        raise _failed(request_id, "Invalid AWS_MSK_IAM payload: no host")
    query = "&".join(
        f"{name}={quote(payload[key], safe='-_.~')}"
        for key, name in _IAM_PARAMS.items()
        if key in payload
    )
    return Request("GET", "/", query, {"host": host})


class SaslGate:
    """A listener's authentication rule: which principals it admits, and whether a
    connection must authenticate before anything but ApiVersions and SaslHandshake."""

    def __init__(
        self,
        verifier: IamVerifier,
        *,
        required: bool,
        account: str | None = None,
        region: str | None = None,
    ) -> None:
        self.verifier = verifier
        self.required = required
        #: Only principals of this account (and credential scopes of this region) are admitted.
        self.account = account
        self.region = region

    def authenticate(self, mechanism: str, message: bytes) -> tuple[Principal, bytes]:
        principal, answer = self.verifier.verify(mechanism, message)
        request_id = str(uuid.uuid4())
        if self.account is not None and principal.account != self.account:
            raise _failed(request_id, "Access denied")
        if self.region is not None and principal.region != self.region:
            raise _failed(
                request_id, f"Credential should be scoped to a valid region: {self.region}"
            )
        return principal, answer
