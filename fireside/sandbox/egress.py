"""What a sandbox's way out may reach: public addresses only, unless private ones are allowed.

Egress leaves an environment's network namespace through slirp4netns, which connects on the
host's behalf: without a filter a function reaches whatever the host reaches, including cloud
metadata (169.254.169.254), the host's own addresses, its LANs and every private network. So
each namespace with egress gets routes of type `prohibit` for those destinations, added by
Fireside over netlink before any function code runs: `connect` (and `sendto`) to them fails at
once with EACCES, in the namespace's own kernel, before a packet reaches slirp4netns.

Why routes and not a firewall: a network namespace is Fireside's to configure; routes need no
nftables or iptables binary (the host may have neither) nor kernel modules, and they hold for
every backend, since the namespace is the one runsc's host network and QEMU's user-mode
network use too. The function cannot remove them: it has no capabilities over its network
namespace (bubblewrap drops them, the seccomp filter denies `unshare`/`setns`, gVisor's and
QEMU's guests never see the host namespace's routing table).

slirp4netns's own network (10.0.2.0/24: its gateway, with `--disable-host-loopback`, and its
DNS forwarder at 10.0.2.3) is a more specific connected route and keeps working. IPv6 has no
route out at all (slirp4netns runs without `--enable-ipv6`; QEMU's slirp with `ipv6=off`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import socket
import struct

__all__ = ["PRIVATE_RANGES", "blocked_networks", "host_networks", "prohibit_routes"]

#: Reached only with private egress allowed (`fireside:egress=private`, or server-wide
#: `FIRESIDE_EGRESS_PRIVATE=allow`): link-local (cloud metadata), RFC 1918, carrier-grade NAT.
PRIVATE_RANGES = (
    "169.254.0.0/16",
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "100.64.0.0/10",
)

# rtnetlink (linux/netlink.h, linux/rtnetlink.h).
_RTM_NEWROUTE = 24
_NLM_F_REQUEST, _NLM_F_ACK, _NLM_F_EXCL, _NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
_NLMSG_ERROR = 2
_RT_TABLE_MAIN, _RTPROT_STATIC, _RT_SCOPE_UNIVERSE, _RTN_PROHIBIT = 254, 4, 0, 8
_RTA_DST = 1
_NLMSGHDR = struct.Struct("=IHHII")
_RTMSG = struct.Struct("=BBBBBBBBI")
_RTATTR = struct.Struct("=HH")


def host_networks() -> list[ipaddress.IPv4Network]:
    """The host's own IPv4 addresses (its `local` routes) and the networks it is directly
    attached to (its `link` routes: neighbours on its LANs), read in the calling thread's
    network namespace: call it from a thread that never enters a sandbox's."""
    try:
        with open("/proc/thread-self/net/fib_trie") as trie:
            lines = trie.read().splitlines()
    except OSError:
        return []
    found: set[ipaddress.IPv4Network] = set()
    for previous, line in itertools.pairwise(lines):
        fields = line.split()
        if len(fields) == 3 and fields[1:] in (["host", "LOCAL"], ["link", "UNICAST"]):
            network = ipaddress.IPv4Network(f"{previous.split()[-1]}{fields[0]}", strict=False)
            if not network.is_loopback:  # a namespace's 127/8 is its own loopback
                found.add(network)
    return sorted(found)


def blocked_networks(allow_private: bool) -> list[ipaddress.IPv4Network]:
    """What an environment must not reach: nothing more than the host's loopback (which
    slirp4netns already refuses) when private egress is allowed; else private ranges, the
    host's addresses and its LANs, collapsed (a host address inside a range adds nothing)."""
    if allow_private:
        return []
    networks = [ipaddress.IPv4Network(cidr) for cidr in PRIVATE_RANGES]
    return list(ipaddress.collapse_addresses([*networks, *host_networks()]))


def prohibit_routes(sock: socket.socket, networks: list[ipaddress.IPv4Network]) -> None:
    """Add a `prohibit` route for each network, over `sock` (a NETLINK_ROUTE socket made in
    the namespace to configure; closed here). Blocking."""
    with contextlib.closing(sock):
        if not networks:
            return
        sock.bind((0, 0))
        batch = b"".join(_new_route(seq, net) for seq, net in enumerate(networks, start=1))
        sock.sendall(batch)
        pending = set(range(1, len(networks) + 1))
        while pending:
            _read_acks(sock.recv(65536), pending)


def _new_route(seq: int, network: ipaddress.IPv4Network) -> bytes:
    destination = network.network_address.packed
    attribute = _RTATTR.pack(_RTATTR.size + len(destination), _RTA_DST) + destination
    body = _RTMSG.pack(
        socket.AF_INET, network.prefixlen, 0, 0, _RT_TABLE_MAIN, _RTPROT_STATIC,
        _RT_SCOPE_UNIVERSE, _RTN_PROHIBIT, 0,
    ) + attribute  # fmt: skip
    flags = _NLM_F_REQUEST | _NLM_F_ACK | _NLM_F_CREATE | _NLM_F_EXCL
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), _RTM_NEWROUTE, flags, seq, 0) + body


def _read_acks(data: bytes, pending: set[int]) -> None:
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, kind, _flags, seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if kind == _NLMSG_ERROR:
            (error,) = struct.unpack_from("=i", data, offset + _NLMSGHDR.size)
            if error != 0:
                raise OSError(-error, f"adding a prohibit route: {os.strerror(-error)}")
            pending.discard(seq)
        offset += (length + 3) & ~3
