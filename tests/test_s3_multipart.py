"""S3 multipart uploads against a live server with boto3: boto3's own managed transfer as a
real multipart client, the ETag S3 computes, S3's errors, listings with pages, copies of
ranges, aborts that leave nothing behind, notifications, and a `kill -9` in the middle
that never leaves half an object visible."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.conftest import Server

MIB = 1024 * 1024
OTHER = "111111111111"


def error_of(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str, int, dict[str, Any]]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    error = caught.value.response["Error"]
    status = caught.value.response["ResponseMetadata"]["HTTPStatusCode"]
    return error["Code"], error.get("Message", ""), status, error


@pytest.fixture()
def s3(server: Server) -> Any:
    return server.client("s3")


@pytest.fixture()
def bucket(s3: Any) -> Iterator[str]:
    name = f"mpu-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for entry in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=entry["Key"])
    s3.delete_bucket(Bucket=name)


def s3_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(part).digest() for part in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def test_boto3_upload_file_is_a_real_multipart_upload(s3: Any, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(12 * MIB)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    config = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    s3.upload_file(
        str(source), bucket, "big.bin", Config=config,
        ExtraArgs={"ContentType": "application/x-big", "Metadata": {"origin": "test"}},
    )  # fmt: skip
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    # Three parts (5 + 5 + 2 MiB): the ETag is S3's, md5 of the part md5s, then -3.
    assert head["ETag"] == s3_etag([data[: 5 * MIB], data[5 * MIB : 10 * MIB], data[10 * MIB :]])
    assert head["ContentLength"] == len(data)
    assert head["ContentType"] == "application/x-big"
    assert head["Metadata"] == {"origin": "test"}
    assert head["ServerSideEncryption"] == "AES256"
    # boto3 asks for CRC32 checksums: the object carries S3's COMPOSITE one.
    checked = s3.head_object(Bucket=bucket, Key="big.bin", ChecksumMode="ENABLED")
    assert checked["ChecksumCRC32"].endswith("-3")
    target = tmp_path / "back.bin"
    s3.download_file(bucket, "big.bin", str(target))
    assert target.read_bytes() == data
    got = s3.get_object(Bucket=bucket, Key="big.bin", Range="bytes=5242878-5242881")
    assert got["Body"].read() == data[5 * MIB - 2 : 5 * MIB + 2]
    # Nothing is left in progress, and the parts' files are gone.
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=bucket)


def test_upload_parts_by_hand(s3: Any, bucket: str) -> None:
    created = s3.create_multipart_upload(
        Bucket=bucket, Key="doc", ContentType="text/plain", ServerSideEncryption="aws:kms",
        SSEKMSKeyId="k1",
    )  # fmt: skip
    upload = created["UploadId"]
    assert created["ServerSideEncryption"] == "aws:kms"
    first, second = b"a" * (5 * MIB), b"tail"
    one = s3.upload_part(Bucket=bucket, Key="doc", UploadId=upload, PartNumber=1, Body=first)
    assert one["ETag"] == f'"{hashlib.md5(first).hexdigest()}"'
    assert one["ServerSideEncryption"] == "aws:kms"
    two = s3.upload_part(Bucket=bucket, Key="doc", UploadId=upload, PartNumber=2, Body=b"old")
    two = s3.upload_part(Bucket=bucket, Key="doc", UploadId=upload, PartNumber=2, Body=second)
    parts = s3.list_parts(Bucket=bucket, Key="doc", UploadId=upload)
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in parts["Parts"]] == [
        (1, len(first), one["ETag"]),
        (2, len(second), two["ETag"]),
    ]
    assert parts["IsTruncated"] is False
    page = s3.list_parts(Bucket=bucket, Key="doc", UploadId=upload, MaxParts=1)
    assert (page["IsTruncated"], page["NextPartNumberMarker"]) == (True, 1)
    rest = s3.list_parts(Bucket=bucket, Key="doc", UploadId=upload, PartNumberMarker=1)
    assert [p["PartNumber"] for p in rest["Parts"]] == [2]
    # The object does not exist before completion.
    assert error_of(s3.head_object, Bucket=bucket, Key="doc")[2] == 404
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="doc", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": one["ETag"]},
                                   {"PartNumber": 2, "ETag": two["ETag"]}]},
    )  # fmt: skip
    assert done["ETag"] == s3_etag([first, second])
    assert (done["Bucket"], done["Key"]) == (bucket, "doc")
    assert done["ServerSideEncryption"] == "aws:kms"
    got = s3.get_object(Bucket=bucket, Key="doc")
    assert got["Body"].read() == first + second
    assert got["ContentType"] == "text/plain"
    assert got["SSEKMSKeyId"] == "arn:aws:kms:us-east-1:000000000000:key/k1"
    # Its parts stay addressable by number, as on S3.
    part = s3.head_object(Bucket=bucket, Key="doc", PartNumber=1)
    assert (part["ContentLength"], part["PartsCount"]) == (len(first), 2)
    assert part["ContentRange"] == f"bytes 0-{len(first) - 1}/{len(first) + len(second)}"
    assert s3.get_object(Bucket=bucket, Key="doc", PartNumber=2)["Body"].read() == second
    code, message, status, fields = error_of(s3.get_object, Bucket=bucket, Key="doc", PartNumber=3)
    assert (code, message, status) == (
        "InvalidPartNumber",
        "The requested partnumber is not satisfiable",
        416,
    )
    assert (fields["PartNumberRequested"], fields["ActualPartCount"]) == ("3", "2")
    s3.put_object(Bucket=bucket, Key="whole", Body=b"one piece")
    whole = s3.get_object(Bucket=bucket, Key="whole", PartNumber=1)
    assert whole["Body"].read() == b"one piece"
    assert "PartsCount" not in whole
    # The upload is over: every operation on it is NoSuchUpload.
    code, message, status, fields = error_of(
        s3.list_parts, Bucket=bucket, Key="doc", UploadId=upload
    )
    assert (code, status, fields["UploadId"]) == ("NoSuchUpload", 404, upload)
    assert message == (
        "The specified upload does not exist. The upload ID may be invalid, or the upload may "
        "have been aborted or completed."
    )


def test_completion_errors(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    small = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=1, Body=b"s")
    last = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload, PartNumber=2, Body=b"l")

    def complete(parts: list[dict[str, Any]]) -> tuple[str, str, int, dict[str, Any]]:
        return error_of(
            s3.complete_multipart_upload, Bucket=bucket, Key="k", UploadId=upload,
            MultipartUpload={"Parts": parts},
        )  # fmt: skip

    code, message, status, fields = complete(
        [{"PartNumber": 2, "ETag": last["ETag"]}, {"PartNumber": 1, "ETag": small["ETag"]}]
    )
    assert (code, status) == ("InvalidPartOrder", 400)
    assert message == (
        "The list of parts was not in ascending order. Parts must be ordered by part number."
    )
    code, message, status, fields = complete([{"PartNumber": 3, "ETag": last["ETag"]}])
    assert (code, status, fields["PartNumber"]) == ("InvalidPart", 400, "3")
    assert message.startswith("One or more of the specified parts could not be found.")
    assert complete([{"PartNumber": 1, "ETag": '"0123"'}])[0] == "InvalidPart"
    code, message, status, fields = complete(
        [{"PartNumber": 1, "ETag": small["ETag"]}, {"PartNumber": 2, "ETag": last["ETag"]}]
    )
    assert (code, message, status) == (
        "EntityTooSmall",
        "Your proposed upload is smaller than the minimum allowed size",
        400,
    )
    assert (fields["ProposedSize"], fields["MinSizeAllowed"], fields["PartNumber"]) == (
        "1",
        str(5 * MIB),
        "1",
    )
    assert complete([])[0] == "MalformedXML"
    # A single small part is fine: only parts before the last have a minimum.
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": last["ETag"]}]},
    )  # fmt: skip
    assert done["ETag"] == s3_etag([b"l"])
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"l"
    code, message, status, fields = error_of(
        s3.upload_part, Bucket=bucket, Key="k", UploadId="nope", PartNumber=1, Body=b"x"
    )
    assert (code, status) == ("NoSuchUpload", 404)
    other = s3.create_multipart_upload(Bucket=bucket, Key="k2")["UploadId"]
    for number in (0, 10_001):
        code, message, status, fields = error_of(
            s3.upload_part, Bucket=bucket, Key="k2", UploadId=other, PartNumber=number, Body=b"x"
        )
        assert (code, message, status) == (
            "InvalidArgument",
            "Part number must be an integer between 1 and 10000, inclusive",
            400,
        )
    # An upload id belongs to its key.
    assert error_of(s3.list_parts, Bucket=bucket, Key="k", UploadId=other)[0] == "NoSuchUpload"


def test_abort_removes_the_parts(server: Server, s3: Any, bucket: str) -> None:
    objects = server.data_dir / "s3" / "objects"

    def files() -> int:
        return sum(1 for p in objects.rglob("*") if p.is_file())

    before = files()
    upload = s3.create_multipart_upload(Bucket=bucket, Key="gone")["UploadId"]
    for number in (1, 2, 3):
        s3.upload_part(Bucket=bucket, Key="gone", UploadId=upload, PartNumber=number, Body=b"x")
    assert files() == before + 3
    s3.abort_multipart_upload(Bucket=bucket, Key="gone", UploadId=upload)
    assert files() == before
    assert (
        error_of(s3.abort_multipart_upload, Bucket=bucket, Key="gone", UploadId=upload)[0]
        == "NoSuchUpload"
    )
    assert error_of(s3.head_object, Bucket=bucket, Key="gone")[2] == 404


def test_list_multipart_uploads_in_pages(s3: Any, bucket: str) -> None:
    keys = ["a/1", "a/2", "b", "c", "c"]
    ids = [s3.create_multipart_upload(Bucket=bucket, Key=k)["UploadId"] for k in keys]
    listed = s3.list_multipart_uploads(Bucket=bucket)
    assert [(u["Key"], u["UploadId"]) for u in listed["Uploads"]] == list(
        zip(keys, ids, strict=True)
    )
    assert listed["Uploads"][0]["Initiator"]["ID"] == listed["Uploads"][0]["Owner"]["ID"]
    seen: list[tuple[str, str]] = []
    for page in s3.get_paginator("list_multipart_uploads").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": 2}
    ):
        assert len(page.get("Uploads", [])) <= 2
        seen += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
    assert seen == list(zip(keys, ids, strict=True))
    rolled = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert rolled["CommonPrefixes"] == [{"Prefix": "a/"}]
    assert [u["Key"] for u in rolled["Uploads"]] == ["b", "c", "c"]
    assert [u["Key"] for u in s3.list_multipart_uploads(Bucket=bucket, Prefix="a/")["Uploads"]] == [
        "a/1",
        "a/2",
    ]
    after = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="b")
    assert [u["Key"] for u in after["Uploads"]] == ["c", "c"]
    after = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="c", UploadIdMarker=ids[3])
    assert [u["UploadId"] for u in after["Uploads"]] == [ids[4]]


def test_upload_part_copy(s3: Any, bucket: str) -> None:
    source = os.urandom(6 * MIB)
    s3.put_object(Bucket=bucket, Key="source", Body=source)
    upload = s3.create_multipart_upload(Bucket=bucket, Key="copy")["UploadId"]
    one = s3.upload_part_copy(
        Bucket=bucket, Key="copy", UploadId=upload, PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "source"}, CopySourceRange=f"bytes=0-{5 * MIB - 1}",
    )  # fmt: skip
    two = s3.upload_part_copy(
        Bucket=bucket, Key="copy", UploadId=upload, PartNumber=2,
        CopySource=f"{bucket}/source", CopySourceRange=f"bytes={5 * MIB}-{6 * MIB - 1}",
    )  # fmt: skip
    assert one["CopyPartResult"]["ETag"] == f'"{hashlib.md5(source[: 5 * MIB]).hexdigest()}"'
    s3.complete_multipart_upload(
        Bucket=bucket, Key="copy", UploadId=upload,
        MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": one["CopyPartResult"]["ETag"]},
            {"PartNumber": 2, "ETag": two["CopyPartResult"]["ETag"]},
        ]},
    )  # fmt: skip
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == source
    completed = error_of(
        s3.upload_part_copy, Bucket=bucket, Key="copy", UploadId=upload, PartNumber=1,
        CopySource=f"{bucket}/source",
    )  # fmt: skip
    assert (completed[0], completed[2]) == ("NoSuchUpload", 404)  # the upload is over
    again = s3.create_multipart_upload(Bucket=bucket, Key="copy")["UploadId"]
    code, message, status, _ = error_of(
        s3.upload_part_copy, Bucket=bucket, Key="copy", UploadId=again, PartNumber=1,
        CopySource=f"{bucket}/source", CopySourceRange="bytes=0-99999999",
    )  # fmt: skip
    assert (code, message, status) == (
        "InvalidArgument",
        f"Range specified is not valid for source object of size: {6 * MIB}",
        400,
    )


def test_completion_notifies(server: Server, s3: Any, bucket: str) -> None:
    sqs = server.client("sqs")
    url = sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "Policy": json.dumps(
                {"Statement": [{"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                                "Action": "sqs:SendMessage", "Resource": arn}]}
            )
        },
    )  # fmt: skip
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {"QueueArn": arn, "Events": ["s3:ObjectCreated:CompleteMultipartUpload"]}
            ]
        },
    )
    upload = s3.create_multipart_upload(Bucket=bucket, Key="n")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="n", UploadId=upload, PartNumber=1, Body=b"x")
    s3.put_object(Bucket=bucket, Key="plain", Body=b"y")  # not a configured event
    s3.complete_multipart_upload(
        Bucket=bucket, Key="n", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    bodies = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not any("Records" in b for b in bodies):
        for message in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2).get("Messages", []):
            bodies.append(json.loads(message["Body"]))
    (record,) = next(b for b in bodies if "Records" in b)["Records"]
    assert record["eventName"] == "ObjectCreated:CompleteMultipartUpload"
    assert record["s3"]["object"]["key"] == "n"
    assert record["s3"]["object"]["eTag"] == s3_etag([b"x"]).strip('"')


def test_another_account_uploads_only_where_the_policy_allows(
    server: Server, s3: Any, bucket: str
) -> None:
    other = server.client("s3", aws_access_key_id=OTHER)
    assert error_of(other.create_multipart_upload, Bucket=bucket, Key="k")[0] == "AccessDenied"
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {"Statement": [{"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "s3:PutObject",
                            "Resource": f"arn:aws:s3:::{bucket}/drop/*"}]}
        ),
    )  # fmt: skip
    upload = other.create_multipart_upload(Bucket=bucket, Key="drop/k")["UploadId"]
    part = other.upload_part(Bucket=bucket, Key="drop/k", UploadId=upload, PartNumber=1, Body=b"z")
    other.complete_multipart_upload(
        Bucket=bucket, Key="drop/k", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    assert s3.get_object(Bucket=bucket, Key="drop/k")["Body"].read() == b"z"
    assert error_of(other.create_multipart_upload, Bucket=bucket, Key="k")[0] == "AccessDenied"
    assert error_of(other.list_multipart_uploads, Bucket=bucket)[0] == "AccessDenied"


def test_a_crash_mid_upload_never_shows_half_an_object(
    fresh_server: Callable[..., Server],
) -> None:
    srv = fresh_server()
    s3 = srv.client("s3")
    name = f"mpu-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"the old object")
    upload = s3.create_multipart_upload(Bucket=name, Key="k")["UploadId"]
    first = os.urandom(5 * MIB)
    one = s3.upload_part(Bucket=name, Key="k", UploadId=upload, PartNumber=1, Body=first)
    data_dir = srv.data_dir
    assert srv.process is not None
    srv.process.send_signal(signal.SIGKILL)  # an acknowledged part, an upload not completed
    srv.process.wait(20)
    # A body file that a completion was writing when it died: an orphan, never an object.
    (data_dir / "s3" / "objects" / "ff").mkdir(exist_ok=True)
    (data_dir / "s3" / "objects" / "ff" / ("ff" + "0" * 30)).write_bytes(first[:1000])
    again = fresh_server(data_dir)
    s3 = again.client("s3")
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"the old object"
    assert not (data_dir / "s3" / "objects" / "ff" / ("ff" + "0" * 30)).exists()
    parts = s3.list_parts(Bucket=name, Key="k", UploadId=upload)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in parts] == [(1, one["ETag"])]
    two = s3.upload_part(Bucket=name, Key="k", UploadId=upload, PartNumber=2, Body=b"end")
    s3.complete_multipart_upload(
        Bucket=name, Key="k", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": one["ETag"]},
                                   {"PartNumber": 2, "ETag": two["ETag"]}]},
    )  # fmt: skip
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == first + b"end"
    files = [p for p in (data_dir / "s3" / "objects").rglob("*") if p.is_file()]
    assert len(files) == 1  # the object; the parts and the old body are gone


def test_deleting_a_bucket_ends_its_uploads(server: Server, s3: Any) -> None:
    name = f"mpu-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    objects = server.data_dir / "s3" / "objects"
    upload = s3.create_multipart_upload(Bucket=name, Key="k")["UploadId"]
    s3.upload_part(Bucket=name, Key="k", UploadId=upload, PartNumber=1, Body=b"part")
    assert any(p.read_bytes() == b"part" for p in objects.rglob("*") if p.is_file())
    s3.delete_bucket(Bucket=name)  # unfinished uploads do not keep a bucket alive
    left = [p for p in objects.rglob("*") if p.is_file() and p.read_bytes() == b"part"]
    assert left == []
    s3.create_bucket(Bucket=name)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=name)
    s3.delete_bucket(Bucket=name)


def test_checksums_of_completed_uploads(s3: Any, bucket: str) -> None:
    first, last = os.urandom(5 * MIB), b"end"
    # COMPOSITE (boto3's default for CRC32): the checksum of the parts' checksums, -<parts>.
    upload = s3.create_multipart_upload(Bucket=bucket, Key="c", ChecksumAlgorithm="CRC32")
    assert upload["ChecksumType"] == "COMPOSITE"
    parts = []
    for number, body in ((1, first), (2, last)):
        part = s3.upload_part(
            Bucket=bucket, Key="c", UploadId=upload["UploadId"], PartNumber=number, Body=body,
            ChecksumAlgorithm="CRC32",
        )  # fmt: skip
        assert part["ChecksumCRC32"] == crc32(body)
        parts.append({"PartNumber": number, "ETag": part["ETag"],
                      "ChecksumCRC32": part["ChecksumCRC32"]})  # fmt: skip
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="c", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
    )
    joined = base64.b64decode(crc32(first)) + base64.b64decode(crc32(last))
    assert done["ChecksumCRC32"] == f"{crc32(joined)}-2"
    head = s3.head_object(Bucket=bucket, Key="c", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == done["ChecksumCRC32"]
    # FULL_OBJECT: the whole object's CRC32, checked against the one the client sends.
    upload = s3.create_multipart_upload(
        Bucket=bucket, Key="f", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
    )
    parts = []
    for number, body in ((1, first), (2, last)):
        part = s3.upload_part(
            Bucket=bucket, Key="f", UploadId=upload["UploadId"], PartNumber=number, Body=body
        )
        parts.append({"PartNumber": number, "ETag": part["ETag"]})

    def complete(checksum: str) -> Any:
        return s3.complete_multipart_upload(
            Bucket=bucket, Key="f", UploadId=upload["UploadId"], ChecksumCRC32=checksum,
            ChecksumType="FULL_OBJECT", MultipartUpload={"Parts": parts},
        )  # fmt: skip

    code, message, status, _ = error_of(complete, checksum=crc32(b"something else"))
    assert (code, message, status) == (
        "BadDigest",
        "The CRC32 you specified did not match the calculated checksum.",
        400,
    )
    assert error_of(s3.head_object, Bucket=bucket, Key="f")[2] == 404  # nothing was made
    done = complete(crc32(first + last))
    assert (done["ChecksumCRC32"], done["ChecksumType"]) == (crc32(first + last), "FULL_OBJECT")
    head = s3.head_object(Bucket=bucket, Key="f", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc32(first + last)
    code, message, status, _ = error_of(
        s3.create_multipart_upload, Bucket=bucket, Key="s", ChecksumAlgorithm="SHA256",
        ChecksumType="FULL_OBJECT",
    )  # fmt: skip
    assert (code, message, status) == (
        "InvalidRequest",
        "The FULL_OBJECT checksum type cannot be used with the sha256 checksum algorithm.",
        400,
    )


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_the_aws_cli_copies_a_large_file_in_parts(
    server: Server, s3: Any, bucket: str, tmp_path: Path
) -> None:
    data = os.urandom(20 * MIB)  # over the CLI's 8 MB threshold: three 8 MB-or-less parts
    (tmp_path / "up.bin").write_bytes(data)
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    aws = [str(Path(sys.executable).parent / "aws"), "--endpoint-url", server.endpoint]

    def run(*args: str) -> str:
        done = subprocess.run([*aws, *args], capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("s3", "cp", str(tmp_path / "up.bin"), f"s3://{bucket}/cli/up.bin", "--sse", "AES256")
    head = s3.head_object(Bucket=bucket, Key="cli/up.bin")
    parts = [data[i : i + 8 * MIB] for i in range(0, len(data), 8 * MIB)]
    assert head["ETag"] == s3_etag(parts)
    assert head["ServerSideEncryption"] == "AES256"
    run("s3", "cp", f"s3://{bucket}/cli/up.bin", str(tmp_path / "down.bin"))
    assert (tmp_path / "down.bin").read_bytes() == data
    encryption = json.loads(run("s3api", "get-bucket-encryption", "--bucket", bucket))
    rules = encryption["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
