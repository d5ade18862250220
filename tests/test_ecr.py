"""ECR repositories against a live server with boto3: what `cdk bootstrap` and templates
call, ECR's own errors, pages, policies, tags, accounts and durability."""

from __future__ import annotations

import json
import signal
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server

OTHER_ACCOUNT = "111122223333"
LIFECYCLE = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "description": "keep ten images",
                "selection": {
                    "tagStatus": "any",
                    "countType": "imageCountMoreThan",
                    "countNumber": 10,
                },
                "action": {"type": "expire"},
            }
        ]
    }
)
POLICY = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "pull",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
                "Action": ["ecr:BatchGetImage"],
            }
        ],
    }
)


@pytest.fixture()
def ecr(server: Server) -> Any:
    return server.client("ecr")


@pytest.fixture()
def name() -> str:
    return f"repo-{uuid.uuid4().hex[:10]}"


def _error(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_create_describe_delete(ecr: Any, name: str) -> None:
    created = ecr.create_repository(
        repositoryName=f"team/{name}",
        imageTagMutability="IMMUTABLE",
        imageScanningConfiguration={"scanOnPush": True},
        tags=[{"Key": "owner", "Value": "me"}],
    )["repository"]
    assert created["repositoryArn"] == (
        f"arn:aws:ecr:us-east-1:000000000000:repository/team/{name}"
    )
    assert created["repositoryUri"] == (f"000000000000.dkr.ecr.us-east-1.amazonaws.com/team/{name}")
    assert created["registryId"] == "000000000000"
    assert created["imageTagMutability"] == "IMMUTABLE"
    assert created["imageScanningConfiguration"] == {"scanOnPush": True}
    assert created["encryptionConfiguration"] == {"encryptionType": "AES256"}
    described = ecr.describe_repositories(repositoryNames=[f"team/{name}"])["repositories"]
    assert described == [created]
    code, message, status = _error(lambda: ecr.create_repository(repositoryName=f"team/{name}"))
    assert (code, status) == ("RepositoryAlreadyExistsException", 400)
    assert message == (
        f"The repository with name 'team/{name}' already exists in the registry with id "
        "'000000000000'"
    )
    deleted = ecr.delete_repository(repositoryName=f"team/{name}", force=True)["repository"]
    assert deleted["repositoryName"] == f"team/{name}"
    code, message, _ = _error(lambda: ecr.describe_repositories(repositoryNames=[f"team/{name}"]))
    assert (code, message) == (
        "RepositoryNotFoundException",
        f"The repository with name 'team/{name}' does not exist in the registry with id "
        "'000000000000'",
    )
    assert _error(lambda: ecr.delete_repository(repositoryName=f"team/{name}"))[0] == (
        "RepositoryNotFoundException"
    )


def test_bad_names_and_values(ecr: Any, name: str) -> None:
    code, message, status = _error(lambda: ecr.create_repository(repositoryName="MyRepo"))
    assert (code, status) == ("InvalidParameterException", 400)
    assert message == (
        "Invalid parameter at 'repositoryName' failed to satisfy constraint: 'must satisfy "
        "regular expression '[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*''"
    )
    assert _error(lambda: ecr.create_repository(repositoryName="a--"))[0] == (
        "InvalidParameterException"
    )
    # Runs of dashes and double underscores inside a name are fine.
    ecr.create_repository(repositoryName=f"{name}--x__y")
    code, message, _ = _error(
        lambda: ecr.create_repository(repositoryName=name, imageTagMutability="SOMETIMES")
    )
    assert code == "ValidationException"
    assert "Member must satisfy enum value set" in message
    code, message, _ = _error(
        lambda: ecr.create_repository(
            repositoryName=name, imageTagMutability="IMMUTABLE_WITH_EXCLUSION"
        )
    )
    assert code == "InvalidParameterException" and "can't be null" in message
    code, _, _ = _error(
        lambda: ecr.create_repository(
            repositoryName=name, tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)]
        )
    )
    assert code == "TooManyTagsException"


def test_pages_of_repositories(server: Server) -> None:
    # An account of its own, so the listing holds only this test's repositories.
    ecr = server.client("ecr", aws_access_key_id="222233334444")
    names = [f"page-{i:02d}" for i in range(7)]
    for repository in names:
        ecr.create_repository(repositoryName=repository)
    seen: list[str] = []
    kwargs: dict[str, Any] = {"maxResults": 3}
    pages = 0
    while True:
        page = ecr.describe_repositories(**kwargs)
        assert len(page["repositories"]) <= 3
        seen += [r["repositoryName"] for r in page["repositories"]]
        pages += 1
        if "nextToken" not in page:
            break
        kwargs["nextToken"] = page["nextToken"]
    assert (seen, pages) == (names, 3)
    everything = ecr.get_paginator("describe_repositories").paginate()
    assert [r["repositoryName"] for p in everything for r in p["repositories"]] == names
    code, message, _ = _error(lambda: ecr.describe_repositories(maxResults=1001))
    assert code == "ValidationException" and "less than or equal to 1000" in message


