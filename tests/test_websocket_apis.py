"""WebSocket APIs' control plane with boto3 against a live server: routes, integrations,
authorizers, route responses and integration responses, and the errors API Gateway gives
for what only HTTP APIs (or only WebSocket APIs) have; the parts survive a restart."""

from __future__ import annotations

import contextlib
import http.client
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Server

FUNCTION = "arn:aws:lambda:us-east-1:000000000000:function:ws-handler"
URI = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{FUNCTION}/invocations"


@pytest.fixture()
def v2(server: Server) -> Iterator[Any]:
    client = server.client("apigatewayv2")
    made: list[str] = []
    original = client.create_api

    def create_api(**kwargs: Any) -> Any:
        answer = original(**kwargs)
        made.append(answer["ApiId"])
        return answer

    client.create_api = create_api
    yield client
    for api_id in made:
        with contextlib.suppress(ClientError):
            client.delete_api(ApiId=api_id)


def _error(call: Callable[[], Any]) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as caught:
        call()
    error = caught.value.response["Error"]
    status = caught.value.response["ResponseMetadata"]["HTTPStatusCode"]
    return error["Code"], error["Message"], status


def _ws(v2: Any) -> str:
    api_id: str = v2.create_api(
        Name="chat", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )["ApiId"]
    return api_id


def test_api_and_stage(v2: Any) -> None:
    code, message, status = _error(lambda: v2.create_api(Name="x", ProtocolType="WEBSOCKET"))
    assert (code, status) == ("BadRequestException", 400)
    assert "RouteSelectionExpression" in message
    code, _, _ = _error(
        lambda: v2.create_api(
            Name="x",
            ProtocolType="WEBSOCKET",
            RouteSelectionExpression="$request.body.action",
            CorsConfiguration={"AllowOrigins": ["*"]},
        )
    )
    assert code == "BadRequestException"
    api_id = _ws(v2)
    api = v2.get_api(ApiId=api_id)
    assert api["ProtocolType"] == "WEBSOCKET"
    assert api["RouteSelectionExpression"] == "$request.body.action"
    assert api["ApiKeySelectionExpression"] == "$request.header.x-api-key"
    assert api["ApiEndpoint"].startswith(f"ws://{api_id}.execute-api.localhost:")
    code, _, _ = _error(
        lambda: v2.update_api(ApiId=api_id, CorsConfiguration={"AllowOrigins": ["*"]})
    )
    assert code == "BadRequestException"
    assert (
        v2.update_api(ApiId=api_id, RouteSelectionExpression="$request.body.type")[
            "RouteSelectionExpression"
        ]
        == "$request.body.type"
    )
    stage = v2.create_stage(ApiId=api_id, StageName="prod")
    assert stage["DefaultRouteSettings"] == {
        "DataTraceEnabled": False,
        "DetailedMetricsEnabled": False,
        "LoggingLevel": "OFF",
    }


def test_routes(v2: Any) -> None:
    api_id = _ws(v2)
    keys = ["$connect", "$disconnect", "$default", "sendmessage", "a b/c"]
    for key in keys:
        route = v2.create_route(ApiId=api_id, RouteKey=key)
        assert route["RouteKey"] == key and route["AuthorizationType"] == "NONE"
    assert sorted(r["RouteKey"] for r in v2.get_routes(ApiId=api_id)["Items"]) == sorted(keys)
    code, _, status = _error(lambda: v2.create_route(ApiId=api_id, RouteKey="sendmessage"))
    assert (code, status) == ("ConflictException", 409)
    authorizer = v2.create_authorizer(
        ApiId=api_id,
        AuthorizerType="REQUEST",
        Name="auth",
        AuthorizerUri=URI,
        IdentitySource=["route.request.header.Auth"],
    )["AuthorizerId"]
    code, message, _ = _error(
        lambda: v2.create_route(
            ApiId=api_id, RouteKey="other", AuthorizationType="CUSTOM", AuthorizerId=authorizer
        )
    )
    assert (code, message) == (
        "BadRequestException",
        "Currently, authorization is restricted to the $connect route only",
    )
    connect = next(r for r in v2.get_routes(ApiId=api_id)["Items"] if r["RouteKey"] == "$connect")
    updated = v2.update_route(
        ApiId=api_id,
        RouteId=connect["RouteId"],
        AuthorizationType="CUSTOM",
        AuthorizerId=authorizer,
    )
    assert updated["AuthorizerId"] == authorizer
    code, _, _ = _error(
        lambda: v2.update_route(ApiId=api_id, RouteId=connect["RouteId"], AuthorizationType="JWT")
    )
    assert code == "BadRequestException"
    code, _, _ = _error(
        lambda: v2.create_route(
            ApiId=api_id, RouteKey="two", RouteResponseSelectionExpression="$request.body.x"
        )
    )
    assert code == "BadRequestException"
    two_way = v2.create_route(
        ApiId=api_id, RouteKey="two", RouteResponseSelectionExpression="$default"
    )
    assert two_way["RouteResponseSelectionExpression"] == "$default"


