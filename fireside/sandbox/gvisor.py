"""The `gvisor` backend: the namespace backend's environment, run under gVisor's `runsc`.

gVisor's Sentry implements the Linux system call interface in user space, so function code never
talks to the host kernel directly: a stronger boundary than namespaces alone, at a start cost of
a few hundred milliseconds (ptrace platform; this host's KVM cannot run it).

Each environment is an OCI bundle (`config.json` and an empty, read-only root with mount points)
that binds the same trees as the namespace backend: `/usr`, a few `/etc` files, `/var/task`,
`/var/runtime`, the runtime's own binds, and a sized tmpfs at `/tmp`. Networking uses `--network=host`
inside a network namespace Fireside creates first: its loopback carries the Runtime API
(127.0.0.1:9001) and Fireside's endpoint, both opened by Fireside before runsc starts, and
slirp4netns gives it egress. runsc and everything it starts run in the environment's resource
group, so the Sentry's own memory counts as well: it gets `SENTRY_ALLOWANCE_MB` on top of
`MemorySize`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import secrets
import shutil
import socket
import subprocess
from pathlib import Path

from fireside.sandbox import lifeline, limits, seccomp, share
from fireside.sandbox.base import (
    ETC_FILES,
    NOBODY,
    HostPaths,
    Layout,
    ProcessSandbox,
    RuntimeFiles,
    Sandbox,
    SandboxBackend,
    SandboxMode,
    SandboxSpec,
)
from fireside.sandbox.netns import connect_network, new_network, resolver_conf, socket_in

log = logging.getLogger(__name__)

SENTRY_ALLOWANCE_MB = 96
SENTRY_PIDS = 16384


def unavailable_reason() -> str | None:
    if shutil.which("runsc") is None:
        return "gVisor (runsc) is not installed: apt-get install runsc"
    if os.geteuid() != 0:
        return "runsc needs root here"
    return None


class GvisorSandbox(ProcessSandbox):
    def __init__(
        self,
        process: subprocess.Popen[bytes],
        output_fd: int,
        netns: int,
        sockets: dict[int, socket.socket],
        group: limits.ResourceGroup,
        runsc: list[str],
        bundle: Path,
    ) -> None:
        super().__init__(process, output_fd)
        self._netns = netns
        self._sockets = sockets
        self._group = group
        self._runsc = runsc
        self._bundle = bundle
        self.network: subprocess.Popen[bytes] | None = None

    def socket_inside(self, port: int) -> socket.socket:
        return self._sockets[port]

    def network_socket(self, kind: int) -> socket.socket:
        return socket_in(f"/proc/self/fd/{self._netns}", socket.AF_INET, kind)

    def end_of_init(self) -> None:
        self._group.throttle_cpu()

    def peak_memory_mb(self) -> int:
        return self._group.peak_memory_mb()

    def out_of_memory(self) -> bool:
        return self._group.oom_killed()

    def kill(self) -> None:
        super().kill()
        self._group.kill_all()

    async def close(self) -> None:
        for sock in self._sockets.values():
            sock.close()
        if self.network is not None:
            self.network.kill()
            await asyncio.to_thread(self.network.wait)
        with contextlib.suppress(OSError):
            os.close(self._netns)
        await asyncio.to_thread(self._group.close)
        await asyncio.to_thread(
            subprocess.run,
            [*self._runsc, "delete", "--force", self._bundle.name],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        await asyncio.to_thread(shutil.rmtree, self._bundle, True)


class GvisorBackend(SandboxBackend):
    mode = SandboxMode.GVISOR
    private_network = True

    def __init__(self, share_root: Path, state_dir: Path, files: RuntimeFiles) -> None:
        self._state = state_dir
        self._state.mkdir(parents=True, exist_ok=True)
        os.chmod(self._state, 0o700)
        self._runsc = ["runsc", "--root", str(self._state), "--network=host", "--ignore-cgroups",
                       "--platform=ptrace", "--oci-seccomp"]  # fmt: skip
        # Extra runsc flags for diagnosis, e.g. "--debug --debug-log=/tmp/runsc/".
        self._runsc += os.environ.get("FIRESIDE_RUNSC_FLAGS", "").split()
        self._limits = limits.detect()
        self._slirp = shutil.which("slirp4netns")
        self._trees = share.RuntimeTrees(share_root, files)
        self._resolv = resolver_conf(self._trees.root, "127.0.0.1")
        # Resource groups are `<instance>-gvisor-<bundle>`: a crashed run's (runsc, its Sentry
        # and gofer, all in the group) are killed now, never another server's.
        self._instance = lifeline.instance_of(share_root)
        limits.cleanup_stale(f"{self._instance}-", self._limits)

    def describe(self) -> str:
        network = "egress via slirp4netns" if self._slirp else "no egress"
        return f"gvisor (runsc, ptrace platform, {self._limits.value} limits, {network})"

    @property
    def cache(self) -> Path | None:
        return self._trees.cache

    def layout(self, host: HostPaths) -> Layout:
        return self._trees.layout(host)

    def _bundle(self, spec: SandboxSpec, netns: int, runtime_dir: Path) -> Path:
        bundle = spec.host.work_dir / f"gvisor-{secrets.token_hex(6)}"
        rootfs = bundle / "rootfs"
        for directory in (
            "usr",
            "proc",
            "dev",
            "tmp",
            "etc",
            "opt",
            "var/task",
            "var/runtime",
        ):
            (rootfs / directory).mkdir(parents=True, exist_ok=True)
        for name in ("bin", "sbin", "lib", "lib64"):
            if os.path.lexists(f"/{name}"):
                os.symlink(f"usr/{name}", rootfs / name)

        def bind(source: str | Path, target: str) -> dict[str, object]:
            return {
                "destination": target,
                "type": "bind",
                "source": str(source),
                "options": ["rbind", "ro"],
            }

        mounts: list[dict[str, object]] = [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {
                "destination": "/tmp",
                "type": "tmpfs",
                "source": "tmpfs",
                "options": [f"size={spec.tmp_mb}m"],
            },
            bind("/usr", "/usr"),
            bind(spec.host.task_root, "/var/task"),
            bind(runtime_dir, "/var/runtime"),
        ]
        if spec.host.opt_root is not None:
            mounts.append(bind(spec.host.opt_root, "/opt"))
        for extra in spec.binds:  # the runtime's own, on mount points made in the root
            point = rootfs / extra.target.lstrip("/")
            if extra.source.is_dir():
                point.mkdir(parents=True, exist_ok=True)
            else:
                point.parent.mkdir(parents=True, exist_ok=True)
                point.touch()
            mounts.append(bind(extra.source, extra.target))
        for path in ETC_FILES:
            if os.path.exists(path) and path != "/etc/resolv.conf":
                mounts.append(bind(path, path))
        # Fireside's resolver on the environment's loopback (`fireside.compute.aws_names`).
        mounts.append(bind(self._resolv, "/etc/resolv.conf"))
        config = {
            "ociVersion": "1.0.0",
            "process": {
                "terminal": False,
                "user": {"uid": NOBODY, "gid": NOBODY},
                "args": spec.argv,
                "env": [f"{key}={value}" for key, value in spec.env.items()],
                "cwd": "/var/task",
                "noNewPrivileges": True,
                # Lambda's limits, enforced by the Sentry: 1,024 processes and open files.
                "rlimits": [
                    {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024},
                    {"type": "RLIMIT_NPROC", "hard": 1024, "soft": 1024},
                ],
            },
            "root": {"path": "rootfs", "readonly": True},
            "hostname": "sandbox",
            "mounts": mounts,
            "linux": {
                "namespaces": [
                    {"type": "pid"},
                    {"type": "ipc"},
                    {"type": "uts"},
                    {"type": "mount"},
                    {"type": "network", "path": f"/proc/{os.getpid()}/fd/{netns}"},
                ],
                # The Sentry has an io_uring of its own; as in the other backends, runtimes
                # find none and fall back (enforced by the Sentry: `--oci-seccomp`).
                "seccomp": {
                    "defaultAction": "SCMP_ACT_ALLOW",
                    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"],
                    "syscalls": [
                        {
                            "names": list(seccomp.UNSUPPORTED_SYSCALLS),
                            "action": "SCMP_ACT_ERRNO",
                            "errnoRet": errno.ENOSYS,
                        }
                    ],
                },
            },
        }
        (bundle / "config.json").write_text(json.dumps(config))
        return bundle

    async def start(self, spec: SandboxSpec) -> Sandbox:
        runtime_dir = await asyncio.to_thread(self._trees.prepare)
        netns, sockets = new_network(spec.inside_ports)
        try:
            bundle = self._bundle(spec, netns, runtime_dir)
            group = await asyncio.to_thread(
                limits.ResourceGroup.create,
                f"{self._instance}-gvisor-{bundle.name}",
                limits.Limits(
                    memory_mb=spec.memory_mb + SENTRY_ALLOWANCE_MB,
                    # On the ptrace platform each guest process is a host process too: the
                    # host cap is a backstop above the Sentry's own RLIMIT_NPROC of 1,024.
                    pids=SENTRY_PIDS,
                    burst_until_throttled=True,
                ),
                self._limits,
            )
        except BaseException:
            os.close(netns)
            for sock in sockets.values():
                sock.close()
            raise
        output_r, output_w = os.pipe()
        try:
            process = subprocess.Popen(
                [*self._runsc, "run", "--bundle", str(bundle), bundle.name],
                stdin=subprocess.DEVNULL,
                stdout=output_w,
                stderr=output_w,
                # Not passed: the bundle names the namespace by Fireside's own /proc/<pid>/fd
                # path. An inherited descriptor numbered 256-258 made runsc's boot fail
                # ("unable to remap stdios, FD 256 is already in use"), and with a resolver
                # and TLS sockets per environment Fireside's descriptors reach 256.
                env=lifeline.helper_env(self._instance),
                preexec_fn=lifeline.die_with_server(group.preexec()),
                start_new_session=True,
            )
        except BaseException:
            os.close(output_r)
            os.close(netns)
            await asyncio.to_thread(group.close)
            raise
        finally:
            os.close(output_w)
        os.set_blocking(output_r, False)
        sandbox = GvisorSandbox(process, output_r, netns, sockets, group, self._runsc, bundle)
        if spec.egress and self._slirp is not None:
            try:
                sandbox.network = await asyncio.to_thread(
                    connect_network,
                    self._slirp,
                    f"/proc/{os.getpid()}/fd/{netns}",
                    None,
                    owner=self._instance,
                    allow_private=spec.private_egress,
                )
            except OSError:
                sandbox.kill()
                await sandbox.close()
                raise
        return sandbox
