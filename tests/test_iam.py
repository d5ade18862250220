"""IAM through boto3 against a live server: roles, inline and managed policies, versions,
attachments, instance profiles, tags, pagination, AWS's errors word for word, accounts as
walls, one global view whatever region signs, and durability across a `kill -9`."""

from __future__ import annotations

import json
import random
import re
import signal
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from tests.conftest import Server

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
S3_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
}
BASIC = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"


def unique(prefix: str = "r") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@pytest.fixture()
def iam(server: Server) -> Any:
    return server.client("iam")


def error_of(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def make_role(iam: Any, name: str | None = None, **kwargs: Any) -> dict[str, Any]:
    name = name or unique()
    role: dict[str, Any] = iam.create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST), **kwargs
    )["Role"]
    return role


def test_role_lifecycle(iam: Any) -> None:
    name = unique()
    created = make_role(iam, name, Path="/app/", Description="runs things")
    assert created["Arn"] == f"arn:aws:iam::000000000000:role/app/{name}"
    assert re.fullmatch(r"AROA[A-Z2-7]{17}", created["RoleId"])
    assert created["AssumeRolePolicyDocument"] == TRUST
    assert created["Description"] == "runs things"
    # CreateRole's role has no MaxSessionDuration and no RoleLastUsed; GetRole's has both.
    assert "MaxSessionDuration" not in created and "RoleLastUsed" not in created
    got = iam.get_role(RoleName=name.upper())["Role"]  # names ignore case
    assert got["RoleName"] == name and got["RoleId"] == created["RoleId"]
    assert got["MaxSessionDuration"] == 3600 and got["RoleLastUsed"] == {}
    assert got["CreateDate"] == created["CreateDate"]

    iam.update_role(RoleName=name, MaxSessionDuration=7200, Description="changed")
    got = iam.get_role(RoleName=name)["Role"]
    assert (got["MaxSessionDuration"], got["Description"]) == (7200, "changed")
    described = iam.update_role_description(RoleName=name, Description="again")["Role"]
    assert described["Description"] == "again"

    # A document comes back exactly as written, even with characters URL encoding touches.
    trust = dict(TRUST)
    trust["Statement"] = [
        {
            **TRUST["Statement"][0],  # type: ignore[index]
            "Condition": {"StringEquals": {"aws:SourceArn": "arn%3Aaws a+b&c=d"}},
        }
    ]
    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
    assert iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"] == trust

    listed = iam.list_roles(PathPrefix="/app/")["Roles"]
    mine = [r for r in listed if r["RoleName"] == name]
    assert len(mine) == 1
    assert mine[0]["MaxSessionDuration"] == 7200 and "Tags" not in mine[0]
    assert all(r["Path"].startswith("/app/") for r in listed)

    iam.delete_role(RoleName=name)
    assert error_of(lambda: iam.get_role(RoleName=name)) == (
        "NoSuchEntity",
        f"The role with name {name} cannot be found.",
        404,
    )
    assert error_of(lambda: iam.delete_role(RoleName=name))[0] == "NoSuchEntity"


def test_role_errors(server: Server, iam: Any) -> None:
    name = unique()
    make_role(iam, name)
    assert error_of(lambda: make_role(iam, name)) == (
        "EntityAlreadyExists",
        f"Role with name {name} already exists.",
        409,
    )
    assert error_of(lambda: make_role(iam, name.upper()))[0] == "EntityAlreadyExists"
    code, message, status = error_of(lambda: make_role(iam, "bad name!"))
    assert (code, status) == ("ValidationError", 400)
    assert "roleName" in message and "regular expression pattern" in message
    code, message, _ = error_of(lambda: make_role(iam, Path="no-slashes"))
    assert code == "ValidationError" and "path" in message
    unchecked = server.client("iam", parameter_validation=False)
    code, message, _ = error_of(lambda: make_role(unchecked, MaxSessionDuration=100))
    assert code == "ValidationError" and "maxSessionDuration" in message

    def create(document: str) -> Any:
        return iam.create_role(RoleName=unique(), AssumeRolePolicyDocument=document)

    assert error_of(lambda: create("{not json")) == (
        "MalformedPolicyDocument",
        "This policy contains invalid Json",
        400,
    )
    assert error_of(lambda: create(json.dumps({"Version": "2012-10-17"})))[:2] == (
        "MalformedPolicyDocument",
        "Syntax errors in policy.",
    )
    with_resource = {
        "Version": "2012-10-17",
        "Statement": [{**TRUST["Statement"][0], "Resource": "*"}],  # type: ignore[index]
    }
    assert error_of(lambda: create(json.dumps(with_resource)))[1] == (
        "Has prohibited field Resource."
    )
    big = {
        "Version": "2012-10-17",
        "Statement": [
            {**TRUST["Statement"][0], "Sid": f"s{i}"}  # type: ignore[index]
            for i in range(30)
        ],
    }
    assert error_of(lambda: create(json.dumps(big))) == (
        "LimitExceeded",
        "Cannot exceed quota for ACLSizePerRole: 2048",
        409,
    )


