"""AWS's own hostnames reach Fireside from inside a function, over TLS (issue 12, item 1).

Functions that build `https://dynamodb.us-east-1.amazonaws.com` or
`https://<api>.execute-api.<region>.amazonaws.com/<stage>` themselves, or whose SDK ignores
`AWS_ENDPOINT_URL`, reach Fireside: the environment's resolver answers AWS's names (and
`*.localhost`) with Fireside's address, Fireside terminates TLS with the installation's
authority, which every runtime trusts, and routes as for any request. Other names are not
touched, and an environment without egress still reaches AWS's names (nothing leaves the
machine for them). Run under the namespace sandbox (the default here), gVisor and microvm.
"""

from __future__ import annotations

import importlib
import json
import shutil
import ssl
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from cryptography import x509

from tests import runtime_helpers
from tests.conftest import ROLE, Server, curl_bootstrap, make_zip, python_zip, unavailable
from tests.runtime_helpers import Servers
from tests.test_snapstart import snapstart_available

#: Runs inside the function: an SDK client with no endpoint (AWS_ENDPOINT_URL removed, as an
#: SDK that predates it ignores it), the certificate it was shown, and name resolution.
PYTHON_PROBE = """
import json, os, socket, ssl

def resolve(name):
    try:
        return sorted({info[4][0] for info in socket.getaddrinfo(name, 443, socket.AF_INET)})
    except OSError as exc:
        return f"error: {exc}"

INIT_RESOLVED = resolve("dynamodb.us-east-1.amazonaws.com")

def sdk_calls(event):
    import boto3
    from botocore.exceptions import ClientError

    dynamodb = boto3.client("dynamodb")
    tables = dynamodb.list_tables()["TableNames"]
    management = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"https://{event['api']}.execute-api.us-east-1.amazonaws.com/prod",
    )
    try:
        management.post_to_connection(ConnectionId="abc", Data=b"hi")
        connections = "answered"
    except ClientError as exc:
        connections = [exc.response["Error"]["Code"], exc.response["ResponseMetadata"]["HTTPStatusCode"]]
    return dynamodb.meta.endpoint_url, tables, connections

def plain_calls():
    # The same regional name and TLS without the SDK (whose import takes tens of seconds
    # under gVisor and in a TCG guest): an unsigned ListTables.
    import urllib.request
    request = urllib.request.Request(
        "https://dynamodb.us-east-1.amazonaws.com/",
        data=b"{}",
        headers={"X-Amz-Target": "DynamoDB_20120810.ListTables",
                 "Content-Type": "application/x-amz-json-1.0"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        tables = json.loads(response.read())["TableNames"]
    return "https://dynamodb.us-east-1.amazonaws.com", tables, None

def handler(event, context):
    os.environ.pop("AWS_ENDPOINT_URL", None)
    endpoint, tables, connections = sdk_calls(event) if event["sdk"] else plain_calls()
    host = "dynamodb.us-east-1.amazonaws.com"
    with socket.create_connection((host, 443), timeout=5) as raw:
        with ssl.create_default_context().wrap_socket(raw, server_hostname=host) as tls:
            issuer = dict(pair[0] for pair in tls.getpeercert()["issuer"])
    try:
        with socket.create_connection((host, 443), timeout=5) as raw:
            ssl.create_default_context().wrap_socket(raw, server_hostname="example.com")
        foreign_tls = "accepted"
    except (ssl.SSLError, OSError) as exc:
        foreign_tls = type(exc).__name__
    return {
        "endpoint": endpoint,
        "tables": tables,
        "connections": connections,
        "issuer": issuer["commonName"],
        "foreign_tls": foreign_tls,
        "resolved": {name: resolve(name) for name in event["names"]},
        "init_resolved": INIT_RESOLVED,
        "type": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
        "trust": {k: os.environ.get(k) for k in ("SSL_CERT_FILE", "AWS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")},
    }
"""

NODE_PROBE = """
export const handler = async (event) => {
  const url = `https://${event.api}.execute-api.us-east-1.amazonaws.com/prod/@connections/abc`;
  const response = await fetch(url, { method: "POST", body: "hi" });
  const dynamo = await fetch("https://dynamodb.us-east-1.amazonaws.com/");
  return {
    status: response.status,
    requestId: response.headers.get("x-amzn-requestid"),
    body: await response.text(),
    health: await dynamo.text(),
  };
};
"""


RUBY_PROBE = """
require 'net/http'

def handler(event:, context:)
  Net::HTTP.get(URI('https://dynamodb.us-east-1.amazonaws.com/'))
end
"""

