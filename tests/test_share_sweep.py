"""Shared trees whose data directory is gone are removed at start-up, mounts and all."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from fireside.sandbox import mounts
from fireside.sandbox.share import prepare_share_root, sweep_orphans


def test_orphans_are_swept_and_live_trees_kept(tmp_path: Path) -> None:
    base = tmp_path / "var-tmp"
    base.mkdir()
    alive_data, gone_data = tmp_path / "alive", tmp_path / "gone"
    alive_data.mkdir()
    gone_data.mkdir()
    alive = prepare_share_root(base / "fireside-share-alive", alive_data)
    gone = prepare_share_root(base / "fireside-share-gone", gone_data)
    stranger = base / "fireside-share-stranger"  # no owner recorded: left alone
    stranger.mkdir()
    slot = gone / "slots" / "warm-x"
    slot.parent.mkdir()
    as_root = os.geteuid() == 0
    if as_root:  # a slot mount a killed server left behind
        mounts.make_slot(slot)
        assert mounts.mounts_under(gone) == [slot]
    gone_data.rmdir()
    assert sweep_orphans(base) == 1
    assert not gone.exists()
    assert alive.exists() and stranger.exists()
    if as_root:
        assert mounts.mounts_under(gone) == []


def test_nothing_to_sweep(tmp_path: Path) -> None:
    assert sweep_orphans(tmp_path) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts need root")
def test_swept_slot_with_code_bound(tmp_path: Path) -> None:
    base = tmp_path / "var-tmp"
    base.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    root = prepare_share_root(base / "fireside-share-x", data)
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("x")
    slot = root / "slots" / "warm-y"
    slot.parent.mkdir()
    mounts.make_slot(slot)
    mounts.bind_readonly(code, slot)
    data.rmdir()
    assert sweep_orphans(base) == 1
    assert not root.exists()
    assert (code / "app.py").read_text() == "x"  # the code itself is untouched


def test_a_tree_in_use_is_kept_when_its_data_dir_is_gone(tmp_path: Path) -> None:
    """A running server whose data directory was removed under it keeps its tree: another
    server's sweep at start-up must not pull the mounts out from under its sandboxes."""
    base = tmp_path / "var-tmp"
    base.mkdir()
    data = tmp_path / "data"
    data.mkdir()
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from fireside.sandbox.share import hold, prepare_share_root\n"
        "root = prepare_share_root(Path(sys.argv[1]), Path(sys.argv[2]))\n"
        "hold(root)\n"
        "print('held', flush=True)\n"
        "sys.stdin.readline()\n"
    )
    server = subprocess.Popen(
        [sys.executable, "-c", script, str(base / "fireside-share-busy"), str(data)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stdout.readline() == "held\n"
        data.rmdir()
        assert sweep_orphans(base) == 0
        assert (base / "fireside-share-busy").exists()
    finally:
        server.communicate("")
    assert sweep_orphans(base) == 1  # its server gone, the tree is an orphan
