"""API Gateway REST APIs (v1) against a live server: the control plane with boto3, OpenAPI
import, and the data plane over real sockets, by host (`<id>.execute-api.localhost`) and by
path (`/_aws/execute-api/<id>/...`), with MOCK integrations, API keys and usage plans,
AWS_PROXY integrations to Python functions (payload 1.0) and Lambda authorizers."""

from __future__ import annotations

import contextlib
import http.client
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.conftest import FunctionFactory, Server

SWAGGER = {
    "swagger": "2.0",
    "info": {"title": "pets", "version": "1.0"},
    "x-amazon-apigateway-binary-media-types": ["image/png"],
    "x-amazon-apigateway-api-key-source": "HEADER",
    "x-amazon-apigateway-request-validators": {
        "all": {"validateRequestBody": True, "validateRequestParameters": True}
    },
    "x-amazon-apigateway-request-validator": "all",
    "x-amazon-apigateway-gateway-responses": {
        "MISSING_AUTHENTICATION_TOKEN": {
            "statusCode": 404,
            "responseParameters": {"gatewayresponse.header.X-Why": "'no route'"},
            "responseTemplates": {"application/json": '{"why": $context.error.messageString}'},
        }
    },
    "securityDefinitions": {
        "api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"},
        "tokens": {
            "type": "apiKey",
            "name": "Authorization",
            "in": "header",
            "x-amazon-apigateway-authtype": "custom",
            "x-amazon-apigateway-authorizer": {
                "type": "token",
                "authorizerUri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                "arn:aws:lambda:us-east-1:000000000000:function:auth/invocations",
                "authorizerResultTtlInSeconds": 60,
            },
        },
    },
    "paths": {
        "/pets/{petId}": {
            "get": {
                "operationId": "getPet",
                "parameters": [{"name": "petId", "in": "path", "required": True}],
                "responses": {"200": {"description": "ok"}},
                "x-amazon-apigateway-integration": {
                    "type": "mock",
                    "requestTemplates": {"application/json": '{"statusCode": 200}'},
                    "responses": {
                        "default": {
                            "statusCode": "200",
                            "responseTemplates": {
                                "application/json": '{"pet": "$input.params(\'petId\')"}'
                            },
                        }
                    },
                },
            },
            "delete": {
                "security": [{"tokens": []}],
                "x-amazon-apigateway-integration": {"type": "mock"},
            },
        },
        "/secret": {
            "x-amazon-apigateway-any-method": {
                "security": [{"api_key": []}],
                "x-amazon-apigateway-integration": {
                    "type": "aws_proxy",
                    "httpMethod": "POST",
                    "uri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
                    "arn:aws:lambda:us-east-1:000000000000:function:f/invocations",
                },
            }
        },
    },
}

OPENAPI_YAML = """
openapi: 3.0.1
info: {title: yaml-api, version: '2'}
paths:
  /hello:
    get:
      x-amazon-apigateway-integration:
        type: mock
        requestTemplates: {application/json: '{"statusCode": 201}'}
        responses:
          '2\\d{2}':
            statusCode: '201'
            responseTemplates: {application/json: '{"hi": true}'}
"""


@pytest.fixture(scope="module")
def apigw(server: Server) -> Any:
    return server.client("apigateway")


@pytest.fixture()
def make_api(apigw: Any) -> Iterator[Callable[..., dict[str, Any]]]:
    made: list[str] = []

    def make(**params: Any) -> dict[str, Any]:
        api: dict[str, Any] = apigw.create_rest_api(name=params.pop("name", "api"), **params)
        made.append(api["id"])
        return api

    yield make
    for api_id in made:
        with contextlib.suppress(ClientError):
            apigw.delete_rest_api(restApiId=api_id)


