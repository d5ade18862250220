"""CloudFormation's S3 providers (AWS::S3::Bucket, AWS::S3::BucketPolicy) in-process: each
acts through the served S3 operations as the stack's account, and the results are read back
through the same operations (`/work/cfn-plan.md`: one app per module, no HTTP)."""

from __future__ import annotations

import json
import re
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from fireside.aws.errors import ServiceError
from fireside.cloudformation.providers import MODULES, all_providers
from fireside.cloudformation.resource_types import (
    NeedsReplacement,
    ResourceContext,
    ResourceFailed,
    ResourceType,
)
from tests.cfn_data_support import ACCOUNT, REGION, App

OTHER = "111111111111"
T = TypeVar("T")


class Harness:
    """The shared in-process app (`tests/cfn_data_support.py`) with the S3 providers."""

    def __init__(self, app: App) -> None:
        self.app = app
        types = all_providers()
        bucket, policy = types.get("AWS::S3::Bucket"), types.get("AWS::S3::BucketPolicy")
        assert bucket is not None and policy is not None
        self.bucket: ResourceType = bucket
        self.policy: ResourceType = policy

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return self.app.run(work)

    def call(self, operation: str, account: str = ACCOUNT, **params: Any) -> dict[str, Any]:
        return self.run(self.app.call("s3", operation, params, account))

    def error(self, operation: str, account: str = ACCOUNT, **params: Any) -> str:
        with pytest.raises(ServiceError) as caught:
            self.call(operation, account, **params)
        return caught.value.code

    def empty(self, bucket: str) -> None:
        """Delete every version and delete marker in `bucket`."""
        listed = self.call("ListObjectVersions", Bucket=bucket)
        for entry in listed.get("Versions", []) + listed.get("DeleteMarkers", []):
            self.call("DeleteObject", Bucket=bucket, Key=entry["Key"], VersionId=entry["VersionId"])

    def ctx(self, logical_id: str, stack: str = "stack", **kwargs: Any) -> ResourceContext:
        ctx = self.app.ctx(logical_id, stack)
        for name, value in kwargs.items():
            setattr(ctx, name, value)
        return ctx


@pytest.fixture(scope="module")
def cfn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    app = App(tmp_path_factory.mktemp("cfn-s3"))
    yield Harness(app)
    app.close()


def test_the_module_is_registered() -> None:
    assert "s3" in MODULES
    names = all_providers().names()
    assert {"AWS::S3::Bucket", "AWS::S3::BucketPolicy"} <= set(names)


