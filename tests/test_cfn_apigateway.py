"""CloudFormation's API Gateway resource types (REST APIs and HTTP APIs), driven in-process as
the stack engine drives them: an API imported from an OpenAPI `Body` (what SAM's `Api` and
`HttpApi` become), APIs built part by part, updates, replacements and deletes, checked with
API Gateway's own operations and by calling the deployed APIs over HTTP."""

from __future__ import annotations

import copy
import http.client
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fireside.aws.errors import ServiceError
from fireside.cloudformation.resource_types import ResourceFailed
from tests.cfn_inprocess import ACCOUNT, OTHER_ACCOUNT, REGION, ROLE, App

HANDLER = (
    "import json\n"
    "def handler(event, context):\n"
    "    path = event.get('rawPath') or event.get('path')\n"
    "    return {'statusCode': 200, 'body': json.dumps({'from': 'fn', 'path': path})}\n"
)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[App]:
    instance = App(Path(tmp_path_factory.mktemp("cfn-apigateway")))
    yield instance
    instance.close()


@pytest.fixture(scope="module")
def function_arn(app: App) -> str:
    props = {"Runtime": "python3.11", "Handler": "index.handler", "Role": ROLE,
             "Code": {"ZipFile": HANDLER}, "FunctionName": "cfn-api-backend"}  # fmt: skip
    arn: str = app.create("AWS::Lambda::Function", "Backend", props).attributes["Arn"]
    app.create(
        "AWS::Lambda::Permission", "BackendPermission",
        {"Action": "lambda:InvokeFunction", "FunctionName": arn,
         "Principal": "apigateway.amazonaws.com"},
    )  # fmt: skip
    return arn


def get(app: App, api_id: str, path: str) -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", app.started.port, timeout=30)
    try:
        connection.request("GET", f"/_aws/execute-api/{api_id}{path}")
        response = connection.getresponse()
        body = response.read()
        return response.status, json.loads(body) if body else None
    finally:
        connection.close()


def not_found(app: App, service: str, operation: str, **params: Any) -> bool:
    try:
        app.call(service, operation, **params)
    except ServiceError as error:
        return error.code == "NotFoundException"
    return False


def lambda_uri(function_arn: str) -> str:
    return (
        f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
    )


def rest_body(function_arn: str) -> dict[str, Any]:
    """What SAM's `Api` event becomes: a swagger 2.0 document with integrations."""
    return {
        "swagger": "2.0",
        "info": {"title": "from-body", "version": "1.0"},
        "paths": {
            "/hello": {
                "get": {
                    "responses": {"200": {"description": "ok"}},
                    "x-amazon-apigateway-integration": {
                        "type": "mock",
                        "requestTemplates": {"application/json": '{"statusCode": 200}'},
                        "responses": {
                            "default": {
                                "statusCode": "200",
                                "responseTemplates": {"application/json": '{"hello": "mock"}'},
                            }
                        },
                    },
                }
            },
            "/items/{id}": {
                "x-amazon-apigateway-any-method": {
                    "x-amazon-apigateway-integration": {
                        "type": "aws_proxy",
                        "httpMethod": "POST",
                        "uri": lambda_uri(function_arn),
                    }
                }
            },
        },
    }


def paths(app: App, api_id: str) -> list[str]:
    items = app.call("apigateway", "GetResources", restApiId=api_id)["items"]
    return sorted(r["path"] for r in items)


