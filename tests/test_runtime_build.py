"""What a runtime builds once per host (a pyenv interpreter's image at /var/lang) is built
before an environment starts, never inside Init: on Lambda, Init Duration covers the runtime's
and the function's Init only (docs/runtimes.md, "Cold starts")."""

from __future__ import annotations

import base64
import re
import sys
from collections.abc import Callable
from pathlib import Path

from fireside.runtimes import registry
from fireside.runtimes.python import image
from tests.conftest import ROLE, Server, python_zip
from tests.test_python_override import interpreter_outside_usr

VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
BUILT = re.compile(rf"built the {re.escape(VERSION)} runtime image in ([0-9.]+) s")


def test_interpreter_image_is_built_before_the_first_environment(
    fresh_server: Callable[..., Server], tmp_path: Path
) -> None:
    env: dict[str, str] = {}
    interpreter = registry.find_python(VERSION)
    if interpreter is None or not image.needs_image(interpreter):
        # This Python lives in /usr: a copy of it outside, as pyenv lays one out, needs one.
        binary = interpreter_outside_usr(tmp_path / "python")
        env[f"FIRESIDE_PYTHON_{VERSION.replace('.', '_')}"] = str(binary)
    srv = fresh_server(**env)  # a new data directory: its shared tree has no image yet
    lam = srv.client()
    lam.create_function(
        FunctionName="first", Runtime=f"python{VERSION}", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": python_zip("def handler(event, context):\n    return 1\n")},
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName="first", WaiterConfig={"Delay": 0.1})
    # Active means prepared: the image was built then, before any environment started.
    built = [match for line in list(srv.output) if (match := BUILT.search(line))]
    assert built, "".join(srv.output)
    build_seconds = float(built[0][1])

    out = lam.invoke(FunctionName="first", LogType="Tail")
    log = base64.b64decode(out["LogResult"]).decode()
    assert "FunctionError" not in out, log
    init = re.search(r"Init Duration: ([0-9.]+) ms", log)
    assert init is not None, log
    # Init is the interpreter's start and the handler's import, not the build.
    assert float(init[1]) / 1000 < build_seconds, (init[1], build_seconds)
    assert len([line for line in srv.output if BUILT.search(line)]) == 1  # once
