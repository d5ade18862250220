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

from tests.conftest import ROLE, ROOT, Server, marked, processes_with, python_zip, wait_for

RECORDER = """
import json, time
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    print("delivered", json.dumps(event))
    return "ok"
"""
SLOW_SINK = """
import json, time
def handler(event, context):
    time.sleep(1)
    print("RECORD " + json.dumps(event))
"""
FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:"


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
    """kill -9 with Event invokes queued, running, finished with their destination record
    queued or running: after a restart every accepted event runs, and its OnSuccess record
    reaches the destination, at least once."""
    srv = fresh_server()
    client = srv.client()
    create(client, "rec", RECORDER, Timeout=10)
    create(client, "sink", SLOW_SINK, Timeout=10)
    client.put_function_event_invoke_config(
        FunctionName="rec",
        DestinationConfig={"OnSuccess": {"Destination": f"{FUNCTION_ARN}sink"}},
    )
    logs = srv.data_dir / "logs" / "000000000000" / "us-east-1"
    accepted = set()
    for i in range(5):
        out = client.invoke(
            FunctionName="rec",
            InvocationType="Event",
            Payload=json.dumps({"i": i, "sleep": i * 0.5}).encode(),
        )
        assert out["StatusCode"] == 202
        accepted.add(out["ResponseMetadata"]["RequestId"])

    def lines(function: str, marker: str) -> list[Any]:
        path = logs / f"{function}.log"
        if not path.exists():
            return []
        text = path.read_text().splitlines()
        return [json.loads(line.split(marker, 1)[1]) for line in text if marker in line]

    # Once the first has finished (its record queued, or in the 1 s sink), the last still runs.
    wait_for(lambda: bool(lines("rec", "\tdelivered ")), what=srv.output)
    srv.stop(signal.SIGKILL)
    again = fresh_server(srv.data_dir, FIRESIDE_ASYNC_RETRY_DELAYS="0.5,0.5")
    wait_for(
        lambda: {e["i"] for e in lines("rec", "\tdelivered ")} == set(range(5)),
        timeout=60,
        what=again.output,
    )

    def recorded() -> set[str]:
        return {r["requestContext"]["requestId"] for r in lines("sink", "\tRECORD ")}

    wait_for(lambda: recorded() == accepted, timeout=60, what=again.output)
    for record in lines("sink", "\tRECORD "):
        assert record["requestContext"]["condition"] == "Success"
        assert record["responsePayload"] == "ok"
    with urllib.request.urlopen(f"{again.endpoint}/_fireside/health") as response:
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
