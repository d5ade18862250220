"""Partition storage without a server: segments roll, the sparse index finds every offset,
retention deletes by size and by time, and recovery truncates a torn or corrupt tail."""

from __future__ import annotations

import asyncio
import struct
from pathlib import Path

from fireside.kafka.errors import Err
from fireside.kafka.log import LogConfig, PartitionLog
from fireside.kafka.records import parse_batches
from tests.kafka_wire import record_batch


def append(log: PartitionLog, values: list[bytes], timestamp: int | None = None) -> int:
    data = record_batch(values, timestamp=timestamp)
    result = log.append(data, parse_batches(data, 1 << 20))
    assert result.error == Err.NONE
    return result.base_offset


def test_index_finds_every_offset_across_segments(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, LogConfig(segment_bytes=20_000))
    for i in range(400):
        assert append(log, [b"%05d" % i, b"x" * 100]) == 2 * i
    assert len(log.segments) > 3 and log.end_offset == 800
    for offset in range(0, 800, 7):
        error, data = log.read(offset, 1)  # at least one whole batch, even past max_bytes
        base, length = struct.unpack_from(">qi", data)
        assert error == Err.NONE and base <= offset <= base + 1 and len(data) == length + 12
    error, data = log.read(100, 10_000)
    assert struct.unpack_from(">q", data)[0] == 100 and len(data) <= 10_000
    assert log.read(800, 100) == (Err.NONE, b"")
    assert log.read(801, 100)[0] == Err.OFFSET_OUT_OF_RANGE
    log.close()
    reopened = PartitionLog(tmp_path, LogConfig(segment_bytes=20_000))
    assert reopened.end_offset == 800
    assert struct.unpack_from(">q", reopened.read(555, 1)[1])[0] == 554
    reopened.close()


def test_retention_by_size(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, LogConfig(segment_bytes=5_000, retention_bytes=12_000))
    for _ in range(200):
        append(log, [b"y" * 200])
    assert log.enforce_retention() > 0
    assert sum(s.size for s in log.segments) <= 12_000 + 5_000
    assert log.log_start_offset > 0 and log.end_offset == 200
    assert log.read(0, 100)[0] == Err.OFFSET_OUT_OF_RANGE
    assert log.read(log.log_start_offset, 100)[0] == Err.NONE
    log.close()


def test_retention_by_time(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, LogConfig(segment_bytes=2_000, retention_ms=60_000))
    old, now = 1_000_000, 10_000_000
    for _ in range(30):
        append(log, [b"z" * 100], timestamp=old)
    for _ in range(5):
        append(log, [b"new"], timestamp=now)
    log.enforce_retention(now_ms=now + 1000)
    assert log.log_start_offset >= 30 - 10  # the old segments are gone ...
    error, data = log.read(34, 100)  # ... the recent records stay
    assert error == Err.NONE and data
    log.close()
    log = PartitionLog(tmp_path, LogConfig(retention_ms=60_000))
    log.enforce_retention(now_ms=now + 120_000)  # everything expired, the active segment too
    assert log.log_start_offset == log.end_offset == 35
    log.close()


def test_recovery_truncates_torn_and_corrupt_tails(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, LogConfig())
    for i in range(10):
        append(log, [b"r%d" % i])
    asyncio.run(log.sync())
    log.close()
    segment = tmp_path / f"{0:020d}.log"
    whole = segment.stat().st_size
    with segment.open("ab") as f:
        f.write(record_batch([b"torn"])[:40])  # a crash mid-write
    log = PartitionLog(tmp_path, LogConfig())
    assert log.end_offset == 10 and segment.stat().st_size == whole
    log.close()
    data = bytearray(segment.read_bytes())
    data[-2] ^= 0xFF  # the last batch's bytes no longer match its CRC
    segment.write_bytes(bytes(data))
    log = PartitionLog(tmp_path, LogConfig())
    assert log.end_offset == 9
    assert append(log, [b"after"]) == 9  # offsets continue from the recovered end
    log.close()


def test_decode_records_from_a_client_batch(tmp_path: Path) -> None:
    """Batches as kafka-python builds them (gzip, keys, headers) decode to the records sent."""
    from kafka.record.memory_records import MemoryRecordsBuilder

    from fireside.kafka.decode import decode_records

    builder = MemoryRecordsBuilder(magic=2, compression_type=1, batch_size=1 << 20)
    for i in range(5):
        builder.append(1_700_000_000_000 + i, b"k%d" % i if i else None, b"v%d" % i,
                       [("h", b"x%d" % i)])  # fmt: skip
    builder.close()
    data = bytes(builder.buffer())
    log = PartitionLog(tmp_path, LogConfig())
    log.append(data, parse_batches(data, 1 << 20))
    append(log, [b"plain"])
    error, stored = log.read(0, 1 << 20)
    assert error == Err.NONE
    records = list(decode_records(stored, from_offset=2))
    assert [r.offset for r in records] == [2, 3, 4, 5]
    assert records[0].key == b"k2" and records[0].value == b"v2"
    assert records[0].headers == (("h", b"x2"),) and records[0].timestamp == 1_700_000_000_002
    assert records[-1].value == b"plain" and records[-1].key is None
    assert records[0].timestamp_type == "CREATE_TIME"
    log.close()


def test_delete_records_moves_the_start_durably(tmp_path: Path) -> None:
    log = PartitionLog(tmp_path, LogConfig(segment_bytes=2_000))
    for i in range(40):
        append(log, [b"%03d" % i + b"-" * 100])
    assert log.delete_records(25) == (Err.NONE, 25)
    assert log.segments[0].base_offset <= 25 < log.segments[0].next_offset  # whole segments went
    assert log.read(24, 100)[0] == Err.OFFSET_OUT_OF_RANGE
    assert log.read(25, 100)[0] == Err.NONE
    assert log.delete_records(10) == (Err.NONE, 25)  # never moves back
    assert log.delete_records(41)[0] == Err.OFFSET_OUT_OF_RANGE
    log.close()
    log = PartitionLog(tmp_path, LogConfig(segment_bytes=2_000))
    assert log.log_start_offset == 25
    assert log.delete_records(-1) == (Err.NONE, 40)  # everything
    assert append(log, [b"next"]) == 40 and log.log_start_offset == 40
    log.close()
