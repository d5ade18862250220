"""Lambda control plane through boto3 against a live server."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, FunctionFactory, make_zip, python_zip

HELLO = """
def handler(event, context):
    return {"hello": event.get("name", "world")}
"""


def error_of(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    err = excinfo.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"], err["Error"]["Message"]


def test_create_get_update_delete(lam: Any) -> None:
    name = f"life-{uuid.uuid4().hex[:8]}"
    code = python_zip(HELLO)
    created = lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": code},
        Description="first",
        Timeout=5,
        MemorySize=256,
        Environment={"Variables": {"AA": "1"}},
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
    assert created["CodeSize"] == len(code)
    assert created["State"] == "Pending"
    assert created["Version"] == "$LATEST"
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})

    got = lam.get_function(FunctionName=name)
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["LastUpdateStatus"] == "Successful"
    assert got["Configuration"]["Environment"] == {"Variables": {"AA": "1"}}
    with urllib.request.urlopen(got["Code"]["Location"]) as download:
        assert download.read() == code

    config = lam.update_function_configuration(
        FunctionName=name,
        Timeout=7,
        MemorySize=512,
        Description="second",
        Handler="app.handler",
        Environment={"Variables": {"BB": "2"}},
    )
    assert config["LastUpdateStatus"] == "InProgress"
    assert config["RevisionId"] != got["Configuration"]["RevisionId"]
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})
    conf = lam.get_function_configuration(FunctionName=name)
    assert (conf["Timeout"], conf["MemorySize"], conf["Description"]) == (7, 512, "second")
    assert conf["Environment"]["Variables"] == {"BB": "2"}

    new_code = python_zip(HELLO.replace("hello", "hi"))
    updated = lam.update_function_code(FunctionName=name, ZipFile=new_code)
    assert updated["CodeSha256"] == base64.b64encode(hashlib.sha256(new_code).digest()).decode()
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})
    out = lam.invoke(FunctionName=name, Payload=b'{"name": "x"}')
    assert json.loads(out["Payload"].read()) == {"hi": "x"}

    deleted = lam.delete_function(FunctionName=name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 200  # the model's responseCode
    with pytest.raises(ClientError) as excinfo:
        lam.get_function(FunctionName=name)
    code_, status, message = error_of(excinfo)
    assert (code_, status) == ("ResourceNotFoundException", 404)
    assert message == f"Function not found: arn:aws:lambda:us-east-1:000000000000:function:{name}"


def test_list_functions_paginates(lam: Any, make_function: FunctionFactory) -> None:
    names = {make_function(HELLO, wait=False) for _ in range(5)}
    seen: list[str] = []
    for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}):
        assert len(page["Functions"]) <= 2
        seen += [f["FunctionName"] for f in page["Functions"]]
    assert names <= set(seen)
    assert len(seen) == len(set(seen))


def test_arn_and_partial_arn_names(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(HELLO)
    arn = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert lam.get_function(FunctionName=arn)["Configuration"]["FunctionName"] == name
    partial = f"000000000000:function:{name}"
    assert lam.get_function_configuration(FunctionName=partial)["FunctionName"] == name
    assert lam.get_function(FunctionName=f"{name}:$LATEST")["Configuration"]["Version"] == "$LATEST"


def test_accounts_and_regions_are_separate(server: Any, make_function: FunctionFactory) -> None:
    name = make_function(HELLO)
    other_account = server.client(aws_access_key_id="111122223333")
    other_region = server.client(region_name="eu-west-1")
    for client in (other_account, other_region):
        with pytest.raises(ClientError) as excinfo:
            client.get_function(FunctionName=name)
        assert error_of(excinfo)[0] == "ResourceNotFoundException"
    created = other_account.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(HELLO)},
    )
    assert created["FunctionArn"].startswith("arn:aws:lambda:us-east-1:111122223333:function:")
    other_account.delete_function(FunctionName=name)


@pytest.mark.parametrize(
    ("kwargs", "code", "status", "message"),
    [
        (
            {"Code": {"ZipFile": b"not a zip"}},
            "InvalidParameterValueException",
            400,
            "Could not unzip uploaded file. Please check your file, then try to upload again.",
        ),
        (
            {"Code": {"ZipFile": make_zip({"../evil.py": "x"})}},
            "InvalidParameterValueException",
            400,
            "Could not unzip uploaded file. Please check your file, then try to upload again.",
        ),
        (
            {"Code": {"ZipFile": make_zip({"/abs.py": "x"})}},
            "InvalidParameterValueException",
            400,
            "Could not unzip uploaded file. Please check your file, then try to upload again.",
        ),
        (
            {"Timeout": 901},
            "ValidationException",
            400,
            "1 validation error detected: Value '901' at 'timeout' failed to satisfy constraint: "
            "Member must have value less than or equal to 900",
        ),
        (
            {"Environment": {"Variables": {"AWS_REGION": "x"}}},
            "InvalidParameterValueException",
            400,
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not supported "
            "for modification. Reserved keys used in this request: AWS_REGION",
        ),
        ({"Runtime": "nodejs4.3"}, None, 400, None),
    ],
)
def test_create_function_rejects_bad_input(
    lam: Any, kwargs: dict[str, Any], code: str | None, status: int, message: str | None
) -> None:
    params = {
        "FunctionName": f"bad-{uuid.uuid4().hex[:8]}",
        "Runtime": "python3.11",
        "Handler": "app.handler",
        "Role": ROLE,
        "Code": {"ZipFile": python_zip(HELLO)},
        **kwargs,
    }
    with pytest.raises(ClientError) as excinfo:
        lam.create_function(**params)
    got_code, got_status, got_message = error_of(excinfo)
    assert got_status == status
    if code is not None:
        assert got_code == code
        assert got_message == message
    assert lam.list_functions()["ResponseMetadata"]["HTTPStatusCode"] == 200  # still serving


def test_create_twice_conflicts(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(HELLO)
    with pytest.raises(ClientError) as excinfo:
        lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Handler="app.handler",
            Role=ROLE,
            Code={"ZipFile": python_zip(HELLO)},
        )
    assert error_of(excinfo) == (
        "ResourceConflictException",
        409,
        f"Function already exist: {name}",
    )


def test_revision_id_precondition(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(HELLO)
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_configuration(FunctionName=name, Timeout=4, RevisionId="nope")
    assert error_of(excinfo)[:2] == ("PreconditionFailedException", 412)
    revision = lam.get_function(FunctionName=name)["Configuration"]["RevisionId"]
    lam.update_function_configuration(FunctionName=name, Timeout=4, RevisionId=revision)


def test_unimplemented_operation_is_named(lam: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        lam.list_code_signing_configs()
    _code, status, message = error_of(excinfo)
    assert status == 501
    assert "ListCodeSigningConfigs" in message


ENVIRONMENT = """
import os
def handler(event, context):
    return {k: os.environ.get(k) for k in event}