def test_inline_policies(iam: Any) -> None:
    name = unique()
    make_role(iam, name)
    for policy in ("b-policy", "a-policy"):
        iam.put_role_policy(RoleName=name, PolicyName=policy, PolicyDocument=json.dumps(S3_ALL))
    got = iam.get_role_policy(RoleName=name, PolicyName="a-policy")
    assert (got["RoleName"], got["PolicyName"], got["PolicyDocument"]) == (
        name,
        "a-policy",
        S3_ALL,
    )
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["a-policy", "b-policy"]
    assert error_of(lambda: iam.get_role_policy(RoleName=name, PolicyName="nope")) == (
        "NoSuchEntity",
        "The role policy with name nope cannot be found.",
        404,
    )
    no_resource = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*"}]}
    assert error_of(
        lambda: iam.put_role_policy(
            RoleName=name, PolicyName="x", PolicyDocument=json.dumps(no_resource)
        )
    )[:2] == ("MalformedPolicyDocument", "Policy statement must contain resources.")
    # The 10,240 characters are for all of a role's inline policies together.
    large = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::b/{i:04d}"}
            for i in range(80)
        ],
    }
    iam.put_role_policy(RoleName=name, PolicyName="large", PolicyDocument=json.dumps(large))
    assert error_of(
        lambda: iam.put_role_policy(
            RoleName=name, PolicyName="larger", PolicyDocument=json.dumps(large)
        )
    ) == (
        "LimitExceeded",
        f"Maximum policy size of 10240 bytes exceeded for role {name}",
        409,
    )
    assert error_of(lambda: iam.delete_role(RoleName=name)) == (
        "DeleteConflict",
        "Cannot delete entity, must delete policies first.",
        409,
    )
    for policy in ("a-policy", "b-policy", "large"):
        iam.delete_role_policy(RoleName=name, PolicyName=policy)
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == []
    iam.delete_role(RoleName=name)


def test_managed_policy_versions(iam: Any) -> None:
    name = unique("p")
    policy = iam.create_policy(
        PolicyName=name, Path="/team/", PolicyDocument=json.dumps(S3_ALL), Description="d"
    )["Policy"]
    arn = policy["Arn"]
    assert arn == f"arn:aws:iam::000000000000:policy/team/{name}"
    assert re.fullmatch(r"ANPA[A-Z2-7]{17}", policy["PolicyId"])
    assert (policy["DefaultVersionId"], policy["AttachmentCount"]) == ("v1", 0)
    assert error_of(
        lambda: iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(S3_ALL))
    ) == (
        "EntityAlreadyExists",
        f"A policy called {name} already exists. Duplicate names are not allowed.",
        409,
    )
    for _ in range(4):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(S3_ALL))
    assert error_of(
        lambda: iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(S3_ALL))
    ) == (
        "LimitExceeded",
        "A managed policy can have up to 5 versions. Before you create a new version, you "
        "must delete an existing version.",
        409,
    )
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    assert [v["VersionId"] for v in versions] == ["v5", "v4", "v3", "v2", "v1"]
    assert [v["IsDefaultVersion"] for v in versions] == [False] * 4 + [True]
    iam.set_default_policy_version(PolicyArn=arn, VersionId="v3")
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v3"
    got = iam.get_policy_version(PolicyArn=arn, VersionId="v3")["PolicyVersion"]
    assert got["Document"] == S3_ALL and got["IsDefaultVersion"] is True
    assert error_of(lambda: iam.delete_policy_version(PolicyArn=arn, VersionId="v3")) == (
        "DeleteConflict",
        "Cannot delete the default version of a policy.",
        409,
    )
    assert error_of(lambda: iam.get_policy_version(PolicyArn=arn, VersionId="v9")) == (
        "NoSuchEntity",
        f"Policy {arn} version v9 does not exist or is not attachable.",
        404,
    )
    assert error_of(lambda: iam.delete_policy(PolicyArn=arn))[0] == "DeleteConflict"
    for version in ("v1", "v2", "v4", "v5"):
        iam.delete_policy_version(PolicyArn=arn, VersionId=version)
    made = iam.create_policy_version(
        PolicyArn=arn, PolicyDocument=json.dumps(S3_ALL), SetAsDefault=True
    )["PolicyVersion"]
    assert (made["VersionId"], made["IsDefaultVersion"]) == ("v6", True)
    iam.delete_policy_version(PolicyArn=arn, VersionId="v3")
    iam.delete_policy(PolicyArn=arn)
    assert error_of(lambda: iam.get_policy(PolicyArn=arn)) == (
        "NoSuchEntity",
        f"Policy {arn} was not found.",
        404,
    )
    assert error_of(
        lambda: iam.create_policy(
            PolicyName=unique("p"),
            PolicyDocument=json.dumps({**S3_ALL, "Statement": [{"Effect": "Allow"}]}),
        )
    )[1] == ("Policy statement must contain actions.")


