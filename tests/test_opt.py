"""/opt from layers: merged in the order listed, the last layer winning, made once per list."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fireside.sandbox.opt import OptTrees


def layer(root: Path, name: str, files: dict[str, str]) -> Path:
    top = root / name
    for path, content in files.items():
        target = top / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if content.startswith("->"):
            target.symlink_to(content[2:])
        else:
            target.write_text(content)
    top.mkdir(exist_ok=True)
    return top


@pytest.fixture()
def layers(tmp_path: Path) -> list[Path]:
    return [
        layer(tmp_path, "one", {"a.txt": "1", "d/x": "1", "python/m.py": "one", "f": "file"}),
        layer(tmp_path, "two", {"a.txt": "2", "d/y": "2", "bin/tool": "two"}),
        layer(tmp_path, "three", {"a.txt": "3", "f/inner": "dir now", "link": "->a.txt"}),
    ]


@pytest.mark.parametrize("overlay", [True, False], ids=["overlayfs", "hard-links"])
def test_later_layers_win_and_directories_merge(
    tmp_path: Path, layers: list[Path], overlay: bool
) -> None:
    if overlay and os.geteuid() != 0:
        pytest.skip("overlayfs mounts need root")
    trees = OptTrees(tmp_path / "opt", overlay=overlay)
    try:
        merged = trees.merged(layers)
        assert merged is not None
        assert (merged / "a.txt").read_text() == "3"
        assert sorted(os.listdir(merged / "d")) == ["x", "y"]
        assert (merged / "python/m.py").read_text() == "one"
        assert (merged / "bin/tool").read_text() == "two"
        assert (merged / "f/inner").read_text() == "dir now"  # a later directory hides a file
        assert os.readlink(merged / "link") == "a.txt"
        assert trees.merged(list(layers)) == merged  # made once per ordered list
        assert trees.merged(layers[::-1]) != merged
        assert (trees.merged(layers[::-1]) / "a.txt").read_text() == "1"  # type: ignore[operator]
    finally:
        trees.close()
    if overlay:
        assert not os.path.ismount(merged)


def test_no_layers_and_one_layer_need_no_merge(tmp_path: Path, layers: list[Path]) -> None:
    trees = OptTrees(tmp_path / "opt")
    assert trees.merged([]) is None
    assert trees.merged(layers[:1]) == layers[0]
    assert os.listdir(tmp_path / "opt") == []
