"""Provisioned concurrency: environments initialised before any invoke, kept, reported."""

from __future__ import annotations

import base64
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import FunctionFactory

SOURCE = """
import os, time, uuid
INITIALIZED = time.time()
TOKEN = uuid.uuid4().hex
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return {"init": INITIALIZED, "now": time.time(), "token": TOKEN,
            "type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]}
"""


def wait_ready(lam: Any, name: str, qualifier: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        config: dict[str, Any] = lam.get_provisioned_concurrency_config(
            FunctionName=name, Qualifier=qualifier
        )
        if config["Status"] != "IN_PROGRESS":
            return config
        assert time.monotonic() < deadline, config
        time.sleep(0.2)


def code(call: Any, **kwargs: Any) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def test_provisioned_environments_are_initialised_ahead(
    lam: Any, make_function: FunctionFactory
) -> None:
    name = make_function(SOURCE)
    lam.publish_version(FunctionName=name)
    put = lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=2
    )
    assert put["Status"] == "IN_PROGRESS"
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    ready = wait_ready(lam, name, "1")
    assert ready["Status"] == "READY"
    assert ready["AllocatedProvisionedConcurrentExecutions"] == 2
    time.sleep(0.5)
    out = lam.invoke(FunctionName=name, Qualifier="1", LogType="Tail")
    body = json.loads(out["Payload"].read())
    assert body["type"] == "provisioned-concurrency"
    assert body["now"] - body["init"] > 0.4  # Init ran before the invoke arrived
    log = base64.b64decode(out["LogResult"]).decode()
    assert "REPORT" in log and "Init Duration" not in log
    # Two concurrent invokes find two initialised environments.
    with ThreadPoolExecutor(2) as pool:
        bodies = list(
            pool.map(
                lambda _: json.loads(
                    lam.invoke(FunctionName=name, Qualifier="1", Payload=b'{"sleep": 0.5}')[
                        "Payload"
                    ].read()
                ),
                range(2),
            )
        )
    assert len({b["token"] for b in bodies}) == 2
    assert {b["type"] for b in bodies} == {"provisioned-concurrency"}
    listed = lam.list_provisioned_concurrency_configs(FunctionName=name)
    [item] = listed["ProvisionedConcurrencyConfigs"]
    assert item["FunctionArn"].endswith(f":function:{name}:1") and item["Status"] == "READY"
    # $LATEST is unaffected: on-demand.
    latest = json.loads(lam.invoke(FunctionName=name)["Payload"].read())
    assert latest["type"] == "on-demand"
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    assert code(lam.get_provisioned_concurrency_config, FunctionName=name, Qualifier="1") == (
        "ProvisionedConcurrencyConfigNotFoundException",
        "No Provisioned Concurrency Config found for this function",
    )


def test_provisioned_errors(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(SOURCE)
    assert code(
        lam.put_provisioned_concurrency_config,
        FunctionName=name, Qualifier="$LATEST", ProvisionedConcurrentExecutions=1,
    ) == (
        "InvalidParameterValueException",
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
    )  # fmt: skip
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=1
    )
    assert code(
        lam.put_provisioned_concurrency_config,
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1,
    ) == (
        "ResourceConflictException",
        "Alias can't be used for Provisioned Concurrency configuration on an already "
        "Provisioned version",
    )  # fmt: skip
    lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    assert code(
        lam.put_provisioned_concurrency_config,
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=2,
    )[0] == "InvalidParameterValueException"  # fmt: skip


def test_alias_provisioning_serves_the_alias(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(SOURCE)
    lam.publish_version(FunctionName=name)
    lam.create_alias(FunctionName=name, Name="live", FunctionVersion="1")
    lam.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    assert wait_ready(lam, name, "live")["Status"] == "READY"
    body = json.loads(lam.invoke(FunctionName=name, Qualifier="live")["Payload"].read())
    assert body["type"] == "provisioned-concurrency"
    lam.delete_function(FunctionName=name)  # takes its provisioned configuration with it
