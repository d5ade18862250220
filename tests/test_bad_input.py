"""Garbage on the wire gets AWS's error, and the server keeps serving afterwards."""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.conftest import Server

CREATE = "/2015-03-31/functions"


def call(
    server: Server, method: str, path: str, body: bytes | None = None
) -> tuple[int, dict[str, str], Any]:
    request = urllib.request.Request(
        server.endpoint + path,
        data=body,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read() or b"null")


@pytest.mark.parametrize(
    ("body", "code", "message_start"),
    [
        (b"{not json", "InvalidRequestContentException", "Could not parse request body into json"),
        (b"[1, 2]", "InvalidRequestContentException", "Could not parse request body into json"),
        (
            json.dumps(
                {
                    "FunctionName": "x",
                    "Runtime": "python3.11",
                    "Handler": "a.b",
                    "Role": "arn:aws:iam::000000000000:role/r",
                    "Code": {"ZipFile": "UEsFBgAAAAAAAAAAAAAAAAAAAAAAAA=="},
                    "Timeout": "soon",
                }
            ).encode(),
            "InvalidRequestContentException",
            "Could not parse request body into json",
        ),
        (
            json.dumps({"FunctionName": "x", "Handler": "a.b", "Code": {}}).encode(),
            "ValidationException",
            "1 validation error detected: Value null at 'role' failed to satisfy constraint: "
            "Member must not be null",
        ),
        (
            json.dumps(
                {
                    "FunctionName": "bad name!",
                    "Role": "arn:aws:iam::000000000000:role/r",
                    "Code": {},
                }
            ).encode(),
            "ValidationException",
            "1 validation error detected: Value 'bad name!' at 'functionName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern",
        ),
    ],
)
def test_bad_create_requests(server: Server, body: bytes, code: str, message_start: str) -> None:
    status, headers, error = call(server, "POST", CREATE, body)
    assert status == 400
    assert headers["x-amzn-ErrorType"] == code
    assert error["message"].startswith(message_start), error
    assert call(server, "GET", CREATE)[0] == 200


def test_unknown_route_of_lambda(server: Server) -> None:
    status, _, error = call(server, "PATCH", "/2015-03-31/functions/x")
    assert status == 404
    assert isinstance(error, dict)


def test_malformed_http_is_rejected(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400")
    assert call(server, "GET", CREATE)[0] == 200


def test_oversized_request_body(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            b"POST /2015-03-31/functions HTTP/1.1\r\nHost: x\r\nContent-Length: 999999999\r\n\r\n"
        )
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413")
