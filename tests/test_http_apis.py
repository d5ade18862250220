"""API Gateway HTTP APIs' control plane (`apigatewayv2`) through boto3 against a live server:
APIs, quick create, routes, integrations, authorizers, stages, deployments, tags, OpenAPI
import, errors as AWS words them, and durability across a restart."""

from __future__ import annotations

import contextlib
import json
import urllib.request
import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ROLE, Server, python_zip

FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:hello"


@pytest.fixture()
def v2(server: Server) -> Any:
    return server.client("apigatewayv2")


@pytest.fixture()
def api_id(v2: Any) -> Any:
    found = v2.create_api(Name=f"api-{uuid.uuid4().hex[:6]}", ProtocolType="HTTP")["ApiId"]
    yield found
    with contextlib.suppress(ClientError):
        v2.delete_api(ApiId=found)


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    error = excinfo.value.response["Error"]
    status = excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]
    return error["Code"], error["Message"], status


def test_create_get_list_update_delete_api(v2: Any, server: Server) -> None:
    created = v2.create_api(
        Name="shop",
        ProtocolType="HTTP",
        Description="d",
        CorsConfiguration={"AllowOrigins": ["https://example.com"], "MaxAge": 60},
        Tags={"team": "a"},
    )
    api = created["ApiId"]
    assert len(api) == 10 and api.isalnum() and api == api.lower()
    assert created["ApiEndpoint"] == f"http://{api}.execute-api.localhost:{server.port}"
    assert created["RouteSelectionExpression"] == "$request.method $request.path"
    assert created["ApiKeySelectionExpression"] == "$request.header.x-api-key"
    assert created["Tags"] == {"team": "a"}
    got = v2.get_api(ApiId=api)
    assert got["Name"] == "shop" and got["CorsConfiguration"]["MaxAge"] == 60
    assert api in [a["ApiId"] for a in v2.get_apis()["Items"]]
    updated = v2.update_api(ApiId=api, Name="shop2", CorsConfiguration={"AllowOrigins": ["*"]})
    assert updated["Name"] == "shop2" and updated["Description"] == "d"
    assert updated["CorsConfiguration"] == {"AllowOrigins": ["*"]}
    v2.delete_cors_configuration(ApiId=api)
    assert "CorsConfiguration" not in v2.get_api(ApiId=api)
    v2.delete_api(ApiId=api)
    with pytest.raises(ClientError) as excinfo:
        v2.get_api(ApiId=api)
    assert _error(excinfo) == (
        "NotFoundException",
        f"Invalid API identifier specified 000000000000:{api}",
        404,
    )


def test_bad_protocol_and_other_accounts(v2: Any, server: Server, api_id: str) -> None:
    with pytest.raises(ClientError) as excinfo:
        v2.create_api(Name="x", ProtocolType="GRPC")
    assert _error(excinfo) == (
        "BadRequestException",
        "Invalid protocol specified. Must be one of [HTTP, WEBSOCKET]",
        400,
    )
    other_region = server.client("apigatewayv2", region_name="eu-west-1")
    with pytest.raises(ClientError) as excinfo:
        other_region.get_api(ApiId=api_id)
    assert _error(excinfo)[0] == "NotFoundException"
    assert api_id not in [a["ApiId"] for a in other_region.get_apis()["Items"]]


def test_quick_create(v2: Any) -> None:
    api = v2.create_api(Name="quick", ProtocolType="HTTP", Target=FUNCTION)["ApiId"]
    try:
        (route,) = v2.get_routes(ApiId=api)["Items"]
        assert route["RouteKey"] == "$default" and route["ApiGatewayManaged"] is True
        (integration,) = v2.get_integrations(ApiId=api)["Items"]
        assert route["Target"] == f"integrations/{integration['IntegrationId']}"
        assert integration["IntegrationType"] == "AWS_PROXY"
        assert integration["PayloadFormatVersion"] == "2.0"
        assert integration["IntegrationUri"] == FUNCTION
        (stage,) = v2.get_stages(ApiId=api)["Items"]
        assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
        deployments = v2.get_deployments(ApiId=api)["Items"]
        assert [d["DeploymentId"] for d in deployments] == [stage["DeploymentId"]]
        assert deployments[0]["AutoDeployed"] is True
        assert deployments[0]["DeploymentStatus"] == "DEPLOYED"
    finally:
        v2.delete_api(ApiId=api)


