"""Lambda response streaming end to end: real runtimes, a live server, boto3's own parser.

A Node.js function written with `awslambda.streamifyResponse` and a custom runtime
(`streaming_bootstrap.py`, speaking the Runtime API's streaming mode itself) stream through
`invoke_with_response_stream`; the chunks reach the caller while the function still runs.
"""

from __future__ import annotations

import http.client
import json
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROLE, Server, make_zip

NODE_STREAMING = r"""
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  if (event.http) {
    responseStream = awslambda.HttpResponseStream.from(responseStream, {
      statusCode: 201, headers: { 'x-a': 'b' }, cookies: ['c=d'],
    });
  }
  if (event.throwEarly) throw new Error('early');
  if (event.delay) await new Promise((resolve) => setTimeout(resolve, event.delay));
  responseStream.write('first ');
  await new Promise((resolve) => setTimeout(resolve, event.pause ?? 0));
  if (event.throwLate) throw new TypeError('late');
  responseStream.write('second');
  for (let i = 0; i < (event.blocks ?? 0); i++) {
    if (!responseStream.write('x'.repeat(65536))) {
      await new Promise((resolve) => responseStream.once('drain', resolve));
    }
  }
  responseStream.end();
});
"""

BOOTSTRAP = (Path(__file__).parent / "streaming_bootstrap.py").read_text()


def _create(lam: Any, name: str, **kwargs: Any) -> None:
    lam.create_function(FunctionName=name, Role=ROLE, Timeout=20, **kwargs)
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})


@pytest.fixture(scope="module")
def functions(server: Server) -> Iterator[dict[str, str]]:
    lam = server.client()
    suffix = uuid.uuid4().hex[:8]
    names = {"node": f"stream-node-{suffix}", "custom": f"stream-custom-{suffix}"}
    names["python"] = f"stream-python-{suffix}"
    _create(
        lam,
        names["node"],
        Runtime="nodejs20.x",
        Handler="index.handler",
        Code={"ZipFile": make_zip({"index.mjs": NODE_STREAMING})},
    )
    _create(
        lam,
        names["custom"],
        Runtime="provided.al2023",
        Handler="unused",
        Code={"ZipFile": make_zip({"bootstrap": BOOTSTRAP}, {"bootstrap": 0o755})},
    )
    _create(
        lam,
        names["python"],
        Runtime="python3.11",
        Handler="app.handler",
        Code={"ZipFile": make_zip({"app.py": "def handler(e, c):\n    return {'echo': e}\n"})},
    )
    yield names
    for name in names.values():
        lam.delete_function(FunctionName=name)


def stream(lam: Any, name: str, event: dict[str, Any], **kwargs: Any) -> list[tuple[float, Any]]:
    """The events of one InvokeWithResponseStream, each with its arrival time (seconds)."""
    started = time.monotonic()
    out = lam.invoke_with_response_stream(FunctionName=name, Payload=json.dumps(event), **kwargs)
    assert out["StatusCode"] == 200 and out["ExecutedVersion"] == "$LATEST"
    try:
        return [(time.monotonic() - started, e) for e in out["EventStream"]]
    finally:
        out["EventStream"].close()  # else its connection is left to the garbage collector


def payload(events: list[tuple[float, Any]]) -> bytes:
    return b"".join(e["PayloadChunk"]["Payload"] for _, e in events if "PayloadChunk" in e)


def test_node_chunks_arrive_while_the_function_still_runs(
    lam: Any, functions: dict[str, str]
) -> None:
    events = stream(lam, functions["node"], {"pause": 2000})
    assert payload(events) == b"first second"
    first = next(t for t, e in events if "PayloadChunk" in e)
    last = next(t for t, e in events if e.get("PayloadChunk", {}).get("Payload") == b"second")
    # The first chunk came 2 s before the function wrote its second: it was still running.
    assert last - first >= 1.5, events
    assert events[-1][1] == {"InvokeComplete": {}}


def test_node_http_response_stream_writes_the_prelude(lam: Any, functions: dict[str, str]) -> None:
    raw = payload(stream(lam, functions["node"], {"http": True}))
    prelude, _, body = raw.partition(b"\0" * 8)
    assert json.loads(prelude) == {"statusCode": 201, "headers": {"x-a": "b"}, "cookies": ["c=d"]}
    assert body == b"first second"