def test_attachments(iam: Any) -> None:
    name = unique()
    role = make_role(iam, name)
    arn = iam.create_policy(PolicyName=unique("p"), PolicyDocument=json.dumps(S3_ALL))["Policy"][
        "Arn"
    ]
    iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    iam.attach_role_policy(RoleName=name, PolicyArn=BASIC)
    iam.attach_role_policy(RoleName=name, PolicyArn=BASIC)  # twice changes nothing
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    assert {a["PolicyArn"] for a in attached} == {arn, BASIC}
    assert {"PolicyName": "AWSLambdaBasicExecutionRole", "PolicyArn": BASIC} in attached
    only_service_role = iam.list_attached_role_policies(RoleName=name, PathPrefix="/service-role/")
    assert [a["PolicyArn"] for a in only_service_role["AttachedPolicies"]] == [BASIC]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 1
    basic = iam.get_policy(PolicyArn=BASIC)["Policy"]
    assert (basic["PolicyName"], basic["Path"]) == ("AWSLambdaBasicExecutionRole", "/service-role/")
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert entities["PolicyRoles"] == [{"RoleName": name, "RoleId": role["RoleId"]}]
    assert entities["PolicyUsers"] == [] and entities["PolicyGroups"] == []
    local = iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]
    assert arn in [p["Arn"] for p in local] and BASIC not in [p["Arn"] for p in local]
    aws = iam.list_policies(Scope="AWS", OnlyAttached=True)["Policies"]
    assert BASIC in [p["Arn"] for p in aws] and arn not in [p["Arn"] for p in aws]

    assert error_of(lambda: iam.delete_policy(PolicyArn=arn)) == (
        "DeleteConflict",
        "Cannot delete a policy attached to entities.",
        409,
    )
    assert error_of(lambda: iam.delete_role(RoleName=name)) == (
        "DeleteConflict",
        "Cannot delete entity, must detach all policies first.",
        409,
    )
    missing = arn + "-missing"
    assert error_of(lambda: iam.attach_role_policy(RoleName=name, PolicyArn=missing)) == (
        "NoSuchEntity",
        f"Policy {missing} does not exist or is not attachable.",
        404,
    )
    assert error_of(
        lambda: iam.attach_role_policy(RoleName=name, PolicyArn="not-an-arn-at-all-really")
    ) == (
        "ValidationError",
        "Invalid ARN:  Could not be parsed!",
        400,
    )
    assert error_of(lambda: iam.detach_role_policy(RoleName=name, PolicyArn=missing)) == (
        "NoSuchEntity",
        f"Policy {missing} was not found.",
        404,
    )
    iam.detach_role_policy(RoleName=name, PolicyArn=arn)
    iam.detach_role_policy(RoleName=name, PolicyArn=BASIC)
    assert iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"] == []
    iam.delete_policy(PolicyArn=arn)
    iam.delete_role(RoleName=name)


def test_attachment_quota(iam: Any) -> None:
    name = unique()
    make_role(iam, name)
    arns = [
        iam.create_policy(PolicyName=unique("p"), PolicyDocument=json.dumps(S3_ALL))["Policy"][
            "Arn"
        ]
        for _ in range(11)
    ]
    for arn in arns[:10]:
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    assert error_of(lambda: iam.attach_role_policy(RoleName=name, PolicyArn=arns[10])) == (
        "LimitExceeded",
        "Cannot exceed quota for PoliciesPerRole: 10",
        409,
    )


def test_permissions_boundary(iam: Any) -> None:
    name = unique()
    arn = iam.create_policy(PolicyName=unique("p"), PolicyDocument=json.dumps(S3_ALL))["Policy"][
        "Arn"
    ]
    created = make_role(iam, name, PermissionsBoundary=arn)
    assert created["PermissionsBoundary"] == {
        "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
        "PermissionsBoundaryArn": arn,
    }
    assert iam.get_policy(PolicyArn=arn)["Policy"]["PermissionsBoundaryUsageCount"] == 1
    bounded = iam.list_entities_for_policy(PolicyArn=arn, PolicyUsageFilter="PermissionsBoundary")
    assert [r["RoleName"] for r in bounded["PolicyRoles"]] == [name]
    assert (
        iam.list_entities_for_policy(PolicyArn=arn, PolicyUsageFilter="PermissionsPolicy")[
            "PolicyRoles"
        ]
        == []
    )
    iam.delete_role_permissions_boundary(RoleName=name)
    assert "PermissionsBoundary" not in iam.get_role(RoleName=name)["Role"]
    iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=BASIC)
    got = iam.get_role(RoleName=name)["Role"]
    assert got["PermissionsBoundary"]["PermissionsBoundaryArn"] == BASIC
    assert error_of(
        lambda: iam.put_role_permissions_boundary(RoleName=name, PermissionsBoundary=arn + "x")
    )[:2] == ("NoSuchEntity", f"Policy {arn}x does not exist or is not attachable.")