def test_rest_api_from_openapi_body(app: App, function_arn: str) -> None:
    body = rest_body(function_arn)
    props = {"Body": body, "Name": "cfn-rest", "EndpointConfiguration": {"Types": ["REGIONAL"]},
             "Tags": [{"Key": "team", "Value": "a"}, {"Key": "old", "Value": "x"}]}  # fmt: skip
    api = app.create("AWS::ApiGateway::RestApi", "Api", props)
    api_id = api.physical_id
    assert api.attributes["RestApiId"] == api_id
    assert paths(app, api_id) == ["/", "/hello", "/items", "/items/{id}"]
    got = app.call("apigateway", "GetRestApi", restApiId=api_id)
    assert got["name"] == "cfn-rest"  # Name wins over info.title
    assert got["endpointConfiguration"]["types"] == ["REGIONAL"]
    assert got["rootResourceId"] == api.attributes["RootResourceId"]
    assert got["tags"] == {"team": "a", "old": "x", "aws:cloudformation:stack-name": "teststack"}

    deployment_props = {"RestApiId": api_id, "StageName": "prod"}
    deployment = app.create("AWS::ApiGateway::Deployment", "Deployment1", deployment_props)
    stage = app.call("apigateway", "GetStage", restApiId=api_id, stageName="prod")
    assert stage["deploymentId"] == deployment.physical_id
    assert get(app, api_id, "/prod/hello") == (200, {"hello": "mock"})
    assert get(app, api_id, "/prod/items/7") == (200, {"from": "fn", "path": "/items/7"})

    # A changed body is imported again (overwrite); a changed Name patched in place.
    new_body = copy.deepcopy(body)
    del new_body["paths"]["/items/{id}"]
    new_body["paths"]["/bye"] = new_body["paths"].pop("/hello")
    new = {**props, "Body": new_body, "Name": "cfn-rest-2", "BinaryMediaTypes": ["image/png"],
           "Tags": [{"Key": "team", "Value": "b"}]}  # fmt: skip
    same = app.update("AWS::ApiGateway::RestApi", "Api", api_id, props, new)
    assert same.physical_id == api_id
    assert paths(app, api_id) == ["/", "/bye"]
    got = app.call("apigateway", "GetRestApi", restApiId=api_id)
    assert (got["name"], got["binaryMediaTypes"]) == ("cfn-rest-2", ["image/png"])
    assert got["tags"] == {"team": "b", "aws:cloudformation:stack-name": "teststack"}

    # SAM's next Deployment<hash> takes the stage over; the old one is then deleted.
    second = app.create("AWS::ApiGateway::Deployment", "Deployment2", deployment_props)
    app.delete("AWS::ApiGateway::Deployment", "Deployment1", deployment.physical_id,
               deployment_props)  # fmt: skip
    assert get(app, api_id, "/prod/bye") == (200, {"hello": "mock"})
    assert not_found(app, "apigateway", "GetDeployment", restApiId=api_id,
                     deploymentId=deployment.physical_id)  # fmt: skip

    # Deleting the deployment that made the stage deletes the stage; then the API.
    app.delete("AWS::ApiGateway::Deployment", "Deployment2", second.physical_id, deployment_props)
    assert not_found(app, "apigateway", "GetStage", restApiId=api_id, stageName="prod")
    app.delete("AWS::ApiGateway::RestApi", "Api", api_id, new)
    assert not_found(app, "apigateway", "GetRestApi", restApiId=api_id)
    app.delete("AWS::ApiGateway::RestApi", "Api", api_id, new)  # already gone


def test_rest_api_body_from_s3_and_bad_bodies(app: App, function_arn: str) -> None:
    app.call("s3", "CreateBucket", Bucket="cfn-api-bodies")
    document = json.dumps(rest_body(function_arn)).encode()
    app.call("s3", "PutObject", Bucket="cfn-api-bodies", Key="api.json", Body=document)
    props = {"BodyS3Location": {"Bucket": "cfn-api-bodies", "Key": "api.json"}}
    api = app.create("AWS::ApiGateway::RestApi", "S3Api", props)
    assert "/items/{id}" in paths(app, api.physical_id)
    assert app.call("apigateway", "GetRestApi", restApiId=api.physical_id)["name"] == "from-body"
    app.delete("AWS::ApiGateway::RestApi", "S3Api", api.physical_id, props)
    http_document = json.dumps(http_body(function_arn)).encode()
    app.call("s3", "PutObject", Bucket="cfn-api-bodies", Key="http.json", Body=http_document)
    http_props = {"BodyS3Location": {"Bucket": "cfn-api-bodies", "Key": "http.json"}}
    http_api = app.create("AWS::ApiGatewayV2::Api", "S3HttpApi", http_props).physical_id
    assert route_keys(app, http_api) == ["GET /hello"]
    app.delete("AWS::ApiGatewayV2::Api", "S3HttpApi", http_api, http_props)

    huge = b"{" + b" " * (9 * 1024 * 1024) + b"}"
    app.call("s3", "PutObject", Bucket="cfn-api-bodies", Key="huge.json", Body=huge)
    with pytest.raises(ResourceFailed, match="at most 8388608 bytes"):
        app.create("AWS::ApiGateway::RestApi", "Huge",
                   {"BodyS3Location": {"Bucket": "cfn-api-bodies", "Key": "huge.json"}})  # fmt: skip

    before = len(app.call("apigateway", "GetRestApis")["items"])
    with pytest.raises(ResourceFailed, match="Failed to parse the uploaded OpenAPI document"):
        app.create("AWS::ApiGateway::RestApi", "Bad", {"Body": "swagger: [unclosed"})
    with pytest.raises(ResourceFailed, match="Name is required"):
        app.create("AWS::ApiGateway::RestApi", "NoName", {"Description": "x"})
    assert len(app.call("apigateway", "GetRestApis")["items"]) == before


