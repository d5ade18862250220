"""CloudFormation stacks against a live server: create, describe, events, exports, delete,
bad templates with CloudFormation's messages, and accounts as walls."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.conftest import Server

OTHER = "222233334444"
WAIT = {"Delay": 0.2, "MaxAttempts": 300}

QUEUE_TOPIC = """
AWSTemplateFormatVersion: 2010-09-09
Description: a queue subscribed to a topic
Parameters:
  Suffix:
    Type: String
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 45
      Tags:
        - Key: team
          Value: blue
  Topic:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub "topic-${Suffix}"
  Subscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref Topic
      Protocol: sqs
      Endpoint: !GetAtt Queue.Arn
      RawMessageDelivery: true
Outputs:
  QueueUrl:
    Value: !Ref Queue
    Export:
      Name: !Sub "${AWS::StackName}-queue"
  TopicName:
    Description: the topic
    Value: !GetAtt [Topic, TopicName]
"""


def name() -> str:
    return f"s{uuid.uuid4().hex[:10]}"


def error_of(caught: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response: dict[str, Any] = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def create(cf: Any, stack: str, body: str, **kwargs: Any) -> dict[str, Any]:
    cf.create_stack(StackName=stack, TemplateBody=body, **kwargs)
    cf.get_waiter("stack_create_complete").wait(StackName=stack, WaiterConfig=WAIT)
    found: dict[str, Any] = cf.describe_stacks(StackName=stack)["Stacks"][0]
    return found


def outputs(stack: dict[str, Any]) -> dict[str, str]:
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def test_a_queue_topic_and_subscription_stack(server: Server) -> None:
    cf, sqs, sns = server.client("cloudformation"), server.client("sqs"), server.client("sns")
    stack_name, suffix = name(), uuid.uuid4().hex[:6]
    stack = create(
        cf,
        stack_name,
        QUEUE_TOPIC,
        Parameters=[{"ParameterKey": "Suffix", "ParameterValue": suffix}],
        Tags=[{"Key": "env", "Value": "test"}],
    )
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack["StackId"].startswith(
        f"arn:aws:cloudformation:us-east-1:000000000000:stack/{stack_name}/"
    )
    assert stack["Description"] == "a queue subscribed to a topic"
    assert stack["Tags"] == [{"Key": "env", "Value": "test"}]
    out = outputs(stack)
    queue_url = out["QueueUrl"]
    assert out["TopicName"] == f"topic-{suffix}"
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "45"
    tags = sqs.list_queue_tags(QueueUrl=queue_url)["Tags"]
    assert tags["team"] == "blue" and tags["env"] == "test"
    assert not [k for k in tags if k.startswith("aws:")]  # as moto's AWS-verified test shows
    # The subscription delivers: publish to the topic, read the queue.
    topic_arn = cf.describe_stack_resource(StackName=stack_name, LogicalResourceId="Topic")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    sqs.set_queue_attributes(
        QueueUrl=queue_url,
        Attributes={
            "Policy": json.dumps(
                {
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": "*",
                            "Action": "sqs:SendMessage",
                            "Resource": attributes["QueueArn"],
                        }
                    ]
                }
            )
        },
    )
    sns.publish(TopicArn=topic_arn, Message="hello")
    received = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=5)["Messages"]
    assert received[0]["Body"] == "hello"

    resources = cf.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    assert {r["LogicalResourceId"]: r["ResourceStatus"] for r in resources} == {
        "Queue": "CREATE_COMPLETE",
        "Topic": "CREATE_COMPLETE",
        "Subscription": "CREATE_COMPLETE",
    }
    described = cf.describe_stack_resources(StackName=stack_name)["StackResources"]
    assert {r["ResourceType"] for r in described} == {
        "AWS::SQS::Queue",
        "AWS::SNS::Topic",
        "AWS::SNS::Subscription",
    }
    events = cf.describe_stack_events(StackName=stack_name)["StackEvents"]
    assert events[0]["LogicalResourceId"] == stack_name
    assert events[0]["ResourceStatus"] == "CREATE_COMPLETE"
    assert events[-1]["ResourceStatus"] == "CREATE_IN_PROGRESS"
    assert events[-1]["ResourceStatusReason"] == "User Initiated"
    queue_events = [e["ResourceStatus"] for e in events if e["LogicalResourceId"] == "Queue"]
    assert queue_events == ["CREATE_COMPLETE", "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS"]
    # The subscription waited for the queue and the topic.
    order = [
        e["LogicalResourceId"] for e in reversed(events) if e["ResourceStatus"] == "CREATE_COMPLETE"
    ]
    assert order.index("Subscription") > max(order.index("Queue"), order.index("Topic"))

    exports = {e["Name"]: e for e in cf.list_exports()["Exports"]}
    assert exports[f"{stack_name}-queue"]["Value"] == queue_url
    assert cf.get_template(StackName=stack_name)["TemplateBody"] == QUEUE_TOPIC
    summaries = cf.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])["StackSummaries"]
    assert stack_name in [s["StackName"] for s in summaries]

    cf.delete_stack(StackName=stack_name)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    with pytest.raises(ClientError) as caught:
        sqs.get_queue_attributes(QueueUrl=queue_url)
    assert "NonExistentQueue" in str(caught.value) or "QueueDoesNotExist" in str(caught.value)
    assert topic_arn not in [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    deleted = cf.describe_stacks(StackName=stack["StackId"])["Stacks"][0]
    assert deleted["StackStatus"] == "DELETE_COMPLETE"
    assert f"{stack_name}-queue" not in [e["Name"] for e in cf.list_exports()["Exports"]]


def test_a_missing_stack_is_a_validation_error(server: Server) -> None:
    cf = server.client("cloudformation")
    with pytest.raises(ClientError) as caught:
        cf.describe_stacks(StackName="nope")
    assert error_of(caught) == ("ValidationError", "Stack with id nope does not exist", 400)
    with pytest.raises(ClientError) as caught:
        cf.describe_stack_events(StackName="nope")
    assert error_of(caught)[1] == "Stack with id nope does not exist"
    cf.delete_stack(StackName="nope")  # deleting what is not there succeeds, as on AWS
    cf.get_waiter("stack_delete_complete").wait(StackName="nope", WaiterConfig=WAIT)
    with pytest.raises(WaiterError):
        cf.get_waiter("stack_create_complete").wait(StackName="nope", WaiterConfig=WAIT)


HANDLE = "  Handle:\n    Type: AWS::CloudFormation::WaitConditionHandle\n"
BAD_TEMPLATES = [
    ("Resources:\n  A: [\n", "Template format error: YAML not well-formed. (line 3, column 1)"),
    ('{"Resources": {"A": }', "Template format error: JSON not well-formed. (line 1, column 21)"),
    (
        "Resources:\n  Q:\n    Type: AWS::SQS::Queue\n    Properties:\n"
        "      QueueName: {'Fn::Nope': x}\n",
        "Template error: Encountered unsupported function: Fn::Nope Supported functions are: [",
    ),
    (
        "Resources:\n  A:\n    Type: AWS::SQS::Queue\n    Properties:\n"
        "      QueueName: !GetAtt B.QueueName\n"
        "  B:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !GetAtt A.QueueName\n",
        "Circular dependency between resources: [A, B]",
    ),
    (
        "Resources:\n  A:\n    Type: AWS::SQS::Queue\n    Properties:\n      QueueName: !Ref Nope\n",
        "Template format error: Unresolved resource dependencies [Nope] in the Resources block "
        "of the template",
    ),
    (
        "Parameters:\n  P:\n    Type: String\n  R:\n    Type: Number\n" + "Resources:\n" + HANDLE,
        "Parameters: [P, R] must have values",
    ),
    (
        "Resources:\n  X:\n    Type: AWS::Nope::Thing\n" + HANDLE,
        "Template format error: Unrecognized resource types: [AWS::Nope::Thing]",
    ),
    ("Outputs: {}\n", "Template format error: At least one Resources member must be defined."),
    (
        "Resources:\n  A: &a\n    Type: AWS::CloudFormation::WaitConditionHandle\n  B: *a\n",
        "Template format error: YAML aliases are not allowed in CloudFormation templates",
    ),
    (
        '{"Resources": {"H": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}, "Metadata": '
        + "[" * 70
        + "]" * 70
        + "}",
        "Template format error: the template is nested too deeply",
    ),
    (
        json.dumps(
            {
                "Resources": {
                    f"H{i}": {"Type": "AWS::CloudFormation::WaitConditionHandle"}
                    for i in range(501)
                }
            }
        ),
        "Template format error: Number of resources, 501, is greater than maximum allowed, 500",
    ),
    (
        "Resources:\n" + HANDLE + "Bogus: 1\n",
        "Template format error: Invalid template property or properties [Bogus]",
    ),
    (
        "Transform: AWS::Serverless-2016-10-31\nResources:\n" + HANDLE,
        "Requires capabilities : [CAPABILITY_AUTO_EXPAND]",
    ),
]


def test_a_lacking_type_fails_only_where_it_would_be_made(server: Server) -> None:
    cf = server.client("cloudformation")
    template = (
        "Parameters:\n  Make:\n    Type: String\n    Default: 'no'\n"
        "Conditions:\n  Wanted: !Equals [!Ref Make, 'yes']\n"
        "Resources:\n  X:\n    Type: AWS::Nope::Thing\n    Condition: Wanted\n" + HANDLE
    )
    stack_name = name()
    cf.create_stack(StackName=stack_name, TemplateBody=template)  # cdk bootstrap's KMS key
    cf.get_waiter("stack_create_complete").wait(
        StackName=stack_name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )
    with pytest.raises(ClientError) as caught:
        cf.update_stack(
            StackName=stack_name,
            TemplateBody=template,
            Parameters=[{"ParameterKey": "Make", "ParameterValue": "yes"}],
        )
    assert error_of(caught)[1] == (
        "Template format error: Unrecognized resource types: [AWS::Nope::Thing]"
    )
    cf.delete_stack(StackName=stack_name)


@pytest.mark.parametrize(("body", "message"), BAD_TEMPLATES)
def test_bad_templates_get_cloudformations_messages(
    server: Server, body: str, message: str
) -> None:
    cf = server.client("cloudformation")
    stack_name = name()
    with pytest.raises(ClientError) as caught:
        cf.create_stack(StackName=stack_name, TemplateBody=body)
    code, text, status = error_of(caught)
    assert text.startswith(message), text
    assert status == 400
    assert code in ("ValidationError", "InsufficientCapabilitiesException")
    if code == "ValidationError" and "capabilities" not in message:
        with pytest.raises(ClientError) as again:
            cf.validate_template(TemplateBody=body) if "Parameters" not in message else (
                cf.create_change_set(
                    StackName=stack_name,
                    ChangeSetName="c",
                    TemplateBody=body,
                    ChangeSetType="CREATE",
                )
            )
        assert error_of(again)[1].startswith(message)
    with pytest.raises(ClientError):
        cf.describe_stacks(StackName=stack_name)  # nothing was made


def test_a_template_over_51200_bytes_is_refused(server: Server) -> None:
    cf = server.client("cloudformation")
    body = "Description: " + "x" * 52_000 + "\nResources:\n" + HANDLE
    with pytest.raises(ClientError) as caught:
        cf.validate_template(TemplateBody=body)
    assert "51200" in error_of(caught)[1]


def test_validate_template_and_summary(server: Server) -> None:
    cf = server.client("cloudformation")
    body = QUEUE_TOPIC.replace("Type: String", "Type: String\n    Default: x\n    NoEcho: true")
    validated = cf.validate_template(TemplateBody=body)
    assert validated["Description"] == "a queue subscribed to a topic"
    assert validated["Parameters"] == [
        {"ParameterKey": "Suffix", "DefaultValue": "x", "NoEcho": True}
    ]
    summary = cf.get_template_summary(TemplateBody=body)
    assert summary["ResourceTypes"] == [
        "AWS::SNS::Subscription", "AWS::SNS::Topic", "AWS::SQS::Queue"
    ]  # fmt: skip
    assert summary["Parameters"][0]["ParameterType"] == "String"
    assert summary["Version"] == "2010-09-09"


def test_two_accounts_do_not_see_each_others_stacks_or_exports(server: Server) -> None:
    cf = server.client("cloudformation")
    other = server.client("cloudformation", aws_access_key_id=OTHER)
    stack_name = name()
    body = (
        "Resources:\n" + HANDLE + "Outputs:\n  H:\n    Value: !Ref Handle\n"
        f"    Export:\n      Name: {stack_name}-handle\n"
    )
    stack = create(cf, stack_name, body)
    with pytest.raises(ClientError) as caught:
        other.describe_stacks(StackName=stack_name)
    assert error_of(caught)[1] == f"Stack with id {stack_name} does not exist"
    with pytest.raises(ClientError):
        other.describe_stacks(StackName=stack["StackId"])
    assert stack_name not in [s["StackName"] for s in other.list_stacks()["StackSummaries"]]
    assert f"{stack_name}-handle" not in [e["Name"] for e in other.list_exports()["Exports"]]
    other.delete_stack(StackName=stack_name)  # not theirs: nothing happens
    importer = (
        "Resources:\n" + HANDLE + f"Outputs:\n  Got:\n    Value: !ImportValue {stack_name}-handle\n"
    )
    with pytest.raises(ClientError) as caught:
        other.create_stack(StackName=stack_name, TemplateBody=importer)
    assert error_of(caught)[1] == f"No export named {stack_name}-handle found."
    assert cf.describe_stacks(StackName=stack_name)["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"


def test_an_export_in_use_cannot_be_deleted(server: Server) -> None:
    cf = server.client("cloudformation")
    exporter, importer = name(), name()
    export_name = f"{exporter}-handle"
    create(
        cf,
        exporter,
        "Resources:\n" + HANDLE + "Outputs:\n  H:\n    Value: !Ref Handle\n"
        f"    Export:\n      Name: {export_name}\n",
    )
    made = create(
        cf,
        importer,
        "Resources:\n" + HANDLE + f"Outputs:\n  Got:\n    Value: !ImportValue {export_name}\n",
    )
    exported = cf.list_exports()["Exports"]
    value = next(e["Value"] for e in exported if e["Name"] == export_name)
    assert outputs(made)["Got"] == value
    assert cf.list_imports(ExportName=export_name)["Imports"] == [importer]
    # Nor changed: the update rolls back with CloudFormation's reason.
    changed = (
        "Resources:\n" + HANDLE + "Outputs:\n  H:\n    Value: other\n"
        f"    Export:\n      Name: {export_name}\n"
    )
    cf.update_stack(StackName=exporter, TemplateBody=changed)
    cf.get_waiter("stack_rollback_complete").wait(StackName=exporter, WaiterConfig=WAIT)
    events = cf.describe_stack_events(StackName=exporter)["StackEvents"]
    rolling = next(e for e in events if e["ResourceStatus"] == "UPDATE_ROLLBACK_IN_PROGRESS")
    assert rolling["ResourceStatusReason"] == (
        f"Cannot update export {export_name} as it is in use by {importer}"
    )
    assert outputs(cf.describe_stacks(StackName=exporter)["Stacks"][0])["H"] == value
    cf.delete_stack(StackName=exporter)
    with pytest.raises(WaiterError):
        cf.get_waiter("stack_delete_complete").wait(StackName=exporter, WaiterConfig=WAIT)
    stack = cf.describe_stacks(StackName=exporter)["Stacks"][0]
    assert stack["StackStatus"] == "DELETE_FAILED"
    assert stack["StackStatusReason"] == (
        f"Export {export_name} cannot be deleted as it is in use by {importer}"
    )
    cf.delete_stack(StackName=importer)
    cf.get_waiter("stack_delete_complete").wait(StackName=importer, WaiterConfig=WAIT)
    with pytest.raises(ClientError) as caught:
        cf.list_imports(ExportName=export_name)
    assert error_of(caught)[1] == f"Export '{export_name}' is not imported by any stack."
    cf.delete_stack(StackName=exporter)
    cf.get_waiter("stack_delete_complete").wait(StackName=exporter, WaiterConfig=WAIT)


def test_termination_protection(server: Server) -> None:
    cf = server.client("cloudformation")
    stack_name = name()
    create(cf, stack_name, "Resources:\n" + HANDLE, EnableTerminationProtection=True)
    with pytest.raises(ClientError) as caught:
        cf.delete_stack(StackName=stack_name)
    assert error_of(caught)[1] == (
        f"Stack [{stack_name}] cannot be deleted while TerminationProtection is enabled"
    )
    cf.update_termination_protection(StackName=stack_name, EnableTerminationProtection=False)
    cf.delete_stack(StackName=stack_name)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack_name, WaiterConfig=WAIT)


def test_a_stack_name_is_taken_until_deleted(server: Server) -> None:
    cf = server.client("cloudformation")
    stack_name = name()
    create(cf, stack_name, "Resources:\n" + HANDLE)
    with pytest.raises(ClientError) as caught:
        cf.create_stack(StackName=stack_name, TemplateBody="Resources:\n" + HANDLE)
    assert error_of(caught) == (
        "AlreadyExistsException",
        f"Stack [{stack_name}] already exists",
        400,
    )
    with pytest.raises(ClientError) as caught:
        cf.create_stack(StackName="1bad_name", TemplateBody="Resources:\n" + HANDLE)
    assert "failed to satisfy constraint" in error_of(caught)[1]


def test_list_stacks_pages(server: Server) -> None:
    cf = server.client("cloudformation", region_name="eu-west-1")
    made = {name() for _ in range(3)}
    for stack_name in made:
        cf.create_stack(StackName=stack_name, TemplateBody="Resources:\n" + HANDLE)
    seen: list[str] = []
    for page in cf.get_paginator("list_stacks").paginate():
        seen += [s["StackName"] for s in page["StackSummaries"]]
    assert made <= set(seen)
    assert len(seen) == len(set(seen))
    with pytest.raises(ClientError) as caught:
        cf.list_stacks(NextToken="garbage")
    assert error_of(caught)[0] == "ValidationError"


def test_stack_events_go_to_notification_topics(server: Server) -> None:
    cf, sqs, sns = server.client("cloudformation"), server.client("sqs"), server.client("sns")
    topic = sns.create_topic(Name=name())["TopicArn"]
    queue = sqs.create_queue(QueueName=name())["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    policy = {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage",
                             "Resource": queue_arn}]}  # fmt: skip
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": json.dumps(policy)})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                  Attributes={"RawMessageDelivery": "true"})  # fmt: skip
    stack_name = name()
    create(cf, stack_name, "Resources:\n" + HANDLE, NotificationARNs=[topic])
    statuses: list[tuple[str, str]] = []
    while (stack_name, "CREATE_COMPLETE") not in statuses:
        found = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5, MaxNumberOfMessages=10)
        assert found.get("Messages"), statuses
        for message in found["Messages"]:
            fields = dict(line.split("=", 1) for line in message["Body"].strip().split("\n"))
            statuses.append((fields["LogicalResourceId"].strip("'"),
                             fields["ResourceStatus"].strip("'")))  # fmt: skip
            assert fields["StackName"] == f"'{stack_name}'"
    assert ("Handle", "CREATE_COMPLETE") in statuses


def test_stack_events_page_without_repeats_while_the_stack_changes(server: Server) -> None:
    cf = server.client("cloudformation")
    stack_name = name()
    handles = {f"H{i}": {"Type": "AWS::CloudFormation::WaitConditionHandle"} for i in range(50)}
    create(cf, stack_name, json.dumps({"Resources": handles}))
    first = cf.describe_stack_events(StackName=stack_name)
    assert len(first["StackEvents"]) == 100 and "NextToken" in first
    handles["Extra"] = {"Type": "AWS::CloudFormation::WaitConditionHandle"}
    cf.update_stack(StackName=stack_name, TemplateBody=json.dumps({"Resources": handles}))
    cf.get_waiter("stack_update_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    seen = [e["EventId"] for e in first["StackEvents"]]
    token = first["NextToken"]
    while token:
        page = cf.describe_stack_events(StackName=stack_name, NextToken=token)
        seen += [e["EventId"] for e in page["StackEvents"]]
        token = page.get("NextToken")
    assert len(seen) == len(set(seen)) == 2 + 50 * 3  # the create's, none of the update's
    everything = [
        e["EventId"]
        for page in cf.get_paginator("describe_stack_events").paginate(StackName=stack_name)
        for e in page["StackEvents"]
    ]
    assert len(everything) == len(set(everything)) == 2 + 50 * 3 + 3 + 3
