"""Fireside's certificate authority: TLS for AWS's own hostnames inside execution environments.

Functions reach `https://dynamodb.us-east-1.amazonaws.com` or
`https://<api>.execute-api.<region>.amazonaws.com` by name; inside a sandbox those names resolve
to Fireside (`fireside.dns`), which must then present a certificate the function's runtime
accepts. So each installation has its own certificate authority, made once and kept in the data
directory (`tls/ca-key.pem`, mode 0600: whoever holds it can mint certificates that every
function trusts), and every runtime in a sandbox is told to trust it
(`fireside.compute.aws_names.trust_environment`).

Leaf certificates are minted on demand for the names clients ask for by SNI, kept in memory,
signed with one ECDSA P-256 key made at start-up (milliseconds each; RSA would cost tens). A
wildcard covers one label only, so a name gets a wildcard for its parent
(`*.execute-api.us-east-1.amazonaws.com` serves every API id) and minting is rate-limited. The authority itself is name-constrained to `amazonaws.com`, `amazonaws.com.cn` and
`localhost`: even its key, if it leaked, could not vouch for any other site, and Fireside refuses
to mint for other names.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import logging
import os
import re
import ssl
import tempfile
import threading
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "SERVED_DOMAINS",
    "CertificateAuthority",
    "certificate_name",
    "served_name",
    "system_bundle",
]

log = logging.getLogger(__name__)

#: The names Fireside answers for inside a sandbox, and the only ones its authority may sign.
SERVED_DOMAINS = ("amazonaws.com", "amazonaws.com.cn", "localhost")

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_CA_YEARS = 10
_LEAF_DAYS = 90
#: Leaf certificates kept in memory (one per `certificate_name`); least recently used go first.
_LEAF_CACHE = 4096
#: Minting runs on the event loop (in the TLS handshake's SNI callback) and costs milliseconds:
#: a burst of 32 new names, then 4 a second; a handshake past that is refused, so a function
#: cycling through made-up names cannot stall Fireside.
_MINT_BURST, _MINT_RATE = 32, 4.0
#: Where Debian, Fedora/Amazon Linux, SUSE and Alpine keep the system's trusted roots.
_SYSTEM_BUNDLES = (
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
)


def served_name(name: str) -> str | None:
    """`name` lower-cased without a trailing dot when it is a valid hostname under one of
    `SERVED_DOMAINS`, else None."""
    name = name.rstrip(".").lower()
    if len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        return None
    if any(name == domain or name.endswith("." + domain) for domain in SERVED_DOMAINS):
        return name
    return None


def certificate_name(name: str) -> str:
    """The name a certificate for served `name` is minted for: a wildcard for its parent when
    that is below a served domain (`*.execute-api.us-east-1.amazonaws.com`, one certificate for
    every API id; `*.us-east-1.amazonaws.com` for every regional service), else `name` itself
    (`sts.amazonaws.com`: a wildcard right under a domain is refused by some clients)."""
    parent = name.partition(".")[2]
    if any(parent.endswith("." + domain) for domain in SERVED_DOMAINS):
        return "*." + parent
    return name


class _Busy(Exception):
    """A certificate would be minted faster than `_MINT_RATE` allows."""


class _TokenBucket:
    """At most `capacity` at once, refilled at `rate` per second (monotonic clock)."""

    def __init__(self, capacity: int, rate: float) -> None:
        self._capacity, self._rate = capacity, rate
        self._tokens = float(capacity)
        self._at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


def system_bundle() -> bytes:
    """The host's trusted roots (PEM), so a sandbox that trusts Fireside still trusts the
    public sites its egress may reach."""
    for path in _SYSTEM_BUNDLES:
        with contextlib.suppress(OSError):
            return Path(path).read_bytes()
    import botocore  # ships Mozilla's roots for hosts without a system bundle

    with contextlib.suppress(OSError):
        return (Path(botocore.__file__).parent / "cacert.pem").read_bytes()
    return b""


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` durably, readable by the owner only from the first byte."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


def _write_public(path: Path, data: bytes) -> None:
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o644)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


class CertificateAuthority:
    """The installation's authority (loaded from `directory`, or made there once) and the
    server-side TLS context that mints a leaf certificate per requested name."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        self.directory = directory
        self.cert_path = directory / "ca.pem"
        self.key_path = directory / "ca-key.pem"
        self._key, self.certificate = self._load_or_create()
        self.pem = self.certificate.public_bytes(serialization.Encoding.PEM)
        self._leaf_key = ec.generate_private_key(ec.SECP256R1())
        self._leaf_key_pem = self._leaf_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        self._contexts: collections.OrderedDict[str, tuple[ssl.SSLContext, datetime.datetime]]
        self._contexts = collections.OrderedDict()
        self._lock = threading.Lock()
        #: Leaf certificates minted so far (each name once while it stays cached).
        self.minted = 0
        self._bucket = _TokenBucket(_MINT_BURST, _MINT_RATE)
        self._default = self._context_for("localhost")

    # -- the authority --------------------------------------------------------------------------
    def _load_or_create(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        try:
            key = serialization.load_pem_private_key(self.key_path.read_bytes(), None)
            certificate = x509.load_pem_x509_certificate(self.cert_path.read_bytes())
        except (OSError, ValueError):
            return self._create()
        if not isinstance(key, ec.EllipticCurvePrivateKey) or certificate.public_key() != (
            key.public_key()
        ):
            log.warning(
                "the certificate authority in %s is damaged: making a new one", self.directory
            )
            return self._create()
        if certificate.not_valid_after_utc < _now() + datetime.timedelta(days=_LEAF_DAYS):
            log.warning(
                "the certificate authority in %s expires soon: making a new one", self.directory
            )
            return self._create()
        return key, certificate

    def _create(self) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Fireside"),
                # Unique per installation, so two installations' authorities never look alike.
                x509.NameAttribute(NameOID.COMMON_NAME, f"Fireside local CA {os.urandom(4).hex()}"),
            ]
        )
        now = _now()
        public = key.public_key()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=365 * _CA_YEARS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.NameConstraints(
                    permitted_subtrees=[x509.DNSName(domain) for domain in SERVED_DOMAINS],
                    excluded_subtrees=None,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
            .sign(key, hashes.SHA256())
        )
        _write_private(
            self.key_path,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        _write_public(self.cert_path, certificate.public_bytes(serialization.Encoding.PEM))
        log.info("made this installation's certificate authority in %s", self.directory)
        return key, certificate

    def write_trust(self, directory: Path) -> None:
        """Write what sandboxes trust into `directory` (world-readable: public material):
        `ca.pem` (the authority alone, for NODE_EXTRA_CA_CERTS, which adds to Node's roots)
        and `ca-bundle.pem` (the host's roots plus the authority, for variables such as
        SSL_CERT_FILE that replace the default roots)."""
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o755)
        system = system_bundle()
        if system and not system.endswith(b"\n"):
            system += b"\n"
        for name, data in (("ca.pem", self.pem), ("ca-bundle.pem", system + self.pem)):
            path = directory / name
            with contextlib.suppress(OSError):
                if path.read_bytes() == data:
                    continue
            _write_public(path, data)

    # -- leaf certificates ----------------------------------------------------------------------
    def _leaf(self, name: str) -> tuple[bytes, datetime.datetime]:
        now = _now()
        expires = now + datetime.timedelta(days=_LEAF_DAYS)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.certificate.subject)
            .public_key(self._leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(expires)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()),
                critical=False,
            )
            .sign(self._key, hashes.SHA256())
        )
        return certificate.public_bytes(serialization.Encoding.PEM), expires

    def _context_for(self, name: str, *, throttled: bool = False) -> ssl.SSLContext:
        """The server context holding the certificate for `name` (a `certificate_name`),
        minted on first use; with `throttled`, a mint beyond the rate is refused (`_Busy`)."""
        with self._lock:
            found = self._contexts.get(name)
            if found is not None and found[1] > _now() + datetime.timedelta(days=1):
                self._contexts.move_to_end(name)
                return found[0]
            if throttled and not self._bucket.take():
                raise _Busy(name)
        chain, expires = self._leaf(name)
        context = self._new_context()
        self._load(context, chain)
        with self._lock:
            self.minted += 1
            self._contexts[name] = (context, expires)
            self._contexts.move_to_end(name)
            while len(self._contexts) > _LEAF_CACHE:
                self._contexts.popitem(last=False)
        return context

    def _load(self, context: ssl.SSLContext, chain: bytes) -> None:
        # The ssl module loads certificates from files only: a private file, gone at once.
        fd, path = tempfile.mkstemp(dir=self.directory, prefix=".leaf-")
        try:
            os.write(fd, chain + self._leaf_key_pem)
            os.close(fd)
            context.load_cert_chain(path)
        finally:
            os.unlink(path)

    @staticmethod
    def _new_context() -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.set_alpn_protocols(["http/1.1"])  # Fireside's server speaks HTTP/1.1 only
        return context

    def server_context(self) -> ssl.SSLContext:
        """The context for Fireside's TLS listeners: each handshake gets the certificate of
        the name it asked for (SNI); a name outside `SERVED_DOMAINS` is refused; a client that
        names none gets `localhost`'s."""
        context = self._new_context()
        context.sni_callback = self._choose
        # Never used for a handshake (the callback swaps in a leaf's context first), but a
        # server context must hold a certificate before it accepts connections.
        self._load(context, self._leaf("localhost")[0])
        return context

    def _choose(
        self, connection: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, _: ssl.SSLContext
    ) -> int | None:
        if server_name is None:
            connection.context = self._default
            return None
        name = served_name(server_name)
        if name is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        try:
            connection.context = self._context_for(certificate_name(name), throttled=True)
        except _Busy:
            log.warning("refused a TLS handshake for %s: certificates minted too fast", name)
            return ssl.ALERT_DESCRIPTION_HANDSHAKE_FAILURE
        except Exception:  # a bug here must not kill the event loop: refuse the handshake
            log.exception("could not mint a certificate for %s", name)
            return ssl.ALERT_DESCRIPTION_INTERNAL_ERROR
        return None
