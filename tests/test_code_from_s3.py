"""Function code and layer content named by an S3 object in Fireside's own S3, as SAM, CDK,
Terraform and CloudFormation deploy them; boto3 against a live server.

The NoSuchBucket and NoSuchKey messages are AWS's, as LocalStack's AWS-validated snapshots
record them (test_lambda_api.snapshot.json, test_lambda_code_location_s3_errors); the
PermanentRedirect one is from AWS's Lambda troubleshooting guide, and the AccessDenied one
as AWS answers CloudFormation deployments. The others are Fireside's (docs/s3.md).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import random
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, make_zip, python_zip

GREETING = "def handler(e, c):\n    return 'v{}'\n"
USES_LAYER = "import layer_mod\ndef handler(e, c):\n    return layer_mod.VALUE\n"
LAYER_ZIP = make_zip({"python/layer_mod.py": "VALUE = 'from an S3 layer'\n"})
GETOBJECT = "Error occurred while GetObject. S3 Error Code: "
NO_BUCKET = GETOBJECT + "NoSuchBucket. S3 Error Message: The specified bucket does not exist"
NO_KEY = GETOBJECT + "NoSuchKey. S3 Error Message: The specified key does not exist."
UNZIP_ERROR = "Could not unzip uploaded file. Please check your file, then try to upload again."


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def error(call: Callable[..., Any], **kwargs: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.fixture()
def buckets(server: Server) -> Iterator[Callable[..., tuple[Any, str]]]:
    """Make buckets (of an account and region of choice); emptied and deleted at the end."""
    made: list[tuple[Any, str]] = []

    def make(**client_kwargs: Any) -> tuple[Any, str]:
        s3 = server.client("s3", **client_kwargs)
        name = unique("code")
        region = s3.meta.region_name
        config = {} if region == "us-east-1" else {"LocationConstraint": region}
        s3.create_bucket(Bucket=name, **({"CreateBucketConfiguration": config} if config else {}))
        made.append((s3, name))
        return s3, name

    yield make
    for s3, name in made:
        for entry in s3.list_objects_v2(Bucket=name).get("Contents", []):
            s3.delete_object(Bucket=name, Key=entry["Key"])
        s3.delete_bucket(Bucket=name)


@pytest.fixture()
def functions(lam: Any) -> Iterator[list[str]]:
    """Names of functions to delete at the end."""
    names: list[str] = []
    yield names
    for name in names:
        with contextlib.suppress(ClientError):
            lam.delete_function(FunctionName=name)


def create(lam: Any, name: str, code: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    out: dict[str, Any] = lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code=code,
        **kwargs,
    )
    return out


def wait_updated(lam: Any, name: str) -> None:
    lam.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})


def answer(lam: Any, name: str) -> Any:
    return lam.invoke(FunctionName=name)["Payload"].read().decode()


def test_create_and_update_from_s3(
    lam: Any, buckets: Callable[..., tuple[Any, str]], functions: list[str]
) -> None:
    s3, bucket = buckets()
    first, second = python_zip(GREETING.format(1)), python_zip(GREETING.format(2))
    s3.put_object(Bucket=bucket, Key="builds/v1.zip", Body=first)
    s3.put_object(Bucket=bucket, Key="builds/v2.zip", Body=second)
    name = unique("fn")
    functions.append(name)
    created = create(lam, name, {"S3Bucket": bucket, "S3Key": "builds/v1.zip"})
    assert (created["CodeSha256"], created["CodeSize"]) == (sha256_b64(first), len(first))
    wait_updated(lam, name)
    assert answer(lam, name) == '"v1"'
    got = lam.get_function(FunctionName=name)
    assert got["Code"]["RepositoryType"] == "S3"
    with urllib.request.urlopen(got["Code"]["Location"]) as download:  # Fireside's URL
        assert download.read() == first

    # S3ObjectVersion: Fireside's buckets are unversioned, so "null" is the only version.
    updated = lam.update_function_code(
        FunctionName=name, S3Bucket=bucket, S3Key="builds/v2.zip", S3ObjectVersion="null"
    )
    assert updated["CodeSha256"] == sha256_b64(second)
    wait_updated(lam, name)
    assert answer(lam, name) == '"v2"'
    # The object can change or go afterwards: the function keeps the bytes it was given.
    s3.delete_object(Bucket=bucket, Key="builds/v2.zip")
    assert answer(lam, name) == '"v2"'


def test_publish_layer_from_s3(
    lam: Any, buckets: Callable[..., tuple[Any, str]], functions: list[str]
) -> None:
    s3, bucket = buckets()
    s3.put_object(Bucket=bucket, Key="/layer.zip", Body=LAYER_ZIP)
    layer = lam.publish_layer_version(
        LayerName=unique("layer"), Content={"S3Bucket": bucket, "S3Key": "/layer.zip"}
    )
    try:
        content = layer["Content"]
        assert (content["CodeSha256"], content["CodeSize"]) == (
            sha256_b64(LAYER_ZIP),
            len(LAYER_ZIP),
        )
        with urllib.request.urlopen(content["Location"]) as download:
            assert download.read() == LAYER_ZIP
        name = unique("fn")
        functions.append(name)
        create(lam, name, {"ZipFile": python_zip(USES_LAYER)}, Layers=[layer["LayerVersionArn"]])
        wait_updated(lam, name)
        assert answer(lam, name) == '"from an S3 layer"'
    finally:
        lam.delete_layer_version(LayerName=layer["LayerArn"], VersionNumber=layer["Version"])


def test_missing_bucket_or_key(
    lam: Any, buckets: Callable[..., tuple[Any, str]], functions: list[str]
) -> None:
    s3, bucket = buckets()
    code = python_zip(GREETING.format(1))
    s3.put_object(Bucket=bucket, Key="code.zip", Body=code)
    name = unique("fn")
    nowhere = unique("no-such-bucket")
    assert error(create, lam=lam, name=name, code={"S3Bucket": nowhere, "S3Key": "code.zip"}) == (
        "InvalidParameterValueException",
        NO_BUCKET,
        400,
    )
    assert error(create, lam=lam, name=name, code={"S3Bucket": bucket, "S3Key": "nope.zip"}) == (
        "InvalidParameterValueException",
        NO_KEY,
        400,
    )
    with pytest.raises(ClientError):  # nothing was created by either
        lam.get_function(FunctionName=name)
    functions.append(name)
    create(lam, name, {"S3Bucket": bucket, "S3Key": "code.zip"})
    wait_updated(lam, name)
    update = lam.update_function_code
    assert error(update, FunctionName=name, S3Bucket=nowhere, S3Key="code.zip") == (
        "InvalidParameterValueException",
        NO_BUCKET,
        400,
    )
    assert error(update, FunctionName=name, S3Bucket=bucket, S3Key="nope.zip") == (
        "InvalidParameterValueException",
        NO_KEY,
        400,
    )
    publish = lam.publish_layer_version
    layer = unique("layer")
    assert error(publish, LayerName=layer, Content={"S3Bucket": nowhere, "S3Key": "l.zip"}) == (
        "InvalidParameterValueException",
        NO_BUCKET,
        400,
    )
    assert error(publish, LayerName=layer, Content={"S3Bucket": bucket, "S3Key": "l.zip"}) == (
        "InvalidParameterValueException",
        NO_KEY,
        400,
    )
    assert lam.list_layer_versions(LayerName=layer)["LayerVersions"] == []  # no number used


def test_bucket_of_another_region_or_account(
    server: Server, lam: Any, buckets: Callable[..., tuple[Any, str]]
) -> None:
    code = python_zip(GREETING.format(1))
    west, west_bucket = buckets(region_name="us-west-2")
    west.put_object(Bucket=west_bucket, Key="code.zip", Body=code)
    assert error(
        create, lam=lam, name=unique("fn"), code={"S3Bucket": west_bucket, "S3Key": "code.zip"}
    ) == (
        "InvalidParameterValueException",
        GETOBJECT + "PermanentRedirect. S3 Error Message: The bucket is in this region: "
        "us-west-2. Please use this region to retry the request",
        400,
    )
    other, other_bucket = buckets(aws_access_key_id=str(random.randrange(10**11, 10**12)))
    other.put_object(Bucket=other_bucket, Key="code.zip", Body=code)
    assert error(
        create, lam=lam, name=unique("fn"), code={"S3Bucket": other_bucket, "S3Key": "code.zip"}
    ) == (
        "AccessDeniedException",
        "Your access has been denied by S3, please make sure your request credentials have "
        f"permission to GetObject for {other_bucket}/code.zip. S3 Error Code: AccessDenied. "
        "S3 Error Message: Access Denied",
        403,
    )


def test_s3_code_is_checked_like_an_upload(
    server: Server, lam: Any, buckets: Callable[..., tuple[Any, str]]
) -> None:
    s3, bucket = buckets()
    s3.put_object(Bucket=bucket, Key="not-a.zip", Body=b"plain text, not a zip")
    s3.put_object(Bucket=bucket, Key="code.zip", Body=python_zip(GREETING.format(1)))
    raw = server.client(parameter_validation=False)
    name = unique("fn")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"S3Bucket": bucket, "S3Key": "not-a.zip"}, UNZIP_ERROR),
        (
            {"S3Bucket": bucket, "S3Key": "code.zip", "ZipFile": b"x"},
            "Please do not provide other FunctionCode parameters when providing a ZipFile.",
        ),
        (
            {"S3Bucket": bucket},
            "S3Bucket and S3Key must be given together to name the code's S3 object.",
        ),
        (
            {"S3Bucket": bucket, "S3Key": "code.zip", "S3ObjectVersion": "3HL4kqtJlcpXroDTDmJ"},
            GETOBJECT + "InvalidArgument. S3 Error Message: Invalid version id specified",
        ),
    ]
    for code, message in cases:
        assert error(create, lam=raw, name=name, code=code) == (
            "InvalidParameterValueException",
            message,
            400,
        )
    assert error(
        lam.publish_layer_version,
        LayerName=unique("layer"),
        Content={"S3Bucket": bucket, "S3Key": "not-a.zip"},
    ) == ("InvalidParameterValueException", UNZIP_ERROR, 400)
