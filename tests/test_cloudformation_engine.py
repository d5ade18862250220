"""The stack engine against a live server: intrinsics, parameters, conditions, rules,
updates in place and by replacement, and rollbacks that leave nothing behind."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, WaiterError

from tests.conftest import Server
from tests.test_cloudformation import HANDLE, WAIT, create, error_of, name, outputs

FUNCTIONS = """
Parameters:
  Env:
    Type: String
    AllowedValues: [dev, prod]
  Sizes:
    Type: List<Number>
    Default: "1,2,3"
  Names:
    Type: CommaDelimitedList
    Default: "a,b"
  Secret:
    Type: String
    NoEcho: true
    AllowedPattern: "[a-z0-9]+"
    MinLength: 3
    MaxLength: 8
  Count:
    Type: Number
    MinValue: 1
    MaxValue: 5
    Default: 2
Mappings:
  Sizes:
    dev: {Memory: 128}
    prod: {Memory: 1024}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  IsDev: !Not [!Condition IsProd]
  Both: !And [!Condition IsDev, !Equals ["2", !Ref Count]]
  Either: !Or [!Condition IsProd, !Condition Both]
Rules:
  CountCheck:
    Assertions:
      - Assert: !Contains [[dev, prod], !Ref Env]
        AssertDescription: Env must be dev or prod
Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
  ProdOnly:
    Type: AWS::SQS::Queue
    Condition: IsProd
Outputs:
  Memory:
    Value: !FindInMap [Sizes, !Ref Env, Memory]
  Joined:
    Value: !Join ["-", [!Ref "AWS::Region", !Ref "AWS::AccountId", !Select [1, !Ref Names]]]
  Split:
    Value: !Select [2, !Split [",", "x,y,z"]]
  Sizes:
    Value: !Join [":", !Ref Sizes]
  Azs:
    Value: !Join [",", !GetAZs ""]
  B64:
    Value: !Base64 hello
  If:
    Value: !If [IsProd, big, small]
  Literal:
    Value: !Sub "${!NotAVar}-${AWS::StackName}-${Env}"
  SubMap:
    Value: !Sub ["${X}/${AWS::Partition}/${AWS::URLSuffix}", {X: !Ref Count}]
  Cidr:
    Value: !Select [1, !Cidr ["10.0.0.0/16", 3, 8]]
  StackId:
    Value: !Ref AWS::StackId
  Either:
    Value: !If [Either, "yes", "no"]
  ProdQueue:
    Condition: IsProd
    Value: !Ref ProdOnly