def test_instance_profiles(iam: Any) -> None:
    role = unique()
    make_role(iam, role)
    name = unique("ip")
    profile = iam.create_instance_profile(InstanceProfileName=name, Path="/ec2/")["InstanceProfile"]
    assert profile["Arn"] == f"arn:aws:iam::000000000000:instance-profile/ec2/{name}"
    assert re.fullmatch(r"AIPA[A-Z2-7]{17}", profile["InstanceProfileId"])
    assert profile["Roles"] == []
    assert error_of(lambda: iam.create_instance_profile(InstanceProfileName=name)) == (
        "EntityAlreadyExists",
        f"Instance Profile {name} already exists.",
        409,
    )
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    got = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    assert [r["RoleName"] for r in got["Roles"]] == [role]
    assert got["Roles"][0]["AssumeRolePolicyDocument"] == TRUST
    assert "MaxSessionDuration" not in got["Roles"][0]  # a profile's role: identity and trust
    other = unique()
    make_role(iam, other)
    assert error_of(
        lambda: iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=other)
    ) == ("LimitExceeded", "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1", 409)
    for_role = iam.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in for_role] == [name]
    assert name in [
        p["InstanceProfileName"]
        for p in iam.list_instance_profiles(PathPrefix="/ec2/")["InstanceProfiles"]
    ]
    conflict = "Cannot delete entity, must remove roles from instance profile first."
    assert error_of(lambda: iam.delete_role(RoleName=role)) == ("DeleteConflict", conflict, 409)
    assert error_of(lambda: iam.delete_instance_profile(InstanceProfileName=name)) == (
        "DeleteConflict",
        conflict,
        409,
    )
    iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=role)
    iam.delete_instance_profile(InstanceProfileName=name)
    assert error_of(lambda: iam.get_instance_profile(InstanceProfileName=name)) == (
        "NoSuchEntity",
        f"Instance Profile {name} cannot be found.",
        404,
    )
    iam.delete_role(RoleName=role)


def test_tags(iam: Any) -> None:
    name = unique()
    created = make_role(iam, name, Tags=[{"Key": "team", "Value": "a"}])
    assert created["Tags"] == [{"Key": "team", "Value": "a"}]
    sam = unique()  # the tag SAM puts on what it makes; keys take letters of any script
    tags = [{"Key": "lambda:createdBy", "Value": "SAM"}, {"Key": "équipe", "Value": "é"}]
    assert make_role(iam, sam, Tags=tags)["Tags"] == tags
    code, message, _ = error_of(
        lambda: iam.tag_role(RoleName=sam, Tags=[{"Key": "a|b", "Value": ""}])
    )
    assert code == "ValidationError" and "tags.1.member.key" in message
    iam.tag_role(RoleName=name, Tags=[{"Key": f"k{i}", "Value": str(i)} for i in range(5)])
    iam.tag_role(RoleName=name, Tags=[{"Key": "TEAM", "Value": "b"}])  # keys ignore case
    first = iam.list_role_tags(RoleName=name, MaxItems=4)
    assert first["IsTruncated"] is True and len(first["Tags"]) == 4
    rest = iam.list_role_tags(RoleName=name, Marker=first["Marker"])
    tags = {t["Key"]: t["Value"] for t in first["Tags"] + rest["Tags"]}
    assert tags == {"TEAM": "b", **{f"k{i}": str(i) for i in range(5)}}
    iam.untag_role(RoleName=name, TagKeys=["team", "k0"])
    assert len(iam.list_role_tags(RoleName=name)["Tags"]) == 4
    assert error_of(
        lambda: iam.tag_role(
            RoleName=name, Tags=[{"Key": "x", "Value": "1"}, {"Key": "X", "Value": "2"}]
        )
    ) == (
        "InvalidInput",
        "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
        400,
    )
    assert error_of(
        lambda: iam.tag_role(RoleName=name, Tags=[{"Key": f"m{i}", "Value": ""} for i in range(47)])
    ) == ("LimitExceeded", "Cannot exceed quota for TagsPerRole: 50", 409)
    arn = iam.create_policy(
        PolicyName=unique("p"), PolicyDocument=json.dumps(S3_ALL), Tags=[{"Key": "a", "Value": "1"}]
    )["Policy"]["Arn"]
    iam.tag_policy(PolicyArn=arn, Tags=[{"Key": "b", "Value": "2"}])
    iam.untag_policy(PolicyArn=arn, TagKeys=["a"])
    assert iam.list_policy_tags(PolicyArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["Tags"] == [{"Key": "b", "Value": "2"}]


def test_pagination(iam: Any) -> None:
    path = f"/{unique('page')}/"
    names = sorted(unique() for _ in range(7))
    for name in names:
        make_role(iam, name, Path=path)
    first = iam.list_roles(PathPrefix=path, MaxItems=3)
    assert first["IsTruncated"] is True
    assert [r["RoleName"] for r in first["Roles"]] == names[:3]
    # A deleted role does not shift the next page: the marker names where it starts.
    iam.delete_role(RoleName=names[0])
    second = iam.list_roles(PathPrefix=path, MaxItems=3, Marker=first["Marker"])
    assert [r["RoleName"] for r in second["Roles"]] == names[3:6]
    paged = iam.get_paginator("list_roles").paginate(
        PathPrefix=path, PaginationConfig={"PageSize": 2}
    )
    assert [r["RoleName"] for page in paged for r in page["Roles"]] == names[1:]
    everything = iam.list_roles(PathPrefix=path)
    assert everything["IsTruncated"] is False and "Marker" not in everything


def test_accounts_are_walls(server: Server) -> None:
    a = server.client("iam", aws_access_key_id="111111111111")
    b = server.client("iam", aws_access_key_id="222222222222")
    name = unique()
    role_a = make_role(a, name)
    assert role_a["Arn"] == f"arn:aws:iam::111111111111:role/{name}"
    assert error_of(lambda: b.get_role(RoleName=name))[0] == "NoSuchEntity"
    assert name not in [r["RoleName"] for r in b.list_roles()["Roles"]]
    role_b = make_role(b, name)  # the same name is free in another account
    assert role_b["RoleId"] != role_a["RoleId"]
    policy_a = a.create_policy(PolicyName=unique("p"), PolicyDocument=json.dumps(S3_ALL))["Policy"][
        "Arn"
    ]
    assert error_of(lambda: b.get_policy(PolicyArn=policy_a))[0] == "NoSuchEntity"
    assert error_of(lambda: b.attach_role_policy(RoleName=name, PolicyArn=policy_a))[:2] == (
        "NoSuchEntity",
        f"Policy {policy_a} does not exist or is not attachable.",
    )
    assert error_of(lambda: b.delete_policy(PolicyArn=policy_a))[0] == "NoSuchEntity"
    b.delete_role(RoleName=name)
    assert a.get_role(RoleName=name)["Role"]["RoleId"] == role_a["RoleId"]


def test_iam_is_global(server: Server) -> None:
    east = server.client("iam")
    west = server.client("iam", region_name="eu-west-1")
    name = unique()
    make_role(west, name)
    assert east.get_role(RoleName=name)["Role"]["Arn"].endswith(f":role/{name}")


def test_get_user_and_what_is_not_implemented(iam: Any) -> None:
    user = iam.get_user()["User"]
    assert (user["UserId"], user["Arn"]) == ("000000000000", "arn:aws:iam::000000000000:root")
    assert error_of(lambda: iam.get_user(UserName="alice")) == (
        "NoSuchEntity",
        "The user with name alice cannot be found.",
        404,
    )
    code, message, status = error_of(lambda: iam.list_access_keys())
    assert (code, status) == ("NotImplementedException", 501)
    assert "ListAccessKeys" in message


def test_roles_survive_kill(fresh_server: Callable[..., Server]) -> None:
    server = fresh_server()
    iam = server.client("iam")
    name = unique()
    role = make_role(iam, name, Tags=[{"Key": "k", "Value": "v"}])
    iam.put_role_policy(RoleName=name, PolicyName="inline", PolicyDocument=json.dumps(S3_ALL))
    arn = iam.create_policy(PolicyName=unique("p"), PolicyDocument=json.dumps(S3_ALL))["Policy"][
        "Arn"
    ]
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(S3_ALL), SetAsDefault=True)
    iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)
    iam.create_user(UserName=name)
    iam.create_group(GroupName=name)
    iam.add_user_to_group(GroupName=name, UserName=name)
    iam.attach_group_policy(GroupName=name, PolicyArn=arn)
    server.stop(signal.SIGKILL)

    again = fresh_server(server.data_dir)
    iam = again.client("iam")
    got = iam.get_role(RoleName=name)["Role"]
    assert (got["RoleId"], got["Tags"]) == (role["RoleId"], [{"Key": "k", "Value": "v"}])
    assert iam.get_role_policy(RoleName=name, PolicyName="inline")["PolicyDocument"] == S3_ALL
    assert iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"] == "v2"
    attached = iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
    assert [a["PolicyArn"] for a in attached] == [arn]
    profile = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [name]
    assert [u["UserName"] for u in iam.get_group(GroupName=name)["Users"]] == [name]
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 2


