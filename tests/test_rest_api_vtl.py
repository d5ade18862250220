"""The mapping-template interpreter (`rest_api_vtl`, `rest_api_vtl_eval`), in process: each
template is written for these tests in the spirit of API Gateway's documented examples."""

from __future__ import annotations

import json
from typing import Any

import pytest

from fireside.gateway.rest_api_templates import (
    Overrides,
    TemplateInput,
    UnsupportedTemplate,
    render,
)
from fireside.gateway.rest_api_vtl_eval import MAX_LOOP

PETS = {
    "pets": [
        {"id": 1, "type": "dog", "price": 249.99},
        {"id": 2, "type": "cat", "price": 124.5},
        {"id": 3, "type": "fish", "price": 0.99},
    ],
    "Items": [
        {"pk": {"S": "a"}, "n": {"N": "1"}},
        {"pk": {"S": "b"}, "n": {"N": "2"}},
    ],
    "name": "Ann Lee",
}
SOURCE = TemplateInput(
    body=json.dumps(PETS).encode(),
    context={
        "requestId": "r-1",
        "httpMethod": "POST",
        "stage": "prod",
        "identity": {"sourceIp": "10.0.0.1", "userAgent": "curl/8"},
        "authorizer": {"principalId": "u-1", "claims": {"sub": "s-1"}},
    },
    stage_variables={"table": "orders"},
    path_params={"id": "42"},
    query={"limit": "2", "q": "a b&c"},
    headers={"content-type": "application/json", "x-tenant": "t1"},
)


def run(template: str, source: TemplateInput = SOURCE) -> str:
    return render(template, source)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        # references, quiet, braced, escaped, missing
        ("$context.identity.sourceIp", "10.0.0.1"),
        ("${context.stage}x", "prodx"),
        ("[$!nothing]", "[]"),
        ("\\$context.stage", "$context.stage"),
        ("$context.authorizer.claims.sub", "s-1"),
        ("$context.authorizer['principalId']", "u-1"),
        ("$stageVariables.table", "orders"),
        ("$input.params().header.get('x-tenant')", "t1"),
        ("$input.params().path.id/$input.params('limit')", "42/2"),
        ("$input.params().querystring.size()", "2"),
        # objects from $input.path
        ("$input.path('$.pets').size()", "3"),
        ("$input.path('$.pets')[1].type", "cat"),
        ("$input.path('$.Items')[0].pk.S", "a"),
        ("$input.path('$.name').toUpperCase()", "ANN LEE"),
        ("$input.path('$.name').substring(0, 3)", "Ann"),
        ("$input.path('$.name').replaceAll('(\\w+) (\\w+)', '$2, $1')", "Lee, Ann"),
        ("$input.path('$.name').split(' ')[1]", "Lee"),
        ("$input.path('$.name').length()", "7"),
        ("$input.path('$.name').contains('Lee')", "true"),
        ("#if($input.path('$.nothing').isEmpty())y#end", ""),
        ("$input.json('$.pets[0].type')", '"dog"'),
        ("$input.json('$.pets[*].id')", "[1, 2, 3]"),
        ("$input.json('$.pets[-1].type')", '"fish"'),
        ("$input.json('$..S')", '["a", "b"]'),
        ("$input.path('$.Items[*].n.N').size()", "2"),
        # $util
        ('$util.escapeJavaScript("it\'s \\"q\\"")', 'it\\\'s \\"q\\"'),
        ("$util.urlEncode($input.params('q'))", "a+b%26c"),
        ("$util.urlDecode('a+b%26c')", "a b&c"),
        ("$util.base64Encode('hi')", "aGk="),
        ("$util.base64Decode('aGk=')", "hi"),
        ("$util.parseJson('{\"a\": [1, 2]}').a[1]", "2"),
        # #set, arithmetic, concatenation
        ("#set($n = 7)#set($m = $n * 3 + 1)$m", "22"),
        ("#set($n = 7 / 2)$n #set($r = -7 % 3)$r", "3 -1"),
        ("#set($f = 1.5 * 2)$f", "3.0"),
        ("#set($s = 'a' + 1)$s", "a1"),
        ('#set($who = "$context.stage-$stageVariables.table")$who', "prod-orders"),
        ("#set($m = {})#set($m.k = 'v')#set($d = $m.put('j', 2))$m.k$m.j", "v2"),
        ("#set($l = [])#set($d = $l.add(1))#set($d = $l.add(2))$l", "[1, 2]"),
        ("#set($z = 1 / 0)[$!z]", "[]"),
        # conditions
        ("#if($context.stage == 'prod' && !($n > 1))a#{else}b#end", "a"),
        ("#if($context.stage eq 'dev' or not false)a#end", "a"),
        ("#if(1 < 2 and 2 <= 2 and 3 >= 2 and 3 > 2 and 1 != 2)ok#end", "ok"),
        ("#if($input.params('id') == 42)num#end", "num"),
        ("#if('')empty-is-true#end", "empty-is-true"),
        ("#if($none)a#elseif($context.stage)b#{else}c#end", "b"),
        # loops
        ("#foreach($i in [1..3])$i#if($foreach.hasNext),#end#end", "1,2,3"),
        ("#foreach($i in [3..1])$i#end", "321"),
        (
            "#foreach($p in $input.path('$.pets'))$foreach.index:$foreach.count:$velocityCount #end",
            "0:1:1 1:2:2 2:3:3 ",
        ),
        ("#foreach($i in [1..9])#if($i > 2)#break#end$i#end", "12"),
        ("a#stop b", "a"),
        ("#foreach($k in $input.params().keySet())$k #end", "path querystring header "),
        ("#foreach($v in {'a': 1, 'b': 2})$v#end", "12"),
        ("#foreach($x in $nothing)x#end", ""),
        # comments and unparsed text
        ("a## gone\nb#* gone\ntoo *#c#[[$literal #if]]#", "a\nbc$literal #if"),
        ("# not a directive, $ not a reference, #1", "# not a directive, $ not a reference, #1"),
    ],
)
def test_templates(template: str, expected: str) -> None:
    assert run(template) == expected


