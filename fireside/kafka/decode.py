"""Records decoded out of stored batches: for in-process consumers, not for the wire.

The broker serves batches as bytes; a consumer inside Fireside (the Kafka event-source mappings,
`fireside topics`) needs the records themselves: offset, timestamp, key, value and headers, as
Lambda's `aws:kafka` event carries them. Uncompressed and gzip batches are decoded here (the
Python standard library has no snappy, lz4 or zstd); a batch in another codec raises
`UnsupportedCodec` naming it. Control batches (transaction markers) hold no records for
consumers and are skipped.
"""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterator
from dataclasses import dataclass

from fireside.kafka.records import CONTROL, HEADER, peek_header

__all__ = ["Record", "UnsupportedCodec", "decode_records"]

CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}
LOG_APPEND_TIME = 0x08


class UnsupportedCodec(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Record:
    offset: int
    timestamp: int
    #: "CREATE_TIME" or "LOG_APPEND_TIME", as Lambda's event names them.
    timestamp_type: str
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]


class _Cursor:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf, self.pos = buf, 0

    def varint(self) -> int:
        raw = shift = 0
        while True:
            byte = self.buf[self.pos]
            self.pos += 1
            raw |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return (raw >> 1) ^ -(raw & 1)
            shift += 7

    def blob(self) -> bytes | None:
        n = self.varint()
        if n < 0:
            return None
        out = self.buf[self.pos : self.pos + n]
        if len(out) != n:
            raise IndexError("record truncated")
        self.pos += n
        return out


def decode_records(data: bytes, from_offset: int = 0) -> Iterator[Record]:
    """Every record at or after `from_offset` in `data` (whole batches, as `Broker.read` returns)."""
    pos = 0
    while (batch := peek_header(data, pos)) is not None:
        start, pos = pos, pos + batch.size
        if batch.attributes & CONTROL or batch.last_offset < from_offset:
            continue
        codec = batch.attributes & 0x07
        body = data[start + HEADER : start + batch.size]
        if codec == 1:
            body = gzip.decompress(body)
        elif codec != 0:
            raise UnsupportedCodec(f"records compressed with {CODECS.get(codec, codec)}")
        base_ts = struct.unpack_from(">q", data, start + 27)[0]
        log_append = bool(batch.attributes & LOG_APPEND_TIME)
        kind = "LOG_APPEND_TIME" if log_append else "CREATE_TIME"
        cursor = _Cursor(body)
        for _ in range(batch.count):
            length = cursor.varint()
            end = cursor.pos + length
            cursor.pos += 1  # record attributes (unused)
            ts = base_ts + cursor.varint()
            offset = batch.base_offset + cursor.varint()
            key, value = cursor.blob(), cursor.blob()
            headers = []
            for _ in range(cursor.varint()):
                name = cursor.blob() or b""
                headers.append((name.decode("utf-8", "replace"), cursor.blob()))
            cursor.pos = end
            if offset >= from_offset:
                yield Record(offset, batch.max_timestamp if log_append else ts, kind, key,
                             value, tuple(headers))  # fmt: skip