def test_routes(v2: Any, api_id: str) -> None:
    integration = v2.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=FUNCTION,
        PayloadFormatVersion="1.0",
    )
    target = f"integrations/{integration['IntegrationId']}"
    route = v2.create_route(ApiId=api_id, RouteKey="GET /items/{id}", Target=target)
    assert route["AuthorizationType"] == "NONE" and route["ApiKeyRequired"] is False
    assert len(route["RouteId"]) == 7
    assert v2.get_route(ApiId=api_id, RouteId=route["RouteId"])["Target"] == target
    with pytest.raises(ClientError) as excinfo:
        v2.create_route(ApiId=api_id, RouteKey="GET /items/{id}")
    assert _error(excinfo)[0::2] == ("ConflictException", 409)
    for bad in ("FETCH /x", "GET items", "GET /{proxy+}/x"):
        with pytest.raises(ClientError) as excinfo:
            v2.create_route(ApiId=api_id, RouteKey=bad)
        assert _error(excinfo)[0] == "BadRequestException", bad
    with pytest.raises(ClientError) as excinfo:
        v2.create_route(ApiId=api_id, RouteKey="GET /y", Target="integrations/nope")
    assert _error(excinfo)[0] == "BadRequestException"
    updated = v2.update_route(ApiId=api_id, RouteId=route["RouteId"], RouteKey="ANY /{proxy+}")
    assert updated["RouteKey"] == "ANY /{proxy+}" and updated["Target"] == target
    assert [r["RouteKey"] for r in v2.get_routes(ApiId=api_id)["Items"]] == ["ANY /{proxy+}"]
    with pytest.raises(ClientError) as excinfo:
        v2.delete_integration(ApiId=api_id, IntegrationId=integration["IntegrationId"])
    assert _error(excinfo)[0] == "ConflictException"
    v2.delete_route(ApiId=api_id, RouteId=route["RouteId"])
    with pytest.raises(ClientError) as excinfo:
        v2.get_route(ApiId=api_id, RouteId=route["RouteId"])
    assert _error(excinfo) == (
        "NotFoundException",
        f"Invalid Route identifier specified {route['RouteId']}",
        404,
    )


def test_integrations(v2: Any, api_id: str) -> None:
    with pytest.raises(ClientError) as excinfo:  # as AWS: SDKs must name the version
        v2.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=FUNCTION)
    assert _error(excinfo) == (
        "BadRequestException",
        "PayloadFormatVersion is a required parameter for integration",
        400,
    )
    created = v2.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=FUNCTION,
        PayloadFormatVersion="2.0",
    )
    assert created["PayloadFormatVersion"] == "2.0"
    assert created["TimeoutInMillis"] == 30000
    assert created["IntegrationMethod"] == "POST"
    assert created["ConnectionType"] == "INTERNET"
    integration_id = created["IntegrationId"]
    updated = v2.update_integration(
        ApiId=api_id, IntegrationId=integration_id, TimeoutInMillis=5000
    )
    assert updated["TimeoutInMillis"] == 5000 and updated["IntegrationUri"] == FUNCTION
    for bad in (
        {"TimeoutInMillis": 30001},
        {"PayloadFormatVersion": "3.0"},
    ):
        with pytest.raises(ClientError) as excinfo:
            v2.update_integration(ApiId=api_id, IntegrationId=integration_id, **bad)
        assert _error(excinfo)[0] == "BadRequestException", bad
    with pytest.raises(ClientError) as excinfo:
        v2.create_integration(ApiId=api_id, IntegrationType="MOCK")
    assert _error(excinfo) == (
        "BadRequestException",
        "Currently, an API with a protocol type of HTTP may only be associated with proxy "
        "integrations (AWS_PROXY, HTTP_PROXY)",
        400,
    )
    http = v2.create_integration(
        ApiId=api_id,
        IntegrationType="HTTP_PROXY",
        IntegrationUri="https://example.com",
        IntegrationMethod="GET",
        PayloadFormatVersion="1.0",
    )
    assert http["PayloadFormatVersion"] == "1.0"
    assert len(v2.get_integrations(ApiId=api_id)["Items"]) == 2
    v2.delete_integration(ApiId=api_id, IntegrationId=integration_id)
    with pytest.raises(ClientError) as excinfo:
        v2.get_integration(ApiId=api_id, IntegrationId=integration_id)
    assert _error(excinfo) == (
        "NotFoundException",
        f"Invalid Integration identifier specified {integration_id}",
        404,
    )