def test_integrations(v2: Any) -> None:
    api_id = _ws(v2)
    proxy = v2.create_integration(ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=URI)
    assert proxy["PayloadFormatVersion"] == "1.0"
    assert proxy["TimeoutInMillis"] == 29000
    assert proxy["IntegrationMethod"] == "POST"
    assert proxy["ConnectionType"] == "INTERNET"
    mock = v2.create_integration(
        ApiId=api_id,
        IntegrationType="MOCK",
        RequestTemplates={"$default": '{"statusCode": 200}'},
        TemplateSelectionExpression="\\$default",
    )
    assert mock["IntegrationType"] == "MOCK"
    assert mock["PassthroughBehavior"] == "WHEN_NO_MATCH"
    assert mock["RequestTemplates"] == {"$default": '{"statusCode": 200}'}
    for bad in (
        {"IntegrationType": "AWS_PROXY", "IntegrationUri": URI, "PayloadFormatVersion": "2.0"},
        {"IntegrationType": "AWS_PROXY", "IntegrationUri": URI, "TimeoutInMillis": 30000},
        {"IntegrationType": "AWS_PROXY"},
        {"IntegrationType": "AWS_PROXY", "IntegrationSubtype": "SQS-SendMessage"},
        {"IntegrationType": "SOAP"},
    ):
        code, _, status = _error(lambda bad=bad: v2.create_integration(ApiId=api_id, **bad))
        assert (code, status) == ("BadRequestException", 400), bad
    updated = v2.update_integration(
        ApiId=api_id, IntegrationId=proxy["IntegrationId"], TimeoutInMillis=5000
    )
    assert updated["TimeoutInMillis"] == 5000


def test_authorizers(v2: Any) -> None:
    api_id = _ws(v2)
    made = v2.create_authorizer(
        ApiId=api_id,
        AuthorizerType="REQUEST",
        Name="auth",
        AuthorizerUri=URI,
        IdentitySource=["route.request.header.Auth", "route.request.querystring.token"],
    )
    assert made["IdentitySource"] == [
        "route.request.header.Auth",
        "route.request.querystring.token",
    ]
    assert v2.get_authorizer(ApiId=api_id, AuthorizerId=made["AuthorizerId"])["Name"] == "auth"
    for bad in (
        {"AuthorizerType": "JWT", "IdentitySource": ["$request.header.Authorization"],
         "JwtConfiguration": {"Issuer": "https://issuer", "Audience": ["a"]}},
        {"AuthorizerType": "REQUEST", "AuthorizerUri": URI, "IdentitySource": ["$request.header.A"]},
        {"AuthorizerType": "REQUEST", "AuthorizerUri": URI, "IdentitySource": [],
         "AuthorizerPayloadFormatVersion": "2.0"},
        {"AuthorizerType": "REQUEST", "AuthorizerUri": URI, "IdentitySource": [],
         "EnableSimpleResponses": True},
        {"AuthorizerType": "REQUEST", "IdentitySource": []},
    ):  # fmt: skip
        code, _, _ = _error(lambda bad=bad: v2.create_authorizer(ApiId=api_id, Name="x", **bad))
        assert code == "BadRequestException", bad


def test_route_responses(v2: Any) -> None:
    api_id = _ws(v2)
    route_id = v2.create_route(ApiId=api_id, RouteKey="echo")["RouteId"]
    made = v2.create_route_response(
        ApiId=api_id,
        RouteId=route_id,
        RouteResponseKey="$default",
        ModelSelectionExpression="mse",
        ResponseModels={"$default": "Empty"},
    )
    assert made["RouteResponseKey"] == "$default" and made["ResponseModels"] == {
        "$default": "Empty"
    }
    rr_id = made["RouteResponseId"]
    got = v2.get_route_response(ApiId=api_id, RouteId=route_id, RouteResponseId=rr_id)
    assert got == {k: v for k, v in made.items() if k != "ResponseMetadata"} | {
        "ResponseMetadata": got["ResponseMetadata"]
    }
    items = v2.get_route_responses(ApiId=api_id, RouteId=route_id)["Items"]
    assert [i["RouteResponseId"] for i in items] == [rr_id]
    code, _, _ = _error(
        lambda: v2.create_route_response(
            ApiId=api_id, RouteId=route_id, RouteResponseKey="$default"
        )
    )
    assert code == "BadRequestException"
    code, _, _ = _error(
        lambda: v2.create_route_response(ApiId=api_id, RouteId=route_id, RouteResponseKey=" ")
    )
    assert code == "BadRequestException"
    updated = v2.update_route_response(
        ApiId=api_id, RouteId=route_id, RouteResponseId=rr_id, ModelSelectionExpression="other"
    )
    assert updated["ModelSelectionExpression"] == "other"
    v2.delete_route_response(ApiId=api_id, RouteId=route_id, RouteResponseId=rr_id)
    code, message, status = _error(
        lambda: v2.get_route_response(ApiId=api_id, RouteId=route_id, RouteResponseId=rr_id)
    )
    assert (code, status) == ("NotFoundException", 404)
    assert message == f"Invalid RouteResponse identifier specified {rr_id}"
    code, message, _ = _error(lambda: v2.get_route_responses(ApiId=api_id, RouteId="nosuch"))
    assert (code, message) == ("NotFoundException", "Invalid Route identifier specified nosuch")
    http_api = v2.create_api(Name="h", ProtocolType="HTTP")["ApiId"]
    http_route = v2.create_route(ApiId=http_api, RouteKey="GET /")["RouteId"]
    code, _, _ = _error(
        lambda: v2.create_route_response(
            ApiId=http_api, RouteId=http_route, RouteResponseKey="$default"
        )
    )
    assert code == "BadRequestException"


