"""Listener ports: each ALB listener is a real socket on Fireside's listen host, served by
Fireside's own HTTP server (`fireside.http.server`), over TLS for HTTPS listeners.

An HTTPS listener's certificate: a `CertificateArn` of the form `file:///path/cert.pem` is
read from that file (the certificate chain and its key in one PEM file, or the key beside it
as `cert.key`); any other ARN (an ACM certificate's) gets a certificate from the
installation's own authority (`fireside.http.certificates`), minted for the name the client
asks for (SNI; `*.elb.localhost`, `localhost`), which clients trust through `tls/ca.pem` in the
data directory. A port that cannot be bound (in use, privileged) is refused with
`InvalidConfigurationRequest` naming the reason. Load balancers share a port as they share
AWS's front ends: listeners of several load balancers on one port (same protocol and
certificate) are told apart by the `Host` a request names (the load balancer's DNS name);
a request naming none of them goes to the listener opened first there. Listeners re-open when the server starts
(`reopen`); one that cannot is logged and left closed until it is modified or the next start.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
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


@dataclass(slots=True)
class _Port:
    """One bound port and the listeners (of any load balancers) served on it."""

    server: HttpServer
    protocol: str
    certificate: str | None
    #: Listener ARNs in the order they were opened; the first takes unmatched hosts.
    listeners: list[str] = field(default_factory=list)
    #: A load balancer's DNS name -> its listener on this port.
    by_host: dict[str, str] = field(default_factory=dict)


class ListenerPorts:
    def __init__(
        self,
        host: str,
        handler: ListenerHandler,
        tls_directory: Path,
        limits: HttpLimits | None = None,
        dns_name: Callable[[Resource], str] | None = None,
    ) -> None:
        self.bind_host = host or "0.0.0.0"
        self._handler = handler
        self._dns_name = dns_name or (lambda listener: "")
        self._tls_directory = tls_directory
        self._authority: CertificateAuthority | None = None
        self._limits = HttpLimits.from_mapping(
            {"max_body": MAX_BODY + _BODY_SLACK}, limits or HttpLimits()
        )
        self._ports: dict[int, _Port] = {}
        self._port_of: dict[str, int] = {}

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
        """Serve `listener` on its port: bound now, or shared with the listeners of other
        load balancers already there (same protocol and certificate), told apart by `Host`."""
        data = listener.data
        port = int(data["Port"])
        certificate = (
            data["Certificates"][0]["CertificateArn"] if data["Protocol"] == "HTTPS" else None
        )
        shared = self._ports.get(port)
        if shared is not None:
            if (shared.protocol, shared.certificate) != (data["Protocol"], certificate):
                raise elb_error(
                    "InvalidConfigurationRequest",
                    f"Port {port} is served by another load balancer's listener with another"
                    " protocol or certificate",
                )
        else:
            tls = self._tls(certificate) if certificate is not None else None
            sock = self._bind(port)
            server = HttpServer(functools.partial(self._dispatch, port), limits=self._limits)
            try:
                await server.adopt(sock, tls)
            except BaseException:
                sock.close()
                raise
            shared = self._ports[port] = _Port(server, data["Protocol"], certificate)
        shared.listeners.append(listener.arn)
        host = self._dns_name(listener)
        if host:
            shared.by_host[host] = listener.arn
        self._port_of[listener.arn] = port

    async def _dispatch(self, port: int, request: Request) -> Response:
        shared = self._ports[port]
        listeners = shared.listeners
        if len(listeners) > 1:
            host = request.headers.get("host", "").rpartition(":")[0] or request.headers.get(
                "host", ""
            )
            chosen = shared.by_host.get(host.lower())
            if chosen is not None:
                return await self._handler(chosen, request)
        return await self._handler(listeners[0], request)

    async def close(self, listener_arn: str) -> None:
        port = self._port_of.pop(listener_arn, None)
        if port is None:
            return
        shared = self._ports[port]
        shared.listeners.remove(listener_arn)
        for host in [h for h, arn in shared.by_host.items() if arn == listener_arn]:
            del shared.by_host[host]
        if not shared.listeners:
            del self._ports[port]
            await shared.server.close()

    async def reopen(self, state: ElbState) -> None:
        """Open every stored listener (at start-up)."""
        for listener in [r for r in state.resources.values() if r.kind == "listener"]:
            try:
                await self.open(listener)
            except Exception as error:
                log.error("could not re-open ALB listener %s: %s", listener.arn, error)

    async def close_all(self) -> None:
        for arn in list(self._port_of):
            await self.close(arn)
