"""The Extensions API (2020-01-01): registration, INVOKE and SHUTDOWN events, and the rule that
an environment takes its next invoke only once the runtime and every extension are done."""

from __future__ import annotations

import json
import time
from typing import Any

from tests.conftest import FunctionFactory

# An internal extension (a thread of the function's own process), registered while the module
# is imported, so before the runtime's first /next ends Init. On INVOKE it works for 0.6 s, then
# records the event, and only then asks for the next one.
INTERNAL = """
import json, os, threading, time, urllib.request, uuid
TOKEN = uuid.uuid4().hex
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"

def call(path, body=None, headers=None, method=None):
    request = urllib.request.Request(API + path, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")

STATUS, HEADERS, REGISTERED = call(
    "/register", json.dumps({"events": ["INVOKE"]}).encode(),
    {"Lambda-Extension-Name": "recorder"}, "POST",
)
ID = HEADERS.get("Lambda-Extension-Identifier")
EVENTS = []

def loop():
    while True:
        _, headers, event = call("/event/next", headers={"Lambda-Extension-Identifier": ID})
        time.sleep(0.6)
        event["finished"] = time.time()
        event["event_id"] = bool(headers.get("Lambda-Extension-Event-Identifier"))
        EVENTS.append(event)

threading.Thread(target=loop, daemon=True).start()

def handler(event, context):
    if event.get("register_again"):
        return call("/register", b'{"events": []}', {"Lambda-Extension-Name": "late"}, "POST")
    return {"started": time.time(), "seen": list(EVENTS), "registered": [STATUS, REGISTERED],
            "request_id": context.aws_request_id, "token": TOKEN}
"""


def invoke(lam: Any, name: str, event: dict[str, Any] | None = None) -> tuple[Any, float]:
    started = time.monotonic()
    out = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}))
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    return body, time.monotonic() - started


def test_internal_extension_gets_invoke_events_and_holds_the_environment(
    lam: Any, make_function: FunctionFactory
) -> None:
    name = make_function(INTERNAL, Timeout=10)
    first, _ = invoke(lam, name)
    assert first["registered"][0] == 200
    assert first["registered"][1]["functionName"] == name
    assert first["registered"][1]["functionVersion"] == "$LATEST"
    assert first["registered"][1]["handler"] == "app.handler"
    assert "accountId" not in first["registered"][1]  # only with Lambda-Extension-Accept-Feature
    # The first environment's extension still works on its INVOKE: a second invoke needs a
    # second environment, as on Lambda.
    second, _ = invoke(lam, name)
    assert second["token"] != first["token"]
    assert second["seen"] == []
    time.sleep(1.5)  # both extensions done: both environments idle again
    third, elapsed = invoke(lam, name)
    assert elapsed < 0.5  # the caller does not wait for the extension's 0.6 s of work
    earlier = first if third["token"] == first["token"] else second
    [event] = third["seen"]
    assert event["eventType"] == "INVOKE"
    assert event["requestId"] == earlier["request_id"]
    assert event["invokedFunctionArn"].endswith(f":function:{name}")
    assert event["tracing"]["type"] == "X-Amzn-Trace-Id"
    assert event["tracing"]["value"].startswith("Root=1-")
    assert abs(event["deadlineMs"] / 1000 - (earlier["started"] + 10)) < 2
    assert event["event_id"] is True
    assert third["started"] >= event["finished"]  # taken once the extension was done


def test_registration_closes_with_init(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(INTERNAL)
    status, _headers, body = invoke(lam, name, {"register_again": True})[0]
    assert status == 403
    assert body == {
        "errorMessage": "Extension registration closed already",
        "errorType": "Extension.RegistrationClosed",
    }
