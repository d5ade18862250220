"""`aws-chunked` request bodies and flexible checksums (S3 uploads from current SDKs).

botocore sends S3 uploads as `Content-Encoding: aws-chunked`: the payload split into chunks of
`<hex size>[;chunk-signature=...]\\r\\n<bytes>\\r\\n`, a zero-size chunk, then trailing headers
(`x-amz-checksum-crc32: ...`) announced by `x-amz-trailer`; `x-amz-decoded-content-length` is
the payload's real size. `decode_aws_chunked` undoes that framing; `check_checksums` verifies
the checksum values a client sent (as headers or trailers) for the algorithms the standard
library has (CRC32, SHA-1, SHA-256); CRC32C and CRC64NVME values are kept unverified.

Chunk signatures (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`) are not verified: the request's own
signature still covers its headers, as for `UNSIGNED-PAYLOAD`.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Mapping

from fireside.aws.errors import ServiceError

__all__ = ["check_checksums", "decode_aws_chunked", "is_aws_chunked"]

_MAX_SIZE_LINE = 4096


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


def decode_aws_chunked(body: bytes, headers: Mapping[str, str]) -> tuple[bytes, dict[str, str]]:
    """The payload and the trailing headers (names in lower case) of an aws-chunked body."""
    chunks: list[bytes] = []
    pos = 0
    while True:
        eol = body.find(b"\r\n", pos, pos + _MAX_SIZE_LINE)
        if eol < 0:
            raise _malformed("a chunk size line is missing or too long")
        size_text = body[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise _malformed(f"bad chunk size {size_text[:20]!r}") from None
        pos = eol + 2
        if size == 0:
            break
        if pos + size + 2 > len(body) or body[pos + size : pos + size + 2] != b"\r\n":
            raise _malformed("a chunk is shorter than its declared size")
        chunks.append(body[pos : pos + size])
        pos += size + 2
    trailers: dict[str, str] = {}
    for line in body[pos:].split(b"\r\n"):
        if not line.strip():
            continue
        name, colon, value = line.partition(b":")
        if not colon:
            raise _malformed("a trailing header has no ':'")
        trailers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    payload = b"".join(chunks)
    declared = headers.get("x-amz-decoded-content-length")
    if declared is not None and declared.strip() != str(len(payload)):
        raise ServiceError(
            "IncompleteBody",
            "You did not provide the number of bytes specified by the "
            "x-amz-decoded-content-length HTTP header",
            400,
        )
    return payload, trailers


def _crc32(data: bytes) -> bytes:
    return zlib.crc32(data).to_bytes(4, "big")


_ALGORITHMS = {
    "x-amz-checksum-crc32": ("CRC32", _crc32),
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