def test_dynamodb_response_mapping() -> None:
    template = """#set($items = $input.path('$').Items)
{
  "count": $items.size(),
  "items": [
    #foreach($item in $items)
    {"pk": "$item.pk.S", "n": $item.n.N}#if($foreach.hasNext),#end
    #end
  ]
}"""
    assert json.loads(run(template)) == {
        "count": 2,
        "items": [{"pk": "a", "n": 1}, {"pk": "b", "n": 2}],
    }


def test_directive_lines_are_gobbled() -> None:
    template = "[\n#foreach($i in [1..2])\n  $i\n#end\n]"
    assert run(template) == "[\n  1\n  2\n]"


def test_all_params_template() -> None:
    """The shape of AWS's documented "method request passthrough" template."""
    template = """#set($allParams = $input.params())
{
"body-json" : $input.json('$'),
"params" : {
#foreach($type in $allParams.keySet())
    #set($params = $allParams.get($type))
"$type" : {
    #foreach($paramName in $params.keySet())
    "$paramName" : "$util.escapeJavaScript($params.get($paramName))"
        #if($foreach.hasNext),#end
    #end
}
    #if($foreach.hasNext),#end
#end
},
"context" : {
    "http-method" : "$context.httpMethod",
    "source-ip" : "$context.identity.sourceIp",
    "user-agent" : "$context.identity.userAgent"
}
}"""
    out = json.loads(run(template))
    assert out["body-json"] == PETS
    assert out["params"] == {
        "path": {"id": "42"},
        "querystring": {"limit": "2", "q": "a b&c"},
        "header": {"content-type": "application/json", "x-tenant": "t1"},
    }
    assert out["context"]["user-agent"] == "curl/8"


