"""Snapshot starts (SnapStart) for Python, inside the sandbox: one initialised process, forked
into as many execution environments as Fireside asks for.

The *template* is Fireside's bootstrap after Init (the handler imported, `before_snapshot`
hooks run). For each environment, Fireside sends it a request on the control socket with two
descriptors: a socket of that environment's own and the write end of its output pipe. The
template forks; the child gives itself new user, mount, network, PID, IPC and UTS namespaces
nested in the template's sandbox (so environments made from one template cannot see or reach
each other), a fresh sized `/tmp`, its own `/proc` and loopback, and forks the process that
becomes the environment (PID 1 of its namespace). That process drops every capability, loads
the strict seccomp filter and Landlock, sends its credentials (SCM_CREDENTIALS: the kernel
translates its pid into Fireside's view) and waits, parked, for the environment's variables
(Fireside keeps a spare parked ahead of need). Once Fireside serves its network it says so
(`{"network": true}`), and the runtime connects to its Runtime API ahead (`prepare`); when a
start takes it, it applies them, runs the `after_restore` hooks and serves invokes. The intermediate child waits for it and reports its exit status on the
environment's socket. The template freezes its garbage collector's objects before it forks,
so that no copy's collection writes to (and copies) every page of Init's heap.

Standard library and ctypes only: it runs on the function's interpreter, never importing
`fireside`.
"""

from __future__ import annotations

import array
import ctypes
import fcntl
import gc
import json
import os
import signal
import socket
import struct
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 0x2, 0x4, 0x8, 0x4000, 1 << 18
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
SIOCGIFFLAGS, SIOCSIFFLAGS, IFF_UP = 0x8913, 0x8914, 0x1
_CAPSET = {"x86_64": 126, "aarch64": 91}
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_IFREQ = struct.Struct("16sH14s")

_libc = ctypes.CDLL(None, use_errno=True)


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.c_void_p))


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _write(path: str, text: str) -> None:
    with open(path, "w") as file:
        file.write(text)