#: A custom runtime in the style of AWS's tutorial (`curl_bootstrap`) whose handler is curl
#: against an AWS hostname: curl (OpenSSL) trusts the authority through SSL_CERT_FILE.
CURL_BOOTSTRAP = curl_bootstrap(
    'BODY="\\"$(curl -sS https://dynamodb.us-east-1.amazonaws.com/ 2>&1 || true)\\""'
)


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    env = {}
    node = shutil.which("node")
    if node is not None:
        env["FIRESIDE_NODE_20"] = node
    ruby = shutil.which("ruby")
    if ruby is not None:
        env["FIRESIDE_RUBY_3_2"] = ruby
    found = Servers(tmp_path_factory.mktemp("aws-hostnames"), env)
    yield found
    found.stop()


def _server(servers: Servers, sandbox: str) -> Server:
    if sandbox in ("gvisor", "microvm"):
        module = importlib.import_module(f"fireside.sandbox.{sandbox}")
        reason = module.unavailable_reason()
        if reason is not None:
            unavailable(sandbox, reason)
    return servers(sandbox)


def _authority(srv: Server) -> x509.Certificate:
    return x509.load_pem_x509_certificate((srv.data_dir / "tls" / "ca.pem").read_bytes())


def _python(srv: Server, timeout: int = 60, **kwargs: Any) -> str:
    lam = srv.client()
    name = f"names-{uuid.uuid4().hex[:10]}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": python_zip(PYTHON_PROBE)},
        Timeout=timeout,
        **kwargs,
    )
    lam.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1})
    return name


def _probe(
    srv: Server, name: str, names: list[str], sdk: bool = True, **kwargs: Any
) -> dict[str, Any]:
    lam = boto3.client(
        "lambda",
        endpoint_url=srv.endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        # A microvm's cold start under TCG (boot, then boto3's import) outlasts 120 s at times.
        config=Config(retries={"max_attempts": 1}, read_timeout=600),
    )
    out = lam.invoke(
        FunctionName=name,
        Payload=json.dumps({"api": "a1b2c3d4e5", "names": names, "sdk": sdk}).encode(),
        **kwargs,
    )
    payload: dict[str, Any] = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, payload
    return payload