def test_integration_responses(v2: Any) -> None:
    api_id = _ws(v2)
    integration_id = v2.create_integration(ApiId=api_id, IntegrationType="MOCK")["IntegrationId"]
    made = v2.create_integration_response(
        ApiId=api_id,
        IntegrationId=integration_id,
        IntegrationResponseKey="$default",
        ResponseTemplates={"$default": '{"pong": true}'},
        TemplateSelectionExpression="\\$default",
        ContentHandlingStrategy="CONVERT_TO_TEXT",
    )
    assert made["IntegrationResponseKey"] == "$default"
    assert made["ResponseTemplates"] == {"$default": '{"pong": true}'}
    other = v2.create_integration_response(
        ApiId=api_id, IntegrationId=integration_id, IntegrationResponseKey="/4\\d\\d/"
    )
    listed = v2.get_integration_responses(ApiId=api_id, IntegrationId=integration_id)["Items"]
    assert {i["IntegrationResponseKey"] for i in listed} == {"$default", "/4\\d\\d/"}
    for bad in ("ok", "/[/", "$default"):
        code, _, _ = _error(
            lambda bad=bad: v2.create_integration_response(
                ApiId=api_id, IntegrationId=integration_id, IntegrationResponseKey=bad
            )
        )
        assert code == "BadRequestException", bad
    updated = v2.update_integration_response(
        ApiId=api_id,
        IntegrationId=integration_id,
        IntegrationResponseId=other["IntegrationResponseId"],
        IntegrationResponseKey="/5\\d\\d/",
    )
    assert updated["IntegrationResponseKey"] == "/5\\d\\d/"
    v2.delete_integration_response(
        ApiId=api_id,
        IntegrationId=integration_id,
        IntegrationResponseId=other["IntegrationResponseId"],
    )
    code, message, _ = _error(
        lambda: v2.get_integration_response(
            ApiId=api_id, IntegrationId=integration_id, IntegrationResponseId="unknown"
        )
    )
    assert (code, message) == (
        "NotFoundException",
        "Invalid IntegrationResponse identifier specified unknown",
    )


def test_parts_survive_a_restart(fresh_server: Callable[..., Server]) -> None:
    server = fresh_server()
    v2 = server.client("apigatewayv2")
    api_id = _ws(v2)
    route_id = v2.create_route(ApiId=api_id, RouteKey="echo")["RouteId"]
    rr_id = v2.create_route_response(ApiId=api_id, RouteId=route_id, RouteResponseKey="$default")[
        "RouteResponseId"
    ]
    integration_id = v2.create_integration(ApiId=api_id, IntegrationType="MOCK")["IntegrationId"]
    ir_id = v2.create_integration_response(
        ApiId=api_id, IntegrationId=integration_id, IntegrationResponseKey="$default"
    )["IntegrationResponseId"]
    v2.create_stage(ApiId=api_id, StageName="prod", AutoDeploy=True)
    server.stop()
    server.start()
    v2 = server.client("apigatewayv2")
    assert v2.get_api(ApiId=api_id)["ProtocolType"] == "WEBSOCKET"
    assert v2.get_route_response(ApiId=api_id, RouteId=route_id, RouteResponseId=rr_id)
    assert v2.get_integration_response(
        ApiId=api_id, IntegrationId=integration_id, IntegrationResponseId=ir_id
    )
    assert v2.get_stage(ApiId=api_id, StageName="prod")["AutoDeploy"] is True


def test_the_door_answers_what_is_not_a_handshake(v2: Any, server: Server) -> None:
    """Over real sockets: the server's WebSocket door (before the HTTP API door) answers a
    plain request to a WebSocket API's stage 426, one to no stage 403, by path and by host."""
    api_id = _ws(v2)
    v2.create_stage(ApiId=api_id, StageName="prod")
    for path, host in (
        (f"/_aws/execute-api/{api_id}", f"127.0.0.1:{server.port}"),
        ("", f"{api_id}.execute-api.localhost:{server.port}"),
    ):
        for stage, status, message in (("/prod", 426, "Upgrade Required"),
                                       ("/nostage", 403, "Forbidden")):  # fmt: skip
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
            try:
                connection.request("GET", path + stage, headers={"Host": host})
                response = connection.getresponse()
                body = json.loads(response.read())
            finally:
                connection.close()
            assert (response.status, body) == (status, {"message": message}), (path, stage)
