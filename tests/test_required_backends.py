"""FIRESIDE_TEST_REQUIRE turns a skipped test whose backend is missing into a failed run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PROBE = """
from tests.conftest import unavailable

def test_needs_gvisor():
    unavailable("gvisor", "runsc is not installed")
"""


def run_probe(tmp_path: Path, require: str) -> subprocess.CompletedProcess[str]:
    probe = tmp_path / "test_probe.py"
    probe.write_text(PROBE)
    env = {**os.environ, "FIRESIDE_TEST_REQUIRE": require, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
         str(probe)],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60,
    )  # fmt: skip


def test_a_required_backend_that_is_missing_fails_the_run(tmp_path: Path) -> None:
    done = run_probe(tmp_path, "namespace,gvisor")
    assert done.returncode == 1, done.stdout
    assert "gvisor is required (FIRESIDE_TEST_REQUIRE) but unavailable" in done.stdout


def test_an_optional_backend_that_is_missing_skips(tmp_path: Path) -> None:
    done = run_probe(tmp_path, "postgresql")
    assert done.returncode == 0 and "1 skipped" in done.stdout, done.stdout
