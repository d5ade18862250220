"""The REST API front door's parts in-process: route matching, mapping templates, patch
operations, usage limits with a fake clock, and MOCK response selection."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fireside.aws.errors import ServiceError
from fireside.gateway.rest_api_mock import mock_response, select_response
from fireside.gateway.rest_api_patch import apply_patch
from fireside.gateway.rest_api_routes import RouteTree
from fireside.gateway.rest_api_templates import (
    TemplateInput,
    UnsupportedTemplate,
    map_parameter,
    render,
)
from fireside.gateway.rest_api_usage import Limited, UsageLimits
from fireside.http.types import Request


def tree(*paths: str) -> RouteTree:
    resources: dict[str, dict[str, Any]] = {"root": {"id": "root", "path": "/"}}
    for path in paths:
        parent = "root"
        so_far = ""
        for part in path.strip("/").split("/"):
            so_far += "/" + part
            if so_far not in resources:
                resources[so_far] = {
                    "id": so_far,
                    "parentId": parent,
                    "pathPart": part,
                    "path": so_far,
                }
            parent = so_far
    return RouteTree(resources)


@pytest.mark.parametrize(
    ("path", "resource", "params"),
    [
        ("/", "/", {}),
        ("", "/", {}),
        ("/a", "/a", {}),
        ("/a/b", "/a/b", {}),
        ("/a/x", "/a/{id}", {"id": "x"}),
        ("/a/x%2Fy", "/a/{id}", {"id": "x/y"}),
        ("/a/x/c", "/a/{id}/c", {"id": "x"}),
        ("/a/x/d", "/{proxy+}", {"proxy": "a/x/d"}),  # {id} dead-ends: the greedy one takes it
        ("/z/y/x", "/{proxy+}", {"proxy": "z/y/x"}),
    ],
)
def test_route_order(path: str, resource: str, params: dict[str, str]) -> None:
    found = tree("/a/b", "/a/{id}/c", "/{proxy+}").match(path)
    assert found is not None
    assert (found.resource["path"], found.path_parameters) == (resource, params)


def test_no_route() -> None:
    assert tree("/a").match("/b") is None


SOURCE = TemplateInput(
    body=b'{"name": "ann", "tags": ["x", "y"], "n": {"m": 2}}',
    context={"requestId": "r-1", "identity": {"sourceIp": "1.2.3.4"}, "stage": "prod"},
    stage_variables={"color": "blue"},
    path_params={"id": "7"},
    query={"q": "s p"},
    headers={"x-h": "hv"},
)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ('{"statusCode": 200}', '{"statusCode": 200}'),
        ("$context.requestId", "r-1"),
        ("${context.requestId}!", "r-1!"),
        ("$context.identity.sourceIp", "1.2.3.4"),
        ("$!context.nothing|", "|"),
        ("$stageVariables.color", "blue"),
        ("$input.params('id') $input.params('q') $input.params('X-H')", "7 s p hv"),
        ("$input.json('$.tags')", '["x", "y"]'),
        ("$input.json('$')", '{"name": "ann", "tags": ["x", "y"], "n": {"m": 2}}'),
        ("$input.path('$.n.m')", "2"),
        ("$input.path('$.tags[1]')", "y"),
        ("$util.escapeJavaScript('a\"b')", 'a\\"b'),
        ("$util.urlEncode($input.params('q'))", "s+p"),
        ("cost: $5", "cost: $5"),
    ],
)
def test_templates(template: str, expected: str) -> None:
    assert render(template, SOURCE) == expected


SCOPE = """#if( $input.params('scope') == "internal" )
    {"statusCode": 200}
#elseif($input.params('scope') != '' && $stageVariables.color == 'blue')
    {"statusCode": 403}
#else
    {"statusCode": 500}
#end"""


