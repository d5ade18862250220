"""CloudFormation's Lambda resource types, driven in-process as the stack engine drives them:
each create, update, replacement and delete goes through Lambda's own operations, and the
result is checked with Lambda's own operations (functions are invoked)."""

from __future__ import annotations

import base64
import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from fireside.aws.errors import ServiceError
from fireside.cloudformation.resource_types import ResourceFailed
from tests.cfn_inprocess import ACCOUNT, OTHER_ACCOUNT, REGION, ROLE, App

FUNCTION = "AWS::Lambda::Function"
HANDLER = "def handler(event, context):\n    return {'say': '%s', 'event': event}\n"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    instance = App(Path(tmp_path_factory.mktemp("cfn-lambda")))
    instance.call("s3", "CreateBucket", Bucket="cfn-answers")
    yield instance
    instance.close()


def function_props(say: str = "hello", **extra: Any) -> dict[str, Any]:
    return {
        "Runtime": "python3.11",
        "Handler": "index.handler",
        "Role": ROLE,
        "Code": {"ZipFile": HANDLER % say},
        **extra,
    }


def invoke(app: App, name: str, event: Any = None, account: str = ACCOUNT) -> Any:
    answer = app.call(
        "lambda", "Invoke", account=account, FunctionName=name,
        Payload=json.dumps(event or {}).encode(),
    )  # fmt: skip
    assert "FunctionError" not in answer, answer
    return json.loads(answer["Payload"])


def missing(app: App, operation: str, **params: Any) -> bool:
    try:
        app.call("lambda", operation, **params)
    except ServiceError as error:
        return error.code == "ResourceNotFoundException"
    return False


def test_inline_function_lifecycle(app: App) -> None:
    props = function_props(
        "one", Timeout="10", MemorySize="256", Environment={"Variables": {"GREETING": "1"}}
    )
    created = app.create(FUNCTION, "Fn", props)
    # Ref is the generated name; GetAtt Arn the function's ARN.
    assert created.physical_id == "teststack-Fn-ABCDEFGHIJKL"
    assert created.attributes["Arn"].endswith(":function:teststack-Fn-ABCDEFGHIJKL")
    assert created.attributes["SnapStartResponse"]["ApplyOn"] == "None"
    config = app.call("lambda", "GetFunctionConfiguration", FunctionName=created.physical_id)
    assert (config["State"], config["LastUpdateStatus"]) == ("Active", "Successful")
    assert (config["Timeout"], config["MemorySize"]) == (10, 256)  # strings coerced
    tags = app.call("lambda", "GetFunction", FunctionName=created.physical_id)["Tags"]
    assert tags["aws:cloudformation:logical-id"] == "Fn"
    assert invoke(app, created.physical_id, {"n": 1}) == {"say": "one", "event": {"n": 1}}

    # In place: new code and a dropped Environment / changed Timeout; new tags.
    new = function_props("two", Timeout=20, Tags=[{"Key": "team", "Value": "b"}])
    updated = app.update(FUNCTION, "Fn", created.physical_id, props, new)
    assert updated.physical_id == created.physical_id
    config = app.call("lambda", "GetFunctionConfiguration", FunctionName=created.physical_id)
    assert config["Timeout"] == 20 and config["MemorySize"] == 128
    assert not config.get("Environment", {}).get("Variables")
    tags = app.call("lambda", "GetFunction", FunctionName=created.physical_id)["Tags"]
    assert tags["team"] == "b" and tags["aws:cloudformation:logical-id"] == "Fn"
    assert invoke(app, created.physical_id)["say"] == "two"

    # A new FunctionName is a new function; the old one is deleted.
    renamed = function_props("three", FunctionName="cfn-renamed")
    replaced = app.update(FUNCTION, "Fn", created.physical_id, new, renamed)
    assert replaced.physical_id == "cfn-renamed"
    assert invoke(app, "cfn-renamed")["say"] == "three"
    assert missing(app, "GetFunction", FunctionName=created.physical_id)

    app.delete(FUNCTION, "Fn", "cfn-renamed", renamed)
    assert missing(app, "GetFunction", FunctionName="cfn-renamed")
    app.delete(FUNCTION, "Fn", "cfn-renamed", renamed)  # already gone: still succeeds