def test_authorizers(v2: Any, api_id: str) -> None:
    jwt = v2.create_authorizer(
        ApiId=api_id,
        AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        Name="jwt",
        JwtConfiguration={"Issuer": "https://issuer.example", "Audience": ["app"]},
    )
    request = v2.create_authorizer(
        ApiId=api_id,
        AuthorizerType="REQUEST",
        IdentitySource=["$request.header.X-Key"],
        Name="lambda",
        AuthorizerUri=FUNCTION,
        AuthorizerPayloadFormatVersion="2.0",
        EnableSimpleResponses=True,
    )
    assert request["AuthorizerResultTtlInSeconds"] == 0
    with pytest.raises(ClientError) as excinfo:
        v2.create_authorizer(
            ApiId=api_id,
            AuthorizerType="REQUEST",
            IdentitySource=["$request.header.X-Key"],
            Name="bad",
            AuthorizerUri=FUNCTION,
            AuthorizerPayloadFormatVersion="1.0",
            EnableSimpleResponses=True,
        )
    assert _error(excinfo)[0] == "BadRequestException"
    route = v2.create_route(
        ApiId=api_id,
        RouteKey="GET /me",
        AuthorizationType="JWT",
        AuthorizerId=jwt["AuthorizerId"],
        AuthorizationScopes=["read"],
    )
    assert route["AuthorizationScopes"] == ["read"]
    with pytest.raises(ClientError) as excinfo:
        v2.delete_authorizer(ApiId=api_id, AuthorizerId=jwt["AuthorizerId"])
    assert _error(excinfo)[0] == "ConflictException"
    renamed = v2.update_authorizer(ApiId=api_id, AuthorizerId=jwt["AuthorizerId"], Name="j2")
    assert renamed["Name"] == "j2" and renamed["JwtConfiguration"]["Audience"] == ["app"]
    assert {a["Name"] for a in v2.get_authorizers(ApiId=api_id)["Items"]} == {"j2", "lambda"}
    v2.delete_authorizer(ApiId=api_id, AuthorizerId=request["AuthorizerId"])
    with pytest.raises(ClientError) as excinfo:
        v2.get_authorizer(ApiId=api_id, AuthorizerId=request["AuthorizerId"])
    assert _error(excinfo)[0::2] == ("NotFoundException", 404)


def test_stages_and_deployments(v2: Any, api_id: str) -> None:
    integration = v2.create_integration(
        ApiId=api_id,
        IntegrationType="AWS_PROXY",
        IntegrationUri=FUNCTION,
        PayloadFormatVersion="2.0",
    )["IntegrationId"]
    v2.create_route(ApiId=api_id, RouteKey="GET /a", Target=f"integrations/{integration}")
    deployment = v2.create_deployment(ApiId=api_id, Description="first")
    assert deployment["DeploymentStatus"] == "DEPLOYED" and deployment["AutoDeployed"] is False
    stage = v2.create_stage(
        ApiId=api_id,
        StageName="prod",
        DeploymentId=deployment["DeploymentId"],
        StageVariables={"fn": "hello"},
        Tags={"env": "prod"},
    )
    assert stage["DeploymentId"] == deployment["DeploymentId"]
    assert stage["AutoDeploy"] is False and stage["Tags"] == {"env": "prod"}
    with pytest.raises(ClientError) as excinfo:
        v2.create_stage(ApiId=api_id, StageName="prod")
    assert _error(excinfo)[0::2] == ("ConflictException", 409)
    with pytest.raises(ClientError) as excinfo:
        v2.get_stage(ApiId=api_id, StageName="nope")
    assert _error(excinfo) == ("NotFoundException", "Invalid stage identifier specified", 404)
    # A manual stage keeps its deployment through changes; an AutoDeploy stage follows them.
    auto = v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    assert auto["DeploymentId"] != deployment["DeploymentId"]
    v2.create_route(ApiId=api_id, RouteKey="GET /b", Target=f"integrations/{integration}")
    assert (
        v2.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"] == (deployment["DeploymentId"])
    )
    after = v2.get_stage(ApiId=api_id, StageName="$default")
    assert after["DeploymentId"] not in (auto["DeploymentId"], deployment["DeploymentId"])
    assert after["LastDeploymentStatusMessage"].startswith("Successfully deployed")
    with pytest.raises(ClientError) as excinfo:
        v2.delete_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])
    assert _error(excinfo)[0] == "BadRequestException"
    second = v2.create_deployment(ApiId=api_id, StageName="prod")
    assert v2.get_stage(ApiId=api_id, StageName="prod")["DeploymentId"] == (second["DeploymentId"])
    v2.delete_deployment(ApiId=api_id, DeploymentId=deployment["DeploymentId"])
    updated = v2.update_stage(ApiId=api_id, StageName="prod", StageVariables={"fn": "other"})
    assert updated["StageVariables"] == {"fn": "other"}
    names = [s["StageName"] for s in v2.get_stages(ApiId=api_id)["Items"]]
    assert sorted(names) == ["$default", "prod"]
    v2.delete_stage(ApiId=api_id, StageName="prod")
    assert [s["StageName"] for s in v2.get_stages(ApiId=api_id)["Items"]] == ["$default"]


