"""The `AWS::SSM::Parameter` and `AWS::ECR::Repository` providers, in process: a Fireside
app with its services built (no HTTP), each provider acting through `service_calls.run` as
a stack's account, and the results read back through the same served operations."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from fireside.app import Fireside
from fireside.aws.errors import ServiceError
from fireside.cloudformation.providers import MODULES, all_providers
from fireside.cloudformation.resource_types import (
    NeedsReplacement,
    ResourceContext,
    ResourceFailed,
    ResourceType,
)
from fireside.config import Settings

T = TypeVar("T")
ACCOUNT = "123456789012"
OTHER = "210987654321"
REGION = "us-east-1"
LIFECYCLE = json.dumps(
    {
        "rules": [
            {
                "rulePriority": 1,
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 14,
                },
                "action": {"type": "expire"},
            }
        ]
    }
)


class App:
    def __init__(self, data: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.fireside = Fireside(Settings(data_dir=data, sandbox="process", warm_spares=0))
        self.fireside._build("http://127.0.0.1:4566")

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def call(
        self, service: str, operation: str, params: dict[str, Any], account: str = ACCOUNT
    ) -> Any:
        return self.run(
            self.fireside.service_calls.run(account, REGION, service, operation, params)
        )

    def context(self, logical: str, account: str = ACCOUNT, **tags: str) -> ResourceContext:
        async def call(service: str, operation: str, params: dict[str, Any]) -> dict[str, Any]:
            return await self.fireside.service_calls.run(
                account, REGION, service, operation, params
            )

        return ResourceContext(
            account=account,
            region=REGION,
            stack_name="deploy",
            stack_id=f"arn:aws:cloudformation:{REGION}:{account}:stack/deploy/x",
            logical_id=logical,
            call=call,
            generated_name=f"deploy-{logical}-AbC123xYz",
            tags=dict(tags),
        )


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    built = App(tmp_path_factory.mktemp("cfn-ssm-ecr"))
    yield built
    built.run(built.fireside._shutdown())
    built.loop.close()


def _provider(type_name: str) -> ResourceType:
    assert "ssm" in MODULES and "ecr" in MODULES
    found = all_providers().get(type_name)
    assert found is not None
    return found


def _error(app: App, call: Coroutine[Any, Any, Any]) -> ResourceFailed:
    with pytest.raises(ResourceFailed) as caught:
        app.run(call)
    return caught.value


# -- AWS::SSM::Parameter ----------------------------------------------------------------------


def test_parameter_create_update_delete(app: App) -> None:
    provider = _provider("AWS::SSM::Parameter")
    ctx = app.context("Version", stage="prod")
    properties = {
        "Name": "/cdk-bootstrap/hnb659fds/version",
        "Type": "String",
        "Value": 21,  # a number in the template: CloudFormation passes it as text
        "Description": "bootstrap version",
        "Tags": {"team": "platform"},
    }
    created = app.run(provider.create(ctx, properties))
    assert created.physical_id == "/cdk-bootstrap/hnb659fds/version"
    assert created.attributes == {"Type": "String", "Value": "21"}
    got = app.call("ssm", "GetParameter", {"Name": created.physical_id})["Parameter"]
    assert (got["Value"], got["Version"]) == ("21", 1)
    tags = app.call(
        "ssm", "ListTagsForResource", {"ResourceType": "Parameter", "ResourceId": got["Name"]}
    )["TagList"]
    assert tags == [{"Key": "stage", "Value": "prod"}, {"Key": "team", "Value": "platform"}]

    changed = {**properties, "Value": "22", "Tags": {"owner": "me"}}
    del changed["Description"]
    updated = app.run(provider.update(ctx, created.physical_id, properties, changed))
    assert updated.attributes["Value"] == "22"
    got = app.call("ssm", "GetParameter", {"Name": created.physical_id})["Parameter"]
    assert (got["Value"], got["Version"]) == ("22", 2)
    described = app.call(
        "ssm",
        "DescribeParameters",
        {"ParameterFilters": [{"Key": "Name", "Values": [created.physical_id]}]},
    )["Parameters"][0]
    assert described.get("Description", "") == ""
    tags = app.call(
        "ssm", "ListTagsForResource", {"ResourceType": "Parameter", "ResourceId": got["Name"]}
    )["TagList"]
    assert tags == [{"Key": "owner", "Value": "me"}, {"Key": "stage", "Value": "prod"}]
    # Tags alone make no new version.
    app.run(provider.update(ctx, created.physical_id, changed, {**changed, "Tags": {}}))
    assert (
        app.call("ssm", "GetParameter", {"Name": created.physical_id})["Parameter"]["Version"] == 2
    )
    with pytest.raises(NeedsReplacement):
        app.run(provider.update(ctx, created.physical_id, changed, {**changed, "Name": "/other"}))
    assert "Name" in provider.replace_on

    app.run(provider.delete(ctx, created.physical_id, changed))
    with pytest.raises(ServiceError):
        app.call("ssm", "GetParameter", {"Name": created.physical_id})
    app.run(provider.delete(ctx, created.physical_id, changed))  # already gone: fine


def test_parameter_generated_name_and_failures(app: App) -> None:
    provider = _provider("AWS::SSM::Parameter")
    ctx = app.context("Endpoint")
    created = app.run(provider.create(ctx, {"Type": "StringList", "Value": "a,b"}))
    assert created.physical_id == "deploy-Endpoint-AbC123xYz"
    assert (
        app.call("ssm", "GetParameter", {"Name": created.physical_id})["Parameter"]["Type"]
        == "StringList"
    )
    again = _error(app, provider.create(ctx, {"Type": "StringList", "Value": "a,b"}))
    assert str(again).startswith(
        'Resource handler returned message: "The parameter already exists.'
    )
    assert "HandlerErrorCode: AlreadyExists" in str(again)
    secure = _error(app, provider.create(ctx, {"Name": "/s", "Type": "SecureString", "Value": "x"}))
    assert "SecureString" in str(secure)
    bad = _error(app, provider.create(ctx, {"Name": "/x/y", "Type": "String"}))
    assert "required key [Value]" in str(bad)
    pattern = _error(
        app,
        provider.create(
            ctx, {"Name": "/p", "Type": "String", "Value": "abc", "AllowedPattern": r"^\d+$"}
        ),
    )
    assert "cannot be validated against allowedPattern" in str(pattern)
    assert "HandlerErrorCode: InvalidRequest" in str(pattern)
    # Another account's stack makes its own parameter of the same name.
    theirs = app.context("Endpoint", account=OTHER)
    app.run(provider.create(theirs, {"Name": created.physical_id, "Type": "String", "Value": "z"}))
    assert (
        app.call("ssm", "GetParameter", {"Name": created.physical_id})["Parameter"]["Value"]
        == "a,b"
    )


# -- AWS::ECR::Repository ---------------------------------------------------------------------


def test_repository_create_update_delete(app: App) -> None:
    provider = _provider("AWS::ECR::Repository")
    ctx = app.context("ContainerAssetsRepository")
    properties = {
        "RepositoryName": "cdk-hnb659fds-container-assets-123456789012-us-east-1",
        "ImageTagMutability": "IMMUTABLE",
        "ImageScanningConfiguration": {"ScanOnPush": "true"},
        "LifecyclePolicy": {"LifecyclePolicyText": LIFECYCLE},
        "RepositoryPolicyText": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "LambdaECRImageRetrievalPolicy",
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                }
            ],
        },
        "Tags": [{"Key": "team", "Value": "platform"}],
    }
    created = app.run(provider.create(ctx, properties))
    name = properties["RepositoryName"]
    assert created.physical_id == name
    assert created.attributes == {
        "Arn": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}",
        "RepositoryUri": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}",
    }
    repository = app.call("ecr", "DescribeRepositories", {"repositoryNames": [name]})[
        "repositories"
    ][0]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    policy = app.call("ecr", "GetRepositoryPolicy", {"repositoryName": name})["policyText"]
    assert json.loads(policy)["Statement"][0]["Sid"] == "LambdaECRImageRetrievalPolicy"
    assert (
        app.call("ecr", "GetLifecyclePolicy", {"repositoryName": name})["lifecyclePolicyText"]
        == LIFECYCLE
    )

    changed = {
        **properties,
        "ImageTagMutability": "MUTABLE",
        "ImageScanningConfiguration": {"ScanOnPush": False},
        "Tags": [{"Key": "owner", "Value": "me"}],
    }
    del changed["LifecyclePolicy"]
    del changed["RepositoryPolicyText"]
    updated = app.run(provider.update(ctx, name, properties, changed))
    assert updated.attributes == created.attributes
    repository = app.call("ecr", "DescribeRepositories", {"repositoryNames": [name]})[
        "repositories"
    ][0]
    assert repository["imageTagMutability"] == "MUTABLE"
    assert repository["imageScanningConfiguration"] == {"scanOnPush": False}
    with pytest.raises(ServiceError) as caught:
        app.call("ecr", "GetLifecyclePolicy", {"repositoryName": name})
    assert caught.value.code == "LifecyclePolicyNotFoundException"
    with pytest.raises(ServiceError) as caught:
        app.call("ecr", "GetRepositoryPolicy", {"repositoryName": name})
    assert caught.value.code == "RepositoryPolicyNotFoundException"
    tags = app.call("ecr", "ListTagsForResource", {"resourceArn": created.attributes["Arn"]})
    assert tags["tags"] == [{"Key": "owner", "Value": "me"}]
    with pytest.raises(NeedsReplacement):
        app.run(provider.update(ctx, name, changed, {**changed, "RepositoryName": "other"}))
    with pytest.raises(NeedsReplacement):
        app.run(
            provider.update(
                ctx,
                name,
                changed,
                {**changed, "EncryptionConfiguration": {"EncryptionType": "KMS"}},
            )
        )

    app.run(provider.delete(ctx, name, {**changed, "EmptyOnDelete": True}))
    with pytest.raises(ServiceError) as caught:
        app.call("ecr", "DescribeRepositories", {"repositoryNames": [name]})
    assert caught.value.code == "RepositoryNotFoundException"
    app.run(provider.delete(ctx, name, changed))  # already gone: fine


def test_repository_generated_name_and_failures(app: App) -> None:
    provider = _provider("AWS::ECR::Repository")
    ctx = app.context("Repo")
    created = app.run(provider.create(ctx, {}))
    assert created.physical_id == "deploy-repo-abc123xyz"
    assert created.attributes["RepositoryUri"].endswith("/deploy-repo-abc123xyz")
    bad = _error(app, provider.create(ctx, {"RepositoryName": "Upper"}))
    assert "Invalid parameter at 'repositoryName'" in str(bad)
    assert "HandlerErrorCode: InvalidRequest" in str(bad)
    again = _error(app, provider.create(ctx, {"RepositoryName": created.physical_id}))
    assert "HandlerErrorCode: AlreadyExists" in str(again)
    # A bad policy fails the resource and leaves no repository behind.
    policy = _error(
        app, provider.create(ctx, {"RepositoryName": "half-made", "RepositoryPolicyText": "{}"})
    )
    assert "Invalid repository policy provided" in str(policy)
    with pytest.raises(ServiceError) as caught:
        app.call("ecr", "DescribeRepositories", {"repositoryNames": ["half-made"]})
    assert caught.value.code == "RepositoryNotFoundException"
