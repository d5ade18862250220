"""`aws-chunked` request bodies, their chunk signatures, and flexible checksums (S3 uploads).

SDKs send S3 uploads as `Content-Encoding: aws-chunked`: the payload split into chunks of
`<hex size>[;chunk-signature=<hex>]\\r\\n<bytes>\\r\\n`, a zero-size chunk, then trailing
headers (`x-amz-checksum-crc32: ...`, announced by `x-amz-trailer`) and a blank line;
`x-amz-decoded-content-length` is the payload's real size.

- `decode_aws_chunked` undoes the framing. Every size is 1-16 hex digits and no larger than
  what is left of the body, so each step moves forward and a malformed body is a 400
  `IncompleteBody`, never a loop.
- `verify_chunk_signatures` checks the signature chain of `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`
  (and its `-TRAILER` form, whose trailing headers carry their own signature): each chunk's
  signature covers the previous one, starting from the request's own (seed) signature. The
  authenticator calls it when credentials are configured, with the request's signing key.
- `check_checksums` verifies the checksum values a client sent (headers or trailers): CRC32,
  CRC32C, SHA-1 and SHA-256. CRC64NVME values are accepted unverified (no implementation here).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fireside.aws.crc32c import crc32c
from fireside.aws.errors import ServiceError

__all__ = [
    "ChunkSigner",
    "check_checksums",
    "decode_aws_chunked",
    "is_aws_chunked",
    "verify_chunk_signatures",
]

_MAX_SIZE_LINE = 4096
# A chunk size: hex digits only (int(x, 16) alone would take "-5", "+5", " 5" and "0x5").
_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")
_CHUNK_SIGNATURE = re.compile(rb"chunk-signature=([0-9a-fA-F]{64})")
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
# S3's words (aws-chunked bodies are S3's), not Coral's "Check your AWS Secret Access Key...".
_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)
#: The `x-amz-content-sha256` values whose chunks are signed.
SIGNED_STREAMING = (
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
)


def is_aws_chunked(headers: Mapping[str, str]) -> bool:
    """Whether a request body uses the aws-chunked framing."""
    encoding = headers.get("content-encoding", "")
    if "aws-chunked" in (part.strip().lower() for part in encoding.split(",")):
        return True
    return headers.get("x-amz-content-sha256", "").startswith("STREAMING-")


def _malformed(detail: str) -> ServiceError:
    return ServiceError(
        "IncompleteBody",
        f"The request body is not valid aws-chunked content: {detail}",
        400,
    )


@dataclass(frozen=True, slots=True)
class _Framing:
    #: (start, end, signature) of each chunk, the final empty one included.
    chunks: list[tuple[int, int, bytes | None]]
    #: Trailing headers in arrival order, names in lower case (the trailer signature apart).
    trailers: list[tuple[str, str]]
    trailer_signature: str | None


def _frame(body: bytes) -> _Framing:
    chunks: list[tuple[int, int, bytes | None]] = []
    pos = 0
    while True:
        eol = body.find(b"\r\n", pos, pos + _MAX_SIZE_LINE)
        if eol < 0:
            raise _malformed("a chunk size line is missing or too long")
        size_text, _, extension = body[pos:eol].partition(b";")
        size_text = size_text.strip(b" \t")
        if _SIZE.fullmatch(size_text) is None:
            raise _malformed(f"bad chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        start = eol + 2
        if size > len(body) - start - 2:
            raise _malformed("a chunk is longer than the rest of the body")
        match = _CHUNK_SIGNATURE.search(extension)
        chunks.append((start, start + size, match[1] if match else None))
        if size == 0:
            pos = start
            break
        if body[start + size : start + size + 2] != b"\r\n":
            raise _malformed("a chunk does not end where its size says")
        pos = start + size + 2  # always past `pos`: the loop cannot stall
    trailers: list[tuple[str, str]] = []
    signature = None
    for line in body[pos:].split(b"\r\n"):
        if not line.strip():
            continue
        name, colon, value = line.partition(b":")
        if not colon:
            raise _malformed("a trailing header has no ':'")
        key = name.strip().lower().decode("latin-1")
        text = value.strip().decode("latin-1")
        if key == "x-amz-trailer-signature":
            signature = text
        else:
            trailers.append((key, text))
    return _Framing(chunks, trailers, signature)


def decode_aws_chunked(body: bytes, headers: Mapping[str, str]) -> tuple[bytes, dict[str, str]]:
    """The payload and the trailing headers (names in lower case) of an aws-chunked body."""
    framing = _frame(body)
    payload = b"".join(body[start:end] for start, end, _ in framing.chunks)
    declared = headers.get("x-amz-decoded-content-length")
    if declared is not None and declared.strip() != str(len(payload)):
        raise ServiceError(
            "IncompleteBody",
            "You did not provide the number of bytes specified by the "
            "x-amz-decoded-content-length HTTP header",
            400,
        )
    return payload, dict(framing.trailers)


@dataclass(frozen=True, slots=True)
class ChunkSigner:
    """What a request's own signature gives its chunks' signatures."""

    key: bytes
    #: The request date as signed (YYYYMMDDTHHMMSSZ).
    amz_date: str
    #: `date/region/service/aws4_request`.
    scope: str
    #: The request's signature, which the first chunk's signature chains from.
    seed: str

    def sign(self, kind: str, previous: str, digest: str) -> str:
        string_to_sign = f"{kind}\n{self.amz_date}\n{self.scope}\n{previous}\n{digest}"
        return hmac.digest(self.key, string_to_sign.encode(), "sha256").hex()


def verify_chunk_signatures(body: bytes, signer: ChunkSigner, *, trailer: bool) -> None:
    """Raise S3's 403 `SignatureDoesNotMatch` unless every chunk (and with `trailer`, the
    trailing headers) carries the signature its content and the chain call for."""
    framing = _frame(body)
    previous = signer.seed
    for start, end, sent in framing.chunks:
        if sent is None:
            raise _malformed("a chunk has no chunk-signature")
        digest = f"{_EMPTY_SHA256}\n{hashlib.sha256(body[start:end]).hexdigest()}"
        expected = signer.sign("AWS4-HMAC-SHA256-PAYLOAD", previous, digest)
        if not hmac.compare_digest(expected.encode(), sent.lower()):
            raise ServiceError("SignatureDoesNotMatch", _SIGNATURE_MISMATCH, 403)
        previous = expected
    if not trailer:
        return
    if framing.trailer_signature is None:
        raise _malformed("the trailing headers have no x-amz-trailer-signature")
    canonical = "".join(f"{name}:{value}\n" for name, value in sorted(framing.trailers))
    expected = signer.sign(
        "AWS4-HMAC-SHA256-TRAILER", previous, hashlib.sha256(canonical.encode()).hexdigest()
    )
    if not hmac.compare_digest(expected, framing.trailer_signature.lower()):
        raise ServiceError("SignatureDoesNotMatch", _SIGNATURE_MISMATCH, 403)


def _crc32(data: bytes) -> bytes:
    return zlib.crc32(data).to_bytes(4, "big")


def _crc32c(data: bytes) -> bytes:
    return crc32c(data).to_bytes(4, "big")


_ALGORITHMS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "x-amz-checksum-crc32": ("CRC32", _crc32),
    "x-amz-checksum-crc32c": ("CRC32C", _crc32c),
    "x-amz-checksum-sha1": ("SHA1", lambda data: hashlib.sha1(data).digest()),
    "x-amz-checksum-sha256": ("SHA256", lambda data: hashlib.sha256(data).digest()),
}


def check_checksums(payload: bytes, headers: Mapping[str, str]) -> None:
    """Raise S3's `BadDigest` when a checksum header we can compute does not match."""
    for name, (label, compute) in _ALGORITHMS.items():
        sent = headers.get(name)
        if sent is None:
            continue
        if base64.b64encode(compute(payload)).decode("ascii") != sent.strip():
            raise ServiceError(
                "BadDigest",
                f"The {label} you specified did not match the calculated checksum.",
                400,
            )
