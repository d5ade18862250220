"""Deploying other people's Lambda programs by hand: packaging their dependencies from the
registries (PyPI, npm, Debian's Ruby gems), and creating what their templates would create.

SAM and CloudFormation are not served by Fireside yet, so `Deployer` does with boto3 what a
template's resources amount to (a table, a bucket, a layer version, a function with its
environment), and says so in the report. Downloads are cached under `.bench-venvs/programs`.
"""

from __future__ import annotations

import glob
import hashlib
import http.client
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
import zipfile
from pathlib import Path
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from common import ROLE, ROOT, log


def uuid4_hex() -> str:
    return uuid.uuid4().hex[:8]


CACHE = ROOT / ".bench-venvs" / "programs"


def zip_tree(root: Path, prefix: str = "", skip: tuple[str, ...] = ()) -> bytes:
    """A zip of every file under `root` (names under `prefix`), keeping executable bits."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(root.rglob("*")):
            relative = path.relative_to(root).as_posix()
            if path.is_dir() or any(relative.startswith(s) for s in skip):
                continue
            info = zipfile.ZipInfo(prefix + relative)
            info.external_attr = (stat.S_IMODE(path.stat().st_mode) | stat.S_IFREG) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _cached(kind: str, spec: str) -> tuple[Path, bool]:
    """A cache folder for one package set; True when it is already filled."""
    folder = CACHE / f"{kind}-{hashlib.sha256(spec.encode()).hexdigest()[:16]}"
    return folder, (folder / ".done").exists()


def version_key(path: str) -> tuple[int, ...]:
    """(3, 13, 0) for .../versions/3.13.0/bin/python3, for sorting by version."""
    found = re.search(r"/(\d+(?:\.\d+)+)/bin/", path)
    return tuple(int(n) for n in found[1].split(".")) if found else ()


def pyenv_pythons(pattern: str = "3.*") -> list[str]:
    """pyenv's interpreters (not its shims, which fail outside a pyenv shell), oldest first."""
    found = glob.glob(os.path.expanduser(f"~/.pyenv/versions/{pattern}/bin/python3"))
    return sorted(found, key=version_key)


def python_for(version: str) -> str | None:
    """A host interpreter of `version` (3.X): pyenv's, or one on PATH that is not a shim."""
    pyenv = pyenv_pythons(f"{version}.*")
    if pyenv:
        return pyenv[-1]
    found = shutil.which(f"python{version}")
    return found if found and "/shims/" not in found else None


def pip_target(requirements: list[str], version: str) -> Path:
    """`pip install --target` of `requirements` for CPython `version`, as AWS's docs build a
    layer's `python/` folder. A host interpreter of that version installs when there is one
    (so sdists build for it); otherwise pip picks manylinux wheels for that version."""
    folder, done = _cached(f"pip{version}", "\n".join(requirements))
    if done:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    interpreter = python_for(version)
    if interpreter:
        command = [interpreter, "-m", "pip", "install", "--quiet", "--target", str(folder)]
    else:
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--target", str(folder),
                   "--python-version", version, "--only-binary=:all:",
                   "--platform", "manylinux2014_x86_64", "--implementation", "cp"]  # fmt: skip
    log(f"pip installing {' '.join(requirements)} for Python {version}...")
    subprocess.run([*command, *requirements], check=True, stdout=subprocess.DEVNULL)
    (folder / ".done").touch()
    return folder