def test_lifecycle_and_repository_policies(ecr: Any, name: str) -> None:
    ecr.create_repository(repositoryName=name)
    missing = f"for the repository with name '{name}' in the registry with id '000000000000'"
    code, message, _ = _error(lambda: ecr.get_lifecycle_policy(repositoryName=name))
    assert (code, message) == (
        "LifecyclePolicyNotFoundException",
        f"Lifecycle policy does not exist {missing}",
    )
    out = ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=LIFECYCLE)
    assert (out["repositoryName"], out["registryId"]) == (name, "000000000000")
    assert ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"] == LIFECYCLE
    code, message, _ = _error(
        lambda: ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText="{" * 100)
    )
    assert code == "InvalidParameterException"
    assert "Lifecycle policy validation failure" in message
    assert ecr.delete_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"] == LIFECYCLE
    assert _error(lambda: ecr.delete_lifecycle_policy(repositoryName=name))[0] == (
        "LifecyclePolicyNotFoundException"
    )
    code, message, _ = _error(lambda: ecr.get_repository_policy(repositoryName=name))
    assert (code, message) == (
        "RepositoryPolicyNotFoundException",
        f"Repository policy does not exist {missing}",
    )
    ecr.set_repository_policy(repositoryName=name, policyText=POLICY)
    assert ecr.get_repository_policy(repositoryName=name)["policyText"] == POLICY
    code, message, _ = _error(
        lambda: ecr.set_repository_policy(repositoryName=name, policyText="not json")
    )
    assert (code, message) == (
        "InvalidParameterException",
        "Invalid parameter at 'PolicyText' failed to satisfy constraint: "
        "'Invalid repository policy provided'",
    )
    assert ecr.delete_repository_policy(repositoryName=name)["policyText"] == POLICY
    assert _error(lambda: ecr.get_repository_policy(repositoryName=name))[0] == (
        "RepositoryPolicyNotFoundException"
    )


def test_settings_and_tags(ecr: Any, name: str) -> None:
    arn = ecr.create_repository(repositoryName=name)["repository"]["repositoryArn"]
    out = ecr.put_image_tag_mutability(repositoryName=name, imageTagMutability="IMMUTABLE")
    assert out["imageTagMutability"] == "IMMUTABLE"
    out = ecr.put_image_scanning_configuration(
        repositoryName=name, imageScanningConfiguration={"scanOnPush": True}
    )
    assert out["imageScanningConfiguration"] == {"scanOnPush": True}
    repository = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    ecr.tag_resource(resourceArn=arn, tags=[{"Key": "a", "Value": "3"}])
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [
        {"Key": "a", "Value": "3"},
        {"Key": "b", "Value": "2"},
    ]
    ecr.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert ecr.list_tags_for_resource(resourceArn=arn)["tags"] == [{"Key": "b", "Value": "2"}]
    code, message, _ = _error(lambda: ecr.list_tags_for_resource(resourceArn="arn:nope"))
    assert (code, message) == (
        "InvalidParameterException",
        "Invalid parameter at 'resourceArn' failed to satisfy constraint: 'Invalid ARN'",
    )
    assert _error(lambda: ecr.list_tags_for_resource(resourceArn=arn + "x"))[0] == (
        "RepositoryNotFoundException"
    )


def test_accounts_are_isolated(server: Server, ecr: Any, name: str) -> None:
    other = server.client("ecr", aws_access_key_id=OTHER_ACCOUNT)
    mine = ecr.create_repository(repositoryName=name)["repository"]
    theirs = other.create_repository(repositoryName=name)["repository"]
    assert theirs["repositoryUri"].startswith(f"{OTHER_ACCOUNT}.dkr.ecr.us-east-1.")
    assert theirs["repositoryArn"] != mine["repositoryArn"]
    other.delete_repository(repositoryName=name)
    assert ecr.describe_repositories(repositoryNames=[name])["repositories"] == [mine]
    # Naming the first account's registry or ARN reaches nothing of it.
    code, message, _ = _error(
        lambda: other.describe_repositories(registryId="000000000000", repositoryNames=[name])
    )
    assert (code, message) == (
        "RepositoryNotFoundException",
        f"The repository with name '{name}' does not exist in the registry with id '000000000000'",
    )
    assert (
        _error(lambda: other.list_tags_for_resource(resourceArn=mine["repositoryArn"]))[0]
        == "RepositoryNotFoundException"
    )
    assert (
        _error(lambda: other.delete_repository(registryId="000000000000", repositoryName=name))[0]
        == "RepositoryNotFoundException"
    )


def test_image_operations_are_named_as_not_implemented(ecr: Any, name: str) -> None:
    ecr.create_repository(repositoryName=name)
    code, message, status = _error(lambda: ecr.describe_images(repositoryName=name))
    assert (code, status) == ("NotImplementedException", 501)
    assert "DescribeImages" in message


def test_repositories_survive_kill_9(fresh_server: Callable[..., Server], tmp_path: Any) -> None:
    data = tmp_path / "data"
    first = fresh_server(data)
    first.client("ecr").create_repository(repositoryName="kept")
    first.client("ecr").put_lifecycle_policy(repositoryName="kept", lifecyclePolicyText=LIFECYCLE)
    first.stop(signal.SIGKILL)
    ecr = fresh_server(data).client("ecr")
    assert ecr.describe_repositories()["repositories"][0]["repositoryName"] == "kept"
    assert ecr.get_lifecycle_policy(repositoryName="kept")["lifecyclePolicyText"] == LIFECYCLE
