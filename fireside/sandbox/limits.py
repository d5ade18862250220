"""Per-environment resource limits, applied the way AWS Lambda applies them.

Each execution environment gets its own resource group: memory capped at the function's
MemorySize, a CPU quota proportional to memory (1,769 MB buys one vCPU) and a process-count cap.
The group also answers what an invoke needs afterwards: peak memory (REPORT's `Max Memory Used`)
and whether the kernel OOM-killed something (`Runtime.OutOfMemory`).

Backends, best first: cgroup v2 (when memory and pids can be delegated to a `fireside` parent),
cgroup v1 (a `fireside` parent per hierarchy, as on hybrid hosts whose v2 mount has no
controllers), and plain rlimits when cgroups are not writable (not root, read-only). Groups are
made on every cold start, so setup is a few raw `os.open`/`os.write` calls: no subprocesses.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import functools
import logging
import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

MIB = 1024 * 1024
MB_PER_VCPU = 1769  # Lambda: at 1,769 MB a function has the equivalent of one full vCPU
CFS_PERIOD_US = 100_000
_PARENT = "fireside"


class LimitsBackend(enum.Enum):
    CGROUP2 = "cgroup2"
    CGROUP1 = "cgroup1"
    RLIMIT = "rlimit"


class LimitsError(RuntimeError):
    """A resource group could not be created or used."""


@dataclass
class Limits:
    memory_mb: int
    pids: int = 1024
    #: Leave CPU unthrottled until `ResourceGroup.throttle_cpu()` (for the Init phase).
    burst_until_throttled: bool = False
    cpu_fraction: float = field(init=False)

    def __post_init__(self) -> None:
        if self.memory_mb <= 0 or self.pids <= 0:
            raise ValueError(f"limits must be positive: {self.memory_mb} MB, {self.pids} pids")
        self.cpu_fraction = min(self.memory_mb / MB_PER_VCPU, float(os.cpu_count() or 1))

    @property
    def cpu_quota_us(self) -> int:
        return max(1000, int(CFS_PERIOD_US * self.cpu_fraction))  # CFS refuses under 1 ms


def _read(path: str) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks).decode()


def _write(path: str, value: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    finally:
        os.close(fd)


def _keyed(text: str, key: str) -> int | None:
    """The number after `key` in a flat-keyed file (memory.events, /proc/PID/status)."""
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == key:
            return int(fields[1])
    return None


def _cgroup_mounts() -> list[tuple[str, str, set[str]]]:
    with open("/proc/mounts") as f:
        rows = [line.split() for line in f]
    return [(r[2], r[1], set(r[3].split(","))) for r in rows if r[2] in ("cgroup", "cgroup2")]


def _probe_writable(parent: str) -> None:
    # A parent left by an earlier root run proves nothing: only making a child shows we can.
    probe = os.path.join(parent, f"probe-{os.getpid()}")
    with contextlib.suppress(FileExistsError):
        os.mkdir(probe)
    os.rmdir(probe)


def _enable(group: str, wanted: list[str]) -> set[str]:
    control = os.path.join(group, "cgroup.subtree_control")
    enabled = set(_read(control).split())
    for name in wanted:
        if name not in enabled:
            try:
                _write(control, f"+{name}")
                enabled.add(name)
            except OSError:
                if name != "cpu":  # cpu refuses while realtime threads run; do without it
                    raise
    return enabled


def _probe_v2() -> dict[str, str] | None:
    for fstype, mount, _ in _cgroup_mounts():
        if fstype != "cgroup2":
            continue
        try:
            offered = set(_read(os.path.join(mount, "cgroup.controllers")).split())
            if not {"memory", "pids"} <= offered:
                continue  # a hybrid host's v2 mount, typically with hugetlb alone
            wanted = ["memory", "pids"] + (["cpu"] if "cpu" in offered else [])
            _enable(mount, wanted)
            parent = os.path.join(mount, _PARENT)
            os.makedirs(parent, exist_ok=True)
            enabled = _enable(parent, wanted)
            _probe_writable(parent)
        except OSError as exc:  # EBUSY: a container's own root with processes in it, say
            log.debug("cgroup v2 at %s is not usable: %s", mount, exc)
            continue
        return {c: parent for c in ("memory", "pids", "cpu") if c in enabled}
    return None


def _probe_v1() -> dict[str, str] | None:
    parents: dict[str, str] = {}
    for fstype, mount, options in _cgroup_mounts():
        for controller in ("memory", "pids", "cpu"):
            if fstype == "cgroup" and controller in options and controller not in parents:
                parent = os.path.join(mount, _PARENT)
                try:
                    os.makedirs(parent, exist_ok=True)
                    _probe_writable(parent)
                    parents[controller] = parent
                except OSError as exc:
                    log.debug("cgroup v1 %s at %s is not usable: %s", controller, mount, exc)
    return parents if {"memory", "pids"} <= parents.keys() else None


@functools.cache
def _layout(backend: LimitsBackend) -> dict[str, str] | None:
    """Controller -> its `fireside` parent directory (the same one on v2), if usable."""
    probes = {LimitsBackend.CGROUP2: _probe_v2, LimitsBackend.CGROUP1: _probe_v1}
    return probes[backend]() if backend in probes else None


@functools.cache
def detect() -> LimitsBackend:
    """The best backend this host supports (probed once; creates the `fireside` parents)."""
    for backend in (LimitsBackend.CGROUP2, LimitsBackend.CGROUP1):
        if _layout(backend) is not None:
            return backend
    return LimitsBackend.RLIMIT


def available(backend: LimitsBackend) -> bool:
    return backend is LimitsBackend.RLIMIT or _layout(backend) is not None


def _group_pids(dirs: list[str]) -> set[int]:
    pids: set[int] = set()
    for group in dirs:
        with contextlib.suppress(FileNotFoundError):
            pids.update(int(pid) for pid in _read(os.path.join(group, "cgroup.procs")).split())
    return pids


def _backoff(timeout: float) -> Callable[[], bool]:
    """Sleeps a little longer on each call; False once `timeout` has passed."""
    deadline, delay = time.monotonic() + timeout, [0.0005]

    def wait() -> bool:
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay[0])
        delay[0] = min(delay[0] * 2, 0.02)
        return True

    return wait


def _kill_groups(dirs: list[str], timeout: float = 1.0) -> bool:
    """SIGKILL everything in the groups until they are empty; False if that took too long."""
    for group in dirs:  # v2 (Linux 5.14+): the kernel kills the whole subtree, forks included
        with contextlib.suppress(OSError):
            _write(os.path.join(group, "cgroup.kill"), "1")
    wait = _backoff(timeout)
    while True:
        # Exited tasks leave cgroup.procs even as zombies, so empty means nothing survives. A
        # fork racing a round shows up in the next; a parent with SIGKILL pending cannot fork.
        pids = _group_pids(dirs) - {0, 1, os.getpid()}
        if not pids:
            return True
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        if not wait():
            return False


def _rmdir(group: str, timeout: float = 1.0) -> bool:
    wait = _backoff(timeout)
    while True:
        try:
            os.rmdir(group)
            return True
        except FileNotFoundError:
            return True
        except OSError as exc:  # EBUSY while killed tasks finish exiting
            if exc.errno != errno.EBUSY or not wait():
                log.warning("cannot remove cgroup %s: %s", group, exc)
                return False


def _stat(pid: int) -> list[str]:
    """/proc/PID/stat from field 3 on (the command name may contain spaces)."""
    return _read(f"/proc/{pid}/stat").rpartition(")")[2].split()


def _descendants(roots: set[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError):
                children.setdefault(int(_stat(int(entry))[1]), []).append(int(entry))
    found: set[int] = set()
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def cleanup_stale(prefix: str = "", backend: LimitsBackend | None = None) -> int:
    """At start-up: kill and remove leftover `fireside/<prefix>*` groups; returns how many.

    Groups that cannot be emptied stay. Servers sharing a host need distinct name prefixes.
    """
    layout = _layout(backend or detect())
    if layout is None:
        return 0
    parents = list(dict.fromkeys(layout.values()))
    names: set[str] = set()
    for parent in parents:
        with os.scandir(parent) as entries:
            names.update(e.name for e in entries if e.is_dir() and e.name.startswith(prefix))
    removed = 0
    for name in sorted(names):
        dirs = [os.path.join(p, name) for p in parents if os.path.isdir(os.path.join(p, name))]
        if _kill_groups(dirs) and all([_rmdir(d) for d in dirs]):
            removed += 1
    return removed


class ResourceGroup:
    """The limits of one execution environment, and what it has used so far."""

    def __init__(self, name: str, limits: Limits, backend: LimitsBackend, dirs: dict[str, str]):
        self.name, self.limits, self.backend = name, limits, backend
        self._dirs = dirs  # controller -> this group's directory
        self._groups = list(dict.fromkeys(dirs.values()))
        self._pids: dict[int, str] = {}  # rlimit backend: pid -> start time, against pid reuse
        self._peak_bytes = 0
        self._oom = False
        self._has_peak_file = True
        #: memory.peak kept open: read after every invoke (its REPORT), one pread each.
        self._peak_fd: int | None = None
        self._closed = False
        self._lock = threading.Lock()

    @classmethod
    def create(
        cls, name: str, limits: Limits, backend: LimitsBackend | None = None
    ) -> ResourceGroup:
        if not name or name in (".", "..") or "/" in name or "\0" in name:
            raise ValueError(f"invalid resource group name {name!r}")
        backend = backend or detect()
        layout = _layout(backend)
        if backend is not LimitsBackend.RLIMIT and layout is None:
            raise LimitsError(f"{backend.value} limits are not available on this host")
        dirs = {c: os.path.join(p, name) for c, p in (layout or {}).items()}
        group = cls(name, limits, backend, dirs)
        try:
            group._setup()
        except OSError as exc:
            group.close()
            raise LimitsError(f"cannot set up resource group {name!r}: {exc}") from exc
        return group

    def _setup(self) -> None:
        for group in self._groups:
            try:
                os.mkdir(group)
            except FileExistsError:
                # Stale, from a crashed run: empty and recreate it so the counters are ours.
                _kill_groups([group])
                if not _rmdir(group, timeout=0.5):
                    raise
                os.mkdir(group)
        d, mem, pids = self._dirs, str(self.limits.memory_mb * MIB), str(self.limits.pids)
        if self.backend is LimitsBackend.CGROUP2:
            _write(os.path.join(d["memory"], "memory.max"), mem)
            with contextlib.suppress(FileNotFoundError):  # absent without swap accounting
                _write(os.path.join(d["memory"], "memory.swap.max"), "0")
            _write(os.path.join(d["pids"], "pids.max"), pids)
            if "cpu" in d and not self.limits.burst_until_throttled:
                self.throttle_cpu()
        elif self.backend is LimitsBackend.CGROUP1:
            _write(os.path.join(d["memory"], "memory.limit_in_bytes"), mem)
            with contextlib.suppress(FileNotFoundError):  # same cap on memory+swap: no escape
                _write(os.path.join(d["memory"], "memory.memsw.limit_in_bytes"), mem)
            with contextlib.suppress(OSError):
                _write(os.path.join(d["memory"], "memory.swappiness"), "0")
            _write(os.path.join(d["pids"], "pids.max"), pids)
            if "cpu" in d:
                _write(os.path.join(d["cpu"], "cpu.cfs_period_us"), str(CFS_PERIOD_US))
                if not self.limits.burst_until_throttled:
                    self.throttle_cpu()

    def throttle_cpu(self) -> None:
        """Apply the MemorySize-proportional CPU quota (Lambda's Init phase runs with burst CPU,
        so environments are created unthrottled and throttled once Init is over)."""
        cpu = self._dirs.get("cpu")
        if cpu is None or self._closed:
            return
        with contextlib.suppress(OSError):
            if self.backend is LimitsBackend.CGROUP2:
                _write(os.path.join(cpu, "cpu.max"), f"{self.limits.cpu_quota_us} {CFS_PERIOD_US}")
            elif self.backend is LimitsBackend.CGROUP1:
                _write(os.path.join(cpu, "cpu.cfs_quota_us"), str(self.limits.cpu_quota_us))

    def raise_memory(self, memory_mb: int) -> None:
        """Raise the memory limit of a live group (a spare environment taken by a function).

        Only upwards, so the members never find themselves over the limit; the CPU quota that
        `throttle_cpu` applies follows the new size."""
        if memory_mb <= self.limits.memory_mb:
            return
        if self.backend is LimitsBackend.RLIMIT:
            raise LimitsError("rlimits of a running process are not raised here")
        self.limits = Limits(
            memory_mb, self.limits.pids, burst_until_throttled=self.limits.burst_until_throttled
        )
        mem, d = str(memory_mb * MIB), self._dirs["memory"]
        if self.backend is LimitsBackend.CGROUP2:
            _write(os.path.join(d, "memory.max"), mem)
        else:  # v1 requires memory+swap >= memory at every step: raise it first
            with contextlib.suppress(FileNotFoundError):
                _write(os.path.join(d, "memory.memsw.limit_in_bytes"), mem)
            _write(os.path.join(d, "memory.limit_in_bytes"), mem)

    def add(self, pid: int) -> None:
        """Move a process, and so its future children, into the group (idempotent).

        Whatever it forked before this stays outside; `preexec()` leaves no such window.
        Raises ProcessLookupError if the process is gone.
        """
        if self._closed:
            raise LimitsError(f"resource group {self.name!r} is closed")
        if self.backend is LimitsBackend.RLIMIT:
            limit = self.limits.memory_mb * MIB
            resource.prlimit(pid, resource.RLIMIT_AS, (limit, limit))
            with contextlib.suppress(OSError):
                self._pids[pid] = _stat(pid)[19]
            return
        # Every migration through cgroup.procs takes a global lock whose first use waits for an
        # RCU grace period (~5 ms); a child that joined in preexec() should not pay it twice.
        if any(pid not in _group_pids([group]) for group in self._groups):
            for group in self._groups:
                _write(os.path.join(group, "cgroup.procs"), str(pid))

    def preexec(self) -> Callable[[], None]:
        """A `preexec_fn` putting the child under the limits before it execs anything.

        Nothing it starts can slip out, and its start-up memory counts. Call `add(pid)` after
        the spawn as well (it is cheap then): the rlimit backend needs it to find the process.
        """
        rlimits = self.rlimit_preexec()
        if rlimits is not None:
            return rlimits
        targets = self.join_files() or []

        def join() -> None:
            for target in targets:
                _write(target, "0")  # 0: the writing process itself

        return join

    def join_files(self) -> list[str] | None:
        """The files a process writes `0` to in order to join the group itself (before it
        execs anything, so that nothing it starts slips out), or None under rlimits."""
        if self.backend is LimitsBackend.RLIMIT:
            return None
        # v1 lets a process move its own single thread via `tasks` without the global lock
        # (and a child is single-threaded between fork and exec); v2 only takes cgroup.procs.
        file = "tasks" if self.backend is LimitsBackend.CGROUP1 else "cgroup.procs"
        return [os.path.join(group, file) for group in self._groups]

    def rlimit_preexec(self) -> Callable[[], None] | None:
        """For the rlimit backend, a `preexec_fn` capping the child's address space."""
        if self.backend is not LimitsBackend.RLIMIT:
            return None
        limit = self.limits.memory_mb * MIB

        def apply() -> None:
            # Address space, not RAM: runtimes reserving large virtual ranges (V8, the JVM) can
            # fail under this long before they use MemorySize of memory.
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        return apply

    def peak_memory_mb(self) -> int:
        """Peak memory charged to the group so far, in MiB rounded up (readable after close)."""
        if not self._closed:
            # ValueError too: close() (in a thread) may close the descriptor mid-read.
            with contextlib.suppress(OSError, ValueError):
                self._peak_bytes = max(self._peak_bytes, self._usage_bytes())
        return -(-self._peak_bytes // MIB)

    def _usage_bytes(self) -> int:
        memory = self._dirs.get("memory", "")
        if self.backend is LimitsBackend.CGROUP1:
            return self._read_peak(os.path.join(memory, "memory.max_usage_in_bytes"))
        if self.backend is LimitsBackend.CGROUP2:
            if self._has_peak_file:
                try:
                    return self._read_peak(os.path.join(memory, "memory.peak"))
                except FileNotFoundError:  # before Linux 5.19: sample memory.current instead
                    self._has_peak_file = False
            return int(_read(os.path.join(memory, "memory.current")))
        # rlimit: the largest high-water mark in the process tree. Not the sum: pages shared
        # after fork would count once per process.
        peak_kb = 0
        live = self._live_pids()
        for pid in live | _descendants(live):
            with contextlib.suppress(OSError):
                peak_kb = max(peak_kb, _keyed(_read(f"/proc/{pid}/status"), "VmHWM:") or 0)
        return peak_kb * 1024

    def _read_peak(self, path: str) -> int:
        if self._peak_fd is None:
            self._peak_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        return int(os.pread(self._peak_fd, 64, 0))

    def oom_killed(self) -> bool:
        """Whether the kernel OOM-killed a process of the group (never known under rlimits)."""
        memory = self._dirs.get("memory", "")
        if self._closed or self._oom or not memory:
            return self._oom
        with contextlib.suppress(OSError):
            if self.backend is LimitsBackend.CGROUP2:
                kills = _keyed(_read(os.path.join(memory, "memory.events")), "oom_kill")
            else:
                kills = _keyed(_read(os.path.join(memory, "memory.oom_control")), "oom_kill")
                if kills is None:  # before Linux 4.13: hitting the limit is the best evidence
                    kills = int(_read(os.path.join(memory, "memory.failcnt")))
            self._oom = bool(kills)
        return self._oom

    def _live_pids(self) -> set[int]:
        live = set()
        for pid, started in self._pids.items():
            with contextlib.suppress(OSError, IndexError):
                if _stat(pid)[19] == started:
                    live.add(pid)
        return live

    def kill_all(self) -> None:
        """SIGKILL every process in the group, daemons that left the session included.

        Blocks until they are gone (a second at most). Under rlimits only the added processes
        and their current descendants can be found.
        """
        if self._closed:
            return
        if self.backend is not LimitsBackend.RLIMIT:
            if not _kill_groups(self._groups):
                log.warning("resource group %s still has processes after SIGKILL", self.name)
            return
        live = self._live_pids()
        for pid in live | _descendants(live):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        """Kill everything and remove the group; usage figures stay readable. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self.peak_memory_mb()
            self.oom_killed()
            self.kill_all()
            self._closed = True
            if self._peak_fd is not None:
                os.close(self._peak_fd)
                self._peak_fd = None
            for group in reversed(self._groups):
                _rmdir(group)