def call(
    server: Server,
    api_id: str,
    path: str,
    *,
    method: str = "GET",
    by_host: bool = True,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        sent = dict(headers or {})
        if by_host:
            sent["Host"] = f"{api_id}.execute-api.localhost:{server.port}"
            target = path
        else:
            target = f"/_aws/execute-api/{api_id}{path}"
        connection.request(method, target, body=body, headers=sent)
        response = connection.getresponse()
        headers: dict[str, str] = {}
        for name, value in response.getheaders():  # a repeated header's values, joined
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return response.status, headers, response.read()
    finally:
        connection.close()


def mock_api(apigw: Any, make_api: Callable[..., dict[str, Any]], **method: Any) -> dict[str, Any]:
    """An API with `GET /items/{id}` answered by a MOCK integration, deployed to `prod`."""
    api = make_api()
    api_id = api["id"]
    items = apigw.create_resource(
        restApiId=api_id, parentId=api["rootResourceId"], pathPart="items"
    )
    item = apigw.create_resource(restApiId=api_id, parentId=items["id"], pathPart="{id}")
    where = {"restApiId": api_id, "resourceId": item["id"], "httpMethod": "GET"}
    apigw.put_method(**where, authorizationType="NONE", **method)
    apigw.put_integration(
        **where,
        type="MOCK",
        requestTemplates={"application/json": '{"statusCode": 200}'},
    )
    apigw.put_method_response(**where, statusCode="200")
    apigw.put_integration_response(
        **where,
        statusCode="200",
        selectionPattern="",
        responseTemplates={
            "application/json": '{"id": "$input.params(\'id\')", "stage": "$context.stage",'
            ' "request": "$context.requestId", "color": "$stageVariables.color"}'
        },
        responseParameters={"method.response.header.X-Mocked": "'yes'"},
    )
    apigw.create_deployment(restApiId=api_id, stageName="prod", variables={"color": "blue"})
    return {**api, "item": item["id"], "items": items["id"]}


# -- control plane --------------------------------------------------------------------------


def test_rest_api_lifecycle_and_root_resource(apigw: Any, make_api: Any) -> None:
    api = make_api(
        name="shop",
        description="d",
        binaryMediaTypes=["image/png"],
        endpointConfiguration={"types": ["REGIONAL"]},
        tags={"team": "a"},
    )
    assert len(api["id"]) == 10 and api["id"].isalnum() and api["id"].islower()
    got = apigw.get_rest_api(restApiId=api["id"])
    assert got["name"] == "shop" and got["binaryMediaTypes"] == ["image/png"]
    assert got["endpointConfiguration"] == {"types": ["REGIONAL"]}
    assert got["apiKeySource"] == "HEADER" and got["tags"] == {"team": "a"}
    resources = apigw.get_resources(restApiId=api["id"])["items"]
    assert resources == [{"id": api["rootResourceId"], "path": "/"}]
    assert api["id"] in [a["id"] for a in apigw.get_rest_apis()["items"]]

    updated = apigw.update_rest_api(
        restApiId=api["id"],
        patchOperations=[
            {"op": "replace", "path": "/name", "value": "shop2"},
            {"op": "add", "path": "/binaryMediaTypes/image~1gif"},
            {"op": "remove", "path": "/binaryMediaTypes/image~1png"},
            {"op": "replace", "path": "/apiKeySource", "value": "AUTHORIZER"},
        ],
    )
    assert updated["name"] == "shop2" and updated["binaryMediaTypes"] == ["image/gif"]
    assert updated["apiKeySource"] == "AUTHORIZER"

    apigw.delete_rest_api(restApiId=api["id"])
    with pytest.raises(ClientError) as caught:
        apigw.get_rest_api(restApiId=api["id"])
    error = caught.value.response["Error"]
    assert error["Code"] == "NotFoundException"
    assert error["Message"] == f"Invalid API identifier specified 000000000000:{api['id']}"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_resources_methods_and_integrations(apigw: Any, make_api: Any) -> None:
    api = make_api()
    api_id, root = api["id"], api["rootResourceId"]
    users = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="users")
    user = apigw.create_resource(restApiId=api_id, parentId=users["id"], pathPart="{id}")
    proxy = apigw.create_resource(restApiId=api_id, parentId=root, pathPart="{proxy+}")
    assert user["path"] == "/users/{id}" and proxy["path"] == "/{proxy+}"
    assert len(user["id"]) == 6
    with pytest.raises(ClientError) as caught:
        apigw.create_resource(restApiId=api_id, parentId=root, pathPart="users")
    assert caught.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as caught:
        apigw.create_resource(restApiId=api_id, parentId="nope00", pathPart="x")
    assert caught.value.response["Error"]["Message"] == "Invalid Resource identifier specified"

    where = {"restApiId": api_id, "resourceId": user["id"], "httpMethod": "GET"}
    method = apigw.put_method(**where, authorizationType="NONE", apiKeyRequired=True)
    assert method["apiKeyRequired"] is True and method["authorizationType"] == "NONE"
    with pytest.raises(ClientError) as caught:
        apigw.put_method(**where, authorizationType="CUSTOM", authorizerId="nope00")
    assert caught.value.response["Error"]["Code"] in ("BadRequestException", "ConflictException")
    uri = (
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:us-east-1:000000000000:function:f/invocations"
    )
    integration = apigw.put_integration(
        **where, type="AWS_PROXY", integrationHttpMethod="POST", uri=uri
    )
    assert integration["uri"] == uri and integration["httpMethod"] == "POST"
    assert integration["timeoutInMillis"] == 29000
    with pytest.raises(ClientError) as caught:
        apigw.put_integration(**where, type="AWS_PROXY", uri=uri)
    assert caught.value.response["Error"]["Code"] == "BadRequestException"

    updated = apigw.update_method(
        **where, patchOperations=[{"op": "replace", "path": "/apiKeyRequired", "value": "false"}]
    )
    assert updated["apiKeyRequired"] is False
    got = apigw.get_method(**where)
    assert got["methodIntegration"]["type"] == "AWS_PROXY"
    assert apigw.get_integration(**where)["uri"] == uri
    embedded = apigw.get_resource(restApiId=api_id, resourceId=user["id"])
    assert embedded["resourceMethods"] == {"GET": {}}
    full = apigw.get_resource(restApiId=api_id, resourceId=user["id"], embed=["methods"])
    assert full["resourceMethods"]["GET"]["methodIntegration"]["type"] == "AWS_PROXY"

    apigw.delete_integration(**where)
    with pytest.raises(ClientError) as caught:
        apigw.get_integration(**where)
    assert caught.value.response["Error"]["Code"] == "NotFoundException"
    apigw.delete_method(**where)
    with pytest.raises(ClientError) as caught:
        apigw.get_method(**where)
    assert caught.value.response["Error"]["Message"] == "Invalid Method identifier specified"

    apigw.delete_resource(restApiId=api_id, resourceId=users["id"])  # and {id} under it
    paths = sorted(r["path"] for r in apigw.get_resources(restApiId=api_id)["items"])
    assert paths == ["/", "/{proxy+}"]


def test_deployments_and_stages(apigw: Any, make_api: Any) -> None:
    api = make_api()
    api_id = api["id"]
    with pytest.raises(ClientError) as caught:
        apigw.create_deployment(restApiId=api_id, stageName="prod")
    assert caught.value.response["Error"]["Message"] == "The REST API doesn't contain any methods"
    where = {"restApiId": api_id, "resourceId": api["rootResourceId"], "httpMethod": "GET"}
    apigw.put_method(**where, authorizationType="NONE")
    with pytest.raises(ClientError) as caught:
        apigw.create_deployment(restApiId=api_id, stageName="prod")
    assert caught.value.response["Error"]["Message"] == "No integration defined for method"
    apigw.put_integration(**where, type="MOCK")

    first = apigw.create_deployment(restApiId=api_id, stageName="prod", variables={"a": "1"})
    assert "apiSummary" not in first
    summary = apigw.get_deployment(restApiId=api_id, deploymentId=first["id"], embed=["apisummary"])
    assert summary["apiSummary"] == {
        "/": {"GET": {"authorizationType": "NONE", "apiKeyRequired": False}}
    }
    stage = apigw.get_stage(restApiId=api_id, stageName="prod")
    assert stage["deploymentId"] == first["id"] and stage["variables"] == {"a": "1"}
    second = apigw.create_deployment(restApiId=api_id, description="two")
    assert {d["id"] for d in apigw.get_deployments(restApiId=api_id)["items"]} == {
        first["id"],
        second["id"],
    }
    apigw.create_stage(restApiId=api_id, stageName="dev", deploymentId=second["id"])
    with pytest.raises(ClientError) as caught:
        apigw.create_stage(restApiId=api_id, stageName="dev", deploymentId=second["id"])
    assert caught.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as caught:
        apigw.delete_deployment(restApiId=api_id, deploymentId=second["id"])
    assert caught.value.response["Error"]["Code"] == "BadRequestException"
    updated = apigw.update_stage(
        restApiId=api_id,
        stageName="dev",
        patchOperations=[
            {"op": "replace", "path": "/variables/color", "value": "red"},
            {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "5"},
            {"op": "replace", "path": "/description", "value": "development"},
        ],
    )
    assert updated["variables"] == {"color": "red"} and updated["description"] == "development"
    assert updated["methodSettings"]["*/*"]["throttlingRateLimit"] == 5.0
    names = {s["stageName"] for s in apigw.get_stages(restApiId=api_id)["item"]}
    assert names == {"prod", "dev"}
    apigw.delete_stage(restApiId=api_id, stageName="dev")
    with pytest.raises(ClientError) as caught:
        apigw.get_stage(restApiId=api_id, stageName="dev")
    assert caught.value.response["Error"]["Message"] == "Invalid stage identifier specified"
    apigw.delete_deployment(restApiId=api_id, deploymentId=second["id"])
    with pytest.raises(ClientError) as caught:
        apigw.get_deployment(restApiId=api_id, deploymentId=second["id"])
    assert caught.value.response["Error"]["Message"] == "Invalid Deployment identifier specified"


