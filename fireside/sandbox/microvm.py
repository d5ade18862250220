"""The `microvm` backend: each environment in a QEMU `microvm` guest with a Linux kernel of its own.

The strongest boundary Fireside offers: function code runs on a guest kernel, and only QEMU's
device models (virtio-mmio 9p, net and console) face the host.

Assets (a Debian kernel, an initramfs with busybox, the virtio/9p modules and `/init`, and a copy
of a few `/etc` files) are built once under `<share>/microvm/` by `fireside.sandbox.microvm_assets`
(the kernel and initramfs under `FIRESIDE_MICROVM_ASSETS` instead, when it names a directory).

Per environment, one QEMU process: `-M microvm`, `-smp 1`, RAM = `MemorySize` +
`GUEST_ALLOWANCE_MB` (the guest kernel and page cache), and read-only virtio-9p shares: host
`/usr` at `/usr` (with the host's `/bin`, `/lib`… links), the code at `/var/task`, Fireside's
runtime files at `/var/runtime`, the runtime's own binds (`SandboxSpec.binds`: a directory is a share of
its own, a file is bound from its directory's), the function's layers at `/opt`, a
copy of a few `/etc` files at `/etc`, and a per-environment directory at `/guest` holding
`boot.sh` (mounts, network, limits) and `run.sh` (the runtime's environment and command). `/tmp` is a guest tmpfs of
`EphemeralStorage` size. Inside, the runtime runs in a cgroup whose `memory.max` is `MemorySize`,
so the guest kernel's OOM killer enforces Lambda's memory limit.

Network: each QEMU process runs in a network namespace of its own, where Fireside listens on
127.0.0.1 for the Runtime API (9001) and its endpoint, as for the namespace backend. QEMU's
user-mode networking (slirp) makes the guest 10.0.2.15 and maps its host address, 10.0.2.2, to
that namespace's loopback: never the host's, where other environments' listeners could be. With
egress, slirp4netns (`--disable-host-loopback`) routes the namespace out; without, the namespace
has loopback only and the guest has no default route.

Output: a virtio console (QEMU's stdout, which is `output_fd`) is the runtime's stdout and stderr
(kernel messages are silenced; the emulated UART, a byte per I/O exit, was far too slow for big
prints under TCG). A second virtio-serial port, on its own pipe, carries /init's reports: the
runtime's exit status, whether the guest OOM-killed it, its cgroup's peak memory (REPORT's "Max
Memory Used"), and a request for the time, which the host answers on the console with its next
whole second (the guest's RTC only has whole seconds, and invoke deadlines are host times).

Acceleration: KVM when a probe boot succeeds with it, else TCG (binary translation, about 15x
slower guest CPU). `FIRESIDE_MICROVM_ACCEL=kvm|tcg` skips the probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shlex
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

from fireside.sandbox import lifeline, share
from fireside.sandbox.base import (
    HostPaths,
    Layout,
    ProcessSandbox,
    RuntimeFiles,
    Sandbox,
    SandboxBackend,
    SandboxMode,
    SandboxSpec,
)
from fireside.sandbox.microvm_assets import build_assets, copy_etc
from fireside.sandbox.netns import connect_network, new_network, setns_net, socket_in

log = logging.getLogger(__name__)

QEMU = "qemu-system-x86_64"
#: Guest RAM on top of MemorySize: the guest kernel, the initramfs and 9p's page cache. With
#: 96 MB, a function at its limit left the guest short of memory: the kernel evicted the
#: runtime's primed code, the runtime refaulted it (now charged to its own cgroup) over 9p, and
#: its cgroup's reclaim kept "progressing" on those pages, so about 1 start in 3 thrashed until
#: its timeout instead of being OOM-killed (12 of 12 OOM-killed in 1-2 s with 256). QEMU's
#: memory is allocated as the guest touches it.
GUEST_ALLOWANCE_MB = 256
#: The smallest guest the generic kernel boots in comfortably.
MIN_GUEST_MB = 192
#: Under TCG the kernel cannot always calibrate its TSC against the emulated PIT (about 1 boot
#: in 20 hangs); giving it a frequency skips the calibration. Any plausible value works: TCG's
#: TSC is virtual.
TCG_TSC_KHZ = 2600000
#: How far ahead of the whole second the host sends the guest its time, covering the guest's
#: latency in setting it under TCG (tens of ms): its clock then runs a little ahead, never
#: behind (a clock behind the host's would show more remaining time than the invoke has).
TIME_LEAD_S = 0.1
GUEST_ADDRESS, GATEWAY = "10.0.2.15", "10.0.2.2"
#: Where the guest mounts each 9p share (`guest`, the environment's own directory, is /init's).
MOUNT_POINTS = {"usr": "/usr", "task": "/var/task", "runtime": "/var/runtime", "etc": "/etc",
                "opt": "/opt"}  # fmt: skip
#: The host's dynamic loader, as the guest sees it (the host's /lib64 link is in the initramfs).
LOADER = "/lib64/ld-linux-x86-64.so.2"
#: The guest side of the status port (the second port of the virtio-serial device): /init's
#: reports (exit status, OOM kill, peak memory, a request for the time) never mix with the log.
STATUS_PORT = "/dev/vport0p1"


def host_tsc_khz() -> int:
    """The guest's TSC frequency under TCG: TCG's TSC is the host's, so telling the guest the
    host's rate keeps its clock from drifting (falls back to `TCG_TSC_KHZ`)."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("cpu MHz"):
                    return round(float(line.split(":", 1)[1]) * 1000)
    except (OSError, ValueError):
        pass
    return TCG_TSC_KHZ