"""


def test_intrinsics_parameters_conditions_and_mappings(server: Server) -> None:
    cf = server.client("cloudformation")
    stack_name = name()
    stack = create(
        cf,
        stack_name,
        FUNCTIONS,
        Parameters=[
            {"ParameterKey": "Env", "ParameterValue": "dev"},
            {"ParameterKey": "Secret", "ParameterValue": "hunter2"},
        ],
    )
    out = outputs(stack)
    assert out["Memory"] == "128"
    assert out["Joined"] == "us-east-1-000000000000-b"
    assert out["Split"] == "z"
    assert out["Sizes"] == "1:2:3"
    # the zones EC2's DescribeAvailabilityZones answers (us-east-1 has six, as on AWS)
    assert out["Azs"] == ",".join(f"us-east-1{c}" for c in "abcdef")
    assert base64.b64decode(out["B64"]) == b"hello"
    assert out["If"] == "small"
    assert out["Literal"] == f"${{NotAVar}}-{stack_name}-dev"
    assert out["SubMap"] == "2/aws/amazonaws.com"
    assert out["Cidr"] == "10.0.1.0/24"
    assert out["StackId"] == stack["StackId"]
    assert out["Either"] == "yes"
    assert "ProdQueue" not in out
    resources = cf.list_stack_resources(StackName=stack_name)["StackResourceSummaries"]
    assert [r["LogicalResourceId"] for r in resources] == ["Handle"]
    shown = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert shown["Secret"] == "****"
    assert shown["Env"] == "dev" and shown["Count"] == "2"

    # UsePreviousValue keeps a value; a changed condition adds the queue.
    cf.update_stack(
        StackName=stack_name,
        UsePreviousTemplate=True,
        Parameters=[
            {"ParameterKey": "Env", "ParameterValue": "prod"},
            {"ParameterKey": "Secret", "UsePreviousValue": True},
        ],
    )
    cf.get_waiter("stack_update_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    out = outputs(cf.describe_stacks(StackName=stack_name)["Stacks"][0])
    assert out["Memory"] == "1024" and out["If"] == "big"
    assert out["ProdQueue"].startswith(server.endpoint)
    cf.delete_stack(StackName=stack_name)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack_name, WaiterConfig=WAIT)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ([("Env", "qa"), ("Secret", "xyz")], "Parameter 'Env' must be one of AllowedValues"),
        (
            [("Env", "dev"), ("Secret", "xyz"), ("Count", "9")],
            "Parameter 'Count' must be a number not greater than 5",
        ),
        (
            [("Env", "dev"), ("Secret", "xyz"), ("Count", "two")],
            "Parameter 'Count' must be a number",
        ),
        ([("Env", "dev")], "Parameters: [Secret] must have values"),
        (
            [("Env", "dev"), ("Secret", "xyz"), ("Nope", "1")],
            "Parameters: [Nope] do not exist in the template",
        ),
        (
            [("Env", "dev"), ("Secret", "xyz"), ("Count", "0")],
            "Parameter 'Count' must be a number not less than 1",
        ),
    ],
)
def test_bad_parameters(server: Server, parameters: list[tuple[str, str]], message: str) -> None:
    cf = server.client("cloudformation")
    with pytest.raises(ClientError) as caught:
        cf.create_stack(
            StackName=name(),
            TemplateBody=FUNCTIONS,
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters],
        )
    assert error_of(caught)[:2] == ("ValidationError", message)


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("UPPER", "Parameter 'Secret' must match pattern [a-z0-9]+"),
        ("ab", "Parameter 'Secret' must contain at least 3 characters"),
        ("abcdefghij", "Parameter 'Secret' must contain at most 8 characters"),
    ],
)
def test_string_parameter_constraints(server: Server, secret: str, message: str) -> None:
    cf = server.client("cloudformation")
    with pytest.raises(ClientError) as caught:
        cf.create_stack(
            StackName=name(),
            TemplateBody=FUNCTIONS,
            Parameters=[
                {"ParameterKey": "Env", "ParameterValue": "dev"},
                {"ParameterKey": "Secret", "ParameterValue": secret},
            ],
        )
    assert error_of(caught)[:2] == ("ValidationError", message)


def test_a_failed_rule_assertion_refuses_the_stack(server: Server) -> None:
    cf = server.client("cloudformation")
    body = (
        "Parameters:\n  V:\n    Type: String\nRules:\n  R:\n    Assertions:\n"
        "      - Assert: !Contains [[a, b], !Ref V]\n        AssertDescription: V must be a or b\n"
        "Resources:\n" + HANDLE
    )
    with pytest.raises(ClientError) as caught:
        cf.create_stack(
            StackName=name(),
            TemplateBody=body,
            Parameters=[{"ParameterKey": "V", "ParameterValue": "c"}],
        )
    assert error_of(caught)[:2] == ("ValidationError", "V must be a or b")


def queue_names(sqs: Any, prefix: str) -> list[str]:
    return list(sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []))


def test_a_failing_resource_rolls_the_create_back(server: Server) -> None:
    cf, sqs = server.client("cloudformation"), server.client("sqs")
    stack_name = name()
    body = (
        "Resources:\n  Good:\n    Type: AWS::SQS::Queue\n  Other:\n    Type: AWS::SNS::Topic\n"
        "  Bad:\n    Type: AWS::SQS::Queue\n    DependsOn: [Good, Other]\n"
        "    Properties:\n      VisibilityTimeout: 999999\n"
    )
    cf.create_stack(StackName=stack_name, TemplateBody=body)
    with pytest.raises(WaiterError):
        cf.get_waiter("stack_create_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    stack = cf.describe_stacks(StackName=stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
    events = cf.describe_stack_events(StackName=stack_name)["StackEvents"]
    failed = next(e for e in events if e["ResourceStatus"] == "CREATE_FAILED")
    assert failed["LogicalResourceId"] == "Bad"
    assert failed["ResourceStatusReason"].startswith("Resource handler returned message: ")
    assert "VisibilityTimeout" in failed["ResourceStatusReason"]
    rolling = next(e for e in events if e["ResourceStatus"] == "ROLLBACK_IN_PROGRESS")
    assert rolling["ResourceStatusReason"] == (
        "The following resource(s) failed to create: [Bad]. Rollback requested by user."
    )
    statuses = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in events]
    assert ("Good", "DELETE_COMPLETE") in statuses and ("Other", "DELETE_COMPLETE") in statuses
    assert statuses[0] == (stack_name, "ROLLBACK_COMPLETE")
    assert queue_names(sqs, stack_name) == []
    topics = [t["TopicArn"] for t in server.client("sns").list_topics()["Topics"]]
    assert not [t for t in topics if stack_name in t]
    # A stack in ROLLBACK_COMPLETE can only be deleted.
    with pytest.raises(ClientError) as caught:
        cf.update_stack(StackName=stack_name, TemplateBody="Resources:\n" + HANDLE)
    assert "is in ROLLBACK_COMPLETE state and can not be updated." in error_of(caught)[1]
    with pytest.raises(ClientError) as caught:
        cf.create_change_set(StackName=stack_name, ChangeSetName="c", TemplateBody=body)
    assert "is in ROLLBACK_COMPLETE state and can not be updated." in error_of(caught)[1]
    cf.delete_stack(StackName=stack_name)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack_name, WaiterConfig=WAIT)


def test_on_failure_do_nothing_keeps_what_was_made(server: Server) -> None:
    cf, sqs = server.client("cloudformation"), server.client("sqs")
    stack_name = name()
    body = (
        "Resources:\n  Good:\n    Type: AWS::SQS::Queue\n"
        "  Bad:\n    Type: AWS::SQS::Queue\n    DependsOn: Good\n"
        "    Properties:\n      DelaySeconds: 5000\n"
    )
    cf.create_stack(StackName=stack_name, TemplateBody=body, OnFailure="DO_NOTHING")
    with pytest.raises(WaiterError):
        cf.get_waiter("stack_create_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    stack = cf.describe_stacks(StackName=stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_FAILED"
    assert len(queue_names(sqs, stack_name)) == 1
    cf.delete_stack(StackName=stack_name)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    assert queue_names(sqs, stack_name) == []


QUEUES = """
Parameters:
  Visibility:
    Type: Number
  Name:
    Type: String
