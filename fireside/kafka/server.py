"""The Kafka listener: length-prefixed frames in, one response per request out, in order.

Each connection is served one request at a time, as Kafka brokers do (a client pipelines; answers
keep their order). What a broker must survive, and how it answers:

- A frame whose header cannot be read (shorter than one, a negative size): nothing can be
  answered, since the correlation id is unknown; the connection is closed.
- An unknown API key: answered with UNSUPPORTED_VERSION in the ApiVersions error shape.
- A version outside the advertised range: UNSUPPORTED_VERSION; ApiVersions answers in v0 form
  with the supported ranges, so the client can pick again (as Kafka does).
- A body that does not decode (truncated, lengths out of range): the parts read before the
  fault are answered with INVALID_REQUEST; the connection stays open.
- A frame over `max_request_bytes`: its first 64 KiB are kept, the rest drained unread, and the
  request answered from that prefix (a Produce with MESSAGE_TOO_LARGE, others INVALID_REQUEST).

SASL (`fireside.kafka.sasl`), when the listener has a `SaslGate`: SaslHandshake picks a
mechanism (UNSUPPORTED_SASL_MECHANISM otherwise), SaslAuthenticate carries the client's message
(ILLEGAL_SASL_STATE without a handshake first; SASL_AUTHENTICATION_FAILED when refused). As
Kafka does, a refusal is answered and the connection then closed, and on a listener that
requires authentication, any other request before it succeeds closes the connection unanswered.
A new handshake on an authenticated connection re-authenticates it (KIP-368), as the same
principal only. Sessions do not expire (`session_lifetime_ms` 0, as Kafka's default
`connections.max.reauth.ms`): aiokafka, which Lambda's poller uses, cannot re-authenticate.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from fireside.kafka.codec import DecodeError, Reader, Writer, decode, encode
from fireside.kafka.errors import Err
from fireside.kafka.fallback import error_response
from fireside.kafka.sasl import (
    MECHANISMS,
    SASL_AUTHENTICATE,
    SASL_HANDSHAKE,
    Principal,
    SaslFailure,
    SaslGate,
)
from fireside.kafka.schemas import API_VERSIONS, APIS, Api

__all__ = ["Handler", "KafkaServer"]

log = logging.getLogger(__name__)

Handler = Callable[[int, dict[str, Any]], Awaitable[dict[str, Any] | None]]
_SIZE = struct.Struct(">i")
#: Kafka's connections.max.idle.ms: a connection sending no request for this long is closed.
IDLE_TIMEOUT = 600.0
MAX_CONNECTIONS = 4096
_PREFIX = 64 * 1024
_PRODUCE = 0
#: Largest frame read before authenticating where it is required (Kafka's
#: sasl.server.max.receive.size): a stranger cannot make the broker buffer 100 MiB.
MAX_UNAUTHENTICATED_BYTES = 512 * 1024
#: What a connection may send before it authenticates on a listener that requires it.
_BEFORE_AUTH = frozenset({API_VERSIONS.key, SASL_HANDSHAKE.key, SASL_AUTHENTICATE.key})


class _Close(Exception):
    """The frame cannot be parsed at all: close the connection."""


class _Session:
    """One connection's SASL state."""

    __slots__ = ("close", "mechanism", "principal")

    def __init__(self) -> None:
        #: The mechanism a handshake chose, until SaslAuthenticate uses it.
        self.mechanism: str | None = None
        self.principal: Principal | None = None
        #: Answer this request, then close the connection (a refused authentication).
        self.close = False


