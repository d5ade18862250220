"""The SAM transform, in-process: AWS's translator expands a SAM app offline with the
request's region; a bad SAM document fails with CloudFormation's message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fireside.cloudformation.sam import TransformFailed, expand_sam, uses_sam
from fireside.deploy.template_text import load_template

APP = Path(__file__).parent / "deploy_apps" / "sam_python" / "template.yaml"


def _app() -> dict[str, Any]:
    template = load_template(APP.read_text())
    function = template["Resources"]["HelloFunction"]["Properties"]
    function["CodeUri"] = "s3://bucket/code.zip"
    return template


def test_a_sam_app_expands_into_cloudformation() -> None:
    template = _app()
    assert uses_sam(template)
    expanded = expand_sam(template, "eu-west-1", {"Greeting": "hi"})
    assert "Transform" not in expanded
    types = {r["Type"] for r in expanded["Resources"].values()}
    assert {
        "AWS::Lambda::Function",
        "AWS::IAM::Role",
        "AWS::ApiGatewayV2::Api",
        "AWS::ApiGatewayV2::Stage",
        "AWS::Lambda::Permission",
        "AWS::DynamoDB::Table",
    } <= types
    function = expanded["Resources"]["HelloFunction"]["Properties"]
    assert function["Code"] == {"S3Bucket": "bucket", "S3Key": "code.zip"}
    role = expanded["Resources"]["HelloFunctionRole"]["Properties"]
    assert role["ManagedPolicyArns"] == [
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    ]
    permission = next(
        r for r in expanded["Resources"].values() if r["Type"] == "AWS::Lambda::Permission"
    )
    assert "execute-api" in str(permission["Properties"]["SourceArn"])
    # The template given is not changed.
    assert template["Resources"]["HelloFunction"]["Type"] == "AWS::Serverless::Function"


def test_other_transforms_are_kept() -> None:
    template = _app()
    template["Transform"] = ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"]
    assert expand_sam(template, "us-east-1", {})["Transform"] == ["AWS::LanguageExtensions"]


def test_a_bad_sam_document_fails_with_cloudformations_message() -> None:
    template = _app()
    template["Resources"]["HelloFunction"]["Properties"]["Events"]["Hello"]["Type"] = "Nope"
    with pytest.raises(TransformFailed) as failed:
        expand_sam(template, "us-east-1", {})
    message = str(failed.value)
    assert message.startswith("Transform AWS::Serverless-2016-10-31 failed with: ")
    assert "HelloFunction" in message
