"""The real programs `bench/real_programs.py` deploys: published Lambda examples nobody here
wrote, each deployed as its instructions say (templates done by hand, see `program_deploy`),
invoked with its own sample events where it ships them, and checked against what the program
returns on AWS. Their code is read from fetched repositories and never copied into this one.

Repositories (pass the folder holding them as `--repos`, each as `owner+name`):
awsdocs/aws-lambda-developer-guide, serverless/examples, aws-samples/serverless-patterns,
aws-powertools/powertools-lambda-python, aws-powertools/powertools-lambda-typescript.

A program AWS reaches over HTTP (`trigger` REST, HTTP API or URL) is wired as its template
wires it (an OpenAPI body imported, resources and AWS_PROXY methods, an HTTP API's routes or
quick create, a Function URL, and the permissions SAM or serverless add) and driven with the
plain HTTP requests of its README (`Request`), checked against the status, headers and body
the README or AWS's documented behaviour gives.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common import log
from program_deploy import Deployer, debian_gems, npm_install, pip_target, zip_tree

DEV_GUIDE = "awsdocs+aws-lambda-developer-guide"
SLS = "serverless+examples"
PATTERNS = "aws-samples+serverless-patterns"
POWERTOOLS_PY = "aws-powertools+powertools-lambda-python"
POWERTOOLS_TS = "aws-powertools+powertools-lambda-typescript"


@dataclass
class Result:
    error: str | None  # X-Amz-Function-Error
    payload: Any  # the response, parsed as JSON where it is JSON
    log: str


Check = Callable[[Result], str | None]  # None when the result is AWS's, else what differs


@dataclass
class Call:
    label: str
    function: str
    event: Any
    check: Check


@dataclass
class Reply:
    """A front door's answer to a plain HTTP request (header names lower case)."""

    status: int
    headers: dict[str, str]
    body: bytes
    first_byte_s: float = 0.0  # from sending the request to the body's first byte

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def describe(self) -> str:
        shown = {k: v for k, v in self.headers.items() if k in SHOWN_HEADERS}
        return (f"{self.status} {json.dumps(shown)} {self.body[:300].decode(errors='replace')!r}"
                f" (first byte after {self.first_byte_s:.2f} s)")  # fmt: skip


SHOWN_HEADERS = ("content-type", "access-control-allow-origin", "access-control-allow-methods",
                 "x-custom-header", "x-amzn-errortype")  # fmt: skip


@dataclass
class Request:
    """A plain HTTP request to a program's front door, as its README's curl sends it."""

    label: str
    method: str
    url: str | Callable[[], str]  # the stage's, API's or function's URL plus the path
    check: Callable[[Reply], str | None]
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)
    sign: bool = False  # SigV4 for `lambda` (a Function URL with AuthType AWS_IAM)


def answers(
    status: int, predicate: Callable[[Reply], bool] = lambda r: True, expected: str = "",
    headers: dict[str, str] | None = None,
) -> Callable[[Reply], str | None]:  # fmt: skip
    """A check of a front door's reply: status, these headers' values, and `predicate`."""

    def check(reply: Reply) -> str | None:
        good = reply.status == status and all(
            reply.headers.get(k.lower()) == v for k, v in (headers or {}).items()
        )
        try:
            good = good and predicate(reply)
        except Exception:  # a body of another shape
            good = False
        wanted = " ".join(
            filter(None, [str(status), json.dumps(headers) if headers else "", expected])
        )
        return None if good else f"expected {wanted}, got {reply.describe()}"

    return check


@dataclass
class Program:
    key: str
    language: str
    runtime: str
    repo: str
    path: str
    deploy: Callable[[Deployer, Path], list[Call | Request]]
    how: str  # how it was deployed, and what a template would have done
    on_aws: str = "runs"  # what AWS does with it: "runs", or the error it gives there too
    trigger: str = "invoke"  # how AWS reaches it: invoke (an event), REST, HTTP API, URL
    notes: list[str] = field(default_factory=list)


def ok(predicate: Callable[[Any], bool], expected: str) -> Check:
    """A check for a successful invoke whose payload satisfies `predicate`."""

    def check(result: Result) -> str | None:
        if result.error:
            return f"{result.error}: {describe(result.payload)}"
        return (
            None
            if predicate(result.payload)
            else f"expected {expected}, got {describe(result.payload)}"
        )

    return check


def fails_with(error_type: str, text: str) -> Check:
    """A check for an invoke that fails on AWS too, with this error type and message."""

    def check(result: Result) -> str | None:
        payload = result.payload if isinstance(result.payload, dict) else {}
        if (
            result.error
            and payload.get("errorType") == error_type
            and text in str(payload.get("errorMessage"))
        ):
            return None
        return f"expected {error_type} ({text}), got {result.error}: {describe(result.payload)}"

    return check


def describe(payload: Any) -> str:
    if isinstance(payload, dict) and "errorType" in payload:
        return f"{payload['errorType']}: {str(payload.get('errorMessage'))[:300]}"
    return json.dumps(payload)[:300] if not isinstance(payload, str) else payload[:300]


def body(payload: Any) -> Any:
    """The JSON body of an API Gateway proxy response."""
    return (
        json.loads(payload["body"]) if isinstance(payload, dict) and payload.get("body") else None
    )


def http_api_event(
    method: str, path: str, body_json: Any = None, params: dict[str, str] | None = None
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload 2.0) event, as API Gateway sends it to a function."""
    return {
        "version": "2.0", "routeKey": f"{method} {path}", "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abc123.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {
            "accountId": "000000000000", "apiId": "abc123", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1", "userAgent": "curl/8"},
            "requestId": str(uuid.uuid4()), "routeKey": f"{method} {path}", "stage": "$default",
            "time": "07/Dec/2026:00:00:00 +0000", "timeEpoch": 1796601600000,
        },
        "pathParameters": params or {},
        "body": None if body_json is None else json.dumps(body_json),
        "isBase64Encoded": False,
    }  # fmt: skip


# --- Python ------------------------------------------------------------------------------


def blank_python(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "sample-apps/blank-python"
    requirements = (app / "function/requirements.txt").read_text().split()
    layer = d.layer(
        d.name("blank-python-lib"),
        zip_tree(pip_target(requirements, "3.11"), "python/"),
        ["python3.11"],
    )
    fn = d.function(d.name("blank-python"), "python3.11", "lambda_function.lambda_handler",
                    zip_tree(app / "function"), layers=[layer], timeout=10, tracing=True)  # fmt: skip
    event = json.loads((app / "event.json").read_text())
    usage = ok(lambda p: isinstance(p, dict) and "FunctionCount" in p, "AccountUsage")
    return [Call("event.json", fn, event, usage)]


def todos_python(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "aws-python-http-api-with-dynamodb"
    table = d.table(d.name("todos"), "id")
    code = zip_tree(app, skip=("package.json", "serverless.yml", ".gitignore", "README"))
    env = {"DYNAMODB_TABLE": table}
    fns = {op: d.function(d.name(f"todos-py-{op}"), "python3.9", f"todos/{op}.{op}", code, env=env, timeout=6)
           for op in ("create", "list", "get", "update", "delete")}  # fmt: skip
    routes = {"POST /todos": fns["create"], "GET /todos": fns["list"], "GET /todos/{id}": fns["get"],
              "PUT /todos/{id}": fns["update"], "DELETE /todos/{id}": fns["delete"]}  # fmt: skip
    base = d.http_api(d.name("todos-py"), routes)
    return todo_requests(base, HTTP_API_TYPE)


#: The `Content-Type` AWS's front doors give a structured response that sets none.
HTTP_API_TYPE = {"Content-Type": "text/plain; charset=utf-8"}  # HTTP APIs, payload 2.0
REST_TYPE = URL_TYPE = {"Content-Type": "application/json"}  # REST APIs, Function URLs


def todo_requests(base: str, typed: dict[str, str]) -> list[Call | Request]:
    """The README's curl calls of serverless's todo services (create, list, get, update,
    delete), each todo `{"text", "id", "checked", "createdAt", "updatedAt"}`; the functions set
    no `Content-Type`, so the front door's default (`typed`) comes back."""
    state: dict[str, str] = {}
    json_type = {"Content-Type": "application/json"}

    def created(r: Reply) -> bool:
        state["id"] = r.json()["id"]
        return bool(r.json()["text"] == "Learn Serverless" and r.json()["checked"] is False)

    def one() -> str:
        return f"{base}/todos/{state['id']}"

    updated = {"text": "Learn Serverless", "checked": True}
    return [
        Request("POST /todos", "POST", f"{base}/todos", answers(200, created, "the new todo", typed), {"text": "Learn Serverless"}, json_type),
        Request("GET /todos", "GET", f"{base}/todos", answers(200, lambda r: [t["id"] for t in r.json()] == [state["id"]], "[the todo]", typed)),
        Request("GET /todos/<id>", "GET", one, answers(200, lambda r: r.json()["id"] == state["id"], "the todo", typed)),
        Request("PUT /todos/<id>", "PUT", one, answers(200, lambda r: r.json()["checked"] is True, "the todo, checked", typed), updated, json_type),
        Request("DELETE /todos/<id>", "DELETE", one, answers(200, lambda r: r.body == b"", "no body", typed)),
        Request("GET /todos (empty)", "GET", f"{base}/todos", answers(200, lambda r: r.json() == [], "[]", typed)),
    ]  # fmt: skip