def test_policy_document_checks(iam: Any) -> None:
    def create(document: dict[str, Any]) -> Any:
        return iam.create_policy(PolicyName=unique("p"), PolicyDocument=json.dumps(document))

    statement = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    cases = [
        (
            {"Version": "2011-01-01", "Statement": [statement]},
            "Policy document must be version 2012-10-17 or greater.",
        ),
        (
            {"Statement": [{**statement, "Principal": "*"}]},
            "Policy document should not specify a principal.",
        ),
        (
            {"Statement": [{**statement, "Sid": "not ok"}]},
            "Statement IDs (SID) must be "
            "alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
        ),
        (
            {"Statement": [statement, {**statement, "Sid": "A"}, {**statement, "Sid": "A"}]},
            "Statement IDs (SID) in a single policy must be unique.",
        ),
        (
            {"Statement": [{**statement, "Action": "GetObject"}]},
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        ({"Statement": [{**statement, "Effect": "Maybe"}]}, "Syntax errors in policy."),
    ]
    for document, message in cases:
        assert error_of(lambda document=document: create(document)) == (
            "MalformedPolicyDocument",
            message,
            400,
        ), document
    # NotAction/NotResource stand for Action/Resource; a statement may be a single object.
    create({"Statement": {"Effect": "Deny", "NotAction": "iam:*", "NotResource": "arn:aws:s3:::b"}})
    big = {"Version": "2012-10-17", "Statement": [{**statement, "Resource": "x" * 6100}]}
    assert error_of(lambda: create(big)) == (
        "LimitExceeded",
        "Cannot exceed quota for PolicySize: 6144",
        409,
    )


def test_aws_managed_policies(iam: Any) -> None:
    got = iam.get_policy(PolicyArn=BASIC)["Policy"]
    assert re.fullmatch(r"ANPA[A-Z2-7]{17}", got["PolicyId"])
    assert got == iam.get_policy(PolicyArn=BASIC)["Policy"]  # the same answer every time
    version = iam.get_policy_version(PolicyArn=BASIC, VersionId="v1")["PolicyVersion"]
    # Fireside does not know AWS's documents: v1 has no statements (docs/deploy.md).
    assert version["Document"] == {"Version": "2012-10-17", "Statement": []}
    assert version["IsDefaultVersion"] is True
    name = unique()
    make_role(iam, name)
    iam.attach_role_policy(RoleName=name, PolicyArn=BASIC)
    roles = iam.list_entities_for_policy(PolicyArn=BASIC, EntityFilter="Role")["PolicyRoles"]
    assert name in [r["RoleName"] for r in roles]
    aws = iam.list_policies(Scope="AWS", PathPrefix="/service-role/", OnlyAttached=True)
    assert BASIC in [p["Arn"] for p in aws["Policies"]]
    assert all(p["Path"] == "/service-role/" for p in aws["Policies"])


# -- every paginated listing, paged by boto3's own paginators -------------------------------

Made = tuple[dict[str, Any], str, Callable[[Any], str], list[str]]


def _roles(iam: Any) -> Made:
    names = sorted(make_role(iam)["RoleName"] for _ in range(7))
    return {}, "Roles", lambda r: r["RoleName"], names


def _policies(iam: Any, count: int = 7) -> list[str]:
    return [
        iam.create_policy(PolicyName=unique("p"), PolicyDocument=json.dumps(S3_ALL))["Policy"][
            "Arn"
        ]
        for _ in range(count)
    ]


def _local_policies(iam: Any) -> Made:
    return {"Scope": "Local"}, "Policies", lambda p: p["Arn"], sorted(_policies(iam))


def _role_policies(iam: Any) -> Made:
    name = make_role(iam)["RoleName"]
    for n in range(7):
        iam.put_role_policy(RoleName=name, PolicyName=f"p{n}", PolicyDocument=json.dumps(S3_ALL))
    return {"RoleName": name}, "PolicyNames", str, [f"p{n}" for n in range(7)]


def _attached(iam: Any) -> Made:
    name = make_role(iam)["RoleName"]
    arns = _policies(iam)
    for arn in arns:
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    return {"RoleName": name}, "AttachedPolicies", lambda p: p["PolicyArn"], sorted(arns)


def _entities(iam: Any) -> Made:
    arn = _policies(iam, 1)[0]
    names = sorted(make_role(iam)["RoleName"] for _ in range(7))
    for name in names:
        iam.attach_role_policy(RoleName=name, PolicyArn=arn)
    return {"PolicyArn": arn}, "PolicyRoles", lambda r: r["RoleName"], names


def _profiles(iam: Any) -> Made:
    names = sorted(unique("ip") for _ in range(7))
    for name in names:
        iam.create_instance_profile(InstanceProfileName=name)
    return {}, "InstanceProfiles", lambda p: p["InstanceProfileName"], names


def _profiles_for_role(iam: Any) -> Made:
    role = make_role(iam)["RoleName"]
    _, key, ident, names = _profiles(iam)
    for name in names:
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    return {"RoleName": role}, key, ident, names


def _versions(iam: Any) -> Made:
    arn = _policies(iam, 1)[0]
    for _ in range(4):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(S3_ALL))
    newest_first = [f"v{n}" for n in range(5, 0, -1)]
    return {"PolicyArn": arn}, "Versions", lambda v: v["VersionId"], newest_first


