"""AWS's own hostnames inside an execution environment: they reach Fireside, over TLS.

Real code builds endpoints itself (`https://${apiId}.execute-api.${region}.amazonaws.com/...`
for API Gateway's @connections, a `dynamodb.<region>.amazonaws.com` client, an SDK that predates
`AWS_ENDPOINT_URL`). In every backend with a private network (namespace, gvisor, microvm), each
environment gets, on its own network, beside the Runtime API and Fireside's endpoint:

- a DNS resolver on port 53 (`fireside.dns.resolver`), named by the environment's
  `/etc/resolv.conf`, answering AWS's names and `*.localhost` with Fireside's address there;
- Fireside's edge over TLS on port 443, with a certificate per name from the installation's
  authority (`fireside.http.certificates`), and over plain HTTP on port 80;
- variables telling every runtime to trust that authority (`trust_environment`).

The requests then route as any other: by SigV4 scope, `X-Amz-Target` and path. The `process`
backend shares the host's network and resolver, so none of this applies there: its functions
reach Fireside through `AWS_ENDPOINT_URL` only.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fireside.dns.resolver import SandboxResolver
from fireside.sandbox import Sandbox
from fireside.sandbox.netns import listen_on

__all__ = ["HTTPS_PORT", "HTTP_PORT", "AwsNames", "trust_environment"]

HTTPS_PORT, HTTP_PORT = 443, 80
#: Where, under the runtime directory every isolating backend mounts, the trust files are.
TRUST_DIR = "trust"

Closer = Callable[[], Awaitable[None]]


def trust_environment(runtime_dir: str) -> dict[str, str]:
    """The variables that make every runtime trust Fireside's authority (as well as the
    host's roots): OpenSSL's default file (Python's `ssl`, Ruby, curl), requests', botocore's,
    and Node's extra roots (Node ignores SSL_CERT_FILE unless told to use OpenSSL's store)."""
    bundle = f"{runtime_dir}/{TRUST_DIR}/ca-bundle.pem"
    return {
        "SSL_CERT_FILE": bundle,
        "REQUESTS_CA_BUNDLE": bundle,
        "AWS_CA_BUNDLE": bundle,
        "NODE_EXTRA_CA_CERTS": f"{runtime_dir}/{TRUST_DIR}/ca.pem",
    }


@dataclass(slots=True)
class AwsNames:
    """Serves AWS's names to environments: `adopt` serves Fireside's edge on a listening
    socket (over TLS with a context), `tls` is the authority's server context."""

    adopt: Callable[[socket.socket, ssl.SSLContext | None], Awaitable[Closer]]
    tls: ssl.SSLContext

    async def serve(self, sandbox: Sandbox, address: str, egress: bool) -> Closer:
        """Start serving `sandbox`'s network; returns what stops it. `address` is where the
        environment reaches Fireside; with `egress` other names are resolved upstream."""
        closers: list[Closer] = []
        try:
            for port, tls in ((HTTPS_PORT, self.tls), (HTTP_PORT, None)):
                closers.append(await self.adopt(_listening(sandbox, port), tls))
            resolver = await SandboxResolver.serve_inside(sandbox.network_socket, address, egress)
        except BaseException:
            for closer in closers:
                await closer()
            raise

        async def stop() -> None:
            resolver.close()
            for closer in closers:
                await closer()

        return stop


async def serve_template_resolver(sandbox: Sandbox, egress: bool) -> Callable[[], None]:
    """A snapshot template's Init resolves names as its copies will: the resolver only (its
    copies, each on a network of its own, are served the rest)."""
    resolver = await SandboxResolver.serve_inside(sandbox.network_socket, "127.0.0.1", egress)
    return resolver.close


def _listening(sandbox: Sandbox, port: int) -> socket.socket:
    return listen_on(sandbox.network_socket(socket.SOCK_STREAM), port)