#: What serverless-python-requirements leaves out of a package by default (its `noDeploy`): the
#: runtime provides them.
NO_DEPLOY = ("boto3", "botocore", "docutils", "jmespath", "pip", "python_dateutil", "dateutil",
             "s3transfer", "setuptools", "six", "urllib3")  # fmt: skip


def todos_pynamodb(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "aws-python-http-api-with-pynamodb"
    table = d.table(d.name("todos-pynamodb"), "todo_id")
    requirements = [line.split("#")[0].strip() for line in (app / "requirements.txt").read_text().splitlines()
                    if line.strip() and "no-deploy" not in line]  # fmt: skip
    folder = d.folder()
    shutil.copytree(pip_target(requirements, "3.9"), folder, dirs_exist_ok=True,
                    ignore=lambda _, names: [n for n in names if n.split("-")[0].lower() in NO_DEPLOY])  # fmt: skip
    shutil.copytree(app / "todos", folder / "todos")
    create = d.function(d.name("pynamodb-create"), "python3.9", "todos/create.create", zip_tree(folder),
                        env={"DYNAMODB_TABLE": table}, timeout=6)  # fmt: skip
    # pynamodb 4.3.1 calls a private botocore method whose signature botocore 1.28 changed
    # (pynamodb issues 1089, 1090; fixed in 4.4.0): with the botocore of AWS's python3.9 image
    # the example fails there, and must fail the same way here.
    broken = fails_with(
        "TypeError", "_convert_to_request_dict() missing 1 required positional argument"
    )
    base = d.http_api(d.name("todos-pynamodb"), {"POST /todos": create})
    internal = answers(500, lambda r: r.json() == {"message": "Internal Server Error"},
                       '{"message":"Internal Server Error"}', {"Content-Type": "application/json"})  # fmt: skip
    return [
        Call("invoke create", create, http_api_event("POST", "/todos", {"text": "Learn PynamoDB"}), broken),
        Request("POST /todos", "POST", f"{base}/todos", internal, {"text": "Learn PynamoDB"},
                {"Content-Type": "application/json"}),
    ]  # fmt: skip


def lambda_s3(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "lambda-s3"
    bucket = d.bucket(d.name("destination").lower())
    fn = d.function(d.name("lambda-s3"), "python3.14", "app.lambda_handler", zip_tree(app / "src"),
                    env={"DestinationBucketName": bucket})  # fmt: skip

    def stored(p: Any) -> bool:
        return (
            p is True
            and d.s3.get_object(Bucket=bucket, Key="filename.txt")["Body"].read() == b"Hello World"
        )

    return [Call("{}", fn, {}, ok(stored, "true and s3://<bucket>/filename.txt = Hello World"))]


def one_page_pdf() -> bytes:
    """A minimal valid PDF (one empty page), with its cross-reference table."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>"]  # fmt: skip
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def file_processing(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "sample-apps/file-processing-python"
    source = d.bucket(d.name("pdf-source").lower())
    d.bucket(f"{source}-encrypted")  # the template's EncryptedPDFBucket: <source>-encrypted
    folder = pip_target(
        (app / "requirements.txt").read_text().split(), "3.12"
    )  # sam build: into the function
    code = d.folder()
    shutil.copytree(folder, code, dirs_exist_ok=True)
    shutil.copy(app / "lambda_function.py", code)
    fn = d.function(d.name("encrypt-pdf"), "python3.12", "lambda_function.lambda_handler", zip_tree(code),
                    timeout=15, memory=256, log_format="JSON")  # fmt: skip
    d.s3.put_object(Bucket=source, Key="test.pdf", Body=one_page_pdf())
    event = {"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2026-12-07T00:00:00.000Z",
        "eventName": "ObjectCreated:Put", "s3": {"s3SchemaVersion": "1.0", "configurationId": "S3Event",
        "bucket": {"name": source, "arn": f"arn:aws:s3:::{source}"}, "object": {"key": "test.pdf", "size": len(one_page_pdf())}},
    }]}  # fmt: skip

    def encrypted(p: Any) -> bool:
        data = d.s3.get_object(Bucket=f"{source}-encrypted", Key="test_encrypted.pdf")[
            "Body"
        ].read()
        return p is None and data.startswith(b"%PDF") and b"/Encrypt" in data

    return [
        Call(
            "s3 ObjectCreated event",
            fn,
            event,
            ok(encrypted, "null, and test_encrypted.pdf in <bucket>-encrypted"),
        )
    ]


POWERTOOLS = "aws-lambda-powertools[tracer]==3.2.0"


def powertools_layer(d: Deployer) -> str:
    """What Powertools' docs install (`pip install "aws-lambda-powertools[tracer]"` into a
    layer), at the release of the examples' commit."""
    content = zip_tree(pip_target([POWERTOOLS], "3.12"), "python/")
    return d.layer(d.name("powertools"), content, ["python3.12"])


def powertools_idempotency(d: Deployer, repo: Path) -> list[Call | Request]:
    src = repo / "examples/idempotency/src"
    table = d.table(d.name("idempotency"), "id", ttl="expiration")
    folder = d.folder()
    shutil.copy(
        src / "getting_started_with_idempotency.py", folder / "app.py"
    )  # the template's Handler: app
    fn = d.function(d.name("pt-idempotency"), "python3.12", "app.lambda_handler", zip_tree(folder),
                    layers=[powertools_layer(d)], env={"IDEMPOTENCY_TABLE": table})  # fmt: skip
    event = json.loads((src / "getting_started_with_idempotency_payload.json").read_text())
    first: dict[str, str] = {}

    def paid(p: Any) -> bool:
        first.setdefault("id", p.get("payment_id", ""))
        return bool(p.get("message") == "success" and p["payment_id"] == first["id"])

    def one_record(p: Any) -> bool:
        return paid(p) and d.dynamodb.scan(TableName=table)["Count"] == 1

    return [
        Call("payload", fn, event, ok(paid, "a payment")),
        Call("same payload again", fn, event, ok(one_record, "the same payment_id, one record")),
    ]


def powertools_batch(d: Deployer, repo: Path) -> list[Call | Request]:
    src = repo / "examples/batch_processing/src"
    folder = d.folder()
    shutil.copy(src / "getting_started_sqs.py", folder)
    fn = d.function(d.name("pt-batch"), "python3.12", "getting_started_sqs.lambda_handler", zip_tree(folder),
                    layers=[powertools_layer(d)], env={"POWERTOOLS_SERVICE_NAME": "example"})  # fmt: skip
    event = json.loads((src / "getting_started_sqs_event.json").read_text())
    expected = json.loads((src / "getting_started_sqs_response.json").read_text())
    return [Call("sqs event", fn, event, ok(lambda p: p == expected, json.dumps(expected)))]


# --- Node.js -----------------------------------------------------------------------------


def blank_nodejs(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "sample-apps/blank-nodejs"
    modules = npm_install(json.loads((app / "package.json").read_text()))
    layer = d.layer(
        d.name("blank-nodejs-lib"), zip_tree(modules, "nodejs/node_modules/"), ["nodejs20.x"]
    )
    fn = d.function(d.name("blank-nodejs"), "nodejs20.x", "index.handler", zip_tree(app / "function"),
                    layers=[layer], timeout=10, tracing=True)  # fmt: skip
    event = json.loads((app / "event.json").read_text())
    return [
        Call(
            "event.json",
            fn,
            event,
            ok(lambda p: isinstance(p, dict) and "AccountUsage" in p, "GetAccountSettings' output"),
        )
    ]


def layer_nodejs(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "sample-apps/layer-nodejs"
    modules = npm_install(json.loads((app / "layer/package.json").read_text()))
    layer = d.layer(
        d.name("lodash"), zip_tree(modules, "nodejs/node20/node_modules/"), ["nodejs20.x"]
    )
    fn = d.function(d.name("layer-nodejs"), "nodejs20.x", "index.handler", zip_tree(app / "function-js"),
                    layers=[layer])  # fmt: skip
    expected = {"statusCode": 200, "body": json.dumps("2, Pat")}
    return [Call("{}", fn, {}, ok(lambda p: p == expected, json.dumps(expected)))]


def sam_openapi(
    paths: dict[str, dict[str, str]], openapi3: bool = False, cors: dict[str, str] | None = None,
    binary: list[str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The OpenAPI document SAM writes for a REST API from functions' `Api` events (its
    `swagger_generator`): per path and method an `aws_proxy` integration (`httpMethod` POST,
    the function's invocations URI) and empty responses; OpenAPI 3.0.1 with `OpenApiVersion`;
    `Cors` as a MOCK `options` method per path; `BinaryMediaTypes` (`~1` is `/`)."""
    body: dict[str, Any] = {"info": {"version": "1.0", "title": "sam-app"}, "paths": {}}
    body.update({"openapi": "3.0.1"} if openapi3 else {"swagger": "2.0"})
    every = "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"
    for path, methods in paths.items():
        body["paths"][path] = {
            ("x-amazon-apigateway-any-method" if method == "ANY" else method.lower()): {
                "x-amazon-apigateway-integration": {
                    "httpMethod": "POST", "type": "aws_proxy",
                    "uri": f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations",
                },
                "responses": {},
            } for method, arn in methods.items()
        }  # fmt: skip
        if cors:
            allowed = every if "ANY" in methods else ",".join(sorted({*methods, "OPTIONS"}))
            values = {f"method.response.header.Access-Control-{k}": v for k, v in
                      {**cors, "Allow-Methods": f"'{allowed}'"}.items()}  # fmt: skip
            body["paths"][path]["options"] = {
                "summary": "CORS support", "consumes": ["application/json"], "produces": ["application/json"],
                "x-amazon-apigateway-integration": {
                    "type": "mock", "requestTemplates": {"application/json": '{\n  "statusCode" : 200\n}\n'},
                    "responses": {"default": {"statusCode": "200", "responseParameters": values,
                                              "responseTemplates": {"application/json": "{}\n"}}},
                },
                "responses": {"200": {"description": "Default response for CORS method",
                                      "headers": {f"Access-Control-{k}": {"type": "string"} for k in (*cors, "Allow-Methods")}}},
            }  # fmt: skip
    if binary:
        body["x-amazon-apigateway-binary-media-types"] = [t.replace("~1", "/") for t in binary]
    return body


def sam_http_openapi(functions: dict[str, str]) -> dict[str, Any]:
    """The OpenAPI 3.0.1 body SAM writes for its implicit `ServerlessHttpApi` from `HttpApi`
    events: an event without Path and Method is the `$default` route (ANY), payload 2.0."""
    paths: dict[str, Any] = {}
    for route, arn in functions.items():
        method, _, path = route.partition(" ") if route != "$default" else ("ANY", "", "$default")
        paths.setdefault(path, {})["x-amazon-apigateway-any-method" if method == "ANY" else method.lower()] = {
            **({"isDefaultRoute": True} if path == "$default" else {}),
            "x-amazon-apigateway-integration": {
                "httpMethod": "POST", "type": "aws_proxy", "payloadFormatVersion": "2.0",
                "uri": f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{arn}/invocations",
            },
            "responses": {},
        }  # fmt: skip
    return {"openapi": "3.0.1", "info": {"version": "1.0", "title": "sam-app"}, "paths": paths,
            "tags": [{"name": "httpapi:createdBy", "x-amazon-apigateway-tag-value": "SAM"}]}  # fmt: skip


def nodejs_apig(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "sample-apps/nodejs-apig"
    fn = d.function(
        d.name("nodejs-apig"), "nodejs22.x", "index.handler", zip_tree(app / "function"), timeout=10
    )
    # template.yml: AWS::Serverless::Api (StageName api, OpenApiVersion 3.0.2), event GET /
    api_id, base = d.rest_api_import(sam_openapi({"/": {"GET": d.arn(fn)}}, openapi3=True), ["api"])
    d.allow_apigateway(fn, api_id, "*/GET/")
    event = json.loads((app / "event.json").read_text())
    usage = ok(
        lambda p: p.get("statusCode") == 200 and "FunctionCount" in body(p), "200 with AccountUsage"
    )
    # 4-get.sh: curl https://$APIID.execute-api.$REGION.amazonaws.com/api/ ; formatResponse sets
    # Content-Type and multiValueHeaders X-Custom-Header, which a REST API sends as two headers
    return [
        Call("event.json", fn, event, usage),
        Request("GET /api/ (4-get.sh)", "GET", f"{base}/", answers(200, lambda r: "FunctionCount" in r.json(), "AccountUsage",
                {"Content-Type": "application/json", "X-Custom-Header": "My value, My other value"})),
            Request("GET /api (no slash)", "GET", base, answers(200, lambda r: "FunctionCount" in r.json(), "AccountUsage")),
]  # fmt: skip


def express_dynamodb(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "aws-node-express-dynamodb-api"
    table = d.table(d.name("users-table"), "userId")
    modules = npm_install(json.loads((app / "package.json").read_text()))
    folder = d.folder()
    shutil.copy(app / "index.js", folder)
    shutil.copytree(modules, folder / "node_modules")  # `serverless deploy` packages node_modules
    fn = d.function(d.name("express-api"), "nodejs18.x", "index.handler", zip_tree(folder),
                    env={"USERS_TABLE": table}, timeout=6)  # fmt: skip
    base = d.http_api(d.name("express"), {"$default": fn})  # httpApi: '*'
    user = {"name": "John", "userId": "someUserId"}
    json_type = {"Content-Type": "application/json"}
    express_json = {"Content-Type": "application/json; charset=utf-8"}
    return [
        Request("POST /users", "POST", f"{base}/users", answers(200, lambda r: r.json() == user, json.dumps(user), express_json), user, json_type),
        Request("GET /users/someUserId", "GET", f"{base}/users/someUserId", answers(200, lambda r: r.json() == user, json.dumps(user), express_json)),
        Request("GET /users/none", "GET", f"{base}/users/none",
                answers(404, lambda r: r.json() == {"error": 'Could not find user with provided "userId"'}, "the not-found error")),
        Request("GET /nowhere", "GET", f"{base}/nowhere", answers(404, lambda r: r.json() == {"error": "Not Found"}, "express's 404")),
    ]  # fmt: skip


def lambda_dynamodb_v2(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "lambda-dynamodb"
    table = d.table(d.name("dynamo-table"), "ID")
    modules = npm_install(json.loads((app / "src/package.json").read_text()))
    folder = d.folder()
    shutil.copytree(app / "src", folder, dirs_exist_ok=True)
    shutil.copytree(modules, folder / "node_modules")
    fn = d.function(
        d.name("lambda-dynamodb"),
        "nodejs24.x",
        "app.handler",
        zip_tree(folder),
        env={"DatabaseTable": table},
    )
    return [
        Call(
            "{}",
            fn,
            {"hello": "world"},
            fails_with("Runtime.ImportModuleError", "Cannot find module 'aws-sdk'"),
        )
    ]


def rest_api_event(
    method: str, path: str, body_json: Any = None, params: dict[str, str] | None = None
) -> dict[str, Any]:
    """An API Gateway REST API (proxy integration, payload 1.0) event."""
    return {
        "resource": "/{id}" if params else "/", "path": path, "httpMethod": method,
        "headers": {"content-type": "application/json"}, "multiValueHeaders": {},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": params, "stageVariables": None,
        "requestContext": {"accountId": "000000000000", "apiId": "abc123", "httpMethod": method,
                           "requestId": str(uuid.uuid4()), "stage": "prod", "path": f"/prod{path}",
                           "identity": {"sourceIp": "192.0.2.1"}, "resourcePath": "/"},
        "body": None if body_json is None else json.dumps(body_json), "isBase64Encoded": False,
    }  # fmt: skip


def powertools_ts_bundle(
    d: Deployer, app: Path, entry: str, esm: bool, external: list[str]
) -> bytes:
    """What the example's CDK stack (`NodejsFunction`) builds: esbuild bundles the entry with
    the stack's options into `index.mjs` (ESM) or `index.js` (CommonJS), handler `index.handler`."""
    manifest = json.loads((app / "package.json").read_text())
    wanted = ("@aws-lambda-powertools/", "@aws-sdk/", "@middy/", "esbuild")
    modules = npm_install(
        {
            "dependencies": {
                k: v for k, v in manifest["dependencies"].items() if k.startswith(wanted)
            }
        }
    )
    work = d.folder()
    shutil.copytree(app / "functions", work / "functions")
    for name in ("package.json", "tsconfig.json"):  # `#imports` and decorators come from these
        shutil.copy(app / name, work)
    (work / "node_modules").symlink_to(modules)
    out = d.folder()
    command = [
        str(modules / ".bin/esbuild"), f"functions/{entry}.ts", "--bundle", "--platform=node",
        "--target=node22", f"--format={'esm' if esm else 'cjs'}", "--minify", "--keep-names",
        "--sourcemap", "--sources-content=true", f"--main-fields={'module,main' if esm else 'main'}",
        f"--outfile={out}/index.{'mjs' if esm else 'js'}", *[f"--external:{e}" for e in external],
    ]  # fmt: skip
    if esm:
        command += ["--tree-shaking=true", "--banner:js=import { createRequire } from \"module\";"
                    "const require = createRequire(import.meta.url);"]  # fmt: skip
    subprocess.run(command, cwd=work, check=True, capture_output=True)
    return zip_tree(out)


def powertools_ts_layer(d: Deployer, app: Path) -> str:
    """Powertools' public TypeScript layer, rebuilt from npm: its packages under nodejs/node_modules."""
    manifest = json.loads((app / "package.json").read_text())
    deps = {
        k: v for k, v in manifest["dependencies"].items() if k.startswith("@aws-lambda-powertools/")
    }
    return d.layer(
        d.name("powertools-ts"),
        zip_tree(npm_install({"dependencies": deps}), "nodejs/node_modules/"),
        ["nodejs22.x"],
    )


POWERTOOLS_TS_ENV = {"NODE_OPTIONS": "--enable-source-maps"}


def powertools_ts_get_by_id(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "examples/app"
    table = d.table(d.name("items"), "id")
    d.dynamodb.put_item(
        TableName=table, Item={"id": {"S": "myseconditem"}, "name": {"S": "Second"}}
    )
    fn = d.function(d.name("pt-ts-get-by-id"), "nodejs22.x", "index.handler", powertools_ts_bundle(d, app, "get-by-id", False, []),
                    env={**POWERTOOLS_TS_ENV, "TABLE_NAME": table}, timeout=30, tracing=True)  # fmt: skip
    item = {"id": "myseconditem", "name": "Second"}
    # the stack's RestApi (stage prod): resource {id}, GET with a LambdaIntegration (AWS_PROXY)
    base = d.rest_api_resources(d.name("Items Service"), [("{id}", "GET", fn)], "prod")
    return [
        Call("GET /myseconditem (invoke)", fn, rest_api_event("GET", "/myseconditem", params={"id": "myseconditem"}),
             ok(lambda p: p.get("statusCode") == 200 and body(p)["item"] == item, json.dumps(item))),
        Request("GET /prod/myseconditem/ (README)", "GET", f"{base}/myseconditem/",
                answers(200, lambda r: r.json()["item"] == item, json.dumps(item))),
        Request("GET /prod/missing", "GET", f"{base}/missing", answers(404, lambda r: "message" in r.json(), "item not found")),
    ]  # fmt: skip


def powertools_ts_get_all(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "examples/app"
    table = d.table(d.name("items"), "id")
    for n in ("myfirstitem", "myseconditem"):
        d.dynamodb.put_item(TableName=table, Item={"id": {"S": n}, "name": {"S": n}})
    code = powertools_ts_bundle(
        d, app, "get-all-items", True, ["@aws-sdk/*", "@aws-lambda-powertools/*"]
    )
    fn = d.function(d.name("pt-ts-get-all"), "nodejs22.x", "index.handler", code, layers=[powertools_ts_layer(d, app)],
                    env={**POWERTOOLS_TS_ENV, "TABLE_NAME": table}, timeout=30, tracing=True)  # fmt: skip
    base = d.rest_api_resources(
        d.name("Items Service"), [("/", "GET", fn)], "prod"
    )  # api.root.addMethod('GET')
    return [
        Request("GET /prod/ (README)", "GET", f"{base}/", answers(200, lambda r: len(r.json()["items"]) == 2, "both items")),
    ]  # fmt: skip


def powertools_ts_put_item(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "examples/app"
    table, idempotency = (
        d.table(d.name("items"), "id"),
        d.table(d.name("idempotency"), "id", ttl="expiration"),
    )
    ssm = d.session.client("ssm", endpoint_url=d.endpoint)
    try:  # the stack's AWS::SSM::Parameter, which Fireside does not serve yet
        ssm.put_parameter(
            Name="/items-store/idempotency-table-name",
            Type="String",
            Value=idempotency,
            Overwrite=True,
        )
    except Exception as error:
        log(f"    SSM PutParameter: {error}")
    fn = d.function(d.name("pt-ts-put-item"), "nodejs22.x", "index.handler", powertools_ts_bundle(d, app, "put-item", True, []),
                    env={**POWERTOOLS_TS_ENV, "TABLE_NAME": table, "SSM_PARAMETER_NAME": "/items-store/idempotency-table-name"},
                    timeout=30, tracing=True)  # fmt: skip
    base = d.rest_api_resources(
        d.name("Items Service"), [("/", "POST", fn)], "prod"
    )  # api.root.addMethod('POST')
    item = {"id": "myfirstitem", "name": "Some Name for the first item"}
    return [
        Request("POST /prod/ (README)", "POST", f"{base}/", answers(200, lambda r: d.dynamodb.get_item(
            TableName=table, Key={"id": {"S": "myfirstitem"}}).get("Item") is not None, "200 and the item stored"),
            item, {"Content-Type": "application/json"}),
    ]  # fmt: skip


# --- Ruby --------------------------------------------------------------------------------


def ruby_http_endpoint(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "aws-ruby-simple-http-endpoint"
    fn = d.function(
        d.name("ruby-time"),
        "ruby3.2",
        "handler.endpoint",
        zip_tree(app, skip=("package.json", "serverless.yml", ".gitignore", "README")),
    )
    base = d.http_api(d.name("ruby-time"), {"GET /time": fn})
    return [
        Request(
            "GET /time",
            "GET",
            f"{base}/time",
            answers(200, lambda r: "date" in r.json(), '{"date": ...}', HTTP_API_TYPE),
        )
    ]


def layer_ruby(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "sample-apps/layer-ruby"
    folder = d.folder()
    debian_gems(["tzinfo"], folder / "ruby/gems/3.3.0")  # 2-package.sh: ruby/gems/3.3.0/
    layer = d.layer(d.name("tzinfo"), zip_tree(folder), ["ruby3.3"])
    fn = d.function(
        d.name("layer-ruby"),
        "ruby3.3",
        "lambda_function.lambda_handler",
        zip_tree(app / "function"),
        layers=[layer],
    )
    expected = {"statusCode": 200, "body": "2018-02-01 07:30:00 -0500"}
    return [Call("{}", fn, {}, ok(lambda p: p == expected, json.dumps(expected)))]


def ruby_cron_dynamodb(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "aws-ruby-cron-with-dynamodb"
    table = d.table(d.name("meal-orders"), "id")
    folder = d.folder()
    shutil.copytree(app / "src", folder / "src")
    debian_gems(["faker"], folder / "vendor/bundle/ruby/3.2.0")  # aws-sdk-dynamodb: the runtime's
    fn = d.function(d.name("ruby-cron"), "ruby3.2", "src/handlers/create_meal_order/handler.run", zip_tree(folder),
                    env={"tableName": table}, timeout=10, memory=256)  # fmt: skip
    scheduled = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
                 "account": "000000000000", "time": "2026-12-07T00:00:00Z", "region": "us-east-1",
                 "resources": ["arn:aws:events:us-east-1:000000000000:rule/create-meal-order"], "detail": {}}  # fmt: skip
    return [
        Call(
            "scheduled event",
            fn,
            scheduled,
            ok(lambda p: d.dynamodb.scan(TableName=table)["Count"] == 1, "one order in the table"),
        )
    ]


# --- HTTP front doors: programs added for issue 13 ---------------------------------------


def powertools_rest_binary(d: Deployer, repo: Path) -> list[Call | Request]:
    src = repo / "examples/event_handler_rest/src"
    folder = d.folder()
    shutil.copy(src / "binary_responses.py", folder)
    shutil.copy(src / "binary_responses_logo.svg", folder / "logo.svg")  # the code reads logo.svg
    fn = d.function(d.name("pt-rest-binary"), "python3.12", "binary_responses.lambda_handler", zip_tree(folder),
                    layers=[powertools_layer(d)], timeout=5, tracing=True,
                    env={"POWERTOOLS_LOG_LEVEL": "INFO", "POWERTOOLS_LOGGER_SAMPLE_RATE": "0.1",
                         "POWERTOOLS_LOGGER_LOG_EVENT": "true", "POWERTOOLS_SERVICE_NAME": "example"})  # fmt: skip
    # sam/template.yaml: Globals Api Cors and BinaryMediaTypes "*~1*", event /{proxy+} ANY
    cors = {"Allow-Origin": "'https://example.com'", "Allow-Headers": "'Content-Type,Authorization,X-Amz-Date'",
            "Max-Age": "'300'"}  # fmt: skip
    document = sam_openapi({"/{proxy+}": {"ANY": d.arn(fn)}}, cors=cors, binary=["*~1*"])
    api_id, base = d.rest_api_import(document, ["Prod", "Stage"])
    d.allow_apigateway(fn, api_id, "*/*/*")
    logo = (src / "binary_responses_logo.svg").read_bytes()
    preflight = {"Access-Control-Allow-Origin": "https://example.com", "Access-Control-Max-Age": "300",
                 "Access-Control-Allow-Methods": "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT",
                 "Access-Control-Allow-Headers": "Content-Type,Authorization,X-Amz-Date"}  # fmt: skip
    return [
        Request("GET /Prod/logo", "GET", f"{base}/logo", answers(200, lambda r: r.body == logo, "the SVG's bytes",
                {"Content-Type": "image/svg+xml"})),
        Request("OPTIONS /Prod/logo (preflight)", "OPTIONS", f"{base}/logo", answers(200, lambda r: True, "", preflight),
                headers={"Origin": "https://example.com", "Access-Control-Request-Method": "GET"}),
        Request("GET /Prod/nothing", "GET", f"{base}/nothing", answers(404, lambda r: r.json() == {"statusCode": 404, "message": "Not found"},
                "Powertools' 404")),
    ]  # fmt: skip


def patterns_http_api_python(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "apigw-http-api-lambda-python"
    template = (app / "template.yaml").read_text()
    code = template.split("InlineCode: |\n", 1)[1].split("\n      Runtime:", 1)[0]
    folder = d.folder()
    (folder / "index.py").write_text(
        "\n".join(line[8:] for line in code.splitlines()) + "\n"
    )  # InlineCode: index.py
    fn = d.function(d.name("ApiFunction"), "python3.14", "index.handler", zip_tree(folder))
    # SAM's implicit ServerlessHttpApi: its OpenAPI body imported (ImportApi), stage $default
    # with AutoDeploy, the permission `<api>/*`
    api = d.v2.import_api(Body=json.dumps(sam_http_openapi({"$default": d.arn(fn)})))
    d.http_apis.append(api["ApiId"])
    d.v2.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
    d.allow_apigateway(fn, api["ApiId"], "*")
    hello = answers(
        200,
        lambda r: r.body == b"Hello World! This is the HTTP API",
        "Hello World! This is the HTTP API",
        HTTP_API_TYPE,
    )
    return [
        Request("GET / (curl)", "GET", api["ApiEndpoint"] + "/", hello),
        Request("POST /any/path", "POST", api["ApiEndpoint"] + "/any/path", hello, b"x=1"),
    ]  # fmt: skip


def nest_express(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "aws-node-typescript-nest"
    manifest = json.loads((app / "package.json").read_text())
    types = {
        k: v
        for k, v in manifest["devDependencies"].items()
        if k in ("@types/aws-lambda", "@types/node", "@types/express")
    }
    modules = npm_install({"dependencies": {**manifest["dependencies"], **types}})
    work = d.folder()
    shutil.copytree(app / "src", work / "src")
    for name in ("tsconfig.json", "tsconfig.build.json"):
        shutil.copy(app / name, work)
    (work / "node_modules").symlink_to(modules)
    out = d.folder()
    # @hewmen/serverless-plugin-typescript: tsc with the project's tsconfig, src/ kept as the
    # handler's folder; `serverless deploy` packages the production node_modules
    subprocess.run([str(modules / ".bin/tsc"), "-p", "tsconfig.build.json", "--outDir", str(out / "src"), "--declaration", "false"],
                   cwd=work, capture_output=True)  # fmt: skip
    if not (out / "src/main.js").exists():
        raise RuntimeError("tsc produced no src/main.js")
    shutil.copytree(modules, out / "node_modules", symlinks=False)
    fn = d.function(
        d.name("nest-main"), "nodejs18.x", "src/main.handler", zip_tree(out), timeout=6, memory=1024
    )
    # `http` event: ANY /{proxy+}, stage dev
    base = d.rest_api_resources(
        d.name("dev-serverless-nest-example"), [("{proxy+}", "ANY", fn)], "dev"
    )
    return [
        Request("GET /dev/hello (README)", "GET", f"{base}/hello",
                answers(200, lambda r: r.body == b"Hello World!", "Hello World!", {"Content-Type": "text/html; charset=utf-8"})),
        Request("GET /dev/nothing", "GET", f"{base}/nothing", answers(404, lambda r: r.json()["statusCode"] == 404, "Nest's 404")),
    ]  # fmt: skip


def patterns_http_api(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "apigw-http-api-lambda"
    fn = d.function(d.name("http-api-lambda-function"), "nodejs24.x", "app.handler", zip_tree(app / "src"),
                    env={"Variable1": "1234", "Variable2": "ABCD"}, timeout=15)  # fmt: skip
    # template.yml: AWS::ApiGatewayV2::Api with Target (the invocations URI form) and
    # CorsConfiguration; the AWS::Lambda::Permission's SourceArn is `<api>/*`
    uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{d.arn(fn)}/invocations"
    cors = {"AllowOrigins": ["*"], "AllowMethods": ["GET", "HEAD", "OPTIONS", "POST"]}
    api_id, base = d.http_api_quick(d.name("apigw-http-api-lambda"), uri, cors)
    d.allow_apigateway(fn, api_id, "*")
    got = {"functionName": fn, "xForwardedFor": "127.0.0.1", "method": "GET", "rawPath": "/"}
    posted = {"functionName": fn, "xForwardedFor": "127.0.0.1", "contentType": "application/json", "method": "POST",
              "rawPath": "/path1/path2", "queryString": {"foo": "bar"}, "body": '{"key1":"value1", "key2":"value2"}'}  # fmt: skip
    return [
        Request("GET /", "GET", f"{base}/", answers(200, lambda r: r.json() == got, json.dumps(got), HTTP_API_TYPE)),
        Request("POST /path1/path2?foo=bar", "POST", f"{base}/path1/path2?foo=bar",
                answers(200, lambda r: r.json() == posted, json.dumps(posted)),
                b'{"key1":"value1", "key2":"value2"}', {"Content-Type": "application/json"}),
        Request("GET / from a browser (CORS)", "GET", f"{base}/",
                answers(200, lambda r: r.json()["method"] == "GET", "", {"Access-Control-Allow-Origin": "*"}),
                headers={"Origin": "https://example.com"}),
        Request("preflight", "OPTIONS", f"{base}/", answers(204, lambda r: True, "no body",
                {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "GET,HEAD,OPTIONS,POST"}),
                headers={"Origin": "https://example.com", "Access-Control-Request-Method": "POST"}),
    ]  # fmt: skip


def patterns_rest_dynamodb(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "apigw-lambda-dynamodb"
    table = d.table(
        "WeatherData", "id"
    )  # AWS::Serverless::SimpleTable: key `id` (S); the code names the table
    fn = d.function(
        d.name("WeatherFunction"), "python3.14", "index.lambda_handler", zip_tree(app / "src")
    )
    # SAM's implicit ServerlessRestApi: the event's path in its OpenAPI body, stages Prod and Stage
    api_id, base = d.rest_api_import(sam_openapi({"/": {"POST": d.arn(fn)}}), ["Prod", "Stage"])
    d.allow_apigateway(fn, api_id, "*/POST/")

    def stored(r: Reply) -> bool:
        item = d.dynamodb.get_item(TableName=table, Key={"id": {"S": "1"}}).get("Item")
        return r.body == b"Successfully inserted data!" and item == {
            "id": {"S": "1"},
            "Weather": {"S": "Sunny"},
        }

    return [
        Request("POST /Prod/", "POST", f"{base}/", answers(200, stored, "Successfully inserted data! and the item",
                {"Content-Type": "application/json"})),
        Request("GET /Prod/ (no such method)", "GET", f"{base}/", answers(403, lambda r: r.json() == {
            "message": "Missing Authentication Token"}, "Missing Authentication Token")),
    ]  # fmt: skip


def patterns_function_url_iam(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "lambda-function-url"
    fn = d.function(d.name("FURLFunction"), "nodejs24.x", "app.handler", zip_tree(app / "src"))
    url = d.function_url(
        fn, "AWS_IAM", {"AllowOrigins": ["*"]}
    )  # FunctionUrlConfig; SAM adds no permission
    forbidden = {"Message": "Forbidden. For troubleshooting Function URL authorization issues, see: "
                 "https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"}  # fmt: skip
    return [
        Request("GET / signed (awscurl --service lambda)", "GET", url,
                answers(200, lambda r: r.body == b"Hello World", "Hello World", URL_TYPE), sign=True),
        Request("GET / signed, from a browser origin", "GET", url,
                answers(200, lambda r: r.body == b"Hello World", "", {"Access-Control-Allow-Origin": "*"}),
                headers={"Origin": "https://example.com"}, sign=True),
        Request("GET / unsigned", "GET", url, answers(403, lambda r: r.json() == forbidden, "Forbidden")),
    ]  # fmt: skip


def patterns_streaming_url(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "lambda-streaming-ttfb-write-sam"
    fn = d.function(
        d.name("StreamingFunction"),
        "nodejs24.x",
        "index.handler",
        zip_tree(app / "src"),
        timeout=30,
        memory=512,
    )
    # MyFunctionUrl (AWS::Lambda::Url on the function, the URL the stack outputs): AWS_IAM,
    # RESPONSE_STREAM; the README's `curl --aws-sigv4 'aws:amz:<Region>:lambda'`
    url = d.function_url(fn, "AWS_IAM", invoke_mode="RESPONSE_STREAM")

    def page(r: Reply) -> bool:  # the first write arrives at once; the last ~4 s later
        return (
            r.first_byte_s < 2
            and r.body.startswith(b"<html><p>First write2!</p><h1>Streaming h1</h1>")
            and r.body.endswith(b"<p>DONE!</p>")
        )

    return [
        Request("GET / signed (curl --aws-sigv4)", "GET", url, answers(200, page, "the streamed page, its first bytes within 2 s",
                {"Content-Type": "text/html", "X-Custom-Header": "Example-Custom-Header"}), sign=True),
    ]  # fmt: skip


def patterns_function_url_sls(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "lambda-function-url-sls"
    modules = npm_install({"dependencies": {"esbuild": "0.24.0"}})
    out = d.folder()
    (out / "src").mkdir()
    # serverless-bundle: the handler `src/lambda.handler` compiled and bundled to CommonJS
    subprocess.run([str(modules / ".bin/esbuild"), str(app / "src/lambda.ts"), "--bundle", "--platform=node",
                    "--target=node20", "--format=cjs", f"--outfile={out}/src/lambda.js"], check=True, capture_output=True)  # fmt: skip
    fn = d.function(
        d.name("hellolambda"),
        "nodejs24.x",
        "src/lambda.handler",
        zip_tree(out),
        memory=256,
        timeout=10,
    )
    url = d.function_url(fn).rstrip("/")  # url: true (AuthType NONE and its permissions)
    return [
        Request("GET /", "GET", f"{url}/", answers(200, lambda r: r.body == b"hello from a lambda function url", "hello ...", URL_TYPE)),
        Request("POST / greeting", "POST", f"{url}/", answers(200, lambda r: r.json() == {"output": "added", "greeting": "hello"},
                '{"output":"added","greeting":"hello"}'), {"greeting": "hello"}, {"Content-Type": "application/json"}),
        Request("DELETE /", "DELETE", f"{url}/", answers(400, lambda r: r.body == b"Invalid HTTP method: DELETE", "Invalid HTTP method")),
    ]  # fmt: skip


def todos_rest_python(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "aws-python-rest-api-with-dynamodb"
    table = d.table(d.name("serverless-rest-api-with-dynamodb-dev"), "id")
    code = zip_tree(app, skip=("package.json", "serverless.yml", ".gitignore", "README"))
    fns = {op: d.function(d.name(f"todos-rest-{op}"), "python3.9", f"todos/{op}.{op}", code,
                          env={"DYNAMODB_TABLE": table}, timeout=6)
           for op in ("create", "list", "get", "update", "delete")}  # fmt: skip
    methods = [("todos", "post", fns["create"]), ("todos", "get", fns["list"]), ("todos/{id}", "get", fns["get"]),
               ("todos/{id}", "put", fns["update"]), ("todos/{id}", "delete", fns["delete"])]  # fmt: skip
    base = d.rest_api_resources(
        d.name("dev-serverless-rest-api-with-dynamodb"), methods, "dev", cors=True
    )
    preflight = answers(
        200,
        lambda r: True,
        "serverless's CORS headers",
        {"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "OPTIONS,GET,POST"},
    )
    return [
        *todo_requests(base, REST_TYPE),
        Request("OPTIONS /todos (cors: true)", "OPTIONS", f"{base}/todos", preflight,
                headers={"Origin": "https://example.com", "Access-Control-Request-Method": "POST"}),
    ]  # fmt: skip


def flask_dynamodb(d: Deployer, repo: Path) -> list[Call | Request]:
    app = repo / "aws-python-flask-dynamodb-api"
    table = d.table(d.name("users-table-dev"), "userId")
    requirements = (app / "requirements.txt").read_text().split()
    folder = d.folder()
    shutil.copytree(pip_target(requirements, "3.9"), folder, dirs_exist_ok=True,
                    ignore=lambda _, names: [n for n in names if n.split("-")[0].lower() in NO_DEPLOY])  # fmt: skip
    shutil.copy(app / "app.py", folder)
    # serverless-wsgi's packaging: its wsgi_handler.py and serverless_wsgi.py, and .serverless-wsgi
    plugin = npm_install({"dependencies": {"serverless-wsgi": "^3.0.1"}}) / "serverless-wsgi"
    for name in ("wsgi_handler.py", "serverless_wsgi.py"):
        shutil.copy(plugin / name, folder)
    (folder / ".serverless-wsgi").write_text(json.dumps({"app": "app.app"}))
    fn = d.function(d.name("flask-api"), "python3.9", "wsgi_handler.handler", zip_tree(folder),
                    env={"USERS_TABLE": table}, timeout=6)  # fmt: skip
    base = d.http_api(d.name("flask"), {"$default": fn})  # httpApi: '*'
    user = {"name": "John", "userId": "someUserId"}
    json_type = {"Content-Type": "application/json"}
    return [
        Request("POST /users", "POST", f"{base}/users", answers(200, lambda r: r.json() == user, json.dumps(user), json_type), user, json_type),
        Request("GET /users/someUserId", "GET", f"{base}/users/someUserId", answers(200, lambda r: r.json() == user, json.dumps(user), json_type)),
        Request("GET /users/none", "GET", f"{base}/users/none", answers(404, lambda r: "error" in r.json(), "the not-found error")),
    ]  # fmt: skip


SAM = "SAM template's resources created by hand (CreateFunction, PublishLayerVersion, CreateTable/CreateBucket)"
CDK = (
    "the CDK stack (examples/app/cdk) by hand: tables, functions (nodejs22.x, tracing Active, NODE_OPTIONS), "
    "the RestApi (stage prod) with this function's method (LambdaIntegration: AWS_PROXY)"
)
SLS_HOW = "serverless.yml's resources created by hand (`serverless deploy` packaging: the service folder zipped)"
PROGRAMS = [
    Program("dev-guide/blank-python", "python", "python3.11", DEV_GUIDE, "sample-apps/blank-python", blank_python,
            SAM + "; layer from 2-build-layer.sh (pip --target of requirements.txt, PyPI); X-Ray tracing Active"),
    Program("serverless/aws-python-http-api-with-dynamodb", "python", "python3.9", SLS, "aws-python-http-api-with-dynamodb",
            todos_python, SLS_HOW + "; 5 functions and the table; `httpApi` events as serverless makes them: an HTTP API, a route "
            "and AWS_PROXY integration (payload 2.0) per function, stage $default, permission `<api>/*`", trigger="HTTP API"),
    Program("serverless/aws-python-http-api-with-pynamodb", "python", "python3.9", SLS, "aws-python-http-api-with-pynamodb",
            todos_pynamodb, SLS_HOW + " with serverless-python-requirements (pynamodb 4.3.1 from PyPI, its noDeploy list left "
            "out); the model's Meta.host is https://dynamodb.us-east-1.amazonaws.com",
            on_aws="TypeError: _convert_to_request_dict() missing 1 required positional argument: 'endpoint_url'", trigger="HTTP API"),
    Program("serverless-patterns/lambda-s3", "python", "python3.14", PATTERNS, "lambda-s3", lambda_s3, SAM),
    Program("dev-guide/file-processing-python", "python", "python3.12", DEV_GUIDE, "sample-apps/file-processing-python",
            file_processing, SAM + " (two buckets; requirements.txt packaged into the function as sam build does; "
            "LoggingConfig LogFormat JSON); the S3 notification built by hand (S3 does not invoke functions yet)"),
    Program("powertools-python/idempotency", "python", "python3.12", POWERTOOLS_PY,
            "examples/idempotency/src/getting_started_with_idempotency.py", powertools_idempotency,
            "examples/idempotency/templates/sam.yaml by hand (table with TTL); " + POWERTOOLS + " from PyPI in a layer"),
    Program("powertools-python/batch-sqs", "python", "python3.12", POWERTOOLS_PY, "examples/batch_processing/src/getting_started_sqs.py",
            powertools_batch, "function by hand; " + POWERTOOLS + " from PyPI in a layer; the example's SQS event"),
    Program("dev-guide/blank-nodejs (CJS)", "nodejs", "nodejs20.x", DEV_GUIDE, "sample-apps/blank-nodejs", blank_nodejs,
            SAM + "; layer from 2-build-layer.sh (npm install --omit=dev into nodejs/node_modules); X-Ray tracing Active"),
    Program("dev-guide/layer-nodejs (ESM)", "nodejs", "nodejs20.x", DEV_GUIDE, "sample-apps/layer-nodejs/function-js", layer_nodejs,
            "layer/1-install.sh and 2-package.sh (lodash into nodejs/node20/node_modules), function-js/index.mjs"),
    Program("dev-guide/nodejs-apig (ESM)", "nodejs", "nodejs22.x", DEV_GUIDE, "sample-apps/nodejs-apig", nodejs_apig,
            SAM + "; no dependencies packaged (the runtime's AWS SDK v3); AWS::Serverless::Api as SAM writes it: "
            "OpenAPI 3.0.1 body imported, stage api, permission `*/GET/`", trigger="REST"),
    Program("serverless/aws-node-express-dynamodb-api (CJS)", "nodejs", "nodejs18.x", SLS, "aws-node-express-dynamodb-api",
            express_dynamodb, SLS_HOW + " with node_modules (express, serverless-http from npm); the runtime's AWS SDK v3; "
            "`httpApi: '*'`: an HTTP API with the $default route (payload 2.0)", trigger="HTTP API"),
    Program("serverless-patterns/lambda-dynamodb (CJS, SDK v2)", "nodejs", "nodejs24.x", PATTERNS, "lambda-dynamodb",
            lambda_dynamodb_v2, SAM + " (moment from npm); requires 'aws-sdk' v2, which no nodejs18.x+ image has",
            on_aws="Runtime.ImportModuleError: Cannot find module 'aws-sdk'"),
    Program("powertools-typescript/get-by-id (CJS bundle)", "nodejs", "nodejs22.x", POWERTOOLS_TS, "examples/app/functions/get-by-id.ts",
            powertools_ts_get_by_id, CDK + "; esbuild CommonJS bundle with every dependency (npm), as the stack's bundling sets", trigger="REST"),
    Program("powertools-typescript/get-all-items (ESM + layer)", "nodejs", "nodejs22.x", POWERTOOLS_TS, "examples/app/functions/get-all-items.ts",
            powertools_ts_get_all, CDK + "; esbuild ESM bundle, @aws-sdk/* and @aws-lambda-powertools/* external: Powertools' "
            "public layer rebuilt from npm, the SDK the runtime's", trigger="REST"),
    Program("powertools-typescript/put-item (ESM bundle)", "nodejs", "nodejs22.x", POWERTOOLS_TS, "examples/app/functions/put-item.ts",
            powertools_ts_put_item, CDK + "; esbuild ESM bundle with every dependency; the stack's SSM parameter put first", trigger="REST"),
    Program("serverless-patterns/apigw-http-api-lambda", "nodejs", "nodejs24.x", PATTERNS, "apigw-http-api-lambda",
            patterns_http_api, SAM + "; HTTP API quick create (Target: the invocations URI) with its CORS, the permission", trigger="HTTP API"),
    Program("serverless-patterns/apigw-http-api-lambda-python", "python", "python3.14", PATTERNS, "apigw-http-api-lambda-python",
            patterns_http_api_python, SAM + "; InlineCode as index.py; the `HttpApi` event (no path: the $default route) as "
            "SAM's ServerlessHttpApi: OpenAPI 3.0.1 body imported with ImportApi, stage $default", trigger="HTTP API"),
    Program("powertools-python/event_handler_rest (binary)", "python", "python3.12", POWERTOOLS_PY,
            "examples/event_handler_rest/src/binary_responses.py", powertools_rest_binary,
            "sam/template.yaml by hand with binary_responses.py as the handler (its logo as logo.svg); " + POWERTOOLS +
            " from PyPI in a layer; the `Api` event /{proxy+} ANY with Globals Cors and BinaryMediaTypes as SAM's "
            "Swagger body (MOCK OPTIONS methods, binary media types) imported, stages Prod and Stage", trigger="REST"),
    Program("serverless-patterns/apigw-lambda-dynamodb", "python", "python3.14", PATTERNS, "apigw-lambda-dynamodb",
            patterns_rest_dynamodb, SAM + "; the `Api` event as SAM's ServerlessRestApi: Swagger 2.0 body imported, "
            "stages Prod and Stage, permission `*/POST/`", trigger="REST"),
    Program("serverless-patterns/lambda-function-url (AWS_IAM)", "nodejs", "nodejs24.x", PATTERNS, "lambda-function-url",
            patterns_function_url_iam, SAM + "; FunctionUrlConfig AuthType AWS_IAM with Cors, called signed (SigV4, lambda)", trigger="URL"),
    Program("serverless-patterns/lambda-function-url-sls", "nodejs", "nodejs24.x", PATTERNS, "lambda-function-url-sls",
            patterns_function_url_sls, SLS_HOW + " with serverless-bundle (esbuild from npm in its place); `url: true`: "
            "AuthType NONE and the two public permissions", trigger="URL"),
    Program("serverless-patterns/lambda-streaming-ttfb-write-sam", "nodejs", "nodejs24.x", PATTERNS, "lambda-streaming-ttfb-write-sam",
            patterns_streaming_url, SAM + "; MyFunctionUrl: AuthType AWS_IAM, InvokeMode RESPONSE_STREAM, called signed", trigger="URL"),
    Program("serverless/aws-python-rest-api-with-dynamodb", "python", "python3.9", SLS, "aws-python-rest-api-with-dynamodb",
            todos_rest_python, SLS_HOW + "; `http` events as serverless makes them: REST API resources, AWS_PROXY "
            "methods, `cors: true` OPTIONS MOCK methods, stage dev", trigger="REST"),
    Program("serverless/aws-python-flask-dynamodb-api", "python", "python3.9", SLS, "aws-python-flask-dynamodb-api",
            flask_dynamodb, SLS_HOW + " with serverless-wsgi (its handler files from npm) and serverless-python-requirements "
            "(Flask 1.1.4 from PyPI); `httpApi: '*'`", trigger="HTTP API"),
    Program("serverless/aws-node-typescript-nest", "nodejs", "nodejs18.x", SLS, "aws-node-typescript-nest", nest_express,
            SLS_HOW + " with @hewmen/serverless-plugin-typescript (tsc of the project's tsconfig, TypeScript from npm) and its "
            "node_modules (NestJS 5, aws-serverless-express); `http` event ANY /{proxy+} as a REST API, stage dev", trigger="REST"),
    Program("serverless/aws-ruby-simple-http-endpoint", "ruby", "ruby3.2", SLS, "aws-ruby-simple-http-endpoint",
            ruby_http_endpoint, SLS_HOW + "; serverless.yml says ruby2.7, which Lambda no longer accepts: ruby3.2", trigger="HTTP API"),
    Program("dev-guide/layer-ruby", "ruby", "ruby3.3", DEV_GUIDE, "sample-apps/layer-ruby", layer_ruby,
            "layer as 2-package.sh lays it out (ruby/gems/3.3.0), tzinfo from Debian's ruby-tzinfo (rubygems.org unreachable)"),
    Program("serverless/aws-ruby-cron-with-dynamodb", "ruby", "ruby3.2", SLS, "aws-ruby-cron-with-dynamodb", ruby_cron_dynamodb,
            SLS_HOW + "; faker vendored from Debian's ruby-faker; aws-sdk-dynamodb left to the runtime, as Lambda's "
            "Ruby images ship it; serverless.yml says ruby2.7: ruby3.2; the schedule's event built as EventBridge sends it"),
]  # fmt: skip
