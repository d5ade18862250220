"""CloudFormation's CloudWatch Logs providers, in process: each acts through the `logs`
service's own operations as the stack's account (`app.service_calls.run`), and the results
are checked through the same operations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fireside.aws.errors import ServiceError
from fireside.cloudformation.providers import all_providers
from fireside.cloudformation.resource_types import ResourceContext, ResourceFailed, ResourceType
from tests.cfn_data_support import ACCOUNT, OTHER_ACCOUNT, REGION, App

OTHER = OTHER_ACCOUNT


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    built = App(tmp_path_factory.mktemp("cfn-logs"))
    yield built
    built.close()


def context(app: App, logical: str = "Logs", account: str = ACCOUNT) -> ResourceContext:
    ctx = app.ctx(logical, account=account)
    ctx.generated_name = f"stack-{logical}-ABCDEF123456"
    ctx.tags = {"aws:cloudformation:stack-name": "stack"}
    return ctx


def provider(name: str) -> ResourceType:
    found = all_providers().get(name)
    assert found is not None
    return found


def run(app: App, operation: str, params: dict[str, Any], account: str = ACCOUNT) -> Any:
    return app.run(app.call("logs", operation, params, account))


def test_a_log_group_with_retention_and_tags(app: App) -> None:
    groups = provider("AWS::Logs::LogGroup")
    ctx = context(app)
    properties = {
        "LogGroupName": "/aws/lambda/declared",
        "RetentionInDays": "7",  # templates often give numbers as strings
        "Tags": [{"Key": "team", "Value": "a"}],
    }
    created = app.run(groups.create(ctx, properties))
    assert created.physical_id == "/aws/lambda/declared"
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/declared"
    assert created.attributes == {"Arn": arn + ":*"}
    (described,) = run(app, "DescribeLogGroups", {"logGroupNamePrefix": "/aws/lambda/declared"})[
        "logGroups"
    ]
    assert described["retentionInDays"] == 7
    assert run(app, "ListTagsForResource", {"resourceArn": arn})["tags"] == {
        "team": "a",
        "aws:cloudformation:stack-name": "stack",
    }

    with pytest.raises(ResourceFailed) as caught:
        app.run(groups.create(ctx, properties))
    assert str(caught.value).startswith(
        "Resource handler returned message: \"Resource of type 'AWS::Logs::LogGroup' with "
        "identifier '/aws/lambda/declared' already exists.\" (RequestToken: "
    )
    assert str(caught.value).endswith(", HandlerErrorCode: AlreadyExists)")

    updated = {"LogGroupName": "/aws/lambda/declared", "Tags": [{"Key": "env", "Value": "b"}]}
    app.run(groups.update(ctx, created.physical_id, properties, updated))
    (described,) = run(app, "DescribeLogGroups", {"logGroupNamePrefix": "/aws/lambda/declared"})[
        "logGroups"
    ]
    assert "retentionInDays" not in described
    assert run(app, "ListTagsForResource", {"resourceArn": arn})["tags"] == {
        "env": "b",
        "aws:cloudformation:stack-name": "stack",
    }
    assert groups.replace_on >= {"LogGroupName"}

    app.run(groups.delete(ctx, created.physical_id, updated))
    assert run(app, "DescribeLogGroups", {"logGroupNamePrefix": "/aws/lambda/declared"}) == {
        "logGroups": []
    }
    app.run(groups.delete(ctx, created.physical_id, updated))  # already gone: succeeds


def test_an_unnamed_group_and_its_stream(app: App) -> None:
    groups, streams = provider("AWS::Logs::LogGroup"), provider("AWS::Logs::LogStream")
    ctx = context(app, "Unnamed")
    group = app.run(groups.create(ctx, {}))
    assert group.physical_id == "stack-Unnamed-ABCDEF123456"
    stream_ctx = context(app, "Stream")
    stream = app.run(streams.create(stream_ctx, {"LogGroupName": group.physical_id}))
    listed = run(app, "DescribeLogStreams", {"logGroupName": group.physical_id})["logStreams"]
    assert [s["logStreamName"] for s in listed] == [stream.physical_id]
    app.run(streams.delete(stream_ctx, stream.physical_id, {"LogGroupName": group.physical_id}))
    assert run(app, "DescribeLogStreams", {"logGroupName": group.physical_id})["logStreams"] == []
    app.run(groups.delete(ctx, group.physical_id, {}))


def test_bad_retention_fails_and_leaves_nothing(app: App) -> None:
    groups = provider("AWS::Logs::LogGroup")
    with pytest.raises(ResourceFailed) as caught:
        app.run(groups.create(context(app), {"LogGroupName": "/bad", "RetentionInDays": 2}))
    assert "HandlerErrorCode: InvalidRequest" in str(caught.value)
    assert run(app, "DescribeLogGroups", {"logGroupNamePrefix": "/bad"}) == {"logGroups": []}


def test_bad_names_get_the_models_message(app: App) -> None:
    groups = provider("AWS::Logs::LogGroup")
    with pytest.raises(ResourceFailed) as caught:
        app.run(groups.create(context(app), {"LogGroupName": "bad name!"}))
    assert "failed to satisfy constraint" in str(caught.value)
    assert "HandlerErrorCode: InvalidRequest" in str(caught.value)
    with pytest.raises(ResourceFailed) as caught:
        app.run(provider("AWS::Logs::LogStream").create(context(app), {}))
    assert "required key [LogGroupName] not found" in str(caught.value)


def test_a_stack_acts_as_its_own_account(app: App) -> None:
    groups = provider("AWS::Logs::LogGroup")
    app.run(groups.create(context(app, account=OTHER), {"LogGroupName": "/theirs"}))
    assert run(app, "DescribeLogGroups", {"logGroupNamePrefix": "/theirs"}) == {"logGroups": []}
    with pytest.raises(ServiceError):
        run(app, "DeleteLogGroup", {"logGroupName": "/theirs"})
    found = run(app, "DescribeLogGroups", {"logGroupNamePrefix": "/theirs"}, account=OTHER)
    assert [g["logGroupName"] for g in found["logGroups"]] == ["/theirs"]
