"""The `microvm` backend: each environment in a QEMU `microvm` guest with a Linux kernel of its own.

The strongest boundary Fireside offers: function code runs on a guest kernel, and only QEMU's
device models (virtio-mmio 9p, net and console) face the host.

Assets (a Debian kernel, an initramfs with busybox, the virtio/9p modules and `/init`, and a copy
of a few `/etc` files) are built once under `<share>/microvm/` by `fireside.sandbox.microvm_assets`
(the kernel and initramfs under `FIRESIDE_MICROVM_ASSETS` instead, when it names a directory).

Per environment (started for it, or a spare taken: below), one QEMU process: `-M microvm`, `-smp 1`, RAM = `MemorySize` +
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

Spare guests (`fireside.sandbox.warm.WarmPool`, as Lambda keeps pools of booted microVMs): a
boot is seconds under TCG, so guests are booted ahead from what every environment of a
`SpareKey` shares (RAM and memory limit, /tmp size, network and listeners, the runtime's binds,
the program primed), learnt from demand like the namespace backend's keys. A spare's `boot.sh`
(`fireside.sandbox.microvm_guest`) mounts the shared trees, /tmp, network and cgroup, reports
READY and waits on the console. A start that takes it binds the function's code (and layers)
read-only into the spare's own host directory, `slot`, which is a 9p share the guest has not
mounted yet, writes `run.sh` there, and sends `GO`; the guest then mounts the slot at /var/task
(and /opt) and starts the runtime. The start returns once the guest reports `RUN`: a spare that
dies before (`kill -9` mid-take) is discarded and the start boots a guest of its own. A spare
serves one environment and is never reused; one that dies waiting is replaced at once.
`FIRESIDE_WARM_SPARES=0` turns spares off (every start boots a guest).

Acceleration: KVM when a probe boot succeeds with it, else TCG (binary translation, about 15x
slower guest CPU). `FIRESIDE_MICROVM_ACCEL=kvm|tcg` skips the probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import shutil
import socket
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

from fireside.sandbox import lifeline, mounts, share
from fireside.sandbox.base import (
    Bind,
    HostPaths,
    Layout,
    RuntimeFiles,
    Sandbox,
    SandboxBackend,
    SandboxMode,
    SandboxSpec,
)
from fireside.sandbox.microvm_assets import build_assets, copy_etc
from fireside.sandbox.microvm_guest import GATEWAY, SLOT_TAG, boot_script, run_script
from fireside.sandbox.microvm_sandbox import MicrovmSandbox, close_network
from fireside.sandbox.netns import connect_network, new_network, setns_net
from fireside.sandbox.warm import DEFAULT_WARM, WarmPool, WarmSettings

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


#: Kinds of spare guest kept at once: each idle one holds a QEMU (its guest's touched memory).
MAX_SPARE_KEYS = 2
#: A spare boots after a take only this much later: its boot is seconds of CPU under TCG, and
#: the guest just taken starts its runtime meanwhile.
REFILL_DELAY_S = 0.1
#: A spare's kernel boots at this niceness: a spare must never slow the environments already
#: running (under TCG a boot is seconds of CPU), and on a busy host it boots as CPU frees up.
#: From its request for the time on (clock, mounts, its wait), or once taken, it runs at the
#: default niceness.
SPARE_NICE = 19
#: How long a taken spare may take to start the runtime (its boot, if it was still booting):
#: past it, or if QEMU ends first (killed mid-take), the start boots a guest of its own.
GO_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class SpareKey:
    """What every environment one spare guest can serve has in common: its RAM and memory
    limit, /tmp size, network, listeners, the runtime's binds, and the program primed."""

    memory_mb: int
    tmp_mb: int
    egress: bool
    private_egress: bool
    ports: tuple[int, ...]
    binds: tuple[Bind, ...]
    program: str
    libraries: str


def enter(netns: int, nice: int) -> None:
    """QEMU's `preexec_fn` (with the death signal): its network namespace, and a spare's
    niceness (its boot then uses only CPU that running environments leave)."""
    setns_net(netns)
    if nice:
        os.setpriority(os.PRIO_PROCESS, 0, nice)


def clean_spares(root: Path) -> int:
    """Remove spares' directories a previous run left under `root` (unbinding any code first);
    returns how many."""
    mounts.cleanup(root)
    if mounts.mounts_under(root):
        return 0
    removed = 0
    for entry in root.iterdir():
        shutil.rmtree(entry, ignore_errors=True)
        removed += 1
    return removed


def unavailable_reason() -> str | None:
    if shutil.which(QEMU) is None:
        return f"QEMU is not installed ({QEMU}): apt-get install qemu-system-x86"
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        return "building the guest kernel needs apt-get and dpkg-deb (Debian)"
    if os.geteuid() != 0:
        return "each guest gets a network namespace of its own, which needs root here"
    return None


