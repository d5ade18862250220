"""Shared trees whose data directory is gone are removed at start-up, mounts and all."""

from __future__ import annotations

import os
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