def test_a_bucket_with_every_configuration(cfn: Harness) -> None:
    url = cfn.run(cfn.app.call("sqs", "CreateQueue", {"QueueName": "cfn-events"}))["QueueUrl"]
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:cfn-events"
    statement = {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                 "Action": "sqs:SendMessage", "Resource": queue_arn}  # fmt: skip
    attributes = {"Policy": json.dumps({"Statement": [statement]})}
    cfn.run(cfn.app.call("sqs", "SetQueueAttributes", {"QueueUrl": url, "Attributes": attributes}))
    stack = "A-Very-Long-Stack-Name-That-Goes-On-And-On-For-Ever"
    ctx = cfn.ctx("DeployBucket", stack, generated_name=f"{stack}-DeployBucket-1A2B3C4D5E6F",
                  tags={"team": "infra", "aws:cloudformation:stack-name": stack})  # fmt: skip
    properties = {
        "VersioningConfiguration": {"Status": "Enabled"},
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k1"},
             "BucketKeyEnabled": "true"}]},
        "PublicAccessBlockConfiguration": {"BlockPublicAcls": "true", "BlockPublicPolicy": True,
                                           "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
        "LifecycleConfiguration": {"Rules": [
            {"Id": "CleanupOldVersions", "Status": "Enabled",
             "NoncurrentVersionExpiration": {"NoncurrentDays": "365"}},
            {"Id": "logs", "Status": "Enabled", "Prefix": "logs/", "ExpirationInDays": 30,
             "Transitions": [{"StorageClass": "GLACIER", "TransitionInDays": "7"}]},
            {"Id": "Abort", "Status": "Enabled",
             "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
        ]},
        "NotificationConfiguration": {"QueueConfigurations": [
            {"Event": "s3:ObjectCreated:*", "Queue": queue_arn,
             "Filter": {"S3Key": {"Rules": [{"Name": "suffix", "Value": ".zip"}]}}}]},
        "CorsConfiguration": {"CorsRules": [
            {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "MaxAge": "60", "Id": "web"}]},
        "Tags": [{"Key": "purpose", "Value": "deploys"}],
        "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]},
    }  # fmt: skip
    created = cfn.run(cfn.bucket.create(ctx, properties))
    name = created.physical_id
    # CloudFormation's naming: lower case, at most 63, the random suffix kept.
    assert len(name) <= 63 and name.endswith("-1a2b3c4d5e6f")
    assert re.fullmatch(r"[a-z0-9][a-z0-9.-]+[a-z0-9]", name)
    assert name.startswith("a-very-long-stack-name")
    assert created.attributes == {
        "Arn": f"arn:aws:s3:::{name}",
        "DomainName": f"{name}.s3.amazonaws.com",
        "RegionalDomainName": f"{name}.s3.us-east-1.amazonaws.com",
        "DualStackDomainName": f"{name}.s3.dualstack.us-east-1.amazonaws.com",
        "WebsiteURL": f"http://{name}.s3-website-us-east-1.amazonaws.com",
    }
    assert cfn.call("GetBucketVersioning", Bucket=name)["Status"] == "Enabled"
    rule = cfn.call("GetBucketEncryption", Bucket=name)["ServerSideEncryptionConfiguration"][
        "Rules"
    ][0]
    assert rule == {
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k1"},
        "BucketKeyEnabled": True,
    }
    assert all(cfn.call("GetPublicAccessBlock", Bucket=name)[
        "PublicAccessBlockConfiguration"].values())  # fmt: skip
    rules = cfn.call("GetBucketLifecycleConfiguration", Bucket=name)["Rules"]
    assert rules[0] == {"ID": "CleanupOldVersions", "Status": "Enabled",
                        "Filter": {"Prefix": ""}, "NoncurrentVersionExpiration": {"NoncurrentDays": 365}}  # fmt: skip
    assert rules[1]["Filter"] == {"Prefix": "logs/"}
    assert rules[1]["Expiration"] == {"Days": 30}
    assert rules[1]["Transitions"] == [{"StorageClass": "GLACIER", "Days": 7}]
    assert rules[2]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    notifications = cfn.call("GetBucketNotificationConfiguration", Bucket=name)
    (queue,) = notifications["QueueConfigurations"]
    assert (queue["QueueArn"], queue["Events"]) == (queue_arn, ["s3:ObjectCreated:*"])
    assert queue["Filter"]["Key"]["FilterRules"] == [{"Name": "Suffix", "Value": ".zip"}]
    assert cfn.call("GetBucketCors", Bucket=name)["CORSRules"] == [
        {"AllowedMethods": ["GET"], "AllowedOrigins": ["*"], "ID": "web", "MaxAgeSeconds": 60}
    ]
    tags = cfn.call("GetBucketTagging", Bucket=name)["TagSet"]
    # The stack's tags too, but not CloudFormation's own `aws:` ones (S3 refuses those).
    assert {t["Key"]: t["Value"] for t in tags} == {"purpose": "deploys", "team": "infra"}
    assert cfn.call("GetBucketOwnershipControls", Bucket=name)["OwnershipControls"] == {
        "Rules": [{"ObjectOwnership": "BucketOwnerPreferred"}]
    }

    # Update: what is no longer given is removed (versioning suspended, as on AWS).
    updated = {"Tags": [{"Key": "purpose", "Value": "other"}]}
    cfn.run(cfn.bucket.update(ctx, name, properties, updated))
    assert cfn.call("GetBucketVersioning", Bucket=name)["Status"] == "Suspended"
    assert cfn.error("GetBucketCors", Bucket=name) == "NoSuchCORSConfiguration"
    assert cfn.error("GetBucketLifecycleConfiguration", Bucket=name) == (
        "NoSuchLifecycleConfiguration"
    )
    assert cfn.error("GetPublicAccessBlock", Bucket=name) == "NoSuchPublicAccessBlockConfiguration"
    assert cfn.call("GetBucketEncryption", Bucket=name)["ServerSideEncryptionConfiguration"][
        "Rules"
    ][0]["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert cfn.call("GetBucketNotificationConfiguration", Bucket=name) == {}
    assert {"Key": "purpose", "Value": "other"} in cfn.call("GetBucketTagging", Bucket=name)[
        "TagSet"
    ]
    with pytest.raises(NeedsReplacement):
        cfn.run(cfn.bucket.update(ctx, name, updated, {**updated, "BucketName": "renamed-b"}))

    # Delete: refused while objects remain, as on AWS; then gone, and gone again is fine.
    cfn.call("PutObject", Bucket=name, Key="k", Body=b"x")
    with pytest.raises(ResourceFailed) as refused:
        cfn.run(cfn.bucket.delete(ctx, name, updated))
    assert "The bucket you tried to delete is not empty" in str(refused.value)
    assert str(refused.value).startswith('Resource handler returned message: "')
    # The bucket was versioned: every version of the object must go (as on AWS).
    cfn.empty(name)
    cfn.run(cfn.bucket.delete(ctx, name, updated))
    assert cfn.error("HeadBucket", Bucket=name) == "NoSuchBucket"
    cfn.run(cfn.bucket.delete(ctx, name, updated))


def test_a_named_bucket_and_its_failures(cfn: Harness) -> None:
    ctx = cfn.ctx("Named")
    created = cfn.run(cfn.bucket.create(ctx, {"BucketName": "cfn-named-bucket"}))
    assert created.physical_id == "cfn-named-bucket"  # Ref = the name
    with pytest.raises(ResourceFailed) as taken:
        cfn.run(cfn.bucket.create(ctx, {"BucketName": "cfn-named-bucket"}))
    assert '"cfn-named-bucket already exists"' in str(taken.value)
    assert "HandlerErrorCode: AlreadyExists" in str(taken.value)
    # A property Fireside cannot apply fails loudly, naming it.
    with pytest.raises(ResourceFailed, match="WebsiteConfiguration"):
        cfn.run(cfn.bucket.create(ctx, {"WebsiteConfiguration": {"IndexDocument": "i.html"}}))
    # A configuration S3 refuses fails the resource and leaves no bucket behind.
    bad = {"BucketName": "cfn-half-made", "NotificationConfiguration": {"QueueConfigurations": [
        {"Event": "s3:ObjectCreated:*", "Queue": "arn:aws:sqs:eu-west-1:000000000000:q"}]}}  # fmt: skip
    with pytest.raises(ResourceFailed, match="notification destination service region"):
        cfn.run(cfn.bucket.create(ctx, bad))
    assert cfn.error("HeadBucket", Bucket="cfn-half-made") == "NoSuchBucket"
    cfn.run(cfn.bucket.delete(ctx, "cfn-named-bucket", {}))


def test_a_bucket_policy_as_sam_and_cdk_write_them(cfn: Harness) -> None:
    ctx = cfn.ctx("SourceBucket", "aws-sam-cli-managed-default",
                  generated_name="aws-sam-cli-managed-default-SamCliSourceBucket-X1Y2Z3")  # fmt: skip
    name = cfn.run(
        cfn.bucket.create(
            ctx,
            {
                "VersioningConfiguration": {"Status": "Enabled"},
                "Tags": [{"Key": "ManagedStackSource", "Value": "AwsSamCli"}],
            },
        )
    ).physical_id
    arn = f"arn:aws:s3:::{name}"
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"{arn}/*",
             "Principal": {"AWS": f"arn:aws:iam::{OTHER}:root"}},
            {"Effect": "Deny", "Action": "s3:*", "Principal": "*", "Resource": [arn, f"{arn}/*"],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
        ],
    }  # fmt: skip
    pctx = cfn.ctx("SourceBucketPolicy", "aws-sam-cli-managed-default")
    created = cfn.run(cfn.policy.create(pctx, {"Bucket": name, "PolicyDocument": document}))
    assert created.physical_id == name  # Ref = the bucket's name
    assert json.loads(cfn.call("GetBucketPolicy", Bucket=name)["Policy"]) == document
    cfn.call("PutObject", Bucket=name, Key="artifact.zip", Body=b"zip")
    # Enforced: the other account is denied, since Fireside's endpoint is plain HTTP and the
    # policy denies requests that are not over TLS (as SAM's managed bucket does on AWS).
    assert cfn.error("GetObject", OTHER, Bucket=name, Key="artifact.zip") == "AccessDenied"
    allow_only = {**document, "Statement": document["Statement"][:1]}
    cfn.run(cfn.policy.update(pctx, name, {"Bucket": name, "PolicyDocument": document},
                              {"Bucket": name, "PolicyDocument": json.dumps(allow_only)}))  # fmt: skip
    body = cfn.call("GetObject", OTHER, Bucket=name, Key="artifact.zip")["Body"]
    assert body == b"zip"
    with pytest.raises(NeedsReplacement):
        cfn.run(cfn.policy.update(pctx, name, {"Bucket": name}, {"Bucket": "elsewhere"}))
    with pytest.raises(ResourceFailed, match="Policy has invalid resource"):
        cfn.run(cfn.policy.create(pctx, {"Bucket": name, "PolicyDocument": {
            "Statement": [{**document["Statement"][0], "Resource": "arn:aws:s3:::other/*"}]}}))  # fmt: skip
    cfn.run(cfn.policy.delete(pctx, name, {}))
    assert cfn.error("GetBucketPolicy", Bucket=name) == "NoSuchBucketPolicy"
    assert cfn.error("GetObject", OTHER, Bucket=name, Key="artifact.zip") == "AccessDenied"
    cfn.empty(name)
    cfn.run(cfn.bucket.delete(ctx, name, {}))
    cfn.run(cfn.policy.delete(pctx, name, {}))  # its bucket is gone: nothing to do


