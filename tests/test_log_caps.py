"""A function that floods its output cannot fill the host's disk (issue 11, item 5).

Before log caps, a function printing for 8 s wrote a 2.1 GB log file: rotation ran only after
the invoke. These flood 24 MiB each against small caps and watch the file while the
invoke runs.
"""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import ROLE, ROOT, Server, python_zip

MIB = 1024 * 1024

FLOOD = """
import sys

def handler(event, context):
    line = "x" * 999 + "\\n"
    block = line * 64
    written = 0
    while written < event["bytes"]:
        sys.stdout.write(block)
        written += len(block)
    sys.stdout.flush()
    print("last line of", context.aws_request_id)
    return written
"""


def _on_disk(log: Path) -> int:
    """Bytes of the function's records on disk: the file and its rotated half."""
    total = 0
    for path in (log, log.with_suffix(".log.1")):
        with contextlib.suppress(FileNotFoundError):
            total += path.stat().st_size
    return total


def _wait_for(log: Path, text: str, timeout: float = 10) -> str:
    """The log once it holds `text` (records are flushed shortly after an invoke)."""
    deadline = time.monotonic() + timeout
    while True:
        kept = log.read_text()
        if text in kept or time.monotonic() > deadline:
            return kept
        time.sleep(0.05)


def _flood(srv: Server, megabytes: int, invokes: int) -> tuple[list[dict[str, Any]], int, Path]:
    """Create the flooding function and invoke it `invokes` times; returns the invokes'
    answers, the most bytes seen on disk while they ran, and the log file."""
    lam = srv.client()
    name = f"flood-{time.monotonic_ns()}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(FLOOD)},
        Timeout=30,
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    log = srv.data_dir / "logs" / "000000000000" / "us-east-1" / f"{name}.log"
    answers: list[dict[str, Any]] = []
    done = threading.Event()

    def run() -> None:
        try:
            for _ in range(invokes):
                payload = json.dumps({"bytes": megabytes * MIB}).encode()
                answers.append(lam.invoke(FunctionName=name, Payload=payload, LogType="Tail"))
        finally:
            done.set()

    worker = threading.Thread(target=run)
    worker.start()
    most = 0
    while not done.wait(0.02):  # sampled while the function prints
        most = max(most, _on_disk(log))
    worker.join()
    return answers, max(most, _on_disk(log)), log


def test_invocation_output_is_truncated_while_written(
    fresh_server: Callable[..., Server],
) -> None:
    srv = fresh_server(FIRESIDE_LOG_INVOKE_BYTES=str(MIB), FIRESIDE_LOG_FUNCTION_BYTES=str(2 * MIB))
    answers, most, log = _flood(srv, megabytes=24, invokes=3)
    for answer in answers:  # each invoke completed, and printed far more than it kept
        assert answer["StatusCode"] == 200 and "FunctionError" not in answer
        assert json.loads(answer["Payload"].read()) > 10 * MIB
        tail = base64.b64decode(answer["LogResult"]).decode()
        assert "[fireside] log output truncated" in tail
        assert "REPORT RequestId:" in tail
    # 2 MiB on disk for the function however much it printed, during and after the invokes;
    # each invoke kept 1 MiB of its output (so three invokes rotated the oldest out).
    assert most <= 2 * MIB
    assert log.with_suffix(".log.1").exists()
    last = answers[-1]["ResponseMetadata"]["RequestId"]
    _wait_for(log, f"REPORT RequestId: {last}")
    shown = subprocess.run(
        [sys.executable, "-m", "fireside", "logs", log.stem, "--data-dir", str(srv.data_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
        timeout=60,
    ).stdout
    assert f"END RequestId: {last}" in shown
    assert shown.count("[fireside] log output truncated") >= 1
    # What an invoke printed after its budget ran out was dropped, its last line included.
    assert f"last line of {last}" not in shown


def test_function_log_stays_within_its_cap_during_one_invoke(
    fresh_server: Callable[..., Server],
) -> None:
    srv = fresh_server(
        FIRESIDE_LOG_INVOKE_BYTES=str(1024 * MIB), FIRESIDE_LOG_FUNCTION_BYTES=str(MIB)
    )
    answers, most, log = _flood(srv, megabytes=24, invokes=1)
    assert answers[0]["StatusCode"] == 200 and "FunctionError" not in answers[0]
    printed = json.loads(answers[0]["Payload"].read())
    assert printed > 10 * MIB
    assert most <= MIB
    request_id = answers[0]["ResponseMetadata"]["RequestId"]
    kept = _wait_for(log, f"REPORT RequestId: {request_id}")
    assert _on_disk(log) <= MIB
    assert f"REPORT RequestId: {request_id}" in kept  # the newest records are the ones kept
    assert f"last line of {request_id}" in kept
