"""The server side of RFC 6455 WebSockets: the handshake check and a frame codec.

Our own, not a library's: a connection here is one small object (`__slots__`, no buffer, task
or timer while idle), because API Gateway's quotas let an account hold thousands of them, and
the issue's target is under 20 KB of server memory for an idle one. The HTTP layer answers the
handshake (`handshake` checks it and makes `Sec-WebSocket-Accept`) and then hands the
transport over (`fireside.http.connection`); `WebSocket` owns it from there.

Frames: clients must mask (an unmasked frame closes with 1002); payloads are unmasked with one
big-integer XOR rather than byte by byte; fragmented messages are joined; control frames (close,
ping, pong) may come between fragments; reserved bits, unknown opcodes and bad close codes close
with 1002, text that is not UTF-8 with 1007, and a frame over `max_frame` or a message over
`max_message` with 1009 (API Gateway's 32 KB and 128 KB, checked from a frame's header, before
its payload is buffered). Subclasses get whole messages (`on_message`) and exactly one
`on_close(code, reason)` however the connection ends (1006: it ended with no close frame).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import struct
from typing import cast

from fireside.http.types import Request

log = logging.getLogger(__name__)

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

#: Close codes (RFC 6455 7.4.1).
NORMAL, GOING_AWAY, PROTOCOL_ERROR, UNSUPPORTED = 1000, 1001, 1002, 1003
NO_STATUS, ABNORMAL, INVALID_DATA, POLICY, TOO_BIG, INTERNAL = 1005, 1006, 1007, 1008, 1009, 1011

#: Codes a close frame may carry (1004-1006 and 1015 are reserved for reports, never sent).
_SENDABLE = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014})

OPEN, CLOSING, CLOSED = 0, 1, 2


def handshake(request: Request) -> tuple[str, str] | tuple[int, str]:
    """The `Sec-WebSocket-Accept` value of a valid opening handshake as ("accept", value), or
    the HTTP status and reason to refuse it with (400; 426 for another protocol version)."""
    headers = request.headers
    if request.method != "GET":
        return 400, "a WebSocket handshake is a GET request"
    if not request.upgrade or "websocket" not in _tokens(headers.get("upgrade", "")):
        return 400, "missing Upgrade: websocket"
    if "upgrade" not in _tokens(headers.get("connection", "")):
        return 400, "missing Connection: Upgrade"
    if headers.get("sec-websocket-version", "").strip() != "13":
        return 426, "unsupported Sec-WebSocket-Version (13 is supported)"
    key = headers.get("sec-websocket-key", "").strip()
    try:
        if len(base64.b64decode(key, validate=True)) != 16:
            raise ValueError
    except ValueError:
        return 400, "invalid Sec-WebSocket-Key"
    return "accept", accept_key(key)


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode()


def _tokens(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",")}


def frame(opcode: int, payload: bytes, fin: bool = True) -> bytes:
    """One unmasked (server-to-client) frame."""
    first = (0x80 if fin else 0) | opcode
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 65536:
        return struct.pack("!BBH", first, 126, size) + payload
    return struct.pack("!BBQ", first, 127, size) + payload


def message_frames(payload: bytes, text: bool, max_frame: int) -> bytes:
    """A message as frames of at most `max_frame` bytes (as API Gateway splits large ones)."""
    opcode = TEXT if text else BINARY
    if len(payload) <= max_frame:
        return frame(opcode, payload)
    parts = []
    for start in range(0, len(payload), max_frame):
        last = start + max_frame >= len(payload)
        parts.append(frame(opcode if start == 0 else CONTINUATION, payload[start:start + max_frame], last))  # fmt: skip
    return b"".join(parts)


def close_frame(code: int, reason: str = "") -> bytes:
    if code not in _SENDABLE and not 3000 <= code <= 4999:
        return frame(CLOSE, b"")
    # 125 bytes at most in all; a cut never splits a character (the client checks UTF-8).
    text = reason.encode("utf-8")[:123].decode("utf-8", "ignore").encode("utf-8")
    return frame(CLOSE, struct.pack("!H", code) + text)


def unmask(payload: bytes | bytearray, mask: bytes | bytearray) -> bytes:
    """XOR with the 4-byte mask, as one big-integer operation (bytes-at-a-time is ~50x slower)."""
    size = len(payload)
    if not size:
        return b""
    key = (bytes(mask) * (size // 4 + 1))[:size]
    value = int.from_bytes(payload, "little") ^ int.from_bytes(key, "little")
    return value.to_bytes(size, "little")


class WebSocket(asyncio.Protocol):
    """One server-side connection. Subclasses implement `on_message` and `on_close`."""

    __slots__ = (
        "_buffer",
        "_fragment_size",
        "_fragment_text",
        "_fragments",
        "_max_frame",
        "_max_message",
        "_read_paused",
        "_writable",
        "state",
        "transport",
    )

    def __init__(self, transport: asyncio.Transport, max_frame: int, max_message: int) -> None:
        self.transport = transport
        self.state = OPEN
        self._max_frame = max_frame
        self._max_message = max_message
        #: Bytes of a frame not yet complete (None: none, the idle case).
        self._buffer: bytearray | None = None
        #: The parts of a fragmented message being received (None: none).
        self._fragments: list[bytes] | None = None
        self._fragment_size = 0
        self._fragment_text = False
        self._read_paused = False
        #: Set while the transport's write buffer is full.
        self._writable: asyncio.Future[None] | None = None

    # -- what subclasses implement ---------------------------------------------------------
    def on_message(self, data: bytes, text: bool) -> None:
        raise NotImplementedError

    def on_close(self, code: int, reason: str) -> None:
        """Called exactly once, when the connection stops being open (for any reason)."""

    def on_frame(self) -> None:
        """Any frame arrived (activity: a subclass may push back an idle deadline)."""

    # -- sending -----------------------------------------------------------------------------
    def send(self, payload: bytes, text: bool) -> bool:
        """Queue a message; False when the connection is no longer open."""
        if self.state != OPEN or self.transport.is_closing():
            return False
        self.transport.write(message_frames(payload, text, self._max_frame))
        return True

    async def drained(self) -> None:
        """Returns once the transport's write buffer is below its high-water mark."""
        writable = self._writable
        if writable is not None:
            await asyncio.shield(writable)

    def close(self, code: int = NORMAL, reason: str = "") -> None:
        """Start the closing handshake: send a close frame and wait for the client's (the
        owner closes the transport if it does not come in time: `expire_close`)."""
        if self.state != OPEN:
            return
        self.state = CLOSING
        if not self.transport.is_closing():
            self.transport.write(close_frame(code, reason))
        self._closed(code, reason)

    def fail(self, code: int, reason: str = "") -> None:
        """End the connection at once (a protocol error): close frame, then TCP close."""
        state = self.state
        if state == CLOSED:
            return
        self.state = CLOSED
        self._buffer = self._fragments = None
        if state == OPEN and not self.transport.is_closing():
            self.transport.write(close_frame(code, reason))
        self.transport.close()
        if state == OPEN:
            self._closed(code, reason)

    def abort(self, code: int, reason: str = "") -> None:
        """End the connection at once, without a close frame (a client that does not read)."""
        state = self.state
        if state == CLOSED:
            return
        self.state = CLOSED
        self._buffer = self._fragments = None
        self.transport.abort()
        if state == OPEN:
            self._closed(code, reason)

    def expire_close(self) -> None:
        """The client did not answer our close frame in time: drop the connection."""
        if self.state == CLOSING:
            self.state = CLOSED
            self.transport.abort()

    def _closed(self, code: int, reason: str) -> None:
        self._release_writers()
        try:
            self.on_close(code, reason)
        except Exception:
            log.exception("WebSocket on_close failed")

    # -- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def connection_lost(self, exc: Exception | None) -> None:
        state, self.state = self.state, CLOSED
        self._buffer = self._fragments = None
        if state == OPEN:
            self._closed(ABNORMAL, "")
        else:
            self._release_writers()

    def pause_writing(self) -> None:
        if self._writable is None:
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        self._release_writers()

    def _release_writers(self) -> None:
        writable, self._writable = self._writable, None
        if writable is not None and not writable.done():
            writable.set_result(None)

    def pause_reading(self) -> None:
        if not self._read_paused:
            self._read_paused = True
            if not self.transport.is_closing():
                self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self._read_paused:
            self._read_paused = False
            if not self.transport.is_closing():
                self.transport.resume_reading()
            if self._buffer:  # frames read before the pause, not handled yet
                self.data_received(b"")

    @property
    def writable(self) -> bool:
        """False while the transport's write buffer is over its high-water mark."""
        return self._writable is None

    def data_received(self, data: bytes) -> None:
        if self.state == CLOSED:
            return
        buffer = self._buffer
        if buffer is not None:
            buffer += data
            view: bytes | bytearray = buffer
        else:
            view = data
        pos = self._parse(view)
        if self.state == CLOSED:
            return
        if pos >= len(view):
            self._buffer = None
        elif buffer is not None:
            del buffer[:pos]
        else:
            self._buffer = bytearray(view[pos:])

    def _parse(self, data: bytes | bytearray) -> int:
        """Handle every whole frame in `data`; returns where the first incomplete one starts."""
        pos, end = 0, len(data)
        # While paused (its owner is behind), whole frames already read wait in the buffer
        # (at most one read's worth): `resume_reading` handles them.
        while end - pos >= 2 and self.state != CLOSED and not self._read_paused:
            first, second = data[pos], data[pos + 1]
            opcode, size = first & 0x0F, second & 0x7F
            head = 2
            if size == 126:
                if end - pos < 4:
                    break
                size = (data[pos + 2] << 8) | data[pos + 3]
                head = 4
            elif size == 127:
                if end - pos < 10:
                    break
                size = int.from_bytes(data[pos + 2 : pos + 10], "big")
                head = 10
            problem = self._check(first, second, opcode, size)
            if problem is not None:
                self.fail(*problem)
                return end
            if end - pos < head + 4 + size:
                break
            mask = data[pos + head : pos + head + 4]
            start = pos + head + 4
            payload = unmask(data[start : start + size], mask)
            pos = start + size
            self._frame(opcode, bool(first & 0x80), payload)
        return pos

    def _check(self, first: int, second: int, opcode: int, size: int) -> tuple[int, str] | None:
        """Why a frame's header makes the connection fail, if it does."""
        if first & 0x70:
            return PROTOCOL_ERROR, "reserved bits set"
        if not second & 0x80:
            return PROTOCOL_ERROR, "client frames must be masked"
        if opcode >= 0x8:
            if opcode > PONG:
                return PROTOCOL_ERROR, "unknown opcode"
            if not first & 0x80 or size > 125:
                return PROTOCOL_ERROR, "invalid control frame"
            return None
        if opcode > BINARY:
            return PROTOCOL_ERROR, "unknown opcode"
        if (opcode == CONTINUATION) == (self._fragments is None):
            return PROTOCOL_ERROR, "unexpected continuation frame"
        if size > self._max_frame:
            return TOO_BIG, "Frame too big"
        if self._fragment_size + size > self._max_message:
            return TOO_BIG, "Message too big"
        return None

    def _frame(self, opcode: int, fin: bool, payload: bytes) -> None:
        self.on_frame()
        if opcode >= 0x8:
            self._control(opcode, payload)
            return
        if self.state != OPEN:
            return  # data after our close frame is discarded (RFC 6455 1.4)
        if opcode != CONTINUATION:
            if fin:
                self._deliver(payload, opcode == TEXT)
                return
            self._fragments = [payload]
            self._fragment_size = len(payload)
            self._fragment_text = opcode == TEXT
            return
        fragments = self._fragments
        assert fragments is not None
        fragments.append(payload)
        self._fragment_size += len(payload)
        if fin:
            self._fragments, self._fragment_size = None, 0
            self._deliver(b"".join(fragments), self._fragment_text)

    def _deliver(self, payload: bytes, text: bool) -> None:
        if text:
            try:
                payload.decode("utf-8")
            except UnicodeDecodeError:
                self.fail(INVALID_DATA, "Invalid UTF-8 in text frame")
                return
        try:
            self.on_message(payload, text)
        except Exception:
            log.exception("WebSocket on_message failed")
            self.fail(INTERNAL, "Internal server error")

    def _control(self, opcode: int, payload: bytes) -> None:
        if opcode == PING:
            if self.state == OPEN and not self.transport.is_closing():
                self.transport.write(frame(PONG, payload))
            return
        if opcode == PONG:
            return
        # A close frame: its code and reason, checked.
        code, reason = NO_STATUS, ""
        if len(payload) == 1:
            self.fail(PROTOCOL_ERROR, "invalid close frame")
            return
        if len(payload) >= 2:
            code = (payload[0] << 8) | payload[1]
            if code not in _SENDABLE and not 3000 <= code <= 4999:
                self.fail(PROTOCOL_ERROR, "invalid close code")
                return
            try:
                reason = payload[2:].decode("utf-8")
            except UnicodeDecodeError:
                self.fail(INVALID_DATA, "invalid close reason")
                return
        if self.state == OPEN:
            # The client closes: echo its code, then end TCP (the server closes first).
            self.state = CLOSED
            self.transport.write(close_frame(code if code != NO_STATUS else NORMAL))
            self.transport.close()
            self._fragments = None
            self._closed(code, reason)
        else:  # the answer to our close frame
            self.state = CLOSED
            self.transport.close()
