"""Build a layer zip from a folder or a `requirements.txt` (`fireside layer build`).

A layer's zip is extracted into `/opt`, so its top-level folders must be the ones each runtime
searches: `python/` for Python (`/opt/python` is on `sys.path`), `nodejs/node_modules/` for
Node.js, `ruby/gems/X.Y.0/` for Ruby, `bin/` and `lib/` for any runtime.

- From a folder: the folder's contents become the zip's root, or go under `--prefix`.
- From a requirements file: `pip install --target python/` with the interpreter of the chosen
  `python3.X` runtime, so compiled wheels match it, then zip `python/`.

File modes are kept (executables stay executable: `bin/`, `extensions/`, `bootstrap`), and
symbolic links are stored as links, as the Lambda console's zip tool does.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from fireside.store.durable import fsync_file, replace_durably


class BuildError(Exception):
    """The layer cannot be built; the message says why."""


def zip_folder(folder: Path, output: Path, prefix: str = "") -> int:
    """Zip `folder`'s contents (under `prefix`) into `output`; returns the number of files."""
    if not folder.is_dir():
        raise BuildError(f"{folder} is not a folder")
    count = 0
    staging = output.with_name(output.name + ".partial")
    with zipfile.ZipFile(staging, "w", zipfile.ZIP_DEFLATED) as archive:
        for directory, subdirs, files in os.walk(folder):
            subdirs.sort()
            relative = Path(directory).relative_to(folder)
            for name in sorted(files) + [d for d in subdirs if Path(directory, d).is_symlink()]:
                path = Path(directory, name)
                arcname = str(Path(prefix, relative, name)).removeprefix("./")
                info = zipfile.ZipInfo(arcname)
                mode = os.lstat(path).st_mode
                info.external_attr = (mode & 0xFFFF) << 16
                if stat.S_ISLNK(mode):
                    archive.writestr(info, os.readlink(path))
                else:
                    info.compress_type = zipfile.ZIP_DEFLATED
                    archive.writestr(info, path.read_bytes())
                count += 1
    fsync_file(staging)
    replace_durably(staging, output)
    return count


def install_requirements(requirements: Path, output: Path, runtime: str) -> int:
    """pip-install `requirements` for `runtime` (python3.X) under `python/` and zip that."""
    if not runtime.startswith("python3."):
        raise BuildError("a requirements.txt layer needs a python3.X --runtime")
    from fireside.runtimes.registry import find_python

    version = runtime.removeprefix("python")
    python = find_python(version)
    if python is None:
        raise BuildError(f"no CPython {version} on this host to install for {runtime}")
    with tempfile.TemporaryDirectory() as scratch:
        target = Path(scratch, "python")
        command = [python, "-m", "pip", "install", "--quiet", "--no-compile",
                   "--target", str(target), "-r", str(requirements)]  # fmt: skip
        print(f"installing {requirements} for {runtime} ...", file=sys.stderr, flush=True)
        result = subprocess.run(command, check=False)
        if result.returncode != 0:
            raise BuildError(f"pip failed with status {result.returncode}")
        return zip_folder(Path(scratch), output)
