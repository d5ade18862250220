"""The fork server of Node.js snapshot templates: a native addon built on the host.

Node.js cannot fork from JavaScript, so its templates (`snapshot.js`) load
`fork/fireside_fork.c`, a small Node-API addon that needs no Node.js headers. Fireside compiles
it with the host's C compiler (``$CC``, else ``cc``) the first time a Node.js template is made,
into ``<cache>/fireside_fork-<hash of the source>.node``, and reuses it while the source is
unchanged. Sandboxes see it read-only at `SANDBOX_PATH`. Without a compiler (or when the build
fails) Node.js snapshot starts keep an initialised spare instead, with one warning.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shlex
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from fireside.sandbox.base import Bind, SnapshotHooks, TemplatePlan
from fireside.store.durable import fsync_file, replace_durably

log = logging.getLogger(__name__)

SOURCE = Path(__file__).resolve().parent / "fork" / "fireside_fork.c"
FLAGS = ("-O2", "-shared", "-fPIC")
#: Where a template finds the addon (bound there by the namespace backend).
SANDBOX_PATH = "/var/snapshot/fireside_fork.node"
#: V8 flags of a template (and so of its copies). A fork keeps only the forking thread: no
#: background tasks. The memory reducer's delayed collection, pending in the template, would
#: run in every copy once the template is 8 s old (about 18 ms and 4 MB more per restore).
TEMPLATE_FLAGS = ("--single-threaded", "--no-memory-reducer")
BUILD_TIMEOUT = 120.0


def template_argv(argv: list[str]) -> list[str]:
    """A Node.js runtime's command line as a template's: V8's flags before the script."""
    return [*argv[:-1], *TEMPLATE_FLAGS, argv[-1]]


class NodeSnapshot(SnapshotHooks):
    """Node.js templates: V8's template flags, and the addon, built once per cache
    directory, bound at `SANDBOX_PATH` and named by $FIRESIDE_NODE_FORK."""

    def _addon(self, cache: Path) -> ForkAddon:
        with _ADDONS_LOCK:
            addon = _ADDONS.get(cache)
            if addon is None:
                addon = _ADDONS[cache] = ForkAddon(cache / "native")
            return addon

    def available(self, cache_dir: Path) -> bool:
        return self._addon(cache_dir).available()

    def template(self, argv: list[str], cache_dir: Path) -> TemplatePlan:
        built = self._addon(cache_dir).build()
        return TemplatePlan(
            template_argv(argv),
            {"FIRESIDE_NODE_FORK": SANDBOX_PATH},
            [Bind(built, SANDBOX_PATH)],
        )


class ForkAddon:
    """The addon for one cache directory: whether it can exist, and its built file."""

    def __init__(self, cache_dir: Path) -> None:
        self._cache_dir = cache_dir
        self._lock = threading.Lock()
        self._warned = False
        self.built: Path | None = None
        command = shlex.split(os.environ.get("CC") or "cc")
        found = shutil.which(command[0]) if command else None
        self._compiler = [found, *command[1:]] if found else None
        self._failure = None if found else f"no C compiler ({' '.join(command) or 'cc'})"

    def available(self) -> bool:
        """False when it cannot be built here (says why once, as a warning)."""
        if self._failure is not None and not self._warned:
            self._warned = True
            log.warning(
                "Node.js snapshot starts use an initialised spare, not a fork: %s "
                "(install gcc and libc6-dev: scripts/system-deps.sh)",
                self._failure,
            )
        return self._failure is None

    def build(self) -> Path:
        """The built addon, compiled now if needed (blocking: run in a thread).

        Raises OSError when it cannot be built; later calls of `available()` say False."""
        with self._lock:
            if self.built is not None:
                return self.built
            if self._compiler is None:
                raise OSError(self._failure)
            source = SOURCE.read_bytes()
            digest = hashlib.sha256(source + " ".join(FLAGS).encode()).hexdigest()[:16]
            target = self._cache_dir / f"fireside_fork-{digest}.node"
            if not target.exists():
                try:
                    self._compile(target)
                except OSError as exc:
                    self._failure = str(exc)
                    raise
            self.built = target
            return target

    def _compile(self, target: Path) -> None:
        assert self._compiler is not None
        self._cache_dir.mkdir(mode=0o711, parents=True, exist_ok=True)
        fd, staging = tempfile.mkstemp(dir=self._cache_dir, prefix=".build-", suffix=".node")
        os.close(fd)
        try:
            result = subprocess.run(
                [*self._compiler, *FLAGS, "-o", staging, str(SOURCE)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT,
                check=False,
            )
            if result.returncode != 0:
                lines = result.stderr.strip().splitlines()
                errors = [line for line in lines if "error" in line] or lines
                detail = errors[0] if errors else f"status {result.returncode}"
                raise OSError(f"cannot build the Node.js fork addon: {detail}")
            os.chmod(staging, 0o644)  # sandboxes run as nobody
            fsync_file(Path(staging))
            replace_durably(Path(staging), target)
        except subprocess.TimeoutExpired as exc:
            raise OSError("building the Node.js fork addon timed out") from exc
        finally:
            if os.path.exists(staging):
                os.unlink(staging)
        log.info("built the Node.js fork addon %s", target.name)


#: One addon per cache directory (one per server: its shared tree), however many runtimes ask.
_ADDONS: dict[Path, ForkAddon] = {}
_ADDONS_LOCK = threading.Lock()
