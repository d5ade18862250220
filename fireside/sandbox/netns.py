"""Network namespaces: how Fireside serves sockets inside a sandbox's network and routes it out.

Every environment (namespace, gvisor, microvm, forked) has a network namespace of its own.
Fireside opens the Runtime API and the environment's endpoint *inside* it from its own event
loop thread, by entering the namespace just long enough to bind (`listen_inside`), and gives
it a route out, when egress is on, through slirp4netns (`connect_network`).
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import subprocess
import time
from pathlib import Path

from fireside.sandbox import egress, lifeline

__all__ = [
    "connect_network",
    "listen_inside",
    "new_network",
    "resolver_conf",
    "setns_net",
    "socket_in",
    "sockets_in",
    "unshare_net",
]

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
_libc = ctypes.CDLL(None, use_errno=True)


def connect_network(
    slirp: str,
    netns_path: str,
    wait_for_pid: int | None,
    *,
    owner: str,
    allow_private: bool = False,
) -> subprocess.Popen[bytes]:
    """Give a network namespace a route out through slirp4netns (a user-mode TCP/IP stack: no
    bridge, no NAT rules, no access to the host's loopback), to public addresses only unless
    `allow_private` (`fireside.sandbox.egress`). It ends when the server does (`--exit-fd`),
    and carries the `owner` instance's marker for the next start's sweep (`lifeline`).
    Blocking: run in a thread."""
    blocked = egress.blocked_networks(allow_private)  # in this thread: the host's namespace
    if wait_for_pid is not None:
        _wait_for_loopback(wait_for_pid)
    ready_r, ready_w = os.pipe()
    server_alive = lifeline.exit_fd()
    try:
        network = subprocess.Popen(
            # By path, not pid: given a pid, slirp4netns joins that process's (nested,
            # --disable-userns) user namespace and then may not enter its network.
            [slirp, "--configure", "--mtu=65520", "--disable-host-loopback",
             "--netns-type=path", "--ready-fd", str(ready_w), "--exit-fd", str(server_alive),
             netns_path, "tap0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            pass_fds=(ready_w, server_alive), start_new_session=True,
            env=lifeline.helper_env(owner),
        )  # fmt: skip
        os.close(ready_w)
        ready_w = -1
        if os.read(ready_r, 1) != b"1":
            network.kill()
            _, errors = network.communicate()
            detail = errors.decode(errors="replace").strip()[-500:]
            raise OSError(f"slirp4netns could not configure the environment's network: {detail}")
        assert network.stderr is not None
        network.stderr.close()  # nothing more to read; it must never block on a full pipe
        try:
            egress.prohibit_routes(socket_in(netns_path, *_NETLINK_ROUTE), blocked)
        except BaseException:
            network.kill()
            network.wait()
            raise
        return network
    finally:
        os.close(ready_r)
        if ready_w >= 0:
            os.close(ready_w)


def _net_syscall(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def setns_net(fd: int) -> None:
    """Move the calling thread into the network namespace behind `fd`."""
    _net_syscall(_libc.setns(fd, CLONE_NEWNET), "setns(CLONE_NEWNET)")


def unshare_net() -> None:
    """Move the calling thread into a new, empty network namespace."""
    _net_syscall(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")


_NETLINK_ROUTE = (socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)


def socket_in(netns_path: str, family: int, kind: int, proto: int = 0) -> socket.socket:
    """A new socket in the network namespace at `netns_path` (a socket keeps the namespace it
    was made in); the calling thread returns to its own namespace."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns_net(target)
        try:
            return socket.socket(family, kind, proto)
        finally:
            setns_net(own)  # the event loop thread must never stay in a sandbox's network
    finally:
        os.close(own)
        os.close(target)


def sockets_in(netns_path: str, kinds: list[int]) -> list[socket.socket]:
    """New IPv4 sockets of `kinds` in the network namespace at `netns_path`, made in one trip
    into it (`socket_in` makes one per trip)."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    made: list[socket.socket] = []
    try:
        setns_net(target)
        try:
            for kind in kinds:
                made.append(socket.socket(socket.AF_INET, kind))
        except BaseException:
            for sock in made:
                sock.close()
            raise
        finally:
            setns_net(own)  # the event loop thread must never stay in a sandbox's network
    finally:
        os.close(own)
        os.close(target)
    return made


def listen_on(sock: socket.socket, port: int) -> socket.socket:
    """`sock` (a TCP socket made in some namespace) listening on 127.0.0.1:`port`, non-blocking;
    closed if that fails."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


def listen_inside(pid: int, port: int) -> socket.socket:
    """A socket listening on 127.0.0.1:`port` in the network namespace of process `pid`."""
    return listen_on(socket_in(f"/proc/{pid}/ns/net", socket.AF_INET, socket.SOCK_STREAM), port)


def _wait_for_loopback(child_pid: int, timeout: float = 2.0) -> None:
    """Wait until bubblewrap has configured the sandbox's loopback.

    bubblewrap sets up `lo` over netlink after it reports the child's pid; a second netlink
    client configuring the same namespace meanwhile (slirp4netns) makes its RTM_NEWADDR fail.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{child_pid}/net/fib_trie", "rb") as trie:
                if b"127.0.0.1" in trie.read():
                    return
        except OSError:
            return  # the sandbox is gone: starting slirp4netns will report it
        time.sleep(0.001)


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(sock, SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14s", b"lo", flags | IFF_UP, b""))


def new_network(ports: list[int]) -> tuple[int, dict[int, socket.socket]]:
    """A fresh network namespace (loopback up) and sockets listening on its 127.0.0.1:ports.

    Runs on the event loop thread, which enters the namespace and always returns to its own.
    """
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    sockets: dict[int, socket.socket] = {}
    try:
        unshare_net()
        try:
            netns = os.open("/proc/thread-self/ns/net", os.O_RDONLY)  # named as /proc/<pid>/fd/N
            _loopback_up()
            for port in ports:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind(("127.0.0.1", port))
                sock.listen(64)
                sock.setblocking(False)
                sockets[port] = sock
        finally:
            setns_net(own)
    except BaseException:
        for sock in sockets.values():
            sock.close()
        raise
    finally:
        os.close(own)
    return netns, sockets


def resolver_conf(root: Path, address: str) -> Path:
    """A resolv.conf naming the resolver Fireside serves on each environment's network
    (`fireside.dns.resolver`), written under `root` for backends to bind."""
    path = root / f"resolv-{address}.conf"
    path.write_text(f"nameserver {address}\noptions timeout:2 attempts:2\n")
    os.chmod(path, 0o644)
    return path
