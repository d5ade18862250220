"""Custom resources backed by Lambda, with the response-URL protocol, against a live
server: the function gets Create, Update and Delete, answers by PUT, and its Data is
what `Fn::GetAtt` reads."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import WaiterError

from tests.conftest import FunctionFactory, Server
from tests.test_cloudformation import WAIT, create, name, outputs

GREETER = """
import json, urllib.request
import boto3

def handler(event, context):
    props = event["ResourceProperties"]
    boto3.client("sqs").send_message(
        QueueUrl=props["Log"],
        MessageBody=event["RequestType"] + " " + event.get("PhysicalResourceId", "-"),
    )
    failing = props.get("Fail") == "yes" and event["RequestType"] != "Delete"
    answer = {
        "Status": "FAILED" if failing else "SUCCESS",
        "Reason": "asked to fail",
        "PhysicalResourceId": "thing-" + props["Name"],
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": {"Greeting": "hello " + props["Name"], "Type": event["ResourceType"],
                 "Count": props["Count"], "Scheme": event["ResponseURL"].split(":")[0]},
    }
    request = urllib.request.Request(
        event["ResponseURL"], data=json.dumps(answer).encode(), method="PUT",
        headers={"Content-Type": ""},
    )
    urllib.request.urlopen(request).read()
"""

TEMPLATE = """
Parameters:
  Token:
    Type: String
  Name:
    Type: String
  Fail:
    Type: String
    Default: "no"
  Log:
    Type: String
Resources:
  Thing:
    Type: Custom::Greeter
    Properties:
      ServiceToken: !Ref Token
      Name: !Ref Name
      Count: 3
      Fail: !Ref Fail
      Log: !Ref Log
Outputs:
  Greeting:
    Value: !GetAtt Thing.Greeting
  Type:
    Value: !GetAtt Thing.Type
  Count:
    Value: !GetAtt Thing.Count
  Id:
    Value: !Ref Thing
  Scheme:
    Value: !GetAtt Thing.Scheme