def test_topic_and_eventbridge_notifications(cfn: Harness) -> None:
    topic = cfn.run(cfn.app.call("sns", "CreateTopic", {"Name": "cfn-bucket-events"}))["TopicArn"]
    ctx = cfn.ctx("Notified")
    properties = {
        "NotificationConfiguration": {
            "TopicConfigurations": [{"Event": "s3:ObjectRemoved:*", "Topic": topic}],
            "EventBridgeConfiguration": {"EventBridgeEnabled": "true"},
        }
    }
    # The topic's policy does not let S3 publish yet: S3's own check fails the resource.
    with pytest.raises(ResourceFailed, match="Unable to validate the following destination"):
        cfn.run(cfn.bucket.create(ctx, {"BucketName": "cfn-notified", **properties}))
    assert cfn.error("HeadBucket", Bucket="cfn-notified") == "NoSuchBucket"
    statement = {"Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                 "Action": "sns:Publish", "Resource": topic}  # fmt: skip
    cfn.run(cfn.app.call("sns", "SetTopicAttributes", {
        "TopicArn": topic, "AttributeName": "Policy",
        "AttributeValue": json.dumps({"Statement": [statement]})}))  # fmt: skip
    name = cfn.run(cfn.bucket.create(ctx, {"BucketName": "cfn-notified", **properties})).physical_id
    got = cfn.call("GetBucketNotificationConfiguration", Bucket=name)
    assert [(t["TopicArn"], t["Events"]) for t in got["TopicConfigurations"]] == [
        (topic, ["s3:ObjectRemoved:*"])
    ]
    assert got["EventBridgeConfiguration"] == {}
    cfn.run(cfn.bucket.delete(ctx, name, properties))
