"""Server lifecycle: persistence across restarts, durable Event invokes, shutdown, auth, CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, ROOT, Server, marked, processes_with, python_zip

RECORDER = """
import json, time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    print("delivered", json.dumps(event))
    return "ok"
"""


def create(client: Any, name: str, source: str, **kwargs: Any) -> None:
    client.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(source)},
        **kwargs,
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})


def wait_for(predicate: Callable[[], bool], timeout: float = 30, context: object = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    pytest.fail(f"condition not met in time; {context or ''}")


def test_functions_survive_restart(fresh_server: Callable[..., Server], tmp_path: Path) -> None:
    srv = fresh_server()
    client = srv.client()
    create(client, "keep", "def handler(e, c):\n    return 'still here'\n", Description="d")
    before = client.get_function(FunctionName="keep")["Configuration"]
    assert srv.stop() == 0
    again = fresh_server(srv.data_dir)
    client = again.client()
    after = client.get_function(FunctionName="keep")["Configuration"]
    assert after["CodeSha256"] == before["CodeSha256"]
    assert after["RevisionId"] == before["RevisionId"]
    assert json.loads(client.invoke(FunctionName="keep")["Payload"].read()) == "still here"


def test_event_invokes_survive_kill_9(fresh_server: Callable[..., Server], tmp_path: Path) -> None:
    srv = fresh_server()
    client = srv.client()
    create(client, "rec", RECORDER, Timeout=10)
    log = srv.data_dir / "logs" / "000000000000" / "us-east-1" / "rec.log"
    for i in range(5):
        accepted = client.invoke(
            FunctionName="rec",
            InvocationType="Event",
            Payload=json.dumps({"i": i, "sleep": 2}).encode(),
        )
        assert accepted["StatusCode"] == 202
    srv.stop(signal.SIGKILL)  # accepted, maybe running, none finished: nothing may be lost
    again = fresh_server(srv.data_dir, FIRESIDE_ASYNC_RETRY_DELAYS="0.5,0.5")

    def delivered() -> set[int]:
        if not log.exists():
            return set()
        lines = [
            line.split("delivered ", 1)[1]
            for line in log.read_text().splitlines()
            if "\tdelivered " in line
        ]
        return {json.loads(line)["i"] for line in lines}

    wait_for(lambda: delivered() == set(range(5)), timeout=60, context=again.output)
    with urllib.request.urlopen(f"{again.endpoint}/_fireside/health") as response:
        wait_for(lambda: True)
        assert json.loads(response.read())["status"] == "running"


def test_sigterm_stops_environments(fresh_server: Callable[..., Server], tmp_path: Path) -> None:
    srv = fresh_server()
    client = srv.client()
    marker = uuid.uuid4().hex
    create(
        client,
        "warm",
        marked("def handler(e, c):\n    return 1\n"),
        Environment={"Variables": {"FIRESIDE_TEST_MARKER": marker}},
    )
    client.invoke(FunctionName="warm")
    assert processes_with(marker)  # alive while warm
    assert srv.stop(signal.SIGTERM) == 0
    assert any("Fireside stopped." in line for line in srv.output)
    assert processes_with(marker) == []


def test_credentials_are_enforced(fresh_server: Callable[..., Server]) -> None:
    srv = fresh_server(FIRESIDE_CREDENTIALS="AKIDGOOD:goodsecret")
    good = srv.client(aws_access_key_id="AKIDGOOD", aws_secret_access_key="goodsecret")
    assert good.list_functions()["Functions"] == []
    for key, secret, code in (
        ("AKIDGOOD", "wrong", "InvalidSignatureException"),
        ("AKIDBAD", "whatever", "UnrecognizedClientException"),
    ):
        with pytest.raises(ClientError) as excinfo:
            srv.client(aws_access_key_id=key, aws_secret_access_key=secret).list_functions()
        assert excinfo.value.response["Error"]["Code"] == code
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(urllib.error.HTTPError) as unsigned:
        urllib.request.urlopen(f"{srv.endpoint}/2015-03-31/functions/")
    assert unsigned.value.code == 403
    # A function calls Fireside back with the temporary credentials it was given.
    create(
        good,
        "caller",
        "import boto3\ndef handler(e, c):\n"
        "    return [f['FunctionName'] for f in boto3.client('lambda').list_functions()['Functions']]\n",
        Timeout=30,
    )
    out = good.invoke(FunctionName="caller")
    assert "FunctionError" not in out, out["Payload"].read()
    assert json.loads(out["Payload"].read()) == ["caller"]
    # The same code in another account sees that account's functions: credentials are scoped.
    other = srv.client(aws_access_key_id="AKIDOTHER", aws_secret_access_key="othersecret")
    with pytest.raises(ClientError):
        other.list_functions()  # not a configured key


def test_function_credentials_are_scoped_to_its_account(
    fresh_server: Callable[..., Server],
) -> None:
    srv = fresh_server()
    source = (
        "import boto3, os\ndef handler(e, c):\n"
        "    names = [f['FunctionName'] for f in boto3.client('lambda').list_functions()['Functions']]\n"
        "    return [os.environ['AWS_ACCESS_KEY_ID'], names]\n"
    )
    for account, name in (("111122223333", "in-a"), ("444455556666", "in-b")):
        create(srv.client(aws_access_key_id=account), name, source, Timeout=30)
    key_a, seen_a = json.loads(
        srv.client(aws_access_key_id="111122223333").invoke(FunctionName="in-a")["Payload"].read()
    )
    key_b, seen_b = json.loads(
        srv.client(aws_access_key_id="444455556666").invoke(FunctionName="in-b")["Payload"].read()
    )
    assert seen_a == ["in-a"] and seen_b == ["in-b"]
    assert key_a != key_b


def test_logs_command(fresh_server: Callable[..., Server]) -> None:
    srv = fresh_server()
    client = srv.client()
    create(client, "talk", "def handler(e, c):\n    print('hello from the function')\n")
    request_id = client.invoke(FunctionName="talk")["ResponseMetadata"]["RequestId"]
    time.sleep(0.3)  # log files are flushed within 50 ms of an invoke
    result = subprocess.run(
        [sys.executable, "-m", "fireside", "logs", "talk", "--data-dir", str(srv.data_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    assert f"START RequestId: {request_id}" in result.stdout
    assert "hello from the function" in result.stdout
    assert "REPORT RequestId:" in result.stdout


def test_aws_cli(fresh_server: Callable[..., Server], tmp_path: Path) -> None:
    srv = fresh_server()
    create(srv.client(), "cli", "def handler(e, c):\n    return {'cli': e}\n")
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    aws = [str(Path(sys.executable).parent / "aws"), "--endpoint-url", srv.endpoint, "lambda"]
    listed = subprocess.run(
        [*aws, "list-functions"], capture_output=True, text=True, env=env, check=True
    )
    assert json.loads(listed.stdout)["Functions"][0]["FunctionName"] == "cli"
    outfile = tmp_path / "out.json"
    subprocess.run(
        [*aws, "invoke", "--function-name", "cli", "--payload", '{"a": 1}', str(outfile)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert json.loads(outfile.read_text()) == {"cli": {"a": 1}}


def test_logs_follow(fresh_server: Callable[..., Server]) -> None:
    srv = fresh_server()
    client = srv.client()
    create(client, "chatty", "def handler(e, c):\n    print('line', e['n'])\n")
    client.invoke(FunctionName="chatty", Payload=b'{"n": 1}')
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "fireside",
            "logs",
            "chatty",
            "--follow",
            "--data-dir",
            str(srv.data_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert follower.stdout is not None
        client.invoke(FunctionName="chatty", Payload=b'{"n": 2}')
        seen = []
        for line in follower.stdout:
            seen.append(line)
            if "line 2" in line:
                break
        assert any("line 1" in line for line in seen)
    finally:
        follower.kill()
        follower.wait()
        if follower.stdout:
            follower.stdout.close()
