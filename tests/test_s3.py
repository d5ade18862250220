"""S3 against a live server with boto3: buckets, objects, listings, errors, aws-chunked
uploads under signature checking, and durability across a restart."""

from __future__ import annotations

import base64
import hashlib
import urllib.error
import urllib.request
import uuid
import zlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.handlers import set_list_objects_encoding_type_url

from tests.conftest import Server


def unique() -> str:
    return f"bucket-{uuid.uuid4().hex[:16]}"


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    status = caught.value.response["ResponseMetadata"]["HTTPStatusCode"]
    return error["Code"], error.get("Message", ""), status


@pytest.fixture()
def s3(server: Server) -> Any:
    return server.client("s3")


@pytest.fixture()
def bucket(s3: Any) -> Iterator[str]:
    """A bucket emptied and deleted after the test."""
    name = unique()
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for entry in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=entry["Key"])
    s3.delete_bucket(Bucket=name)


def test_bucket_lifecycle(s3: Any) -> None:
    name = unique()
    assert s3.create_bucket(Bucket=name)["Location"] == f"/{name}"
    assert s3.head_bucket(Bucket=name)["BucketRegion"] == "us-east-1"
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] is None
    assert error_of(s3.get_bucket_tagging, Bucket=name)[0] == "NoSuchTagSet"
    s3.put_bucket_tagging(
        Bucket=name, Tagging={"TagSet": [{"Key": "environment", "Value": "tests"}]}
    )
    assert s3.get_bucket_tagging(Bucket=name)["TagSet"] == [
        {"Key": "environment", "Value": "tests"}
    ]
    s3.delete_bucket_tagging(Bucket=name)
    assert error_of(s3.get_bucket_tagging, Bucket=name)[0] == "NoSuchTagSet"
    s3.delete_bucket(Bucket=name)
    assert error_of(s3.head_bucket, Bucket=name)[2] == 404
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_bucket_in_another_region(server: Server) -> None:
    s3 = server.client("s3", region_name="eu-west-1")
    name = unique()
    assert error_of(s3.create_bucket, Bucket=name)[0] == "IllegalLocationConstraintException"
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    assert error_of(
        s3.create_bucket,
        Bucket=name,
        CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
    ) == (
        "BucketAlreadyOwnedByYou",
        "Your previous request to create the named bucket succeeded and you already own it.",
        409,
    )
    s3.delete_bucket(Bucket=name)


def test_bucket_errors(s3: Any, bucket: str) -> None:
    # Re-creating one's own bucket: 200 in us-east-1 (S3's legacy behaviour, documented in
    # its model), BucketAlreadyOwnedByYou elsewhere (test_bucket_in_another_region).
    s3.create_bucket(Bucket=bucket)
    for bad in ("ab", "Upper-case", "under_score", "192.168.1.1", "two..dots", "-dash"):
        assert error_of(s3.create_bucket, Bucket=bad)[:2] == (
            "InvalidBucketName",
            "The specified bucket is not valid.",
        ), bad
    missing = unique()
    assert error_of(s3.list_objects_v2, Bucket=missing) == (
        "NoSuchBucket",
        "The specified bucket does not exist",
        404,
    )
    assert error_of(s3.delete_bucket, Bucket=missing)[0] == "NoSuchBucket"
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert error_of(s3.delete_bucket, Bucket=bucket) == (
        "BucketNotEmpty",
        "The bucket you tried to delete is not empty",
        409,
    )


def test_unimplemented_operation_says_so(s3: Any, bucket: str) -> None:
    code, message, status = error_of(s3.put_bucket_acl, Bucket=bucket, ACL="private")
    assert (code, status) == ("NotImplemented", 501)
    assert "PutBucketAcl" in message


def test_object_round_trip(s3: Any, bucket: str) -> None:
    body = b"hello, fireside" * 100
    put = s3.put_object(
        Bucket=bucket,
        Key="dir/hello.txt",
        Body=body,
        ContentType="text/plain",
        Metadata={"owner": "tests"},
        CacheControl="max-age=60",
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key="dir/hello.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"owner": "tests"}
    assert got["CacheControl"] == "max-age=60"
    assert got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=bucket, Key="dir/hello.txt")
    assert head["ContentLength"] == len(body)
    assert head["LastModified"] == got["LastModified"]
    # A HEAD of a missing key is a bare 404 (no body to carry a code).
    assert error_of(s3.head_object, Bucket=bucket, Key="nope")[2] == 404
    assert error_of(s3.get_object, Bucket=bucket, Key="nope") == (
        "NoSuchKey",
        "The specified key does not exist.",
        404,
    )
    s3.put_object(Bucket=bucket, Key="empty", Body=b"")
    assert s3.get_object(Bucket=bucket, Key="empty")["Body"].read() == b""
    assert s3.get_object(Bucket=bucket, Key="empty")["ContentType"] == "binary/octet-stream"