def test_rest_api_part_by_part(app: App) -> None:
    api_props = {"Name": "cfn-parts", "Tags": [{"Key": "team", "Value": "a"}]}
    api = app.create("AWS::ApiGateway::RestApi", "Api", api_props).physical_id
    root = app.call("apigateway", "GetRestApi", restApiId=api)["rootResourceId"]
    resource_props = {"RestApiId": api, "ParentId": root, "PathPart": "things"}
    resource = app.create("AWS::ApiGateway::Resource", "Things", resource_props).physical_id

    validator_props = {"RestApiId": api, "ValidateRequestParameters": "true"}
    validator = app.create("AWS::ApiGateway::RequestValidator", "Validator", validator_props)
    model_props = {"RestApiId": api, "ContentType": "application/json",
                   "Schema": {"type": "object"}}  # fmt: skip
    model = app.create("AWS::ApiGateway::Model", "Thing", model_props)
    assert model.physical_id.isalnum()

    method_props: dict[str, Any] = {
        "RestApiId": api,
        "ResourceId": resource,
        "HttpMethod": "get",
        "AuthorizationType": "NONE",
        "RequestValidatorId": validator.physical_id,
        "MethodResponses": [{"StatusCode": "200"}],
        "Integration": {
            "Type": "MOCK",
            "RequestTemplates": {"application/json": '{"statusCode": 200}'},
            "IntegrationResponses": [
                {
                    "StatusCode": "200",
                    "ResponseTemplates": {"application/json": '{"v": "$stageVariables.color"}'},
                },
            ],
        },
    }
    method = app.create("AWS::ApiGateway::Method", "GetThings", method_props)
    assert method.physical_id == "teststack-GetThings-ABCDEFGHIJKL"
    deployment_props = {"RestApiId": api, "Description": "first"}
    deployment = app.create("AWS::ApiGateway::Deployment", "Dep", deployment_props).physical_id
    stage_props = {
        "RestApiId": api,
        "StageName": "live",
        "DeploymentId": deployment,
        "Variables": {"color": "red"},
        "MethodSettings": [{"ResourcePath": "/*", "HttpMethod": "*", "MetricsEnabled": "true"}],
    }
    app.create("AWS::ApiGateway::Stage", "Live", stage_props)
    assert get(app, api, "/live/things") == (200, {"v": "red"})
    stage = app.call("apigateway", "GetStage", restApiId=api, stageName="live")
    assert stage["methodSettings"]["*/*"]["metricsEnabled"] is True

    new_stage = {**stage_props, "Variables": {"color": "blue"}, "Description": "now blue"}
    app.update("AWS::ApiGateway::Stage", "Live", "live", stage_props, new_stage)
    assert get(app, api, "/live/things") == (200, {"v": "blue"})

    # The method put again with a new template, deployed by a new deployment.
    new_method = copy.deepcopy(method_props)
    responses = new_method["Integration"]["IntegrationResponses"]
    responses[0]["ResponseTemplates"] = {"application/json": '{"w": 1}'}
    app.update("AWS::ApiGateway::Method", "GetThings", method.physical_id, method_props, new_method)
    # A new deployment (a new Description needs one here) takes the stage over, then the
    # old one is deleted, in the engine's order.
    redeployed = app.create(
        "AWS::ApiGateway::Deployment", "Dep", {**deployment_props, "Description": "second"}
    ).physical_id
    app.update("AWS::ApiGateway::Stage", "Live", "live", new_stage,
               {**new_stage, "DeploymentId": redeployed})  # fmt: skip
    app.delete("AWS::ApiGateway::Deployment", "Dep", deployment, deployment_props)
    assert "Description" in app.provider("AWS::ApiGateway::Deployment").replace_on
    assert get(app, api, "/live/things") == (200, {"w": 1})

    # A new PathPart is a new resource; the method moves to it in place (its ResourceId
    # updates without interruption), then the old resource is deleted.
    renamed = {**resource_props, "PathPart": "stuff"}
    stuff = app.create("AWS::ApiGateway::Resource", "Things", renamed).physical_id
    moved = {**new_method, "ResourceId": stuff}
    same = app.update("AWS::ApiGateway::Method", "GetThings", method.physical_id, new_method, moved)
    assert same.physical_id == method.physical_id
    app.delete("AWS::ApiGateway::Resource", "Things", resource, resource_props)
    assert paths(app, api) == ["/", "/stuff"]
    got = app.call("apigateway", "GetMethod", restApiId=api, resourceId=stuff, httpMethod="GET")
    assert got["methodIntegration"]["type"] == "MOCK"
    assert "PathPart" in app.provider("AWS::ApiGateway::Resource").replace_on

    for kind, logical, physical, props in (
        ("AWS::ApiGateway::Stage", "Live", "live", new_stage),
        ("AWS::ApiGateway::Method", "GetThings", method.physical_id, moved),
        ("AWS::ApiGateway::Model", "Thing", model.physical_id, model_props),
        ("AWS::ApiGateway::RequestValidator", "Validator", validator.physical_id,
         validator_props),
        ("AWS::ApiGateway::Resource", "Things", stuff, renamed),
    ):  # fmt: skip
        app.delete(kind, logical, physical, props)
    assert paths(app, api) == ["/"]
    assert app.call("apigateway", "GetModels", restApiId=api)["items"] == []
    app.delete("AWS::ApiGateway::RestApi", "Api", api, api_props)


