"""The /etc a namespace sandbox binds (`fireside.sandbox.etc`): copies that follow the host's."""

from __future__ import annotations

import os
from pathlib import Path

from fireside.sandbox.etc import EtcTree


def test_copies_follow_their_sources_and_directories_stay_bound(tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "hosts").write_text("127.0.0.1 localhost\n")
    (host / "ssl").mkdir()
    secret = host / "shadow"
    secret.write_text("root:x\n")
    secret.chmod(0o600)
    zone = host / "zone"
    zone.write_text("UTC\n")
    (host / "localtime").symlink_to(zone)
    resolv = tmp_path / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\n")
    share = tmp_path / "share"
    share.mkdir()
    paths = [str(host / name) for name in ("hosts", "ssl", "shadow", "localtime", "missing")]

    tree = EtcTree(share, paths, resolv)
    assert tree.built() is None  # not built yet: a start builds it first, in a thread
    first = tree.current()
    assert sorted(os.listdir(first)) == ["hosts", "localtime", "resolv.conf", "shadow", "ssl"]
    assert (first / "hosts").read_text() == "127.0.0.1 localhost\n"
    assert (first / "localtime").read_text() == "UTC\n" and not (first / "localtime").is_symlink()
    assert (first / "resolv.conf").read_text() == "nameserver 127.0.0.1\n"
    # Directories and what `nobody` may not read are bound over mount points, never copied.
    assert tree.bound == [str(host / "ssl"), str(secret)]
    assert (first / "ssl").is_dir() and (first / "shadow").read_text() == ""
    assert tree.current() == first  # nothing changed: the same directory
    assert tree.built() == first

    (host / "hosts").write_text("127.0.0.1 localhost\n10.0.0.1 changed\n")
    assert tree.built() is None  # a source changed: to be built again
    second = tree.current()
    assert second != first
    assert (second / "hosts").read_text().endswith("10.0.0.1 changed\n")
    assert (first / "hosts").read_text() == "127.0.0.1 localhost\n"  # running sandboxes keep theirs