def test_ranges_and_conditions(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="digits", Body=b"0123456789")
    part = s3.get_object(Bucket=bucket, Key="digits", Range="bytes=2-5")
    assert part["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert part["Body"].read() == b"2345"
    assert part["ContentRange"] == "bytes 2-5/10"
    assert s3.get_object(Bucket=bucket, Key="digits", Range="bytes=7-")["Body"].read() == b"789"
    assert s3.get_object(Bucket=bucket, Key="digits", Range="bytes=-3")["Body"].read() == b"789"
    code, _, status = error_of(s3.get_object, Bucket=bucket, Key="digits", Range="bytes=10-")
    assert (code, status) == ("InvalidRange", 416)
    etag = s3.head_object(Bucket=bucket, Key="digits")["ETag"]
    assert error_of(s3.get_object, Bucket=bucket, Key="digits", IfNoneMatch=etag)[2] == 304
    assert error_of(s3.get_object, Bucket=bucket, Key="digits", IfMatch='"0"')[:1] == (
        "PreconditionFailed",
    )


def test_delete_and_copy(s3: Any, bucket: str) -> None:
    for key in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    s3.delete_object(Bucket=bucket, Key="a")
    s3.delete_object(Bucket=bucket, Key="never-existed")  # S3 answers 204 all the same
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "b"}, {"Key": "zz"}]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == ["b", "zz"]
    copied = s3.copy_object(Bucket=bucket, Key="c-copy", CopySource={"Bucket": bucket, "Key": "c"})
    assert copied["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"c").hexdigest()}"'
    assert s3.get_object(Bucket=bucket, Key="c-copy")["Body"].read() == b"c"
    assert (
        error_of(s3.copy_object, Bucket=bucket, Key="c", CopySource={"Bucket": bucket, "Key": "c"})[
            0
        ]
        == "InvalidRequest"
    )
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["c", "c-copy"]


def test_listing_prefix_delimiter_and_pages(s3: Any, bucket: str) -> None:
    keys = [f"photos/2024/{i:02d}.jpg" for i in range(7)] + [
        "photos/2025/a.jpg",
        "photos/index.html",
        "readme.txt",
        "odd key+plus%.txt",
    ]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["odd key+plus%.txt", "readme.txt"]
    assert top["CommonPrefixes"] == [{"Prefix": "photos/"}]
    assert top["KeyCount"] == 3
    photos = s3.list_objects_v2(Bucket=bucket, Prefix="photos/", Delimiter="/")
    assert [p["Prefix"] for p in photos["CommonPrefixes"]] == ["photos/2024/", "photos/2025/"]
    assert [o["Key"] for o in photos["Contents"]] == ["photos/index.html"]
    pages = list(
        s3.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix="photos/", PaginationConfig={"PageSize": 3}
        )
    )
    assert [len(p.get("Contents", [])) for p in pages] == [3, 3, 3]
    assert [o["Key"] for p in pages for o in p["Contents"]] == sorted(
        k for k in keys if k.startswith("photos/")
    )
    v1 = list(
        s3.get_paginator("list_objects").paginate(
            Bucket=bucket, Delimiter="/", Prefix="photos/", PaginationConfig={"PageSize": 1}
        )
    )
    rolled = [p["Prefix"] for page in v1 for p in page.get("CommonPrefixes", [])]
    assert rolled == ["photos/2024/", "photos/2025/"]
    assert s3.list_objects_v2(Bucket=bucket, StartAfter="readme.txt").get("Contents") is None
    versions = s3.list_object_versions(Bucket=bucket, Prefix="readme")["Versions"]
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in versions] == [
        ("readme.txt", "null", True)
    ]