"""


def drain(sqs: Any, url: str, count: int) -> list[str]:
    seen: list[str] = []
    while len(seen) < count:
        found = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10, MaxNumberOfMessages=10)
        messages = found.get("Messages", [])
        assert messages, seen
        for message in messages:
            seen.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return seen


def test_a_lambda_backed_custom_resource(server: Server, make_function: FunctionFactory) -> None:
    cf, sqs, lam = server.client("cloudformation"), server.client("sqs"), server.client()
    function = make_function(GREETER, Timeout=30)
    arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    log = sqs.create_queue(QueueName=name())["QueueUrl"]
    stack_name = name()

    def parameters(**values: str) -> list[dict[str, str]]:
        values = {"Token": arn, "Log": log, **values}
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]

    stack = create(cf, stack_name, TEMPLATE, Parameters=parameters(Name="a"))
    # Functions in a sandbox with its own network answer over https to an S3 URL, as on
    # AWS (CDK's provider framework speaks only https); on the host's network, to Fireside.
    private = server.health()["sandbox"] != "process"
    assert outputs(stack) == {
        "Greeting": "hello a",
        "Type": "Custom::Greeter",
        "Count": "3",  # properties reach the function as strings
        "Id": "thing-a",
        "Scheme": "https" if private else "http",
    }
    assert drain(sqs, log, 1) == ["Create -"]

    # A new physical id from an update: the old one is deleted in the cleanup.
    cf.update_stack(StackName=stack_name, TemplateBody=TEMPLATE, Parameters=parameters(Name="b"))
    cf.get_waiter("stack_update_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    assert outputs(cf.describe_stacks(StackName=stack_name)["Stacks"][0])["Id"] == "thing-b"
    assert drain(sqs, log, 2) == ["Update thing-a", "Delete thing-a"]

    # A FAILED answer fails the update with the function's reason, and rolls back.
    cf.update_stack(
        StackName=stack_name, TemplateBody=TEMPLATE, Parameters=parameters(Name="b", Fail="yes")
    )
    with pytest.raises(WaiterError):
        cf.get_waiter("stack_update_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    cf.get_waiter("stack_rollback_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    events = cf.describe_stack_events(StackName=stack_name)["StackEvents"]
    failed = next(e for e in events if e["ResourceStatus"] == "UPDATE_FAILED")
    assert failed["ResourceStatusReason"].startswith(
        "Received response status [FAILED] from custom resource. Message returned: asked to fail"
    )
    assert drain(sqs, log, 2) == ["Update thing-b", "Update thing-b"]  # the change, the undo

    cf.delete_stack(StackName=stack_name)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    assert drain(sqs, log, 1) == ["Delete thing-b"]


def test_a_response_url_takes_one_answer_and_only_with_its_token(server: Server) -> None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"{server.endpoint}/_fireside/cloudformation/responses/not-a-token",
        data=b'{"Status": "SUCCESS"}',
        method="PUT",
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request)
    caught.value.close()
    assert caught.value.code == 403


SILENT = "def handler(event, context):\n    return None\n"


def test_a_custom_resource_that_never_answers_fails_after_the_timeout(fresh_server: Any) -> None:
    from tests.conftest import ROLE, python_zip

    srv = fresh_server(FIRESIDE_CFN_CUSTOM_RESOURCE_TIMEOUT="1")
    cf, lam = srv.client("cloudformation"), srv.client()
    arn = lam.create_function(
        FunctionName="silent", Runtime="python3.11", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": python_zip(SILENT)},
    )["FunctionArn"]  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName="silent")
    body = f"Resources:\n  Thing:\n    Type: Custom::Silent\n    Properties:\n      ServiceToken: {arn}\n"
    cf.create_stack(StackName="silent", TemplateBody=body)
    with pytest.raises(WaiterError):
        cf.get_waiter("stack_create_complete").wait(StackName="silent", WaiterConfig=WAIT)
    assert cf.describe_stacks(StackName="silent")["Stacks"][0]["StackStatus"] == (
        "ROLLBACK_COMPLETE"
    )
    events = cf.describe_stack_events(StackName="silent")["StackEvents"]
    failed = next(e for e in events if e["ResourceStatus"] == "CREATE_FAILED")
    assert failed["ResourceStatusReason"] == (
        "CloudFormation did not receive a response from your Custom Resource. Please check "
        "your Custom Resource and try again."
    )


def test_another_accounts_function_is_not_invoked_without_its_permission(
    server: Server, make_function: FunctionFactory
) -> None:
    lam = server.client()
    function = make_function(SILENT)
    arn = lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"]
    other = server.client("cloudformation", aws_access_key_id="222233334444")
    stack_name = name()
    body = (
        f"Resources:\n  Thing:\n    Type: Custom::X\n    Properties:\n      ServiceToken: {arn}\n"
    )
    other.create_stack(StackName=stack_name, TemplateBody=body)
    with pytest.raises(WaiterError):
        other.get_waiter("stack_create_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    events = other.describe_stack_events(StackName=stack_name)["StackEvents"]
    failed = next(e for e in events if e["ResourceStatus"] == "CREATE_FAILED")
    assert failed["ResourceStatusReason"].startswith(
        f"Failed to invoke the custom resource's service token {arn}: "
    ), failed


def test_service_timeout_bounds_the_wait(server: Server, make_function: FunctionFactory) -> None:
    cf, lam = server.client("cloudformation"), server.client()
    arn = lam.get_function(FunctionName=make_function(SILENT))["Configuration"]["FunctionArn"]
    stack_name = name()
    body = (
        "Resources:\n  Thing:\n    Type: AWS::CloudFormation::CustomResource\n"
        f"    Properties:\n      ServiceToken: {arn}\n      ServiceTimeout: 1\n"
    )
    cf.create_stack(StackName=stack_name, TemplateBody=body)
    with pytest.raises(WaiterError):
        cf.get_waiter("stack_create_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    events = cf.describe_stack_events(StackName=stack_name)["StackEvents"]
    failed = next(e for e in events if e["ResourceStatus"] == "CREATE_FAILED")
    assert failed["ResourceStatusReason"].startswith("CloudFormation did not receive a response")


def test_timeout_in_minutes_cancels_the_create(fresh_server: Any) -> None:
    from tests.conftest import ROLE, python_zip

    # A minute of TimeoutInMinutes lasts 3 s here (`cfn_minute`); the custom resource, an hour.
    srv = fresh_server(FIRESIDE_CFN_MINUTE="3")
    cf, lam = srv.client("cloudformation"), srv.client()
    arn = lam.create_function(
        FunctionName="silent", Runtime="python3.11", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": python_zip(SILENT)},
    )["FunctionArn"]  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName="silent")
    stack_name = name()
    body = f"Resources:\n  Thing:\n    Type: Custom::Slow\n    Properties:\n      ServiceToken: {arn}\n"
    started = time.monotonic()
    cf.create_stack(StackName=stack_name, TemplateBody=body, TimeoutInMinutes=1)
    with pytest.raises(WaiterError):
        cf.get_waiter("stack_create_complete").wait(
            StackName=stack_name, WaiterConfig={"Delay": 1, "MaxAttempts": 100}
        )
    assert 3 <= time.monotonic() - started < 30
    events = cf.describe_stack_events(StackName=stack_name)["StackEvents"]
    shown = {
        (e["LogicalResourceId"], e["ResourceStatus"]): e.get("ResourceStatusReason") for e in events
    }
    assert shown[("Thing", "CREATE_FAILED")] == "Resource creation cancelled"
    assert shown[(stack_name, "ROLLBACK_IN_PROGRESS")] == (
        "Stack creation time exceeded the specified timeout. Rollback requested by user."
    )
    assert events[0]["ResourceStatus"] == "ROLLBACK_COMPLETE"