Resources:
  Named:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Ref Name
      VisibilityTimeout: !Ref Visibility
  Watcher:
    Type: AWS::SQS::Queue
    Properties:
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt Named.Arn
        maxReceiveCount: 3
Outputs:
  Named:
    Value: !Ref Named
"""


def params(**values: str) -> list[dict[str, str]]:
    return [{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()]


def test_updates_in_place_by_replacement_and_no_updates(server: Server) -> None:
    cf, sqs = server.client("cloudformation"), server.client("sqs")
    stack_name = name()
    first = f"{stack_name}-a"
    stack = create(cf, stack_name, QUEUES, Parameters=params(Visibility="30", Name=first))
    url = outputs(stack)["Named"]
    watcher = cf.describe_stack_resource(StackName=stack_name, LogicalResourceId="Watcher")[
        "StackResourceDetail"
    ]["PhysicalResourceId"]

    with pytest.raises(ClientError) as caught:
        cf.update_stack(
            StackName=stack_name,
            TemplateBody=QUEUES,
            Parameters=params(Visibility="30", Name=first),
        )
    assert error_of(caught)[:2] == ("ValidationError", "No updates are to be performed.")

    # In place: the same queue, a new visibility timeout.
    cf.update_stack(
        StackName=stack_name, TemplateBody=QUEUES, Parameters=params(Visibility="60", Name=first)
    )
    cf.get_waiter("stack_update_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    assert outputs(cf.describe_stacks(StackName=stack_name)["Stacks"][0])["Named"] == url
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    assert got["Attributes"]["VisibilityTimeout"] == "60"

    # By replacement: a new name makes a new queue, the dependent is repointed, the old
    # queue is deleted in the cleanup.
    second = f"{stack_name}-b"
    cf.update_stack(
        StackName=stack_name, TemplateBody=QUEUES, Parameters=params(Visibility="60", Name=second)
    )
    cf.get_waiter("stack_update_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    new_url = outputs(cf.describe_stacks(StackName=stack_name)["Stacks"][0])["Named"]
    assert new_url.endswith(f"/{second}")
    assert queue_names(sqs, first) == []
    redrive = sqs.get_queue_attributes(QueueUrl=watcher, AttributeNames=["RedrivePolicy"])
    assert second in redrive["Attributes"]["RedrivePolicy"]
    events = cf.describe_stack_events(StackName=stack_name)["StackEvents"]
    statuses = [(e["LogicalResourceId"], e["ResourceStatus"]) for e in events]
    cleanup = statuses.index((stack_name, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"))
    assert statuses[0] == (stack_name, "UPDATE_COMPLETE")
    assert ("Named", "DELETE_COMPLETE") in statuses[:cleanup]
    replacing = next(
        e
        for e in events
        if e["ResourceStatus"] == "UPDATE_IN_PROGRESS"
        and e["LogicalResourceId"] == "Named"
        and e.get("ResourceStatusReason")
    )
    assert replacing["ResourceStatusReason"].startswith(
        "Requested update requires the creation of a new physical resource"
    )
    cf.delete_stack(StackName=stack_name)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    assert queue_names(sqs, stack_name) == []


def test_a_failed_update_rolls_back_to_the_old_resources(server: Server) -> None:
    cf, sqs = server.client("cloudformation"), server.client("sqs")
    stack_name = name()
    first = f"{stack_name}-a"
    stack = create(cf, stack_name, QUEUES, Parameters=params(Visibility="30", Name=first))
    url = outputs(stack)["Named"]
    broken = QUEUES.replace(
        "Outputs:",
        "  Extra:\n    Type: AWS::SQS::Queue\n  Bad:\n    Type: AWS::SQS::Queue\n"
        "    DependsOn: [Extra, Watcher]\n    Properties:\n      MessageRetentionPeriod: 5\n"
        "Outputs:",
    )
    cf.update_stack(
        StackName=stack_name,
        TemplateBody=broken,
        Parameters=params(Visibility="90", Name=f"{stack_name}-b"),
    )
    with pytest.raises(WaiterError):
        cf.get_waiter("stack_update_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    cf.get_waiter("stack_rollback_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    stack = cf.describe_stacks(StackName=stack_name)["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert outputs(stack)["Named"] == url
    assert {p["ParameterValue"] for p in stack["Parameters"]} == {"30", first}
    names = sorted(u.rsplit("/", 1)[1] for u in queue_names(sqs, stack_name))
    assert len(names) == 2 and first in names  # Named (the old one) and Watcher, nothing else
    got = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])
    assert got["Attributes"]["VisibilityTimeout"] == "30"
    events = cf.describe_stack_events(StackName=stack_name)["StackEvents"]
    rolling = next(e for e in events if e["ResourceStatus"] == "UPDATE_ROLLBACK_IN_PROGRESS")
    assert rolling["ResourceStatusReason"] == "The following resource(s) failed to update: [Bad]. "
    # The stack can be updated again after the rollback.
    cf.update_stack(
        StackName=stack_name, TemplateBody=QUEUES, Parameters=params(Visibility="31", Name=first)
    )
    cf.get_waiter("stack_update_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    cf.delete_stack(StackName=stack_name)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    assert queue_names(sqs, stack_name) == []


def test_deletion_policies(server: Server) -> None:
    cf, sqs = server.client("cloudformation"), server.client("sqs")
    stack_name = name()
    body = (
        "Resources:\n  Kept:\n    Type: AWS::SQS::Queue\n    DeletionPolicy: Retain\n"
        "    Properties:\n      QueueName: !Sub '${AWS::StackName}-kept'\n"
        "  Gone:\n    Type: AWS::SQS::Queue\n    DeletionPolicy: RetainExceptOnCreate\n"
        "    Properties:\n      QueueName: !Sub '${AWS::StackName}-gone'\n"
        "  Bad:\n    Type: AWS::SQS::Queue\n    DependsOn: [Kept, Gone]\n"
        "    Properties:\n      DelaySeconds: 5000\n"
    )
    # A create's rollback keeps Retain, deletes RetainExceptOnCreate.
    cf.create_stack(StackName=stack_name, TemplateBody=body)
    with pytest.raises(WaiterError):
        cf.get_waiter("stack_create_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    events = cf.describe_stack_events(StackName=stack_name)["StackEvents"]
    assert ("Kept", "DELETE_SKIPPED") in [
        (e["LogicalResourceId"], e["ResourceStatus"]) for e in events
    ]
    assert [u.rsplit("/", 1)[1] for u in queue_names(sqs, stack_name)] == [f"{stack_name}-kept"]
    cf.delete_stack(StackName=stack_name)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    sqs.delete_queue(QueueUrl=queue_names(sqs, stack_name)[0])
    # A delete keeps both.
    other = name()
    create(cf, other, body.split("  Bad:")[0])
    cf.delete_stack(StackName=other)
    cf.get_waiter("stack_delete_complete").wait(StackName=other, WaiterConfig=WAIT)
    kept = queue_names(sqs, other)
    assert sorted(u.rsplit("/", 1)[1] for u in kept) == [f"{other}-gone", f"{other}-kept"]
    for url in kept:
        sqs.delete_queue(QueueUrl=url)


def test_unsupported_types_become_placeholders_when_configured(
    fresh_server: Any,
) -> None:
    srv = fresh_server(FIRESIDE_CFN_UNSUPPORTED_PLACEHOLDERS="1")
    cf = srv.client("cloudformation")
    body = (
        "Resources:\n  Thing:\n    Type: AWS::Nope::Thing\n    Properties: {A: 1}\n"
        "Outputs:\n  Arn:\n    Value: !GetAtt Thing.Arn\n"
    )
    stack = create(cf, "placeholder", body)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert outputs(stack)["Arn"].startswith("placeholder-Thing-")


TRUST = (
    '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",'
    ' "Principal": {"Service": "lambda.amazonaws.com"}}]}'
)


def test_iam_resources_need_capabilities(server: Server) -> None:
    cf, iam = server.client("cloudformation"), server.client("iam")
    role_name = name()
    role = (
        "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n"
        f"      RoleName: {role_name}\n      AssumeRolePolicyDocument: '{TRUST}'\n"
    )
    with pytest.raises(ClientError) as caught:
        cf.create_stack(StackName=name(), TemplateBody=role)
    assert error_of(caught) == (
        "InsufficientCapabilitiesException",
        "Requires capabilities : [CAPABILITY_NAMED_IAM]",
        400,
    )
    with pytest.raises(ClientError) as caught:
        cf.create_stack(StackName=name(), TemplateBody=role, Capabilities=["CAPABILITY_IAM"])
    assert error_of(caught)[1] == "Requires capabilities : [CAPABILITY_NAMED_IAM]"
    unnamed = role.replace(f"      RoleName: {role_name}\n", "")
    with pytest.raises(ClientError) as caught:
        cf.create_stack(StackName=name(), TemplateBody=unnamed)
    assert error_of(caught)[1] == "Requires capabilities : [CAPABILITY_IAM]"
    stack_name = name()
    create(cf, stack_name, role, Capabilities=["CAPABILITY_NAMED_IAM"])
    assert iam.get_role(RoleName=role_name)["Role"]["RoleName"] == role_name
    cf.delete_stack(StackName=stack_name)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    with pytest.raises(ClientError):
        iam.get_role(RoleName=role_name)


CDK_STYLE = """
Parameters:
  BootstrapVersion:
    Type: AWS::SSM::Parameter::Value<String>
    Default: /cdk-bootstrap/hnb659fds/version