def test_keys_with_carriage_returns_list_intact(s3: Any, bucket: str) -> None:
    key = 'line\r\nbreak\r & <tag> "q"\t.txt'
    s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    # boto3 asks for URL-encoded keys by default; without that they travel as XML text, where
    # a raw carriage return would be read back as a newline.
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [key]
    s3.meta.events.unregister(
        "before-parameter-build.s3.ListObjectsV2", set_list_objects_encoding_type_url
    )
    listed = s3.list_objects_v2(Bucket=bucket)
    assert "EncodingType" not in listed
    assert [o["Key"] for o in listed["Contents"]] == [key]
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"x"


def _chunked_put(
    endpoint: str, bucket: str, key: str, payload: bytes, checksum: str
) -> urllib.request.Request:
    """A PUT as current SDKs send uploads over HTTPS: aws-chunked with a CRC32 trailer."""
    body = (
        f"{len(payload):x}\r\n".encode()
        + payload
        + b"\r\n0\r\n"
        + f"x-amz-checksum-crc32:{checksum}\r\n\r\n".encode()
    )
    request = AWSRequest(
        method="PUT",
        url=f"{endpoint}/{bucket}/{key}",
        data=body,
        headers={
            "Content-Encoding": "aws-chunked",
            "X-Amz-Trailer": "x-amz-checksum-crc32",
            "X-Amz-Decoded-Content-Length": str(len(payload)),
            "Content-Length": str(len(body)),
        },
    )
    request.context["checksum"] = {
        "request_algorithm": {"in": "trailer", "algorithm": "crc32", "name": "x-amz-checksum-crc32"}
    }
    S3SigV4Auth(Credentials("AKIDFIRESIDE", "s3cret"), "s3", "us-east-1").add_auth(request)
    assert request.headers["X-Amz-Content-SHA256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    prepared = request.prepare()
    return urllib.request.Request(
        prepared.url, data=prepared.body, headers=dict(prepared.headers), method="PUT"
    )


def test_aws_chunked_upload_with_signatures_checked(
    fresh_server: Callable[..., Server],
) -> None:
    srv = fresh_server(FIRESIDE_CREDENTIALS="AKIDFIRESIDE:s3cret")
    s3 = srv.client("s3", aws_access_key_id="AKIDFIRESIDE", aws_secret_access_key="s3cret")
    name = unique()
    s3.create_bucket(Bucket=name)
    payload = b"streamed in chunks " * 50
    crc = base64.b64encode(zlib.crc32(payload).to_bytes(4, "big")).decode()
    with urllib.request.urlopen(_chunked_put(srv.endpoint, name, "chunked.txt", payload, crc)):
        pass
    got = s3.get_object(Bucket=name, Key="chunked.txt")
    assert got["Body"].read() == payload
    assert "ContentEncoding" not in got  # the transport framing is not the object's encoding
    wrong = base64.b64encode(b"\0\0\0\0").decode()
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(_chunked_put(srv.endpoint, name, "bad.txt", payload, wrong))
    assert caught.value.code == 400
    assert b"<Code>BadDigest</Code>" in caught.value.read()
    # Keys that need percent-encoding: S3 signs the path as sent, without a second encoding.
    for key in ("space key", "ünïcode/ключ", "a+b=c&d", "x//y/../z"):
        s3.put_object(Bucket=name, Key=key, Body=key.encode())
        assert s3.get_object(Bucket=name, Key=key)["Body"].read() == key.encode()
    wrong_secret = srv.client("s3", aws_access_key_id="AKIDFIRESIDE", aws_secret_access_key="x")
    assert error_of(wrong_secret.list_objects_v2, Bucket=name)[2] == 403


def test_objects_survive_a_restart(fresh_server: Callable[..., Server]) -> None:
    srv = fresh_server()
    s3 = srv.client("s3")
    name = unique()
    s3.create_bucket(Bucket=name)
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    s3.put_object(Bucket=name, Key="kept", Body=b"before", Metadata={"m": "1"})
    s3.put_object(Bucket=name, Key="kept", Body=b"after")  # the replaced body is gone
    data_dir = srv.data_dir
    srv.stop()
    again = fresh_server(data_dir)
    s3 = again.client("s3")
    got = s3.get_object(Bucket=name, Key="kept")
    assert got["Body"].read() == b"after"
    assert got["Metadata"] == {}
    assert s3.get_bucket_tagging(Bucket=name)["TagSet"] == [{"Key": "k", "Value": "v"}]
    files = [p for p in (data_dir / "s3" / "objects").rglob("*") if p.is_file()]
    assert len(files) == 1