def zipped(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def test_code_from_s3_as_sam_deploys_it(app: App) -> None:
    """`sam deploy` uploads each CodeUri and names it by Code.S3Bucket/S3Key; a new upload is
    a new key, which updates the code in place."""
    app.call("s3", "CreateBucket", Bucket="cfn-artifacts")
    for key, say in (("one.zip", "from s3 one"), ("two.zip", "from s3 two")):
        source = f"def handler(e, c):\n    return '{say}'\n"
        app.call("s3", "PutObject", Bucket="cfn-artifacts", Key=key, Body=zipped(source))
    props = {"Runtime": "python3.11", "Handler": "app.handler", "Role": ROLE,
             "Code": {"S3Bucket": "cfn-artifacts", "S3Key": "one.zip"}}  # fmt: skip
    created = app.create(FUNCTION, "FromS3", props)
    assert invoke(app, created.physical_id) == "from s3 one"
    new = {**props, "Code": {"S3Bucket": "cfn-artifacts", "S3Key": "two.zip"}}
    app.update(FUNCTION, "FromS3", created.physical_id, props, new)
    assert invoke(app, created.physical_id) == "from s3 two"
    missing_key = {**props, "Code": {"S3Bucket": "cfn-artifacts", "S3Key": "absent.zip"}}
    with pytest.raises(ResourceFailed, match="S3 Error Code: NoSuchKey"):
        app.update(FUNCTION, "FromS3", created.physical_id, new, missing_key)
    assert invoke(app, created.physical_id) == "from s3 two"
    app.delete(FUNCTION, "FromS3", created.physical_id, new)


def test_inline_code_has_cfnresponse(app: App) -> None:
    code = "import cfnresponse\ndef handler(e, c):\n    return [cfnresponse.SUCCESS, cfnresponse.FAILED]\n"
    props = function_props(Code={"ZipFile": code}, FunctionName="cfn-response-check")
    app.create(FUNCTION, "Resp", props)
    assert invoke(app, "cfn-response-check") == ["SUCCESS", "FAILED"]
    app.delete(FUNCTION, "Resp", "cfn-response-check", props)


def response_url(app: App, key: str) -> str:
    """A presigned S3 PUT URL, as CloudFormation gives custom resources: on AWS's own S3 host
    where functions have a network of their own (it resolves to Fireside there), on Fireside's
    endpoint where they share the host's. Path-style: Fireside's S3 has no virtual hosts."""
    private = app.fireside.backend.private_network
    s3 = boto3.client(
        "s3",
        region_name=REGION,
        endpoint_url="https://s3.amazonaws.com" if private else app.fireside.settings.endpoint_url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    url: str = s3.generate_presigned_url(
        "put_object", Params={"Bucket": "cfn-answers", "Key": key}, ExpiresIn=600
    )
    return url


@pytest.mark.parametrize(
    ("runtime", "code"),
    [
        (
            "python3.11",
            "import cfnresponse\n"
            "def handler(event, context):\n"
            "    cfnresponse.send(event, context, cfnresponse.SUCCESS, {'Out': 'py'}, 'phys-py')\n",
        ),
        (
            "nodejs20.x",
            "const response = require('cfn-response');\n"
            "exports.handler = async (event, context) => {\n"
            "  await response.send(event, context, response.SUCCESS, {Out: 'js'}, 'phys-js');\n"
            "};\n",
        ),
    ],
)
def test_inline_custom_resource_handlers_answer_the_response_url(
    app: App, runtime: str, code: str
) -> None:
    """The `cfnresponse` / `cfn-response` modules packaged with inline code PUT
    CloudFormation's response document to the presigned URL."""
    name = f"cfn-custom-{runtime.split('.')[0]}"
    key = f"answer-{name}"
    props = function_props(Runtime=runtime, FunctionName=name, Code={"ZipFile": code})
    app.create(FUNCTION, "Custom", props)
    event = {
        "RequestType": "Create", "StackId": "arn:stack/x", "RequestId": "r-1",
        "LogicalResourceId": "Thing", "ResourceType": "Custom::Thing",
        "ResponseURL": response_url(app, key),
    }  # fmt: skip
    answer = app.call(
        "lambda", "Invoke", FunctionName=name, Payload=json.dumps(event).encode(), LogType="Tail"
    )
    log = base64.b64decode(answer.get("LogResult", "")).decode(errors="replace")
    assert "FunctionError" not in answer, log
    sent = json.loads(app.call("s3", "GetObject", Bucket="cfn-answers", Key=key)["Body"])
    tag = "py" if runtime.startswith("python") else "js"
    assert (sent["Status"], sent["PhysicalResourceId"], sent["RequestId"]) == (
        "SUCCESS", f"phys-{tag}", "r-1"
    )  # fmt: skip
    assert sent["Data"] == {"Out": tag} and sent["LogicalResourceId"] == "Thing"
    app.delete(FUNCTION, "Custom", name, props)


def test_generated_names_are_cut_to_64(app: App) -> None:
    stack = "a-very-long-stack-name-that-goes-on-and-on-and-on"
    created = app.create(FUNCTION, "SomeRatherLongLogicalId", function_props(), stack=stack)
    assert len(created.physical_id) == 64
    assert created.physical_id.endswith("-ABCDEFGHIJKL")
    app.delete(FUNCTION, "X", created.physical_id, {})


def test_failures_carry_lambdas_message_and_leave_nothing(app: App) -> None:
    before = len(app.call("lambda", "ListFunctions")["Functions"])
    with pytest.raises(ResourceFailed) as caught:
        app.create(FUNCTION, "Bad", function_props(Timeout=901, FunctionName="cfn-bad"))
    assert "Member must have value less than or equal to 900" in str(caught.value)
    assert "HandlerErrorCode: InvalidRequest" in str(caught.value)
    with pytest.raises(ResourceFailed, match="ImageUri"):
        app.create(FUNCTION, "Img", {"Code": {"ImageUri": "x/y:1"}, "Role": ROLE})
    with pytest.raises(ResourceFailed, match=r"Node\.js and Python"):
        app.create(FUNCTION, "Rb", function_props(Runtime="ruby3.3"))
    huge = "X = '" + base64.b64encode(os.urandom(6 * 1024 * 1024)).decode() + "'\n"
    with pytest.raises(ResourceFailed, match="cannot exceed 4MB"):
        app.create(FUNCTION, "Huge", function_props(Code={"ZipFile": huge}))
    with pytest.raises(ResourceFailed, match="Member must not be null"):
        app.create(FUNCTION, "NoRole", {"Runtime": "python3.11", "Handler": "index.handler",
                                        "Code": {"ZipFile": "x=1"}})  # fmt: skip
    assert len(app.call("lambda", "ListFunctions")["Functions"]) == before


def test_reserved_concurrency(app: App) -> None:
    props = function_props(FunctionName="cfn-reserved", ReservedConcurrentExecutions="3")
    app.create(FUNCTION, "Res", props)
    got = app.call("lambda", "GetFunctionConcurrency", FunctionName="cfn-reserved")
    assert got["ReservedConcurrentExecutions"] == 3
    dropped = {k: v for k, v in props.items() if k != "ReservedConcurrentExecutions"}
    app.update(FUNCTION, "Res", "cfn-reserved", props, dropped)
    got = app.call("lambda", "GetFunctionConcurrency", FunctionName="cfn-reserved")
    assert "ReservedConcurrentExecutions" not in got
    app.delete(FUNCTION, "Res", "cfn-reserved", dropped)


def test_version_and_alias(app: App) -> None:
    fn = function_props("v1", FunctionName="cfn-versioned")
    app.create(FUNCTION, "Fn", fn)
    v1 = app.create("AWS::Lambda::Version", "V1", {"FunctionName": "cfn-versioned"})
    assert v1.physical_id.endswith(":function:cfn-versioned:1")
    assert v1.attributes["Version"] == "1"
    alias_props = {"FunctionName": "cfn-versioned", "Name": "live", "FunctionVersion": "1"}
    alias = app.create("AWS::Lambda::Alias", "Live", alias_props)
    assert alias.physical_id.endswith(":function:cfn-versioned:live")

    fn2 = function_props("v2", FunctionName="cfn-versioned")
    app.update(FUNCTION, "Fn", "cfn-versioned", fn, fn2)
    # A version never changes: a new one is published (SAM names it Version<hash>), the
    # alias moves to it, then the old one is deleted.
    v2 = app.create("AWS::Lambda::Version", "V2", {"FunctionName": "cfn-versioned"})
    assert v2.attributes["Version"] == "2"
    new_alias = {**alias_props, "FunctionVersion": "2", "Description": "now v2"}
    same = app.update("AWS::Lambda::Alias", "Live", alias.physical_id, alias_props, new_alias)
    assert same.physical_id == alias.physical_id
    assert invoke(app, alias.physical_id)["say"] == "v2"
    got = app.call("lambda", "GetAlias", FunctionName="cfn-versioned", Name="live")
    assert (got["FunctionVersion"], got["Description"]) == ("2", "now v2")
    app.delete("AWS::Lambda::Version", "V1", v1.physical_id, {})
    assert missing(app, "GetFunctionConfiguration", FunctionName="cfn-versioned", Qualifier="1")
    # Every property of a version needs a new one.
    version = app.provider("AWS::Lambda::Version")
    assert {"Description", "FunctionName", "CodeSha256"} <= version.replace_on

    app.delete("AWS::Lambda::Alias", "Live", alias.physical_id, new_alias)
    assert missing(app, "GetAlias", FunctionName="cfn-versioned", Name="live")
    app.delete("AWS::Lambda::Version", "V1", v2.physical_id, {})
    assert missing(app, "GetFunctionConfiguration", FunctionName="cfn-versioned", Qualifier="2")
    app.delete(FUNCTION, "Fn", "cfn-versioned", fn2)
    app.delete("AWS::Lambda::Alias", "Live", alias.physical_id, new_alias)  # function gone


def test_provisioned_concurrency_of_an_alias(app: App) -> None:
    fn = function_props(FunctionName="cfn-provisioned")
    app.create(FUNCTION, "Fn", fn)
    version = app.create("AWS::Lambda::Version", "V", {"FunctionName": "cfn-provisioned"})
    props = {"FunctionName": "cfn-provisioned", "Name": "warm", "FunctionVersion": "1",
             "ProvisionedConcurrencyConfig": {"ProvisionedConcurrentExecutions": "1"}}  # fmt: skip
    alias = app.create("AWS::Lambda::Alias", "Warm", props)
    got = app.call("lambda", "GetProvisionedConcurrencyConfig", FunctionName="cfn-provisioned",
                   Qualifier="warm")  # fmt: skip
    assert (got["Status"], got["RequestedProvisionedConcurrentExecutions"]) == ("READY", 1)
    cold = {k: v for k, v in props.items() if k != "ProvisionedConcurrencyConfig"}
    app.update("AWS::Lambda::Alias", "Warm", alias.physical_id, props, cold)
    listed = app.call("lambda", "ListProvisionedConcurrencyConfigs", FunctionName="cfn-provisioned")
    assert listed["ProvisionedConcurrencyConfigs"] == []
    app.delete("AWS::Lambda::Alias", "Warm", alias.physical_id, cold)
    app.delete("AWS::Lambda::Version", "V", version.physical_id, {})
    app.delete(FUNCTION, "Fn", "cfn-provisioned", fn)


def test_permission_and_url(app: App) -> None:
    fn = function_props(FunctionName="cfn-exposed")
    created = app.create(FUNCTION, "Fn", fn)
    perm_props = {
        "Action": "lambda:InvokeFunction",
        "FunctionName": created.attributes["Arn"],
        "Principal": "s3.amazonaws.com",
        "SourceAccount": ACCOUNT,
    }
    perm = app.create("AWS::Lambda::Permission", "Perm", perm_props)
    policy = json.loads(app.call("lambda", "GetPolicy", FunctionName="cfn-exposed")["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == [perm.physical_id]

    url_props = {"TargetFunctionArn": "cfn-exposed", "AuthType": "AWS_IAM"}
    url = app.create("AWS::Lambda::Url", "Url", url_props)
    assert url.attributes["FunctionUrl"].startswith("http")
    assert url.attributes["FunctionArn"].endswith(":function:cfn-exposed")
    new_url = {**url_props, "AuthType": "NONE"}
    app.update("AWS::Lambda::Url", "Url", url.physical_id, url_props, new_url)
    got = app.call("lambda", "GetFunctionUrlConfig", FunctionName="cfn-exposed")
    assert got["AuthType"] == "NONE"

    app.delete("AWS::Lambda::Url", "Url", url.physical_id, new_url)
    assert missing(app, "GetFunctionUrlConfig", FunctionName="cfn-exposed")
    app.delete("AWS::Lambda::Permission", "Perm", perm.physical_id, perm_props)
    assert missing(app, "GetPolicy", FunctionName="cfn-exposed")
    app.delete("AWS::Lambda::Permission", "Perm", perm.physical_id, perm_props)
    app.delete(FUNCTION, "Fn", "cfn-exposed", fn)


def test_event_invoke_config(app: App) -> None:
    fn = function_props(FunctionName="cfn-async")
    app.create(FUNCTION, "Fn", fn)
    props = {"FunctionName": "cfn-async", "Qualifier": "$LATEST", "MaximumRetryAttempts": "1"}
    created = app.create("AWS::Lambda::EventInvokeConfig", "Eic", props)
    got = app.call("lambda", "GetFunctionEventInvokeConfig", FunctionName="cfn-async")
    assert got["MaximumRetryAttempts"] == 1
    new = {**props, "MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 120}
    app.update("AWS::Lambda::EventInvokeConfig", "Eic", created.physical_id, props, new)
    got = app.call("lambda", "GetFunctionEventInvokeConfig", FunctionName="cfn-async")
    assert (got["MaximumRetryAttempts"], got["MaximumEventAgeInSeconds"]) == (0, 120)
    app.delete("AWS::Lambda::EventInvokeConfig", "Eic", created.physical_id, new)
    assert missing(app, "GetFunctionEventInvokeConfig", FunctionName="cfn-async")
    app.delete(FUNCTION, "Fn", "cfn-async", fn)


def test_event_source_mapping_from_sqs(app: App) -> None:
    fn = function_props(FunctionName="cfn-consumer")
    app.create(FUNCTION, "Fn", fn)
    queue_url = app.call("sqs", "CreateQueue", QueueName="cfn-source")["QueueUrl"]
    arn = app.call("sqs", "GetQueueAttributes", QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    props = {"EventSourceArn": arn, "FunctionName": "cfn-consumer", "BatchSize": "5"}
    mapping = app.create("AWS::Lambda::EventSourceMapping", "Esm", props)
    got = app.call("lambda", "GetEventSourceMapping", UUID=mapping.physical_id)
    assert (got["State"], got["BatchSize"]) == ("Enabled", 5)

    new = {**props, "BatchSize": 7, "Enabled": "false"}
    app.update("AWS::Lambda::EventSourceMapping", "Esm", mapping.physical_id, props, new)
    got = app.call("lambda", "GetEventSourceMapping", UUID=mapping.physical_id)
    assert (got["State"], got["BatchSize"]) == ("Disabled", 7)

    app.delete("AWS::Lambda::EventSourceMapping", "Esm", mapping.physical_id, new)
    assert missing(app, "GetEventSourceMapping", UUID=mapping.physical_id)
    app.delete(FUNCTION, "Fn", "cfn-consumer", fn)


def test_event_source_mapping_from_a_dynamodb_stream(app: App) -> None:
    fn = function_props(FunctionName="cfn-stream-consumer")
    app.create(FUNCTION, "Fn", fn)
    table = app.call(
        "dynamodb", "CreateTable", TableName="cfn-streamed",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )["TableDescription"]  # fmt: skip
    props = {"EventSourceArn": table["LatestStreamArn"], "FunctionName": "cfn-stream-consumer",
             "StartingPosition": "LATEST", "MaximumRetryAttempts": "2"}  # fmt: skip
    mapping = app.create("AWS::Lambda::EventSourceMapping", "Esm", props)
    got = app.call("lambda", "GetEventSourceMapping", UUID=mapping.physical_id)
    assert (got["State"], got["MaximumRetryAttempts"]) == ("Enabled", 2)
    assert "StartingPosition" in app.provider("AWS::Lambda::EventSourceMapping").replace_on
    app.delete("AWS::Lambda::EventSourceMapping", "Esm", mapping.physical_id, props)
    assert missing(app, "GetEventSourceMapping", UUID=mapping.physical_id)
    app.delete(FUNCTION, "Fn", "cfn-stream-consumer", fn)


def test_event_source_mapping_from_self_managed_kafka(app: App) -> None:
    fn = function_props(FunctionName="cfn-kafka-consumer")
    app.create(FUNCTION, "Fn", fn)
    props = {
        "FunctionName": "cfn-kafka-consumer",
        "Topics": ["orders"],
        "StartingPosition": "TRIM_HORIZON",
        "SelfManagedEventSource": {"Endpoints": {"KafkaBootstrapServers": ["127.0.0.1:9"]}},
        "SelfManagedKafkaEventSourceConfig": {"ConsumerGroupId": "cfn-group"},
    }
    mapping = app.create("AWS::Lambda::EventSourceMapping", "Esm", props)
    got = app.call("lambda", "GetEventSourceMapping", UUID=mapping.physical_id)
    assert got["State"] == "Enabled" and got["Topics"] == ["orders"]
    assert got["SelfManagedEventSource"] == {
        "Endpoints": {"KAFKA_BOOTSTRAP_SERVERS": ["127.0.0.1:9"]}
    }
    assert got["SelfManagedKafkaEventSourceConfig"] == {"ConsumerGroupId": "cfn-group"}
    app.delete("AWS::Lambda::EventSourceMapping", "Esm", mapping.physical_id, props)
    assert missing(app, "GetEventSourceMapping", UUID=mapping.physical_id)
    app.delete(FUNCTION, "Fn", "cfn-kafka-consumer", fn)


def test_layer_version_and_permission(app: App) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("python/cfnlayer.py", "VALUE = 'from the layer'\n")
    app.call("s3", "CreateBucket", Bucket="cfn-layers")
    app.call("s3", "PutObject", Bucket="cfn-layers", Key="layer.zip", Body=buffer.getvalue())
    props = {
        "Content": {"S3Bucket": "cfn-layers", "S3Key": "layer.zip"},
        "CompatibleRuntimes": ["python3.11"],
    }
    layer = app.create("AWS::Lambda::LayerVersion", "Layer", props)
    assert layer.physical_id.endswith(":layer:teststack-Layer-ABCDEFGHIJKL:1")
    code = "import cfnlayer\ndef handler(e, c):\n    return cfnlayer.VALUE\n"
    fn = function_props(
        FunctionName="cfn-layered", Code={"ZipFile": code}, Layers=[layer.physical_id]
    )
    app.create(FUNCTION, "Fn", fn)
    assert invoke(app, "cfn-layered") == "from the layer"

    perm_props = {"LayerVersionArn": layer.physical_id, "Action": "lambda:GetLayerVersion",
                  "Principal": OTHER_ACCOUNT}  # fmt: skip
    perm = app.create("AWS::Lambda::LayerVersionPermission", "LayerPerm", perm_props)
    policy = app.call(
        "lambda", "GetLayerVersionPolicy", LayerName=layer.physical_id.rsplit(":", 1)[0],
        VersionNumber=1,
    )  # fmt: skip
    assert perm.physical_id.endswith("#teststack-LayerPerm-ABCDEFGHIJKL")
    assert OTHER_ACCOUNT in policy["Policy"]
    app.delete("AWS::Lambda::LayerVersionPermission", "LayerPerm", perm.physical_id, perm_props)
    app.delete(FUNCTION, "Fn", "cfn-layered", fn)
    app.delete("AWS::Lambda::LayerVersion", "Layer", layer.physical_id, props)
    listed = app.call("lambda", "ListLayerVersions", LayerName="teststack-Layer-ABCDEFGHIJKL")
    assert listed["LayerVersions"] == []


def test_a_stack_acts_as_its_own_account(app: App) -> None:
    """Another account's stack cannot grant itself access to this account's function, and
    its own function is invisible to this account."""
    fn = function_props(FunctionName="cfn-walled")
    created = app.create(FUNCTION, "Fn", fn)
    perm_props = {"Action": "lambda:InvokeFunction", "FunctionName": created.attributes["Arn"],
                  "Principal": OTHER_ACCOUNT}  # fmt: skip
    with pytest.raises(ResourceFailed, match="AccessDenied"):
        app.create("AWS::Lambda::Permission", "Perm", perm_props, account=OTHER_ACCOUNT)
    theirs = app.create(FUNCTION, "Fn", function_props("theirs"), account=OTHER_ACCOUNT)
    assert invoke(app, theirs.physical_id, account=OTHER_ACCOUNT)["say"] == "theirs"
    assert missing(app, "GetFunction", FunctionName=theirs.physical_id)
    app.delete(FUNCTION, "Fn", "cfn-walled", fn)