def test_tags(v2: Any, api_id: str) -> None:
    arn = f"arn:aws:apigateway:us-east-1::/apis/{api_id}"
    v2.tag_resource(ResourceArn=arn, Tags={"a": "1", "b": "2"})
    v2.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert v2.get_tags(ResourceArn=arn)["Tags"] == {"b": "2"}
    assert v2.get_api(ApiId=api_id)["Tags"] == {"b": "2"}
    v2.create_stage(ApiId=api_id, StageName="dev")
    v2.tag_resource(ResourceArn=f"{arn}/stages/dev", Tags={"s": "1"})
    assert v2.get_stage(ApiId=api_id, StageName="dev")["Tags"] == {"s": "1"}
    with pytest.raises(ClientError) as excinfo:
        v2.get_tags(ResourceArn="arn:aws:apigateway:us-east-1::/apis/nope")
    assert _error(excinfo)[0] == "NotFoundException"


def test_pagination(v2: Any, api_id: str) -> None:
    for index in range(5):
        v2.create_route(ApiId=api_id, RouteKey=f"GET /r{index}")
    first = v2.get_routes(ApiId=api_id, MaxResults="2")
    assert len(first["Items"]) == 2 and first["NextToken"]
    keys = [r["RouteKey"] for r in first["Items"]]
    token = first["NextToken"]
    while token:
        page = v2.get_routes(ApiId=api_id, MaxResults="2", NextToken=token)
        keys += [r["RouteKey"] for r in page["Items"]]
        token = page.get("NextToken")
    assert keys == [f"GET /r{i}" for i in range(5)]


SAM_LIKE = f"""
openapi: "3.0.1"
info:
  title: sam-app
  version: "1.0"
paths:
  /hello:
    get:
      x-amazon-apigateway-integration:
        httpMethod: POST
        type: aws_proxy
        uri: arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FUNCTION}/invocations
        payloadFormatVersion: "2.0"
      responses: {{}}
  /items/{{id}}:
    parameters:
      - name: id
        in: path
        required: true
    x-amazon-apigateway-any-method:
      security:
        - MyJwt: [read]
      x-amazon-apigateway-integration:
        type: aws_proxy
        uri: {FUNCTION}
        payloadFormatVersion: "1.0"
  $default:
    x-amazon-apigateway-any-method:
      isDefaultRoute: true
      x-amazon-apigateway-integration:
        type: aws_proxy
        httpMethod: POST
        uri: {FUNCTION}
        payloadFormatVersion: "2.0"
      responses: {{}}
components:
  securitySchemes:
    MyJwt:
      type: oauth2
      x-amazon-apigateway-authorizer:
        type: jwt
        identitySource: $request.header.Authorization
        jwtConfiguration:
          issuer: https://issuer.example
          audience: [app]
x-amazon-apigateway-cors:
  allowOrigins: ["https://app.example"]
  allowMethods: [GET, POST]
  maxAge: 300
tags:
  - name: httpapi:createdBy
    x-amazon-apigateway-tag-value: SAM
"""