def _nest(tmp_bytes: int) -> None:
    """New namespaces for this process (and a PID namespace for its next child)."""
    uid, gid = os.getuid(), os.getgid()
    _check(_libc.unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
    _write("/proc/self/setgroups", "deny")
    _write("/proc/self/uid_map", f"{uid} {uid} 1")
    _write("/proc/self/gid_map", f"{gid} {gid} 1")
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    _check(_libc.unshare(flags), "unshare(namespaces)")
    _check(_libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "make / private")
    options = f"size={tmp_bytes},mode=1777".encode()
    _check(_libc.mount(b"tmpfs", b"/tmp", b"tmpfs", MS_NOSUID | MS_NODEV, options), "mount /tmp")


def _settle_inside() -> None:
    """In the new PID namespace (as its PID 1): its own /proc and a loopback that is up."""
    _check(
        _libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
        "mount /proc",
    )
    with socket.socket() as probe:
        flags = _IFREQ.unpack(fcntl.ioctl(probe, SIOCGIFFLAGS, _IFREQ.pack(b"lo", 0, b"")))[1]
        fcntl.ioctl(probe, SIOCSIFFLAGS, _IFREQ.pack(b"lo", flags | IFF_UP, b""))


def _drop_privileges(seccomp_program: bytes) -> None:
    """No capabilities left, no way to gain any, and the strict system call filter."""
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    header = struct.pack("Ii", _LINUX_CAPABILITY_VERSION_3, 0)
    data = bytes(24)  # two empty (effective, permitted, inheritable) sets
    number = _CAPSET.get(os.uname().machine)
    if number is None:
        raise OSError(f"no capset syscall number for {os.uname().machine}")
    _check(_libc.syscall(number, header, data), "capset")
    program = ctypes.create_string_buffer(seccomp_program)
    fprog = _SockFprog(len(seccomp_program) // 8, ctypes.cast(program, ctypes.c_void_p))
    _check(
        _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0),
        "prctl(SECCOMP)",
    )


def _receive(sock: socket.socket) -> tuple[dict[str, object], list[int]]:
    """One request: a JSON line and the descriptors that came with it."""
    fds = array.array("i")
    data, ancillary, _flags, _addr = sock.recvmsg(65536, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    if not data:
        raise EOFError
    return json.loads(data), list(fds)


def serve_forks(
    control: socket.socket,
    become_environment: Callable[[dict[str, str]], None],
    prepare: Callable[[], None] = lambda: None,
) -> None:
    """The template's loop: one forked environment per request, until Fireside closes.

    A request is JSON (`tmp_bytes`, and `seccomp`: the strict filter, in hex) with two
    descriptors: the environment's own socket and the write end of its output pipe. In a
    parked copy, `prepare()` runs once its network is served (before any variables)."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # intermediates are reaped by the kernel
    if os.environ.get("FIRESIDE_LANDLOCK") == "1":
        import fireside_landlock  # type: ignore[import-not-found]  # noqa: F401  # once, here

    # Init's garbage collected once, and what survives moved out of the collector's sight: a
    # collection in an environment would otherwise write to every object (copying each page
    # it shares with the template) before its first invoke.
    gc.collect()
    gc.freeze()
    while True:
        try:
            request, fds = _receive(control)
        except EOFError:
            os._exit(0)
        own, output = fds[0], fds[1]
        seccomp_program = bytes.fromhex(str(request["seccomp"]))
        if os.fork() == 0:
            control.close()
            _intermediate(request, own, output, seccomp_program, become_environment, prepare)
        os.close(own)
        os.close(output)


def _intermediate(
    request: dict[str, object],
    own_fd: int,
    output: int,
    seccomp_program: bytes,
    become_environment: Callable[[dict[str, str]], None],
    prepare: Callable[[], None],
) -> None:
    own = socket.socket(fileno=own_fd)
    status = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        tmp_bytes = int(str(request.get("tmp_bytes", 512 * 1024 * 1024)))
        _nest(tmp_bytes)
        child = os.fork()
        if child == 0:
            _environment(own, output, seccomp_program, become_environment, prepare)
        _, wait_status = os.waitpid(child, 0)
        status = os.waitstatus_to_exitcode(wait_status)
    except BaseException as exc:  # report, never fall back into the template's loop
        sys.stderr.write(f"fireside snapshot: could not make an environment: {exc}\n")
    try:
        own.sendall(json.dumps({"exit": status}).encode() + b"\n")
    finally:
        os._exit(0)


def _environment(
    own: socket.socket,
    output: int,
    seccomp_program: bytes,
    become_environment: Callable[[dict[str, str]], None],
    prepare: Callable[[], None],
) -> None:
    """A parked environment until Fireside sends its variables: everything that does not need
    them (its namespaces settled, every privilege dropped, the filter and Landlock loaded) is
    done before it reports ready, so a start that takes it has only the restore left."""
    try:
        _settle_inside()
        os.dup2(output, 1)
        os.dup2(output, 2)
        os.close(output)
        _drop_privileges(seccomp_program)
        if os.environ.get("FIRESIDE_LANDLOCK") == "1":
            import fireside_landlock  # type: ignore[import-not-found, unused-ignore]

            fireside_landlock.restrict()
        credentials = struct.pack("3i", os.getpid(), os.getuid(), os.getgid())
        own.sendmsg(
            [b'{"ready": true}\n'],
            [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, credentials)],
        )
        data, env = b"", None
        while env is None:
            chunk = own.recv(65536)
            if not chunk:
                os._exit(0)  # Fireside gave up on this environment
            data += chunk
            while env is None and b"\n" in data:
                line, data = data.split(b"\n", 1)
                message = json.loads(line)
                env = message.get("env")
                if message.get("network"):
                    prepare()  # its network is served: connect ahead
    except BaseException as exc:
        sys.stderr.write(f"fireside snapshot: could not restore an environment: {exc}\n")
        sys.stderr.flush()
        os._exit(1)
    own.close()
    become_environment(env)
    os._exit(0)
