"""Listener ports: each ALB listener is a real socket on Fireside's listen host, served by
Fireside's own HTTP server (`fireside.http.server`), over TLS for HTTPS listeners.

An HTTPS listener's certificate: a `CertificateArn` of the form `file:///path/cert.pem` is
read from that file (the certificate chain and its key in one PEM file, or the key beside it
as `cert.key`); any other ARN (an ACM certificate's) gets a certificate from the
installation's own authority (`fireside.http.certificates`), minted for the name the client
asks for (SNI; `*.elb.localhost`, `localhost`), which clients trust through `tls/ca.pem` in the
data directory. A port that cannot be bound (in use, privileged) is refused with
`InvalidConfigurationRequest` naming the reason. Listeners re-open when the server starts
(`reopen`); one that cannot is logged and left closed until it is modified or the next start.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path

from fireside.elb.payload import MAX_BODY
from fireside.elb.state import ElbState, Resource, elb_error
from fireside.http.certificates import CertificateAuthority
from fireside.http.limits import HttpLimits
from fireside.http.server import HttpServer
from fireside.http.types import Request, Response

__all__ = ["ListenerPorts"]

log = logging.getLogger(__name__)

#: (listener ARN, request) -> response: the data plane (`fireside.elb.door`).
ListenerHandler = Callable[[str, Request], Awaitable[Response]]
_BODY_SLACK = 64 * 1024  # the door answers an over-limit body itself, with ALB's 413


class ListenerPorts:
    def __init__(
        self,
        host: str,
        handler: ListenerHandler,
        tls_directory: Path,
        limits: HttpLimits | None = None,
    ) -> None:
        self.host = "127.0.0.1" if host in ("", "0.0.0.0") else host
        self.bind_host = host or "0.0.0.0"
        self._handler = handler
        self._tls_directory = tls_directory
        self._authority: CertificateAuthority | None = None
        self._limits = HttpLimits.from_mapping(
            {"max_body": MAX_BODY + _BODY_SLACK}, limits or HttpLimits()
        )
        self._servers: dict[str, HttpServer] = {}

    def _tls(self, certificate_arn: str) -> ssl.SSLContext:
        if certificate_arn.startswith("file://"):
            path = Path(certificate_arn[len("file://") :])
            key = path.with_suffix(".key")
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.set_alpn_protocols(["http/1.1"])
            try:
                context.load_cert_chain(path, key if key.exists() else None)
            except (OSError, ssl.SSLError) as error:
                raise elb_error(
                    "CertificateNotFound",
                    f"Certificate '{certificate_arn}' not found: {error}",
                ) from None
            return context
        if self._authority is None:
            self._authority = CertificateAuthority(self._tls_directory)
        return self._authority.server_context()

    def _bind(self, port: int) -> socket.socket:
        family = socket.AF_INET6 if ":" in self.bind_host else socket.AF_INET
        try:
            sock = socket.create_server((self.bind_host, port), family=family, backlog=1024)
        except OSError as error:
            raise elb_error(
                "InvalidConfigurationRequest",
                f"Fireside cannot listen on {self.bind_host}:{port} for this listener:"
                f" {os.strerror(error.errno) if error.errno else error}",
            ) from None
        sock.setblocking(False)
        return sock

    async def open(self, listener: Resource) -> None:
        data = listener.data
        tls = None
        if data["Protocol"] == "HTTPS":
            tls = self._tls(data["Certificates"][0]["CertificateArn"])
        sock = self._bind(int(data["Port"]))
        server = HttpServer(functools.partial(self._handler, listener.arn), limits=self._limits)
        try:
            await server.adopt(sock, tls)
        except BaseException:
            sock.close()
            raise
        self._servers[listener.arn] = server

    async def close(self, listener_arn: str) -> None:
        server = self._servers.pop(listener_arn, None)
        if server is not None:
            await server.close()

    async def reopen(self, state: ElbState) -> None:
        """Open every stored listener (at start-up)."""
        for listener in [r for r in state.resources.values() if r.kind == "listener"]:
            try:
                await self.open(listener)
            except Exception as error:
                log.error("could not re-open ALB listener %s: %s", listener.arn, error)

    async def close_all(self) -> None:
        for arn in list(self._servers):
            await self.close(arn)

    def is_open(self, listener_arn: str) -> bool:
        return listener_arn in self._servers
