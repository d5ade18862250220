"""A wire fuzzer: malformed requests over raw sockets against a live server (issue 11, Tests).

Each request, from a corpus of known-bad shapes (HTTP framing, headers, chunking, aws-chunked,
JSON, XML, query strings) and from Hypothesis, must get either a 4xx in the shape of the
service it reached (JSON `__type`/`message`, or S3's `<Error><Code>`), or, for garbage below
HTTP, a 4xx or a clean close. Never a 5xx, never a hang; and the server answers a normal
request after every case.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Server

S3_AUTH = (
    b"X-Amz-Date: 20260101T000000Z\r\nX-Amz-Content-SHA256: UNSIGNED-PAYLOAD\r\n"
    b"Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, "
    b"SignedHeaders=host, Signature=00\r\n"
)
STS_AUTH = (
    b"X-Amz-Date: 20260101T000000Z\r\nAuthorization: AWS4-HMAC-SHA256 "
    b"Credential=test/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00\r\n"
)
DYNAMODB = (
    b"X-Amz-Target: DynamoDB_20120810.PutItem\r\nContent-Type: application/x-amz-json-1.0\r\n"
)
HEALTH = b"GET /_fireside/health HTTP/1.1\r\nHost: fuzz\r\n\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(
        tmp_path_factory.mktemp("fuzz"),
        env={"FIRESIDE_HTTP_HEADER_TIMEOUT": "2", "FIRESIDE_HTTP_BODY_TIMEOUT": "2"},
    ).start()
    s3 = srv.client("s3")
    s3.create_bucket(Bucket="fuzz")
    yield srv
    srv.stop()


def exchange(server: Server, raw: bytes, timeout: float = 10.0) -> bytes:
    """Send `raw`, half-close, and read everything until the server closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        try:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may hang up before reading it all: that is an answer too
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
    return data


def first_response(data: bytes) -> tuple[int, bytes, bytes] | None:
    """(status, head, body) of the first response in `data`; None for a clean close."""
    if not data:
        return None
    head, sep, rest = data.partition(b"\r\n\r\n")
    assert sep and head.startswith(b"HTTP/1.1 "), f"not an HTTP response: {data[:200]!r}"
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, head, rest[:length]


def assert_aws_4xx(raw: bytes, answer: bytes, *, service: bool) -> None:
    parsed = first_response(answer)
    if parsed is None:
        assert not service, f"{raw[:120]!r}: closed without an answer"
        return
    status, head, body = parsed
    assert 400 <= status < 500, f"{raw[:120]!r} -> {status}: {body[:300]!r}"
    if body.startswith(b"<?xml") or body.startswith(b"<Error"):
        assert b"<Code>" in body and b"<Message>" in body, body[:300]
    else:
        document = json.loads(body)
        assert isinstance(document, dict) and ("message" in document or "Message" in document)
        if service:
            assert "__type" in document or b"x-amzn-ErrorType" in head, body[:300]
    assert b"Traceback" not in body


def serves(server: Server) -> None:
    parsed = first_response(exchange(server, HEALTH))
    assert parsed is not None and parsed[0] == 200


def post(path: bytes, headers: bytes, body: bytes) -> bytes:
    return (
        b"POST %s HTTP/1.1\r\nHost: fuzz\r\n%sContent-Length: %d\r\nConnection: close\r\n\r\n%s"
        % (path, headers, len(body), body)
    )


def put(path: bytes, headers: bytes, body: bytes) -> bytes:
    return post(path, headers, body).replace(b"POST ", b"PUT ", 1)


def chunked_put(body: bytes) -> bytes:
    return put(b"/fuzz/obj", S3_AUTH.replace(b"UNSIGNED-PAYLOAD", b"STREAMING-UNSIGNED-PAYLOAD-TRAILER") + b"Content-Encoding: aws-chunked\r\n", body)  # fmt: skip


# Below HTTP: a 4xx (400/408/413/414/431) or a clean close.
HTTP_GARBAGE = [
    b"\x00\x01\x02\xff" * 64,
    b"GET / HTTP/9.9\r\n\r\n",
    b"GET\r\n\r\n",
    b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n folded: line\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    b"POST /_fireside/health HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"POST /_fireside/health HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
    b"POST /_fireside/health HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"ffffffffffffffff\r\nabc",
    b"GET /" + b"%" * 20_000 + b" HTTP/1.1\r\n\r\n",
    b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 500 + b"\r\n",
    b"GET /nowhere HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",  # / is a health check
    b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a",  # cut off: the header timeout answers
]

