"""The event loop's thread runs at a lower niceness; what it starts runs at the default."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from fireside.config import ConfigError, load_settings
from fireside.priority import favour_this_thread


def _in_a_thread(nice: int) -> dict[str, object]:
    """Favour a fresh thread (not pytest's) and report what it and its offspring run at."""
    seen: dict[str, object] = {}

    def body() -> None:
        seen["refused"] = favour_this_thread(nice)
        seen["self"] = os.getpriority(os.PRIO_PROCESS, 0)
        child_thread: list[int] = []
        worker = threading.Thread(
            target=lambda: child_thread.append(os.getpriority(os.PRIO_PROCESS, 0))
        )
        worker.start()
        worker.join()
        seen["thread"] = child_thread[0]
        out = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpriority(os.PRIO_PROCESS, 0))"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        seen["process"] = int(out.stdout)

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    return seen


def test_the_favoured_thread_alone_runs_ahead() -> None:
    seen = _in_a_thread(-5)
    if os.geteuid() != 0:  # unprivileged: refused, said so, and nothing changed
        assert seen["refused"] and seen["self"] == 0
        return
    assert seen["refused"] is None
    assert seen["self"] == -5
    # SCHED_RESET_ON_FORK: its threads and processes start at the default niceness.
    assert seen["thread"] == 0
    assert seen["process"] == 0
    assert os.getpriority(os.PRIO_PROCESS, 0) == 0  # pytest's own thread untouched


def test_zero_leaves_the_thread_alone() -> None:
    seen = _in_a_thread(0)
    assert seen["refused"] is None and seen["self"] == 0


def test_loop_nice_setting_is_bounded(tmp_path: Path) -> None:
    settings = load_settings(environ={"FIRESIDE_LOOP_NICE": "-10"}, data_dir=tmp_path)
    assert settings.loop_nice == -10
    for bad in ("1", "-21", "x"):
        with pytest.raises(ConfigError):
            load_settings(environ={"FIRESIDE_LOOP_NICE": bad}, data_dir=tmp_path)
