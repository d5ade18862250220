"""The AWS SDKs functions import without packaging them, as Lambda's images preinstall them.

`fireside sdks install` (run here through the same code, once per machine, into the SDK
cache) fetches boto3 per Python version, the AWS SDK for JavaScript v3 and the AWS SDK for Ruby;
each function below imports one and calls Fireside's own DynamoDB or S3 through it, under the
namespace sandbox (the SDK under /var/runtime) and `process` (the SDK cache's own paths).
"""

from __future__ import annotations

import fcntl
import json
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from fireside.runtimes import registry, sdk_install, sdks
from fireside.sandbox import gvisor
from tests.conftest import unavailable
from tests.runtime_helpers import BOTH_SANDBOXES, Servers, deploy, invoke

#: gVisor too, for the SDKs it binds the same way (a Python tree, the JavaScript SDK's links).
THREE_SANDBOXES = pytest.mark.parametrize("sandbox", ["namespace", "process", "gvisor"])


def sandboxed(servers: Servers, sandbox: str) -> Any:
    if sandbox == "gvisor" and (reason := gvisor.unavailable_reason()):
        unavailable("gvisor", reason)
    return servers(sandbox)


#: A client outside the default list, which the tests add as a user would.
TEXTRACT = "@aws-sdk/client-textract"


@pytest.fixture(scope="module")
def installed() -> dict[str, sdks.Tree]:
    """The SDK cache, filled as `fireside sdks install` fills it (a no-op once it is)."""
    root = sdks.cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".test-lock", "w") as lock, pytest.MonkeyPatch.context() as patch:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel sessions install once
        patch.setenv("FIRESIDE_NODE_SDK_PACKAGES", TEXTRACT)  # a tree without it is rebuilt
        missing = sdk_install.install_all(lambda line: print(line, flush=True))
    trees = {tree.name: tree for tree in sdks.installed()}
    assert {"python3.9", "python3.11", "python3.12", "nodejs", "ruby"} <= set(trees), missing
    return trees


@pytest.fixture(scope="module")
def servers(
    installed: dict[str, sdks.Tree], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Servers]:
    """Servers for the SDK tests (each environment binds the SDK trees the cache has then)."""
    env: dict[str, str] = {}
    ruby = shutil.which("ruby")
    if ruby and registry.ruby.find((3, 2)).chosen is None:
        env["FIRESIDE_RUBY_3_2"] = ruby  # Debian 12 has Ruby 3.1 (see docs/runtimes.md)
    found = Servers(tmp_path_factory.mktemp("sdks"), env)
    yield found
    found.stop()


def table(srv: Any) -> str:
    name = f"sdk-{uuid.uuid4().hex[:8]}"
    ddb = srv.client("dynamodb")
    ddb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


PYTHON_PROBE = """
import sys, boto3, botocore
def handler(event, context):
    ddb = boto3.client("dynamodb")  # AWS_ENDPOINT_URL: Fireside
    ddb.put_item(TableName=event["table"], Item={"id": {"S": "py"}, "n": {"N": "1"}})
    item = ddb.get_item(TableName=event["table"], Key={"id": {"S": "py"}})["Item"]
    return {"python": "%d.%d" % sys.version_info[:2], "boto3": boto3.__version__,
            "botocore": botocore.__version__, "boto3_file": boto3.__file__, "item": item}
"""


@THREE_SANDBOXES
def test_python39_imports_a_boto3_it_can_run(
    servers: Servers, installed: dict[str, sdks.Tree], sandbox: str
) -> None:
    """The server's own boto3 needs Python 3.10+ (a TypeError at import on 3.9): python3.9
    gets the boto3 pip chose for 3.9, and calls DynamoDB with it."""
    srv = sandboxed(servers, sandbox)
    name = deploy(srv, {"app.py": PYTHON_PROBE}, "app.handler", "python3.9", Timeout=30)
    body, tail, out = invoke(srv, name, {"table": table(srv)})
    assert "FunctionError" not in out, (body, tail)
    tree = installed["python3.9"]
    assert body["python"] == "3.9"
    assert (body["boto3"], body["botocore"]) == (tree.contents["boto3"], tree.contents["botocore"])
    assert body["item"] == {"id": {"S": "py"}, "n": {"N": "1"}}
    expected = "/var/runtime/python3.9/runtime/" if sandbox != "process" else str(tree.path)
    assert body["boto3_file"].startswith(expected)


PKG_RESOURCES_PROBE = """
import pkg_resources
def handler(event, context):
    return {"setuptools": pkg_resources.get_distribution("setuptools").version,
            "boto3": pkg_resources.get_distribution("boto3").version}
"""