def test_node_error_mid_stream_ends_it_with_the_error(lam: Any, functions: dict[str, str]) -> None:
    events = stream(lam, functions["node"], {"throwLate": True}, LogType="Tail")
    assert payload(events) == b"first "
    complete = events[-1][1]["InvokeComplete"]
    assert complete["ErrorCode"] == "TypeError"
    error = json.loads(complete["ErrorDetails"])
    assert error["errorType"] == "TypeError" and error["errorMessage"] == "late"
    assert complete["LogResult"]  # LogType=Tail: the log's tail, base64
    # The environment is fine afterwards.
    assert payload(stream(lam, functions["node"], {})) == b"first second"


def test_node_error_before_the_first_byte_is_a_plain_function_error(
    lam: Any, functions: dict[str, str]
) -> None:
    events = stream(lam, functions["node"], {"throwEarly": True})
    assert [e for _, e in events if "PayloadChunk" in e] == []
    complete = events[-1][1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Error"
    assert json.loads(complete["ErrorDetails"])["errorMessage"] == "early"


def test_a_plain_invoke_of_a_streaming_function_gets_the_whole_response(
    lam: Any, functions: dict[str, str]
) -> None:
    out = lam.invoke(FunctionName=functions["node"], Payload=b"{}")
    assert out["Payload"].read() == b"first second" and "FunctionError" not in out


def test_a_function_that_does_not_stream_answers_in_one_chunk(
    lam: Any, functions: dict[str, str]
) -> None:
    events = stream(lam, functions["python"], {"k": 1})
    assert [e for _, e in events] == [
        {"PayloadChunk": {"Payload": b'{"echo": {"k": 1}}'}},
        {"InvokeComplete": {}},
    ]


def test_errors_before_the_stream_starts_are_lambda_errors(
    lam: Any, functions: dict[str, str]
) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke_with_response_stream(FunctionName="no-such-function", Payload=b"{}")
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke_with_response_stream(FunctionName=functions["node"], Payload=b"{not json")
    out = lam.invoke_with_response_stream(
        FunctionName=functions["node"], Payload=b"{}", InvocationType="DryRun"
    )
    assert out["StatusCode"] == 204
    out["EventStream"].close()


def test_a_custom_runtime_streams_and_reports_errors_in_trailers(
    lam: Any, functions: dict[str, str]
) -> None:
    events = stream(lam, functions["custom"], {"chunks": ["a", "b", "c"], "pause": 0.7})
    assert payload(events) == b"abc"
    arrivals = [t for t, e in events if "PayloadChunk" in e]
    assert arrivals[2] - arrivals[0] >= 1.0  # each chunk as it was written
    assert events[-1][1] == {"InvokeComplete": {}}

    events = stream(lam, functions["custom"], {"chunks": ["a"], "error": "Boom"})
    assert payload(events) == b"a"
    complete = events[-1][1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Boom"
    assert json.loads(complete["ErrorDetails"])["errorMessage"] == "mid-stream"


def test_a_stream_over_the_limit_is_cut_off_at_it(lam: Any, functions: dict[str, str]) -> None:
    limit = 20 * 1024 * 1024
    events = stream(lam, functions["custom"], {"chunks": ["a"], "size": limit + 1024 * 1024})
    assert len(payload(events)) <= limit
    complete = events[-1][1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Function.ResponseSizeTooLarge"
    # A Node.js function too: its runtime survives being cut off.
    events = stream(lam, functions["node"], {"blocks": 400})
    assert events[-1][1]["InvokeComplete"]["ErrorCode"] == "Function.ResponseSizeTooLarge"
    assert payload(stream(lam, functions["node"], {})) == b"first second"
    assert payload(stream(lam, functions["custom"], {"chunks": ["ok"]})) == b"ok"


def test_a_client_leaving_mid_stream_frees_the_function(
    server: Server, lam: Any, functions: dict[str, str]
) -> None:
    name = functions["node"]
    # The session's server: other modules' functions may still be running (an integration
    # timeout answers while its function runs on), so only this test's are counted.
    busy_before = server.health()["environments"]["busy"]
    body = json.dumps({"pause": 1000, "blocks": 50}).encode()
    request = (
        f"POST /2021-11-15/functions/{name}/response-streaming-invocations HTTP/1.1\r\n"
        "Host: lambda\r\nContent-Type: application/json\r\nX-Amz-Date: 20260101T000000Z\r\n"
        "Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request,"
        " SignedHeaders=host, Signature=00\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(request)
            answer = b""
            while b"first " not in answer:
                answer += sock.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200")
        # Gone mid-stream: the function runs on, its output dropped.
    started = time.monotonic()
    assert payload(stream(lam, name, {})) == b"first second"
    assert time.monotonic() - started < 10
    # The abandoned invocations finish and their environments are free again.
    deadline = time.monotonic() + 15
    while server.health()["environments"]["busy"] > busy_before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server.health()["environments"]["busy"] <= busy_before
    assert lam.invoke(FunctionName=functions["python"], Payload=b"{}")["StatusCode"] == 200
    assert "Traceback" not in "".join(server.output)


def test_a_client_leaving_before_the_first_chunk_frees_the_function(
    server: Server, functions: dict[str, str]
) -> None:
    """The client hangs up while the function has not answered yet: once it does, its stream
    drops what comes (3 MB here, past what waits for a reader) and the environment is free
    when the function ends, not at its 20 s timeout."""
    name = functions["node"]
    busy_before = server.health()["environments"]["busy"]
    body = json.dumps({"delay": 1000, "blocks": 50}).encode()
    request = (
        f"POST /2021-11-15/functions/{name}/response-streaming-invocations HTTP/1.1\r\n"
        "Host: lambda\r\nContent-Type: application/json\r\nX-Amz-Date: 20260101T000000Z\r\n"
        "Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/lambda/aws4_request,"
        " SignedHeaders=host, Signature=00\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    for _ in range(3):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(request)
            time.sleep(0.2)  # gone before the function's first write
    started = time.monotonic()
    deadline = started + 12
    while server.health()["environments"]["busy"] > busy_before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server.health()["environments"]["busy"] <= busy_before
    assert "Traceback" not in "".join(server.output)


NODE_URL = r"""
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const query = event.queryStringParameters ?? {};
  if (query.http) {
    responseStream = awslambda.HttpResponseStream.from(responseStream, {
      statusCode: 201, headers: { 'content-type': 'text/plain', 'x-a': 'b' }, cookies: ['c=d'],
    });
  }
  if (query.fail === 'early') throw new Error('early');
  responseStream.write('first ');
  await new Promise((resolve) => setTimeout(resolve, Number(query.pause ?? 0)));
  if (query.fail === 'late') throw new Error('late');
  responseStream.write('second');
  responseStream.end();
});
"""


def test_a_function_url_in_response_stream_mode_streams(server: Server, lam: Any) -> None:
    from tests.test_function_urls import public_url

    name = f"stream-url-{uuid.uuid4().hex[:8]}"
    _create(
        lam,
        name,
        Runtime="nodejs20.x",
        Handler="index.handler",
        Code={"ZipFile": make_zip({"index.mjs": NODE_URL})},
    )
    try:
        url = public_url(
            lam, name, InvokeMode="RESPONSE_STREAM", Cors={"AllowOrigins": ["https://a.example"]}
        )
        host = url.split("/")[2]

        def get(query: str) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            headers = {"Host": host, "Origin": "https://a.example"}
            connection.request("GET", f"/?{query}", headers=headers)
            return connection, connection.getresponse()

        connection, response = get("http=1&pause=1500")
        assert response.status == 201
        assert response.getheader("x-a") == "b" and response.getheader("set-cookie") == "c=d"
        assert response.getheader("content-type") == "text/plain"
        assert response.getheader("transfer-encoding") == "chunked"
        assert response.getheader("access-control-allow-origin") == "https://a.example"
        first = response.read(6)
        at_first = time.monotonic()
        rest = response.read()
        assert first + rest == b"first second"
        assert time.monotonic() - at_first >= 1.0  # the first bytes came while it still ran
        connection.close()

        connection, response = get("")
        assert response.status == 200 and response.read() == b"first second"
        assert response.getheader("content-type") == "application/octet-stream"
        connection.close()

        connection, response = get("fail=early")
        assert response.status == 502
        response.read()
        connection.close()

        connection, response = get("fail=late")  # the body ends where the error struck
        assert response.status == 200 and response.read() == b"first "
        connection.close()
    finally:
        lam.delete_function(FunctionName=name)


def test_a_timeout_mid_stream_ends_it_with_sandbox_timedout(lam: Any) -> None:
    name = f"stream-timeout-{uuid.uuid4().hex[:8]}"
    lam.create_function(
        FunctionName=name,
        Role=ROLE,
        Timeout=1,
        Runtime="nodejs20.x",
        Handler="index.handler",
        Code={"ZipFile": make_zip({"index.mjs": NODE_STREAMING})},
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})
    try:
        events = stream(lam, name, {"pause": 5000})
        assert payload(events) == b"first "
        complete = events[-1][1]["InvokeComplete"]
        assert complete["ErrorCode"] == "Sandbox.Timedout"
        assert "Task timed out after 1.00 seconds" in complete["ErrorDetails"]
        assert events[-1][0] < 4
        assert payload(stream(lam, name, {})) == b"first second"  # a new environment serves
    finally:
        lam.delete_function(FunctionName=name)