"""
LOG_VARIABLES = ["AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL", "AWS_LAMBDA_LOG_GROUP_NAME"]


def test_tracing_and_logging_config_are_kept(lam: Any, make_function: FunctionFactory) -> None:
    """TracingConfig and LoggingConfig read back as set (IaC tools compare them), and JSON
    logging reaches the runtime as AWS_LAMBDA_LOG_FORMAT / AWS_LAMBDA_LOG_LEVEL."""
    logging = {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG", "SystemLogLevel": "WARN",
               "LogGroup": "/custom/orders"}  # fmt: skip
    name = make_function(ENVIRONMENT, TracingConfig={"Mode": "Active"}, LoggingConfig=logging)
    config = lam.get_function_configuration(FunctionName=name)
    assert config["TracingConfig"] == {"Mode": "Active"}
    assert config["LoggingConfig"] == logging
    out = lam.invoke(FunctionName=name, Payload=json.dumps(LOG_VARIABLES))
    assert json.loads(out["Payload"].read()) == {
        "AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "DEBUG",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/custom/orders",
    }  # fmt: skip

    lam.update_function_configuration(
        FunctionName=name,
        TracingConfig={"Mode": "PassThrough"},
        LoggingConfig={"LogFormat": "Text"},
    )
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})
    config = lam.get_function_configuration(FunctionName=name)
    assert config["TracingConfig"] == {"Mode": "PassThrough"}
    assert config["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/custom/orders"}
    out = lam.invoke(FunctionName=name, Payload=json.dumps(LOG_VARIABLES))
    assert json.loads(out["Payload"].read()) == {
        "AWS_LAMBDA_LOG_FORMAT": None, "AWS_LAMBDA_LOG_LEVEL": None,
        "AWS_LAMBDA_LOG_GROUP_NAME": "/custom/orders",
    }  # fmt: skip


def test_json_logging_defaults_to_info(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(HELLO, LoggingConfig={"LogFormat": "JSON"})
    assert lam.get_function_configuration(FunctionName=name)["LoggingConfig"] == {
        "LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "INFO",
        "LogGroup": f"/aws/lambda/{name}",
    }  # fmt: skip
    default = make_function(HELLO)
    assert lam.get_function_configuration(FunctionName=default)["TracingConfig"] == {
        "Mode": "PassThrough"
    }


XRAY_VARIABLES = ["AWS_XRAY_CONTEXT_MISSING", "AWS_XRAY_DAEMON_ADDRESS", "_AWS_XRAY_DAEMON_ADDRESS",
                  "_AWS_XRAY_DAEMON_PORT"]  # fmt: skip


def test_xray_variables_as_lambda_sets_them(lam: Any, make_function: FunctionFactory) -> None:
    """Lambda sets AWS_XRAY_CONTEXT_MISSING=LOG_ERROR in every environment, so that X-Ray SDKs
    whose default is RUNTIME_ERROR (aws-xray-sdk 2.4.3 for Python, which the developer guide's
    blank-python pins) log instead of raising outside a segment; a function's own value wins."""
    name = make_function(ENVIRONMENT)
    out = lam.invoke(FunctionName=name, Payload=json.dumps(XRAY_VARIABLES))
    assert json.loads(out["Payload"].read()) == {
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR", "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1", "_AWS_XRAY_DAEMON_PORT": "2000",
    }  # fmt: skip
    own = make_function(
        ENVIRONMENT, Environment={"Variables": {"AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR"}}
    )
    out = lam.invoke(FunctionName=own, Payload=json.dumps(XRAY_VARIABLES[:1]))
    assert json.loads(out["Payload"].read()) == {"AWS_XRAY_CONTEXT_MISSING": "IGNORE_ERROR"}
