"""WebSocket route selection (`RouteSelectionExpression`), how a Lambda proxy answer reads
back on a WebSocket route, and a MOCK integration's reply, in process."""

from __future__ import annotations

import pytest

from fireside.gateway.payload_websocket import MalformedResponse, read_answer
from fireside.gateway.websocket_connections import ConnectionInfo
from fireside.gateway.websocket_mock import mock_reply
from fireside.gateway.websocket_routes import RouteSelector, select_key


@pytest.mark.parametrize(
    ("expression", "body", "key"),
    [
        ("$request.body.action", {"action": "send"}, "send"),
        ("$request.body.a.b", {"a": {"b": "deep"}}, "deep"),
        ("${request.body.service}/${request.body.action}", {"service": "s", "action": "x"}, "s/x"),
        ("v1-${request.body.action}", {"action": "go"}, "v1-go"),
        ("$request.body.n", {"n": 3}, "3"),
        ("$request.body.flag", {"flag": True}, "true"),
        ("$request.body.action", {"other": 1}, None),
        ("$request.body.a.b", {"a": "flat"}, None),
        ("$request.body.obj", {"obj": {"x": 1}}, None),
        ("$request.body.none", {"none": None}, None),
        ("static", {}, "static"),
    ],
)
def test_select_key(expression: str, body: dict[str, object], key: str | None) -> None:
    assert select_key(expression, body) == key


def test_selector() -> None:
    routes = [
        {"RouteKey": "$connect", "RouteId": "c"},
        {"RouteKey": "$default", "RouteId": "d"},
        {"RouteKey": "send", "RouteId": "s"},
    ]
    selector = RouteSelector("$request.body.action", routes)
    assert selector.select(b'{"action": "send"}', True).route == routes[2]
    for data in (b'{"action": "nope"}', b"plain text", b'{"action": "$connect"}', b"[]", b"{"):
        assert selector.select(data, True).route == routes[1], data
    assert selector.select(b'{"action": "send"}', False).route == routes[1]  # binary frames
    assert selector.select(b'{"action": "nope"}', True).selected == "nope"
    without_default = RouteSelector("$request.body.action", routes[::2])
    assert without_default.select(b"{}", True).route is None
    deep = b"[" * 100_000 + b"]" * 100_000
    assert selector.select(deep, True).route == routes[1]


def test_read_answer() -> None:
    answer = read_answer(b'{"statusCode": 200, "body": "hi", "headers": {"A": "b"}}')
    assert (answer.status, answer.body, answer.text, answer.headers) == (
        200,
        b"hi",
        True,
        [("A", "b")],
    )
    assert read_answer(b"null").body is None and read_answer(b"").status == 200
    assert read_answer(b'"plain"').body == b'"plain"'
    assert read_answer(b'{"statusCode": "403"}').status == 403
    binary = read_answer(b'{"statusCode": 200, "body": "AAE=", "isBase64Encoded": true}')
    assert (binary.body, binary.text) == (b"\x00\x01", False)
    assert read_answer(b'{"body": {"a": 1}}').body == b'{"a": 1}'
    for bad in (b"not json", b'{"statusCode": 99}', b'{"statusCode": true}',
                b'{"body": "!!", "isBase64Encoded": true}', b'{"headers": []}'):  # fmt: skip
        with pytest.raises(MalformedResponse):
            read_answer(bad)


def test_mock_reply() -> None:
    info = ConnectionInfo("cid=", "api", "prod", "000000000000", "us-east-1", "d", 1, 1, "ip", "")
    responses = {
        "a": {"IntegrationResponseKey": "$default", "ResponseTemplates": {"$default": "dflt"}},
        "b": {
            "IntegrationResponseKey": "/2\\d\\d/",
            "ResponseTemplates": {
                "$default": '{"got": $input.json(\'$.n\'), "c": "$context.connectionId"}'
            },
        },
    }
    assert mock_reply(info, responses, "ping", b'{"n": 5}', "rid") == b'{"got": 5, "c": "cid="}'
    del responses["b"]
    assert mock_reply(info, responses, "ping", b"{}", "rid") == b"dflt"
    assert mock_reply(info, {}, "ping", b"{}", "rid") is None
    no_template = {"a": {"IntegrationResponseKey": "$default"}}
    assert mock_reply(info, no_template, "ping", b"{}", "rid") is None
