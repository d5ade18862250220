"""Raw Kafka-protocol helpers for tests: frames and record batches built by hand, so tests can
send what no client library would (bad versions, torn frames, corrupt CRCs)."""

from __future__ import annotations

import socket
import struct
import time
from typing import Any

from fireside.aws.crc32c import crc32c
from fireside.kafka.codec import Reader, Writer, decode, encode
from fireside.kafka.schemas import APIS


def varint(value: int) -> bytes:
    raw = (value << 1) ^ (value >> 63)
    out = bytearray()
    while raw >= 0x80:
        out.append((raw & 0x7F) | 0x80)
        raw >>= 7
    out.append(raw)
    return bytes(out)


def record_batch(
    values: list[bytes],
    *,
    producer_id: int = -1,
    epoch: int = -1,
    sequence: int = -1,
    timestamp: int | None = None,
) -> bytes:
    """An uncompressed v2 batch of `values` (null keys, no headers), CRC-32C set."""
    now = int(time.time() * 1000) if timestamp is None else timestamp
    records = b""
    for i, value in enumerate(values):
        body = b"\x00" + varint(0) + varint(i) + varint(-1) + varint(len(value)) + value + varint(0)
        records += varint(len(body)) + body
    after_crc = (
        struct.pack(
            ">hiqqqhii", 0, len(values) - 1, now, now, producer_id, epoch, sequence, len(values)
        )
        + records
    )
    crc = crc32c(after_crc)
    length = 4 + 1 + 4 + len(after_crc)  # epoch, magic, crc, rest
    return struct.pack(">qiibI", 0, length, -1, 2, crc) + after_crc


class Conn:
    """One connection speaking frames; `call` encodes a request with Fireside's codec."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.correlation = 0

    def send_frame(self, payload: bytes) -> None:
        self.sock.sendall(struct.pack(">i", len(payload)) + payload)

    def header(self, api_key: int, version: int, flexible: bool = False) -> bytes:
        self.correlation += 1
        head = (
            struct.pack(">hhi", api_key, version, self.correlation) + struct.pack(">h", 4) + b"test"
        )
        return head + (b"\x00" if flexible else b"")

    def read_frame(self) -> bytes:
        size = struct.unpack(">i", self._exactly(4))[0]
        return self._exactly(size)

    def _exactly(self, n: int) -> bytes:
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise ConnectionError("closed by the broker")
            buf += chunk
        return buf

    def call(self, api_key: int, version: int, body: dict[str, Any]) -> dict[str, Any]:
        api = APIS[api_key]
        flexible = version >= api.flexible
        w = Writer()
        encode(w, api.request, body, version, flexible)
        self.send_frame(self.header(api_key, version, flexible) + w.getvalue())
        return self.response(api_key, version)

    def response(self, api_key: int, version: int) -> dict[str, Any]:
        api = APIS[api_key]
        r = Reader(self.read_frame())
        assert r.i32() == self.correlation
        flexible = version >= api.flexible
        if flexible and api_key != 18:
            r.skip_tags()
        return decode(r, api.response, version, flexible)

    def close(self) -> None:
        self.sock.close()
