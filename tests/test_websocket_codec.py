"""The RFC 6455 codec on its own (a stand-in transport): however the bytes are split into
reads, the same messages come out, and garbage never raises, only closes."""

from __future__ import annotations

import asyncio
import os
import struct
from typing import Any, cast

from hypothesis import given, settings
from hypothesis import strategies as st

from fireside.http.websocket import CLOSED, WebSocket, close_frame, message_frames


class Transport:
    def __init__(self) -> None:
        self.written = b""
        self.closed = False

    def write(self, data: bytes) -> None:
        self.written += data

    def close(self) -> None:
        self.closed = True

    abort = close

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class Recorder(WebSocket):
    __slots__ = ("closes", "messages")

    def __init__(self) -> None:
        super().__init__(cast(Any, Transport()), 32768, 131072)
        self.messages: list[tuple[bytes, bool]] = []
        self.closes: list[tuple[int, str]] = []

    def on_message(self, data: bytes, text: bool) -> None:
        self.messages.append((data, text))

    def on_close(self, code: int, reason: str) -> None:
        self.closes.append((code, reason))


def masked(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    key = os.urandom(4)
    first = (0x80 if fin else 0) | opcode
    size = len(payload)
    if size < 126:
        head = bytes((first, 0x80 | size))
    elif size < 65536:
        head = struct.pack("!BBH", first, 0x80 | 126, size)
    else:
        head = struct.pack("!BBQ", first, 0x80 | 127, size)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


MESSAGES = st.lists(
    st.tuples(st.binary(max_size=300), st.booleans(), st.integers(1, 4)), max_size=8
)


@settings(max_examples=150, deadline=None)
@given(MESSAGES, st.lists(st.integers(1, 400), max_size=30))
def test_any_split_of_the_stream_gives_the_same_messages(
    messages: list[tuple[bytes, bool, int]], cuts: list[int]
) -> None:
    stream = b""
    expected = []
    for payload, text, parts in messages:
        data = payload.hex().encode() if text else payload  # text must be UTF-8
        expected.append((data, text))
        size = max(1, len(data) // parts + 1)
        pieces = [data[i : i + size] for i in range(0, len(data), size)] or [b""]
        for index, piece in enumerate(pieces):
            opcode = (0x1 if text else 0x2) if index == 0 else 0x0
            stream += masked(opcode, piece, fin=index == len(pieces) - 1)
            if index == 0:
                stream += masked(0x9, b"between")  # control frames may interleave
    socket = Recorder()
    position = 0
    for cut in cuts:
        socket.data_received(stream[position : position + cut])
        position += cut
    socket.data_received(stream[position:])
    assert socket.messages == expected
    assert socket.closes == []


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_garbage_never_raises(data: bytes) -> None:
    socket = Recorder()
    for start in range(0, len(data), 7):
        socket.data_received(data[start : start + 7])
    assert len(socket.closes) <= 1
    if socket.closes:
        assert socket.state == CLOSED or socket.closes[0][0] in range(1000, 5000)


def test_server_frames() -> None:
    assert message_frames(b"hi", True, 32768) == b"\x81\x02hi"
    big = message_frames(b"x" * 70000, False, 32768)
    assert big[:4] == b"\x02\x7e\x80\x00"  # binary, not final, 16-bit length 32768
    assert close_frame(1000) == b"\x88\x02\x03\xe8"
    assert len(close_frame(1001, "é" * 200)) <= 127  # a reason fits a control frame
    (close_frame(1001, "é" * 200)[4:]).decode("utf-8")  # and is cut on a character


def test_connection_lost_reports_once() -> None:
    socket = Recorder()
    socket.data_received(masked(0x1, b"hel", fin=False))
    socket.connection_lost(None)
    socket.connection_lost(None)
    assert socket.closes == [(1006, "")]
    assert asyncio.iscoroutinefunction(socket.drained)
