"""The Python runtime's own files, compiled once per interpreter instead of on every start.

Sandboxes show Fireside's runtime files read-only at /var/runtime, and the runtime runs with
``-B``, so nothing there was ever cached: every start from scratch compiled ``bootstrap.py``
(~700 lines: 6-10 ms, more than the interpreter's own start-up) and every module it imports
from /var/runtime. `build` writes their ``__pycache__`` into the runtime directory on the host,
with the function's own interpreter, once per Python version (where ``RuntimeCommand.build``
runs, before the first environment starts). Imports of those modules then use it as Python
always does (checked against each source's size and time); ``bootstrap.py`` itself, the
script, Python never loads from a cache, so it is started by `start_code`: a few lines that run
its cached code as ``__main__`` when the cache matches the source, else compile it as before.
"""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

#: Compiles the files given, each named by the path the sandbox shows it at (argv[1]) in
#: tracebacks and `co_filename`, never the host's.
_COMPILE = (
    "import py_compile, sys\n"
    "for path in sys.argv[2:]:\n"
    "    name = path.rsplit('/', 1)[-1]\n"
    "    py_compile.compile(path, dfile=sys.argv[1] + '/' + name, doraise=True)\n"
)


def build(runtime_dir: Path, shown_at: str, interpreter: str, names: list[str]) -> None:
    """Compile `names` (top-level files of `runtime_dir`, which sandboxes show at `shown_at`)
    for `interpreter`, unless done. Blocking (a thread); a failure only costs the cache."""
    tag = subprocess.run(
        [interpreter, "-S", "-c", "import sys; print(sys.implementation.cache_tag)"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    ).stdout.strip()
    if not tag:
        return
    cached = runtime_dir / "__pycache__"
    wanted = [name for name in names if not (cached / f"{name[:-3]}.{tag}.pyc").exists()]
    if not wanted:
        return
    result = subprocess.run(
        [interpreter, "-S", "-c", _COMPILE, shown_at, *(str(runtime_dir / n) for n in wanted)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        log.warning("could not compile the Python runtime for %s: %s", interpreter, result.stderr)


def start_code(script: str) -> str:
    """Code for ``python -c`` that runs `script` as ``__main__``, as ``python script`` does
    (`sys.argv[0]`, `sys.path[0]`, `__file__`), from its cached code when that matches the
    source's size and time (as an import would check it)."""
    directory, _, name = script.rpartition("/")
    cache = f"{directory}/__pycache__/{name[:-3]}."
    return f"""import sys
def _code(f):
    sys.argv[0] = f
    sys.path[0] = {directory!r}
    main = sys.modules['__main__']
    main.__file__ = f
    del main._code
    try:
        import marshal, os
        with open({cache!r} + sys.implementation.cache_tag + '.pyc', 'rb') as h:
            data = h.read()
        s = os.stat(f)
        mtime, size = int(s.st_mtime) & 0xFFFFFFFF, s.st_size & 0xFFFFFFFF
        if data[4:16] == bytes(4) + mtime.to_bytes(4, 'little') + size.to_bytes(4, 'little'):
            return marshal.loads(data[16:])
    except (OSError, ValueError, EOFError):
        pass
    with open(f, 'rb') as h:
        return compile(h.read(), f, 'exec')
exec(_code({script!r}))
"""