def test_authorizers_keys_plans_and_tags(apigw: Any, make_api: Any) -> None:
    api = make_api()
    api_id = api["id"]
    uri = (
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        "arn:aws:lambda:us-east-1:000000000000:function:auth/invocations"
    )
    token = apigw.create_authorizer(
        restApiId=api_id,
        name="tok",
        type="TOKEN",
        authorizerUri=uri,
        identitySource="method.request.header.Authorization",
    )
    request = apigw.create_authorizer(
        restApiId=api_id,
        name="req",
        type="REQUEST",
        authorizerUri=uri,
        identitySource="method.request.querystring.user",
    )
    assert token["authorizerResultTtlInSeconds"] == 300
    assert {a["id"] for a in apigw.get_authorizers(restApiId=api_id)["items"]} == {
        token["id"],
        request["id"],
    }
    assert apigw.get_authorizer(restApiId=api_id, authorizerId=token["id"])["type"] == "TOKEN"
    method = apigw.put_method(
        restApiId=api_id,
        resourceId=api["rootResourceId"],
        httpMethod="GET",
        authorizationType="CUSTOM",
        authorizerId=token["id"],
    )
    assert method["authorizerId"] == token["id"]
    with pytest.raises(ClientError) as caught:
        apigw.get_authorizer(restApiId=api_id, authorizerId="nope00")
    assert caught.value.response["Error"]["Message"] == "Invalid Authorizer identifier specified"

    key = apigw.create_api_key(name="k", enabled=True)
    assert len(key["value"]) == 40
    assert "value" not in apigw.get_api_key(apiKey=key["id"])
    assert apigw.get_api_key(apiKey=key["id"], includeValue=True)["value"] == key["value"]
    with pytest.raises(ClientError) as caught:
        apigw.create_api_key(name="dup", value=key["value"])
    assert caught.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as caught:
        apigw.create_api_key(name="short", value="abc")
    assert caught.value.response["Error"]["Code"] == "BadRequestException"

    apigw.put_integration(
        restApiId=api_id, resourceId=api["rootResourceId"], httpMethod="GET", type="MOCK"
    )
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    plan = apigw.create_usage_plan(
        name="gold",
        throttle={"rateLimit": 10.0, "burstLimit": 5},
        quota={"limit": 100, "period": "DAY"},
        apiStages=[{"apiId": api_id, "stage": "prod"}],
    )
    assert plan["throttle"] == {"rateLimit": 10.0, "burstLimit": 5}
    with pytest.raises(ClientError) as caught:
        apigw.create_usage_plan(name="bad", apiStages=[{"apiId": api_id, "stage": "nope"}])
    assert caught.value.response["Error"]["Code"] == "NotFoundException"
    plan_key = apigw.create_usage_plan_key(
        usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY"
    )
    assert plan_key == {**plan_key, "id": key["id"], "type": "API_KEY", "value": key["value"]}
    assert [k["id"] for k in apigw.get_usage_plan_keys(usagePlanId=plan["id"])["items"]] == [
        key["id"]
    ]
    assert apigw.get_usage_plan(usagePlanId=plan["id"])["name"] == "gold"
    assert plan["id"] in [p["id"] for p in apigw.get_usage_plans(keyId=key["id"])["items"]]

    arn = f"arn:aws:apigateway:us-east-1::/restapis/{api_id}"
    apigw.tag_resource(resourceArn=arn, tags={"env": "test"})
    assert apigw.get_tags(resourceArn=arn)["tags"] == {"env": "test"}
    apigw.untag_resource(resourceArn=arn, tagKeys=["env"])
    assert apigw.get_tags(resourceArn=arn)["tags"] == {}

    apigw.delete_usage_plan(usagePlanId=plan["id"])
    with pytest.raises(ClientError) as caught:
        apigw.get_usage_plan(usagePlanId=plan["id"])
    assert caught.value.response["Error"]["Message"] == "Invalid Usage Plan ID specified"
    apigw.delete_api_key(apiKey=key["id"])
    with pytest.raises(ClientError) as caught:
        apigw.get_api_key(apiKey=key["id"])
    assert caught.value.response["Error"]["Message"] == "Invalid API Key identifier specified"


def test_rest_apis_are_per_region(server: Server, make_api: Any) -> None:
    api = make_api()
    other = server.client("apigateway", region_name="eu-west-1")
    with pytest.raises(ClientError) as caught:
        other.get_rest_api(restApiId=api["id"])
    assert caught.value.response["Error"]["Code"] == "NotFoundException"


# -- OpenAPI import -------------------------------------------------------------------------