def test_loops_are_capped() -> None:
    source = TemplateInput(body=json.dumps(list(range(MAX_LOOP + 50))).encode())
    out = run("#foreach($i in $input.path('$'))x#end", source)
    assert out == "x" * MAX_LOOP
    nested = "#foreach($a in [1..1000])#foreach($b in [1..1000])x#end#end"
    with pytest.raises(UnsupportedTemplate, match="loops"):
        run(nested)


def test_output_is_capped() -> None:
    source = TemplateInput(body=json.dumps({"s": "y" * 20000}).encode())
    template = "#foreach($i in [1..900])$input.path('$.s')$input.path('$.s')#end"
    with pytest.raises(UnsupportedTemplate, match="10 MB"):
        run(template, source)


@pytest.mark.parametrize(
    "template",
    [
        "#macro(m)x#end",
        "#parse('x.vm')",
        "#include('x.vm')",
        "#evaluate('#set($a = 1)')",
        "#define($b)x#end",
        "#mymacro()",
        "#if($a)",
        "#foreach($a in $b)",
        "#end",
        "#else",
        "#if($a)#else#elseif($b)#end",
        "#set($a)",
        "#set($a = )",
        "#if($a ==)x#end",
        "#foreach($a of $b)#end",
        "$input.path('$').nosuch()",
        "$util.nosuch('x')",
        "$input.nosuch",
        "$input.path('$.name').substring(5, 2)",
        "#* never closed",
        "$input.json('$.pets[?(@.id > 1)]')",
        "$input.path('$.pets[0:2]')",
        "x" * (300 * 1024 + 1),
    ],
)
def test_unsupported_or_malformed(template: str) -> None:
    with pytest.raises(UnsupportedTemplate):
        run(template)


def test_deeply_nested_is_refused() -> None:
    with pytest.raises(UnsupportedTemplate):
        run("#if(" + "(" * 500 + "1" + ")" * 500 + ")x#end")


def test_set_in_loop_and_scope() -> None:
    template = "#set($total = 0)#foreach($p in $input.path('$.pets'))#set($total = $total + $p.id)#end$total/$!p"
    assert run(template) == "6/"


def test_values_render_as_java_writes_them() -> None:
    out: Any = run("$input.path('$.pets[0]')")
    assert out == "{id=1, type=dog, price=249.99}"


def test_overrides() -> None:
    template = """#set($context.requestOverride.header.X-Amz-Target = "AWSEvents.PutEvents")
#set($context.requestOverride.querystring.limit = $input.params('limit'))
#if($input.path('$.pets').size() > 2)
#set($context.responseOverride.status = 202)
#set($context.responseOverride.header.Location = "/pets/$input.params('id')")
#end
ok"""
    overrides = Overrides()
    assert run_with(template, overrides) == "ok"
    assert overrides.request_headers == {"X-Amz-Target": "AWSEvents.PutEvents"}
    assert overrides.request_query == {"limit": "2"}
    assert overrides.status == 202 and overrides.response_headers == {"Location": "/pets/42"}


def run_with(template: str, overrides: Overrides) -> str:
    return render(template, SOURCE, overrides)


def test_growth_is_bounded() -> None:
    doubling = "#set($s = 'ab')#foreach($i in [1..60])#set($s = $s + $s)#end$s.length()"
    with pytest.raises(UnsupportedTemplate, match="10 MB"):
        run(doubling)
    replacing = "#set($s = 'ab')#foreach($i in [1..60])#set($s = $s.replace('a', 'aa'))#end"
    with pytest.raises(UnsupportedTemplate, match="10 MB"):
        run(replacing)
    squaring = "#set($n = 2)#foreach($i in [1..40])#set($n = $n * $n)#end$n"
    assert run(squaring) == "Infinity"
    with pytest.raises(UnsupportedTemplate, match="nested"):
        run("#set($l = [])#set($d = $l.add($l))$l")
    assert run("#set($r = [1..5000])$r.size()") == str(MAX_LOOP + 1)
