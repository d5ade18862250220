#!/usr/bin/env python3
"""A custom runtime (`provided.al2023`) that streams its responses over the Runtime API.

It speaks HTTP/1.1 itself, on a plain socket, because it needs what `http.client` cannot send:
a chunked body ended by trailers (`Lambda-Runtime-Function-Error-Type`/`-Body`). The event
says what to stream:

    {"chunks": ["a", "b"], "pause": 1.5, "error": "Boom", "size": 0, "buffered": false}

each chunk is written, then it sleeps `pause` seconds before the next; `size` adds that many
bytes in 64 KB chunks; `error` ends the body with error trailers; `buffered` answers whole.
"""

import base64
import http.client
import json
import os
import socket
import time

HOST, _, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
PREFIX = "/2018-06-01/runtime/invocation"


def next_event() -> tuple[str, dict]:
    conn = http.client.HTTPConnection(HOST, int(PORT))
    conn.request("GET", f"{PREFIX}/next")
    answer = conn.getresponse()
    body = answer.read()
    conn.close()
    return answer.getheader("Lambda-Runtime-Aws-Request-Id"), json.loads(body)


def read_answer(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        more = sock.recv(65536)
        if not more:
            break
        data += more
    return data


def stream(request_id: str, event: dict) -> None:
    sock = socket.create_connection((HOST, int(PORT)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    head = (
        f"POST {PREFIX}/{request_id}/response HTTP/1.1\r\n"
        "Host: runtime\r\n"
        "Content-Type: text/plain\r\n"
        "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
        "Transfer-Encoding: chunked\r\n"
        "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n"
        "\r\n"
    )
    sock.sendall(head.encode())
    try:
        for i, text in enumerate(event.get("chunks", [])):
            if i:
                time.sleep(event.get("pause", 0))
            data = text.encode()
            sock.sendall(b"%x\r\n%b\r\n" % (len(data), data))
        left = event.get("size", 0)
        block = b"x" * 65536
        while left > 0:
            data = block[:left]
            sock.sendall(b"%x\r\n%b\r\n" % (len(data), data))
            left -= len(data)
        trailers = b""
        if event.get("error"):
            body = json.dumps({"errorType": event["error"], "errorMessage": "mid-stream"})
            trailers = (
                f"Lambda-Runtime-Function-Error-Type: {event['error']}\r\n"
                f"Lambda-Runtime-Function-Error-Body: {base64.b64encode(body.encode()).decode()}"
                "\r\n"
            ).encode()
        sock.sendall(b"0\r\n" + trailers + b"\r\n")
    except OSError:
        pass  # the platform stopped reading (the response was too large)
    read_answer(sock)
    sock.close()


def main() -> None:
    while True:
        request_id, event = next_event()
        if event.get("buffered"):
            conn = http.client.HTTPConnection(HOST, int(PORT))
            conn.request("POST", f"{PREFIX}/{request_id}/response", json.dumps(event).encode())
            conn.getresponse().read()
            conn.close()
        else:
            stream(request_id, event)


main()
