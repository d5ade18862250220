"""The pieces behind AWS's hostnames in environments, without a sandbox: the installation's
certificate authority (`fireside.http.certificates`) checked by OpenSSL through Python's `ssl`
client, and the resolver (`fireside.dns`) answering real UDP queries on a loopback socket.
The whole path, inside sandboxes, is `test_aws_hostnames.py`."""

from __future__ import annotations

import asyncio
import os
import socket
import ssl
import struct
from pathlib import Path

import pytest

from fireside.dns import message
from fireside.dns.resolver import SandboxResolver
from fireside.http.certificates import CertificateAuthority, certificate_name, served_name


def _query(name: str, qtype: int = message.TYPE_A, ident: int = 0x1234) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + labels + struct.pack("!HH", qtype, 1)


def _answers(reply: bytes) -> tuple[int, int, list[str]]:
    """(id, rcode, A addresses) of a reply to one of `_query`'s questions."""
    ident, flags, _, count, _, _ = struct.unpack_from("!HHHHHH", reply)
    offset = 12
    while reply[offset]:
        offset += reply[offset] + 1
    offset += 5
    found = []
    for _ in range(count):
        _, kind, _, _, length = struct.unpack_from("!HHHIH", reply, offset)
        offset += 12
        if kind == message.TYPE_A:
            found.append(socket.inet_ntoa(reply[offset : offset + length]))
        offset += length
    return ident, flags & 0xF, found


def test_served_names() -> None:
    assert served_name("DynamoDB.us-east-1.amazonaws.com.") == "dynamodb.us-east-1.amazonaws.com"
    assert served_name("abc.execute-api.cn-north-1.amazonaws.com.cn") is not None
    assert served_name("x.lambda-url.us-east-1.localhost") is not None
    for other in ("example.com", "amazonaws.com.evil.org", "notamazonaws.com", "a..amazonaws.com",
                  "-x.amazonaws.com", "x" * 64 + ".amazonaws.com", ""):  # fmt: skip
        assert served_name(other) is None, other


def test_authority_is_made_once_and_kept(tmp_path: Path) -> None:
    first = CertificateAuthority(tmp_path / "tls")
    assert (tmp_path / "tls" / "ca-key.pem").stat().st_mode & 0o777 == 0o600
    again = CertificateAuthority(tmp_path / "tls")
    assert again.pem == first.pem
    (tmp_path / "tls" / "ca-key.pem").write_text("damaged")
    assert CertificateAuthority(tmp_path / "tls").pem != first.pem


def _handshakes(authority: CertificateAuthority, cafile: Path, names: list[str]) -> list[str]:
    """For each name, the DNS name of the certificate a TLS client verified by OpenSSL was
    shown, or the error that ended its handshake."""
    client = ssl.create_default_context(cafile=str(cafile))

    async def main() -> list[str]:
        async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=authority.server_context())
        port = server.sockets[0].getsockname()[1]
        outcomes = []
        for name in names:
            try:
                _, writer = await asyncio.open_connection(
                    "127.0.0.1", port, ssl=client, server_hostname=name
                )
                outcomes.append(dict(writer.get_extra_info("peercert")["subjectAltName"])["DNS"])
                writer.close()
            except (ssl.SSLError, ConnectionError) as exc:
                outcomes.append(type(exc).__name__)
        server.close()
        return outcomes

    return asyncio.run(main())


def test_leaf_per_name_verified_by_openssl(tmp_path: Path) -> None:
    authority = CertificateAuthority(tmp_path / "tls")
    authority.write_trust(tmp_path / "trust")
    bundle = (tmp_path / "trust" / "ca-bundle.pem").read_bytes()
    assert bundle.endswith(authority.pem) and len(bundle) > len(authority.pem)  # host roots too
    minted = authority.minted
    outcomes = _handshakes(
        authority,
        tmp_path / "trust" / "ca.pem",
        ["dynamodb.us-east-1.amazonaws.com", "a1b2.execute-api.eu-west-1.amazonaws.com",
         "c3d4.execute-api.eu-west-1.amazonaws.com", "sts.amazonaws.com", "example.com"],
    )  # fmt: skip
    assert outcomes[:4] == [
        "*.us-east-1.amazonaws.com",
        "*.execute-api.eu-west-1.amazonaws.com",
        "*.execute-api.eu-west-1.amazonaws.com",  # one certificate for every API id
        "sts.amazonaws.com",
    ]
    assert outcomes[4] in ("SSLError", "ConnectionResetError"), outcomes  # refused, not minted
    assert authority.minted == minted + 3