class MicrovmBackend(SandboxBackend):
    mode = SandboxMode.MICROVM
    private_network = True

    def __init__(
        self,
        share_root: Path,
        files: RuntimeFiles,
        warm: WarmSettings = DEFAULT_WARM,
    ) -> None:
        self._share = share.prepare_share_root(share_root)
        self._root = self._share / "microvm"
        self._root.mkdir(exist_ok=True)
        self._spares = self._root / "spares"
        self._spares.mkdir(mode=0o700, exist_ok=True)
        removed = clean_spares(self._spares)
        if removed:
            log.info("removed %d spare guests' directories left by a previous run", removed)
        self._closing: set[asyncio.Future[None]] = set()
        self._waiting: set[MicrovmSandbox] = set()  # spares made and not yet taken
        self._warm: WarmPool[SpareKey, MicrovmSandbox] = WarmPool(
            self._make_spare,
            self._discard,
            lambda spare: spare.alive(),
            spares=warm.spares,
            lifetime=warm.lifetime,
            max_keys=MAX_SPARE_KEYS,
            refill_delay=REFILL_DELAY_S,
        )
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
        warm = f"{self._warm.spares} spare guest(s)" if self._warm.spares else "no spare guests"
        return f"microvm (QEMU microvm guests, {accel}, {network}, {warm})"

    def stats(self) -> dict[str, int]:
        # `booted`: spares whose guest is up and waiting (the others are still booting).
        booted = sum(1 for spare in self._waiting if spare.booted and spare.running())
        return {**self._warm.stats(), "booted": booted}

    async def close(self) -> None:
        await self._warm.close()

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

    # -- per guest -----------------------------------------------------------------------------
    def _shared(self, runtime_dir: Path, binds: list[Bind]) -> list[tuple[str, Path]]:
        """The 9p shares every environment of a runtime has: /usr, /var/runtime, /etc, binds."""
        shares = [("usr", Path("/usr")), ("runtime", runtime_dir), ("etc", self._etc)]
        for index, bind in enumerate(binds):
            source = bind.source if bind.source.is_dir() else bind.source.parent
            shares.append((f"bind{index}", source))
        return shares

    async def _network(
        self, ports: list[int], egress: bool, private_egress: bool
    ) -> tuple[int, dict[int, socket.socket], subprocess.Popen[bytes] | None]:
        """QEMU's network namespace, Fireside's listeners on its loopback, and its way out."""
        netns, sockets = new_network(ports)
        if not egress or self._slirp is None:
            return netns, sockets, None
        try:
            network = await asyncio.to_thread(
                connect_network,
                self._slirp,
                f"/proc/{os.getpid()}/fd/{netns}",
                None,
                owner=self._instance,
                allow_private=private_egress,
            )
        except BaseException:
            await close_network(netns, sockets, None)
            raise
        return netns, sockets, network

    async def _launch(
        self,
        argv: list[str],
        shares: list[tuple[str, Path]],
        guest_dir: Path,
        key: SpareKey,
        spare: bool = False,
    ) -> MicrovmSandbox:
        """Start QEMU with `argv`, its 9p `shares`, a network, a console and a status port."""
        for tag, path in shares:
            # The slot is one directory with other trees bound into it: `remap` keeps their
            # inode numbers apart in the guest (they may come from several filesystems).
            devs = ",multidevs=remap" if tag == SLOT_TAG else ""
            argv += [
                "-fsdev", f"local,id={tag},path={path},security_model=none,readonly=on{devs}",
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
            netns, sockets, network = await self._network(
                list(key.ports), key.egress, key.private_egress
            )
        except BaseException:
            for fd in (output_r, output_w, status_r, status_w):
                os.close(fd)
            raise
        try:
            # On the event loop's thread, never a worker's: the parent-death signal fires when
            # the thread that started QEMU ends.
            process = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE,  # the guest's clock and GO arrive on the console
                stdout=output_w,
                stderr=output_w,
                pass_fds=(status_w,),
                env=lifeline.helper_env(self._instance),
                preexec_fn=lifeline.die_with_server(
                    functools.partial(enter, netns, SPARE_NICE if spare else 0)
                ),
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
        return MicrovmSandbox(process, output_r, status_r, guest_dir, netns, sockets, network)

    def _spare_key(self, spec: SandboxSpec) -> SpareKey:
        return SpareKey(
            memory_mb=spec.memory_mb,
            tmp_mb=spec.tmp_mb,
            egress=spec.egress and self._slirp is not None,
            private_egress=spec.private_egress,
            ports=tuple(spec.inside_ports),
            binds=tuple(spec.binds),
            program=spec.argv[0],
            libraries=spec.env.get("LD_LIBRARY_PATH", ""),
        )

    def _argv(self, key: SpareKey) -> list[str]:
        (kernel, initrd), accel = self._prepare_assets(quiet=False)
        memory = max(MIN_GUEST_MB, key.memory_mb + GUEST_ALLOWANCE_MB)
        return self._qemu_argv(accel, kernel, initrd, memory)

    def _boot_script(self, key: SpareKey, tags: list[str], spare: bool) -> str:
        return boot_script(
            tags=tags, binds=key.binds, program=key.program, libraries=key.libraries,
            memory_mb=key.memory_mb, tmp_mb=key.tmp_mb, egress=key.egress, spare=spare,
        )  # fmt: skip

    async def start(self, spec: SandboxSpec) -> Sandbox:
        _, _, runtime_dir = await asyncio.to_thread(self._prepare)
        key = self._spare_key(spec)
        spare = self._warm.take(key)
        if spare is not None:
            self._waiting.discard(spare)
            try:
                if self._take(spare, spec) and await spare.go(
                    GO_TIMEOUT_S, spec.host.opt_root is not None
                ):
                    return spare
            except OSError:
                log.warning("could not use a spare guest", exc_info=True)
            except BaseException:  # cancelled mid-take: the spare goes all the same
                spare.kill()
                self._closing.add(task := asyncio.ensure_future(self._discard(spare)))
                task.add_done_callback(self._closing.discard)
                raise
            await self._discard(spare)
        return await self._start_cold(spec, key, runtime_dir)

    async def _start_cold(self, spec: SandboxSpec, key: SpareKey, runtime_dir: Path) -> Sandbox:
        """A guest booted for this environment alone."""
        guest = spec.host.work_dir / "guest"
        shares = [("guest", guest), ("task", spec.host.task_root)]
        if spec.host.opt_root is not None:  # the function's layers
            shares.append(("opt", spec.host.opt_root))
        shares += self._shared(runtime_dir, spec.binds)
        boot = self._boot_script(key, [tag for tag, _ in shares], spare=False)

        def write() -> list[str]:
            guest.mkdir(parents=True, exist_ok=True)
            (guest / "boot.sh").write_text(boot)
            (guest / "run.sh").write_text(run_script(spec.env, spec.argv))
            return self._argv(key)

        argv = await asyncio.to_thread(write)
        return await self._launch(argv, shares, guest, key)

    # -- spares ------------------------------------------------------------------------------
    async def _make_spare(self, key: SpareKey) -> MicrovmSandbox:
        """A guest booted from what environments of `key` share, waiting for a function."""
        _, _, runtime_dir = await asyncio.to_thread(self._prepare)
        home = self._spares / os.urandom(6).hex()
        guest, slot = home / "guest", home / "slot"
        shares = [("guest", guest), *self._shared(runtime_dir, list(key.binds)), (SLOT_TAG, slot)]
        boot = self._boot_script(key, [tag for tag, _ in shares], spare=True)

        def write() -> list[str]:
            guest.mkdir(parents=True)
            (slot / "task").mkdir(parents=True)
            (slot / "opt").mkdir()
            (guest / "boot.sh").write_text(boot)
            return self._argv(key)

        try:
            argv = await asyncio.to_thread(write)
            spare = await self._launch(argv, shares, home, key, spare=True)
        except BaseException:
            await asyncio.to_thread(shutil.rmtree, home, True)
            raise
        spare.slot, spare.nice = slot, SPARE_NICE
        self._waiting.add(spare)
        watcher = asyncio.ensure_future(self._watch_spare(key, spare))
        self._closing.add(watcher)
        watcher.add_done_callback(self._closing.discard)
        return spare

    async def _watch_spare(self, key: SpareKey, spare: MicrovmSandbox) -> None:
        """A spare that dies waiting (killed, or its guest failed) is replaced at once."""
        await spare.wait()
        self._waiting.discard(spare)
        self._warm.prune(key)

    def _take(self, spare: MicrovmSandbox, spec: SandboxSpec) -> bool:
        """Hand a spare the function's parts: its code and layers bound into the spare's slot
        (read-only), and its run.sh there. False: it died meanwhile."""
        assert spare.slot is not None
        task, opt = spare.slot / "task", spare.slot / "opt"
        spare.mounted.append(task)
        mounts.bind_readonly(spec.host.task_root, task)
        if spec.host.opt_root is not None:
            spare.mounted.append(opt)
            mounts.bind_readonly(spec.host.opt_root, opt)
        (spare.slot / "run.sh").write_text(run_script(spec.env, spec.argv))
        return spare.alive()

    async def _discard(self, spare: MicrovmSandbox) -> None:
        spare.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(spare.wait(), 5)
        with contextlib.suppress(OSError):
            os.close(spare.output_fd)
        await spare.close()