@pytest.mark.parametrize(
    ("query", "status"), [({"scope": "internal"}, 200), ({"scope": "x"}, 403), ({}, 500)]
)
def test_if_elseif_else(query: dict[str, str], status: int) -> None:
    source = TemplateInput(query=query, stage_variables={"color": "blue"})
    assert json.loads(render(SCOPE, source)) == {"statusCode": status}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("#set($n = $input.path('$.n.m'))#if($n >= 2)big#{else}small#end", "big"),
        ('#set($who = "$context.stage:$stageVariables.color")$who', "prod:blue"),
        ("#if(!$context.nothing)none#end", "none"),
        ("#if($context.stage == 'prod' || $x)a#end#if($context.stage == 'dev')b#end", "a"),
        ("## a comment\n#* and\n another *#x", "\nx"),
        ("#if(($input.params('id') == 7) && true)seven#end", "seven"),
    ],
)
def test_directives(template: str, expected: str) -> None:
    assert render(template, SOURCE) == expected


@pytest.mark.parametrize(
    "template", ["#parse('x.vm')", "#if($a)", "#end", "#set($x 1)", "#macro(m)#end"]
)
def test_unsupported_directives_are_refused(template: str) -> None:
    with pytest.raises(UnsupportedTemplate):
        render(template, SOURCE)


def test_parameter_mappings() -> None:
    assert map_parameter("'*'", SOURCE) == "*"
    assert map_parameter("context.requestId", SOURCE) == "r-1"
    assert map_parameter("method.request.path.id", SOURCE) == "7"
    assert map_parameter("method.request.header.X-H", SOURCE) == "hv"
    assert map_parameter("integration.response.body.name", SOURCE) == "ann"
    assert map_parameter("method.request.querystring.none", SOURCE) is None


def test_patch_operations() -> None:
    record: dict[str, Any] = {"name": "a", "binaryMediaTypes": ["image/png"], "enabled": False}
    allowed = frozenset({"name", "binaryMediaTypes", "variables", "enabled"})
    apply_patch(
        record,
        [
            {"op": "replace", "path": "/name", "value": "b"},
            {"op": "add", "path": "/binaryMediaTypes/image~1gif"},
            {"op": "replace", "path": "/binaryMediaTypes/image~1png", "value": "text/csv"},
            {"op": "add", "path": "/variables/k", "value": "v"},
            {"op": "replace", "path": "/enabled", "value": "true"},
        ],
        allowed,
    )
    assert record == {
        "name": "b",
        "binaryMediaTypes": ["image/gif", "text/csv"],
        "variables": {"k": "v"},
        "enabled": True,
    }
    with pytest.raises(ServiceError) as caught:
        apply_patch(record, [{"op": "replace", "path": "/id", "value": "x"}], allowed)
    assert caught.value.code == "BadRequestException"


def test_throttle_bucket_refills() -> None:
    now = [0.0]
    limits = UsageLimits(clock=lambda: now[0])
    plan = {"id": "p", "throttle": {"rateLimit": 2.0, "burstLimit": 2}}
    assert [limits.check_plan(plan, "k") for _ in range(3)] == [None, None, Limited.THROTTLED]
    now[0] += 0.5  # one token back
    assert limits.check_plan(plan, "k") is None
    assert limits.check_plan(plan, "k") is Limited.THROTTLED
    assert limits.check_plan(plan, "other-key") is None


def test_quota_resets_with_its_period() -> None:
    limits = UsageLimits()
    plan = {"id": "p", "quota": {"limit": 1, "period": "DAY"}}
    day = 86400.0 * 20000
    assert limits.check_plan(plan, "k", wall_clock=day) is None
    assert limits.check_plan(plan, "k", wall_clock=day + 10) is Limited.QUOTA
    assert limits.check_plan(plan, "k", wall_clock=day + 86400) is None


def test_mock_selection() -> None:
    responses = {
        "200": {"statusCode": "200"},
        "400": {"statusCode": "400", "selectionPattern": "4\\d{2}"},
    }
    assert select_response(responses, "404")["statusCode"] == "400"  # type: ignore[index]
    assert select_response(responses, "500")["statusCode"] == "200"  # type: ignore[index]
    integration = {
        "requestTemplates": {"application/xml": "<x/>"},
        "passthroughBehavior": "NEVER",
        "integrationResponses": responses,
    }
    request = Request("GET", "/", "", {"content-type": "text/plain"})
    assert mock_response(SOURCE, integration, request).status == 415
    integration["passthroughBehavior"] = "WHEN_NO_MATCH"
    request = Request("POST", "/", "", {"content-type": "text/plain"}, b'{"statusCode": 401}')
    assert mock_response(SOURCE, integration, request).status == 400
