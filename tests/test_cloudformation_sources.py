"""Templates from S3 (TemplateURL in Fireside's and AWS's URL forms, AWS::Include) and the
SAM transform, against a live server."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.conftest import Server, python_zip
from tests.test_cloudformation import HANDLE, WAIT, create, error_of, name, outputs
from tests.test_cloudformation_engine import queue_names

SAM_QUEUE = """
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Timeout: 10
Resources:
  Queue:
    Type: AWS::SQS::Queue
Outputs:
  Url:
    Value: !Ref Queue
"""


def bucket(server: Server, key: str, body: str, **client: Any) -> str:
    s3 = server.client("s3", **client)
    bucket_name = name()
    s3.create_bucket(Bucket=bucket_name)
    s3.put_object(Bucket=bucket_name, Key=key, Body=body.encode())
    return bucket_name


def test_template_urls_name_fireside_s3(server: Server) -> None:
    cf = server.client("cloudformation")
    body = "Resources:\n" + HANDLE + "Outputs:\n  H:\n    Value: !Ref Handle\n"
    bucket_name = bucket(server, "dir/t.yaml", body)
    urls = [
        f"{server.endpoint}/{bucket_name}/dir/t.yaml",
        f"https://{bucket_name}.s3.amazonaws.com/dir/t.yaml",
        f"https://{bucket_name}.s3.us-east-1.amazonaws.com/dir/t.yaml",
        f"https://s3.us-east-1.amazonaws.com/{bucket_name}/dir/t.yaml",
        f"https://s3.amazonaws.com/{bucket_name}/dir/t.yaml",
    ]
    for url in urls:
        assert cf.validate_template(TemplateURL=url)["Parameters"] == []
    stack_name = name()
    cf.create_stack(StackName=stack_name, TemplateURL=urls[1])
    cf.get_waiter("stack_create_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    assert cf.get_template(StackName=stack_name)["TemplateBody"] == body
    with pytest.raises(ClientError) as caught:
        cf.validate_template(TemplateURL=f"https://s3.amazonaws.com/{bucket_name}/missing")
    assert error_of(caught)[1].startswith("S3 error: ")
    # Another account reads its own S3: this bucket is not its to read.
    other = server.client("cloudformation", aws_access_key_id="222233334444")
    with pytest.raises(ClientError) as caught:
        other.validate_template(TemplateURL=urls[0])
    assert error_of(caught)[1].startswith("S3 error: ")
    with pytest.raises(ClientError) as caught:
        cf.validate_template(TemplateURL="ftp://example.com/x")
    assert error_of(caught)[0] == "ValidationError"


def test_aws_include_reads_a_snippet_from_s3(server: Server) -> None:
    cf = server.client("cloudformation")
    snippet = json.dumps({"Included": {"Type": "AWS::SQS::Queue"}})
    bucket_name = bucket(server, "snippet.json", snippet)
    body = (
        "Resources:\n" + HANDLE + "  Fn::Transform:\n    Name: AWS::Include\n"
        f"    Parameters:\n      Location: s3://{bucket_name}/snippet.json\n"
    )
    with pytest.raises(ClientError) as caught:
        cf.create_stack(StackName=name(), TemplateBody=body)
    assert error_of(caught)[1] == "Requires capabilities : [CAPABILITY_AUTO_EXPAND]"
    stack_name = name()
    create(cf, stack_name, body, Capabilities=["CAPABILITY_AUTO_EXPAND"])
    resources = cf.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    assert sorted(r["LogicalResourceId"] for r in resources) == ["Handle", "Included"]


def test_the_sam_transform_runs_on_the_server(server: Server) -> None:
    cf, sqs = server.client("cloudformation"), server.client("sqs")
    stack_name = name()
    stack = create(cf, stack_name, SAM_QUEUE, Capabilities=["CAPABILITY_AUTO_EXPAND"])
    assert outputs(stack)["Url"] in queue_names(sqs, stack_name)
    assert cf.get_template(StackName=stack_name)["TemplateBody"] == SAM_QUEUE
    processed = cf.get_template(StackName=stack_name, TemplateStage="Processed")["TemplateBody"]
    document = processed if isinstance(processed, dict) else json.loads(processed)
    assert "Transform" not in document and "Globals" not in document
    # A change set needs no CAPABILITY_AUTO_EXPAND (it shows the expansion for review).
    other = name()
    made = cf.create_change_set(
        StackName=other, ChangeSetName="sam", ChangeSetType="CREATE", TemplateBody=SAM_QUEUE
    )
    cf.get_waiter("change_set_create_complete").wait(ChangeSetName=made["Id"], WaiterConfig=WAIT)
    changed = cf.describe_change_set(ChangeSetName=made["Id"])["Changes"]
    assert [c["ResourceChange"]["LogicalResourceId"] for c in changed] == ["Queue"]
    processed = cf.get_template(ChangeSetName=made["Id"], TemplateStage="Processed")
    assert "Globals" not in json.dumps(processed["TemplateBody"])
    cf.delete_stack(StackName=other)
    summary = cf.get_template_summary(TemplateBody=SAM_QUEUE)
    assert summary["DeclaredTransforms"] == ["AWS::Serverless-2016-10-31"]
    assert "CAPABILITY_AUTO_EXPAND" in summary["Capabilities"]
    bad = SAM_QUEUE.replace(
        "Resources:\n",
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      CodeUri: ./src\n      Handler: a.h\n      Runtime: python3.12\n",
    )
    # Validation does not expand: an unpackaged SAM template validates, as on AWS.
    assert cf.validate_template(TemplateBody=bad)["DeclaredTransforms"] == [
        "AWS::Serverless-2016-10-31"
    ]
    with pytest.raises(ClientError) as caught:
        cf.create_stack(StackName=name(), TemplateBody=bad, Capabilities=["CAPABILITY_AUTO_EXPAND"])
    message = error_of(caught)[1]
    assert message.startswith(
        "Transform AWS::Serverless-2016-10-31 failed with: Invalid Serverless Application "
        "Specification document. Number of errors found: 1. Resource with id [F] is invalid. "
        "'CodeUri' is not a valid S3 Uri"
    ), message


SAM_FUNCTION = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  CodeBucket:
    Type: String
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri:
        Bucket: !Ref CodeBucket
        Key: app.zip
      Handler: app.handler
      Runtime: python3.12
      Environment:
        Variables:
          OUT: !Ref Out
      Events:
        FromQueue:
          Type: SQS
          Properties:
            Queue: !GetAtt In.Arn
            BatchSize: 1
  In:
    Type: AWS::SQS::Queue
  Out:
    Type: AWS::SQS::Queue
Outputs:
  FunctionName:
    Value: !Ref Fn
  Out:
    Value: !Ref Out
  In:
    Value: !Ref In
"""

