"""What EventBridge targets receive (`fireside.events.transform`)."""

from __future__ import annotations

import json

import pytest

from fireside.events.transform import (
    PathError,
    TemplateError,
    check_transformer,
    parse_path,
    payload,
)

EVENT = {"id": "e1", "time": "2024-01-01T00:00:00Z", "detail": {"a": 'x"y', "n": 3, "l": [1, 2]}}


def _transform(paths: dict[str, str], template: str) -> str:
    target = {"InputTransformer": {"InputPathsMap": paths, "InputTemplate": template}}
    return payload(target, EVENT, rule_arn="arn:r", rule_name="r").decode()


def test_placeholders_inside_and_outside_strings() -> None:
    out = _transform({"a": "$.detail.a", "n": "$.detail.n"}, '{"s": "<a> <n>", "v": <a>, "n": <n>}')
    assert json.loads(out) == {"s": 'x"y 3', "v": 'x"y', "n": 3}
    assert json.loads(_transform({"a": "$.detail.a"}, '"is <a>"')) == 'is x"y'
    assert json.loads(_transform({"m": "$.detail.missing"}, '{"m": <m>, "s": "<m>"}')) == {
        "m": "",
        "s": "",
    }
    assert json.loads(_transform({"x": "$.detail.l[1]"}, "[<x>]")) == [2]


def test_predefined_variables() -> None:
    out = json.loads(
        _transform(
            {},
            '{"r": "<aws.events.rule-name>", "e": <aws.events.event>, "j": <aws.events.event.json>}',
        )
    )
    assert out == {
        "r": "r",
        "e": {"id": "e1", "time": "2024-01-01T00:00:00Z"},
        "j": EVENT,
    }


def test_input_and_input_path() -> None:
    assert payload({"Input": '{"c": 1}'}, EVENT, rule_arn="", rule_name="") == b'{"c": 1}'
    assert json.loads(payload({"InputPath": "$.detail.l"}, EVENT, rule_arn="", rule_name="")) == [
        1,
        2,
    ]
    assert json.loads(payload({}, EVENT, rule_arn="", rule_name="")) == EVENT


def test_paths_and_templates_are_checked() -> None:
    assert parse_path("$.detail['a-b'][0].c") == ["detail", "a-b", 0, "c"]
    with pytest.raises(PathError):
        parse_path("detail.a")
    with pytest.raises(TemplateError) as caught:
        check_transformer({"InputTemplate": "<nope>"}, "t1")
    assert str(caught.value) == "InputTemplate for target t1 contains invalid placeholder nope."
    with pytest.raises(TemplateError):
        check_transformer({"InputPathsMap": {"aws.x": "$"}, "InputTemplate": "<aws.x>"})
    check_transformer(
        {"InputPathsMap": {"a": "$.detail"}, "InputTemplate": "<a> <aws.events.rule-arn>"}
    )
