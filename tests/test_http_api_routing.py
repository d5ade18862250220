"""HTTP APIs' route selection, OpenAPI reading and access-log lines, in process."""

from __future__ import annotations

import json

import pytest

from fireside.aws.errors import ServiceError
from fireside.gateway.access_log import destination_name, format_line
from fireside.gateway.http_api_routes import RouteTable
from fireside.gateway.http_api_rules import lambda_arn_of, parse_route_key
from fireside.gateway.openapi_import import parse_openapi


def _table(*keys: str) -> RouteTable:
    return RouteTable([{"RouteKey": key, "RouteId": str(i)} for i, key in enumerate(keys)])


# The example of AWS's "Working with routes for HTTP APIs".
AWS_EXAMPLE = _table(
    "GET /pets/dog/1",
    "GET /pets/dog/{id}",
    "GET /pets/{proxy+}",
    "ANY /{proxy+}",
    "$default",
)


@pytest.mark.parametrize(
    ("method", "path", "route_key", "parameters"),
    [
        ("GET", "/pets/dog/1", "GET /pets/dog/1", {}),
        ("GET", "/pets/dog/2", "GET /pets/dog/{id}", {"id": "2"}),
        ("GET", "/pets/cat/1", "GET /pets/{proxy+}", {"proxy": "cat/1"}),
        ("POST", "/pets/dog/1", "ANY /{proxy+}", {"proxy": "pets/dog/1"}),
        ("GET", "/", "$default", {}),
        ("DELETE", "/", "$default", {}),
    ],
)
def test_most_specific_route_wins(
    method: str, path: str, route_key: str, parameters: dict[str, str]
) -> None:
    match = AWS_EXAMPLE.match(method, path)
    assert match is not None
    assert (match.route_key, match.path_parameters) == (route_key, parameters)


def _key(table: RouteTable, method: str, path: str) -> str | None:
    match = table.match(method, path)
    return None if match is None else match.route_key


def test_method_beats_any_and_literal_beats_variable() -> None:
    table = _table("ANY /items/{id}", "GET /items/{id}", "GET /items/new", "GET /{a}/{b}")
    assert _key(table, "GET", "/items/7") == "GET /items/{id}"
    assert _key(table, "PUT", "/items/7") == "ANY /items/{id}"
    assert _key(table, "GET", "/items/new") == "GET /items/new"
    assert _key(table, "GET", "/x/y") == "GET /{a}/{b}"


def test_no_route_without_default() -> None:
    table = _table("GET /a", "ANY /{proxy+}")
    assert table.match("GET", "/") is None  # a greedy variable needs one segment
    assert table.match("GET", "/a/") is not None  # ... and takes the rest, slash included
    assert _table("GET /a").match("POST", "/a") is None
    assert _table("GET /a/{id}").match("GET", "/a/") is None


def test_path_parameters_are_decoded() -> None:
    match = _table("GET /files/{name}").match("GET", "/files/a%20b%2Fc")
    assert match is not None and match.path_parameters == {"name": "a b/c"}


def test_root_route() -> None:
    match = _table("GET /", "GET /{x}").match("GET", "/")
    assert match is not None and match.route_key == "GET /"


@pytest.mark.parametrize(
    "key", ["GET", "GET ", "get /a", "GET a", "GET /a b", "GET /{p+}/x", "GET /a//b"]
)
def test_bad_route_keys(key: str) -> None:
    with pytest.raises(ServiceError) as excinfo:
        parse_route_key(key)
    assert excinfo.value.code == "BadRequestException"


def test_good_route_keys() -> None:
    assert parse_route_key("$default") is None
    assert parse_route_key("ANY /{proxy+}") == ("ANY", "/{proxy+}")
    assert parse_route_key("GET /") == ("GET", "/")


def test_lambda_arns() -> None:
    arn = "arn:aws:lambda:us-east-1:000000000000:function:f"
    assert lambda_arn_of(arn) == arn
    assert lambda_arn_of(f"{arn}:live") == f"{arn}:live"
    wrapped = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations"
    assert lambda_arn_of(wrapped) == arn
    assert lambda_arn_of("https://example.com") is None


def test_openapi_swagger_and_iam() -> None:
    imported = parse_openapi(
        """{"swagger": "2.0", "info": {"title": "t"},
            "securityDefinitions": {"sigv4": {"type": "apiKey", "name": "Authorization",
                                              "in": "header",
                                              "x-amazon-apigateway-authtype": "awsSigv4"},
                                    "auth": {"type": "apiKey", "name": "Authorization",
                                             "in": "header",
                                             "x-amazon-apigateway-authorizer": {
                                                 "type": "request",
                                                 "identitySource": "$request.header.A, $request.querystring.q",
                                                 "authorizerUri": "arn:aws:lambda:us-east-1:000000000000:function:a",
                                                 "authorizerPayloadFormatVersion": "2.0",
                                                 "enableSimpleResponses": true}}},
            "paths": {"/a": {"get": {"security": [{"sigv4": []}]},
                             "post": {"security": [{"auth": []}]},
                             "parameters": []}}}"""
    )
    assert imported.name == "t"
    get, post = imported.routes
    assert (get.route_key, get.iam, get.integration) == ("GET /a", True, None)
    assert post.authorizer == "auth"
    assert imported.authorizers["auth"]["IdentitySource"] == [
        "$request.header.A",
        "$request.querystring.q",
    ]
    assert imported.authorizers["auth"]["EnableSimpleResponses"] is True
    assert not imported.warnings
    missing = {
        "openapi": "3.0.1",
        "info": {"title": "t"},
        "paths": {
            "/a": {
                "get": {
                    "responses": {
                        "200": {
                            "content": {
                                "application/json": {
                                    "schema": {"$ref": "#/components/schemas/Nope"}
                                }
                            }
                        }
                    }
                }
            }
        },
    }
    assert parse_openapi(json.dumps(missing)).routes[0].route_key == "GET /a"
    with pytest.raises(ServiceError) as excinfo:
        parse_openapi(json.dumps(missing), fail_on_warnings=True)
    assert excinfo.value.message == (
        "Warnings found during import:\n\tParse issue: attribute paths.'/a'(get).responses"
        ".200.content.schema.#/components/schemas/Nope is missing"
    )


def test_access_log_lines() -> None:
    arn = "arn:aws:logs:us-east-1:000000000000:log-group:"
    assert destination_name(arn + "/aws/apigateway/my-api") == "aws_apigateway_my-api"
    assert destination_name(arn + "my-api:*") == "my-api"
    for bad in (arn + "../../etc", arn + "/..", "arn:aws:s3:::bucket", arn):
        assert destination_name(bad) is None, bad
    line = format_line(
        "$context.requestId $context.identity.sourceIp $context.unknown\n$context.status",
        {"requestId": "r1", "identity.sourceIp": "127.0.0.1", "status": "200"},
    )
    assert line == "r1 127.0.0.1 - 200"
