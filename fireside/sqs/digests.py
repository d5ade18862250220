"""The MD5 digests SQS answers with, computed as AWS computes them.

`MD5OfMessageBody` is the hex MD5 of the body's UTF-8 bytes. `MD5OfMessageAttributes` (and
`MD5OfMessageSystemAttributes`) digest the attributes sorted by name, each as: the name, the
data type, one transport byte (1 for String and Number types, 2 for Binary), then the value;
every name, type and value preceded by its length as a 4-byte big-endian integer. The SDKs
(the Java and .NET SDKs, and botocore's SQS checksum customisations elsewhere) recompute
these and refuse an answer whose digests differ.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from typing import Any

__all__ = ["attributes_md5", "body_md5"]

_STRING, _BINARY = b"\x01", b"\x02"


def body_md5(body: str) -> str:
    return hashlib.md5(body.encode("utf-8"), usedforsecurity=False).hexdigest()


def _field(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def attributes_md5(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """The digest of message (or system) attributes in boto3's shape:
    `{"name": {"DataType": "String", "StringValue": "..."}}` (or `BinaryValue`)."""
    digest = hashlib.md5(usedforsecurity=False)
    for name in sorted(attributes):
        value = attributes[name]
        data_type: str = value["DataType"]
        digest.update(_field(name.encode("utf-8")) + _field(data_type.encode("utf-8")))
        if "BinaryValue" in value and not data_type.startswith(("String", "Number")):
            digest.update(_BINARY + _field(bytes(value["BinaryValue"])))
        else:
            digest.update(_STRING + _field(str(value.get("StringValue", "")).encode("utf-8")))
    return digest.hexdigest()
