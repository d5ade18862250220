"""S3's errors as S3 sends them, for the conditions where Fireside differed (issue 12, item 4).
Each expectation is S3's answer as recorded against the real service (LocalStack's
AWS-validated snapshots under `tests/aws/services/s3/`); `docs/errors.md` lists every
condition checked. S3 is no Coral service: a bad value is refused in S3's own words, never
as a `ValidationException`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server


def error(call: Any, **kwargs: Any) -> tuple[int, dict[str, str]]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return caught.value.response["ResponseMetadata"]["HTTPStatusCode"], caught.value.response[
        "Error"
    ]


def unique() -> str:
    return f"errs-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="module")
def s3(server: Server) -> Any:
    return server.client("s3")


@pytest.fixture()
def bucket(s3: Any) -> Iterator[str]:
    name = unique()
    s3.create_bucket(Bucket=name)
    yield name
    for listed in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=listed["Key"])
    s3.delete_bucket(Bucket=name)


def test_location_constraints(server: Server, s3: Any) -> None:
    for constraint in ("us-east-1", "foo"):
        assert error(
            s3.create_bucket,
            Bucket=unique(),
            CreateBucketConfiguration={"LocationConstraint": constraint},
        ) == (
            400,
            {
                "Code": "InvalidLocationConstraint",
                "Message": "The specified location-constraint is not valid",
                "LocationConstraint": constraint,
            },
        )
    ireland = server.client("s3", region_name="eu-west-1")
    assert error(
        ireland.create_bucket,
        Bucket=unique(),
        CreateBucketConfiguration={"LocationConstraint": "bar"},
    ) == (
        400,
        {
            "Code": "IllegalLocationConstraintException",
            "Message": "The bar location constraint is incompatible for the region specific "
            "endpoint this request was sent to.",
        },
    )
    # The us-east-1 endpoint creates buckets in any region; eu-west-1 also answers to `EU`.
    for client, constraint in ((s3, "eu-west-1"), (ireland, "EU")):
        name = unique()
        client.create_bucket(
            Bucket=name, CreateBucketConfiguration={"LocationConstraint": constraint}
        )
        assert ireland.head_bucket(Bucket=name)["BucketRegion"] == "eu-west-1"
        ireland.delete_bucket(Bucket=name)


def test_recreating_ones_own_bucket_in_us_east_1_is_a_no_op(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="kept", Body=b"x")
    s3.create_bucket(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"x"


def test_bucket_tags_refused_as_invalid_tag(s3: Any, bucket: str) -> None:
    cases = [
        (
            [{"Key": "Key1", "Value": "Val1"}, {"Key": "Key1", "Value": "Val1"}],
            {"Message": "Cannot provide multiple Tags with the same key", "TagKey": "Key1"},
        ),
        (
            [{"Key": "Key1,Key2", "Value": "Val1"}],
            {"Message": "The TagKey you have provided is invalid", "TagKey": "Key1,Key2"},
        ),
        (
            [{"Key": "Key1", "Value": "Val1,Val2"}],
            {
                "Message": "The TagValue you have provided is invalid",
                "TagKey": "Key1",
                "TagValue": "Val1,Val2",
            },
        ),
        (
            [{"Key": "aws:prefixed", "Value": "Val1"}],
            {
                "Message": "System tags cannot be added/updated by requester",
                "TagKey": "aws:prefixed",
            },
        ),
    ]
    for tag_set, expected in cases:
        assert error(s3.put_bucket_tagging, Bucket=bucket, Tagging={"TagSet": tag_set}) == (
            400,
            {"Code": "InvalidTag", **expected},
        )
    # What AWS allows besides letters and digits: spaces and + - = . _ : / @
    s3.put_bucket_tagging(
        Bucket=bucket, Tagging={"TagSet": [{"Key": "a b+c-d=e.f_g:h/i@j", "Value": "ü 1"}]}
    )


def test_listing_arguments(s3: Any, bucket: str) -> None:
    assert error(s3.list_object_versions, Bucket=bucket, VersionIdMarker="abc") == (
        400,
        {
            "Code": "InvalidArgument",
            "Message": "A version-id marker cannot be specified without a key marker.",
            "ArgumentName": "version-id-marker",
            "ArgumentValue": "abc",
        },
    )
    assert error(s3.list_buckets, BucketRegion="eu-east-1") == (
        400,
        {
            "Code": "InvalidArgument",
            "Message": "Argument value eu-east-1 is not a valid AWS Region",
            "ArgumentName": "bucket-region",
        },
    )
    for operation in (s3.list_objects, s3.list_objects_v2, s3.list_object_versions):
        assert error(operation, Bucket=bucket, EncodingType="foo") == (
            400,
            {
                "Code": "InvalidArgument",
                "Message": "Invalid Encoding Method specified in Request",
                "ArgumentName": "encoding-type",
                "ArgumentValue": "foo",
            },
        )


def test_an_unknown_storage_class(s3: Any, bucket: str) -> None:
    assert error(s3.put_object, Bucket=bucket, Key="k", Body=b"x", StorageClass="FOO") == (
        400,
        {"Code": "InvalidStorageClass", "Message": "The storage class you specified is not valid"},
    )


def test_signature_refusals_in_s3_terms(fresh_server: Callable[..., Server]) -> None:
    """The signature checks are shared by every service, but S3 words their refusals its
    own way (Lambda keeps Coral's InvalidSignatureException, test_auth.py)."""
    server = fresh_server(FIRESIDE_CREDENTIALS="AKIDS3TEST:right-secret")
    wrong = server.client("s3", aws_access_key_id="AKIDS3TEST", aws_secret_access_key="wrong")
    assert error(wrong.list_buckets) == (
        403,
        {
            "Code": "SignatureDoesNotMatch",
            "Message": "The request signature we calculated does not match the signature you "
            "provided. Check your key and signing method.",
            "AWSAccessKeyId": "AKIDS3TEST",
        },
    )
    unknown = server.client("s3", aws_access_key_id="AKIDNOBODY", aws_secret_access_key="x")
    assert error(unknown.list_buckets) == (
        403,
        {
            "Code": "InvalidAccessKeyId",
            "Message": "The AWS Access Key Id you provided does not exist in our records.",
            "AWSAccessKeyId": "AKIDNOBODY",
        },
    )
