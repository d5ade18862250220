"""OpenAPI documents: JSON or YAML, and a YAML alias bomb refused before any import walks it."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from fireside.gateway import openapi_text
from tests.conftest import Server

#: Nine levels of nine aliases each: under 1 KB of text, 9**9 (387 million) nodes expanded.
BOMB = "openapi: '3.0.1'\npaths: {}\na0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{n}: &a{n} [{', '.join(['*a' + str(n - 1)] * 9)}]\n" for n in range(1, 10)
)

YAML = """
openapi: "3.0.1"
info: {title: from-yaml, version: "1"}
paths:
  /items:
    get:
      x-amazon-apigateway-integration: {type: mock, requestTemplates: {application/json: '{"statusCode": 200}'}}
"""


def test_json_then_yaml() -> None:
    assert openapi_text.load('{"openapi": "3.0.1", "paths": {}}')["openapi"] == "3.0.1"
    assert openapi_text.load(YAML)["info"]["title"] == "from-yaml"
    with pytest.raises(openapi_text.DocumentError, match="invalid JSON or YAML"):
        openapi_text.load("paths: [unclosed")


def test_an_alias_bomb_is_refused() -> None:
    assert len(BOMB) < 1024
    with pytest.raises(openapi_text.DocumentError, match="expands to more than"):
        openapi_text.load(BOMB)


@pytest.mark.parametrize("service", ["apigateway", "apigatewayv2"])
def test_both_imports_refuse_it_as_a_bad_request(server: Server, service: str) -> None:
    client: Any = server.client(service)
    with pytest.raises(ClientError) as caught:
        if service == "apigateway":
            client.import_rest_api(body=BOMB.encode())
        else:
            client.import_api(Body=BOMB)
    error = caught.value.response
    assert error["Error"]["Code"] == "BadRequestException"
    assert "expands to more than" in error["Error"]["Message"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    # And the server still imports a YAML document.
    if service == "apigateway":
        assert client.import_rest_api(body=YAML.encode())["name"] == "from-yaml"
    else:
        proxy = YAML.replace(
            "type: mock, requestTemplates: {application/json: '{\"statusCode\": 200}'}",
            "type: aws_proxy, payloadFormatVersion: '2.0', uri: "
            "'arn:aws:lambda:us-east-1:000000000000:function:f'",
        )
        assert client.import_api(Body=proxy)["Name"] == "from-yaml"