def test_import_swagger_json(server: Server, apigw: Any) -> None:
    api = apigw.import_rest_api(
        body=json.dumps(SWAGGER).encode(), parameters={"endpointConfigurationTypes": "REGIONAL"}
    )
    try:
        assert api["name"] == "pets" and api["binaryMediaTypes"] == ["image/png"]
        assert api["endpointConfiguration"] == {"types": ["REGIONAL"]}
        resources = {
            r["path"]: r
            for r in apigw.get_resources(restApiId=api["id"], embed=["methods"])["items"]
        }
        assert set(resources) == {"/", "/pets", "/pets/{petId}", "/secret"}
        get = resources["/pets/{petId}"]["resourceMethods"]["GET"]
        assert get["operationName"] == "getPet"
        assert get["requestParameters"] == {"method.request.path.petId": True}
        assert get["methodIntegration"]["type"] == "MOCK"
        assert get["methodIntegration"]["integrationResponses"]["200"]["responseTemplates"]
        delete = resources["/pets/{petId}"]["resourceMethods"]["DELETE"]
        (authorizer,) = apigw.get_authorizers(restApiId=api["id"])["items"]
        assert authorizer["name"] == "tokens" and authorizer["type"] == "TOKEN"
        assert authorizer["identitySource"] == "method.request.header.Authorization"
        assert authorizer["authorizerResultTtlInSeconds"] == 60
        assert delete["authorizationType"] == "CUSTOM"
        assert delete["authorizerId"] == authorizer["id"]
        secret = resources["/secret"]["resourceMethods"]["ANY"]
        assert secret["apiKeyRequired"] is True
        assert secret["methodIntegration"]["type"] == "AWS_PROXY"
        assert secret["methodIntegration"]["httpMethod"] == "POST"

        (validator,) = apigw.get_request_validators(restApiId=api["id"])["items"]
        assert validator["name"] == "all" and validator["validateRequestBody"] is True
        assert get["requestValidatorId"] == validator["id"]
        apigw.create_deployment(restApiId=api["id"], stageName="v1")
        status, _, body = call(server, api["id"], "/v1/pets/7")
        assert (status, json.loads(body)) == (200, {"pet": "7"})
        status, headers, body = call(server, api["id"], "/v1/nowhere")
        assert (status, json.loads(body)) == (404, {"why": "Missing Authentication Token"})
        assert headers["x-why"] == "no route"
    finally:
        apigw.delete_rest_api(restApiId=api["id"])


def test_put_rest_api_yaml_overwrite_and_merge(server: Server, apigw: Any, make_api: Any) -> None:
    api = make_api(name="before")
    apigw.create_resource(restApiId=api["id"], parentId=api["rootResourceId"], pathPart="old")
    merged = apigw.put_rest_api(restApiId=api["id"], mode="merge", body=OPENAPI_YAML.encode())
    assert merged["name"] == "yaml-api"
    paths = {r["path"] for r in apigw.get_resources(restApiId=api["id"])["items"]}
    assert paths == {"/", "/old", "/hello"}
    apigw.put_rest_api(restApiId=api["id"], mode="overwrite", body=OPENAPI_YAML.encode())
    paths = {r["path"] for r in apigw.get_resources(restApiId=api["id"])["items"]}
    assert paths == {"/", "/hello"}
    apigw.create_deployment(restApiId=api["id"], stageName="s")
    status, _, body = call(server, api["id"], "/s/hello", by_host=False)
    assert (status, json.loads(body)) == (201, {"hi": True})

    with pytest.raises(ClientError) as caught:
        apigw.put_rest_api(restApiId=api["id"], body=b"{not: [valid")
    assert caught.value.response["Error"]["Code"] == "BadRequestException"
    with pytest.raises(ClientError) as caught:
        apigw.import_rest_api(body=b'{"info": {"title": "x"}}')
    assert caught.value.response["Error"]["Code"] == "BadRequestException"


# -- data plane -----------------------------------------------------------------------------


@pytest.mark.parametrize("by_host", [True, False], ids=["host", "path"])
def test_mock_integration_by_host_and_path(
    server: Server, apigw: Any, make_api: Any, by_host: bool
) -> None:
    api = mock_api(apigw, make_api)
    status, headers, body = call(server, api["id"], "/prod/items/a%20b", by_host=by_host)
    assert status == 200, body
    found = json.loads(body)
    assert found["id"] == "a b" and found["stage"] == "prod" and found["color"] == "blue"
    assert found["request"] == headers["x-amzn-requestid"]
    assert headers["x-mocked"] == "yes" and headers["content-type"] == "application/json"


