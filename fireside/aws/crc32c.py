"""CRC32C (Castagnoli), the checksum S3 clients send as `x-amz-checksum-crc32c`.

The `crc32c` package computes it in C (with the CPU's CRC instruction where there is one), at
gigabytes per second; the table-driven fallback here, for a platform without that package's
wheel, runs at about 10 MB/s, so a large upload would hold the event loop for seconds.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["crc32c", "crc32c_table"]

_POLYNOMIAL = 0x82F63B78  # reflected Castagnoli polynomial


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLYNOMIAL if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _table()


def crc32c_table(data: bytes, crc: int = 0) -> int:
    """CRC32C in pure Python, one table lookup per byte."""
    crc ^= 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _load() -> Callable[[bytes], int]:
    try:
        from crc32c import crc32c as native
    except ImportError:  # the package is a dependency; this is for a platform without it
        return crc32c_table
    return native


#: CRC32C of a byte string, natively when the `crc32c` package is installed.
crc32c: Callable[[bytes], int] = _load()
