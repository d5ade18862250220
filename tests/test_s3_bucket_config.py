"""S3 bucket configurations against a live server with boto3: bucket policies deciding what
another account may do, default encryption and the SSE headers objects answer with,
versioning status, public access blocks, ownership controls, lifecycle and CORS rules, ACL
answers, and S3's errors for each; all kept across a restart.

Two accounts on one server: the default key acts as 000000000000, a 12-digit key as that
account (`fireside.aws.auth.account_for_access_key`)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.s3.provider import S3Provider
from tests.conftest import Server

OWNER = "000000000000"
OTHER = "111111111111"


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
def other(server: Server) -> Any:
    return server.client("s3", aws_access_key_id=OTHER)


@pytest.fixture()
def bucket(s3: Any) -> Iterator[str]:
    name = f"cfg-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for entry in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=name, Key=entry["Key"], VersionId=entry["VersionId"])
    s3.delete_bucket(Bucket=name)


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_a_bucket_policy_lets_another_account_read(s3: Any, other: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="shared/report.txt", Body=b"numbers")
    s3.put_object(Bucket=bucket, Key="private/secret.txt", Body=b"hush")
    denied = ("AccessDenied", "Access Denied", 403)
    # Without a policy, another account gets nothing.
    assert error_of(other.get_object, Bucket=bucket, Key="shared/report.txt") == denied
    assert error_of(other.list_objects_v2, Bucket=bucket) == denied
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=policy(
            {
                "Sid": "read-shared",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/shared/*",
            },
            {
                "Effect": "Allow",
                "Principal": {"AWS": OTHER},
                "Action": ["s3:ListBucket"],
                "Resource": f"arn:aws:s3:::{bucket}",
            },
        ),
    )
    assert other.get_object(Bucket=bucket, Key="shared/report.txt")["Body"].read() == b"numbers"
    assert other.head_object(Bucket=bucket, Key="shared/report.txt")["ContentLength"] == 7
    listed = other.list_objects_v2(Bucket=bucket)["Contents"]
    assert [o["Key"] for o in listed] == ["private/secret.txt", "shared/report.txt"]
    # Only what the policy grants: other keys, writes, deletes and configuration stay denied.
    assert error_of(other.get_object, Bucket=bucket, Key="private/secret.txt") == denied
    assert error_of(other.put_object, Bucket=bucket, Key="shared/x", Body=b"x") == denied
    assert error_of(other.delete_object, Bucket=bucket, Key="shared/report.txt") == denied
    assert error_of(other.get_bucket_policy, Bucket=bucket) == denied
    assert error_of(other.put_bucket_policy, Bucket=bucket, Policy=policy()) == denied
    # An explicit Deny wins over the Allow.
    s3.put_bucket_policy(
        Bucket=bucket,
        Policy=policy(
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            },
            {
                "Effect": "Deny",
                "Principal": {"AWS": OTHER},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/private/*",
            },
        ),
    )
    other.put_object(Bucket=bucket, Key="shared/from-other", Body=b"hi")
    assert s3.get_object(Bucket=bucket, Key="shared/from-other")["Body"].read() == b"hi"
    assert error_of(other.get_object, Bucket=bucket, Key="private/secret.txt") == denied
    # The owner needs no statement; with the policy gone the other account is out again.
    s3.delete_bucket_policy(Bucket=bucket)
    assert error_of(other.get_object, Bucket=bucket, Key="shared/report.txt") == denied
    assert s3.get_object(Bucket=bucket, Key="private/secret.txt")["Body"].read() == b"hush"


def test_bucket_policy_errors(s3: Any, bucket: str) -> None:
    assert error_of(s3.get_bucket_policy, Bucket=bucket) == (
        "NoSuchBucketPolicy",
        "The bucket policy does not exist",
        404,
    )
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": OTHER},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    cases = [
        ("not json", "Policies must be valid JSON and the first byte must be '{'"),
        ("{not json", "This policy contains invalid Json"),
        (json.dumps({"Version": "2012-10-17"}), "Missing required field Statement"),
        (policy(), "Could not parse the policy: Statement is empty!"),
        (policy({**statement, "Action": "sqs:SendMessage"}), "Policy has invalid action"),
        (policy({**statement, "Resource": "arn:aws:s3:::elsewhere/*"}), "Policy has invalid resource"),
        (policy({k: v for k, v in statement.items() if k != "Effect"}), "Missing required field Effect"),
    ]  # fmt: skip
    for text, message in cases:
        assert error_of(s3.put_bucket_policy, Bucket=bucket, Policy=text) == (
            "MalformedPolicy",
            message,
            400,
        ), text
    s3.put_bucket_policy(Bucket=bucket, Policy=policy(statement))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"] == [statement]
    assert error_of(s3.get_bucket_policy, Bucket="no-such-bucket-here")[0] == "NoSuchBucket"


def test_default_encryption_and_object_sse(s3: Any, bucket: str) -> None:
    # Every bucket encrypts with SSE-S3 unless configured otherwise (S3 since 2023).
    default = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]
    assert default["Rules"] == [
        {
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
            "BucketKeyEnabled": False,
        }
    ]
    put = s3.put_object(Bucket=bucket, Key="plain", Body=b"x")
    assert put["ServerSideEncryption"] == "AES256"
    assert s3.head_object(Bucket=bucket, Key="plain")["ServerSideEncryption"] == "AES256"
    kms = s3.put_object(
        Bucket=bucket, Key="kms", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="my-key"
    )
    assert kms["ServerSideEncryption"] == "aws:kms"
    assert kms["SSEKMSKeyId"] == f"arn:aws:kms:us-east-1:{OWNER}:key/my-key"
    got = s3.get_object(Bucket=bucket, Key="kms")
    assert got["Body"].read() == b"x"
    assert (got["ServerSideEncryption"], got["SSEKMSKeyId"]) == ("aws:kms", kms["SSEKMSKeyId"])
    key_arn = f"arn:aws:kms:us-east-1:{OWNER}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key_arn,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == key_arn
    assert rule["BucketKeyEnabled"] is True
    put = s3.put_object(Bucket=bucket, Key="by-default", Body=b"x")
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"], put["BucketKeyEnabled"]) == (
        "aws:kms",
        key_arn,
        True,
    )
    s3.delete_bucket_encryption(Bucket=bucket)
    assert s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"] == default
    code, message, status = error_of(
        s3.put_object, Bucket=bucket, Key="bad", Body=b"x", ServerSideEncryption="rot13"
    )
    assert (code, message, status) == (
        "InvalidArgument",
        "The encryption method specified is not supported",
        400,
    )
    code, _, status = error_of(
        s3.put_bucket_encryption,
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "rot13"}}]
        },
    )
    assert (code, status) == ("MalformedXML", 400)


def test_versioning_status(s3: Any, bucket: str) -> None:
    assert "Status" not in s3.get_bucket_versioning(Bucket=bucket)
    assert "VersionId" not in s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    code, _, status = error_of(
        s3.put_bucket_versioning, Bucket=bucket, VersioningConfiguration={"Status": "On"}
    )
    assert (code, status) == ("MalformedXML", 400)


def test_public_access_block_and_ownership(s3: Any, bucket: str) -> None:
    every = {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    # New buckets start with every block on and ACLs off, as on S3 since April 2023.
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == every
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]
    }
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration={"BlockPublicAcls": True}
    )
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"] == {
        **{name: False for name in every},
        "BlockPublicAcls": True,
    }
    s3.delete_public_access_block(Bucket=bucket)
    assert error_of(s3.get_public_access_block, Bucket=bucket) == (
        "NoSuchPublicAccessBlockConfiguration",
        "The public access block configuration was not found",
        404,
    )
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    )
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "ObjectWriter"}
    ]
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    assert error_of(s3.get_bucket_ownership_controls, Bucket=bucket) == (
        "OwnershipControlsNotFoundError",
        "The bucket ownership controls were not found",
        404,
    )


def test_lifecycle_cors_tagging_and_acls(s3: Any, bucket: str) -> None:
    assert error_of(s3.get_bucket_lifecycle_configuration, Bucket=bucket) == (
        "NoSuchLifecycleConfiguration",
        "The lifecycle configuration does not exist",
        404,
    )
    expire = datetime(2030, 1, 1, tzinfo=UTC)
    rules = [
        {"ID": "old-logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled",
         "Expiration": {"Days": 30}},
        {"ID": "tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Disabled",
         "Expiration": {"Date": expire}},
    ]  # fmt: skip
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [r["ID"] for r in got] == ["old-logs", "tmp"]
    assert got[0]["Expiration"] == {"Days": 30}
    assert got[1]["Expiration"]["Date"] == expire
    no_action = {"ID": "idle", "Filter": {"Prefix": ""}, "Status": "Enabled"}
    assert error_of(
        s3.put_bucket_lifecycle_configuration,
        Bucket=bucket,
        LifecycleConfiguration={"Rules": [no_action]},
    ) == ("InvalidRequest", "At least one action needs to be specified in a rule", 400)
    s3.delete_bucket_lifecycle(Bucket=bucket)
    assert error_of(s3.get_bucket_lifecycle_configuration, Bucket=bucket)[0] == (
        "NoSuchLifecycleConfiguration"
    )
    assert error_of(s3.get_bucket_cors, Bucket=bucket) == (
        "NoSuchCORSConfiguration",
        "The CORS configuration does not exist",
        404,
    )
    cors = [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "PUT"], "MaxAgeSeconds": 300}]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": cors})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == cors
    assert error_of(
        s3.put_bucket_cors,
        Bucket=bucket,
        CORSConfiguration={"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}]},
    ) == (
        "InvalidRequest",
        "Found unsupported HTTP method in CORS config. Unsupported method is PATCH",
        400,
    )
    s3.delete_bucket_cors(Bucket=bucket)
    assert error_of(s3.get_bucket_cors, Bucket=bucket)[0] == "NoSuchCORSConfiguration"
    assert error_of(s3.get_bucket_tagging, Bucket=bucket)[0] == "NoSuchTagSet"
    acl = s3.get_bucket_acl(Bucket=bucket)
    assert acl["Grants"] == [
        {
            "Grantee": {"Type": "CanonicalUser", **acl["Owner"]},
            "Permission": "FULL_CONTROL",
        }
    ]
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert s3.get_object_acl(Bucket=bucket, Key="k")["Grants"] == acl["Grants"]
    assert error_of(s3.get_object_acl, Bucket=bucket, Key="missing")[0] == "NoSuchKey"
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] is None
    # What cannot be set reads as S3 reads it on a bucket without it (Terraform reads them).
    assert error_of(s3.get_bucket_website, Bucket=bucket) == (
        "NoSuchWebsiteConfiguration",
        "The specified bucket does not have a website configuration",
        404,
    )
    assert error_of(s3.get_bucket_replication, Bucket=bucket) == (
        "ReplicationConfigurationNotFoundError",
        "The replication configuration was not found",
        404,
    )
    assert "Status" not in s3.get_bucket_accelerate_configuration(Bucket=bucket)
    assert s3.get_bucket_request_payment(Bucket=bucket)["Payer"] == "BucketOwner"
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket)


def test_unimplemented_operations_name_themselves(s3: Any, bucket: str) -> None:
    for call, kwargs, name in [
        (s3.put_bucket_acl, {"ACL": "private"}, "PutBucketAcl"),
        (
            s3.put_bucket_website,
            {"WebsiteConfiguration": {"IndexDocument": {"Suffix": "i"}}},
            "PutBucketWebsite",
        ),
        (s3.get_object_tagging, {"Key": "k"}, "GetObjectTagging"),
    ]:
        code, message, status = error_of(call, Bucket=bucket, **kwargs)
        assert (code, status) == ("NotImplemented", 501)
        assert name in message


def test_configurations_survive_a_restart(fresh_server: Callable[..., Server]) -> None:
    srv = fresh_server()
    s3 = srv.client("s3")
    name = f"cfg-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_policy(
        Bucket=name,
        Policy=policy(
            {"Effect": "Allow", "Principal": {"AWS": OTHER}, "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::{name}/*"}
        ),
    )  # fmt: skip
    s3.put_object(Bucket=name, Key="k", Body=b"kept")
    data_dir = srv.data_dir
    srv.stop()
    again = fresh_server(data_dir)
    s3 = again.client("s3")
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    assert json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])["Statement"][0]["Principal"] == {
        "AWS": OTHER
    }
    other = again.client("s3", aws_access_key_id=OTHER)
    assert other.get_object(Bucket=name, Key="k")["Body"].read() == b"kept"


def test_every_unimplemented_operation_says_which(tmp_path: Path) -> None:
    """Every operation of S3's model that Fireside does not implement answers S3's
    `NotImplemented` (501) naming itself, never a success or a crash."""
    provider = S3Provider.open(tmp_path / "s3")
    try:
        ctx = RequestContext(OWNER, "us-east-1", "req", "http://127.0.0.1:1")
        table = provider.operations()
        missing = sorted(name for name, op in table.items() if "_missing" in op.__qualname__)
        assert "PutBucketAcl" in missing and "CreateMultipartUpload" not in missing
        assert len(missing) < len(table)
        for name in missing:
            with pytest.raises(ServiceError) as caught:
                asyncio.run(table[name](ctx, {"Bucket": "b", "Key": "k"}))
            assert (caught.value.code, caught.value.status) == ("NotImplemented", 501), name
            assert f"the S3 operation {name}" in caught.value.message
    finally:
        provider.close()
