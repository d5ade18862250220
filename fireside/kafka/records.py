"""Record batches (message format v2) read by their 61-byte header only.

The broker never decodes records on the hot path: a produced batch is checked (magic 2, length,
CRC-32C over attributes..end), its `baseOffset` rewritten to the partition's next offset, and the
bytes stored as they came. The CRC does not cover baseOffset, batchLength or partitionLeaderEpoch,
so re-basing leaves it valid and a Fetch serves the stored bytes back unchanged.
"""

from __future__ import annotations

import gzip
import struct
from dataclasses import dataclass

from fireside.aws.crc32c import crc32c

__all__ = [
    "HEADER",
    "Batch",
    "BatchError",
    "first_at_or_after",
    "parse_batches",
    "peek_header",
    "rebase",
]

#: Bytes of a v2 batch header before its records.
HEADER = 61
#: baseOffset, batchLength, partitionLeaderEpoch, magic, crc, attributes, lastOffsetDelta,
#: baseTimestamp, maxTimestamp, producerId, producerEpoch, baseSequence, recordsCount.
_HEADER = struct.Struct(">qiibIhiqqqhii")
_BASE = struct.Struct(">q")
TRANSACTIONAL = 0x10
CONTROL = 0x20


class BatchError(ValueError):
    """A produced record set that is not a sequence of valid v2 batches."""

    def __init__(self, message: str, *, corrupt: bool = True) -> None:
        super().__init__(message)
        self.corrupt = corrupt  # CORRUPT_MESSAGE vs. an unsupported/invalid format


@dataclass(slots=True)
class Batch:
    start: int  # position in the buffer it was read from
    size: int  # bytes, header included (batchLength + 12)
    base_offset: int
    last_offset_delta: int
    max_timestamp: int
    attributes: int
    producer_id: int
    producer_epoch: int
    base_sequence: int
    count: int

    @property
    def last_offset(self) -> int:
        return self.base_offset + self.last_offset_delta


def peek_header(buf: bytes | memoryview, pos: int) -> Batch | None:
    """The header at `pos`, or None if the buffer ends before a whole batch does."""
    if len(buf) - pos < HEADER:
        return None
    (base, length, _epoch, magic, _crc, attrs, delta, _bts, max_ts, pid, pepoch, seq, count) = (
        _HEADER.unpack_from(buf, pos)
    )
    size = length + 12
    if magic != 2 or size < HEADER or delta < 0 or count < 0:
        raise BatchError(f"not a v2 record batch at {pos} (magic {magic}, length {length})")
    if pos + size > len(buf):
        return None
    return Batch(pos, size, base, delta, max_ts, attrs, pid, pepoch, seq, count)


def crc_ok(buf: bytes | memoryview, batch: Batch) -> bool:
    stored = struct.unpack_from(">I", buf, batch.start + 17)[0]
    return bool(crc32c(bytes(buf[batch.start + 21 : batch.start + batch.size])) == stored)


def parse_batches(records: bytes, max_batch: int) -> list[Batch]:
    """Every batch in a Produce request's record set, CRC checked; raises `BatchError`."""
    if len(records) >= 17 and records[16] != 2:
        raise BatchError(f"message format v{records[16]} is not supported", corrupt=False)
    out: list[Batch] = []
    pos = 0
    while pos < len(records):
        batch = peek_header(records, pos)
        if batch is None:
            raise BatchError(f"record set truncated at byte {pos} of {len(records)}")
        if batch.size > max_batch:
            raise BatchError(f"batch of {batch.size} bytes exceeds {max_batch}", corrupt=False)
        if not crc_ok(records, batch):
            raise BatchError(f"CRC-32C mismatch in the batch at byte {pos}")
        out.append(batch)
        pos += batch.size
    if not out:
        raise BatchError("empty record set")
    return out


def rebase(buf: bytearray, batch: Batch, base_offset: int) -> None:
    _BASE.pack_into(buf, batch.start, base_offset)


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    raw = shift = 0
    while True:
        byte = buf[pos]
        pos += 1
        raw |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return (raw >> 1) ^ -(raw & 1), pos
        shift += 7


def first_at_or_after(batch_bytes: bytes, timestamp: int) -> tuple[int, int] | None:
    """(offset, timestamp) of the batch's first record stamped at or after `timestamp`.

    The one place records are decoded (ListOffsets by time, off the hot path). Uncompressed and
    gzip batches are read record by record; for other codecs the batch's first offset and its
    max timestamp stand in (a consumer seeking by time then starts a few records early)."""
    header = peek_header(batch_bytes, 0)
    assert header is not None
    base_ts = struct.unpack_from(">q", batch_bytes, 27)[0]
    codec = header.attributes & 0x07
    body = batch_bytes[HEADER : header.size]
    if codec == 1:
        body = gzip.decompress(body)
    elif codec != 0:
        return header.base_offset, header.max_timestamp
    pos = 0
    try:
        for _ in range(header.count):
            length, pos = _varint(body, pos)
            end = pos + length
            pos += 1  # attributes
            ts_delta, pos = _varint(body, pos)
            offset_delta, pos = _varint(body, pos)
            if base_ts + ts_delta >= timestamp:
                return header.base_offset + offset_delta, base_ts + ts_delta
            pos = end
    except IndexError:
        pass
    return None
