"""Helper processes die with the server, and a restarted server sweeps what a crash left.

Sandboxes start long-lived helpers: bubblewrap, runsc (and its Sentry and gofer), QEMU,
slirp4netns. Each runs in a session of its own (so a signal to Fireside's group does not reach
it), which also means nothing ends it when Fireside is killed with SIGKILL. Two ties:
- processes Fireside spawns through a `preexec_fn` anyway (runsc, QEMU) set
  `PR_SET_PDEATHSIG` to SIGKILL there (`die_with_server`); bubblewrap, spawned by `vfork`
  (no copy of the server), gets it from `setpriv --pdeathsig` (`fireside.sandbox.namespace`).
  The signal fires when the *thread* that forked exits, so they are spawned from the event
  loop's thread, which lives as long as the server;
- slirp4netns, spawned from worker threads and without a `preexec_fn` (which makes every
  spawn a full fork), gets `--exit-fd`: the read end of one pipe whose write end only this
  process holds (close-on-exec), so it sees end-of-file when the server dies, however.

What still escapes (a server killed between a fork and its `prctl`, a kernel that loses the
race) is swept at the next start: helpers carry `FIRESIDE_HELPER_OF=<instance>` in their
environment (never in a function's), and `sweep` kills every process carrying this server's
instance (its share root's hash, so servers of other data directories are left alone).
Processes inside an environment's resource group are swept with the group
(`limits.cleanup_stale`).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import signal
from collections.abc import Callable
from pathlib import Path

__all__ = ["MARKER", "die_with_server", "exit_fd", "helper_env", "instance_of", "sweep"]

MARKER = "FIRESIDE_HELPER_OF"
_PR_SET_PDEATHSIG = 1
# Looked up now: a child between fork and exec must not take the dynamic loader's locks.
_prctl = ctypes.CDLL(None, use_errno=True).prctl
_lifeline: tuple[int, int] | None = None


def instance_of(share_root: Path) -> str:
    """The name of one server's helpers: the same for every run on the same data directory."""
    return hashlib.sha256(str(share_root).encode()).hexdigest()[:10]


def helper_env(instance: str, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a helper process: `base` (default: Fireside's) with its marker."""
    return {**(os.environ if base is None else base), MARKER: instance}


def die_with_server(then: Callable[[], None] | None = None) -> Callable[[], None]:
    """A `preexec_fn`: runs `then` (which may change credentials: that clears the death
    signal, so it is set after), then SIGKILL on the server's death; a child whose server is
    already gone exits at once instead of running unowned."""
    server = os.getpid()

    def preexec() -> None:
        if then is not None:
            then()
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != server:
            os._exit(1)

    return preexec


def exit_fd() -> int:
    """An fd that reaches end-of-file when this process dies (for `slirp4netns --exit-fd`).

    The caller passes it with `pass_fds` and must not close it: it is shared by every helper.
    """
    global _lifeline
    if _lifeline is None:
        _lifeline = os.pipe()  # both ends close-on-exec: no other child keeps it open
    return _lifeline[0]


def sweep(instance: str) -> int:
    """Kill processes left by an earlier run of this server (its marker in their environment);
    returns how many."""
    needle = f"{MARKER}={instance}".encode()
    killed = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as environ:
                if needle not in environ.read().split(b"\0"):
                    continue
            os.kill(int(entry), signal.SIGKILL)
            killed += 1
        except (OSError, ValueError):
            continue  # gone, or not ours to read
    return killed
