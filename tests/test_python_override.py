"""A `FIRESIDE_PYTHON_X_Y` override is used whatever its version (docs/runtimes.md): the
runtime image mounted at /var/lang is built from the interpreter's own stdlib, found by the
interpreter's version rather than the runtime id's."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fireside.runtimes import registry
from tests.conftest import ROLE, Server, python_zip

VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
SOURCE = """
import sys
def handler(event, context):
    return {"version": "%d.%d" % sys.version_info[:2], "executable": sys.executable}
"""


def interpreter_outside_usr(root: Path) -> Path:
    """This Python's executable in a prefix of its own outside /usr, as pyenv lays one out,
    so that sandboxes mount it as an image rather than through the host's /usr."""
    binary = root / "bin" / f"python{VERSION}"
    binary.parent.mkdir(parents=True)
    (root / "lib").mkdir()
    shutil.copy2(os.path.realpath(sys.executable), binary)
    os.symlink(Path(sys.base_prefix, "lib", f"python{VERSION}"), root / "lib" / f"python{VERSION}")
    return binary


def test_resolve_reports_the_override_interpreters_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    binary = interpreter_outside_usr(tmp_path / "python")
    monkeypatch.setenv("FIRESIDE_PYTHON_3_99", str(binary))
    registry.find_python.cache_clear()
    try:
        command = registry.resolve("python3.99")
    finally:
        registry.find_python.cache_clear()
    assert command.version == VERSION
    assert command.execution_env == "AWS_Lambda_python3.99"


def test_override_of_another_version_runs(
    fresh_server: Callable[..., Server], tmp_path: Path
) -> None:
    binary = interpreter_outside_usr(tmp_path / "python")
    lam = fresh_server(FIRESIDE_PYTHON_3_14=str(binary)).client()
    lam.create_function(
        FunctionName="override", Runtime="python3.14", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": python_zip(SOURCE)},
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName="override")
    out = lam.invoke(FunctionName="override")
    payload = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, payload
    assert payload["version"] == VERSION
    assert payload["executable"].endswith(f"/bin/python{VERSION}")