# Reaching a service: its own 4xx.
SERVICE_GARBAGE = [
    # json 1.0 (DynamoDB)
    post(b"/", DYNAMODB, b"{"),
    post(b"/", DYNAMODB, b"[" * 100_000),
    post(b"/", DYNAMODB, b'{"TableName": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
    post(b"/", DYNAMODB, b'{"TableName": "t", "Item": {"k": {"N": "1e999999"}}}'),
    post(b"/", DYNAMODB, b'{"TableName": "\\ud800", "Item": {}}'),
    post(b"/", DYNAMODB, b"\xff\xfe{}"),
    post(b"/", DYNAMODB, b'{"TableName": "t", "Item": {"k": {"B": "!!notbase64"}}}'),
    post(b"/", DYNAMODB.replace(b"PutItem", b"NoSuchOp"), b"{}"),
    post(b"/", b"X-Amz-Target: DynamoDB_20120810.\r\n", b"{}"),
    # rest-json (Lambda)
    post(b"/2015-03-31/functions", b"Content-Type: application/json\r\n", b"{"),
    post(b"/2015-03-31/functions", b"Content-Type: application/json\r\n", b"{" * 100_000),
    post(b"/2015-03-31/functions/%ZZ/invocations", b"", b"{}"),
    post(b"/2015-03-31/functions/f/invocations", b"", b"[" * 100_000),
    post(b"/2015-03-31/functions/f/invocations?Qualifier=" + b"&a=1" * 3000, b"", b"{}"),
    post(b"/2015-03-31/functions/f/invocations", b"X-Amz-Client-Context: !!!\r\n", b"{}"),
    post(b"/2015-03-31/functions/f/invocations", b"X-Amz-Invocation-Type: Sometimes\r\n", b"{}"),
    # rest-xml (S3)
    put(b"/fuzz?tagging", S3_AUTH, b"<Tagging><TagSet>"),
    put(b"/fuzz?tagging", S3_AUTH, b'<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'),
    put(b"/fuzz?tagging", S3_AUTH, b"<Tagging>" + b"<a>" * 50_000 + b"</Tagging>"),
    put(b"/fuzz?tagging", S3_AUTH, b"\xff\xfe<\x00T\x00"),
    put(b"/fuzz/" + b"k" * 2000, S3_AUTH + b"x-amz-checksum-crc32: nope\r\n", b"data"),
    put(b"/fuzz/obj", S3_AUTH + b"x-amz-checksum-crc32c: AAAAAA==\r\n", b"data"),
    chunked_put(b"-2\r\n0\r\n\r\n"),
    chunked_put(b"1\r\nA\r\n-6\r\n0\r\n\r\n"),
    chunked_put(b"5\r\nhel"),
    chunked_put(b"5\r\nhelloXX0\r\n\r\n"),
    chunked_put(b"0x5\r\nhello\r\n0\r\n\r\n"),
    chunked_put(b"ffffffffffffffff\r\nhello\r\n0\r\n\r\n"),
    chunked_put(b"5;chunk-signature=" + b"0" * 5000 + b"\r\nhello\r\n0\r\n\r\n"),
    chunked_put(b"5\r\nhello\r\n0\r\nbad trailer\r\n\r\n"),
    chunked_put(b"5\r\nhello\r\n0\r\nx-amz-checksum-sha256:AAAA\r\n\r\n"),
    # query (STS)
    post(b"/", STS_AUTH + b"Content-Type: application/x-www-form-urlencoded\r\n", b"Action=%ZZ"),
    post(b"/", STS_AUTH + b"Content-Type: application/x-www-form-urlencoded\r\n", b"a=1&" * 20_000),
    post(b"/", STS_AUTH + b"Content-Type: application/x-www-form-urlencoded\r\n", b"Action=AssumeRole&DurationSeconds=x"),
]  # fmt: skip


@pytest.mark.parametrize("raw", HTTP_GARBAGE, ids=range(len(HTTP_GARBAGE)))
def test_http_garbage(server: Server, raw: bytes) -> None:
    assert_aws_4xx(raw, exchange(server, raw), service=False)
    serves(server)


@pytest.mark.parametrize("raw", SERVICE_GARBAGE, ids=range(len(SERVICE_GARBAGE)))
def test_service_garbage(server: Server, raw: bytes) -> None:
    assert_aws_4xx(raw, exchange(server, raw), service=True)
    serves(server)


TARGETS = [
    (b"/", DYNAMODB),
    (b"/2015-03-31/functions", b"Content-Type: application/json\r\n"),
    (b"/fuzz?tagging", S3_AUTH),
    (b"/", STS_AUTH + b"Content-Type: application/x-www-form-urlencoded\r\n"),
]
JSON_ATOMS = st.sampled_from([b"{", b"}", b"[", b"]", b'"', b":", b",", b"1", b"-", b"e", b"null", b"\\u", b"\xff"])  # fmt: skip
XML_ATOMS = st.sampled_from([b"<", b">", b"/", b"Tagging", b"TagSet", b"Tag", b"Key", b"&", b";", b"<!", b"]]>", b"\x00"])  # fmt: skip


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    target=st.sampled_from(TARGETS),
    body=st.one_of(
        st.binary(max_size=300),
        st.lists(JSON_ATOMS, max_size=200).map(b"".join),
        st.lists(XML_ATOMS, max_size=200).map(b"".join),
    ),
)  # fmt: skip
def test_fuzzed_bodies_get_a_4xx(server: Server, target: tuple[bytes, bytes], body: bytes) -> None:
    path, headers = target
    raw = (put if b"tagging" in path else post)(path, headers, body)
    answer = exchange(server, raw)
    parsed = first_response(answer)
    assert parsed is not None, raw[:200]
    if parsed[0] < 300:
        return  # some bodies are valid requests
    assert_aws_4xx(raw, answer, service=True)


HEADER_NAME = st.binary(min_size=1, max_size=20).filter(lambda b: b":" not in b and b"\r" not in b and b"\n" not in b)  # fmt: skip


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from([b"GET", b"PUT", b"POST", b"DELETE", b"HEAD", b"\x00", b"G E T"]),
    path=st.binary(max_size=60),
    headers=st.lists(st.tuples(HEADER_NAME, st.binary(max_size=40)), max_size=8),
)  # fmt: skip
def test_fuzzed_request_heads_never_get_a_5xx(
    server: Server, method: bytes, path: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    raw = b"%s /%s HTTP/1.1\r\nHost: fuzz\r\n%s\r\n" % (
        method,
        path,
        b"".join(b"%s: %s\r\n" % pair for pair in headers),
    )
    answer = exchange(server, raw)
    if answer:
        status = first_response(answer)
        assert status is not None and status[0] < 500, (raw[:200], answer[:300])


def test_the_server_still_serves_after_the_fuzzing(server: Server) -> None:
    serves(server)