def test_import_and_reimport_openapi(v2: Any) -> None:
    imported = v2.import_api(Body=SAM_LIKE)
    api = imported["ApiId"]
    try:
        assert imported["Name"] == "sam-app" and imported["Version"] == "1.0"
        assert imported["Tags"] == {"httpapi:createdBy": "SAM"}
        assert imported["CorsConfiguration"] == {
            "AllowOrigins": ["https://app.example"],
            "AllowMethods": ["GET", "POST"],
            "MaxAge": 300,
        }
        routes = {r["RouteKey"]: r for r in v2.get_routes(ApiId=api)["Items"]}
        assert set(routes) == {"GET /hello", "ANY /items/{id}", "$default"}
        integrations = {i["IntegrationId"]: i for i in v2.get_integrations(ApiId=api)["Items"]}
        hello = integrations[routes["GET /hello"]["Target"].removeprefix("integrations/")]
        assert hello["IntegrationType"] == "AWS_PROXY"
        assert hello["IntegrationUri"].endswith(f"functions/{FUNCTION}/invocations")
        items = integrations[routes["ANY /items/{id}"]["Target"].removeprefix("integrations/")]
        assert items["PayloadFormatVersion"] == "1.0"
        (authorizer,) = v2.get_authorizers(ApiId=api)["Items"]
        assert authorizer["AuthorizerType"] == "JWT" and authorizer["Name"] == "MyJwt"
        assert authorizer["IdentitySource"] == ["$request.header.Authorization"]
        assert authorizer["JwtConfiguration"] == {
            "Issuer": "https://issuer.example",
            "Audience": ["app"],
        }
        assert routes["ANY /items/{id}"]["AuthorizationType"] == "JWT"
        assert routes["ANY /items/{id}"]["AuthorizerId"] == authorizer["AuthorizerId"]
        assert routes["ANY /items/{id}"]["AuthorizationScopes"] == ["read"]
        # Reimport replaces the definition (JSON this time).
        again = {
            "openapi": "3.0.1",
            "info": {"title": "renamed", "version": "2"},
            "paths": {
                "/only": {
                    "post": {
                        "x-amazon-apigateway-integration": {
                            "type": "AWS_PROXY",
                            "uri": FUNCTION,
                            "payloadFormatVersion": "2.0",
                        }
                    }
                }
            },
        }
        reimported = v2.reimport_api(ApiId=api, Body=json.dumps(again))
        assert reimported["Name"] == "renamed" and "CorsConfiguration" not in reimported
        assert [r["RouteKey"] for r in v2.get_routes(ApiId=api)["Items"]] == ["POST /only"]
        assert len(v2.get_integrations(ApiId=api)["Items"]) == 1
        assert v2.get_authorizers(ApiId=api)["Items"] == []
    finally:
        v2.delete_api(ApiId=api)
    for bad in ("not: [valid", json.dumps({"info": {"title": "x"}, "paths": {}})):
        with pytest.raises(ClientError) as excinfo:
            v2.import_api(Body=bad)
        assert _error(excinfo)[0] == "BadRequestException"


def test_survives_restart(fresh_server: Any, tmp_path: Any) -> None:
    data = tmp_path / "data"
    srv = fresh_server(data, FIRESIDE_SANDBOX="process")
    lam = srv.client()
    function = lam.create_function(
        FunctionName="durable",
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip("def handler(event, context):\n    return event['rawPath']\n")},
    )["FunctionArn"]
    lam.add_permission(
        FunctionName="durable",
        StatementId="apigw",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn="arn:aws:execute-api:us-east-1:000000000000:*",
    )
    v2 = srv.client("apigatewayv2")
    api = v2.create_api(Name="durable", ProtocolType="HTTP", Target=function)["ApiId"]
    v2.create_stage(ApiId=api, StageName="dev", StageVariables={"a": "b"})
    srv.stop()
    srv = fresh_server(data, FIRESIDE_SANDBOX="process")
    v2 = srv.client("apigatewayv2")
    assert v2.get_api(ApiId=api)["Name"] == "durable"
    assert v2.get_stage(ApiId=api, StageName="dev")["StageVariables"] == {"a": "b"}
    assert [r["RouteKey"] for r in v2.get_routes(ApiId=api)["Items"]] == ["$default"]
    assert v2.get_api(ApiId=api)["ApiEndpoint"].endswith(f":{srv.port}")
    url = f"{srv.endpoint}/_aws/execute-api/{api}/still/here"
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.read() == b"/still/here"