def test_minting_is_rate_limited(tmp_path: Path) -> None:
    """A client cycling through made-up names gets a burst of certificates, then refusals:
    minting runs on Fireside's event loop. Names already minted are still served."""
    authority = CertificateAuthority(tmp_path / "tls")
    authority.write_trust(tmp_path / "trust")
    names = [f"x.p{i}.amazonaws.com" for i in range(64)] + ["x.p0.amazonaws.com"]
    outcomes = _handshakes(authority, tmp_path / "trust" / "ca.pem", names)
    served = [o for o in outcomes[:-1] if o.startswith("*.")]
    assert 32 <= len(served) < 64, outcomes
    assert outcomes[-1] == "*.p0.amazonaws.com"


def test_certificate_names() -> None:
    assert certificate_name("dynamodb.us-east-1.amazonaws.com") == "*.us-east-1.amazonaws.com"
    assert certificate_name("b.s3.amazonaws.com") == "*.s3.amazonaws.com"
    assert certificate_name("sts.amazonaws.com") == "sts.amazonaws.com"
    assert (
        certificate_name("x.lambda-url.us-east-1.localhost") == "*.lambda-url.us-east-1.localhost"
    )
    assert certificate_name("localhost") == "localhost"


@pytest.mark.parametrize("egress", [False, True])
def test_resolver_answers_served_names_and_forwards_the_rest(egress: bool) -> None:
    async def main() -> list[tuple[int, int, list[str]]]:
        # A stand-in upstream on loopback: answers every forwarded query with 192.0.2.7.
        loop = asyncio.get_running_loop()
        seen: list[int] = []

        class Upstream(asyncio.DatagramProtocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                query = message.parse_query(data)
                assert query is not None
                seen.append(query.id)
                reply = message.answer(query, "192.0.2.7")
                self.transport.sendto(reply, addr)  # type: ignore[attr-defined]

        upstream_transport, _ = await loop.create_datagram_endpoint(
            Upstream, local_addr=("127.0.0.1", 0)
        )
        upstream_port = upstream_transport.get_extra_info("sockname")[1]

        listening = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        listening.bind(("127.0.0.1", 0))
        listening.setblocking(False)
        upstream = (lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) if egress else None
        resolver = await SandboxResolver.serve(
            listening, "127.0.0.1", upstream, ("127.0.0.1", upstream_port)
        )
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.setblocking(False)
        client.connect(listening.getsockname())
        replies = []
        for name, qtype, ident in (
            ("dynamodb.us-east-1.amazonaws.com", message.TYPE_A, 1),
            ("dynamodb.us-east-1.amazonaws.com", message.TYPE_AAAA, 2),
            ("x.localhost", message.TYPE_A, 3),
            ("example.com", message.TYPE_A, 4),
        ):
            await loop.sock_sendall(client, _query(name, qtype, ident))
            replies.append(_answers(await asyncio.wait_for(loop.sock_recv(client, 512), 5)))
        resolver.close()
        upstream_transport.close()
        client.close()
        assert len(seen) == (1 if egress else 0)
        assert 4 not in seen  # forwarded under an id of the resolver's own
        return replies

    replies = asyncio.run(main())
    assert replies[0] == (1, 0, ["127.0.0.1"])
    assert replies[1] == (2, 0, [])  # AAAA: no record, so clients use the A
    assert replies[2] == (3, 0, ["127.0.0.1"])
    assert replies[3] == ((4, 0, ["192.0.2.7"]) if egress else (4, 5, []))  # 5: REFUSED


def test_malformed_datagrams_are_ignored() -> None:
    for data in (b"", b"\0" * 11, _query("a.amazonaws.com")[:-3], os.urandom(3)):
        assert message.parse_query(data) is None
    reply = message.answer(message.parse_query(_query("a.amazonaws.com")), "10.0.2.2")  # type: ignore[arg-type]
    assert message.parse_query(reply) is None  # a response is not a query


def test_resolver_answers_servfail_when_the_upstream_cannot_be_reached() -> None:
    """A namespace whose way out fails (its slirp4netns gone, a prohibited route) gets
    SERVFAIL for forwarded names, at once; Fireside's names are still answered."""

    def no_route() -> socket.socket:
        raise PermissionError(13, "prohibited")

    async def main() -> list[tuple[int, int, list[str]]]:
        loop = asyncio.get_running_loop()
        listening = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        listening.bind(("127.0.0.1", 0))
        listening.setblocking(False)
        resolver = await SandboxResolver.serve(listening, "10.0.2.2", no_route)
        client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        client.setblocking(False)
        client.connect(listening.getsockname())
        replies = []
        for name, ident in (("example.com", 7), ("sts.amazonaws.com", 8)):
            await loop.sock_sendall(client, _query(name, ident=ident))
            replies.append(_answers(await asyncio.wait_for(loop.sock_recv(client, 512), 5)))
        resolver.close()
        client.close()
        return replies

    assert asyncio.run(main()) == [(7, 2, []), (8, 0, ["10.0.2.2"])]  # 2: SERVFAIL