def test_gateway_errors(server: Server, apigw: Any, make_api: Any) -> None:
    api = mock_api(apigw, make_api)
    missing = call(server, api["id"], "/prod/nothing/here")
    assert missing[0] == 403 and json.loads(missing[2]) == {
        "message": "Missing Authentication Token"
    }
    assert missing[1]["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    wrong_method = call(server, api["id"], "/prod/items/1", method="POST")
    assert wrong_method[0] == 403
    no_stage = call(server, api["id"], "/nostage/items/1")
    assert no_stage[0] == 403 and json.loads(no_stage[2]) == {"message": "Forbidden"}
    unknown = call(server, "zzzzzzzzzz", "/prod/items/1")
    assert unknown[0] == 404
    too_large = call(server, api["id"], "/prod/items/1", body=b"x" * (10 * 1024 * 1024 + 1))
    assert too_large[0] == 413
    assert json.loads(too_large[2]) == {"message": "Request Entity Too Large"}
    assert call(server, api["id"], "/prod/items/1")[0] == 200  # and the server keeps serving


def test_mock_status_selection_and_missing_default(
    server: Server, apigw: Any, make_api: Any
) -> None:
    api = make_api()
    api_id, root = api["id"], api["rootResourceId"]
    where = {"restApiId": api_id, "resourceId": root, "httpMethod": "ANY"}
    apigw.put_method(**where, authorizationType="NONE")
    apigw.put_integration(
        **where, type="MOCK", requestTemplates={"application/json": '{"statusCode": 404}'}
    )
    apigw.put_integration_response(
        **where,
        statusCode="404",
        selectionPattern="4\\d{2}",
        responseTemplates={"application/json": '{"message": "nope"}'},
    )
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    status, _, body = call(server, api_id, "/prod/", method="DELETE")
    assert (status, json.loads(body)) == (404, {"message": "nope"})
    # A status no response selects, with no default: AWS's 500 configuration error.
    apigw.update_integration(
        **where,
        patchOperations=[
            {
                "op": "replace",
                "path": "/requestTemplates/application~1json",
                "value": '{"statusCode": 200}',
            }
        ],
    )
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    status, _, body = call(server, api_id, "/prod")
    assert (status, json.loads(body)) == (500, {"message": "Internal server error"})


def test_mock_request_template_with_if(server: Server, apigw: Any, make_api: Any) -> None:
    """The MOCK example of AWS's guide: the status depends on a query parameter."""
    api = make_api()
    where = {"restApiId": api["id"], "resourceId": api["rootResourceId"], "httpMethod": "GET"}
    apigw.put_method(**where, authorizationType="NONE")
    template = (
        "#if( $input.params('scope') == \"internal\" )\n"
        '    {"statusCode": 200}\n#else\n    {"statusCode": 500}\n#end'
    )
    apigw.put_integration(**where, type="MOCK", requestTemplates={"application/json": template})
    apigw.put_integration_response(
        **where, statusCode="200", responseTemplates={"application/json": '{"ok": true}'}
    )
    apigw.put_integration_response(
        **where,
        statusCode="500",
        selectionPattern="5\\d{2}",
        responseTemplates={"application/json": '{"ok": false}'},
    )
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    status, _, body = call(server, api["id"], "/prod?scope=internal")
    assert (status, json.loads(body)) == (200, {"ok": True})
    status, _, body = call(server, api["id"], "/prod?scope=public")
    assert (status, json.loads(body)) == (500, {"ok": False})


def test_routing_prefers_static_then_param_then_greedy(
    server: Server, apigw: Any, make_api: Any
) -> None:
    api = make_api()
    api_id, root = api["id"], api["rootResourceId"]

    def mocked(parent: str, part: str, answer: str) -> str:
        resource = apigw.create_resource(restApiId=api_id, parentId=parent, pathPart=part)
        where = {"restApiId": api_id, "resourceId": resource["id"], "httpMethod": "ANY"}
        apigw.put_method(**where, authorizationType="NONE")
        apigw.put_integration(
            **where, type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'}
        )
        template = '{"route": "' + answer + '", "path": "$context.resourcePath"}'
        apigw.put_integration_response(
            **where, statusCode="200", responseTemplates={"application/json": template}
        )
        return str(resource["id"])

    a = mocked(root, "a", "static")
    mocked(a, "b", "static-b")
    mocked(a, "{x}", "param")
    mocked(root, "{proxy+}", "greedy")
    apigw.create_deployment(restApiId=api_id, stageName="p")
    routes = {
        "/p/a": "static",
        "/p/a/b": "static-b",
        "/p/a/z": "param",
        "/p/a/z/deeper": "greedy",
        "/p/other/thing": "greedy",
    }
    for path, route in routes.items():
        status, _, body = call(server, api_id, path)
        assert status == 200 and json.loads(body)["route"] == route, (path, body)


def test_api_keys_throttle_and_quota(server: Server, apigw: Any, make_api: Any) -> None:
    api = mock_api(apigw, make_api, apiKeyRequired=True)
    api_id = api["id"]
    assert call(server, api_id, "/prod/items/1")[0] == 403
    key = apigw.create_api_key(name="client", enabled=True)
    # A key in no plan of this stage is refused too.
    refused = call(server, api_id, "/prod/items/1", headers={"x-api-key": key["value"]})
    assert refused[0] == 403 and json.loads(refused[2]) == {"message": "Forbidden"}
    plan = apigw.create_usage_plan(
        name="tight",
        throttle={"rateLimit": 0.01, "burstLimit": 2},
        apiStages=[{"apiId": api_id, "stage": "prod"}],
    )
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    sent = {"x-api-key": key["value"]}
    statuses = [call(server, api_id, "/prod/items/1", headers=sent)[0] for _ in range(3)]
    assert statuses == [200, 200, 429]
    throttled = call(server, api_id, "/prod/items/1", headers=sent)
    assert json.loads(throttled[2]) == {"message": "Too Many Requests"}

    quota_key = apigw.create_api_key(name="quota", enabled=True)
    quota = apigw.create_usage_plan(
        name="quota",
        quota={"limit": 2, "period": "DAY"},
        apiStages=[{"apiId": api_id, "stage": "prod"}],
    )
    apigw.create_usage_plan_key(usagePlanId=quota["id"], keyId=quota_key["id"], keyType="API_KEY")
    sent = {"x-api-key": quota_key["value"]}
    answers = [call(server, api_id, "/prod/items/1", headers=sent) for _ in range(3)]
    assert [a[0] for a in answers] == [200, 200, 429]
    assert json.loads(answers[2][2]) == {"message": "Limit Exceeded"}

    disabled = apigw.create_api_key(name="off", enabled=False)
    apigw.create_usage_plan_key(usagePlanId=plan["id"], keyId=disabled["id"], keyType="API_KEY")
    assert call(server, api_id, "/prod/items/1", headers={"x-api-key": disabled["value"]})[0] == 403
    for made in (plan, quota):
        apigw.delete_usage_plan(usagePlanId=made["id"])
    for made in (key, quota_key, disabled):
        apigw.delete_api_key(apiKey=made["id"])


def test_gateway_responses_shape_front_door_errors(
    server: Server, apigw: Any, make_api: Any
) -> None:
    api = mock_api(apigw, make_api, apiKeyRequired=True)
    api_id = api["id"]
    apigw.put_gateway_response(
        restApiId=api_id,
        responseType="MISSING_AUTHENTICATION_TOKEN",
        statusCode="404",
        responseParameters={"gatewayresponse.header.Access-Control-Allow-Origin": "'*'"},
        responseTemplates={"application/json": '{"error": $context.error.messageString}'},
    )
    apigw.put_gateway_response(
        restApiId=api_id,
        responseType="DEFAULT_4XX",
        responseParameters={"gatewayresponse.header.X-Default": "'4xx'"},
    )
    got = apigw.get_gateway_response(restApiId=api_id, responseType="MISSING_AUTHENTICATION_TOKEN")
    assert got["statusCode"] == "404" and got["defaultResponse"] is False
    every = apigw.get_gateway_responses(restApiId=api_id)["items"]
    assert {r["responseType"] for r in every} >= {"THROTTLED", "UNAUTHORIZED", "DEFAULT_5XX"}
    # Gateway responses, like everything else, take effect when deployed.
    assert call(server, api_id, "/prod/nothing")[0] == 403
    apigw.create_deployment(restApiId=api_id, stageName="prod")
    status, headers, body = call(server, api_id, "/prod/nothing")
    assert (status, json.loads(body)) == (404, {"error": "Missing Authentication Token"})
    assert headers["access-control-allow-origin"] == "*"
    status, headers, body = call(server, api_id, "/prod/items/1")  # no API key: DEFAULT_4XX
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
    assert headers["x-default"] == "4xx"


def test_models_validators_and_account(apigw: Any, make_api: Any) -> None:
    api = make_api()
    api_id = api["id"]
    model = apigw.create_model(
        restApiId=api_id, name="Pet", contentType="application/json", schema='{"type": "object"}'
    )
    assert apigw.get_model(restApiId=api_id, modelName="Pet")["id"] == model["id"]
    assert [m["name"] for m in apigw.get_models(restApiId=api_id)["items"]] == ["Pet"]
    with pytest.raises(ClientError) as caught:
        apigw.get_model(restApiId=api_id, modelName="Nope")
    assert caught.value.response["Error"]["Code"] == "NotFoundException"
    validator = apigw.create_request_validator(
        restApiId=api_id, name="body", validateRequestBody=True
    )
    assert validator["validateRequestParameters"] is False
    updated = apigw.update_request_validator(
        restApiId=api_id,
        requestValidatorId=validator["id"],
        patchOperations=[{"op": "replace", "path": "/validateRequestParameters", "value": "true"}],
    )
    assert updated["validateRequestParameters"] is True
    apigw.delete_request_validator(restApiId=api_id, requestValidatorId=validator["id"])
    assert apigw.get_request_validators(restApiId=api_id)["items"] == []
    account = apigw.get_account()
    assert account["throttleSettings"] == {"burstLimit": 5000, "rateLimit": 10000.0}


def test_stage_access_log(server: Server, apigw: Any, make_api: Any) -> None:
    api = mock_api(apigw, make_api)
    apigw.update_stage(
        restApiId=api["id"],
        stageName="prod",
        patchOperations=[
            {
                "op": "replace",
                "path": "/accessLogSettings/destinationArn",
                "value": f"arn:aws:logs:us-east-1:000000000000:log-group:/access/{api['id']}",
            },
            {
                "op": "replace",
                "path": "/accessLogSettings/format",
                "value": '{"id": "$context.requestId", "status": "$context.status", '
                '"method": "$context.httpMethod", "path": "$context.resourcePath"}',
            },
        ],
    )
    _, headers, _ = call(server, api["id"], "/prod/items/7")
    log = server.data_dir / "logs" / "000000000000" / "us-east-1" / f"access_{api['id']}.log"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (log.exists() and log.stat().st_size):
        time.sleep(0.05)
    stamp, stream, line = log.read_text().splitlines()[-1].split("\t", 2)
    assert stream == "access" and stamp.isdigit()
    assert json.loads(line) == {
        "id": headers["x-amzn-requestid"],
        "status": "200",
        "method": "GET",
        "path": "/items/{id}",
    }


def test_request_validator_requires_parameters(server: Server, apigw: Any, make_api: Any) -> None:
    api = make_api()
    validator = apigw.create_request_validator(
        restApiId=api["id"], name="params", validateRequestParameters=True
    )
    where = {"restApiId": api["id"], "resourceId": api["rootResourceId"], "httpMethod": "GET"}
    apigw.put_method(
        **where,
        authorizationType="NONE",
        requestValidatorId=validator["id"],
        requestParameters={
            "method.request.querystring.q": True,
            "method.request.header.X-Need": True,
            "method.request.querystring.optional": False,
        },
    )
    apigw.put_integration(
        **where, type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'}
    )
    apigw.put_integration_response(
        **where, statusCode="200", responseTemplates={"application/json": "{}"}
    )
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    status, headers, body = call(server, api["id"], "/prod")
    assert status == 400 and headers["x-amzn-errortype"] == "BadRequestException"
    assert json.loads(body) == {"message": "Missing required request parameters: [q, X-Need]"}
    assert call(server, api["id"], "/prod?q=1", headers={"X-Need": "y"})[0] == 200


def test_rest_apis_survive_a_restart(fresh_server: Callable[..., Server]) -> None:
    first = fresh_server()
    apigw = first.client("apigateway")
    api = apigw.create_rest_api(name="durable")
    where = {"restApiId": api["id"], "resourceId": api["rootResourceId"], "httpMethod": "GET"}
    apigw.put_method(**where, authorizationType="NONE")
    apigw.put_integration(
        **where, type="MOCK", requestTemplates={"application/json": '{"statusCode": 200}'}
    )
    apigw.put_integration_response(
        **where, statusCode="200", responseTemplates={"application/json": '{"ok": 1}'}
    )
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    key = apigw.create_api_key(name="k", enabled=True)
    first.stop()
    time.sleep(0.1)
    second = fresh_server(first.data_dir)
    again = second.client("apigateway")
    assert again.get_rest_api(restApiId=api["id"])["name"] == "durable"
    assert again.get_api_key(apiKey=key["id"])["name"] == "k"
    status, _, body = call(second, api["id"], "/prod")
    assert (status, json.loads(body)) == (200, {"ok": 1})


def test_aws_iam_authorization(server: Server, apigw: Any, make_api: Any) -> None:
    api = mock_api(apigw, make_api)
    where = {"restApiId": api["id"], "resourceId": api["item"], "httpMethod": "GET"}
    apigw.update_method(
        **where,
        patchOperations=[{"op": "replace", "path": "/authorizationType", "value": "AWS_IAM"}],
    )
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    unsigned = call(server, api["id"], "/prod/items/1")
    assert unsigned[0] == 403
    assert json.loads(unsigned[2]) == {"message": "Missing Authentication Token"}

    def signed(service: str) -> tuple[int, dict[str, str], bytes]:
        host = f"{api['id']}.execute-api.localhost:{server.port}"
        request = AWSRequest(method="GET", url=f"http://{host}/prod/items/1")
        SigV4Auth(Credentials("AKIDEXAMPLE", "secret"), service, "us-east-1").add_auth(request)
        return call(server, api["id"], "/prod/items/1", headers=dict(request.headers.items()))

    status, _, body = signed("execute-api")
    assert status == 200 and json.loads(body)["id"] == "1"
    status, _, body = signed("lambda")
    assert status == 403
    assert json.loads(body)["message"].startswith("Credential should be scoped to correct service")


# -- Lambda: AWS_PROXY integrations and authorizers ------------------------------------------

ACCOUNT = "000000000000"
ECHO = """
import json

def handler(event, context):
    if event.get("queryStringParameters") and "fail" in event["queryStringParameters"]:
        raise RuntimeError("boom")
    if event.get("queryStringParameters") and "garbage" in event["queryStringParameters"]:
        return "not a proxy response"
    return {
        "statusCode": 201,
        "headers": {"X-From": "function"},
        "multiValueHeaders": {"X-Many": ["a", "b"]},
        "body": json.dumps(event),
    }
"""
AUTHORIZER = """
def handler(event, context):
    token = event.get("authorizationToken") or (event.get("queryStringParameters") or {}).get("user")
    if token == "bad":
        raise Exception("Unauthorized")
    effect = "Deny" if token == "deny" else "Allow"
    return {
        "principalId": "user-" + token,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect,
                           "Resource": event["methodArn"].rsplit("/", 2)[0] + "/*"}],
        },
        "context": {"tier": "gold", "calls": 1},
    }
"""


def lambda_uri(name: str) -> str:
    return (
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}/invocations"
    )