TAGS = [{"Key": f"k{n}", "Value": str(n)} for n in range(7)]


def _role_tags(iam: Any) -> Made:
    name = make_role(iam, Tags=TAGS)["RoleName"]
    return {"RoleName": name}, "Tags", lambda t: t["Key"], [t["Key"] for t in TAGS]


def _policy_tags(iam: Any) -> Made:
    arn = iam.create_policy(PolicyName=unique("p"), PolicyDocument=json.dumps(S3_ALL), Tags=TAGS)[
        "Policy"
    ]["Arn"]
    return {"PolicyArn": arn}, "Tags", lambda t: t["Key"], [t["Key"] for t in TAGS]


def _profile_tags(iam: Any) -> Made:
    name = iam.create_instance_profile(InstanceProfileName=unique("ip"), Tags=TAGS)[
        "InstanceProfile"
    ]["InstanceProfileName"]
    return {"InstanceProfileName": name}, "Tags", lambda t: t["Key"], [t["Key"] for t in TAGS]


def _users(iam: Any) -> Made:
    names = sorted(iam.create_user(UserName=unique("u"))["User"]["UserName"] for _ in range(7))
    return {}, "Users", lambda u: u["UserName"], names


def _groups(iam: Any) -> Made:
    names = sorted(iam.create_group(GroupName=unique("g"))["Group"]["GroupName"] for _ in range(7))
    return {}, "Groups", lambda g: g["GroupName"], names


def _group_members(iam: Any) -> Made:
    group = iam.create_group(GroupName=unique("g"))["Group"]["GroupName"]
    _, _, ident, names = _users(iam)
    for name in names:
        iam.add_user_to_group(GroupName=group, UserName=name)
    return {"GroupName": group}, "Users", ident, names


def _groups_for_user(iam: Any) -> Made:
    user = iam.create_user(UserName=unique("u"))["User"]["UserName"]
    _, key, ident, names = _groups(iam)
    for name in names:
        iam.add_user_to_group(GroupName=name, UserName=user)
    return {"UserName": user}, key, ident, names