def npm_install(package_json: dict[str, Any]) -> Path:
    """`npm install --omit=dev` of a package.json's dependencies; returns its node_modules."""
    manifest = {"name": "deps", "version": "1.0.0", "private": True,
                "dependencies": package_json.get("dependencies", {})}  # fmt: skip
    folder, done = _cached("npm", json.dumps(manifest, sort_keys=True))
    if not done:
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        (folder / "package.json").write_text(json.dumps(manifest))
        log(f"npm installing {', '.join(manifest['dependencies'])}...")
        subprocess.run(
            ["npm", "install", "--omit=dev", "--no-package-lock", "--ignore-scripts"],
            cwd=folder, check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        (folder / ".done").touch()
    return folder / "node_modules"


def debian_gems(names: list[str], into: Path) -> None:
    """Copy installed gems (Debian's `ruby-*` packages) and their runtime dependencies into a
    gem folder as `bundle install --path` lays one out (`gems/`, `specifications/`): the
    registries reachable here serve no rubygems.org, so Debian's packages stand in for it."""
    script = (
        "require 'json'; seen = {}; todo = ARGV.dup\n"
        "while (n = todo.shift)\n"
        "  next if seen[n]\n"
        "  s = Gem::Specification.find_by_name(n); seen[n] = [s.full_name, s.full_gem_path, s.loaded_from]\n"
        "  todo.concat(s.runtime_dependencies.map(&:name))\n"
        "end\n"
        "puts JSON.generate(seen.values)\n"
    )
    out = subprocess.run(["ruby", "-e", script, *names], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"gems {names} are not installed: {out.stderr.strip()[-200:]}")
    for full_name, gem_path, spec_path in json.loads(out.stdout):
        shutil.copytree(gem_path, into / "gems" / full_name, dirs_exist_ok=True, symlinks=False)
        (into / "specifications").mkdir(parents=True, exist_ok=True)
        shutil.copy(spec_path, into / "specifications" / f"{full_name}.gemspec")


class Deployer:
    """Creates a program's resources on one Fireside server, and removes them after."""

    def __init__(self, port: int, prefix: str) -> None:
        self.endpoint = f"http://127.0.0.1:{port}"
        self.prefix = prefix
        config = Config(retries={"max_attempts": 1}, read_timeout=300)
        self.session = boto3.Session(
            aws_access_key_id="000000000000", aws_secret_access_key="test",
            region_name="us-east-1",
        )  # fmt: skip
        self.lam = self.session.client("lambda", endpoint_url=self.endpoint, config=config)
        self.dynamodb = self.session.client("dynamodb", endpoint_url=self.endpoint)
        self.s3 = self.session.client("s3", endpoint_url=self.endpoint)
        self.v2 = self.session.client("apigatewayv2", endpoint_url=self.endpoint)
        self.apigw = self.session.client("apigateway", endpoint_url=self.endpoint)
        self.port = port
        self.http_apis: list[str] = []
        self.rest_apis: list[str] = []
        self.functions: list[str] = []
        self.scratch = Path(tempfile.mkdtemp(prefix="fireside-programs-"))

    def name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"[:64]

    def folder(self) -> Path:
        return Path(tempfile.mkdtemp(dir=self.scratch))

    def table(self, name: str, key: str, ttl: str | None = None) -> str:
        """A PAY_PER_REQUEST table with a string hash key, as the templates declare."""
        self.dynamodb.create_table(
            TableName=name, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        )  # fmt: skip
        self.dynamodb.get_waiter("table_exists").wait(TableName=name)
        if ttl:
            self.dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"AttributeName": ttl, "Enabled": True}
            )
        return name

    def bucket(self, name: str) -> str:
        self.s3.create_bucket(Bucket=name)
        return name

    def layer(self, name: str, content: bytes, runtimes: list[str]) -> str:
        out = self.lam.publish_layer_version(
            LayerName=name, Content={"ZipFile": content}, CompatibleRuntimes=runtimes
        )
        return str(out["LayerVersionArn"])

    def function(
        self, name: str, runtime: str, handler: str, code: bytes,
        layers: list[str] | None = None, env: dict[str, str] | None = None,
        timeout: int = 3, memory: int = 128, tracing: bool = False, log_format: str = "Text",
    ) -> str:  # fmt: skip
        """CreateFunction with what the template's function resource sets."""
        self.lam.create_function(
            FunctionName=name, Runtime=runtime, Handler=handler, Role=ROLE,
            Code={"ZipFile": code}, Layers=layers or [], Timeout=timeout, MemorySize=memory,
            Environment={"Variables": env or {}},
            TracingConfig={"Mode": "Active" if tracing else "PassThrough"},
            LoggingConfig={"LogFormat": log_format},
        )  # fmt: skip
        self.functions.append(name)
        self.lam.get_waiter("function_active_v2").wait(FunctionName=name)
        return name

    # --- front doors, as the templates wire them -------------------------------------------

    def arn(self, function: str) -> str:
        return str(self.lam.get_function(FunctionName=function)["Configuration"]["FunctionArn"])

    def allow_apigateway(self, function: str, api_id: str, source: str = "*/*") -> None:
        """The `AWS::Lambda::Permission` SAM and serverless add for an API's integration."""
        account = self.arn(function).split(":")[4]
        self.lam.add_permission(
            FunctionName=function, StatementId=f"apigw-{api_id}-{len(source)}-{uuid4_hex()}",
            Action="lambda:InvokeFunction", Principal="apigateway.amazonaws.com",
            SourceArn=f"arn:aws:execute-api:us-east-1:{account}:{api_id}/{source}",
        )  # fmt: skip

    def http_api(
        self, name: str, routes: dict[str, str], payload: str = "2.0",
        cors: dict[str, Any] | None = None,
    ) -> str:  # fmt: skip
        """An HTTP API with a route and an AWS_PROXY integration per entry (`serverless
        deploy` of `httpApi` events: one integration per function, stage `$default` with
        AutoDeploy, permission `<api>/*`); returns the `ApiEndpoint`."""
        api = self.v2.create_api(
            Name=name, ProtocolType="HTTP", **({"CorsConfiguration": cors} if cors else {})
        )
        self.http_apis.append(api["ApiId"])
        integrations: dict[str, str] = {}
        for route_key, function in routes.items():
            if function not in integrations:
                integrations[function] = self.v2.create_integration(
                    ApiId=api["ApiId"], IntegrationType="AWS_PROXY", IntegrationUri=self.arn(function),
                    PayloadFormatVersion=payload,
                )["IntegrationId"]  # fmt: skip
                self.allow_apigateway(function, api["ApiId"], "*")
            self.v2.create_route(ApiId=api["ApiId"], RouteKey=route_key,
                                 Target=f"integrations/{integrations[function]}")  # fmt: skip
        self.v2.create_stage(ApiId=api["ApiId"], StageName="$default", AutoDeploy=True)
        return str(api["ApiEndpoint"])

    def http_api_quick(
        self, name: str, target: str, cors: dict[str, Any] | None = None
    ) -> tuple[str, str]:
        """Quick create (`CreateApi` with `Target`); returns the API id and `ApiEndpoint`."""
        api = self.v2.create_api(Name=name, ProtocolType="HTTP", Target=target,
                                 **({"CorsConfiguration": cors} if cors else {}))  # fmt: skip
        self.http_apis.append(api["ApiId"])
        return str(api["ApiId"]), str(api["ApiEndpoint"])

    def rest_api_import(self, document: dict[str, Any], stages: list[str]) -> tuple[str, str]:
        """What CloudFormation does with SAM's `AWS::ApiGateway::RestApi` `Body`: import the
        OpenAPI document, deploy it to each stage; returns the API id and the first stage's URL."""
        api = self.apigw.import_rest_api(body=json.dumps(document).encode())
        self.rest_apis.append(api["id"])
        for stage in stages:
            self.apigw.create_deployment(restApiId=api["id"], stageName=stage)
        return str(api["id"]), self.stage_url(api["id"], stages[0])

    def stage_url(self, api_id: str, stage: str) -> str:
        return f"http://{api_id}.execute-api.localhost:{self.port}/{stage}"

    def rest_api_resources(
        self, name: str, methods: list[tuple[str, str, str]], stage: str, cors: bool = False
    ) -> str:
        """`serverless deploy` of `http` events: a REST API, a resource per path part, each
        method `NONE` with an AWS_PROXY integration (POST to the function's invocations URI),
        with `cors: true` an OPTIONS MOCK method answering the CORS headers serverless sets;
        one deployment to the stage; permission `<api>/*/*`. Returns the stage's URL."""
        api = self.apigw.create_rest_api(name=name, endpointConfiguration={"types": ["EDGE"]})
        api_id = api["id"]
        self.rest_apis.append(api_id)
        root = next(
            r["id"] for r in self.apigw.get_resources(restApiId=api_id)["items"] if r["path"] == "/"
        )
        ids = {"": root}
        verbs: dict[str, list[str]] = {}
        for path, method, function in methods:
            parent = ""
            for part in filter(None, path.strip("/").split("/")):  # "" or "/": the root
                here = f"{parent}/{part}"
                if here not in ids:
                    ids[here] = self.apigw.create_resource(
                        restApiId=api_id, parentId=ids[parent], pathPart=part
                    )["id"]
                parent = here
            where = {"restApiId": api_id, "resourceId": ids[parent], "httpMethod": method.upper()}
            self.apigw.put_method(**where, authorizationType="NONE")
            uri = f"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/{self.arn(function)}/invocations"
            self.apigw.put_integration(
                **where, type="AWS_PROXY", integrationHttpMethod="POST", uri=uri
            )
            verbs.setdefault(parent, []).append(method.upper())
        for function in {m[2] for m in methods}:
            self.allow_apigateway(function, api_id, "*/*")
        if cors:
            headers = "Content-Type,X-Amz-Date,Authorization,X-Api-Key,X-Amz-Security-Token,X-Amz-User-Agent,X-Amzn-Trace-Id"
            for path, allowed in verbs.items():
                where = {"restApiId": api_id, "resourceId": ids[path], "httpMethod": "OPTIONS"}
                self.apigw.put_method(**where, authorizationType="NONE")
                self.apigw.put_integration(
                    **where, type="MOCK", requestTemplates={"application/json": "{statusCode:200}"}
                )
                names = {
                    f"method.response.header.Access-Control-Allow-{k}": False
                    for k in ("Origin", "Headers", "Methods")
                }
                self.apigw.put_method_response(**where, statusCode="200", responseParameters=names)
                values = {
                    "method.response.header.Access-Control-Allow-Origin": "'*'",
                    "method.response.header.Access-Control-Allow-Headers": f"'{headers}'",
                    "method.response.header.Access-Control-Allow-Methods": f"'OPTIONS,{','.join(sorted(allowed))}'",
                }
                self.apigw.put_integration_response(**where, statusCode="200", responseParameters=values,
                                                    responseTemplates={"application/json": ""})  # fmt: skip
        self.apigw.create_deployment(restApiId=api_id, stageName=stage)
        return self.stage_url(api_id, stage)

    def function_url(
        self, function: str, auth: str = "NONE", cors: dict[str, Any] | None = None,
        invoke_mode: str = "BUFFERED",
    ) -> str:  # fmt: skip
        """`FunctionUrlConfig` / `url: true`: the URL and, for `NONE`, the two permissions
        AWS requires of a public URL since October 2025 (SAM adds both)."""
        url = self.lam.create_function_url_config(
            InvokeMode=invoke_mode,FunctionName=function, AuthType=auth,
                                                  **({"Cors": cors} if cors else {}))["FunctionUrl"]  # fmt: skip
        if auth == "NONE":
            self.lam.add_permission(
                FunctionName=function,
                StatementId="FunctionURLAllowPublicAccess",
                Action="lambda:InvokeFunctionUrl",
                Principal="*",
                FunctionUrlAuthType="NONE",
            )
            self.lam.add_permission(
                FunctionName=function,
                StatementId="FunctionURLAllowInvokeAction",
                Action="lambda:InvokeFunction",
                Principal="*",
                InvokedViaFunctionUrl=True,
            )
        return str(url)

    def http(
        self, method: str, url: str, body: bytes | None = None,
        headers: dict[str, str] | None = None, sign: bool = False,
    ) -> tuple[int, dict[str, str], bytes, float]:  # fmt: skip
        """A plain HTTP request to a front door's URL, as curl sends it: to this server's
        loopback address with the URL's own host name in `Host` (what a `*.localhost`
        resolver does). `sign` adds a SigV4 signature for `lambda` (awscurl --service lambda).
        Also returns the seconds from sending to the body's first byte (a streamed response's
        time to first byte)."""
        parts = urllib.parse.urlsplit(url)
        headers = {
            "Host": parts.netloc,
            "User-Agent": "curl/8.5.0",
            "Accept": "*/*",
            **(headers or {}),
        }
        if sign:
            request = AWSRequest(method=method, url=url, data=body or b"", headers=headers)
            credentials = self.session.get_credentials()
            assert credentials is not None
            SigV4Auth(credentials.get_frozen_credentials(), "lambda", "us-east-1").add_auth(request)
            headers = dict(request.headers.items())
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            path = parts.path or "/"
            started = time.perf_counter()
            connection.request(
                method,
                path + (f"?{parts.query}" if parts.query else ""),
                body=body,
                headers=headers,
            )
            response = connection.getresponse()
            answer: dict[str, str] = {}
            for name, value in response.getheaders():
                key = name.lower()
                answer[key] = f"{answer[key]}, {value}" if key in answer else value
            first = response.read1(65536)
            first_byte = time.perf_counter() - started
            return response.status, answer, first + response.read(), first_byte
        finally:
            connection.close()

    def close(self) -> None:
        for api_id in self.http_apis:
            try:
                self.v2.delete_api(ApiId=api_id)
            except Exception as error:
                log(f"could not delete HTTP API {api_id}: {error}")
        for api_id in self.rest_apis:
            try:
                self.apigw.delete_rest_api(restApiId=api_id)
            except Exception as error:
                log(f"could not delete REST API {api_id}: {error}")
        for name in self.functions:
            try:
                self.lam.delete_function(FunctionName=name)
            except Exception as error:  # a failed deletion must not hide the results
                log(f"could not delete {name}: {error}")
        shutil.rmtree(self.scratch, ignore_errors=True)