def test_rest_api_access_parts(app: App) -> None:
    api = app.create("AWS::ApiGateway::RestApi", "Api", {"Name": "cfn-access"}).physical_id
    authorizer_props = {
        "RestApiId": api, "Name": "tokens", "Type": "TOKEN",
        "IdentitySource": "method.request.header.Authorization",
        "AuthorizerUri": lambda_uri(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:auth"),
    }  # fmt: skip
    authorizer = app.create("AWS::ApiGateway::Authorizer", "Auth", authorizer_props).physical_id
    app.update("AWS::ApiGateway::Authorizer", "Auth", authorizer, authorizer_props,
               {**authorizer_props, "AuthorizerResultTtlInSeconds": "60"})  # fmt: skip
    got = app.call("apigateway", "GetAuthorizer", restApiId=api, authorizerId=authorizer)
    assert got["authorizerResultTtlInSeconds"] == 60

    response_props = {"RestApiId": api, "ResponseType": "DEFAULT_4XX",
                      "ResponseParameters": {"gatewayresponse.header.x-cfn": "'yes'"}}  # fmt: skip
    response = app.create("AWS::ApiGateway::GatewayResponse", "R4xx", response_props)
    got = app.call("apigateway", "GetGatewayResponse", restApiId=api, responseType="DEFAULT_4XX")
    assert got["responseParameters"] == {"gatewayresponse.header.x-cfn": "'yes'"}

    app.create("AWS::ApiGateway::Method", "Any", {
        "RestApiId": api, "HttpMethod": "ANY", "AuthorizationType": "NONE",
        "ResourceId": app.call("apigateway", "GetRestApi", restApiId=api)["rootResourceId"],
        "Integration": {"Type": "MOCK"}})  # fmt: skip
    app.create("AWS::ApiGateway::Deployment", "Dep", {"RestApiId": api, "StageName": "s1"})
    key_props = {"Enabled": True, "Description": "one"}
    key = app.create("AWS::ApiGateway::ApiKey", "Key", key_props).physical_id
    new_key = {**key_props, "Description": "two",
               "StageKeys": [{"RestApiId": api, "StageName": "s1"}]}  # fmt: skip
    app.update("AWS::ApiGateway::ApiKey", "Key", key, key_props, new_key)
    got = app.call("apigateway", "GetApiKey", apiKey=key)
    assert (got["name"], got["description"], got["enabled"]) == ("teststack-Key-ABCDEFGHIJKL",
                                                                "two", True)  # fmt: skip
    assert got["stageKeys"] == [f"{api}/s1"]
    plan_props = {"UsagePlanName": "gold", "Throttle": {"RateLimit": 10, "BurstLimit": 5}}
    plan = app.create("AWS::ApiGateway::UsagePlan", "Plan", plan_props).physical_id
    new_plan = {**plan_props, "Quota": {"Limit": 100, "Period": "DAY"}}
    app.update("AWS::ApiGateway::UsagePlan", "Plan", plan, plan_props, new_plan)
    got = app.call("apigateway", "GetUsagePlan", usagePlanId=plan)
    assert got["quota"]["limit"] == 100 and got["throttle"]["burstLimit"] == 5
    plan_key_props = {"UsagePlanId": plan, "KeyId": key, "KeyType": "API_KEY"}
    plan_key = app.create("AWS::ApiGateway::UsagePlanKey", "PlanKey", plan_key_props)
    assert plan_key.physical_id == f"{key}:{plan}"
    assert app.call("apigateway", "GetUsagePlanKeys", usagePlanId=plan)["items"][0]["id"] == key

    app.delete("AWS::ApiGateway::UsagePlanKey", "PlanKey", plan_key.physical_id, plan_key_props)
    assert app.call("apigateway", "GetUsagePlanKeys", usagePlanId=plan)["items"] == []
    app.delete("AWS::ApiGateway::UsagePlan", "Plan", plan, new_plan)
    app.delete("AWS::ApiGateway::ApiKey", "Key", key, key_props)
    assert not_found(app, "apigateway", "GetApiKey", apiKey=key)
    app.delete("AWS::ApiGateway::GatewayResponse", "R4xx", response.physical_id, response_props)
    app.delete("AWS::ApiGateway::Authorizer", "Auth", authorizer, authorizer_props)
    assert not_found(app, "apigateway", "GetAuthorizer", restApiId=api, authorizerId=authorizer)
    app.delete("AWS::ApiGateway::RestApi", "Api", api, {})


def test_account_settings(app: App) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/apigw-logs"
    props = {"CloudWatchRoleArn": role}
    account = app.create("AWS::ApiGateway::Account", "Account", props)
    assert app.call("apigateway", "GetAccount")["cloudwatchRoleArn"] == role
    other = {"CloudWatchRoleArn": f"{role}-2"}
    app.update("AWS::ApiGateway::Account", "Account", account.physical_id, props, other)
    assert app.call("apigateway", "GetAccount")["cloudwatchRoleArn"] == f"{role}-2"
    app.delete("AWS::ApiGateway::Account", "Account", account.physical_id, other)


def http_body(function_arn: str, path: str = "/hello") -> dict[str, Any]:
    """What SAM's `HttpApi` event becomes: an OpenAPI 3.0 document, payload format 2.0."""
    return {
        "openapi": "3.0.1",
        "info": {"title": "http-from-body", "version": "1.0"},
        "paths": {
            path: {
                "get": {
                    "responses": {},
                    "x-amazon-apigateway-integration": {
                        "type": "aws_proxy",
                        "httpMethod": "POST",
                        "uri": lambda_uri(function_arn),
                        "payloadFormatVersion": "2.0",
                    },
                }
            }
        },
    }


def route_keys(app: App, api_id: str) -> list[str]:
    return sorted(
        r["RouteKey"] for r in app.call("apigatewayv2", "GetRoutes", ApiId=api_id)["Items"]
    )


def test_http_api_from_openapi_body(app: App, function_arn: str) -> None:
    props = {"Body": http_body(function_arn), "Tags": {"team": "b"}}
    api = app.create("AWS::ApiGatewayV2::Api", "HttpApi", props)
    api_id = api.physical_id
    assert api.attributes["ApiEndpoint"].startswith("http")
    assert route_keys(app, api_id) == ["GET /hello"]
    got = app.call("apigatewayv2", "GetApi", ApiId=api_id)
    assert got["Name"] == "http-from-body" and got["Tags"]["team"] == "b"
    stage_props = {"ApiId": api_id, "StageName": "$default", "AutoDeploy": True}
    app.create("AWS::ApiGatewayV2::Stage", "Stage", stage_props)
    assert get(app, api_id, "/hello") == (200, {"from": "fn", "path": "/hello"})

    new = {**props, "Body": http_body(function_arn, "/again"), "Description": "v2",
           "Tags": {"team": "c"}}  # fmt: skip
    app.update("AWS::ApiGatewayV2::Api", "HttpApi", api_id, props, new)
    assert route_keys(app, api_id) == ["GET /again"]
    got = app.call("apigatewayv2", "GetApi", ApiId=api_id)
    assert got["Description"] == "v2"
    assert got["Tags"] == {"team": "c", "aws:cloudformation:stack-name": "teststack"}
    assert get(app, api_id, "/again") == (200, {"from": "fn", "path": "/again"})

    app.delete("AWS::ApiGatewayV2::Stage", "Stage", "$default", stage_props)
    assert not_found(app, "apigatewayv2", "GetStage", ApiId=api_id, StageName="$default")
    app.delete("AWS::ApiGatewayV2::Api", "HttpApi", api_id, new)
    assert not_found(app, "apigatewayv2", "GetApi", ApiId=api_id)
    app.delete("AWS::ApiGatewayV2::Api", "HttpApi", api_id, new)


def test_http_api_part_by_part(app: App, function_arn: str) -> None:
    api_props = {"Name": "cfn-http-parts", "ProtocolType": "HTTP"}
    api = app.create("AWS::ApiGatewayV2::Api", "Api", api_props).physical_id
    integration_props = {"ApiId": api, "IntegrationType": "AWS_PROXY",
                         "IntegrationUri": function_arn, "PayloadFormatVersion": "2.0"}  # fmt: skip
    integration = app.create("AWS::ApiGatewayV2::Integration", "Int", integration_props)
    route_props = {"ApiId": api, "RouteKey": "GET /one",
                   "Target": f"integrations/{integration.physical_id}"}  # fmt: skip
    route = app.create("AWS::ApiGatewayV2::Route", "Route", route_props)
    assert route.attributes["RouteId"] == route.physical_id
    authorizer_props = {
        "ApiId": api, "AuthorizerType": "JWT", "Name": "jwt",
        "IdentitySource": ["$request.header.Authorization"],
        "JwtConfiguration": {"Audience": ["x"], "Issuer": "https://issuer.example.com"},
    }  # fmt: skip
    authorizer = app.create("AWS::ApiGatewayV2::Authorizer", "Jwt", authorizer_props)
    stage_props = {"ApiId": api, "StageName": "dev", "AutoDeploy": "true"}
    app.create("AWS::ApiGatewayV2::Stage", "Stage", stage_props)
    assert get(app, api, "/dev/one") == (200, {"from": "fn", "path": "/dev/one"})

    app.update("AWS::ApiGatewayV2::Route", "Route", route.physical_id, route_props,
               {**route_props, "RouteKey": "GET /two"})  # fmt: skip
    assert route_keys(app, api) == ["GET /two"]
    deployment_props = {"ApiId": api, "Description": "manual"}
    deployment = app.create("AWS::ApiGatewayV2::Deployment", "Dep", deployment_props)
    got = app.call("apigatewayv2", "GetDeployment", ApiId=api, DeploymentId=deployment.physical_id)
    assert got["Description"] == "manual"
    app.update("AWS::ApiGatewayV2::Stage", "Stage", "dev", stage_props,
               {**stage_props, "StageVariables": {"a": "b"}})  # fmt: skip
    got = app.call("apigatewayv2", "GetStage", ApiId=api, StageName="dev")
    assert got["StageVariables"] == {"a": "b"}

    app.delete("AWS::ApiGatewayV2::Authorizer", "Jwt", authorizer.physical_id, authorizer_props)
    app.delete("AWS::ApiGatewayV2::Route", "Route", route.physical_id, route_props)
    assert route_keys(app, api) == []
    app.delete("AWS::ApiGatewayV2::Integration", "Int", integration.physical_id,
               integration_props)  # fmt: skip
    assert app.call("apigatewayv2", "GetIntegrations", ApiId=api)["Items"] == []
    app.delete("AWS::ApiGatewayV2::Api", "Api", api, api_props)


def test_websocket_api_part_by_part(app: App, function_arn: str) -> None:
    api_props = {"Name": "cfn-ws", "ProtocolType": "WEBSOCKET",
                 "RouteSelectionExpression": "$request.body.action"}  # fmt: skip
    api = app.create("AWS::ApiGatewayV2::Api", "Ws", api_props).physical_id
    assert app.call("apigatewayv2", "GetApi", ApiId=api)["ProtocolType"] == "WEBSOCKET"
    integration_props = {"ApiId": api, "IntegrationType": "AWS_PROXY",
                         "IntegrationUri": lambda_uri(function_arn)}  # fmt: skip
    integration = app.create("AWS::ApiGatewayV2::Integration", "WsInt", integration_props)
    authorizer_props = {"ApiId": api, "AuthorizerType": "REQUEST", "Name": "lambda",
                        "AuthorizerUri": lambda_uri(function_arn),
                        "IdentitySource": ["route.request.querystring.token"]}  # fmt: skip
    authorizer = app.create("AWS::ApiGatewayV2::Authorizer", "WsAuth", authorizer_props)
    connect_props = {"ApiId": api, "RouteKey": "$connect", "AuthorizationType": "CUSTOM",
                     "AuthorizerId": authorizer.physical_id,
                     "Target": f"integrations/{integration.physical_id}"}  # fmt: skip
    app.create("AWS::ApiGatewayV2::Route", "Connect", connect_props)
    route_props = {"ApiId": api, "RouteKey": "send", "RouteResponseSelectionExpression": "$default",
                   "Target": f"integrations/{integration.physical_id}"}  # fmt: skip
    route = app.create("AWS::ApiGatewayV2::Route", "Send", route_props).physical_id
    rr_props = {"ApiId": api, "RouteId": route, "RouteResponseKey": "$default",
                "ResponseParameters": {"route.response.header.x": {"Required": False}}}  # fmt: skip
    rr = app.create("AWS::ApiGatewayV2::RouteResponse", "SendResponse", rr_props)
    assert rr.attributes == {"RouteResponseId": rr.physical_id}
    got = app.call("apigatewayv2", "GetRouteResponse", ApiId=api, RouteId=route,
                   RouteResponseId=rr.physical_id)  # fmt: skip
    assert got["ResponseParameters"] == {"route.response.header.x": {"Required": False}}
    app.update("AWS::ApiGatewayV2::RouteResponse", "SendResponse", rr.physical_id, rr_props,
               {**rr_props, "ModelSelectionExpression": "m"})  # fmt: skip
    got = app.call("apigatewayv2", "GetRouteResponse", ApiId=api, RouteId=route,
                   RouteResponseId=rr.physical_id)  # fmt: skip
    assert got["ModelSelectionExpression"] == "m"
    mock_props = {"ApiId": api, "IntegrationType": "MOCK",
                  "RequestTemplates": {"$default": '{"statusCode": 200}'},
                  "TemplateSelectionExpression": "\\$default"}  # fmt: skip
    mock = app.create("AWS::ApiGatewayV2::Integration", "Mock", mock_props).physical_id
    ir_props = {"ApiId": api, "IntegrationId": mock, "IntegrationResponseKey": "$default",
                "ResponseTemplates": {"$default": '{"ok": true}'}}  # fmt: skip
    ir = app.create("AWS::ApiGatewayV2::IntegrationResponse", "MockResponse", ir_props)
    app.update("AWS::ApiGatewayV2::IntegrationResponse", "MockResponse", ir.physical_id,
               ir_props, {**ir_props, "IntegrationResponseKey": "/2\\d\\d/"})  # fmt: skip
    got = app.call("apigatewayv2", "GetIntegrationResponse", ApiId=api, IntegrationId=mock,
                   IntegrationResponseId=ir.physical_id)  # fmt: skip
    assert (got["IntegrationResponseKey"], got["ResponseTemplates"]) == (
        "/2\\d\\d/",
        {"$default": '{"ok": true}'},
    )
    stage_props = {"ApiId": api, "StageName": "prod", "AutoDeploy": True}
    app.create("AWS::ApiGatewayV2::Stage", "WsStage", stage_props)
    stage = app.call("apigatewayv2", "GetStage", ApiId=api, StageName="prod")
    assert stage["DefaultRouteSettings"]["LoggingLevel"] == "OFF"
    with pytest.raises(ResourceFailed, match="supported only for WebSocket APIs"):
        http_api = app.call("apigatewayv2", "CreateApi", Name="h", ProtocolType="HTTP")["ApiId"]
        http_route = app.call("apigatewayv2", "CreateRoute", ApiId=http_api, RouteKey="GET /")
        app.create("AWS::ApiGatewayV2::RouteResponse", "Bad", {"ApiId": http_api,
                   "RouteId": http_route["RouteId"], "RouteResponseKey": "$default"})  # fmt: skip
    app.delete("AWS::ApiGatewayV2::IntegrationResponse", "MockResponse", ir.physical_id, ir_props)
    app.delete("AWS::ApiGatewayV2::RouteResponse", "SendResponse", rr.physical_id, rr_props)
    app.delete("AWS::ApiGatewayV2::RouteResponse", "SendResponse", rr.physical_id, rr_props)
    assert app.call("apigatewayv2", "GetRouteResponses", ApiId=api, RouteId=route)["Items"] == []
    assert not app.call("apigatewayv2", "GetIntegrationResponses", ApiId=api, IntegrationId=mock)[
        "Items"
    ]
    app.delete("AWS::ApiGatewayV2::Api", "Ws", api, api_props)
    app.call("apigatewayv2", "DeleteApi", ApiId=http_api)


def test_http_api_quick_create(app: App, function_arn: str) -> None:
    props = {"Name": "cfn-quick", "ProtocolType": "HTTP", "Target": function_arn}
    api = app.create("AWS::ApiGatewayV2::Api", "Quick", props).physical_id
    assert route_keys(app, api) == ["$default"]
    assert get(app, api, "/anything") == (200, {"from": "fn", "path": "/anything"})
    app.delete("AWS::ApiGatewayV2::Api", "Quick", api, props)


def test_another_accounts_stack_cannot_touch_this_api(app: App) -> None:
    api = app.create("AWS::ApiGateway::RestApi", "Api", {"Name": "cfn-mine"}).physical_id
    root = app.call("apigateway", "GetRestApi", restApiId=api)["rootResourceId"]
    with pytest.raises(ResourceFailed, match="Invalid API identifier"):
        app.create("AWS::ApiGateway::Resource", "R",
                   {"RestApiId": api, "ParentId": root, "PathPart": "x"},
                   account=OTHER_ACCOUNT)  # fmt: skip
    # Their delete of it finds nothing to delete, and it stays.
    app.run(app.provider("AWS::ApiGateway::RestApi").delete(
        app.ctx("Api", account=OTHER_ACCOUNT), api, {}))  # fmt: skip
    assert app.call("apigateway", "GetRestApi", restApiId=api)["name"] == "cfn-mine"
    app.delete("AWS::ApiGateway::RestApi", "Api", api, {})


def test_what_the_sam_transform_makes(app: App) -> None:
    """The resources `aws-sam-translator` makes of a function with `AutoPublishAlias`,
    `FunctionUrlConfig`, an `Api` and an `HttpApi` event (intrinsics resolved as the engine
    resolves them), created in the engine's order and then called over HTTP."""
    fn = app.create(
        "AWS::Lambda::Function", "Fn",
        {"Code": {"ZipFile": HANDLER}, "Handler": "index.handler", "Role": ROLE,
         "Runtime": "python3.11", "Tags": [{"Key": "lambda:createdBy", "Value": "SAM"}]},
    )  # fmt: skip
    version = app.create("AWS::Lambda::Version", "FnVersion7332e6e4f7",
                         {"FunctionName": fn.physical_id})  # fmt: skip
    alias = app.create(
        "AWS::Lambda::Alias", "FnAliaslive",
        {"Name": "live", "FunctionName": fn.physical_id,
         "FunctionVersion": version.attributes["Version"]},
    ).physical_id  # fmt: skip
    url = app.create("AWS::Lambda::Url", "FnUrl",
                     {"TargetFunctionArn": alias, "AuthType": "NONE"})  # fmt: skip
    assert url.physical_id == alias
    for logical, props in (
        ("FnUrlPublicPermissions", {"Action": "lambda:InvokeFunctionUrl", "FunctionName": alias,
                                    "Principal": "*", "FunctionUrlAuthType": "NONE"}),
        ("FnURLInvokeAllowPublicAccess", {"Action": "lambda:InvokeFunction",
                                          "FunctionName": alias, "Principal": "*",
                                          "InvokedViaFunctionUrl": True}),
    ):  # fmt: skip
        app.create("AWS::Lambda::Permission", logical, props)
    rest = app.create(
        "AWS::ApiGateway::RestApi", "ServerlessRestApi",
        {"Body": {"info": {"version": "1.0", "title": "teststack"}, "swagger": "2.0",
                  "paths": {"/hello": {"get": {"responses": {}, "x-amazon-apigateway-integration": {
                      "httpMethod": "POST", "type": "aws_proxy", "uri": lambda_uri(alias)}}}}}},
    ).physical_id  # fmt: skip
    http_api = app.create(
        "AWS::ApiGatewayV2::Api", "ServerlessHttpApi",
        {"Body": {"info": {"version": "1.0", "title": "teststack"}, "openapi": "3.0.1",
                  "paths": {"/h": {"get": {"responses": {}, "x-amazon-apigateway-integration": {
                      "httpMethod": "POST", "type": "aws_proxy", "uri": lambda_uri(alias),
                      "payloadFormatVersion": "2.0"}}}},
                  "tags": [{"name": "httpapi:createdBy",
                            "x-amazon-apigateway-tag-value": "SAM"}]}},
    ).physical_id  # fmt: skip
    for logical, api, path in (
        ("FnHttpPermission", http_api, "GET/h"), ("FnRestPermissionProd", rest, "GET/hello")
    ):  # fmt: skip
        app.create("AWS::Lambda::Permission", logical, {
            "Action": "lambda:InvokeFunction", "FunctionName": alias,
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api}/*/{path}"})  # fmt: skip
    deployment = app.create(
        "AWS::ApiGateway::Deployment", "ServerlessRestApiDeploymentb8c9f78683",
        {"Description": "RestApi deployment id: b8c9f78683", "RestApiId": rest,
         "StageName": "Stage"},
    ).physical_id  # fmt: skip
    app.create("AWS::ApiGateway::Stage", "ServerlessRestApiProdStage",
               {"DeploymentId": deployment, "RestApiId": rest, "StageName": "Prod"})  # fmt: skip
    app.create(
        "AWS::ApiGatewayV2::Stage", "ServerlessHttpApiApiGatewayDefaultStage",
        {"ApiId": http_api, "StageName": "$default", "Tags": {"httpapi:createdBy": "SAM"},
         "AutoDeploy": True},
    )  # fmt: skip

    assert get(app, rest, "/Prod/hello") == (200, {"from": "fn", "path": "/hello"})
    assert get(app, http_api, "/h") == (200, {"from": "fn", "path": "/h"})
    url_id = url.attributes["FunctionUrl"].split("//", 1)[1].split(".", 1)[0]
    connection = http.client.HTTPConnection("127.0.0.1", app.started.port, timeout=30)
    try:
        connection.request("GET", f"/_aws/lambda-url/{url_id}/u")
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())) == (200, {"from": "fn", "path": "/u"})
    finally:
        connection.close()
