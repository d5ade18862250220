"""How a runtime other than Fireside's Python bootstrap starts inside a namespace sandbox.

``python3 -E -S -B fireside_exec.py [PROGRAM ARG...]`` (not -I, which would drop this directory from sys.path) on the host's own Python (mounted with
`/usr` in every sandbox):
1. applies Landlock when Fireside asks (`FIRESIDE_LANDLOCK=1`), so the runtime and all it starts
   are confined before any function code runs;
2. in a warm spare (`FIRESIDE_WARM_FD`), waits for the function's environment and command as
   JSON on that descriptor, then changes to its task root;
3. starts the function's external extensions (`FIRESIDE_EXTENSIONS`, from its layers);
4. becomes the runtime with ``execve``: nothing of this script stays behind.

Standard library only: it runs inside the sandbox, never importing `fireside`.
"""

from __future__ import annotations

import os
import sys


def start_extensions(env: dict[str, str]) -> None:
    """Start each executable listed in `FIRESIDE_EXTENSIONS` (removed from `env`), as Lambda
    starts `/opt/extensions/*` before the runtime; they register with the Extensions API."""
    for path in env.pop("FIRESIDE_EXTENSIONS", "").split(":"):
        if path:
            try:
                os.posix_spawn(path, [path], env)
            except OSError as exc:
                sys.stderr.write(f"fireside: cannot start extension {path}: {exc.strerror}\n")


def main() -> None:
    # A snapshot template's children still mount; they apply Landlock themselves.
    if "FIRESIDE_SNAPSHOT_FD" not in os.environ and os.environ.pop("FIRESIDE_LANDLOCK", "") == "1":
        import fireside_landlock  # type: ignore[import-not-found]  # beside this file at run time

        fireside_landlock.restrict()
    argv, env = sys.argv[1:], dict(os.environ)
    fd = env.pop("FIRESIDE_WARM_FD", None)
    if fd is not None:
        import json

        data = b""
        while chunk := os.read(int(fd), 65536):
            data += chunk
        if not data:  # Fireside discarded the spare
            os._exit(0)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, int(fd))
        os.close(null)
        launch = json.loads(data)
        argv, env = launch["argv"], launch["env"]
        os.chdir(env.get("LAMBDA_TASK_ROOT") or "/var/task")
    if not argv:
        sys.exit("usage: fireside_exec.py PROGRAM [ARG...]")
    start_extensions(env)
    try:
        os.execve(argv[0], argv, env)
    except OSError as exc:
        sys.stderr.write(f"fireside: cannot run {argv[0]}: {exc.strerror}\n")
        os._exit(127)


if __name__ == "__main__":
    main()
