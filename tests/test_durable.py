"""Durable through power loss (issue 11, item 6).

A power loss cannot be simulated here, so the unit tests record the file-system calls and
check their order: each rename into place, and each new directory, is followed by an fsync of
its parent directory, and a tree's files reach the disk before the rename that publishes it.
The live test damages an unpacked code tree as a power loss can (a file cut short, a file
missing, no completion marker) and shows the next cold start rebuilds it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import stat
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fireside.s3.store import BucketRecord, S3Store
from fireside.sandbox.share import choose_share_root
from fireside.store.blobs import BlobStore
from tests.conftest import ROLE, Server, make_zip

Calls = list[tuple[str, str, str]]


@pytest.fixture()
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[Calls]:
    """Every os.replace/rename/mkdir/fsync, in order, with the paths they touched."""
    recorded: Calls = []
    real_replace, real_rename, real_mkdir, real_fsync = os.replace, os.rename, os.mkdir, os.fsync

    def replace(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        recorded.append(("replace", str(src), str(dst)))
        real_replace(src, dst, *args, **kwargs)

    def rename(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        recorded.append(("rename", str(src), str(dst)))
        real_rename(src, dst, *args, **kwargs)

    def mkdir(path: Any, *args: Any, **kwargs: Any) -> None:
        real_mkdir(path, *args, **kwargs)
        recorded.append(("mkdir", str(path), ""))

    def fsync(fd: int) -> None:
        real_fsync(fd)
        recorded.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"), ""))

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(os, "mkdir", mkdir)
    monkeypatch.setattr(os, "fsync", fsync)
    yield recorded


def _after(calls: Calls, index: int, what: tuple[str, str, str]) -> bool:
    return what in calls[index + 1 :]


def _index(calls: Calls, kind: str, path: Path) -> int:
    """The position of the call of `kind` whose (last) path is `path`."""
    for position, (name, first, second) in enumerate(calls):
        if name == kind and (second or first) == str(path):
            return position
    raise AssertionError(f"no {kind} of {path} in {calls}")


def test_archive_put_fsyncs_each_parent(tmp_path: Path, calls: Calls) -> None:
    blobs = BlobStore(tmp_path, tmp_path / "code")
    data = make_zip({"app.py": "def handler(e, c):\n    return 1\n"})
    digest = hashlib.sha256(data).hexdigest()
    calls.clear()
    path = blobs.put(data, digest)
    # The fan-out directory is new: made, then its entry made durable in blobs/.
    made = _index(calls, "mkdir", path.parent)
    assert _after(calls, made, ("fsync", str(tmp_path / "blobs"), ""))
    renamed = _index(calls, "replace", path)
    temporary = calls[renamed][1]
    assert ("fsync", temporary, "") in calls[:renamed]  # the data before the name
    assert _after(calls, renamed, ("fsync", str(path.parent), ""))


def test_unpacked_tree_is_on_disk_before_it_is_published(tmp_path: Path, calls: Calls) -> None:
    blobs = BlobStore(tmp_path, tmp_path / "code")
    data = make_zip({"app.py": "x = 1\n", "lib/helper.py": "y = 2\n"})
    digest = hashlib.sha256(data).hexdigest()
    blobs.put(data, digest)
    calls.clear()
    tree = blobs.unpack(digest)
    published = _index(calls, "replace", tree)
    staging = Path(calls[published][1])
    before = calls[:published]
    for name in ("app.py", "lib/helper.py", "lib", "."):  # data and entries, then the rename
        assert ("fsync", str((staging / name).resolve()), "") in before, name
    assert _after(calls, published, ("fsync", str(tree.parent), ""))
    marker = tree.with_name(f"{digest}.complete")
    written = _index(calls, "replace", marker)
    assert written > published  # the marker comes last, and is durable too
    assert _after(calls, written, ("fsync", str(tree.parent), ""))


def test_s3_put_fsyncs_the_object_and_its_fan_out_directory(tmp_path: Path, calls: Calls) -> None:
    store = S3Store(tmp_path / "s3")
    store.create_bucket(BucketRecord("b", "000000000000", "us-east-1", time.time()))
    calls.clear()
    record = store.put("b", "k", b"body", {}, time.time())
    path = tmp_path / "s3" / "objects" / record.file[:2] / record.file
    made = _index(calls, "mkdir", path.parent)
    assert _after(calls, made, ("fsync", str(path.parent.parent), ""))
    renamed = _index(calls, "replace", path)
    assert ("fsync", calls[renamed][1], "") in calls[:renamed]
    assert _after(calls, renamed, ("fsync", str(path.parent), ""))


HELPER = "VALUE = 'from the helper'\n" + "# padding\n" * 50
APP = "import helper\ndef handler(event, context):\n    return helper.VALUE\n"


def _writable(tree: Path) -> None:
    for directory, _dirs, _files in os.walk(tree):
        os.chmod(directory, 0o755)


def _invoke(srv: Server, name: str) -> Any:
    out = srv.client().invoke(FunctionName=name)
    return out.get("FunctionError"), out["Payload"].read()


def test_damaged_code_tree_is_rebuilt_on_the_next_cold_start(
    fresh_server: Callable[..., Server],
) -> None:
    srv = fresh_server()
    lam = srv.client()
    created = lam.create_function(
        FunctionName="tree",
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": make_zip({"app.py": APP, "helper.py": HELPER})},
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName="tree", WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    assert _invoke(srv, "tree") == (None, b'"from the helper"')
    digest = base64.b64decode(created["CodeSha256"]).hex()
    tree = choose_share_root(srv.data_dir) / "code" / digest
    marker = tree.with_name(f"{digest}.complete")
    srv.stop()

    # A file cut short (its data never reached the disk), marker and all else in place.
    _writable(tree)
    os.truncate(tree / "helper.py", 0)
    srv = fresh_server(srv.data_dir)
    assert _invoke(srv, "tree") == (None, b'"from the helper"')
    assert (tree / "helper.py").read_text() == HELPER
    srv.stop()

    # The tree renamed into place but a file missing, and no marker.
    _writable(tree)
    (tree / "helper.py").unlink()
    marker.unlink(missing_ok=True)
    srv = fresh_server(srv.data_dir)
    assert _invoke(srv, "tree") == (None, b'"from the helper"')
    assert (tree / "helper.py").read_text() == HELPER
    assert marker.exists()
    assert not stat.S_IMODE(tree.stat().st_mode) & 0o222  # made read-only again
