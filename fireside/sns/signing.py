"""Signatures on the messages SNS sends to HTTP/S endpoints, and the certificate to check them.

An endpoint checks that a message came from SNS the way AWS documents ("Verifying the
signatures of Amazon SNS messages"): it fetches the certificate at `SigningCertURL`, rebuilds
the string to sign from the message's own fields, and checks `Signature` with the
certificate's public key (SHA1withRSA for `SignatureVersion` 1, SHA256withRSA for 2).
Libraries that do this for AWS run unmodified against Fireside once they are told to accept
Fireside's certificate URL (they check it looks like `https://sns.<region>.amazonaws.com/`).

The key is an RSA key made once per data directory and kept with its self-signed
certificate (`sns-signing-key.pem`, mode 0600; `sns-signing-cert.pem`), so messages signed
before a restart still verify after it. The certificate is served without authentication
at `<endpoint>/_fireside/sns/SimpleNotificationService-<fingerprint>.pem`, a path under
Fireside's own prefix (no AWS API uses it), named like AWS's.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

__all__ = ["CERT_PREFIX", "BoundSigner", "Signer", "string_to_sign"]

#: Where the certificate is served: this, then `SimpleNotificationService-<fp>.pem`.
CERT_PREFIX = "/_fireside/sns/"
_KEY_FILE = "sns-signing-key.pem"
_CERT_FILE = "sns-signing-cert.pem"
_KEY_BITS = 2048
_VALID_DAYS = 3650

#: The fields signed, in order, as AWS lists them per message type.
_NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_CONFIRMATION_KEYS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {"1": hashes.SHA1, "2": hashes.SHA256}


def string_to_sign(document: Mapping[str, str]) -> bytes:
    """AWS's string to sign: each signed field present, as `name\\nvalue\\n`, in AWS's order
    (`Subject` only when the notification has one)."""
    kind = document.get("Type")
    keys = _NOTIFICATION_KEYS if kind == "Notification" else _CONFIRMATION_KEYS
    parts = []
    for key in keys:
        value = document.get(key)
        if value is None:
            continue
        parts.append(f"{key}\n{value}\n")
    return "".join(parts).encode()


class Signer:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        self._key, self._certificate = _load_or_create(directory)
        self._pem = self._certificate.public_bytes(serialization.Encoding.PEM)
        der = self._certificate.public_bytes(serialization.Encoding.DER)
        #: 32 hex digits, like the name of AWS's certificates; changes only with the key.
        self.fingerprint = hashlib.sha256(der).hexdigest()[:32]

    @property
    def cert_path(self) -> str:
        """The path the certificate is served at (under Fireside's own prefix)."""
        return f"{CERT_PREFIX}SimpleNotificationService-{self.fingerprint}.pem"

    def certificate_pem(self) -> bytes:
        return self._pem

    def sign(
        self, document: Mapping[str, str], version: str, endpoint_url: str, region: str
    ) -> dict[str, str]:
        """`document` with `SignatureVersion`, `Signature` (base64) and `SigningCertURL`
        added; `version` "1" signs with SHA1withRSA, "2" with SHA256withRSA. One
        certificate serves every region, so `region` does not change the URL."""
        algorithm = _HASHES.get(version)
        if algorithm is None:
            raise ValueError(f"unknown SignatureVersion {version!r}")
        signature = self._key.sign(string_to_sign(document), padding.PKCS1v15(), algorithm())
        signed = dict(document)
        signed["SignatureVersion"] = version
        signed["Signature"] = base64.b64encode(signature).decode()
        signed["SigningCertURL"] = endpoint_url.rstrip("/") + self.cert_path
        return signed

    def bound(self, endpoint_url: str) -> BoundSigner:
        """This signer with Fireside's endpoint fixed: what the SNS provider signs with."""
        return BoundSigner(self, endpoint_url)


class BoundSigner:
    """`sign(document, version)`: the signed document, its certificate on `endpoint_url`."""

    def __init__(self, signer: Signer, endpoint_url: str) -> None:
        self._signer = signer
        self.endpoint_url = endpoint_url

    def sign(self, document: Mapping[str, str], version: str) -> dict[str, str]:
        topic = document.get("TopicArn", "").split(":")
        region = topic[3] if len(topic) >= 6 else ""
        return self._signer.sign(document, version, self.endpoint_url, region)


def _load_or_create(directory: Path) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key_path, cert_path = directory / _KEY_FILE, directory / _CERT_FILE
    with contextlib.suppress(FileNotFoundError):
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
        public = certificate.public_key()
        if (
            isinstance(key, rsa.RSAPrivateKey)
            and isinstance(public, rsa.RSAPublicKey)
            and public.public_numbers() == key.public_key().public_numbers()
        ):
            return key, certificate
    key = rsa.generate_private_key(public_exponent=65537, key_size=_KEY_BITS)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=_VALID_DAYS))
        .sign(key, hashes.SHA256())
    )
    # The key first: a certificate on disk always has its key beside it.
    _write(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    _write(cert_path, certificate.public_bytes(serialization.Encoding.PEM))
    return key, certificate


def _write(path: Path, data: bytes) -> None:
    """Write `data` durably, readable by the owner only from the first byte."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)