def unavailable_reason() -> str | None:
    if shutil.which(QEMU) is None:
        return f"QEMU is not installed ({QEMU}): apt-get install qemu-system-x86"
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        return "building the guest kernel needs apt-get and dpkg-deb (Debian)"
    if os.geteuid() != 0:
        return "each guest gets a network namespace of its own, which needs root here"
    return None


# -- the sandbox ------------------------------------------------------------------------------


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
            threading.Thread(target=self._send_time, daemon=True).start()
        elif kind == "OOM":
            self._oom = True
        elif kind == "RUN":
            self._mark_started()

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
        await asyncio.to_thread(shutil.rmtree, self._guest_dir, True)


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


class MicrovmBackend(SandboxBackend):
    mode = SandboxMode.MICROVM
    private_network = True

    def __init__(self, share_root: Path, files: RuntimeFiles) -> None:
        self._share = share.prepare_share_root(share_root)
        self._root = self._share / "microvm"
        self._root.mkdir(exist_ok=True)
        self._lock = threading.Lock()
        self._assets: tuple[Path, Path] | None = None
        self._accel: str | None = os.environ.get("FIRESIDE_MICROVM_ACCEL") or None
        self._trees = share.RuntimeTrees(share_root, files)
        self._etc = self._root / "etc"
        # `FIRESIDE_MICROVM_ASSETS`: a directory to build (or find) the kernel and initramfs in
        # instead of `<share>/microvm`, so servers can share one build (the test suite's do).
        self._assets_root = Path(os.environ.get("FIRESIDE_MICROVM_ASSETS") or self._root)
        self._slirp = shutil.which("slirp4netns")
        if self._slirp is None:
            log.warning("slirp4netns is not installed: functions reach only Fireside (no egress)")
        self._instance = lifeline.instance_of(share_root)
        # The first build downloads and unpacks a kernel (seconds): start it now rather than in
        # the first cold start. Failures surface again, with their message, in `start`.
        threading.Thread(target=self._prepare_assets, daemon=True).start()

    def describe(self) -> str:
        accel = self._accel or "kvm if it works, else tcg"
        network = "egress via slirp4netns" if self._slirp else "no egress"
        return f"microvm (QEMU microvm guests, {accel}, {network})"

    @property
    def cache(self) -> Path | None:
        return self._trees.cache

    def layout(self, host: HostPaths) -> Layout:
        return self._trees.layout(host, host_address=GATEWAY)

    # -- one-time preparation (blocking: called in a thread) -----------------------------------
    def _prepare(self) -> tuple[tuple[Path, Path], str, Path]:
        assets, accel = self._prepare_assets(quiet=False)
        return assets, accel, self._trees.prepare()

    def _prepare_assets(self, quiet: bool = True) -> tuple[tuple[Path, Path], str]:
        """Kernel, initramfs, /etc copy and the accelerator choice, made once."""
        with self._lock:
            try:
                if self._assets is None:
                    self._assets = build_assets(self._assets_root)
                    copy_etc(self._etc, GATEWAY)
                if self._accel is None:
                    self._accel = self._probe_kvm(*self._assets)
                    log.info("microvm guests use %s", self._accel)
            except Exception:
                if quiet:
                    log.exception("could not prepare the microvm guest")
                    return (Path(), Path()), ""
                raise
            return self._assets, self._accel

    def _probe_kvm(self, kernel: Path, initrd: Path, timeout: float = 20.0) -> str:
        """ "kvm" when a guest boots to userspace under KVM in `timeout` seconds, else "tcg".

        KVM can be present yet useless (nested or emulated virtualization: guests abort on an
        MSR or crawl at instruction-emulation speed), so it is tried, not assumed."""
        if not os.access("/dev/kvm", os.R_OK | os.W_OK):
            return "tcg"
        argv = self._qemu_argv("kvm", kernel, initrd, 256, "fireside.probe=1")
        try:
            result = subprocess.run(
                argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return "tcg"
        return "kvm" if b"FIRESIDE-PROBE ok" in result.stdout else "tcg"

    def _qemu_argv(
        self, accel: str, kernel: Path, initrd: Path, memory_mb: int, extra_cmdline: str = ""
    ) -> list[str]:
        cmdline = "console=ttyS0 panic=-1 quiet loglevel=0 printk.devkmsg=off"
        if accel == "kvm":
            cpu, accelerator = "host", "kvm"
        else:
            # A bounded translation cache: the default (1 GB) would let QEMU's RSS grow far past
            # the guest's own memory.
            cpu, accelerator = "max", "tcg,tb-size=64"
            cmdline += f" tsc_early_khz={host_tsc_khz()}"
        return [
            QEMU, "-accel", accelerator, "-cpu", cpu, "-M", "microvm", "-m", str(memory_mb),
            "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-serial", "none", "-chardev", "stdio,id=console,signal=off",
            "-device", "virtio-serial-device,max_ports=2",
            "-device", "virtconsole,chardev=console",
            "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", f"{cmdline} {extra_cmdline}".strip(),
        ]  # fmt: skip

    # -- per environment -------------------------------------------------------------------------
    def _write_guest(self, spec: SandboxSpec, guest: Path, tags: list[str], egress: bool) -> None:
        mounts = [(tag, MOUNT_POINTS[tag]) for tag in tags if tag in MOUNT_POINTS]
        options = "trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000"
        lines = ["# Generated by Fireside for one environment; sourced by /init."]
        lines += [
            # The console is the log: no echo of what the host sends, no CR before each LF.
            "stty -echo -opost",
            # The guest's clock: under TCG the RTC only gives whole seconds, and deadlines are
            # host times. The host answers the marker with the next whole second, sent just
            # before it starts; the mounts go on meanwhile.
            "( read -r now && date -s @$now >/dev/null ) </dev/hvc0 &",
            "clock=$!",
            f"echo TIME > {STATUS_PORT}",
        ]
        lines += [f"mount -t 9p -o {options} {tag} {path}" for tag, path in mounts]
        for index, bind in enumerate(spec.binds):  # the runtime's own: 9p shares directories
            tag, target = f"bind{index}", shlex.quote(bind.target)
            if bind.source.is_dir():
                lines += [f"mkdir -p {target}", f"mount -t 9p -o {options} {tag} {target}"]
            else:  # its directory is shared aside, then the file is bound on its own
                aside = f"/run/binds/{index}"
                name = shlex.quote(bind.source.name)
                lines += [
                    f"mkdir -p {aside} {shlex.quote(os.path.dirname(bind.target))}",
                    f"mount -t 9p -o {options} {tag} {aside}",
                    f": > {target}",
                    f"mount -o bind {aside}/{name} {target}",
                ]
        program = shlex.quote(spec.argv[0])
        libraries = shlex.quote(spec.env.get("LD_LIBRARY_PATH", ""))
        lines += [
            # The runtime's program and libraries, read into the page cache from the root cgroup,
            # are charged there: at its memory limit, the runtime's reclaim cannot evict its own
            # code, which it would refault over 9p again and again (seconds under TCG) instead
            # of being OOM-killed.
            f"( for file in {program} $({LOADER} --library-path {libraries} --list {program}"
            " 2>/dev/null | grep -o '/[^ ]*'); do cat \"$file\"; done ) >/dev/null 2>&1 &",
            "prime=$!",
            f"mount -t tmpfs -o size={spec.tmp_mb}m,mode=1777 tmpfs /tmp",
            "hostname sandbox",
            "ip link set lo up",
            f"ip addr add {GUEST_ADDRESS}/24 dev eth0",
            "ip link set eth0 up",
        ]
        if egress:  # without, only slirp's own 10.0.2.0/24 (Fireside, at 10.0.2.2) is reachable
            lines.append(f"ip route add default via {GATEWAY}")
        lines += [
            # Lambda's memory limit, enforced by the guest kernel on the runtime's cgroup.
            "mount -t cgroup2 cgroup2 /sys/fs/cgroup",
            "echo +memory +pids > /sys/fs/cgroup/cgroup.subtree_control",
            "mkdir /sys/fs/cgroup/function",
            f"echo {spec.memory_mb}M > /sys/fs/cgroup/function/memory.max",
            # Lambda's process cap (1,024), as in the other backends.
            "echo 1024 > /sys/fs/cgroup/function/pids.max",
            "echo 0 > /sys/fs/cgroup/function/memory.swap.max 2>/dev/null",
            "wait $clock $prime",
            f"echo RUN > {STATUS_PORT}",  # Init's time limit starts now, not at boot
            "sh /guest/run.sh </dev/null &",
            "runtime=$!",
            # The runtime's peak memory for REPORT lines, when it changes: shell builtins only
            # (a read with a timeout on a FIFO is the sleep), so no process per sample.
            "mkfifo /run/tick",
            "( last=0; while :; do",
            "    read -r peak < /sys/fs/cgroup/function/memory.peak",
            '    [ "$peak" = "$last" ] || { echo "PEAK $peak"; last=$peak; }',
            "    read -t 0.2 _ <> /run/tick",
            f"  done ) > {STATUS_PORT} &",
            "monitor=$!",
            "wait $runtime",
            "status=$?",
            "kill $monitor",
            f"read -r peak < /sys/fs/cgroup/function/memory.peak && echo PEAK $peak > {STATUS_PORT}",
            "if grep -q '^oom_kill [1-9]' /sys/fs/cgroup/function/memory.events; then",
            f"  echo OOM > {STATUS_PORT}",
            "fi",
            f"echo EXIT $status > {STATUS_PORT}",
        ]
        (guest / "boot.sh").write_text("\n".join(lines) + "\n")
        env = {"HOME": "/tmp", **spec.env}
        run = [
            "# The runtime: its cgroup, its working directory, its environment and command.",
            "echo $$ > /sys/fs/cgroup/function/cgroup.procs",
            "cd /var/task",
            "exec env -i "
            + " ".join(shlex.quote(f"{key}={value}") for key, value in env.items())
            + " "
            + shlex.join(spec.argv),
        ]
        (guest / "run.sh").write_text("\n".join(run) + "\n")

    async def _network(
        self, spec: SandboxSpec
    ) -> tuple[int, dict[int, socket.socket], subprocess.Popen[bytes] | None]:
        """QEMU's network namespace, Fireside's listeners on its loopback, and its way out."""
        netns, sockets = new_network(spec.inside_ports)
        if not spec.egress or self._slirp is None:
            return netns, sockets, None
        try:
            network = await asyncio.to_thread(
                connect_network,
                self._slirp,
                f"/proc/{os.getpid()}/fd/{netns}",
                None,
                owner=self._instance,
                allow_private=spec.private_egress,
            )
        except BaseException:
            await close_network(netns, sockets, None)
            raise
        return netns, sockets, network

    async def start(self, spec: SandboxSpec) -> Sandbox:
        (kernel, initrd), accel, runtime_dir = await asyncio.to_thread(self._prepare)
        guest = spec.host.work_dir / "guest"
        guest.mkdir(parents=True, exist_ok=True)
        egress = spec.egress and self._slirp is not None
        shares = [("guest", guest), ("usr", Path("/usr")), ("task", spec.host.task_root),
                  ("runtime", runtime_dir), ("etc", self._etc)]  # fmt: skip
        if spec.host.opt_root is not None:  # the function's layers
            shares.append(("opt", spec.host.opt_root))
        for index, bind in enumerate(spec.binds):
            source = bind.source if bind.source.is_dir() else bind.source.parent
            shares.append((f"bind{index}", source))
        self._write_guest(spec, guest, [tag for tag, _ in shares], egress)
        memory = max(MIN_GUEST_MB, spec.memory_mb + GUEST_ALLOWANCE_MB)
        argv = self._qemu_argv(accel, kernel, initrd, memory)
        for tag, path in shares:
            argv += [
                "-fsdev", f"local,id={tag},path={path},security_model=none,readonly=on",
                "-device", f"virtio-9p-device,fsdev={tag},mount_tag={tag}",
            ]  # fmt: skip
        # Unrestricted slirp: its host address, 10.0.2.2, is the loopback of QEMU's own network
        # namespace (only Fireside's listeners), and other traffic goes where that namespace
        # routes it. No IPv6: the namespace has no IPv6 way out.
        argv += ["-netdev", "user,id=n0,ipv6=off", "-device", "virtio-net-device,netdev=n0"]
        output_r, output_w = os.pipe()
        status_r, status_w = os.pipe()
        # The status port's host side: QEMU opens the pipe it inherits by its /proc path.
        argv += [
            "-chardev", f"file,id=status,path=/proc/self/fd/{status_w}",
            "-device", "virtserialport,chardev=status,name=fireside.status",
        ]  # fmt: skip
        try:
            netns, sockets, network = await self._network(spec)
        except BaseException:
            for fd in (output_r, output_w, status_r, status_w):
                os.close(fd)
            raise
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,  # the guest's clock arrives on the console (_send_time)
                stdout=output_w,
                stderr=output_w,
                pass_fds=(status_w,),
                env=lifeline.helper_env(self._instance),
                preexec_fn=lifeline.die_with_server(functools.partial(setns_net, netns)),
                start_new_session=True,
            )
        except BaseException:
            for fd in (output_r, status_r):
                os.close(fd)
            await close_network(netns, sockets, network)
            raise
        finally:
            os.close(output_w)
            os.close(status_w)
        os.set_blocking(output_r, False)
        return MicrovmSandbox(process, output_r, status_r, guest, netns, sockets, network)