@pytest.mark.parametrize(
    "sandbox",
    # The SDK's part runs under the namespace sandbox only: it is the same in every sandbox,
    # and boto3's import alone takes 30 s and more under gVisor (ptrace) and in a TCG
    # microvm on a busy host. The others check their resolver, TLS and routing without it.
    [
        "namespace",
        pytest.param("gvisor", marks=pytest.mark.timeout(600)),
        pytest.param("microvm", marks=pytest.mark.timeout(600)),
    ],
)
def test_sdk_without_endpoint_reaches_fireside_over_tls(servers: Servers, sandbox: str) -> None:
    srv = _server(servers, sandbox)
    table = f"t-{uuid.uuid4().hex[:8]}"
    srv.client("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sdk = sandbox == "namespace"
    result = _probe(
        srv,
        _python(srv, timeout=60 if sandbox == "namespace" else 240),
        ["dynamodb.us-east-1.amazonaws.com", "my-bucket.s3.amazonaws.com",
         "abc.lambda-url.us-east-1.localhost", "example.invalid"],
        sdk=sdk,
    )  # fmt: skip
    # The SDK's own regional endpoint, over TLS, answered by Fireside with its tables.
    assert result["endpoint"] == "https://dynamodb.us-east-1.amazonaws.com"
    assert table in result["tables"]
    if sdk:
        # API Gateway's @connections endpoint as AWS's documentation builds it reaches
        # Fireside's management API: no connection has that id.
        assert result["connections"] == ["GoneException", 410]
    # The certificate came from this installation's authority.
    authority = _authority(srv).subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    assert result["issuer"] == authority[0].value
    assert result["foreign_tls"] != "accepted"  # no certificate for names Fireside does not serve
    resolved = result["resolved"]
    fireside = ["10.0.2.2" if sandbox == "microvm" else "127.0.0.1"]  # a guest's gateway
    assert resolved["dynamodb.us-east-1.amazonaws.com"] == fireside
    assert resolved["my-bucket.s3.amazonaws.com"] == fireside
    assert resolved["abc.lambda-url.us-east-1.localhost"] == fireside
    # Other names are not Fireside's: forwarded upstream, where this one does not exist.
    assert isinstance(resolved["example.invalid"], str), resolved
    assert result["trust"]["SSL_CERT_FILE"] == "/var/runtime/trust/ca-bundle.pem"
    assert result["trust"]["NODE_EXTRA_CA_CERTS"] == "/var/runtime/trust/ca.pem"


def test_aws_names_need_no_egress(servers: Servers) -> None:
    """Without egress a function still reaches AWS's names (all on the machine), and other
    names are refused at once rather than looked up."""
    srv = servers("namespace")
    result = _probe(
        srv,
        _python(srv, Tags={"fireside:egress": "off"}),
        ["dynamodb.us-east-1.amazonaws.com", "example.com"],
        sdk=False,
    )
    assert result["endpoint"] == "https://dynamodb.us-east-1.amazonaws.com"
    assert isinstance(result["tables"], list)
    assert result["resolved"]["dynamodb.us-east-1.amazonaws.com"] == ["127.0.0.1"]
    assert isinstance(result["resolved"]["example.com"], str), result["resolved"]


def test_snapshot_starts_resolve_and_reach_aws_names(servers: Servers) -> None:
    """A SnapStart version's template runs Init with the resolver its copies use, and each
    copy is served AWS's names on its own network."""
    srv = servers("namespace")
    if not snapstart_available(srv):
        unavailable("namespace", "snapshot starts need the namespace sandbox as root")
    name = _python(srv, SnapStart={"ApplyOn": "PublishedVersions"})
    srv.client().publish_version(FunctionName=name)
    result = _probe(srv, name, ["dynamodb.us-east-1.amazonaws.com"], sdk=False, Qualifier="1")
    assert result["type"] == "snap-start"
    assert result["init_resolved"] == ["127.0.0.1"]
    assert result["resolved"]["dynamodb.us-east-1.amazonaws.com"] == ["127.0.0.1"]
    assert result["endpoint"] == "https://dynamodb.us-east-1.amazonaws.com"
    assert isinstance(result["tables"], list)


def test_node_fetch_of_execute_api_host_reaches_fireside(servers: Servers) -> None:
    if shutil.which("node") is None:
        pytest.skip("no Node.js on this host")
    srv = servers("namespace")
    name = runtime_helpers.deploy(srv, {"app.mjs": NODE_PROBE}, "app.handler", "nodejs20.x")
    payload, _, out = runtime_helpers.invoke(srv, name, {"api": "a1b2c3d4e5"})
    assert "FunctionError" not in out, payload
    # An unsigned POST (the server takes them when it has no credentials) reaches the
    # @connections API under the stage prefix: no connection has that id.
    assert payload["status"] == 410, payload
    assert payload["requestId"], payload
    assert "GoneException" in payload["body"] or "gone" in payload["body"], payload
    assert payload["health"] == "healthy: dynamodb.us-east-1.amazonaws.com ", payload


def test_ruby_and_curl_trust_the_authority(servers: Servers) -> None:
    srv = servers("namespace")
    healthy = "healthy: dynamodb.us-east-1.amazonaws.com "
    if shutil.which("ruby") is not None:
        name = runtime_helpers.deploy(srv, {"app.rb": RUBY_PROBE}, "app.handler", "ruby3.2")
        payload, _, out = runtime_helpers.invoke(srv, name)
        assert "FunctionError" not in out, payload
        assert payload == healthy
    name = f"curl-{uuid.uuid4().hex[:8]}"
    srv.client().create_function(
        FunctionName=name,
        Runtime="provided.al2023",
        Handler="none",
        Role=ROLE,
        Code={"ZipFile": make_zip({"bootstrap": CURL_BOOTSTRAP}, {"bootstrap": 0o755})},
    )
    srv.client().get_waiter("function_active_v2").wait(FunctionName=name)
    payload, _, out = runtime_helpers.invoke(srv, name)
    assert payload == healthy, payload


def test_process_sandbox_falls_back_to_aws_endpoint_url(servers: Servers) -> None:
    """`process` shares the host's network and resolver: no authority, no trust variables;
    functions reach Fireside through AWS_ENDPOINT_URL."""
    srv = servers("process")
    name = runtime_helpers.deploy(
        srv,
        {"app.py": "import os\ndef handler(e, c):\n    return dict(os.environ)\n"},
        "app.handler",
        "python3.11",
    )
    env, _, _ = runtime_helpers.invoke(srv, name)
    assert env["AWS_ENDPOINT_URL"] == srv.endpoint
    assert "NODE_EXTRA_CA_CERTS" not in env and "AWS_CA_BUNDLE" not in env
    assert not (srv.data_dir / "tls").exists()


def test_authority_is_made_once_with_a_private_key(servers: Servers) -> None:
    srv = servers("namespace")
    key = srv.data_dir / "tls" / "ca-key.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    assert (srv.data_dir / "tls").stat().st_mode & 0o777 == 0o700
    constraints = _authority(srv).extensions.get_extension_for_class(x509.NameConstraints)
    assert constraints.critical
    permitted = {name.value for name in constraints.value.permitted_subtrees or []}
    assert permitted == {"amazonaws.com", "amazonaws.com.cn", "localhost"}
    assert ssl.PEM_cert_to_DER_cert((srv.data_dir / "tls" / "ca.pem").read_text())