HANDLER = """
import os
import boto3

def handler(event, context):
    sqs = boto3.client("sqs")
    for record in event.get("Records", []):
        sqs.send_message(QueueUrl=os.environ["OUT"], MessageBody="seen " + record["body"])
    return "ok"
"""


def test_a_sam_application_deploys_and_runs(server: Server) -> None:
    cf, sqs, lam = server.client("cloudformation"), server.client("sqs"), server.client()
    s3 = server.client("s3")
    code = name()
    s3.create_bucket(Bucket=code)
    s3.put_object(Bucket=code, Key="app.zip", Body=python_zip(HANDLER))
    stack_name = name()
    with pytest.raises(ClientError) as caught:
        cf.create_stack(StackName=stack_name, TemplateBody=SAM_FUNCTION,
                        Capabilities=["CAPABILITY_AUTO_EXPAND"],
                        Parameters=[{"ParameterKey": "CodeBucket", "ParameterValue": code}])  # fmt: skip
    assert error_of(caught)[1] == "Requires capabilities : [CAPABILITY_IAM]"
    stack = create(
        cf,
        stack_name,
        SAM_FUNCTION,
        Capabilities=["CAPABILITY_AUTO_EXPAND", "CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": "CodeBucket", "ParameterValue": code}],
    )
    resources = cf.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    assert {r["LogicalResourceId"]: r["ResourceType"] for r in resources} == {
        "Fn": "AWS::Lambda::Function",
        "FnRole": "AWS::IAM::Role",
        "FnFromQueue": "AWS::Lambda::EventSourceMapping",
        "In": "AWS::SQS::Queue",
        "Out": "AWS::SQS::Queue",
    }
    out = outputs(stack)
    invoked = lam.invoke(FunctionName=out["FunctionName"], Payload=b"{}")
    assert invoked["Payload"].read() == b'"ok"'
    sqs.send_message(QueueUrl=out["In"], MessageBody="hello")
    found = sqs.receive_message(QueueUrl=out["Out"], WaitTimeSeconds=20)["Messages"]
    assert found[0]["Body"] == "seen hello"
    cf.delete_stack(StackName=stack_name)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    with pytest.raises(ClientError):
        lam.get_function(FunctionName=out["FunctionName"])
    assert queue_names(sqs, stack_name) == []