Rules:
  CheckBootstrapVersion:
    Assertions:
      - Assert:
          Fn::Not:
            - Fn::Contains:
                - ["1", "2", "3", "4", "5"]
                - Ref: BootstrapVersion
        AssertDescription: CDK bootstrap stack version 6 required.
Resources:
  Handle:
    Type: AWS::CloudFormation::WaitConditionHandle
Outputs:
  Version:
    Value: !Ref BootstrapVersion
"""


def test_ssm_parameter_types_and_a_cdk_bootstrap_rule(fresh_server: Any) -> None:
    srv = fresh_server()
    cf, ssm = srv.client("cloudformation"), srv.client("ssm")
    with pytest.raises(ClientError) as caught:
        cf.create_stack(StackName="cdk", TemplateBody=CDK_STYLE)
    assert error_of(caught)[1] == (
        "Unable to fetch parameters [/cdk-bootstrap/hnb659fds/version] from parameter store "
        "for this account."
    )
    ssm.put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="5", Type="String")
    with pytest.raises(ClientError) as caught:
        cf.create_stack(StackName="cdk", TemplateBody=CDK_STYLE)
    assert error_of(caught)[1] == "CDK bootstrap stack version 6 required."
    ssm.put_parameter(
        Name="/cdk-bootstrap/hnb659fds/version", Value="21", Type="String", Overwrite=True
    )
    stack = create(cf, "cdk", CDK_STYLE)
    assert outputs(stack)["Version"] == "21"
    assert stack["Parameters"] == [
        {
            "ParameterKey": "BootstrapVersion",
            "ParameterValue": "/cdk-bootstrap/hnb659fds/version",
            "ResolvedValue": "21",
        }
    ]


def test_on_failure_delete_deletes_the_stack(server: Server) -> None:
    cf, sqs = server.client("cloudformation"), server.client("sqs")
    stack_name = name()
    body = (
        "Resources:\n  Good:\n    Type: AWS::SQS::Queue\n"
        "  Bad:\n    Type: AWS::SQS::Queue\n    DependsOn: Good\n"
        "    Properties:\n      DelaySeconds: 5000\n"
    )
    stack_id = cf.create_stack(StackName=stack_name, TemplateBody=body, OnFailure="DELETE")[
        "StackId"
    ]
    cf.get_waiter("stack_delete_complete").wait(StackName=stack_id, WaiterConfig=WAIT)
    with pytest.raises(ClientError):
        cf.describe_stacks(StackName=stack_name)
    events = cf.describe_stack_events(StackName=stack_id)["StackEvents"]
    rolling = next(e for e in events if e["ResourceStatus"] == "ROLLBACK_IN_PROGRESS")
    assert rolling["ResourceStatusReason"] == (
        "The following resource(s) failed to create: [Bad]. Delete requested by user."
    )
    assert events[0]["ResourceStatus"] == "DELETE_COMPLETE"
    assert queue_names(sqs, stack_name) == []


def _table_template(index: str) -> str:
    table = {
        "Type": "AWS::DynamoDB::Table",
        "Properties": {
            "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": [
                {"AttributeName": "id", "AttributeType": "S"},
                {"AttributeName": index, "AttributeType": "S"},
            ],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": f"by-{index}",
                    "KeySchema": [{"AttributeName": index, "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        },
    }
    return json.dumps(
        {"Resources": {"Table": table}, "Outputs": {"Name": {"Value": {"Ref": "Table"}}}}
    )


def test_a_stack_update_changes_a_tables_index_in_place(server: Server) -> None:
    cf, dynamodb = server.client("cloudformation"), server.client("dynamodb")
    stack_name = name()
    table = outputs(create(cf, stack_name, _table_template("a")))["Name"]
    dynamodb.put_item(TableName=table, Item={"id": {"S": "1"}, "b": {"S": "x"}})
    cf.update_stack(StackName=stack_name, TemplateBody=_table_template("b"))
    cf.get_waiter("stack_update_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    described = dynamodb.describe_table(TableName=table)["Table"]
    assert [i["IndexName"] for i in described["GlobalSecondaryIndexes"]] == ["by-b"]
    # The same table (not a replacement): its item is there, and the new index has it.
    found = dynamodb.query(
        TableName=table,
        IndexName="by-b",
        KeyConditionExpression="b = :b",
        ExpressionAttributeValues={":b": {"S": "x"}},
    )["Items"]
    assert [i["id"]["S"] for i in found] == ["1"]
    cf.delete_stack(StackName=stack_name)
    cf.get_waiter("stack_delete_complete").wait(StackName=stack_name, WaiterConfig=WAIT)
    assert table not in dynamodb.list_tables()["TableNames"]