class KafkaServer:
    def __init__(
        self,
        handlers: dict[int, Handler],
        *,
        max_request_bytes: int,
        gate: SaslGate | None = None,
    ) -> None:
        self.handlers = handlers
        #: Who may connect; None: no SASL, every client is served.
        self.gate = gate
        self.max_request_bytes = max_request_bytes
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self.port = 0

    async def listen(self, host: str, port: int) -> int:
        self._server = await asyncio.start_server(self._serve, host, port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def serve_forever(self) -> None:
        assert self._server is not None
        await self._server.serve_forever()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        peer = writer.get_extra_info("peername")
        if len(self._connections) > MAX_CONNECTIONS:
            log.warning("kafka: refusing %s: %d connections open", peer, MAX_CONNECTIONS)
            self._connections.discard(task)
            writer.close()
            return
        session = _Session()
        try:
            while True:
                try:
                    try:
                        head = await asyncio.wait_for(reader.readexactly(4), IDLE_TIMEOUT)
                    except TimeoutError:
                        return
                    (size,) = _SIZE.unpack(head)
                    if size < 8:
                        raise _Close(f"frame size {size}")
                    if size > MAX_UNAUTHENTICATED_BYTES and self._unauthenticated(session):
                        raise _Close(f"frame of {size} bytes before authenticating")
                    if size > self.max_request_bytes:
                        frame = await self._oversized(reader, size)
                    else:
                        frame = await reader.readexactly(size)
                    answer = await self._dispatch(
                        frame, oversized=size > self.max_request_bytes, peer=peer, session=session
                    )
                except asyncio.IncompleteReadError:
                    return
                except _Close as exc:
                    log.warning("kafka: closing %s: unparseable frame (%s)", peer, exc)
                    return
                if answer is not None:
                    writer.write(_SIZE.pack(len(answer)) + answer)
                    await writer.drain()
                if session.close:
                    return
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._connections.discard(task)
            writer.close()

    async def _oversized(self, reader: asyncio.StreamReader, size: int) -> bytes:
        prefix = await reader.readexactly(min(size, _PREFIX))
        left = size - len(prefix)
        while left > 0:
            chunk = await reader.read(min(left, 1 << 20))
            if not chunk:
                raise asyncio.IncompleteReadError(b"", left)
            left -= len(chunk)
        return prefix

    async def _dispatch(
        self, frame: bytes, *, oversized: bool, peer: Any, session: _Session | None = None
    ) -> bytes | None:
        session = session or _Session()
        r = Reader(frame)
        try:
            api_key, version, correlation = r.i16(), r.i16(), r.i32()
            client_id = r.string(False, nullable=True)
        except DecodeError as exc:
            raise _Close(str(exc)) from exc
        api = self._api(api_key)
        if self._unauthenticated(session) and api_key not in _BEFORE_AUTH:
            log.info("kafka: closing %s: API %d before authenticating", peer, api_key)
            session.close = True
            return None
        if api is None:
            log.info("kafka: unknown API key %d", api_key)
            return _SIZE.pack(correlation) + struct.pack(">hi", Err.UNSUPPORTED_VERSION, 0)
        if not api.lo <= version <= api.hi:
            if api is API_VERSIONS:
                return self._respond(
                    api, 0, correlation, self.api_versions(Err.UNSUPPORTED_VERSION)
                )
            clamped = min(max(version, api.lo), api.hi)
            return self._respond(api, clamped, correlation,
                                 error_response(api, clamped, {}, Err.UNSUPPORTED_VERSION))  # fmt: skip
        flexible = version >= api.flexible
        request: dict[str, Any] = {}
        try:
            if flexible:
                r.skip_tags()
            decode(r, api.request, version, flexible, request)
            if oversized:
                raise DecodeError("frame over the size cap")
        except DecodeError as exc:
            err = (
                Err.MESSAGE_TOO_LARGE if oversized and api_key == _PRODUCE else Err.INVALID_REQUEST
            )
            log.info("kafka: %s v%d: %s", api.name, version, exc)
            if api_key == _PRODUCE and request.get("acks") == 0:
                return None
            return self._respond(
                api, version, correlation, error_response(api, version, request, err)
            )
        if api is API_VERSIONS:
            return self._respond(api, version, correlation, self.api_versions(Err.NONE))
        if api is SASL_HANDSHAKE:
            return self._respond(api, version, correlation, self._handshake(request, session))
        if api is SASL_AUTHENTICATE:
            answer = self._sasl_authenticate(request, session, peer)
            return self._respond(api, version, correlation, answer)
        request["_client_id"] = client_id or ""
        request["_client_host"] = f"/{peer[0]}" if isinstance(peer, tuple) else ""
        handler = self.handlers.get(api_key)
        try:
            if handler is None:
                raise NotImplementedError(api.name)
            response = await handler(version, request)
        except Exception:
            log.exception("kafka: %s v%d failed", api.name, version)
            response = error_response(api, version, request, Err.UNKNOWN_SERVER_ERROR)
        if response is None:
            return None
        return self._respond(api, version, correlation, response)

    def _unauthenticated(self, session: _Session) -> bool:
        """The listener requires authentication and this connection has not passed it."""
        return self.gate is not None and self.gate.required and session.principal is None

    def _api(self, key: int) -> Api | None:
        if self.gate is not None and key in (SASL_HANDSHAKE.key, SASL_AUTHENTICATE.key):
            return SASL_HANDSHAKE if key == SASL_HANDSHAKE.key else SASL_AUTHENTICATE
        return APIS.get(key)

    def api_versions(self, error: Err) -> dict[str, Any]:
        served = [a for a in APIS.values() if a is API_VERSIONS or a.key in self.handlers]
        if self.gate is not None:
            served += [SASL_HANDSHAKE, SASL_AUTHENTICATE]
        keys = [{"api_key": a.key, "min_version": a.lo, "max_version": a.hi} for a in served]
        return {"error_code": error, "api_keys": keys, "throttle_time_ms": 0}

    # -- SASL ----------------------------------------------------------------------------------
    def _handshake(self, request: dict[str, Any], session: _Session) -> dict[str, Any]:
        mechanism = request.get("mechanism", "")
        if mechanism not in MECHANISMS:
            session.close = True
            return {"error_code": Err.UNSUPPORTED_SASL_MECHANISM, "mechanisms": list(MECHANISMS)}
        session.mechanism = mechanism
        return {"error_code": Err.NONE, "mechanisms": list(MECHANISMS)}

    def _sasl_authenticate(
        self, request: dict[str, Any], session: _Session, peer: Any
    ) -> dict[str, Any]:
        assert self.gate is not None
        mechanism, session.mechanism = session.mechanism, None
        if mechanism is None:
            session.close = True
            return {
                "error_code": Err.ILLEGAL_SASL_STATE,
                "error_message": "SaslAuthenticate request received before a SaslHandshake",
            }
        try:
            principal, answer = self.gate.authenticate(mechanism, request.get("auth_bytes", b""))
        except SaslFailure as refused:
            log.info("kafka: %s: %s authentication failed: %s", peer, mechanism, refused)
            session.close = True
            return {"error_code": Err.SASL_AUTHENTICATION_FAILED, "error_message": str(refused)}
        before = session.principal
        if before is not None and before.arn != principal.arn:
            session.close = True  # as Kafka: a re-authentication may not change the principal
            return {
                "error_code": Err.SASL_AUTHENTICATION_FAILED,
                "error_message": "Cannot change principals during re-authentication",
            }
        session.principal = principal
        log.info("kafka: %s authenticated as %s (%s)", peer, principal.arn, mechanism)
        return {"error_code": Err.NONE, "auth_bytes": answer, "session_lifetime_ms": 0}

    @staticmethod
    def _respond(api: Api, version: int, correlation: int, body: dict[str, Any]) -> bytes:
        w = Writer()
        w.i32(correlation)
        flexible = version >= api.flexible
        if flexible and api is not API_VERSIONS:  # ApiVersions answers with header v0, always
            w.uvarint(0)
        encode(w, api.response, body, version, flexible)
        return w.getvalue()