CHILD = """
Parameters:
  Visibility:
    Type: Number
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: !Ref Visibility
Outputs:
  Url:
    Value: !Ref Queue
"""


def parent(url: str, visibility: str) -> str:
    return (
        "Resources:\n  Child:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n"
        f"      TemplateURL: {url}\n      Parameters:\n        Visibility: {visibility}\n"
        "Outputs:\n  ChildUrl:\n    Value: !GetAtt Child.Outputs.Url\n"
    )


def test_nested_stacks(server: Server) -> None:
    cf, sqs = server.client("cloudformation"), server.client("sqs")
    bucket_name = bucket(server, "child.yaml", CHILD)
    url = f"https://{bucket_name}.s3.amazonaws.com/child.yaml"
    stack_name = name()
    stack = create(cf, stack_name, parent(url, "40"))
    queue = outputs(stack)["ChildUrl"]
    child_id = cf.describe_stack_resource(StackName=stack_name, LogicalResourceId="Child")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    child = cf.describe_stacks(StackName=child_id)["Stacks"][0]
    assert child["StackName"].startswith(f"{stack_name}-Child-")
    assert child["ParentId"] == stack["StackId"] and child["RootId"] == stack["StackId"]
    got = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["VisibilityTimeout"])
    assert got["Attributes"]["VisibilityTimeout"] == "40"

    cf.update_stack(StackName=stack_name, TemplateBody=parent(url, "50"))
    cf.get_waiter("stack_update_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    got = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["VisibilityTimeout"])
    assert got["Attributes"]["VisibilityTimeout"] == "50"
    assert cf.describe_stacks(StackName=child_id)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"

    # A child that fails rolls the parent back.
    cf.update_stack(StackName=stack_name, TemplateBody=parent(url, "99999"))
    with pytest.raises(WaiterError):
        cf.get_waiter("stack_update_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    cf.get_waiter("stack_rollback_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    events = cf.describe_stack_events(StackName=stack_name)["StackEvents"]
    failed = next(e for e in events if e["ResourceStatus"] == "UPDATE_FAILED")
    assert failed["ResourceStatusReason"].startswith(f"Embedded stack {child_id} was not")
    got = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["VisibilityTimeout"])
    assert got["Attributes"]["VisibilityTimeout"] == "50"

    cf.delete_stack(StackName=stack_name)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    assert cf.describe_stacks(StackName=child_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"
    assert queue_names(sqs, stack_name) == []


def test_a_template_that_nests_itself_stops_and_rolls_back(server: Server) -> None:
    cf = server.client("cloudformation")
    s3 = server.client("s3")
    bucket_name = name()
    s3.create_bucket(Bucket=bucket_name)
    url = f"https://{bucket_name}.s3.amazonaws.com/self.yaml"
    body = f"Resources:\n  Again:\n    Type: AWS::CloudFormation::Stack\n    Properties:\n      TemplateURL: {url}\n"
    s3.put_object(Bucket=bucket_name, Key="self.yaml", Body=body.encode())
    stack_name = name()
    cf.create_stack(StackName=stack_name, TemplateURL=url)
    with pytest.raises(WaiterError):
        cf.get_waiter("stack_create_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    summaries = cf.list_stacks()["StackSummaries"]
    family = [s for s in summaries if s["StackName"].startswith(stack_name)]
    assert len(family) == 10
    assert {s["StackStatus"] for s in family if s.get("ParentId")} == {"DELETE_COMPLETE"}
    root = cf.describe_stacks(StackName=stack_name)["Stacks"][0]
    assert root["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cf.describe_stack_events(StackName=stack_name)["StackEvents"]
    failed = next(e for e in events if e["ResourceStatus"] == "CREATE_FAILED")
    assert failed["ResourceStatusReason"].startswith("Embedded stack ")
    reasons = [
        e.get("ResourceStatusReason")
        for member in family
        for e in cf.describe_stack_events(StackName=member["StackId"])["StackEvents"]
        if e["ResourceStatus"] == "CREATE_FAILED"
    ]
    assert reasons.count("Nested stacks may be at most 10 levels deep") == 1
    assert len({s["StackName"] for s in family}) == 10


SAM_API = """
Transform: AWS::Serverless-2016-10-31
Parameters:
  CodeBucket:
    Type: String
  CodeKey:
    Type: String
Globals:
  Function:
    Runtime: python3.12
    Handler: app.handler
    CodeUri:
      Bucket: !Ref CodeBucket
      Key: !Ref CodeKey
Resources:
  Rest:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Hello:
          Type: Api
          Properties:
            Path: /hello
            Method: get
  Http:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Any:
          Type: HttpApi
Outputs:
  RestApi:
    Value: !Ref ServerlessRestApi
  HttpApi:
    Value: !Ref ServerlessHttpApi
"""

API_HANDLER = """
def handler(event, context):
    path = event.get("path") or event.get("rawPath")
    return {"statusCode": 200, "body": "hi from " + path}
"""


def test_a_sam_api_deploys_and_answers(server: Server) -> None:
    import urllib.request

    cf, s3 = server.client("cloudformation"), server.client("s3")
    code = name()
    s3.create_bucket(Bucket=code)
    s3.put_object(Bucket=code, Key="api.zip", Body=python_zip(API_HANDLER))
    stack_name = name()
    capabilities = ["CAPABILITY_AUTO_EXPAND", "CAPABILITY_IAM"]
    stack = create(
        cf,
        stack_name,
        SAM_API,
        Capabilities=capabilities,
        Parameters=[
            {"ParameterKey": "CodeBucket", "ParameterValue": code},
            {"ParameterKey": "CodeKey", "ParameterValue": "api.zip"},
        ],
    )
    out = outputs(stack)
    rest = f"{server.endpoint}/_aws/execute-api/{out['RestApi']}/Prod/hello"
    with urllib.request.urlopen(rest) as answer:
        assert answer.read() == b"hi from /hello"
    http = f"{server.endpoint}/_aws/execute-api/{out['HttpApi']}/anything"
    with urllib.request.urlopen(http) as answer:
        assert answer.read() == b"hi from /anything"
    # A code-only update: new code under a new key, the functions updated in place.
    s3.put_object(Bucket=code, Key="api2.zip", Body=python_zip(API_HANDLER.replace("hi", "bye")))
    cf.update_stack(
        StackName=stack_name,
        TemplateBody=SAM_API,
        Capabilities=capabilities,
        Parameters=[
            {"ParameterKey": "CodeBucket", "UsePreviousValue": True},
            {"ParameterKey": "CodeKey", "ParameterValue": "api2.zip"},
        ],
    )
    cf.get_waiter("stack_update_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    with urllib.request.urlopen(rest) as answer:
        assert answer.read() == b"bye from /hello"
    events = cf.describe_stack_events(StackName=stack_name)["StackEvents"]
    marks = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in events]
    update = events[: marks.index((stack_name, "UPDATE_IN_PROGRESS"))]
    # Only the functions changed: the APIs, roles and permissions were left alone.
    assert {e["LogicalResourceId"] for e in update} == {stack_name, "Rest", "Http"}
    cf.delete_stack(StackName=stack_name)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack_name, WaiterConfig=WAIT)


FOREACH = """
Transform: AWS::LanguageExtensions
Parameters:
  Names:
    Type: CommaDelimitedList
    Default: "orders,pay-ments"
Resources:
  Fn::ForEach::Queues:
    - Name
    - !Ref Names
    - "Queue&{Name}":
        Type: AWS::SQS::Queue
        Properties:
          QueueName: !Sub "${AWS::StackName}-${Name}"
Outputs:
  Fn::ForEach::Urls:
    - Name
    - [orders, payments]
    - "Url${Name}":
        Value: !Ref
          Fn::Sub: "Queue${Name}"
  Count:
    Value: !Length [a, b, c]
"""


def test_language_extensions_foreach(server: Server) -> None:
    cf, sqs = server.client("cloudformation"), server.client("sqs")
    stack_name = name()
    stack = create(cf, stack_name, FOREACH, Capabilities=["CAPABILITY_AUTO_EXPAND"])
    out = outputs(stack)
    assert out["Urlorders"].endswith(f"/{stack_name}-orders")
    assert out["Urlpayments"].endswith(f"/{stack_name}-pay-ments")
    assert out["Count"] == "3"
    resources = cf.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    assert sorted(r["LogicalResourceId"] for r in resources) == ["Queueorders", "Queuepayments"]
    assert len(queue_names(sqs, stack_name)) == 2
