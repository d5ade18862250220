"""Request decoders always make progress and answer garbage with AWS's 4xx (item 4 of issue 11).

The aws-chunked decoder (chunk sizes, chunk and trailer signatures, checksums) and the JSON and
XML body decoders, against a live server over raw HTTP, plus AWS's published example of chunk
signatures as an outside reference for the signing code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from fireside.aws.chunked import ChunkSigner, verify_chunk_signatures
from fireside.aws.crc32c import crc32c, crc32c_table
from fireside.aws.errors import ServiceError
from tests.conftest import Server

ACCOUNT, SECRET = "111111111111", "secret1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def send(
    server: Server, method: str, path: str, headers: dict[str, str], body: bytes, timeout: float
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def serves(server: Server) -> bool:
    return send(server, "GET", "/_fireside/health", {}, b"", 10)[0] == 200


# -- signing, checked against AWS's own example -------------------------------------------------


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = hmac.digest(f"AWS4{secret}".encode(), date.encode(), "sha256")
    for part in (region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return key


def test_chunk_signatures_match_aws_published_example() -> None:
    """The signatures of AWS's "Example: PUT Object" for chunked uploads (S3 API reference,
    sigv4-streaming): 64 KB and 1 KB of 'a', then the final empty chunk."""
    signer = ChunkSigner(
        signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "20130524", "us-east-1", "s3"),
        "20130524T000000Z",
        "20130524/us-east-1/s3/aws4_request",
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    )
    published = [
        (b"a" * 65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"),
        (b"a" * 1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"),
        (b"", "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"),
    ]
    body = b"".join(
        b"%x;chunk-signature=%s\r\n%s\r\n" % (len(data), sig.encode(), data)
        for data, sig in published
    )
    verify_chunk_signatures(body, signer, trailer=False)
    with pytest.raises(ServiceError) as caught:
        verify_chunk_signatures(
            body.replace(b"a" * 1024, b"a" * 1023 + b"b"), signer, trailer=False
        )
    assert (caught.value.code, caught.value.status) == ("SignatureDoesNotMatch", 403)


def test_crc32c_matches_the_standard_check_value_and_the_table_fallback() -> None:
    assert crc32c(b"123456789") == 0xE3069283  # the CRC catalogue's check value for CRC-32C
    data = os.urandom(4096)
    assert crc32c(data) == crc32c_table(data)


def chunked_body(
    chunks: list[bytes], signer: ChunkSigner | None, trailers: dict[str, str]
) -> bytes:
    """An aws-chunked body; signed when `signer` is given (its trailer too, if any)."""
    out = b""
    previous = signer.seed if signer else ""
    for data in [*chunks, b""]:
        ext = b""
        if signer is not None:
            digest = f"{EMPTY_SHA256}\n{hashlib.sha256(data).hexdigest()}"
            previous = signer.sign("AWS4-HMAC-SHA256-PAYLOAD", previous, digest)
            ext = f";chunk-signature={previous}".encode()
        out += b"%x%s\r\n" % (len(data), ext) + (data + b"\r\n" if data else b"")
    for name, value in trailers.items():
        out += f"{name}:{value}\r\n".encode()
    if signer is not None and trailers:
        canonical = "".join(f"{k}:{v}\n" for k, v in sorted(trailers.items()))
        signature = signer.sign(
            "AWS4-HMAC-SHA256-TRAILER", previous, hashlib.sha256(canonical.encode()).hexdigest()
        )
        out += f"x-amz-trailer-signature:{signature}\r\n".encode()
    return out + b"\r\n"


# -- aws-chunked on a live server ---------------------------------------------------------------


@pytest.fixture(scope="module")
def signed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(
        tmp_path_factory.mktemp("decoders"), env={"FIRESIDE_CREDENTIALS": f"{ACCOUNT}:{SECRET}"}
    ).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def bucket(signed_server: Server) -> str:
    name = f"dec-{uuid.uuid4().hex[:8]}"
    s3 = signed_server.client("s3", aws_access_key_id=ACCOUNT, aws_secret_access_key=SECRET)
    s3.create_bucket(Bucket=name)
    return name


PutSigned = Callable[..., tuple[int, bytes]]


@pytest.fixture()
def put_signed(signed_server: Server, bucket: str) -> PutSigned:
    """PUT an aws-chunked object whose head botocore signs (the seed signature), with the
    body `make_body` builds from the chunk signer that seed implies."""

    def put(
        key: str,
        make_body: Callable[[ChunkSigner], bytes],
        *,
        content_sha256: str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        decoded_length: int,
        extra: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        headers = {
            "Content-Encoding": "aws-chunked",
            "X-Amz-Content-SHA256": content_sha256,
            "X-Amz-Decoded-Content-Length": str(decoded_length),
            **(extra or {}),
        }
        path = f"/{bucket}/{key}"
        request = AWSRequest(
            method="PUT", url=f"{signed_server.endpoint}{path}", headers=headers, data=b""
        )
        # The generic signer signs X-Amz-Content-SHA256 as given (S3's would replace it).
        SigV4Auth(Credentials(ACCOUNT, SECRET), "s3", "us-east-1").add_auth(request)
        amz_date = request.headers["X-Amz-Date"]
        seed = request.headers["Authorization"].rpartition("Signature=")[2]
        scope = f"{amz_date[:8]}/us-east-1/s3/aws4_request"
        signer = ChunkSigner(
            signing_key(SECRET, amz_date[:8], "us-east-1", "s3"), amz_date, scope, seed
        )
        body = make_body(signer)
        sent = {k: v for k, v in request.headers.items()}
        status, _, answer = send(signed_server, "PUT", path, sent, body, 10)
        return status, answer

    return put


def test_a_negative_chunk_size_is_refused_promptly_and_the_server_still_serves(
    signed_server: Server, put_signed: PutSigned
) -> None:
    """`-6` after a 1-byte chunk: int(..., 16) took it, the decoder stepped back onto the
    previous chunk's CRLF, to the same size line, forever, on the event loop (every client of
    the server froze)."""
    started = time.monotonic()
    status, answer = put_signed(
        "neg",
        lambda signer: b"1\r\nA\r\n-6\r\n0\r\n\r\n",
        content_sha256="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        decoded_length=0,
    )
    assert status == 400 and b"<Code>IncompleteBody</Code>" in answer, answer
    assert time.monotonic() - started < 5
    assert serves(signed_server)


@pytest.mark.parametrize("size", [b"+5", b"0x5", b"5 5", b"\xd9\xa5", b"fffffffff", b""])
def test_non_hex_and_oversized_chunk_sizes_are_refused(put_signed: PutSigned, size: bytes) -> None:
    status, answer = put_signed(
        "bad-size",
        lambda signer: size + b"\r\nhello\r\n0\r\n\r\n",
        content_sha256="STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        decoded_length=5,
    )
    assert status == 400 and b"<Code>IncompleteBody</Code>" in answer, answer


def test_signed_chunks_are_stored_and_a_forged_chunk_is_refused_403(
    signed_server: Server, bucket: str, put_signed: PutSigned
) -> None:
    chunks = [b"hello ", b"world"]
    status, answer = put_signed(
        "good", lambda signer: chunked_body(chunks, signer, {}), decoded_length=11
    )
    assert status == 200, answer
    s3 = signed_server.client("s3", aws_access_key_id=ACCOUNT, aws_secret_access_key=SECRET)
    assert s3.get_object(Bucket=bucket, Key="good")["Body"].read() == b"hello world"

    def forged(signer: ChunkSigner) -> bytes:
        # Signed for "hello world", sent with other bytes of the same length.
        return chunked_body(chunks, signer, {}).replace(b"world", b"w0rld")

    status, answer = put_signed("forged", forged, decoded_length=11)
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in answer, answer
    # A body whose chunks carry no signature at all is no better.
    status, answer = put_signed(
        "unsigned", lambda signer: chunked_body(chunks, None, {}), decoded_length=11
    )
    assert status == 400, answer
    assert "forged" not in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_a_signed_trailer_with_a_crc32c_checksum(
    signed_server: Server, put_signed: PutSigned
) -> None:
    data = b"checksummed payload"
    good = base64.b64encode(crc32c(data).to_bytes(4, "big")).decode()
    trailer = {"Content-Encoding": "aws-chunked", "X-Amz-Trailer": "x-amz-checksum-crc32c"}
    kind = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"

    def body(value: str, tamper: bool = False) -> Callable[[ChunkSigner], bytes]:
        def make(signer: ChunkSigner) -> bytes:
            out = chunked_body([data], signer, {"x-amz-checksum-crc32c": value})
            return (
                out.replace(b"x-amz-checksum-crc32c:", b"x-amz-checksum-crc32c: ")
                if tamper
                else out
            )

        return make

    status, answer = put_signed(
        "t1", body(good), content_sha256=kind, decoded_length=len(data), extra=trailer
    )
    assert status == 200, answer
    wrong = base64.b64encode(b"\0\0\0\0").decode()
    status, answer = put_signed(
        "t2", body(wrong), content_sha256=kind, decoded_length=len(data), extra=trailer
    )
    assert status == 400 and b"<Code>BadDigest</Code>" in answer, answer

    def resigned(signer: ChunkSigner) -> bytes:
        # The trailer's value changed after it was signed.
        return chunked_body([data], signer, {"x-amz-checksum-crc32c": good}).replace(
            good.encode(), wrong.encode()
        )

    status, answer = put_signed(
        "t3", resigned, content_sha256=kind, decoded_length=len(data), extra=trailer
    )
    assert status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in answer, answer
    assert serves(signed_server)


# -- deeply nested JSON and XML -----------------------------------------------------------------

DEEP = 100_000


def test_deeply_nested_json_is_a_400_serialization_exception(server: Server) -> None:
    status, _, body = send(
        server,
        "POST",
        "/",
        {"X-Amz-Target": "DynamoDB_20120810.PutItem", "Content-Type": "application/x-amz-json-1.0"},
        b"[" * DEEP,
        10,
    )
    assert status == 400, body[:300]
    assert json.loads(body)["__type"].endswith("SerializationException")
    # Nested inside a valid structure, deep enough to pass json.loads but not the decoder.
    item = '{"TableName": "t", "Item": {"k": ' + '{"L": [' * 450 + '{"S": "x"}' + "]}" * 450 + "}}"
    status, _, body = send(
        server,
        "POST",
        "/",
        {"X-Amz-Target": "DynamoDB_20120810.PutItem", "Content-Type": "application/x-amz-json-1.0"},
        item.encode(),
        10,
    )
    assert 400 <= status < 500, body[:300]
    assert serves(server)


def test_deeply_nested_json_to_lambda_is_a_400(server: Server) -> None:
    for path in ("/2015-03-31/functions", "/2015-03-31/functions/any/invocations"):
        status, _, body = send(
            server, "POST", path, {"Content-Type": "application/json"}, b"[" * DEEP, 10
        )
        assert 400 <= status < 500, (path, status, body[:300])
        assert "Traceback" not in body.decode(errors="replace")
    assert serves(server)


def test_xml_with_a_dtd_or_deep_nesting_is_malformed_xml(server: Server) -> None:
    s3 = server.client("s3")
    name = f"xml-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE t [<!ENTITY a "aaaaaaaaaa">'
        + b"".join(b'<!ENTITY a%d "%s">' % (i, b"&a;" * 10) for i in range(1, 9))
        + b"]><Tagging><TagSet><Tag><Key>k</Key><Value>&a8;</Value></Tag></TagSet></Tagging>"
    )
    deep = (
        b"<Tagging><TagSet><Tag><Key>"
        + b"<x>" * DEEP
        + b"</x>" * DEEP
        + b"</Key></Tag></TagSet></Tagging>"
    )
    for document in (laughs, deep):
        request = AWSRequest(
            method="PUT", url=f"{server.endpoint}/{name}?tagging", data=document,
            headers={"Content-Type": "application/xml"},
        )  # fmt: skip
        S3SigV4Auth(Credentials("test", "test"), "s3", "us-east-1").add_auth(request)
        status, _, body = send(
            server, "PUT", f"/{name}?tagging", dict(request.headers.items()), document, 10
        )
        assert status == 400 and b"<Code>" in body, body[:300]
        if document is laughs:
            assert b"<Code>MalformedXML</Code>" in body, body[:300]
    assert serves(server)
