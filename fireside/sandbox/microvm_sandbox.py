"""The `microvm` backend's running guest: one QEMU process and what it holds on the host.

QEMU's stdout is the guest's console (the runtime's output); a second virtio-serial port, on its
own pipe, carries /init's reports (`fireside.sandbox.microvm_guest`): `TIME` (the host answers
on the console with its next whole second), `READY` (a spare guest is booted and waits), `RUN`
(the runtime starts: Init's time limit counts from here), `PEAK`, `OOM` and `EXIT`. A spare is
sent `GO` on the console once it is taken (`go`), and only after its `READY`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from fireside.sandbox import mounts
from fireside.sandbox.base import ProcessSandbox
from fireside.sandbox.netns import socket_in

log = logging.getLogger(__name__)

#: How far ahead of the whole second the host sends the guest its time, covering the guest's
#: latency in setting it under TCG (tens of ms): its clock then runs a little ahead, never
#: behind (a clock behind the host's would show more remaining time than the invoke has).
TIME_LEAD_S = 0.1


class MicrovmSandbox(ProcessSandbox):
    """QEMU as the process; its stdout is the guest's console, its status port a second pipe.

    It runs in its own network namespace (`netns`), whose loopback holds Fireside's listeners
    (`sockets`) and whose way out, if any, is `network` (slirp4netns)."""

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        output_fd: int,
        status_fd: int,
        guest_dir: Path,
        netns: int,
        sockets: dict[int, socket.socket],
        network: subprocess.Popen[bytes] | None,
    ) -> None:
        super().__init__(process, output_fd)
        self._guest_dir = guest_dir
        self._netns = netns
        self._sockets = sockets
        self._network = network
        self._status: int | None = None
        self._oom = False
        self._peak_mb = 0
        self._loop = asyncio.get_running_loop()
        self._started: asyncio.Future[None] = self._loop.create_future()
        #: A spare (`MicrovmBackend._make_spare`): its host directory holding `slot`, where a
        #: function's code and layers are bound when it is taken (`mounted`). `GO` is sent once
        #: the spare is taken (`go`) and its guest has reported READY.
        self.slot: Path | None = None
        #: A spare's niceness while it boots in the background (0: not a spare).
        self.nice = 0
        self.mounted: list[Path] = []
        self._ready = self._go_wanted = self._go_sent = self._running = self._layers = False
        self._go_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_status, args=(status_fd,), daemon=True)
        self._reader.start()

    def _read_status(self, status_fd: int) -> None:
        """Follow /init's status port until QEMU is gone (EOF)."""
        try:
            self._follow_status(status_fd)
        finally:  # a guest that never started its runtime keeps nobody waiting
            self._mark_started()

    def _mark_started(self) -> None:
        def mark() -> None:
            if not self._started.done():
                self._started.set_result(None)

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
            self._loop.call_soon_threadsafe(mark)

    async def runtime_started(self) -> None:
        await asyncio.shield(self._started)

    def _follow_status(self, status_fd: int) -> None:
        with open(status_fd, "rb", buffering=0) as status:
            pending = b""
            while True:
                try:
                    chunk = status.read(4096)
                except InterruptedError:
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    self._on_status(line.decode(errors="replace").strip())

    def _on_status(self, text: str) -> None:
        kind, _, value = text.partition(" ")
        if kind == "PEAK":
            with contextlib.suppress(ValueError):
                self._peak_mb = max(self._peak_mb, round(int(value) / 2**20))
        elif kind == "EXIT":
            with contextlib.suppress(ValueError):
                status = int(value)
                # The guest shell reports a signal as 128+n; the interface wants -n.
                self._status = -(status - 128) if status > 128 else status
        elif kind == "TIME":
            # A spare's kernel boots in the background; from here on (its clock, its mounts,
            # its wait) it runs at the default niceness: a starved guest sets its clock late
            # and loses timer ticks, and runs behind the host's.
            if self.nice:
                self.renice(0)
            threading.Thread(target=self._send_time, daemon=True).start()
        elif kind == "OOM":
            self._oom = True
        elif kind == "RUN":
            self._running = True
            self._mark_started()
        elif kind == "READY":  # a spare, booted: GO may be sent
            with self._go_lock:
                self._ready = True
                self._send_go()

    async def go(self, timeout: float, layers: bool) -> bool:
        """A taken spare's runtime may start: GO now, or as soon as its guest is ready. True
        once the guest reports it started the runtime; False if QEMU ended first (a spare
        killed mid-take) or `timeout` passed: the start can then boot a guest of its own."""
        with self._go_lock:
            self._go_wanted, self._layers = True, layers
            if self.nice:
                self.renice(0)  # its function's now: the rest of its boot at full priority
            self._send_go()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._started), timeout)
        return self._running

    def _send_go(self) -> None:  # under _go_lock
        if not (self._ready and self._go_wanted) or self._go_sent:
            return
        self._go_sent = True
        stdin = self._process.stdin
        if stdin is not None:
            with contextlib.suppress(OSError, ValueError):  # a dead guest shows as its exit
                stdin.write(b"GO layers\n" if self._layers else b"GO\n")
                stdin.flush()

    @property
    def booted(self) -> bool:
        """A spare whose guest has reported READY (it waits for GO)."""
        return self._ready

    def renice(self, nice: int) -> None:
        """Set the niceness of every thread of QEMU (niceness is per thread on Linux)."""
        with contextlib.suppress(OSError):
            for thread in os.listdir(f"/proc/{self.pid}/task"):
                with contextlib.suppress(OSError):
                    os.setpriority(os.PRIO_PROCESS, int(thread), nice)

    def alive(self) -> bool:
        """Whether a spare can still be handed a start: not exited, and not about to (a
        `kill -9` is seen here at once, before its exit report reaches the event loop)."""
        if not self.running():
            return False
        try:
            if os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                return False
        except ChildProcessError:
            return False
        return not kill_pending(self.pid)

    def _send_time(self) -> None:
        """Send the guest the next whole second of the host's clock, just before it begins."""
        now = time.time()
        second = int(now) + 1
        if second - TIME_LEAD_S - now < 0.01:
            second += 1
        time.sleep(max(0.0, second - TIME_LEAD_S - time.time()))
        stdin = self._process.stdin
        if stdin is None:
            return
        with contextlib.suppress(OSError, ValueError):
            stdin.write(b"%d\n" % second)
            stdin.flush()

    async def wait(self) -> int:
        status = await super().wait()
        # The status port ends at EOF once QEMU is gone; its last lines carry the exit status.
        await asyncio.to_thread(self._reader.join, 5)
        if self._status is not None:
            return self._status
        return status if status != 0 else -9  # QEMU ended without the runtime's status

    def peak_memory_mb(self) -> int:
        """The runtime's cgroup peak in the guest (`memory.peak`, sampled every 0.2 s)."""
        return self._peak_mb

    def out_of_memory(self) -> bool:
        return self._oom

    def socket_inside(self, port: int) -> socket.socket:
        return self._sockets[port]

    def network_socket(self, kind: int) -> socket.socket:
        return socket_in(f"/proc/self/fd/{self._netns}", socket.AF_INET, kind)

    async def close(self) -> None:
        if self._process.stdin is not None:
            with contextlib.suppress(OSError):
                self._process.stdin.close()
        await close_network(self._netns, self._sockets, self._network)
        await asyncio.to_thread(self._remove_dirs)

    def _remove_dirs(self) -> None:
        for slot in self.mounted:  # a spare's: the function's code and layers, unbound first
            mounts.release_slot(slot)
        self.mounted = []
        if mounts.mounts_under(self._guest_dir):  # never delete through a bind of someone's code
            log.error("%s still has mounts: left in place", self._guest_dir)
            return
        shutil.rmtree(self._guest_dir, True)


def kill_pending(pid: int) -> bool:
    """Whether a SIGKILL is pending for `pid` (sent, not yet acted on)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as status:
            text = status.read()
    except OSError:
        return True
    pending = 0
    for field in (b"\nSigPnd:", b"\nShdPnd:"):  # a thread's and its process's signals
        at = text.find(field)
        if at >= 0:
            with contextlib.suppress(ValueError):
                pending |= int(text[at + len(field) : text.find(b"\n", at + 1)], 16)
    return bool(pending & (1 << (signal.SIGKILL - 1)))


async def close_network(
    netns: int, sockets: dict[int, socket.socket], network: subprocess.Popen[bytes] | None
) -> None:
    for sock in sockets.values():
        sock.close()
    if network is not None:
        network.kill()
        await asyncio.to_thread(network.wait)
    with contextlib.suppress(OSError):
        os.close(netns)
