"""Snapshot starts for the namespace backend: environments forked from an initialised template.

A *template* is a namespace sandbox whose Python runtime ran the function's Init once and then
waits for requests (`fireside_snapshot`, inside). Unlike an environment's sandbox, bubblewrap
lets it create nested user namespaces and its seccomp filter allows `unshare` and `mount`:
its children need both to give themselves namespaces of their own. Every environment forked
from it drops all capabilities and loads the full filter (plus a ban on new user namespaces)
and Landlock before any invoke, so what runs an invoke is contained as in any environment.

Each environment made from a template is an `ForkedSandbox`: its process is PID 1 of its own
PID namespace (so a kill takes everything it started), with its own network namespace, where
Fireside opens the Runtime API and its endpoint as for any environment, its own cgroup (memory,
CPU and process limits; pages it shares with the template stay charged to the template), its
own `/tmp`, and its own output pipe. The kernel tells Fireside its host pid (SCM_CREDENTIALS).
Its network's listeners are made while it is parked, and it is told so (`announce_network`):
its runtime connects to its Runtime API then, and the connection waits in the listener's
backlog until a start serves it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import select
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Awaitable, Callable

from fireside.sandbox import limits
from fireside.sandbox.base import Sandbox
from fireside.sandbox.netns import listen_inside, listen_on, socket_in, sockets_in

log = logging.getLogger(__name__)

FORK_TIMEOUT = 10.0  # seconds a template gets to hand over a new environment
_UCRED = struct.Struct("3i")


class TemplateError(Exception):
    """The template cannot make environments (Init failed, it died, it did not answer)."""


_PF_EXITING = 0x4  # a task's flags (/proc/<pid>/stat): it has begun to exit


def _exiting(pid: int) -> bool:
    """Whether `pid` is on its way out: its SIGKILL is no longer pending once taken, and a
    namespace's PID 1 stays in its exit, its pidfd not yet readable, until the rest of its
    namespace is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return bool(int(fields[6]) & _PF_EXITING) or fields[0] in (b"Z", b"X")
    except (OSError, IndexError, ValueError):
        return True


