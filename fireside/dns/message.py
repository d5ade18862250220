"""The little of DNS's wire format (RFC 1035) that Fireside's sandbox resolver needs.

A query is read only as far as its header and first question; an answer repeats that question
and carries A records (or none). Everything else is forwarded untouched.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

__all__ = ["TYPE_A", "TYPE_AAAA", "Query", "answer", "parse_query", "refuse", "with_id"]

_HEADER = struct.Struct("!HHHHHH")
TYPE_A, TYPE_AAAA, CLASS_IN = 1, 28, 1
_QR, _AA, _RD, _RA = 0x8000, 0x0400, 0x0100, 0x0080
_OPCODE = 0x7800
RCODE_SERVFAIL, RCODE_REFUSED = 2, 5
#: Seconds a client may cache Fireside's answers: short, names never move but keep it live.
TTL = 60


@dataclass(frozen=True, slots=True)
class Query:
    id: int
    flags: int
    #: The name asked for, lower-cased, without the trailing dot.
    name: str
    qtype: int
    qclass: int
    #: The question's bytes as sent (repeated in the answer).
    question: bytes


def parse_query(data: bytes) -> Query | None:
    """The header and first question of a standard query, or None when `data` is not one
    (a response, another opcode, no question, or malformed)."""
    if len(data) < _HEADER.size:
        return None
    ident, flags, questions, _, _, _ = _HEADER.unpack_from(data)
    if flags & _QR or flags & _OPCODE or questions < 1:
        return None
    offset, labels = _HEADER.size, []
    while True:
        if offset >= len(data):
            return None
        length = data[offset]
        offset += 1
        if length == 0:
            break
        if length > 63 or offset + length > len(data):  # no compression in a question
            return None
        labels.append(data[offset : offset + length].decode("ascii", "replace").lower())
        offset += length
    if offset + 4 > len(data):
        return None
    qtype, qclass = struct.unpack_from("!HH", data, offset)
    question = data[_HEADER.size : offset + 4]
    return Query(ident, flags, ".".join(labels), qtype, qclass, question)


def answer(query: Query, address: str | None) -> bytes:
    """An authoritative answer: `address` as the name's one A record when the query asks
    for A (or ANY), else no record (NODATA: AAAA and the rest), so clients use the A."""
    records = b""
    if address is not None and query.qclass == CLASS_IN and query.qtype in (TYPE_A, 255):
        rdata = ipaddress.IPv4Address(address).packed
        # 0xC00C: the name, as a pointer to the question's (right after the header).
        records = struct.pack("!HHHIH", 0xC00C, TYPE_A, CLASS_IN, TTL, len(rdata)) + rdata
    flags = _QR | _AA | _RA | (query.flags & _RD)
    header = _HEADER.pack(query.id, flags, 1, 1 if records else 0, 0, 0)
    return header + query.question + records


def refuse(query: Query, rcode: int = RCODE_REFUSED) -> bytes:
    """A reply carrying only an error code (REFUSED: no way out; SERVFAIL: it failed)."""
    flags = _QR | _RA | (query.flags & _RD) | rcode
    return _HEADER.pack(query.id, flags, 1, 0, 0, 0) + query.question


def with_id(message: bytes, ident: int) -> bytes:
    """`message` with its id replaced (forwarded queries carry ids of the forwarder's own)."""
    return struct.pack("!H", ident) + message[2:]