def _user_policies(iam: Any) -> Made:
    user = iam.create_user(UserName=unique("u"))["User"]["UserName"]
    small = json.dumps(S3_ALL)
    for n in range(7):
        iam.put_user_policy(UserName=user, PolicyName=f"p{n}", PolicyDocument=small)
    return {"UserName": user}, "PolicyNames", str, [f"p{n}" for n in range(7)]


def _group_policies(iam: Any) -> Made:
    group = iam.create_group(GroupName=unique("g"))["Group"]["GroupName"]
    for n in range(7):
        iam.put_group_policy(GroupName=group, PolicyName=f"p{n}", PolicyDocument=json.dumps(S3_ALL))
    return {"GroupName": group}, "PolicyNames", str, [f"p{n}" for n in range(7)]


def _attached_to_user(iam: Any) -> Made:
    user = iam.create_user(UserName=unique("u"))["User"]["UserName"]
    arns = _policies(iam)
    for arn in arns:
        iam.attach_user_policy(UserName=user, PolicyArn=arn)
    return {"UserName": user}, "AttachedPolicies", lambda p: p["PolicyArn"], sorted(arns)


def _attached_to_group(iam: Any) -> Made:
    group = iam.create_group(GroupName=unique("g"))["Group"]["GroupName"]
    arns = _policies(iam)
    for arn in arns:
        iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    return {"GroupName": group}, "AttachedPolicies", lambda p: p["PolicyArn"], sorted(arns)


def _user_tags(iam: Any) -> Made:
    user = iam.create_user(UserName=unique("u"), Tags=TAGS)["User"]["UserName"]
    return {"UserName": user}, "Tags", lambda t: t["Key"], [t["Key"] for t in TAGS]


LISTINGS: dict[str, Callable[[Any], Made]] = {
    "ListUsers": _users,
    "ListGroups": _groups,
    "GetGroup": _group_members,
    "ListGroupsForUser": _groups_for_user,
    "ListUserPolicies": _user_policies,
    "ListGroupPolicies": _group_policies,
    "ListAttachedUserPolicies": _attached_to_user,
    "ListAttachedGroupPolicies": _attached_to_group,
    "ListUserTags": _user_tags,
    "ListRoles": _roles,
    "ListPolicies": _local_policies,
    "ListRolePolicies": _role_policies,
    "ListAttachedRolePolicies": _attached,
    "ListEntitiesForPolicy": _entities,
    "ListInstanceProfiles": _profiles,
    "ListInstanceProfilesForRole": _profiles_for_role,
    "ListPolicyVersions": _versions,
    "ListRoleTags": _role_tags,
    "ListPolicyTags": _policy_tags,
    "ListInstanceProfileTags": _profile_tags,
}
#: botocore's IAM paginators of operations Fireside does not serve.
UNSERVED = {
    "GetAccountAuthorizationDetails",
    "ListAccessKeys",
    "ListMFADeviceTags",
    "ListMFADevices",
    "ListOpenIDConnectProviderTags",
    "ListSAMLProviderTags",
    "ListSSHPublicKeys",
    "ListServerCertificateTags",
    "ListServerCertificates",
    "ListSigningCertificates",
    "ListVirtualMFADevices",
    "ListWorkloadIdentityProviderOutboundSigners",
    "ListWorkloadIdentityProviderTags",
    "ListWorkloadIdentityProviders",
    "ListWorkloadIdentityTemplateTags",
    "ListWorkloadIdentityTemplates",
    "SimulateCustomPolicy",
    "SimulatePrincipalPolicy",
}


def test_every_iam_paginator_is_covered(iam: Any) -> None:
    paginated = {
        operation
        for operation in iam.meta.service_model.operation_names
        if iam.can_paginate(xform_name(operation))
    }
    # ListAccountAliases is served and always empty (no account has an alias here).
    assert paginated == set(LISTINGS) | UNSERVED | {"ListAccountAliases"}
    code, _, status = error_of(lambda: iam.list_mfa_devices())
    assert (code, status) == ("NotImplementedException", 501)
    assert iam.list_account_aliases()["AccountAliases"] == []


