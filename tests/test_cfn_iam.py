"""CloudFormation's IAM resource providers, in-process: each creates, updates and deletes
through IAM's served operations as the stack's account (`app.service_calls.run`), and the
same calls check what they left behind."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from fireside.app import Fireside
from fireside.aws.errors import ServiceError
from fireside.cloudformation.providers import all_providers
from fireside.cloudformation.resource_types import ResourceContext, ResourceFailed, ResourceType
from fireside.config import Settings

ACCOUNT = "123456789012"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
LOGS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "logs:*", "Resource": "*"}],
}
S3 = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fireside]:
    data: Path = tmp_path_factory.mktemp("cfn-iam")
    fireside = Fireside(Settings(data_dir=data, sandbox="process", warm_spares=0))
    fireside._build("http://127.0.0.1:4566")
    yield fireside
    asyncio.run(fireside._shutdown())


def iam(app: Fireside, operation: str, **params: Any) -> dict[str, Any]:
    return asyncio.run(app.service_calls.run(ACCOUNT, "us-east-1", "iam", operation, params))


def context(app: Fireside, logical_id: str, **kwargs: Any) -> ResourceContext:
    async def call(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return await app.service_calls.run(ACCOUNT, "us-east-1", service, operation, params)

    return ResourceContext(
        ACCOUNT,
        "us-east-1",
        "stack",
        f"arn:aws:cloudformation:us-east-1:{ACCOUNT}:stack/stack/1",
        logical_id,
        call,
        **kwargs,
    )


def provider(type_name: str) -> ResourceType:
    found = all_providers().get(type_name)
    assert found is not None, type_name
    return found


def test_role_with_inline_and_managed_policies(app: Fireside) -> None:
    role = provider("AWS::IAM::Role")
    ctx = context(
        app,
        "FunctionRole",
        generated_name="a-very-long-stack-name-for-testing-names-FunctionRole-ABCDEFGHIJKL",
        tags={"stack": "yes"},
    )
    properties = {
        "AssumeRolePolicyDocument": TRUST,
        "Path": "/svc/",
        "MaxSessionDuration": "7200",  # templates often give numbers as strings
        "Policies": [{"PolicyName": "logs", "PolicyDocument": LOGS}],
        "ManagedPolicyArns": [BASIC],
        "Tags": [{"Key": "team", "Value": "a"}],
    }
    created = asyncio.run(role.create(ctx, properties))
    name = created.physical_id
    assert len(name) == 64 and name.endswith("-ABCDEFGHIJKL")
    assert created.attributes["Arn"] == f"arn:aws:iam::{ACCOUNT}:role/svc/{name}"
    assert created.attributes["RoleId"].startswith("AROA")
    got = iam(app, "GetRole", RoleName=name)["Role"]
    assert got["MaxSessionDuration"] == 7200
    assert {t["Key"]: t["Value"] for t in got["Tags"]} == {"stack": "yes", "team": "a"}
    assert iam(app, "ListRolePolicies", RoleName=name)["PolicyNames"] == ["logs"]
    attached = iam(app, "ListAttachedRolePolicies", RoleName=name)["AttachedPolicies"]
    assert [a["PolicyArn"] for a in attached] == [BASIC]

    new = {
        **properties,
        "Description": "updated",
        "Policies": [{"PolicyName": "s3", "PolicyDocument": S3}],
        "ManagedPolicyArns": [],
        "Tags": [{"Key": "team", "Value": "b"}],
    }
    updated = asyncio.run(role.update(ctx, name, properties, new))
    assert updated.physical_id == name
    assert updated.attributes["RoleId"] == created.attributes["RoleId"]
    got = iam(app, "GetRole", RoleName=name)["Role"]
    assert got["Description"] == "updated"
    assert {t["Key"]: t["Value"] for t in got["Tags"]} == {"stack": "yes", "team": "b"}
    assert iam(app, "ListRolePolicies", RoleName=name)["PolicyNames"] == ["s3"]
    assert iam(app, "ListAttachedRolePolicies", RoleName=name)["AttachedPolicies"] == []
    assert "RoleName" in role.replace_on and "Path" in role.replace_on

    asyncio.run(role.delete(ctx, name, new))
    with pytest.raises(ServiceError) as caught:
        iam(app, "GetRole", RoleName=name)
    assert caught.value.code == "NoSuchEntityException"
    asyncio.run(role.delete(ctx, name, new))  # what is gone stays deleted


def test_a_failing_role_leaves_nothing_behind(app: Fireside) -> None:
    role = provider("AWS::IAM::Role")
    properties = {
        "RoleName": "half-made",
        "AssumeRolePolicyDocument": TRUST,
        "Policies": [{"PolicyName": "logs", "PolicyDocument": LOGS}],
        "ManagedPolicyArns": [f"arn:aws:iam::{ACCOUNT}:policy/missing"],
    }
    missing = iam(app, "ListRoles")["Roles"]
    with pytest.raises(ResourceFailed) as caught:
        asyncio.run(role.create(context(app, "Broken"), properties))
    reason = str(caught.value)
    assert reason.startswith(
        f'Resource handler returned message: "Policy arn:aws:iam::{ACCOUNT}:policy/missing '
        'does not exist or is not attachable." (RequestToken: '
    )
    assert "HandlerErrorCode: NotFound" in reason
    assert iam(app, "ListRoles")["Roles"] == missing
    with pytest.raises(ResourceFailed) as caught:
        asyncio.run(
            role.create(
                context(app, "Bad"), {"RoleName": "bad", "AssumeRolePolicyDocument": "{nope"}
            )
        )
    assert '"This policy contains invalid Json"' in str(caught.value)
    assert "HandlerErrorCode: InvalidRequest" in str(caught.value)


def test_inline_policy_resource(app: Fireside) -> None:
    names = [f"inline-target-{i}" for i in range(3)]
    for name in names:
        iam(app, "CreateRole", RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    policy = provider("AWS::IAM::Policy")
    ctx = context(app, "DefaultPolicy", generated_name="stack-DefaultPolicy-XYZ")
    properties = {"PolicyName": "default", "PolicyDocument": LOGS, "Roles": names[:2]}
    created = asyncio.run(policy.create(ctx, properties))
    assert created.physical_id == "stack-DefaultPolicy-XYZ"
    for name in names[:2]:
        got = iam(app, "GetRolePolicy", RoleName=name, PolicyName="default")
        assert json.loads(unquote(got["PolicyDocument"])) == LOGS  # as on the wire
    new = {"PolicyName": "renamed", "PolicyDocument": S3, "Roles": names[1:]}
    asyncio.run(policy.update(ctx, created.physical_id, properties, new))
    assert [iam(app, "ListRolePolicies", RoleName=n)["PolicyNames"] for n in names] == [
        [],
        ["renamed"],
        ["renamed"],
    ]
    asyncio.run(policy.delete(ctx, created.physical_id, new))
    assert all(iam(app, "ListRolePolicies", RoleName=n)["PolicyNames"] == [] for n in names)
    with pytest.raises(ResourceFailed, match="The user with name someone cannot be found"):
        asyncio.run(policy.create(ctx, {**properties, "Users": ["someone"]}))
    # The failed create took back what it had put on the roles before the user failed.
    assert all(iam(app, "ListRolePolicies", RoleName=n)["PolicyNames"] == [] for n in names)
    iam(app, "CreateUser", UserName="policy-user")
    iam(app, "CreateGroup", GroupName="policy-group")
    held = {**properties, "Roles": [], "Users": ["policy-user"], "Groups": ["policy-group"]}
    asyncio.run(policy.create(ctx, held))
    assert iam(app, "ListUserPolicies", UserName="policy-user")["PolicyNames"] == ["default"]
    assert iam(app, "ListGroupPolicies", GroupName="policy-group")["PolicyNames"] == ["default"]
    asyncio.run(policy.delete(ctx, "any", held))
    assert iam(app, "ListUserPolicies", UserName="policy-user")["PolicyNames"] == []
    with pytest.raises(ResourceFailed, match=r"At least one of \[Groups,Roles,Users\]"):
        asyncio.run(policy.create(ctx, {**properties, "Roles": []}))


def test_managed_policy_resource(app: Fireside) -> None:
    iam(app, "CreateRole", RoleName="managed-target", AssumeRolePolicyDocument=json.dumps(TRUST))
    managed = provider("AWS::IAM::ManagedPolicy")
    ctx = context(app, "Managed", generated_name="stack-Managed-QWERTY")
    properties = {"PolicyDocument": LOGS, "Roles": ["managed-target"], "Path": "/cdk/"}
    created = asyncio.run(managed.create(ctx, properties))
    arn = created.physical_id
    assert arn == f"arn:aws:iam::{ACCOUNT}:policy/cdk/stack-Managed-QWERTY"
    assert created.attributes["PolicyArn"] == arn
    attached = iam(app, "ListAttachedRolePolicies", RoleName="managed-target")
    assert [a["PolicyArn"] for a in attached["AttachedPolicies"]] == [arn]
    # Six document changes: the oldest non-default version makes room each time past five.
    document = properties
    for i in range(6):
        changed = {**properties, "PolicyDocument": {**S3, "Id": f"v{i}"}, "Roles": []}
        updated = asyncio.run(managed.update(ctx, arn, document, changed))
        document = changed
    assert updated.attributes["DefaultVersionId"] == "v7"
    versions = iam(app, "ListPolicyVersions", PolicyArn=arn)["Versions"]
    assert len(versions) == 5
    assert iam(app, "ListAttachedRolePolicies", RoleName="managed-target")["AttachedPolicies"] == []
    # Attached outside the stack too: delete detaches every holder first.
    iam(app, "CreateUser", UserName="managed-user")
    iam(app, "AttachUserPolicy", UserName="managed-user", PolicyArn=arn)
    iam(app, "AttachRolePolicy", RoleName="managed-target", PolicyArn=arn)
    asyncio.run(managed.delete(ctx, arn, document))
    with pytest.raises(ServiceError):
        iam(app, "GetPolicy", PolicyArn=arn)
    assert iam(app, "ListAttachedUserPolicies", UserName="managed-user")["AttachedPolicies"] == []
    asyncio.run(managed.delete(ctx, arn, document))


def test_instance_profile_resource(app: Fireside) -> None:
    for name in ("profile-role-a", "profile-role-b"):
        iam(app, "CreateRole", RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))
    profile = provider("AWS::IAM::InstanceProfile")
    ctx = context(app, "Profile", generated_name="stack-Profile-ASDF")
    properties = {"Roles": ["profile-role-a"]}
    created = asyncio.run(profile.create(ctx, properties))
    assert created.physical_id == "stack-Profile-ASDF"
    assert created.attributes["Arn"] == (
        f"arn:aws:iam::{ACCOUNT}:instance-profile/stack-Profile-ASDF"
    )
    asyncio.run(profile.update(ctx, created.physical_id, properties, {"Roles": ["profile-role-b"]}))
    got = iam(app, "GetInstanceProfile", InstanceProfileName=created.physical_id)
    assert [r["RoleName"] for r in got["InstanceProfile"]["Roles"]] == ["profile-role-b"]
    asyncio.run(profile.delete(ctx, created.physical_id, properties))
    with pytest.raises(ServiceError):
        iam(app, "GetInstanceProfile", InstanceProfileName=created.physical_id)
    iam(app, "DeleteRole", RoleName="profile-role-b")  # no longer in a profile


def test_the_role_sam_makes_for_a_function(app: Fireside) -> None:
    """`aws-sam-translator`'s FnRole for a function with `Policies: [AWSLambdaBasicExecutionRole,
    DynamoDBCrudPolicy, an inline statement]`, intrinsics resolved as the engine resolves them:
    policy documents without `Version`, trust lists, the `lambda:createdBy` tag."""
    table = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t"
    properties = {
        "AssumeRolePolicyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": ["sts:AssumeRole"],
                    "Effect": "Allow",
                    "Principal": {"Service": ["lambda.amazonaws.com"]},
                }
            ],
        },
        "ManagedPolicyArns": [BASIC],
        "Policies": [
            {
                "PolicyName": "FnRolePolicy1",
                "PolicyDocument": {
                    "Statement": [
                        {
                            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
                            "Effect": "Allow",
                            "Resource": [table, f"{table}/index/*"],
                        }
                    ]
                },
            },
            {
                "PolicyName": "FnRolePolicy2",
                "PolicyDocument": {
                    "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]
                },
            },
        ],
        "Tags": [{"Key": "lambda:createdBy", "Value": "SAM"}],
    }
    role = provider("AWS::IAM::Role")
    ctx = context(app, "FnRole", generated_name="sam-app-FnRole-1A2B3C4D5E6F")
    created = asyncio.run(role.create(ctx, properties))
    assert created.physical_id == "sam-app-FnRole-1A2B3C4D5E6F"
    got = iam(app, "GetRole", RoleName=created.physical_id)["Role"]
    assert got["Tags"] == [{"Key": "lambda:createdBy", "Value": "SAM"}]
    names = iam(app, "ListRolePolicies", RoleName=created.physical_id)["PolicyNames"]
    assert names == ["FnRolePolicy1", "FnRolePolicy2"]
    asyncio.run(role.delete(ctx, created.physical_id, properties))
    assert created.physical_id not in [r["RoleName"] for r in iam(app, "ListRoles")["Roles"]]


def test_the_iam_resources_cdk_bootstrap_makes(app: Fireside) -> None:
    """`cdk bootstrap`'s template (aws-cdk-cli's bootstrap-template.yaml, version 26), its IAM
    part with intrinsics resolved: roles trusted by the account id, the lookup role with an
    AWS managed policy and a Deny statement, a role's default AWS::IAM::Policy, the
    CloudFormation execution role with AdministratorAccess and the example permissions
    boundary (a managed policy of Deny statements with conditions), then deleted in reverse."""
    qualifier, region = "hnb659fds", "us-east-1"
    trusted = {
        "Statement": [
            {"Action": "sts:TagSession", "Effect": "Allow", "Principal": {"AWS": ACCOUNT}},
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"AWS": ACCOUNT}},
        ]
    }
    boundary_name = f"cdk-{qualifier}-permissions-boundary-{ACCOUNT}-{region}"
    boundary_arn = f"arn:aws:iam::{ACCOUNT}:policy/{boundary_name}"
    made: list[tuple[ResourceType, ResourceContext, str, dict[str, Any]]] = []

    def create(type_name: str, logical_id: str, properties: dict[str, Any]) -> str:
        kind, ctx = provider(type_name), context(app, logical_id)
        created = asyncio.run(kind.create(ctx, properties))
        made.append((kind, ctx, created.physical_id, properties))
        return created.physical_id

    create(
        "AWS::IAM::ManagedPolicy",
        "CdkBoostrapPermissionsBoundaryPolicy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Sid": "ExplicitAllowAll",
                        "Action": ["*"],
                        "Effect": "Allow",
                        "Resource": "*",
                    },
                    {
                        "Sid": "DenyAccessIfRequiredPermBoundaryIsNotBeingApplied",
                        "Action": ["iam:CreateUser", "iam:CreateRole"],
                        "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": boundary_arn}},
                        "Effect": "Deny",
                        "Resource": "*",
                    },
                ],
                "Version": "2012-10-17",
            },
            "Description": "Bootstrap Permission Boundary",
            "ManagedPolicyName": boundary_name,
            "Path": "/",
        },
    )
    lookup = create(
        "AWS::IAM::Role",
        "LookupRole",
        {
            "AssumeRolePolicyDocument": trusted,
            "RoleName": f"cdk-{qualifier}-lookup-role-{ACCOUNT}-{region}",
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
            "Policies": [
                {
                    "PolicyDocument": {
                        "Statement": [
                            {
                                "Sid": "DontReadSecrets",
                                "Effect": "Deny",
                                "Action": ["kms:Decrypt"],
                                "Resource": "*",
                            }
                        ],
                        "Version": "2012-10-17",
                    },
                    "PolicyName": "LookupRolePolicy",
                }
            ],
            "Tags": [{"Key": "aws-cdk:bootstrap-role", "Value": "lookup"}],
        },
    )
    publishing = create(
        "AWS::IAM::Role",
        "FilePublishingRole",
        {
            "AssumeRolePolicyDocument": trusted,
            "RoleName": f"cdk-{qualifier}-file-publishing-role-{ACCOUNT}-{region}",
        },
    )
    create(
        "AWS::IAM::Policy",
        "FilePublishingRoleDefaultPolicy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": ["s3:GetObject*", "s3:PutObject*"],
                        "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
                        "Condition": {"StringEquals": {"aws:ResourceAccount": [ACCOUNT]}},
                        "Effect": "Allow",
                    }
                ],
                "Version": "2012-10-17",
            },
            "Roles": [publishing],
            "PolicyName": f"cdk-{qualifier}-file-publishing-role-default-policy-{ACCOUNT}-{region}",
        },
    )
    execution = create(
        "AWS::IAM::Role",
        "CloudFormationExecutionRole",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    {
                        "Action": "sts:AssumeRole",
                        "Effect": "Allow",
                        "Principal": {"Service": "cloudformation.amazonaws.com"},
                    }
                ],
                "Version": "2012-10-17",
            },
            "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AdministratorAccess"],
            "RoleName": f"cdk-{qualifier}-cfn-exec-role-{ACCOUNT}-{region}",
            "PermissionsBoundary": boundary_arn,
        },
    )
    assert (
        iam(app, "GetRole", RoleName=execution)["Role"]["PermissionsBoundary"][
            "PermissionsBoundaryArn"
        ]
        == boundary_arn
    )
    assert iam(app, "ListRolePolicies", RoleName=lookup)["PolicyNames"] == ["LookupRolePolicy"]
    assert len(iam(app, "ListRolePolicies", RoleName=publishing)["PolicyNames"]) == 1
    for kind, ctx, physical_id, properties in reversed(made):
        asyncio.run(kind.delete(ctx, physical_id, properties))
    for name in (lookup, publishing, execution):
        with pytest.raises(ServiceError):
            iam(app, "GetRole", RoleName=name)
    with pytest.raises(ServiceError):
        iam(app, "GetPolicy", PolicyArn=boundary_arn)