def proxy_api(apigw: Any, make_api: Any, uri: str, **method: Any) -> dict[str, Any]:
    """`ANY /items/{id}` -> AWS_PROXY to `uri`, deployed to `prod` (with stage variables)."""
    api = make_api(binaryMediaTypes=["image/png"])
    items = apigw.create_resource(
        restApiId=api["id"], parentId=api["rootResourceId"], pathPart="items"
    )
    item = apigw.create_resource(restApiId=api["id"], parentId=items["id"], pathPart="{id}")
    where = {"restApiId": api["id"], "resourceId": item["id"], "httpMethod": "ANY"}
    apigw.put_method(**where, authorizationType=method.pop("authorizationType", "NONE"), **method)
    apigw.put_integration(**where, type="AWS_PROXY", integrationHttpMethod="POST", uri=uri)
    return {**api, "item": item["id"]}


def permit(lam: Any, name: str, api_id: str) -> None:
    """Let API Gateway invoke `name` for any method of `api_id` (what SAM's permission does)."""
    lam.add_permission(
        FunctionName=name,
        StatementId=f"api-{api_id}",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:us-east-1:{ACCOUNT}:{api_id}/*",
    )


def deploy(apigw: Any, api_id: str, **variables: str) -> None:
    apigw.create_deployment(restApiId=api_id, stageName="prod", variables=variables or {"v": "1"})


@pytest.mark.parametrize("by_host", [True, False], ids=["host", "path"])
def test_proxy_event_and_response(
    server: Server,
    apigw: Any,
    lam: Any,
    make_api: Any,
    make_function: FunctionFactory,
    by_host: bool,
) -> None:
    name = make_function(ECHO)
    api = proxy_api(apigw, make_api, lambda_uri(name))
    permit(lam, name, api["id"])
    deploy(apigw, api["id"], color="blue")
    status, headers, body = call(
        server,
        api["id"],
        "/prod/items/a%20b?x=1&x=2",
        method="POST",
        by_host=by_host,
        headers={"Content-Type": "application/json", "X-Custom": "yes"},
        body=b'{"hello": "world"}',
    )
    assert status == 201, body
    assert headers["x-from"] == "function" and headers["x-many"] == "a, b"
    event = json.loads(body)
    assert event["resource"] == "/items/{id}" and event["path"] == "/items/a b"
    assert event["httpMethod"] == "POST" and event["body"] == '{"hello": "world"}'
    assert event["isBase64Encoded"] is False
    assert event["pathParameters"] == {"id": "a b"}
    assert event["queryStringParameters"] == {"x": "2"}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"]}
    assert event["stageVariables"] == {"color": "blue"}
    assert event["headers"]["x-custom"] == "yes"
    context = event["requestContext"]
    assert context["stage"] == "prod" and context["apiId"] == api["id"]
    assert context["resourcePath"] == "/items/{id}" and context["accountId"] == ACCOUNT
    assert context["requestId"] == headers["x-amzn-requestid"]


def test_binary_body_and_stage_variable_uri(
    server: Server, apigw: Any, lam: Any, make_api: Any, make_function: FunctionFactory
) -> None:
    name = make_function(ECHO)
    uri = lambda_uri("${stageVariables.fn}")
    api = proxy_api(apigw, make_api, uri)
    permit(lam, name, api["id"])
    deploy(apigw, api["id"], fn=name)
    status, _, body = call(
        server,
        api["id"],
        "/prod/items/1",
        method="PUT",
        headers={"Content-Type": "image/png"},
        body=b"\x89PNG\x00",
    )
    assert status == 201, body
    event = json.loads(body)
    assert event["isBase64Encoded"] is True and event["body"] == "iVBORwA="


BINARY = """
import base64

def handler(event, context):
    return {"statusCode": 200, "headers": {"Content-Type": "image/png"},
            "body": base64.b64encode(b"\\x89PNG-bytes").decode(), "isBase64Encoded": True}
"""


def test_binary_answers_follow_accept(
    server: Server, apigw: Any, lam: Any, make_api: Any, make_function: FunctionFactory
) -> None:
    name = make_function(BINARY)
    api = proxy_api(apigw, make_api, lambda_uri(name))
    permit(lam, name, api["id"])
    deploy(apigw, api["id"])
    status, headers, body = call(
        server, api["id"], "/prod/items/1", headers={"Accept": "image/png"}
    )
    assert (status, body) == (200, b"\x89PNG-bytes") and headers["content-type"] == "image/png"
    status, _, body = call(server, api["id"], "/prod/items/1", headers={"Accept": "text/html"})
    assert (status, body) == (200, b"iVBORy1ieXRlcw==")


def test_function_failures_are_502(
    server: Server, apigw: Any, lam: Any, make_api: Any, make_function: FunctionFactory
) -> None:
    name = make_function(ECHO)
    api = proxy_api(apigw, make_api, lambda_uri(name))
    deploy(apigw, api["id"])
    # No permission for API Gateway yet: AWS's 500, the refusal in the log.
    status, _, body = call(server, api["id"], "/prod/items/1")
    assert (status, json.loads(body)) == (500, {"message": "Internal server error"})
    permit(lam, name, api["id"])
    for query in ("fail", "garbage"):
        status, _, body = call(server, api["id"], f"/prod/items/1?{query}=1")
        assert (status, json.loads(body)) == (502, {"message": "Internal server error"}), query
    missing = proxy_api(apigw, make_api, lambda_uri("no-such-function"))
    deploy(apigw, missing["id"])
    status, _, body = call(server, missing["id"], "/prod/items/1")
    assert (status, json.loads(body)) == (500, {"message": "Internal server error"})


def test_token_authorizer(
    server: Server, apigw: Any, lam: Any, make_api: Any, make_function: FunctionFactory
) -> None:
    target = make_function(ECHO)
    checker = make_function(AUTHORIZER)
    api = make_api()
    permit(lam, target, api["id"])
    permit(lam, checker, api["id"])
    authorizer = apigw.create_authorizer(
        restApiId=api["id"],
        name="tokens",
        type="TOKEN",
        authorizerUri=lambda_uri(checker),
        identitySource="method.request.header.Authorization",
        identityValidationExpression="[a-z]+",
        authorizerResultTtlInSeconds=0,
    )
    resource = apigw.create_resource(
        restApiId=api["id"], parentId=api["rootResourceId"], pathPart="me"
    )
    where = {"restApiId": api["id"], "resourceId": resource["id"], "httpMethod": "GET"}
    apigw.put_method(**where, authorizationType="CUSTOM", authorizerId=authorizer["id"])
    apigw.put_integration(
        **where, type="AWS_PROXY", integrationHttpMethod="POST", uri=lambda_uri(target)
    )
    deploy(apigw, api["id"])

    status, _, body = call(server, api["id"], "/prod/me", headers={"Authorization": "alice"})
    assert status == 201, body
    assert json.loads(body)["requestContext"]["authorizer"]["principalId"] == "user-alice"
    assert json.loads(body)["requestContext"]["authorizer"]["tier"] == "gold"
    denied = call(server, api["id"], "/prod/me", headers={"Authorization": "deny"})
    assert denied[0] == 403
    assert json.loads(denied[2]) == {
        "Message": "User is not authorized to access this resource with an explicit deny"
    }
    for headers in ({"Authorization": "bad"}, {}, {"Authorization": "NOT-MATCHING-1"}):
        status, _, body = call(server, api["id"], "/prod/me", headers=headers)
        assert (status, json.loads(body)) == (401, {"message": "Unauthorized"}), headers


def test_request_authorizer_with_query_identity(
    server: Server, apigw: Any, lam: Any, make_api: Any, make_function: FunctionFactory
) -> None:
    target = make_function(ECHO)
    checker = make_function(AUTHORIZER)
    api = make_api()
    permit(lam, target, api["id"])
    permit(lam, checker, api["id"])
    authorizer = apigw.create_authorizer(
        restApiId=api["id"],
        name="requests",
        type="REQUEST",
        authorizerUri=lambda_uri(checker),
        identitySource="method.request.querystring.user",
    )
    resource = apigw.create_resource(
        restApiId=api["id"], parentId=api["rootResourceId"], pathPart="r"
    )
    where = {"restApiId": api["id"], "resourceId": resource["id"], "httpMethod": "GET"}
    apigw.put_method(**where, authorizationType="CUSTOM", authorizerId=authorizer["id"])
    apigw.put_integration(
        **where, type="AWS_PROXY", integrationHttpMethod="POST", uri=lambda_uri(target)
    )
    deploy(apigw, api["id"])
    assert call(server, api["id"], "/prod/r?user=bob")[0] == 201
    assert call(server, api["id"], "/prod/r?user=deny")[0] == 403
    assert call(server, api["id"], "/prod/r")[0] == 401


def test_sam_shaped_body_with_a_function(
    server: Server, apigw: Any, lam: Any, make_function: FunctionFactory
) -> None:
    """The body SAM's transform writes for an `Api` event (its intrinsics resolved), imported,
    deployed and called: the path a `sam deploy` of a hello-world app takes."""
    name = make_function(ECHO)
    body = {
        "swagger": "2.0",
        "info": {"version": "1.0", "title": "sam-app"},
        "paths": {
            "/hello/{name}": {
                "get": {
                    "x-amazon-apigateway-integration": {
                        "httpMethod": "POST",
                        "type": "aws_proxy",
                        "uri": lambda_uri(name),
                    },
                    "responses": {},
                }
            }
        },
    }
    api = apigw.import_rest_api(body=json.dumps(body).encode())
    try:
        permit(lam, name, api["id"])
        apigw.create_deployment(restApiId=api["id"], stageName="Prod")
        status, _, answer = call(server, api["id"], "/Prod/hello/world")
        assert status == 201, answer
        event = json.loads(answer)
        assert event["pathParameters"] == {"name": "world"}
        assert event["requestContext"]["path"] == "/Prod/hello/world"
    finally:
        apigw.delete_rest_api(restApiId=api["id"])


CUSTOM = """
def handler(event, context):
    if event.get("fail"):
        raise Exception("Bad Request: " + event["fail"])
    return {"got": event}
"""


def test_lambda_non_proxy_integration(
    server: Server, apigw: Any, lam: Any, make_api: Any, make_function: FunctionFactory
) -> None:
    name = make_function(CUSTOM)
    api = make_api()
    permit(lam, name, api["id"])
    where = {"restApiId": api["id"], "resourceId": api["rootResourceId"], "httpMethod": "GET"}
    apigw.put_method(**where, authorizationType="NONE")
    apigw.put_integration(
        **where,
        type="AWS",
        integrationHttpMethod="POST",
        uri=lambda_uri(name),
        requestTemplates={
            "application/json": '{"name": "$input.params(\'name\')", '
            '"fail": "$input.params(\'fail\')"}'
        },
    )
    apigw.put_integration_response(
        **where,
        statusCode="200",
        responseTemplates={"application/json": "{\"hello\": $input.json('$.got.name')}"},
        responseParameters={"method.response.header.X-Name": "integration.response.body.got.name"},
    )
    apigw.put_integration_response(
        **where,
        statusCode="400",
        selectionPattern="Bad Request.*",
        responseTemplates={"application/json": '{"error": "$input.path(\'$.errorMessage\')"}'},
    )
    apigw.create_deployment(restApiId=api["id"], stageName="prod")
    status, headers, body = call(server, api["id"], "/prod?name=ann")
    assert (status, json.loads(body)) == (200, {"hello": "ann"}), body
    assert headers["x-name"] == "ann"
    status, _, body = call(server, api["id"], "/prod?fail=nope")
    assert (status, json.loads(body)) == (400, {"error": "Bad Request: nope"})
