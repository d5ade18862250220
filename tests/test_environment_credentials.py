"""Execution environments' credentials end (issue 11, item 5): they expire, and those baked
into a snapshot template are revoked with its function or version."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from fireside.aws.auth import Authenticator
from fireside.aws.errors import ServiceError
from fireside.compute.credentials import LIFETIME, MAX_INVOKE, REUSE_AGE, EnvironmentCredentials
from tests.conftest import ROLE, Server, python_zip
from tests.test_auth import AKID, NOW, SECRET, sign
from tests.test_snapstart import snapstart_available

ADMIN = ("AKIDADMIN", "admin-secret")

# Clients made at Init keep the credentials of that moment: in a snapshot template's Init,
# those are the template's, and every environment forked from it has them too.
SOURCE = """
import os
NAMES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
AT_INIT = [os.environ[name] for name in NAMES]

def handler(event, context):
    return {
        "at_init": AT_INIT,
        "own": [os.environ[name] for name in NAMES],
        "type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
    }
"""


def test_environment_credentials_expire() -> None:
    now = [NOW]
    auth = Authenticator({AKID: SECRET}, clock=lambda: now[0])
    issued = EnvironmentCredentials(auth, clock=lambda: now[0])
    key, secret, token = issued.issue("111122223333", ROLE, "fn")
    request = sign(key=key, secret=secret, token=token)
    assert auth.authenticate(request).account_id == "111122223333"
    assert auth.identity(key, "111122223333").arn.endswith(":assumed-role/lambda-role/fn")
    now[0] = NOW + LIFETIME  # nothing revoked it: it expires on its own
    with pytest.raises(ServiceError) as caught:
        auth.authenticate(request)
    assert caught.value.code == "ExpiredTokenException"
    # An environment takes no invoke past REUSE_AGE, so its last one ends before the key
    # expires, even in an environment forked from a template at the end of its own REUSE_AGE.
    assert 2 * REUSE_AGE + MAX_INVOKE < LIFETIME


def _caller(srv: Server, credentials: list[str]) -> Any:
    key, secret, token = credentials
    return boto3.client(
        "sts",
        endpoint_url=srv.endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"max_attempts": 1}),
    )


def _refused(srv: Server, credentials: list[str], timeout: float = 10) -> str | None:
    """The error code once a call signed with `credentials` is refused (None if never)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _caller(srv, credentials).get_caller_identity()
        except ClientError as exc:
            return str(exc.response["Error"]["Code"])
        time.sleep(0.1)
    return None


@pytest.mark.parametrize("delete", ["function", "version"])
def test_snapshot_credentials_are_revoked_with_the_version(
    fresh_server: Callable[..., Server], delete: str
) -> None:
    srv = fresh_server(FIRESIDE_CREDENTIALS=":".join(ADMIN))
    if not snapstart_available(srv):
        pytest.skip("snapshot starts need the namespace sandbox as root")
    lam = srv.client(aws_access_key_id=ADMIN[0], aws_secret_access_key=ADMIN[1])
    name = f"snap-creds-{delete}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(SOURCE)},
        SnapStart={"ApplyOn": "PublishedVersions"},
    )
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    lam.publish_version(FunctionName=name)
    out = lam.invoke(FunctionName=name, Qualifier="1")
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    assert body["type"] == "snap-start"
    template, own = body["at_init"], body["own"]
    assert template[0] != own[0]  # the template's Init ran with credentials of its own
    for credentials in (template, own):  # both accepted while the version exists
        assert _caller(srv, credentials).get_caller_identity()["Account"] == "000000000000"
    if delete == "function":
        lam.delete_function(FunctionName=name)
    else:
        lam.delete_function(FunctionName=name, Qualifier="1")
    # Before: the template's credentials stayed valid for as long as the server ran.
    assert _refused(srv, template) == "InvalidClientTokenId"  # STS says it so
    assert _refused(srv, own) == "InvalidClientTokenId"  # STS says it so
