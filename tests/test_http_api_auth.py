"""HTTP API routes behind JWT authorizers, Lambda authorizers and AWS_IAM, over real sockets;
and the token checks and authorizer policies in process."""

from __future__ import annotations

import asyncio
import base64
import json
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fireside.gateway.http_api_authorizers import _allows
from fireside.gateway.jwt import InvalidToken, JwksCache, verify
from tests.conftest import ROLE, Server, python_zip
from tests.test_http_api_door import allow_api_gateway, function_arn, request, v2  # noqa: F401

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
AUTHORIZER = textwrap.dedent(
    """
    import json

    CALLS = []

    def handler(event, context):
        CALLS.append(1)
        token = event["identitySource"][0] if isinstance(event["identitySource"], list) \\
            else event["identitySource"]
        if event.get("version") == "2.0" and token.startswith("simple"):
            return {"isAuthorized": token == "simple-yes",
                    "context": {"who": token, "calls": len(CALLS)}}
        effect = "Allow" if token == "policy-yes" else "Deny"
        return {"principalId": "user-1",
                "policyDocument": {"Version": "2012-10-17", "Statement": [
                    {"Action": "execute-api:Invoke", "Effect": effect,
                     "Resource": event.get("routeArn") or event.get("methodArn")}]},
                "context": {"who": token, "calls": len(CALLS)}}
    """
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(claims: dict[str, Any], kid: str = "k1", key: Any = KEY) -> str:
    header = _b64(json.dumps({"alg": "RS256", "kid": kid, "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    signature = key.sign(f"{header}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{body}.{_b64(signature)}"


def jwks(path: Path) -> str:
    numbers = KEY.public_key().public_numbers()
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    e = numbers.e.to_bytes(3, "big")
    document = {"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "n": _b64(n), "e": _b64(e)}]}
    path.write_text(json.dumps(document))
    return f"file://{path}"


def _jwks_path(server: Server) -> Path:
    folder = server.data_dir / "jwks"
    folder.mkdir(exist_ok=True)
    return folder / f"{uuid.uuid4().hex}.json"


def claims(issuer: str, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": issuer, "aud": "app", "sub": "ann", "exp": now + 300, "iat": now - 5, **extra}


@pytest.fixture(scope="module")
def authorizer_arn(server: Server) -> Iterator[str]:
    lam = server.client()
    name = f"authz-{uuid.uuid4().hex[:8]}"
    arn: str = lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(AUTHORIZER)},
    )["FunctionArn"]
    lam.get_waiter("function_active_v2").wait(
        FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100}
    )
    allow_api_gateway(lam, name)
    yield arn
    lam.delete_function(FunctionName=name)


def _api_with(v2: Any, arn: str) -> tuple[str, str]:  # noqa: F811
    api_id = v2.create_api(Name="auth", ProtocolType="HTTP")["ApiId"]
    integration = v2.create_integration(
        ApiId=api_id, IntegrationType="AWS_PROXY", IntegrationUri=arn, PayloadFormatVersion="2.0"
    )["IntegrationId"]
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    return api_id, f"integrations/{integration}"


def test_jwt_authorizer(
    v2: Any,  # noqa: F811
    server: Server,
    function_arn: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    # The server reads file:// key sets only under <data dir>/jwks: the same JWKS elsewhere
    # is refused (an API definition must not make the server read its other files).
    outside = jwks(tmp_path / "jwks.json")
    issuer = jwks(_jwks_path(server))
    api_id, target = _api_with(v2, function_arn)
    authorizer = v2.create_authorizer(
        ApiId=api_id,
        AuthorizerType="JWT",
        IdentitySource=["$request.header.Authorization"],
        Name="jwt",
        JwtConfiguration={"Issuer": issuer, "Audience": ["app"]},
    )["AuthorizerId"]
    for key, scopes in (("GET /me", []), ("GET /admin", ["admin"])):
        v2.create_route(
            ApiId=api_id,
            RouteKey=key,
            Target=target,
            AuthorizationType="JWT",
            AuthorizerId=authorizer,
            AuthorizationScopes=scopes,
        )
    status, _, body = request(server, api_id, "GET", "/me")
    assert (status, json.loads(body)) == (401, {"message": "Unauthorized"})
    good = token(claims(issuer, scope="read write"))
    status, _, body = request(server, api_id, "GET", "/me", headers={"Authorization": good})
    assert status == 200, body
    context = json.loads(body)["requestContext"]["authorizer"]["jwt"]
    assert context["claims"]["sub"] == "ann" and context["scopes"] == ["read", "write"]
    bearer = {"Authorization": f"Bearer {good}"}
    assert request(server, api_id, "GET", "/me", headers=bearer)[0] == 200
    status, _, body = request(server, api_id, "GET", "/admin", headers=bearer)
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
    for bad in (
        token(claims(issuer, exp=int(time.time()) - 1)),
        token(claims(issuer, aud="other")),
        token(claims("https://other-issuer")),
        token(claims(issuer), key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "not.a.token",
    ):
        status, _, body = request(server, api_id, "GET", "/me", headers={"Authorization": bad})
        assert (status, json.loads(body)) == (401, {"message": "Unauthorized"})
    v2.update_authorizer(
        ApiId=api_id, AuthorizerId=authorizer, JwtConfiguration={"Issuer": outside}
    )
    headers = {"Authorization": token(claims(outside, scope="read"))}
    status, _, body = request(server, api_id, "GET", "/me", headers=headers)
    assert (status, json.loads(body)) == (401, {"message": "Unauthorized"})


def test_lambda_authorizers(
    v2: Any,  # noqa: F811
    server: Server,
    function_arn: str,  # noqa: F811
    authorizer_arn: str,
) -> None:
    api_id, target = _api_with(v2, function_arn)
    simple = v2.create_authorizer(
        ApiId=api_id,
        AuthorizerType="REQUEST",
        IdentitySource=["$request.header.X-Token"],
        Name="simple",
        AuthorizerUri=(
            "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
            f"{authorizer_arn}/invocations"
        ),
        AuthorizerPayloadFormatVersion="2.0",
        EnableSimpleResponses=True,
    )["AuthorizerId"]
    policy = v2.create_authorizer(
        ApiId=api_id,
        AuthorizerType="REQUEST",
        IdentitySource=["$request.querystring.token"],
        Name="policy",
        AuthorizerUri=authorizer_arn,
        AuthorizerPayloadFormatVersion="1.0",
        AuthorizerResultTtlInSeconds=300,
    )["AuthorizerId"]
    for key, authorizer_id in (("GET /simple", simple), ("GET /policy", policy)):
        v2.create_route(
            ApiId=api_id,
            RouteKey=key,
            Target=target,
            AuthorizationType="CUSTOM",
            AuthorizerId=authorizer_id,
        )
    status, _, body = request(server, api_id, "GET", "/simple")
    assert (status, json.loads(body)) == (401, {"message": "Unauthorized"})
    status, _, body = request(server, api_id, "GET", "/simple", headers={"X-Token": "simple-no"})
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
    status, _, body = request(server, api_id, "GET", "/simple", headers={"X-Token": "simple-yes"})
    assert status == 200, body
    lambda_context = json.loads(body)["requestContext"]["authorizer"]["lambda"]
    assert lambda_context["who"] == "simple-yes"
    status, _, body = request(server, api_id, "GET", "/policy?token=policy-no")
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
    status, _, first = request(server, api_id, "GET", "/policy?token=policy-yes")
    assert status == 200, first
    # Cached for the TTL: the authorizer is not asked again.
    status, _, second = request(server, api_id, "GET", "/policy?token=policy-yes")
    assert status == 200
    calls = [
        json.loads(b)["requestContext"]["authorizer"]["lambda"]["calls"] for b in (first, second)
    ]
    assert calls[0] == calls[1]


def test_aws_iam_route(
    v2: Any,  # noqa: F811
    server: Server,
    function_arn: str,  # noqa: F811
) -> None:
    api_id, target = _api_with(v2, function_arn)
    v2.create_route(ApiId=api_id, RouteKey="GET /iam", Target=target, AuthorizationType="AWS_IAM")
    status, _, body = request(server, api_id, "GET", "/iam")
    assert (status, json.loads(body)) == (403, {"message": "Forbidden"})
    host = f"{api_id}.execute-api.localhost:{server.port}"
    signed = AWSRequest(method="GET", url=f"http://{host}/iam", headers={"Host": host})
    SigV4Auth(Credentials("AKIDEXAMPLE", "secret"), "execute-api", "us-east-1").add_auth(signed)
    status, _, body = request(server, api_id, "GET", "/iam", headers=dict(signed.headers.items()))
    assert status == 200, body
    iam = json.loads(body)["requestContext"]["authorizer"]["iam"]
    assert iam["accessKey"] == "AKIDEXAMPLE" and iam["accountId"]


def test_token_checks_in_process(tmp_path: Path) -> None:
    issuer = jwks(tmp_path / "jwks.json")
    keys = JwksCache(files=tmp_path)
    now = time.time()

    def check(jwt: str, audiences: tuple[str, ...] = ("app",)) -> dict[str, Any]:
        return asyncio.run(
            verify(jwt, issuer=issuer, audiences=list(audiences), keys=keys, now=now)
        )

    assert check(token(claims(issuer)))["sub"] == "ann"
    assert check(token(claims(issuer, aud=None, client_id="app")))["client_id"] == "app"
    assert check(token(claims(issuer, aud=["x", "app"])))["sub"] == "ann"
    for bad in (
        token(claims(issuer, nbf=now + 60)),
        token(claims(issuer, exp=None)),
        token(claims(issuer), kid="unknown"),
        token(claims(issuer)) + "x",
    ):
        with pytest.raises(InvalidToken):
            check(bad)


def test_authorizer_policies() -> None:
    arn = "arn:aws:execute-api:us-east-1:000000000000:abc/prod/GET/items/7"

    def policy(*statements: tuple[str, str]) -> dict[str, Any]:
        return {
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}
                for effect, resource in statements
            ]
        }

    assert _allows(policy(("Allow", arn)), arn)
    assert _allows(policy(("Allow", "arn:aws:execute-api:us-east-1:000000000000:abc/*")), arn)
    assert not _allows(policy(("Allow", "arn:aws:execute-api:*:*:abc/dev/*")), arn)
    assert not _allows(policy(("Allow", "*"), ("Deny", "*/GET/items/*")), arn)
    assert not _allows({"Statement": [{"Action": "s3:*", "Effect": "Allow", "Resource": "*"}]}, arn)
    assert _allows(
        {"Statement": {"Action": ["execute-api:*"], "Effect": "Allow", "Resource": "*"}}, arn
    )


def test_sam_http_api(
    v2: Any,  # noqa: F811
    server: Server,
    function_arn: str,  # noqa: F811
    authorizer_arn: str,
    tmp_path: Path,
) -> None:
    """An API as SAM deploys an `AWS::Serverless::HttpApi` with a JWT default authorizer, a
    Lambda authorizer on one route, an open route and the catch-all: the OpenAPI body
    aws-sam-translator 1.110 made (intrinsics resolved as CloudFormation would) and the
    `$default` stage with AutoDeploy it adds; the functions may be invoked by API Gateway, as
    SAM's `Lambda::Permission` resources allow."""
    issuer = jwks(_jwks_path(server))
    body = (Path(__file__).parent / "data" / "sam_http_api.json").read_text()
    body = body.replace("${FunctionArn}", function_arn)
    body = body.replace("${AuthorizerArn}", authorizer_arn).replace("${Issuer}", issuer)
    api = v2.import_api(Body=body)
    api_id = api["ApiId"]
    assert api["Tags"] == {"httpapi:createdBy": "SAM"}
    assert api["CorsConfiguration"] == {
        "AllowOrigins": ["https://app.example"],
        "AllowMethods": ["GET"],
    }
    v2.create_stage(ApiId=api_id, StageName="$default", AutoDeploy=True)
    routes = {r["RouteKey"]: r for r in v2.get_routes(ApiId=api_id)["Items"]}
    assert set(routes) == {"POST /other", "$default", "GET /open", "GET /hello/{name}"}
    assert routes["GET /open"]["AuthorizationType"] == "NONE"
    assert routes["POST /other"]["AuthorizationType"] == "CUSTOM"
    assert routes["$default"]["AuthorizationType"] == "JWT"
    assert request(server, api_id, "GET", "/open")[0] == 200
    assert request(server, api_id, "GET", "/hello/ann")[0] == 401
    assert request(server, api_id, "GET", "/somewhere/else")[0] == 401
    jwt = {"Authorization": token(claims(issuer))}
    status, _, body_bytes = request(server, api_id, "GET", "/hello/ann", headers=jwt)
    assert status == 200, body_bytes
    assert json.loads(body_bytes)["pathParameters"] == {"name": "ann"}
    assert request(server, api_id, "PUT", "/somewhere/else", headers=jwt)[0] == 200
    assert request(server, api_id, "POST", "/other", headers={"X-Token": "simple-no"})[0] == 403
    assert request(server, api_id, "POST", "/other", headers={"X-Token": "simple-yes"})[0] == 200
