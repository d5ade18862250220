"""The `namespace` backend: each environment in its own Linux namespaces, under bubblewrap.

What the runtime process gets:
- user, PID, mount, network, IPC, UTS (and cgroup) namespaces; it runs as `nobody` on the host,
  cannot create further user namespaces, and dies with Fireside;
- a read-only root holding only `/usr` (and its `/bin`, `/lib` links), a few files of `/etc`,
  `/var/task` (its code), `/var/runtime` (Fireside's runtime files), the runtime's own binds
  (`SandboxSpec.binds`: an interpreter's image, an AWS SDK...), the layers or an empty `/opt`,
  a private `/proc`, a minimal `/dev`, and a private `/tmp` tmpfs of
  `EphemeralStorage` size; no view of the data directory, other functions or host processes;
- a seccomp filter denying system calls a function never needs (`fireside.sandbox.seccomp`);
- Landlock where the kernel has it (`fireside_landlock`): the runtime process restricts itself
  before any function code runs (Fireside's Python bootstrap does it itself; every other runtime
  is started by `fireside_exec`, on the host's `/usr/bin/python3`, which restricts, then execs);
- memory, CPU and process limits from `fireside.sandbox.limits` (cgroups);
- its own loopback: Fireside opens the Runtime API (127.0.0.1:9001) and its own endpoint
  (127.0.0.1:<port>) *inside* the environment's network namespace and serves them from its event
  loop, so every environment sees Lambda's addresses and none can reach another's.

bubblewrap holds the runtime (`--block-fd`) until those sockets exist, then `release()` lets it
run; a runtime that can wait for its launch on a pipe (Python's bootstrap, anything started by
`fireside_exec`) is let go as soon as the sandbox exists instead, and its interpreter starts
while Fireside attaches the network, then `release()` sends it the function's environment.
bubblewrap runs as `nobody` too, so its bind sources live in the shared tree
(`fireside.sandbox.share`) that `nobody` can reach; it is spawned by `vfork` through `sh` and
`setpriv`, never a fork of the server (`_JOIN_THEN_EXEC`).

Warm starts (`fireside.sandbox.warm`): spare sandboxes are made ahead of demand, waiting on
stdin: a runtime that launches itself (`Launcher.SELF`: Python's bootstrap) started and ready,
every other one with `fireside_exec` ready to exec it. Taking one for a function mounts its
code on the spare's `/var/task` (`fireside.sandbox.mounts`), raises the memory limit to
`MemorySize`, and writes the function's environment (and command) to the spare's stdin. The
variables a self-launching runtime reads only at start-up (`SandboxSpec.startup_env`) and the
runtime's binds are part of the pool's key, so a function that sets them gets a spare started
with them, or a cold start; an exec'd runtime reads them itself.

What runs, and how it becomes a snapshot template, is the runtime's (`SandboxSpec.launcher`,
`binds`, `snapshot`): this module knows no language.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fireside.sandbox import lifeline, limits, mounts, seccomp, share
from fireside.sandbox.base import (
    ETC_FILES,
    NOBODY,
    Bind,
    HostPaths,
    Launcher,
    Layout,
    ProcessSandbox,
    RuntimeFiles,
    Sandbox,
    SandboxBackend,
    SandboxMode,
    SandboxSpec,
    SnapshotHooks,
)
from fireside.sandbox.etc import EtcTree
from fireside.sandbox.netns import connect_network, listen_inside, resolver_conf, socket_in
from fireside.sandbox.snapshot import TemplateError
from fireside.sandbox.templates import Templates
from fireside.sandbox.warm import DEFAULT_WARM, WarmPool, WarmSettings

log = logging.getLogger(__name__)

#: Spares wait with a small limit; taking one raises it to the function's MemorySize.
SPARE_MEMORY_MB = 128

#: How bubblewrap is started without a copy of the server (a `preexec_fn` makes every spawn a
#: full fork of it: 10-20 ms of page tables, on the event loop): `vfork`, then this shell exits
#: if the server (`$1`) is gone, joins the resource group (the files before `--`) and execs
#: `setpriv`, which drops to `nobody`, sets the death signal and execs bubblewrap.
_JOIN_THEN_EXEC = (
    '[ "$PPID" = "$1" ] || exit 125; shift; '
    'while [ "$1" != -- ]; do echo 0 > "$1" || exit 125; shift; done; shift; exec "$@"'
)


def _spawner() -> tuple[str, str, str] | None:
    """`sh`, `setpriv` (util-linux 2.33+, for `--pdeathsig`) and `bwrap`, by absolute path,
    when all are there; else None (bubblewrap is then started through a `preexec_fn`)."""
    sh, setpriv, bwrap = shutil.which("sh"), shutil.which("setpriv"), shutil.which("bwrap")
    if sh is None or setpriv is None or bwrap is None:
        return None
    try:
        usage = subprocess.run([setpriv, "--help"], capture_output=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (sh, setpriv, bwrap) if b"--pdeathsig" in usage else None


def unavailable_reason() -> str | None:
    """Why this host cannot run the namespace backend, or None when it can."""
    if not os.path.exists("/proc/self/ns/user"):
        return "this kernel has no user namespaces"
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    try:
        result = subprocess.run(
            ["bwrap", "--unshare-all", "--unshare-user", "--ro-bind", "/", "/", "true"],
            capture_output=True,
            timeout=10,
            user=NOBODY if os.geteuid() == 0 else None,
            group=NOBODY if os.geteuid() == 0 else None,
            extra_groups=[] if os.geteuid() == 0 else None,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap does not run here: {exc}"
    if result.returncode != 0:
        return f"bubblewrap cannot create namespaces here: {result.stderr.decode().strip()}"
    return None


class NamespaceSandbox(ProcessSandbox):
    def __init__(
        self,
        process: subprocess.Popen[bytes],
        output_fd: int,
        child_pid: int,
        block_fd: int,
        group: limits.ResourceGroup,
    ) -> None:
        super().__init__(process, output_fd)
        self.child_pid = child_pid
        self._block_fd: int | None = block_fd
        self._group = group
        self._sockets: list[socket.socket] = []
        #: The user-mode network stack giving this environment egress (None: loopback only).
        self.network: subprocess.Popen[bytes] | None = None
        #: A spare: its `/var/task` slot on the host, and the pipe its runtime waits on for the
        #: function's environment (written by `release()` once the spare is taken).
        self.slot: Path | None = None
        self.opt_slot: Path | None = None
        self.launch_fd: int | None = None
        self.launch_env: dict[str, str] | None = None
        self.launch_argv: list[str] = []

    @property
    def group(self) -> limits.ResourceGroup:
        return self._group

    def socket_inside(self, port: int) -> socket.socket:
        sock = listen_inside(self.child_pid, port)
        self._sockets.append(sock)
        return sock

    def network_socket(self, kind: int) -> socket.socket:
        return socket_in(f"/proc/{self.child_pid}/ns/net", socket.AF_INET, kind)

    def unblock(self) -> None:
        """Let bubblewrap exec the runtime (which, given a launch pipe, then waits on it)."""
        if self._block_fd is not None:
            with contextlib.suppress(OSError):
                os.write(self._block_fd, b"1")
            os.close(self._block_fd)
            self._block_fd = None

    def release(self) -> None:
        self.unblock()
        if self.launch_fd is not None and self.launch_env is not None:
            message = json.dumps({"env": self.launch_env, "argv": self.launch_argv}).encode()
            with contextlib.suppress(OSError):  # a dead runtime shows up as its exit
                while message:
                    message = message[os.write(self.launch_fd, message) :]
            os.close(self.launch_fd)
            self.launch_fd = None

    def end_of_init(self) -> None:
        self._group.throttle_cpu()

    def peak_memory_mb(self) -> int:
        return self._group.peak_memory_mb()

    def out_of_memory(self) -> bool:
        return self._group.oom_killed()

    def kill(self) -> None:
        super().kill()  # bubblewrap's own process group; --die-with-parent takes the rest
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(self.child_pid, signal.SIGKILL)

    async def close(self) -> None:
        if self.launch_fd is not None:  # never launched: EOF tells its runtime to exit
            os.close(self.launch_fd)
            self.launch_fd = None
        self.release()
        for sock in self._sockets:
            sock.close()
        if self.network is not None:
            self.network.kill()
            await asyncio.to_thread(self.network.wait)
        await asyncio.to_thread(self._group.close)
        for slot in (self.slot, self.opt_slot):
            if slot is not None:
                await asyncio.to_thread(mounts.release_slot, slot)
        self.slot = self.opt_slot = None


@dataclass(frozen=True, slots=True)
class WarmKey:
    """What every environment served by one kind of spare has in common."""

    launcher: Launcher
    argv: tuple[str, ...]
    startup_env: frozenset[tuple[str, str]]
    binds: tuple[Bind, ...]
    runtime_dir: str
    egress: bool
    private_egress: bool
    tmp_mb: int


class NamespaceBackend(SandboxBackend):
    mode = SandboxMode.NAMESPACE
    private_network = True

    def __init__(
        self,
        share_root: Path,
        files: RuntimeFiles,
        warm: WarmSettings = DEFAULT_WARM,
    ) -> None:
        self._trees = share.RuntimeTrees(share_root, files)
        self._seccomp = seccomp.build_filter()
        # Snapshot starts: the template may unshare and mount (for its children).
        self._template_seccomp = seccomp.build_filter(
            [name for name in seccomp.DENIED_SYSCALLS if name not in ("unshare", "mount")]
        )
        self._limits = limits.detect()
        # Resource groups are named `<instance>-<environment>`; a previous run on the same data
        # directory that crashed may have left some behind, never another server's.
        self._instance = lifeline.instance_of(share_root)
        removed = limits.cleanup_stale(f"{self._instance}-", self._limits)
        if removed:
            log.info("removed %d resource groups left by a previous run", removed)
        self._slirp = shutil.which("slirp4netns")
        if self._slirp is None:
            log.warning("slirp4netns is not installed: functions reach only Fireside (no egress)")
        # Inside, DNS goes to Fireside's resolver on the environment's own loopback
        # (`fireside.compute.aws_names`), which forwards what it does not answer upstream.
        resolv = resolver_conf(self._trees.root, "127.0.0.1")
        host_etc = [path for path in ETC_FILES if path != "/etc/resolv.conf"]
        self._etc = EtcTree(self._trees.root, host_etc, resolv)
        self._root_links = [
            (os.readlink(path), path) if os.path.islink(path) else (None, path)
            for path in ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
            if os.path.lexists(path)
        ]
        self._landlock = files.landlock_abi
        self._spawner = _spawner()
        #: Starts runtimes other than the Python bootstrap (Landlock, warm handoff, exec).
        self._launcher = share.system_python()
        self._slots = self._trees.root / "slots"
        self._slots.mkdir(mode=0o711, exist_ok=True)
        if mounts.cleanup(self._slots):
            log.info("released code mounts left by a previous run")
        self._warm_off = self._warm_unavailable(warm.spares)
        if self._warm_off and warm.spares > 0:
            log.warning("no warm starts: %s", self._warm_off)
        spares = 0 if self._warm_off else warm.spares
        self._warm: WarmPool[WarmKey, NamespaceSandbox] = WarmPool(
            self._make_spare,
            self._discard_spare,
            lambda spare: spare.running(),
            spares=spares,
            lifetime=warm.lifetime,
        )
        self._templates = Templates(
            self._start_template,
            cache=self._trees.cache,
            instance=self._instance,
            limits_backend=self._limits,
            slirp=self._slirp,
            spares=spares,
            lifetime=warm.lifetime,
        )

    def _warm_unavailable(self, spares: int) -> str | None:
        if spares <= 0:
            return "disabled (warm_spares = 0)"
        if self._limits is limits.LimitsBackend.RLIMIT:
            return "memory limits here are rlimits, which cannot be raised for a spare"
        return mounts.available(self._slots)

    def describe(self) -> str:
        network = "egress via slirp4netns" if self._slirp else "no egress"
        warm = "no warm starts" if self._warm_off else f"{self._warm.spares} warm spare(s)"
        landlock = f"Landlock ABI {self._landlock}" if self._landlock else "no Landlock"
        return (
            f"namespace (bubblewrap, seccomp, {landlock}, {self._limits.value} limits, "
            f"{network}, {warm})"
        )

    def stats(self) -> dict[str, int]:
        return self._warm.stats()

    def forks_snapshots(self, snapshot: SnapshotHooks | None) -> bool:
        if self._warm_off or snapshot is None:
            return False
        return snapshot.available(self._trees.cache)

    async def close(self) -> None:
        await self._warm.close()
        await self._templates.close()

    async def forget_snapshots(self, prefix: str) -> None:
        await self._templates.forget(prefix)

    @property
    def cache(self) -> Path | None:
        return self._trees.cache

    def layout(self, host: HostPaths) -> Layout:
        return self._trees.layout(host)

    def _argv(
        self,
        spec: SandboxSpec,
        runtime_dir: Path,
        fds: dict[str, int],
        etc: Path,
        template: bool = False,
    ) -> list[str]:
        argv = [
            "bwrap",
            "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session",
            # A snapshot template's children nest user namespaces of their own.
            *([] if template else ["--disable-userns"]),
            "--ro-bind", "/usr", "/usr",
        ]  # fmt: skip
        for target, path in self._root_links:
            argv += ["--symlink", target, path] if target else ["--ro-bind", path, path]
        argv += ["--ro-bind", str(etc), "/etc"]  # one bind, not a dozen
        for path in self._etc.bound:
            argv += ["--ro-bind", path, path]
        argv += [
            "--proc", "/proc",
            "--dev", "/dev",
            "--size", str(spec.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp",
            *(["--ro-bind", str(spec.host.opt_root), "/opt"] if spec.host.opt_root
              else ["--dir", "/opt"]),
            "--ro-bind", str(spec.host.task_root), "/var/task",
            "--ro-bind", str(runtime_dir), "/var/runtime",
        ]  # fmt: skip
        for bind in spec.binds:
            argv += ["--ro-bind", str(bind.source), bind.target]
        argv += [
            "--chdir", "/var/task",
            "--seccomp", str(fds["seccomp"]),
            "--info-fd", str(fds["info"]),
            "--block-fd", str(fds["block"]),
            "--remount-ro", "/",
            "--",
            *self._runtime_argv(spec),
        ]  # fmt: skip
        return argv

    def _runtime_argv(self, spec: SandboxSpec) -> list[str]:
        if spec.argv[:1] == [self._launcher]:
            return spec.argv  # the environment already starts it through fireside_exec
        if self._launcher and spec.launcher is Launcher.EXEC:
            return [*self._trees.launcher, *spec.argv]
        return spec.argv

    def _runtime_env(self, spec: SandboxSpec) -> dict[str, str]:
        if self._landlock and (self._launcher or spec.launcher is Launcher.SELF):
            return {**spec.env, "FIRESIDE_LANDLOCK": "1"}
        return spec.env

    async def start(self, spec: SandboxSpec) -> Sandbox:
        runtime_dir = self._trees.prepared  # built once: later starts need no thread hop
        if runtime_dir is None:
            runtime_dir = await asyncio.to_thread(self._trees.prepare)
        if spec.snapshot_key is not None and spec.snapshot is not None:
            try:
                return await self._templates.start(spec, runtime_dir)
            except (TemplateError, OSError) as exc:
                log.warning(
                    "no snapshot start for %s (%s): starting from scratch", spec.snapshot_key, exc
                )
        key = self._warm_key(spec, runtime_dir)
        if key is not None:
            spare = self._warm.take(key)
            if spare is not None:
                try:
                    return self._take(spare, spec)
                except OSError:
                    log.warning("could not use a spare environment", exc_info=True)
                    await self._discard_spare(spare)
        return await self._start(spec, runtime_dir)

    def _warm_key(self, spec: SandboxSpec, runtime_dir: Path) -> WarmKey | None:
        if spec.launcher is Launcher.SELF:  # started in the spare: its command and start-up
            argv, startup = tuple(spec.argv), frozenset(spec.startup_env.items())
        elif self._launcher:  # any command: the spare learns it when taken
            argv, startup = (), frozenset()
        else:
            return None
        return WarmKey(
            spec.launcher, argv, startup, tuple(spec.binds), str(runtime_dir), spec.egress,
            spec.private_egress, spec.tmp_mb,
        )  # fmt: skip

    def _take(self, spare: NamespaceSandbox, spec: SandboxSpec) -> NamespaceSandbox:
        """Give a spare to a function: its code on /var/task, its memory limit, its
        environment (sent by `release()`, once Fireside listens inside)."""
        assert spare.slot is not None and spare.opt_slot is not None
        mounts.bind_readonly(spec.host.task_root, spare.slot)
        if spec.host.opt_root is not None:
            mounts.bind_readonly(spec.host.opt_root, spare.opt_slot)
        spare.group.raise_memory(spec.memory_mb)
        spare.launch_env = spec.env
        spare.launch_argv = spec.argv
        return spare

    async def _make_spare(self, key: WarmKey) -> NamespaceSandbox:
        name = "warm-" + os.urandom(6).hex()
        slot, opt_slot = self._slots / name, self._slots / f"{name}-opt"

        def make_slots() -> None:
            mounts.make_slot(slot)
            try:
                mounts.make_slot(opt_slot)
            except OSError:
                mounts.release_slot(slot)
                raise

        await asyncio.to_thread(make_slots)
        env = dict(key.startup_env)
        env["FIRESIDE_WARM_FD"] = "0"
        spec = SandboxSpec(
            argv=list(key.argv),
            env=env,
            host=HostPaths(slot, Path(name), opt_root=opt_slot),
            memory_mb=SPARE_MEMORY_MB,
            tmp_mb=key.tmp_mb,
            egress=key.egress,
            private_egress=key.private_egress,
            binds=list(key.binds),
            launcher=key.launcher,
        )
        launch_r, launch_w = os.pipe()
        try:
            sandbox = await self._start(
                spec,
                Path(key.runtime_dir),
                stdin=launch_r,
            )
        except BaseException:
            os.close(launch_w)
            await asyncio.to_thread(mounts.release_slot, slot)
            await asyncio.to_thread(mounts.release_slot, opt_slot)
            raise
        finally:
            os.close(launch_r)
        sandbox.slot, sandbox.opt_slot = slot, opt_slot
        sandbox.launch_fd = launch_w
        sandbox.release()  # the runtime starts and imports now, then waits on its stdin
        return sandbox

    async def _discard_spare(self, spare: NamespaceSandbox) -> None:
        spare.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(spare.wait(), 5)
        with contextlib.suppress(OSError):
            os.close(spare.output_fd)
        await spare.close()

    async def _start_template(
        self, spec: SandboxSpec, runtime_dir: Path, template_fd: int
    ) -> NamespaceSandbox:
        return await self._start(spec, runtime_dir, template_fd=template_fd)

    def _waits_for_launch(self, spec: SandboxSpec) -> bool:
        """Whether this runtime can start and then wait for its launch on a pipe (as a warm
        spare's does): Fireside's Python bootstrap, or any runtime `fireside_exec` starts."""
        if spec.launcher is Launcher.SELF:
            return True
        return bool(self._launcher) and spec.argv[:1] != [self._launcher]

    async def _start(
        self,
        spec: SandboxSpec,
        runtime_dir: Path,
        stdin: int | None = None,
        template_fd: int | None = None,
    ) -> NamespaceSandbox:
        # A start from scratch overlaps its two slow halves: the runtime is let go as soon as
        # bubblewrap runs, so its interpreter starts and imports while Fireside gives the
        # sandbox its network and sockets; it then waits on a launch pipe, as a warm spare's
        # does, and `release()` sends it the function's environment. No function code runs
        # before the network and the Runtime API are in place.
        launch_r = launch_w = -1
        if stdin is None and template_fd is None and self._waits_for_launch(spec):
            launch_r, launch_w = os.pipe()
        try:
            # Creating many network namespaces at once, bubblewrap occasionally fails to set
            # up loopback (`Failed RTM_NEWADDR`): a failure before the sandbox exists is
            # retried.
            for attempt in range(3):
                sandbox, failure = await self._spawn(
                    spec, runtime_dir, stdin if launch_r < 0 else launch_r, template_fd
                )
                if sandbox is not None:
                    break
                log.warning("bubblewrap failed (attempt %d): %s", attempt + 1, failure)
            else:
                raise OSError(f"bubblewrap could not create the sandbox: {failure}")
        except BaseException:
            if launch_w >= 0:
                os.close(launch_w)
            raise
        finally:
            if launch_r >= 0:
                os.close(launch_r)
        if launch_w >= 0:
            sandbox.launch_fd, sandbox.launch_env, sandbox.launch_argv = (
                launch_w,
                spec.env,
                spec.argv,
            )
            sandbox.unblock()

        if spec.egress and self._slirp is not None:
            try:
                sandbox.network = await asyncio.to_thread(
                    connect_network,
                    self._slirp,
                    f"/proc/{sandbox.child_pid}/ns/net",
                    sandbox.child_pid,
                    owner=self._instance,
                    allow_private=spec.private_egress,
                )
            except OSError:
                sandbox.kill()
                await sandbox.close()
                raise
        return sandbox

    async def _spawn(
        self,
        spec: SandboxSpec,
        runtime_dir: Path,
        stdin: int | None,
        template_fd: int | None = None,
    ) -> tuple[NamespaceSandbox | None, str]:
        # Built in a thread on the first start, or after a host file changed: copying and
        # syncing /etc's files held the event loop 50-120 ms.
        etc = self._etc.built()
        if etc is None:
            etc = await asyncio.to_thread(self._etc.current)
        group = await asyncio.to_thread(
            limits.ResourceGroup.create,
            f"{self._instance}-{os.path.basename(spec.host.work_dir)}",
            limits.Limits(memory_mb=spec.memory_mb, burst_until_throttled=True),
            self._limits,
        )
        as_root = os.geteuid() == 0
        output_r, output_w = os.pipe()
        info_r, info_w = os.pipe()
        block_r, block_w = os.pipe()
        template = template_fd is not None
        seccomp_fd = seccomp.filter_fd(self._template_seccomp if template else self._seccomp)
        fds = {"seccomp": seccomp_fd, "info": info_w, "block": block_r}
        argv = self._argv(spec, runtime_dir, fds, etc, template)
        command = argv.index("--")  # bubblewrap takes options from --args, not the command
        env = self._runtime_env(spec)
        if stdin is not None:  # a launch pipe: the runtime waits for its environment there
            env = {**env, "FIRESIDE_WARM_FD": "0"}
        if template_fd is not None:
            env["FIRESIDE_SNAPSHOT_FD"] = str(template_fd)
        join_files = group.join_files()
        options = argv[1:command]
        preexec_fn: Callable[[], None] | None = None
        if self._spawner is not None and join_files is not None:
            sh, setpriv, bwrap = self._spawner
            # The runtime's variables reach it through bubblewrap's options, never the
            # environment of the host-side programs (the shell runs as root).
            for name, value in env.items():
                options += ["--setenv", name, value]
            env = {}
            privileges = ["--reuid", str(NOBODY), "--regid", str(NOBODY), "--clear-groups"]
            prefix = [sh, "-c", _JOIN_THEN_EXEC, "sh", str(os.getpid()), *join_files, "--"]
            prefix.append(setpriv)
            prefix += [*(privileges if as_root else []), "--pdeathsig", "KILL", "--", bwrap]
        else:
            prefix = ["bwrap"]
            join = group.preexec()

            def preexec() -> None:
                join()  # under the limits before anything runs, so nothing can slip out
                if as_root:
                    os.setgroups([])
                    os.setresgid(NOBODY, NOBODY, NOBODY)
                    os.setresuid(NOBODY, NOBODY, NOBODY)

            # bubblewrap's --die-with-parent covers the sandbox once bubblewrap runs; this
            # covers bubblewrap itself (set after the uid change, which would clear it).
            preexec_fn = lifeline.die_with_server(preexec)
        args_fd = _args_fd(options)
        try:
            process = subprocess.Popen(
                # PID 1 inside is a copy of bubblewrap, whose command line the function can
                # read: its options (host paths) come from a memfd instead.
                [*prefix, "--args", str(args_fd), *argv[command:]],
                stdin=subprocess.DEVNULL if stdin is None else stdin,
                stdout=output_w,
                stderr=output_w,
                env=env,
                pass_fds=(
                    *fds.values(),
                    args_fd,
                    *([template_fd] if template_fd is not None else []),
                ),
                preexec_fn=preexec_fn,
                start_new_session=True,
            )
        except BaseException:
            for fd in (output_r, info_r, block_w):
                os.close(fd)
            await asyncio.to_thread(group.close)
            raise
        finally:
            for fd in (output_w, info_w, block_r, seccomp_fd, args_fd):
                os.close(fd)
        try:
            info = await asyncio.to_thread(_read_info, info_r)
        finally:
            os.close(info_r)
        if info is None:
            # bubblewrap exited before the sandbox existed; its message is in the output pipe.
            await asyncio.to_thread(process.wait)
            os.close(block_w)
            message = _drain(output_r)
            os.close(output_r)
            await asyncio.to_thread(group.close)
            return None, message or f"bubblewrap exited with status {process.returncode}"
        os.set_blocking(output_r, False)
        group.add(process.pid)  # cheap: already a member (keeps the rlimit fallback informed)
        child_pid = info.get("child-pid")
        assert isinstance(child_pid, int), info
        return NamespaceSandbox(process, output_r, child_pid, block_w, group), ""


def _drain(fd: int) -> str:
    """Whatever a dead process left in a pipe (bounded)."""
    data = b""
    while len(data) < 65536:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace").strip()


def _args_fd(args: list[str]) -> int:
    """A close-on-exec memfd holding `args` NUL-separated, for `bwrap --args FD`."""
    fd = os.memfd_create("fireside-bwrap-args", os.MFD_CLOEXEC)
    try:
        data = memoryview(b"".join(arg.encode() + b"\0" for arg in args))
        while data:
            data = data[os.write(fd, data) :]
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_info(fd: int) -> dict[str, object] | None:
    """bubblewrap's `--info-fd` JSON (it holds `child-pid`), or None if it exited first."""
    data = b""
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
        try:
            parsed = json.loads(data)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            return parsed
    return None
