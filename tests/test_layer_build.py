"""`fireside layer build`: layer zips from a folder or a requirements.txt."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from fireside.layer_build import BuildError, install_requirements, zip_folder
from fireside.runtimes.registry import find_python
from tests.conftest import ROOT


def test_folder_keeps_modes_and_links(tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "bin").mkdir(parents=True)
    (source / "bin" / "tool").write_text("#!/bin/sh\necho hi\n")
    (source / "bin" / "tool").chmod(0o755)
    (source / "data.txt").write_text("data")
    (source / "alias").symlink_to("data.txt")
    output = tmp_path / "layer.zip"
    assert zip_folder(source, output, prefix="") == 3
    with zipfile.ZipFile(output) as archive:
        infos = {info.filename: info for info in archive.infolist()}
        assert sorted(infos) == ["alias", "bin/tool", "data.txt"]
        assert (infos["bin/tool"].external_attr >> 16) & 0o777 == 0o755
        assert (infos["alias"].external_attr >> 16) & 0o170000 == 0o120000
        assert archive.read("alias") == b"data.txt"


def test_prefix_puts_files_under_a_folder(tmp_path: Path) -> None:
    source = tmp_path / "pkgs"
    (source / "mylib").mkdir(parents=True)
    (source / "mylib" / "__init__.py").write_text("X = 1\n")
    output = tmp_path / "layer.zip"
    zip_folder(source, output, prefix="python")
    assert zipfile.ZipFile(output).namelist() == ["python/mylib/__init__.py"]


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(BuildError):
        zip_folder(tmp_path / "missing", tmp_path / "out.zip")


def minimal_wheel(directory: Path) -> Path:
    """A pure-Python wheel built by hand (no network, no build backend)."""
    path = directory / "tinylib-1.0-py3-none-any.whl"
    files = {
        "tinylib/__init__.py": "VALUE = 42\n",
        "tinylib-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: tinylib\nVersion: 1.0\n",
        "tinylib-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{name},,\n" for name in files) + "tinylib-1.0.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        archive.writestr("tinylib-1.0.dist-info/RECORD", record)
    return path


def test_requirements_are_installed_under_python(tmp_path: Path) -> None:
    if find_python("3.11") is None:
        pytest.skip("no CPython 3.11 here")
    wheel = minimal_wheel(tmp_path)
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"{wheel}\n")
    output = tmp_path / "layer.zip"
    install_requirements(requirements, output, "python3.11")
    names = zipfile.ZipFile(output).namelist()
    assert "python/tinylib/__init__.py" in names


def test_requirements_need_a_python_runtime(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match=r"python3\.X"):
        install_requirements(tmp_path / "requirements.txt", tmp_path / "o.zip", "nodejs20.x")


def test_cli_build(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "f.txt").write_text("x")
    output = tmp_path / "cli.zip"
    result = subprocess.run(
        [sys.executable, "-m", "fireside", "layer", "build", str(source), "-o", str(output)],
        capture_output=True, text=True, cwd=ROOT, env={**os.environ},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "1 files" in result.stdout
    assert zipfile.ZipFile(output).namelist() == ["f.txt"]
