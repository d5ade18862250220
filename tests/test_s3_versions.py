"""S3 object versions against a live server with boto3: a versioned bucket keeps every
overwritten version and turns deletes into delete markers; versions are read, copied, listed
in pages and deleted for good by id; a suspended bucket writes `null` versions; S3's errors
for markers and unknown versions; all kept across a restart."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, python_zip


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str, int, dict[str, Any]]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"].get("Message", ""),
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["ResponseMetadata"]["HTTPHeaders"],
    )


@pytest.fixture()
def s3(server: Server) -> Any:
    return server.client("s3")


def empty(s3: Any, name: str) -> None:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=name, Key=entry["Key"], VersionId=entry["VersionId"])


@pytest.fixture()
def versioned(s3: Any) -> Iterator[str]:
    name = f"ver-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    yield name
    empty(s3, name)
    s3.delete_bucket(Bucket=name)


def read(s3: Any, bucket: str, key: str, **kwargs: Any) -> bytes:
    body: bytes = s3.get_object(Bucket=bucket, Key=key, **kwargs)["Body"].read()
    return body


def test_versions_are_kept_and_read_by_id(s3: Any, versioned: str) -> None:
    one = s3.put_object(Bucket=versioned, Key="doc", Body=b"one")["VersionId"]
    two = s3.put_object(Bucket=versioned, Key="doc", Body=b"two")["VersionId"]
    assert one != two and "null" not in (one, two)
    assert read(s3, versioned, "doc") == b"two"
    assert read(s3, versioned, "doc", VersionId=one) == b"one"
    head = s3.head_object(Bucket=versioned, Key="doc", VersionId=one)
    assert (head["VersionId"], head["ContentLength"]) == (one, 3)
    assert s3.head_object(Bucket=versioned, Key="doc")["VersionId"] == two
    # A delete adds a marker: the key reads as missing, its versions remain.
    deleted = s3.delete_object(Bucket=versioned, Key="doc")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    code, _, status, headers = error_of(s3.get_object, Bucket=versioned, Key="doc")
    assert (code, status, headers["x-amz-delete-marker"]) == ("NoSuchKey", 404, "true")
    assert headers["x-amz-version-id"] == marker
    assert "Contents" not in s3.list_objects_v2(Bucket=versioned)
    assert read(s3, versioned, "doc", VersionId=two) == b"two"
    code, message, status, _ = error_of(
        s3.get_object, Bucket=versioned, Key="doc", VersionId=marker
    )
    assert (code, message, status) == (
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
        405,
    )
    code, message, status, _ = error_of(
        s3.get_object, Bucket=versioned, Key="doc", VersionId="0" * 32
    )
    assert (code, message, status) == (
        "NoSuchVersion",
        "The specified version does not exist.",
        404,
    )
    listed = s3.list_object_versions(Bucket=versioned)
    assert [(v["VersionId"], v["IsLatest"]) for v in listed["Versions"]] == [
        (two, False),
        (one, False),
    ]
    assert [(m["VersionId"], m["IsLatest"]) for m in listed["DeleteMarkers"]] == [(marker, True)]
    # Removing the marker for good brings the newest version back.
    removed = s3.delete_object(Bucket=versioned, Key="doc", VersionId=marker)
    assert (removed["DeleteMarker"], removed["VersionId"]) == (True, marker)
    assert read(s3, versioned, "doc") == b"two"
    # Removing the current version for good makes the one before it current.
    s3.delete_object(Bucket=versioned, Key="doc", VersionId=two)
    assert read(s3, versioned, "doc") == b"one"
    assert s3.head_object(Bucket=versioned, Key="doc")["VersionId"] == one
    # Copying an old version over its key restores it as a new version.
    three = s3.put_object(Bucket=versioned, Key="doc", Body=b"three")["VersionId"]
    copied = s3.copy_object(
        Bucket=versioned,
        Key="doc",
        CopySource={"Bucket": versioned, "Key": "doc", "VersionId": one},
    )
    assert copied["CopySourceVersionId"] == one
    assert copied["VersionId"] not in (one, three)
    assert read(s3, versioned, "doc") == b"one"
    assert len(s3.list_object_versions(Bucket=versioned)["Versions"]) == 3
    # A bucket with versions left is not empty.
    s3.delete_object(Bucket=versioned, Key="doc")
    assert error_of(s3.delete_bucket, Bucket=versioned)[0] == "BucketNotEmpty"


def test_list_object_versions_in_pages(s3: Any, versioned: str) -> None:
    made: list[tuple[str, str]] = []
    for key in ("a/x", "b", "c"):
        for n in range(3):
            made.append(
                (key, s3.put_object(Bucket=versioned, Key=key, Body=b"%d" % n)["VersionId"])
            )
    marker = s3.delete_object(Bucket=versioned, Key="c")["VersionId"]
    expected = [
        *[("a/x", v) for k, v in reversed(made) if k == "a/x"],
        *[("b", v) for k, v in reversed(made) if k == "b"],
        ("c", marker),
        *[("c", v) for k, v in reversed(made) if k == "c"],
    ]
    seen: list[tuple[str, str]] = []
    pages = 0
    for page in s3.get_paginator("list_object_versions").paginate(
        Bucket=versioned, PaginationConfig={"PageSize": 2}
    ):
        pages += 1
        entries = page.get("Versions", []) + page.get("DeleteMarkers", [])
        assert len(entries) <= 2
        # Within a page, sort as S3 does: by key, newest first (markers listed apart).
        ordered = sorted(entries, key=lambda e: (e["Key"], -e["LastModified"].timestamp()))
        seen += [(e["Key"], e["VersionId"]) for e in ordered]
    assert pages == 5
    assert sorted(seen) == sorted(expected)
    assert [k for k, _ in seen] == [k for k, _ in expected]
    rolled = s3.list_object_versions(Bucket=versioned, Delimiter="/")
    assert rolled["CommonPrefixes"] == [{"Prefix": "a/"}]
    assert {v["Key"] for v in rolled["Versions"]} == {"b", "c"}


def test_suspended_versioning_writes_null_versions(s3: Any, versioned: str) -> None:
    kept = s3.put_object(Bucket=versioned, Key="k", Body=b"kept")["VersionId"]
    s3.put_bucket_versioning(Bucket=versioned, VersioningConfiguration={"Status": "Suspended"})
    assert s3.put_object(Bucket=versioned, Key="k", Body=b"first null")["VersionId"] == "null"
    assert s3.put_object(Bucket=versioned, Key="k", Body=b"second null")["VersionId"] == "null"
    versions = s3.list_object_versions(Bucket=versioned)["Versions"]
    assert [(v["VersionId"], v["IsLatest"]) for v in versions] == [("null", True), (kept, False)]
    assert read(s3, versioned, "k", VersionId="null") == b"second null"
    deleted = s3.delete_object(Bucket=versioned, Key="k")
    assert (deleted["DeleteMarker"], deleted["VersionId"]) == (True, "null")
    listed = s3.list_object_versions(Bucket=versioned)
    assert [v["VersionId"] for v in listed["Versions"]] == [kept]
    assert [m["VersionId"] for m in listed["DeleteMarkers"]] == ["null"]


def test_an_unversioned_bucket_has_only_null(s3: Any) -> None:
    name = f"ver-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    put = s3.put_object(Bucket=name, Key="k", Body=b"x")
    assert "VersionId" not in put
    assert read(s3, name, "k", VersionId="null") == b"x"
    code, message, status, _ = error_of(s3.get_object, Bucket=name, Key="k", VersionId="abc")
    assert (code, message, status) == ("InvalidArgument", "Invalid version id specified", 400)
    assert "DeleteMarker" not in s3.delete_object(Bucket=name, Key="k")
    assert error_of(s3.get_object, Bucket=name, Key="k")[0] == "NoSuchKey"
    assert "Versions" not in s3.list_object_versions(Bucket=name)
    s3.delete_bucket(Bucket=name)


def test_versions_survive_a_restart(fresh_server: Callable[..., Server]) -> None:
    srv = fresh_server()
    s3 = srv.client("s3")
    name = f"ver-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket=name, Key="k", Body=b"old")["VersionId"]
    s3.put_object(Bucket=name, Key="k", Body=b"new")
    s3.delete_object(Bucket=name, Key="k")
    data_dir = srv.data_dir
    srv.stop()
    again = fresh_server(data_dir)
    s3 = again.client("s3")
    assert read(s3, name, "k", VersionId=old) == b"old"
    assert error_of(s3.get_object, Bucket=name, Key="k")[0] == "NoSuchKey"
    assert len(s3.list_object_versions(Bucket=name)["Versions"]) == 2
    files = [p for p in (data_dir / "s3" / "objects").rglob("*") if p.is_file()]
    assert len(files) == 2  # both versions' bodies, nothing swept away
    empty(s3, name)
    assert not [p for p in (data_dir / "s3" / "objects").rglob("*") if p.is_file()]
    s3.delete_bucket(Bucket=name)


def test_another_account_needs_the_version_actions(server: Server, s3: Any, versioned: str) -> None:
    other = server.client("s3", aws_access_key_id="111111111111")
    old = s3.put_object(Bucket=versioned, Key="k", Body=b"old")["VersionId"]
    s3.put_object(Bucket=versioned, Key="k", Body=b"new")
    s3.put_bucket_policy(
        Bucket=versioned,
        Policy=json.dumps({"Statement": [{
            "Effect": "Allow", "Principal": {"AWS": "111111111111"},
            "Action": ["s3:GetObject", "s3:DeleteObject"],
            "Resource": f"arn:aws:s3:::{versioned}/*"}]}),
    )  # fmt: skip
    assert read(other, versioned, "k") == b"new"
    assert error_of(other.get_object, Bucket=versioned, Key="k", VersionId=old)[0] == (
        "AccessDenied"
    )
    assert error_of(other.delete_object, Bucket=versioned, Key="k", VersionId=old)[0] == (
        "AccessDenied"
    )
    assert other.delete_object(Bucket=versioned, Key="k")["DeleteMarker"] is True
    assert read(s3, versioned, "k", VersionId=old) == b"old"  # only a marker was added


def test_lambda_code_from_an_object_version(s3: Any, lam: Any, versioned: str) -> None:
    first = python_zip("def handler(e, c):\n    return 1\n")
    second = python_zip("def handler(e, c):\n    return 2\n")
    old = s3.put_object(Bucket=versioned, Key="app.zip", Body=first)["VersionId"]
    s3.put_object(Bucket=versioned, Key="app.zip", Body=second)
    name = f"ver-{uuid.uuid4().hex[:10]}"
    created = lam.create_function(
        FunctionName=name, Runtime="python3.11", Handler="app.handler", Role=ROLE,
        Code={"S3Bucket": versioned, "S3Key": "app.zip", "S3ObjectVersion": old},
    )  # fmt: skip
    try:
        # The version named, not the current object.
        assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(first).digest()).decode()
        lam.get_waiter("function_active_v2").wait(FunctionName=name)
        code, message, status, _ = error_of(
            lam.update_function_code, FunctionName=name, S3Bucket=versioned, S3Key="app.zip",
            S3ObjectVersion="0" * 32,
        )  # fmt: skip
        assert (code, status) == ("InvalidParameterValueException", 400)
        assert "NoSuchVersion" in message
    finally:
        lam.delete_function(FunctionName=name)