class ForkedSandbox(Sandbox):
    def __init__(
        self,
        pid: int,
        output_fd: int,
        own: socket.socket,
        group: limits.ResourceGroup,
        env: dict[str, str] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.pid = pid
        self._on_close = on_close
        self.output_fd = output_fd
        self._own = own
        self._group = group
        self._env = env
        self._sockets: list[socket.socket] = []
        #: Made ahead while it is parked (`prepare_sockets`): listeners by port, and unbound
        #: sockets by kind.
        self._listeners: dict[int, socket.socket] = {}
        self._spare_sockets: dict[int, list[socket.socket]] = {}
        self.network: subprocess.Popen[bytes] | None = None
        #: Stops what `SandboxSpec.serve_network` served on its network while it was parked.
        self.serving: Callable[[], Awaitable[None]] | None = None
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._buffer = b""
        #: Readable once the process has exited (its exit report may still be on its way).
        self._pidfd: int | None = None
        with contextlib.suppress(OSError):
            self._pidfd = os.pidfd_open(pid)
        own.setblocking(False)
        asyncio.get_running_loop().add_reader(own.fileno(), self._on_message)

    def _on_message(self) -> None:
        try:
            chunk = self._own.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if chunk:
            self._buffer += chunk
            while b"\n" in self._buffer:
                line, self._buffer = self._buffer.split(b"\n", 1)
                with contextlib.suppress(ValueError, AttributeError):
                    status = json.loads(line).get("exit")
                    if isinstance(status, int) and not self._exited.done():
                        self._exited.set_result(status)
            return
        asyncio.get_running_loop().remove_reader(self._own.fileno())
        if not self._exited.done():  # the template went away: its environments with it
            self._exited.set_result(-signal.SIGKILL)

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    def running(self) -> bool:
        return not self._exited.done()

    def alive(self) -> bool:
        """Whether a parked copy can still be handed a start: not exited, and not about to (a
        `kill -9` is seen here at once, before its exit report reaches the event loop)."""
        if not self.running():
            return False
        if self._pidfd is not None and select.select([self._pidfd], [], [], 0)[0]:
            return False
        try:
            fd = os.open(f"/proc/{self.pid}/status", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            status = os.read(fd, 8192)
        finally:
            os.close(fd)
        pending = 0
        for field in (b"\nSigPnd:", b"\nShdPnd:"):  # a thread's and its process's signals
            at = status.find(field)
            if at >= 0:
                with contextlib.suppress(ValueError):
                    pending |= int(status[at + len(field) : status.find(b"\n", at + 1)], 16)
        if pending & (1 << (signal.SIGKILL - 1)):
            return False
        return not _exiting(self.pid)

    def kill(self) -> None:
        if not self._exited.done():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signal.SIGKILL)  # PID 1 of its namespace: all of it goes

    def peak_memory_mb(self) -> int:
        return self._group.peak_memory_mb()

    def out_of_memory(self) -> bool:
        return self._group.oom_killed()

    def prepare_sockets(self, ports: list[int], kinds: list[int]) -> None:
        """What Fireside will serve on its network, made ahead in one trip into it: listeners
        on `ports` (the Runtime API...) and unbound sockets of `kinds` (AWS's names)."""
        made = sockets_in(f"/proc/{self.pid}/ns/net", [socket.SOCK_STREAM] * len(ports) + kinds)
        try:
            for port in ports:
                self._listeners[port] = listen_on(made.pop(0), port)
        except BaseException:
            for sock in [*made, *self._listeners.values()]:
                sock.close()
            self._listeners.clear()
            raise
        for sock in made:
            self._spare_sockets.setdefault(sock.type, []).append(sock)

    def socket_inside(self, port: int) -> socket.socket:
        sock = self._listeners.pop(port, None) or listen_inside(self.pid, port)
        self._sockets.append(sock)
        return sock

    def network_socket(self, kind: int) -> socket.socket:
        ready = self._spare_sockets.get(kind)
        if ready:
            return ready.pop()
        return socket_in(f"/proc/{self.pid}/ns/net", socket.AF_INET, kind)

    def served_ahead(self) -> Callable[[], Awaitable[None]] | None:
        serving, self.serving = self.serving, None
        return serving

    def announce_network(self) -> None:
        """Tell the parked copy that its network's listeners exist: its runtime connects to
        its Runtime API ahead (accepted once a start serves it), so that its first request
        leaves at once when a start takes it."""
        self._send(b'{"network": true}\n')

    def set_env(self, env: dict[str, str]) -> None:
        """The environment's variables, sent by `release()` (a spare fork has none yet)."""
        self._env = env

    def release(self) -> None:
        """Send its variables (once): a start took it and Fireside listens on its network."""
        if self._env is not None:
            message = json.dumps({"env": self._env}).encode() + b"\n"
            self._env = None
            self._send(message)

    def _send(self, message: bytes) -> None:
        self._own.setblocking(True)
        try:
            self._own.sendall(message)
        except OSError:
            pass  # it died: its exit says so
        finally:
            self._own.setblocking(False)

    def end_of_init(self) -> None:
        self._group.throttle_cpu()

    async def close(self) -> None:
        if self._on_close is not None:  # the template may stop once none of its own is left
            self._on_close()
            self._on_close = None
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(self._own.fileno())
        self._own.close()
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None
        for sock in [
            *self._sockets,
            *self._listeners.values(),
            *(sock for ready in self._spare_sockets.values() for sock in ready),
        ]:
            sock.close()
        self._listeners.clear()
        self._spare_sockets.clear()
        if self.serving is not None:  # never handed to an environment
            serving, self.serving = self.serving, None
            await serving()
        if self.network is not None:
            self.network.kill()
            await asyncio.to_thread(self.network.wait)
        await asyncio.to_thread(self._group.close)


def request_fork(
    control: socket.socket, tmp_mb: int, seccomp_program: bytes
) -> tuple[int, int, socket.socket]:
    """Ask a template for an environment; returns (host pid, output read fd, its socket).

    Blocking: run in a thread. Raises TemplateError when the template does not deliver."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    ours.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    output_r, output_w = os.pipe()
    try:
        request = {"tmp_bytes": tmp_mb * 1024 * 1024, "seccomp": seccomp_program.hex()}
        control.sendmsg(
            [json.dumps(request).encode()],
            [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack("2i", theirs.fileno(), output_w))],
        )
    except OSError as exc:
        for fd in (output_r, output_w):
            os.close(fd)
        ours.close()
        raise TemplateError(f"the template is gone: {exc}") from exc
    finally:
        theirs.close()
    with contextlib.suppress(OSError):
        os.close(output_w)
    ours.settimeout(FORK_TIMEOUT)
    try:
        data, ancillary, _flags, _addr = ours.recvmsg(4096, socket.CMSG_SPACE(_UCRED.size))
    except OSError as exc:
        ours.close()
        os.close(output_r)
        raise TemplateError(f"the template did not make an environment: {exc}") from exc
    pid = next(
        (
            _UCRED.unpack(payload[: _UCRED.size])[0]
            for level, kind, payload in ancillary
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS
        ),
        0,
    )
    if not data or pid <= 0:
        ours.close()
        os.close(output_r)
        raise TemplateError("the template's child died before it was ready")
    ours.settimeout(None)
    os.set_blocking(output_r, False)
    return pid, output_r, ours


def wait_template_ready(control: socket.socket, timeout: float) -> None:
    """Until the template reports that Init is done (blocking: run in a thread)."""
    control.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    try:
        while not data.endswith(b"\n"):
            control.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = control.recv(65536)
            if not chunk:
                raise TemplateError("the template exited during Init")
            data += chunk
    except TimeoutError as exc:
        raise TemplateError("the template's Init timed out") from exc
    finally:
        control.settimeout(None)
    report = json.loads(data)
    if "init_error" in report:
        error = report["init_error"]
        raise TemplateError(f"Init failed: {error.get('errorType')}: {error.get('errorMessage')}")
