"""The resolver each execution environment's DNS queries go to: AWS's names are Fireside.

An environment's `/etc/resolv.conf` names a resolver on its own network (127.0.0.1, or the
gateway a VM guest reaches its host at), where Fireside listens from its event loop as it does
for the Runtime API. Names under `SERVED_DOMAINS` (`*.amazonaws.com`, `*.amazonaws.com.cn`,
`*.localhost`) are answered at once with the address at which the environment reaches
Fireside, so `https://dynamodb.us-east-1.amazonaws.com` lands on Fireside's TLS listener and
no query for an AWS name ever leaves the machine. Every other query is forwarded unchanged to
the environment's upstream (slirp4netns's resolver, 10.0.2.3) from a socket made *inside* the
environment's network namespace, so it goes out exactly as the function's own traffic would,
under the same egress rules; an environment without egress gets REFUSED.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import cast

from fireside.dns import message
from fireside.http.certificates import served_name

__all__ = ["PORT", "UPSTREAM", "SandboxResolver"]

log = logging.getLogger(__name__)

PORT = 53
#: slirp4netns's DNS forwarder on an environment's network namespace.
UPSTREAM = ("10.0.2.3", 53)
#: Forwarded queries awaiting an answer, per environment; past it the oldest is dropped (its
#: client retries, as a resolver does after a lost datagram).
MAX_PENDING = 256
#: Seconds a forwarded query waits for the upstream before it is forgotten.
FORWARD_TIMEOUT = 5.0

Address = tuple[str, int]


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, on_reply: Callable[[bytes], None]) -> None:
        self._on_reply = on_reply

    def datagram_received(self, data: bytes, addr: Address) -> None:
        self._on_reply(data)

    def error_received(self, exc: Exception) -> None:
        log.debug("upstream DNS error: %s", exc)


class SandboxResolver(asyncio.DatagramProtocol):
    """Answers one environment's queries on a UDP socket bound inside its network."""

    def __init__(
        self,
        address: str,
        upstream: Callable[[], socket.socket] | None,
        upstream_address: Address = UPSTREAM,
    ) -> None:
        #: The A record for served names: where the environment reaches Fireside.
        self._address = address
        #: Makes a UDP socket in the environment's network (None: it has no way out).
        self._make_upstream = upstream
        self._upstream_address = upstream_address
        self._transport: asyncio.DatagramTransport | None = None
        self._upstream: asyncio.DatagramTransport | None = None
        self._connecting: asyncio.Task[None] | None = None
        #: Forwarded id -> (client's id, client's address, deadline); oldest first.
        self._pending: OrderedDict[int, tuple[int, Address, float]] = OrderedDict()
        self._waiting: list[tuple[bytes, message.Query, Address]] = []
        self.answered = self.forwarded = 0

    @classmethod
    async def serve(
        cls,
        sock: socket.socket,
        address: str,
        upstream: Callable[[], socket.socket] | None,
        upstream_address: Address = UPSTREAM,
    ) -> SandboxResolver:
        """Serve queries arriving on `sock` (bound inside the environment) until `close()`."""
        loop = asyncio.get_running_loop()
        resolver = cls(address, upstream, upstream_address)
        await loop.create_datagram_endpoint(lambda: resolver, sock=sock)
        return resolver

    @classmethod
    async def serve_inside(
        cls, network_socket: Callable[[int], socket.socket], address: str, egress: bool
    ) -> SandboxResolver:
        """Serve on port 53 of an environment's loopback; `network_socket(kind)` makes a
        socket in its network (`Sandbox.network_socket`), for the listener and the upstream."""
        sock = network_socket(socket.SOCK_DGRAM)
        try:
            sock.bind(("127.0.0.1", PORT))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        upstream = (lambda: network_socket(socket.SOCK_DGRAM)) if egress else None
        return await cls.serve(sock, address, upstream)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: Address) -> None:
        query = message.parse_query(data)
        if query is None:
            return  # not a query: nothing a resolver answers
        if served_name(query.name) is not None:
            self.answered += 1
            self._send(message.answer(query, self._address), addr)
        elif self._make_upstream is None:
            self._send(message.refuse(query), addr)
        else:
            self._forward(data, query, addr)

    def _send(self, data: bytes, addr: Address) -> None:
        if self._transport is not None and not self._transport.is_closing():
            self._transport.sendto(data, addr)

    # -- forwarding -----------------------------------------------------------------------------
    def _forward(self, data: bytes, query: message.Query, addr: Address) -> None:
        now = time.monotonic()
        while self._pending and next(iter(self._pending.values()))[2] < now:
            self._pending.popitem(last=False)
        if len(self._pending) >= MAX_PENDING:
            self._pending.popitem(last=False)
        ident = int.from_bytes(os.urandom(2))
        while ident in self._pending:
            ident = int.from_bytes(os.urandom(2))
        self._pending[ident] = (query.id, addr, now + FORWARD_TIMEOUT)
        self.forwarded += 1
        outgoing = message.with_id(data, ident)
        if self._upstream is not None:
            self._upstream.sendto(outgoing)
            return
        if len(self._waiting) < MAX_PENDING:  # the upstream socket is being made
            self._waiting.append((outgoing, query, addr))
        if self._connecting is None:
            self._connecting = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        """The upstream socket, made on the first forwarded query (inside the environment's
        network: entering it is the event loop thread's, briefly, as for its listeners)."""
        assert self._make_upstream is not None
        try:
            sock = self._make_upstream()
            try:
                sock.setblocking(False)
                sock.connect(self._upstream_address)
                loop = asyncio.get_running_loop()
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: _Upstream(self._reply), sock=sock
                )
            except BaseException:
                sock.close()
                raise
        except OSError as exc:  # no route out (prohibited, or the network is gone)
            log.debug("no upstream DNS for an environment: %s", exc)
            self._make_upstream = None
            for _, query, addr in self._waiting:
                self._send(message.refuse(query, message.RCODE_SERVFAIL), addr)
            self._waiting.clear()
            return
        self._upstream = transport
        for outgoing, _, _ in self._waiting:
            transport.sendto(outgoing)
        self._waiting.clear()

    def _reply(self, data: bytes) -> None:
        if len(data) < 2:
            return
        found = self._pending.pop(int.from_bytes(data[:2]), None)
        if found is not None:
            client_id, addr, _ = found
            self._send(message.with_id(data, client_id), addr)

    def close(self) -> None:
        for transport in (self._transport, self._upstream):
            if transport is not None:
                transport.close()
        if self._connecting is not None:
            self._connecting.cancel()
        self._pending.clear()
        self._waiting.clear()
