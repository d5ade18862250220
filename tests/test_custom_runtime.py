"""Custom runtimes (`provided.al2023`): a shell `bootstrap` and AWS's own Python runtime client."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROLE, curl_bootstrap, make_zip

# The AWS tutorial's custom runtime: a curl loop against the Runtime API.
SHELL_BOOTSTRAP = curl_bootstrap('echo "handling $REQUEST_ID"; BODY="{\\"echo\\": $EVENT}"')


def deploy(
    lam: Any, name: str, files: dict[str, str | bytes], modes: dict[str, int], handler: str
) -> None:
    lam.create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Handler=handler,
        Role=ROLE,
        Code={"ZipFile": make_zip(files, modes)},
        Timeout=30,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})


def test_shell_bootstrap(lam: Any) -> None:
    deploy(lam, "shell-rt", {"bootstrap": SHELL_BOOTSTRAP}, {"bootstrap": 0o755}, "unused")
    try:
        for i in range(3):
            out = lam.invoke(FunctionName="shell-rt", Payload=json.dumps({"n": i}).encode())
            assert json.loads(out["Payload"].read()) == {"echo": {"n": i}}
    finally:
        lam.delete_function(FunctionName="shell-rt")


# Posts an error for events asking for it, then lingers and exits without asking for the next
# event (as Node's and Ruby's runtimes exit after an uncaught error, only slower).
EXITING_BOOTSTRAP = """#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
while true; do
  HEADERS="$(mktemp)"
  EVENT="$(curl -sS -LD "$HEADERS" "$API/next")"
  REQUEST_ID="$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)"
  case "$EVENT" in
    *crash*)
      curl -sS -X POST "$API/$REQUEST_ID/error" -d '{"errorType": "Crash", "errorMessage": "x"}'
      sleep 1
      exit 3;;
  esac
  curl -sS -X POST "$API/$REQUEST_ID/response" -d '{"ok": true}' > /dev/null
done
"""


def test_event_sent_while_the_runtime_exits_runs_elsewhere(lam: Any) -> None:
    """The next event, handed over after the error was posted but before the runtime's exit
    was seen, is not failed with the exit of a runtime that never took it."""
    deploy(lam, "exiting-rt", {"bootstrap": EXITING_BOOTSTRAP}, {"bootstrap": 0o755}, "unused")
    try:
        crashed = lam.invoke(FunctionName="exiting-rt", Payload=b'"crash"')
        assert crashed["FunctionError"] == "Unhandled"
        assert json.loads(crashed["Payload"].read())["errorType"] == "Crash"
        out = lam.invoke(FunctionName="exiting-rt", Payload=b'"fine"')  # during the sleep
        assert "FunctionError" not in out, out["Payload"].read()
        assert json.loads(out["Payload"].read()) == {"ok": True}
    finally:
        lam.delete_function(FunctionName="exiting-rt")


def test_missing_bootstrap_is_invalid_entrypoint(lam: Any) -> None:
    deploy(lam, "no-bootstrap", {"README": "nothing to run"}, {}, "unused")
    try:
        out = lam.invoke(FunctionName="no-bootstrap")
        assert out["FunctionError"] == "Unhandled"
        assert json.loads(out["Payload"].read())["errorType"] == "Runtime.InvalidEntrypoint"
    finally:
        lam.delete_function(FunctionName="no-bootstrap")


def packaged(*names: str) -> dict[str, bytes]:
    """The installed files of some distributions, as zip entries (how users vendor a RIC)."""
    files: dict[str, bytes] = {}
    for name in names:
        dist = importlib.metadata.distribution(name)
        for file in dist.files or []:
            path = Path(str(dist.locate_file(file)))
            if path.is_file() and not str(file).startswith(".."):
                files[str(file)] = path.read_bytes()
    return files


def test_awslambdaric_unmodified(lam: Any) -> None:
    pytest.importorskip("awslambdaric")
    interpreter = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if not shutil.which(interpreter, path="/usr/local/bin:/usr/bin:/bin"):
        pytest.skip(f"no system {interpreter} for a custom runtime to use")
    bootstrap = f"#!/bin/sh\nexec {interpreter} -m awslambdaric app.handler\n"
    app = textwrap.dedent(
        """
        def handler(event, context):
            if event.get("fail"):
                raise RuntimeError("ric failure")
            return {"ric": event, "request_id": context.aws_request_id}
        """
    )
    files = {"bootstrap": bootstrap, "app.py": app}
    files.update(packaged("awslambdaric", "simplejson", "snapshot-restore-py"))
    deploy(lam, "ric", files, {"bootstrap": 0o755}, "app.handler")
    try:
        out = lam.invoke(FunctionName="ric", Payload=b'{"x": 1}')
        body = json.loads(out["Payload"].read())
        assert body["ric"] == {"x": 1}
        assert body["request_id"] == out["ResponseMetadata"]["RequestId"]
        failed = lam.invoke(FunctionName="ric", Payload=b'{"fail": true}')
        assert failed["FunctionError"] == "Unhandled"
        error = json.loads(failed["Payload"].read())
        assert error["errorType"] == "RuntimeError"
        assert error["errorMessage"] == "ric failure"
    finally:
        lam.delete_function(FunctionName="ric")