@BOTH_SANDBOXES
def test_python311_has_setuptools_as_aws_image_does(
    servers: Servers, installed: dict[str, sdks.Tree], sandbox: str
) -> None:
    """An old dependency importing pkg_resources runs on python3.11 (AWS's image has the
    setuptools Python 3.11 bundles) and fails on python3.12, whose image has none."""
    srv = servers(sandbox)
    name = deploy(srv, {"app.py": PKG_RESOURCES_PROBE}, "app.handler", "python3.11")
    body, tail, out = invoke(srv, name)
    assert "FunctionError" not in out, (body, tail)
    assert body == {
        "setuptools": installed["python3.11"].contents["setuptools"],
        "boto3": installed["python3.11"].contents["boto3"],
    }
    name = deploy(srv, {"app.py": PKG_RESOURCES_PROBE}, "app.handler", "python3.12")
    body, _, out = invoke(srv, name)
    assert out["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == "Unable to import module 'app': No module named 'pkg_resources'"


NODE_CALL = """
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
export_handler = async (event) => {
  await ddb.send(new PutCommand({ TableName: event.table, Item: { id: 'js', list: [1, 'two'] } }));
  const { Item } = await ddb.send(new GetCommand({ TableName: event.table, Key: { id: 'js' } }));
  const low = await new DynamoDBClient({}).send(new ListTablesCommand({}));
  return { item: Item, listed: low.TableNames.includes(event.table), where: WHERE };
};
"""
NODE_ESM = (
    "import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';\n"
    "import { DynamoDBDocumentClient, PutCommand, GetCommand } from '@aws-sdk/lib-dynamodb';\n"
    "const WHERE = import.meta.resolve('@aws-sdk/client-dynamodb');\n"
    + NODE_CALL.replace("export_handler =", "export const handler =")
)
NODE_CJS = (
    "const { DynamoDBClient, ListTablesCommand } = require('@aws-sdk/client-dynamodb');\n"
    "const { DynamoDBDocumentClient, PutCommand, GetCommand } = require('@aws-sdk/lib-dynamodb');\n"
    "const WHERE = require.resolve('@aws-sdk/client-dynamodb');\n"
    + NODE_CALL.replace("export_handler =", "exports.handler =")
)


@THREE_SANDBOXES
@pytest.mark.parametrize(
    ("files", "handler"),
    [({"index.mjs": NODE_ESM}, "index.handler"), ({"app.js": NODE_CJS}, "app.handler")],
    ids=["esm", "commonjs"],
)
def test_node_imports_the_aws_sdk_v3(
    servers: Servers, sandbox: str, files: dict[str, str], handler: str
) -> None:
    """`@aws-sdk/client-dynamodb` and `lib-dynamodb` from an ES module (which Node resolves
    without NODE_PATH: the runtime's hook adds it, as Lambda's does) and from CommonJS."""
    if shutil.which("node") is None:
        pytest.fail("no Node.js on this host for nodejs20.x")
    srv = sandboxed(servers, sandbox)
    name = deploy(srv, files, handler, "nodejs20.x", Timeout=20, MemorySize=256)
    body, tail, out = invoke(srv, name, {"table": table(srv)})
    assert "FunctionError" not in out, (body, tail)
    assert body["item"] == {"id": "js", "list": [1, "two"]}
    assert body["listed"] is True
    where = body["where"].removeprefix("file://")
    if sandbox != "process":
        assert where.startswith("/var/runtime/node_modules/@aws-sdk/client-dynamodb/")
    else:
        assert where.startswith(str(sdks.cache_root() / "nodejs" / "node_modules"))


RUBY_PROBE = """
require 'aws-sdk-s3'
def handler(event:, context:)
  s3 = Aws::S3::Client.new(endpoint: ENV['AWS_ENDPOINT_URL'], force_path_style: true)
  s3.create_bucket(bucket: event['bucket'])
  { 'core' => Aws::CORE_GEM_VERSION, 's3' => Aws::S3::GEM_VERSION,
    'buckets' => s3.list_buckets.buckets.map(&:name) }
end
"""


@BOTH_SANDBOXES
def test_ruby_requires_the_aws_sdk(
    servers: Servers, installed: dict[str, sdks.Tree], sandbox: str
) -> None:
    """`require 'aws-sdk-s3'` from /var/runtime's gems (on GEM_PATH, as on Lambda)."""
    srv = servers(sandbox)
    name = deploy(srv, {"app.rb": RUBY_PROBE}, "app.handler", "ruby3.2", Timeout=30)
    bucket = f"sdk-{uuid.uuid4().hex[:8]}"
    body, tail, out = invoke(srv, name, {"bucket": bucket})
    assert "FunctionError" not in out, (json.dumps(body), tail)
    tree = installed["ruby"]
    assert body["core"] == tree.contents["aws-sdk-core"]
    assert body["s3"] == tree.contents["aws-sdk-s3"]
    assert bucket in body["buckets"]


def test_a_failed_install_leaves_no_tree(tmp_path: Any) -> None:
    """An installer that fails (here `false` in npm's place) leaves neither a tree nor its
    temporary directory, and says which command failed; the next install starts afresh."""
    said: list[str] = []
    with pytest.raises(sdk_install.InstallFailed, match="exited with 1"):
        sdk_install.install_node("/bin/false", tmp_path, said.append, ("@aws-sdk/client-s3",))
    assert sdks.tree("nodejs", tmp_path) is None
    assert list(tmp_path.iterdir()) == []
    assert any(line.startswith("  $ /bin/false install") for line in said)


def test_python_trees_carry_bytecode_and_older_trees_get_it(tmp_path: Any) -> None:
    """Every module of a Python tree is compiled for its interpreter, as AWS's images ship
    boto3: without bytecode each cold start compiles botocore again (13 s of a microvm guest's
    Init). A tree published before that is compiled in place by the next install."""
    tree = tmp_path / "python-tree"
    (tree / "runtime" / "pkg").mkdir(parents=True)
    (tree / "runtime" / "pkg" / "__init__.py").write_text("VALUE = 1\n")
    said: list[str] = []
    sdk_install._compile(tree, sys.executable, said.append)
    tag = sys.implementation.cache_tag
    compiled = tree / "runtime" / "pkg" / "__pycache__" / f"__init__.{tag}.pyc"
    assert compiled.is_file() and compiled.stat().st_mode & 0o444 == 0o444
    assert (tree / sdk_install.COMPILED).exists()
    sdk_install._compile(tree, sys.executable, said.append)  # once only
    assert sum("compiling" in line for line in said) == 1
    for version in ("3.9", "3.11"):  # the machine's own cache, as `make test` installed it
        installed = sdks.tree(sdks.python_tree_name(version))
        if installed is not None:
            boto3_init = installed.path / "runtime" / "boto3" / "__init__.py"
            assert list((boto3_init.parent / "__pycache__").glob("__init__.cpython-*.pyc"))


NO_SDK_PROBE = """
import importlib.util
def handler(event, context):
    return {"boto3": importlib.util.find_spec("boto3") is not None}
"""


def test_without_the_sdks_runtimes_start_and_the_log_says_what_is_missing(
    fresh_server: Any, tmp_path: Any
) -> None:
    """An empty SDK cache (nothing could be downloaded): python3.9 functions run without
    boto3 (the server's needs Python 3.10), and the server's log names what is missing and
    the command that installs it."""
    srv = fresh_server(FIRESIDE_SDK_CACHE=str(tmp_path / "empty"))
    assert "fireside sdks install" in printed(srv, "sdks:     none installed")  # the banner
    name = deploy(srv, {"app.py": NO_SDK_PROBE}, "app.handler", "python3.9")
    body, tail, out = invoke(srv, name)
    assert "FunctionError" not in out, (body, tail)
    assert body == {"boto3": False}
    line = printed(srv, "The AWS SDK for Python (boto3) for python3.9 is not installed")
    assert "`fireside sdks install` installs it" in line


FALLBACK_PROBE = """
import boto3
def handler(event, context):
    return {"boto3": boto3.__version__, "file": boto3.__file__}
"""


def test_without_a_tree_the_servers_boto3_is_bound_for_its_python(
    fresh_server: Any, tmp_path: Any
) -> None:
    """Without a tree for its version, a function on the server's own Python version gets the
    server's boto3, which the Python runtime binds at /var/runtime/sdk (namespace sandbox)."""
    srv = fresh_server(FIRESIDE_SDK_CACHE=str(tmp_path / "empty"), FIRESIDE_SANDBOX="namespace")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    name = deploy(srv, {"app.py": FALLBACK_PROBE}, "app.handler", f"python{version}")
    body, tail, out = invoke(srv, name)
    assert "FunctionError" not in out, (body, tail)
    assert body["boto3"] == boto3.__version__
    assert body["file"] == "/var/runtime/sdk/boto3/__init__.py"


def printed(srv: Any, needle: str, timeout: float = 10) -> str:
    """The server's output line holding `needle`, once it has printed it (its output is read
    by a thread: a line printed after start-up arrives a little later)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(srv.output):
            if needle in line:
                return str(line)
        time.sleep(0.05)
    raise AssertionError(f"{needle!r} not in the server's output:\n" + "".join(srv.output))


TEXTRACT_CALL = """
export_handler = async () => {
  const client = new TextractClient({ region: 'eu-west-1' });
  const region = await client.config.region();
  return { service: client.config.serviceId, region, where: WHERE,
           command: new DetectDocumentTextCommand({ Document: { Bytes: new Uint8Array(1) } })
             .constructor.name };
};
"""
TEXTRACT_ESM = (
    "import { TextractClient, DetectDocumentTextCommand } from '@aws-sdk/client-textract';\n"
    "const WHERE = import.meta.resolve('@aws-sdk/client-textract');\n"
    + TEXTRACT_CALL.replace("export_handler =", "export const handler =")
)
TEXTRACT_CJS = (
    "const { TextractClient, DetectDocumentTextCommand } = require('@aws-sdk/client-textract');\n"
    "const WHERE = require.resolve('@aws-sdk/client-textract');\n"
    + TEXTRACT_CALL.replace("export_handler =", "exports.handler =")
)


@BOTH_SANDBOXES
@pytest.mark.parametrize(
    ("files", "handler"),
    [({"index.mjs": TEXTRACT_ESM}, "index.handler"), ({"app.js": TEXTRACT_CJS}, "app.handler")],
    ids=["esm", "commonjs"],
)
def test_node_has_every_client_of_the_sdk(
    servers: Servers,
    installed: dict[str, sdks.Tree],
    sandbox: str,
    files: dict[str, str],
    handler: str,
) -> None:
    """A client outside the default list (Textract), added with FIRESIDE_NODE_SDK_PACKAGES
    to a cache installed before without it, is there without packaging it."""
    if shutil.which("node") is None:
        pytest.fail("no Node.js on this host for nodejs20.x")
    assert TEXTRACT in installed["nodejs"].contents
    srv = servers(sandbox)
    name = deploy(srv, files, handler, "nodejs20.x", Timeout=20, MemorySize=256)
    body, tail, out = invoke(srv, name, {})
    assert "FunctionError" not in out, (body, tail)
    assert body["service"] == "Textract"
    assert body["region"] == "eu-west-1"
    assert body["command"] == "DetectDocumentTextCommand"
    where = body["where"].removeprefix("file://")
    if sandbox != "process":
        assert where.startswith("/var/runtime/node_modules/@aws-sdk/client-textract/")
    else:
        assert where.startswith(str(sdks.cache_root() / "nodejs" / "node_modules"))


def test_node_packages_are_the_default_and_the_variable_adds_to_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`FIRESIDE_NODE_SDK_PACKAGES` adds names to the default list; `all` adds every client of
    the SDK (a few hundred, from the package's data file)."""
    monkeypatch.delenv("FIRESIDE_NODE_SDK_PACKAGES", raising=False)
    assert sdks.node_packages() == sdks.NODE_PACKAGES
    monkeypatch.setenv("FIRESIDE_NODE_SDK_PACKAGES", "@aws-sdk/client-textract @aws-sdk/client-s3")
    assert sdks.node_packages() == (*sdks.NODE_PACKAGES, "@aws-sdk/client-textract")
    monkeypatch.setenv("FIRESIDE_NODE_SDK_PACKAGES", "all")
    everything = sdks.node_packages()
    assert len([p for p in everything if p.startswith("@aws-sdk/client-")]) > 350
    assert set(sdks.NODE_PACKAGES) | {"@aws-sdk/client-textract"} <= set(everything)
    assert len(set(everything)) == len(everything)


def test_a_node_tree_from_a_shorter_list_is_replaced_whole(tmp_path: Any) -> None:
    """The next install rebuilds a tree whose manifest lacks packages of the list, beside it,
    and then puts it in place; the older tree is moved aside (environments started before
    keep it) and removed by the install after. A tree holding the list is kept (npm not run:
    `false` stands in for it)."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("no npm on this host")
    small = ("@smithy/is-array-buffer",)
    first = sdk_install.install_node(npm, tmp_path, print, small)
    assert set(first.contents) == set(small)
    marker = first.path / "node_modules" / "@smithy" / "is-array-buffer" / "package.json"
    assert marker.is_file()
    kept = sdk_install.install_node("/bin/false", tmp_path, print, small)
    assert kept.contents == first.contents
    said: list[str] = []
    larger = (*small, "@smithy/util-buffer-from")
    second = sdk_install.install_node(npm, tmp_path, said.append, larger)
    assert set(second.contents) == set(larger)
    assert any("lacks 1 of its 2 packages" in line for line in said)
    assert (second.path / "node_modules" / "@smithy" / "util-buffer-from").is_dir()
    retired = list(tmp_path.glob(sdk_install.RETIRED + "*/nodejs"))
    assert len(retired) == 1 and sdks.tree("nodejs", retired[0].parent) is not None
    assert json.loads((retired[0] / sdks.MANIFEST).read_text()) == first.contents
    sdk_install.install_node("/bin/false", tmp_path, print, larger)
    assert not list(tmp_path.glob(sdk_install.RETIRED + "*"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["nodejs"]
