"""Concurrency: reserved concurrency per function, the account limit, exact throttling."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, FunctionFactory, Server, python_zip

# Each invoke reports when it ran (host clock: sandboxes share it), so the test can count how
# many ran at once.
SLEEPER = """
import time
def handler(event, context):
    started = time.time()
    time.sleep(event.get("sleep", 1.0))
    ended = time.time()
    print("ran", context.aws_request_id, started, ended)
    return [started, ended]
"""


def attempt(lam: Any, name: str, sleep: float = 1.0) -> Any:
    try:
        out = lam.invoke(FunctionName=name, Payload=json.dumps({"sleep": sleep}))
    except ClientError as exc:
        return exc.response
    return json.loads(out["Payload"].read())


def most_at_once(spans: list[list[float]]) -> int:
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def burst(lam: Any, name: str, clients: int) -> tuple[list[list[float]], list[Any]]:
    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(lambda _: attempt(lam, name), range(clients)))
    spans = [r for r in results if isinstance(r, list)]
    throttles = [r for r in results if isinstance(r, dict)]
    return spans, throttles


def test_reserved_concurrency_operations(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function("def handler(e, c):\n    return 1\n")
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)
    out = lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=5)
    assert out["ReservedConcurrentExecutions"] == 5
    assert lam.get_function_concurrency(FunctionName=name)["ReservedConcurrentExecutions"] == 5
    settings = lam.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] <= 995
    assert settings["AccountUsage"]["FunctionCount"] >= 1
    with pytest.raises(ClientError) as caught:
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=901)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert caught.value.response["Error"]["Message"] == (
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100]."
    )
    lam.delete_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=name)


def test_reserved_zero_throttles_everything(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function("def handler(e, c):\n    return 1\n")
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    response = attempt(lam, name)
    assert response["Error"]["Code"] == "TooManyRequestsException"
    assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 429
    lam.delete_function_concurrency(FunctionName=name)
    assert attempt(lam, name) == 1


def test_reserved_concurrency_is_exact(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(SLEEPER, Timeout=10)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=2)
    spans, throttles = burst(lam, name, 8)
    assert len(spans) >= 2
    assert most_at_once(spans) <= 2
    assert throttles and all(
        t["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded" for t in throttles
    )


def test_account_limit_is_exact(fresh_server: Any) -> None:
    srv: Server = fresh_server(FIRESIDE_ACCOUNT_CONCURRENCY="3")
    lam = srv.client()
    lam.create_function(
        FunctionName="busy", Runtime="python3.11", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": python_zip(SLEEPER)}, Timeout=10,
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName="busy")
    spans, throttles = burst(lam, "busy", 7)
    assert len(spans) >= 3
    assert most_at_once(spans) <= 3
    assert throttles and all(t["Reason"] == "ConcurrentInvocationLimitExceeded" for t in throttles)
    assert lam.get_account_settings()["AccountLimit"]["ConcurrentExecutions"] == 3
    with pytest.raises(ClientError) as caught:  # nothing can be reserved below the minimum
        lam.put_function_concurrency(FunctionName="busy", ReservedConcurrentExecutions=1)
    assert "minimum value of [3]" in caught.value.response["Error"]["Message"]


def test_throttled_events_wait_and_are_delivered(server: Server, lam: Any) -> None:
    name = f"throttled-events-{time.monotonic_ns()}"
    lam.create_function(
        FunctionName=name, Runtime="python3.11", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": python_zip(SLEEPER)}, Timeout=10,
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
    ids = []
    for _ in range(3):
        out = lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"sleep": 0.5}')
        assert out["StatusCode"] == 202
        ids.append(out["ResponseMetadata"]["RequestId"])
    deadline = time.monotonic() + 30
    log = ""
    while not all(f"ran {i}" in log for i in ids):
        assert time.monotonic() < deadline, log
        time.sleep(0.2)
        log = "".join(p.read_text() for p in Path(server.data_dir, "logs").rglob(f"{name}.log"))
    # With reserved concurrency 1 the throttled events waited: they never overlapped.
    spans = [
        [float(x) for x in line.split("\tran ", 1)[1].split()[1:3]]
        for line in log.splitlines()
        if "\tran " in line
    ]
    assert len(spans) == 3 and most_at_once(spans) == 1, spans
