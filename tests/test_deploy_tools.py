"""Real deploy tools nobody here wrote, pointed at a live Fireside with `AWS_ENDPOINT_URL` and
nothing else: `sam build` + `sam deploy --resolve-s3` of a Python SAM app, `cdk bootstrap` +
`cdk deploy` of a JavaScript CDK app, and `fireside deploy`; each app is then called over
HTTP, updated, and deleted. The tools come from `make tools` (.tools/); missing ones fail."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Server

APPS = Path(__file__).parent / "deploy_apps"
TOOLS = ROOT / ".tools"
SAM = TOOLS / "sam" / "bin" / "sam"
NODE_MODULES = TOOLS / "node" / "node_modules"
CDK = NODE_MODULES / ".bin" / "cdk"
ACCOUNT = "000000000000"


def _tool(path: Path) -> str:
    if not path.exists():
        pytest.fail(f"{path} is missing: `make tools` installs the deploy tools")
    return str(path)


def _env(server: Server, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "SAM_CLI_TELEMETRY": "0",
        "SAM_CLI_CONTEXT": "",
        **extra,
    }


def _run(command: list[str], env: dict[str, str], cwd: Path, timeout: float = 600) -> str:
    done = subprocess.run(
        command,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{output[-6000:]}"
    return output


def _outputs(server: Server, stack: str) -> dict[str, str]:
    described = server.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def _get(server: Server, api: str, stage: str, path: str) -> Any:
    # The `$default` stage serves the whole path; another stage is named first.
    prefix = "" if stage == "$default" else f"{stage}/"
    url = f"{server.endpoint}/_aws/execute-api/{api}/{prefix}{path}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            if time.monotonic() > deadline:
                raise AssertionError(f"{url}: {error.code} {error.read()!r}") from None
        time.sleep(0.2)


def _gone(server: Server, stack: str) -> None:
    cfn = server.client("cloudformation")
    summaries = cfn.list_stacks(StackStatusFilter=["DELETE_COMPLETE"])["StackSummaries"]
    assert stack in {s["StackName"] for s in summaries}


def test_sam_build_and_deploy(server: Server, tmp_path: Path) -> None:
    sam = _tool(SAM)
    app = tmp_path / "app"
    shutil.copytree(APPS / "sam_python", app)
    stack = f"sam-{uuid.uuid4().hex[:8]}"
    env = _env(server)
    _run([sam, "build"], env, app)
    deploy = [
        sam,
        "deploy",
        "--stack-name",
        stack,
        "--resolve-s3",
        "--capabilities",
        "CAPABILITY_IAM",
        "--no-confirm-changeset",
        "--no-fail-on-empty-changeset",
    ]
    _run(deploy, env, app)
    outputs = _outputs(server, stack)
    assert _get(server, outputs["ApiId"], "$default", "hello") == {
        "message": "hello",
        "visits": 1,
    }
    # An update: a parameter and the code change, the table and its items stay.
    source = app / "hello" / "app.py"
    source.write_text(source.read_text().replace('"visits": count', '"visits": count, "v": 2'))
    _run([sam, "build"], env, app)
    _run([*deploy, "--parameter-overrides", "Greeting=hi"], env, app)
    assert _get(server, outputs["ApiId"], "$default", "hello") == {
        "message": "hi",
        "visits": 2,
        "v": 2,
    }
    _run([sam, "delete", "--stack-name", stack, "--no-prompts"], env, app)
    _gone(server, stack)
    tables = server.client("dynamodb").list_tables()["TableNames"]
    assert outputs["TableName"] not in tables


def test_cdk_bootstrap_and_deploy(server: Server, tmp_path: Path) -> None:
    cdk = _tool(CDK)
    app = tmp_path / "app"
    shutil.copytree(APPS / "cdk_js", app)
    stack = f"Cdk{uuid.uuid4().hex[:8]}"
    env = _env(
        server,
        NODE_PATH=str(NODE_MODULES),
        CDK_DEFAULT_ACCOUNT=ACCOUNT,
        CDK_DEFAULT_REGION="us-east-1",
        STACK_NAME=stack,
        CDK_DISABLE_VERSION_CHECK="1",
    )
    _run([cdk, "bootstrap", f"aws://{ACCOUNT}/us-east-1", "--no-notices"], env, app)
    _run([cdk, "deploy", "--require-approval", "never", "--no-notices"], env, app)
    outputs = _outputs(server, stack)
    api = outputs["ApiUrl"].split("//", 1)[1].split(".", 1)[0]
    assert _get(server, api, "prod", "visit") == {"visits": 1}
    _run([cdk, "destroy", "--force", "--no-notices"], env, app)
    _gone(server, stack)
    assert outputs["FunctionName"] not in {
        f["FunctionName"] for f in server.client().list_functions()["Functions"]
    }


def test_fireside_deploy(server: Server, tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(APPS / "sam_python", app)
    stack = f"fs-{uuid.uuid4().hex[:8]}"
    command = [
        str(Path(sys.executable).parent / "fireside"),
        "deploy",
        "--stack-name",
        stack,
        "--endpoint-url",
        server.endpoint,
    ]
    env = _env(server)
    output = _run(command, env, app)
    assert "CREATE_COMPLETE" in output and "HelloApi" in output
    outputs = _outputs(server, stack)
    assert _get(server, outputs["ApiId"], "$default", "hello")["visits"] == 1
    # Unchanged: nothing to do.
    assert "No changes to deploy" in _run(command, env, app)
    # A code-only update: one new zip, the function updated in place.
    source = app / "hello" / "app.py"
    source.write_text(source.read_text().replace('"visits": count', '"visits": count, "v": 2'))
    assert "UPDATE_COMPLETE" in _run(command, env, app)
    assert _get(server, outputs["ApiId"], "$default", "hello") == {
        "message": "hello",
        "visits": 2,
        "v": 2,
    }
    server.client("cloudformation").delete_stack(StackName=stack)
    server.client("cloudformation").get_waiter("stack_delete_complete").wait(
        StackName=stack, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
    )