@pytest.mark.parametrize("operation", sorted(LISTINGS))
def test_every_item_once_in_order(server: Server, operation: str) -> None:
    # An account of its own: IAM is global, so other tests' roles would show in its listings.
    account = f"{random.randrange(10**11, 10**12)}"
    iam = server.client("iam", aws_access_key_id=account)
    params, key, ident, expected = LISTINGS[operation](iam)
    paginator = iam.get_paginator(xform_name(operation))
    for size in (None, 1, 2, 3):
        config = {"PageSize": size} if size else {}
        pages = [
            [ident(item) for item in page[key]]
            for page in paginator.paginate(**params, PaginationConfig=config)
        ]
        assert [item for page in pages for item in page] == expected, (operation, size)
        if size is not None:
            assert all(len(page) == size for page in pages[:-1])
            assert len(pages) == -(-len(expected) // size)


def test_a_misspelt_aws_managed_policy_is_refused(iam: Any) -> None:
    """aws-sam-translator's bundled list of AWS managed policies (a dependency) says which
    exist; this fails should a new version of the package move the list (`aws_managed.py`
    would then take any well-formed ARN)."""
    name = unique()
    make_role(iam, name)
    misspelt = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRoles"
    assert error_of(lambda: iam.attach_role_policy(RoleName=name, PolicyArn=misspelt)) == (
        "NoSuchEntity",
        f"Policy {misspelt} does not exist or is not attachable.",
        404,
    )
    assert error_of(lambda: iam.get_policy(PolicyArn=misspelt))[0] == "NoSuchEntity"
    every = iam.get_paginator("list_policies").paginate(Scope="AWS")
    arns = [p["Arn"] for page in every for p in page["Policies"]]
    assert len(arns) > 1000 and BASIC in arns and arns == sorted(arns)


def test_users_and_groups(iam: Any) -> None:
    user = unique("u")
    made = iam.create_user(UserName=user, Path="/people/", Tags=[{"Key": "k", "Value": "v"}])
    assert made["User"]["Arn"] == f"arn:aws:iam::000000000000:user/people/{user}"
    assert re.fullmatch(r"AIDA[A-Z2-7]{17}", made["User"]["UserId"])
    got = iam.get_user(UserName=user.upper())["User"]
    assert (got["UserName"], got["Tags"]) == (user, [{"Key": "k", "Value": "v"}])
    assert error_of(lambda: iam.create_user(UserName=user)) == (
        "EntityAlreadyExists",
        f"User with name {user} already exists.",
        409,
    )
    group = unique("g")
    made_group = iam.create_group(GroupName=group)["Group"]
    assert made_group["Arn"] == f"arn:aws:iam::000000000000:group/{group}"
    assert re.fullmatch(r"AGPA[A-Z2-7]{17}", made_group["GroupId"])
    iam.add_user_to_group(GroupName=group, UserName=user)
    members = iam.get_group(GroupName=group)
    assert members["Group"]["GroupName"] == group
    assert [u["UserName"] for u in members["Users"]] == [user]
    groups = iam.list_groups_for_user(UserName=user)["Groups"]
    assert [g["GroupName"] for g in groups] == [group]

    arn = _policies(iam, 1)[0]
    iam.attach_user_policy(UserName=user, PolicyArn=arn)
    iam.attach_group_policy(GroupName=group, PolicyArn=arn)
    iam.put_user_policy(UserName=user, PolicyName="mine", PolicyDocument=json.dumps(S3_ALL))
    iam.put_group_policy(GroupName=group, PolicyName="ours", PolicyDocument=json.dumps(S3_ALL))
    assert iam.get_user_policy(UserName=user, PolicyName="mine")["PolicyDocument"] == S3_ALL
    assert iam.get_group_policy(GroupName=group, PolicyName="ours")["GroupName"] == group
    assert error_of(lambda: iam.get_user_policy(UserName=user, PolicyName="nope")) == (
        "NoSuchEntity",
        "The user policy with name nope cannot be found.",
        404,
    )
    assert iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"] == 2
    entities = iam.list_entities_for_policy(PolicyArn=arn)
    assert entities["PolicyUsers"] == [{"UserName": user, "UserId": made["User"]["UserId"]}]
    assert entities["PolicyGroups"] == [{"GroupName": group, "GroupId": made_group["GroupId"]}]
    only_users = iam.list_entities_for_policy(PolicyArn=arn, EntityFilter="User")
    assert only_users["PolicyGroups"] == [] and len(only_users["PolicyUsers"]) == 1
    big = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "x" * 2100}],
    }
    assert error_of(
        lambda: iam.put_user_policy(UserName=user, PolicyName="big", PolicyDocument=json.dumps(big))
    ) == ("LimitExceeded", f"Maximum policy size of 2048 bytes exceeded for user {user}", 409)

    in_group = "Cannot delete entity, must remove users from group first."
    assert error_of(lambda: iam.delete_user(UserName=user)) == ("DeleteConflict", in_group, 409)
    assert error_of(lambda: iam.delete_group(GroupName=group)) == ("DeleteConflict", in_group, 409)
    assert error_of(lambda: iam.delete_policy(PolicyArn=arn))[0] == "DeleteConflict"
    iam.remove_user_from_group(GroupName=group, UserName=user)
    assert error_of(lambda: iam.remove_user_from_group(GroupName=group, UserName=user)) == (
        "NoSuchEntity",
        f"The user with name {user} cannot be found.",
        404,
    )
    assert error_of(lambda: iam.delete_user(UserName=user))[1] == (
        "Cannot delete entity, must detach all policies first."
    )
    iam.detach_user_policy(UserName=user, PolicyArn=arn)
    iam.detach_group_policy(GroupName=group, PolicyArn=arn)
    assert error_of(lambda: iam.delete_group(GroupName=group))[1] == (
        "Cannot delete entity, must delete policies first."
    )
    iam.delete_user_policy(UserName=user, PolicyName="mine")
    iam.delete_group_policy(GroupName=group, PolicyName="ours")
    iam.delete_user(UserName=user)
    iam.delete_group(GroupName=group)
    iam.delete_policy(PolicyArn=arn)
    assert error_of(lambda: iam.get_user(UserName=user)) == (
        "NoSuchEntity",
        f"The user with name {user} cannot be found.",
        404,
    )
    assert error_of(lambda: iam.get_group(GroupName=group)) == (
        "NoSuchEntity",
        f"The group with name {group} cannot be found.",
        404,
    )
