"""Node.js packages from layers, for `require` and for `import`, as on AWS's runtimes.

AWS documents two layer paths for a `nodejs<N>.x` function, `nodejs/node<N>/node_modules` and
`nodejs/node_modules` (in that order: NODE_PATH), and its runtimes (nodejs18.x and later) search
NODE_PATH for ES module imports too, which Node.js itself does not. Each test publishes layers
through the Lambda API, deploys a function using them, and invokes it, under the namespace
sandbox (a bind at /node_modules, also through a warm spare) and `process` (a resolution hook).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator

import pytest

from fireside.sandbox import gvisor
from tests import runtime_helpers
from tests.conftest import unavailable
from tests.runtime_helpers import BOTH_SANDBOXES, Servers, invoke, publish_layer

NODE = shutil.which("node")
MAJOR = 0
if NODE is not None:
    out = subprocess.run([NODE, "--version"], capture_output=True, text=True, check=False)
    MAJOR = int(out.stdout.lstrip("v").split(".")[0] or 0)
pytestmark = pytest.mark.skipif(MAJOR < 18, reason="no Node.js 18 or later on this host")


def package(name: str, **manifest: object) -> dict[str, str]:
    return {f"{name}/package.json": json.dumps({"name": name, **manifest})}


def versioned_layer(major: int) -> dict[str, str]:
    """`nodejs/node<major>/node_modules`: an ES module package with conditional exports, a
    scoped package, and a name the other directory has too (this one comes first)."""
    root = f"nodejs/node{major}/node_modules"
    files = {
        **package("dual", exports={"import": "./index.mjs", "require": "./index.cjs"}),
        "dual/index.mjs": "export default 'dual as an ES module';",
        "dual/index.cjs": "module.exports = 'dual as CommonJS';",
        **package("@scope/tool", type="module", exports="./main.js"),
        "@scope/tool/main.js": "export const tool = 'scoped';",
        **package("twice", main="index.js"),
        "twice/index.js": f"module.exports = 'node{major}';",
    }
    return {f"{root}/{path}": text for path, text in files.items()}


def common_layer(other: int) -> dict[str, str]:
    """`nodejs/node_modules` (any version), with a package that imports one of the versioned
    directory's (NODE_PATH joins them), and another version's directory, never searched."""
    root = "nodejs/node_modules"
    files = {
        **package("shared", main="index.js"),
        "shared/index.js": "module.exports = 'from nodejs/node_modules';",
        **package("twice", main="index.js"),
        "twice/index.js": "module.exports = 'nodejs';",
        **package("joins", type="module", exports="./index.js"),
        "joins/index.js": "import dual from 'dual';\nexport default `joins ${dual}`;",
    }
    layer = {f"{root}/{path}": text for path, text in files.items()}
    layer[f"nodejs/node{other}/node_modules/elsewhere/index.js"] = "module.exports = 1;"
    return layer


ES_MODULE = """
import dual from 'dual';
import { tool } from '@scope/tool';
import shared from 'shared';
import twice from 'twice';
import joins from 'joins';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const handler = async () => {
  let elsewhere;
  try {
    await import('elsewhere');
    elsewhere = 'found';
  } catch (error) {
    elsewhere = error.code;
  }
  return {
    dual, tool, shared, twice, joins, elsewhere,
    required: require('dual'),
    dynamic: (await import('shared')).default,
  };
};
"""
COMMONJS = """
exports.handler = async () => ({
  dual: require('dual'),
  shared: require('shared'),
  twice: require('twice'),
  imported: (await import('dual')).default,
  tool: (await import('@scope/tool')).tool,
  joins: (await import('joins')).default,
});
"""


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    assert NODE is not None
    env = {"FIRESIDE_NODE_20": NODE, "FIRESIDE_NODE_24": NODE}
    found = Servers(tmp_path_factory.mktemp("node-layers"), env)
    yield found
    found.stop()


def layers(servers: Servers, sandbox: str, major: int) -> list[str]:
    srv = servers(sandbox)
    other = 24 if major != 24 else 20
    return [
        publish_layer(srv, "versioned", versioned_layer(major)),
        publish_layer(srv, "common", common_layer(other)),
    ]


@BOTH_SANDBOXES
@pytest.mark.parametrize("major", [20, 24])
def test_es_module_imports_packages_from_layers(servers: Servers, sandbox: str, major: int) -> None:
    srv = servers(sandbox)
    runtime = f"nodejs{major}.x"
    name = runtime_helpers.deploy(
        srv,
        {"index.mjs": ES_MODULE},
        "index.handler",
        runtime,
        Layers=layers(servers, sandbox, major),
    )
    lam = srv.client()
    for round_ in range(2):  # a cold start, then (namespace) one from a warm spare
        body, tail, out = invoke(srv, name)
        assert "FunctionError" not in out, (body, tail)
        assert body == {
            "dual": "dual as an ES module",
            "tool": "scoped",
            "shared": "from nodejs/node_modules",
            "twice": f"node{major}",  # nodejs/node<N>/node_modules comes first
            "joins": "joins dual as an ES module",
            "elsewhere": "ERR_MODULE_NOT_FOUND",  # another version's directory
            "required": "dual as CommonJS",
            "dynamic": "from nodejs/node_modules",
        }
        lam.update_function_configuration(FunctionName=name, Description=f"round {round_}")
        lam.get_waiter("function_updated_v2").wait(FunctionName=name)


def test_es_module_imports_packages_from_layers_under_gvisor(servers: Servers) -> None:
    """gVisor shows the same bind (runsc mounts it on a point made in the bundle's root)."""
    reason = gvisor.unavailable_reason()
    if reason is not None:
        unavailable("gvisor", reason)
    srv = servers("gvisor")
    name = runtime_helpers.deploy(
        srv, {"index.mjs": ES_MODULE}, "index.handler", "nodejs20.x",
        Layers=layers(servers, "gvisor", 20),
    )  # fmt: skip
    body, tail, out = invoke(srv, name)
    assert "FunctionError" not in out, (body, tail)
    assert (body["dual"], body["joins"], body["twice"], body["required"]) == (
        "dual as an ES module",
        "joins dual as an ES module",
        "node20",
        "dual as CommonJS",
    )


@BOTH_SANDBOXES
def test_commonjs_requires_and_imports_packages_from_layers(servers: Servers, sandbox: str) -> None:
    srv = servers(sandbox)
    name = runtime_helpers.deploy(
        srv, {"app.js": COMMONJS}, "app.handler", "nodejs20.x", Layers=layers(servers, sandbox, 20)
    )
    body, tail, out = invoke(srv, name)
    assert "FunctionError" not in out, (body, tail)
    assert body == {
        "dual": "dual as CommonJS",
        "shared": "from nodejs/node_modules",
        "twice": "node20",
        "imported": "dual as an ES module",
        "tool": "scoped",
        "joins": "joins dual as an ES module",
    }


@BOTH_SANDBOXES
def test_function_code_comes_before_layers(servers: Servers, sandbox: str) -> None:
    """The function's own node_modules wins over a layer's, for `import` as for `require`."""
    srv = servers(sandbox)
    files = {
        "index.mjs": "import twice from 'twice';\nexport const handler = async () => twice;",
        "node_modules/twice/package.json": json.dumps({"name": "twice", "main": "own.js"}),
        "node_modules/twice/own.js": "module.exports = 'own';",
    }
    name = runtime_helpers.deploy(
        srv, files, "index.handler", "nodejs20.x", Layers=layers(servers, sandbox, 20)
    )
    body, tail, _ = invoke(srv, name)
    assert body == "own", (body, tail)


def test_snapshot_template_imports_packages_from_layers(servers: Servers) -> None:
    """A SnapStart version's template runs Init (the imports) once; its forks serve invokes."""
    srv = servers("namespace")
    detail = srv.health()["sandbox_detail"]
    if "namespace" not in detail or "no warm starts" in detail or shutil.which("cc") is None:
        unavailable("namespace", "snapshot starts of Node.js need the namespace sandbox as root")
    source = ES_MODULE.replace(
        "return {", "return {\n    type: process.env.AWS_LAMBDA_INITIALIZATION_TYPE,"
    )
    name = runtime_helpers.deploy(
        srv, {"index.mjs": source}, "index.handler", "nodejs20.x",
        Layers=layers(servers, "namespace", 20), SnapStart={"ApplyOn": "PublishedVersions"},
    )  # fmt: skip
    srv.client().publish_version(FunctionName=name)
    for _ in range(2):  # the first makes the template; both are forks of it
        body, tail, out = invoke(srv, name, Qualifier="1")
        assert "FunctionError" not in out, (body, tail)
        assert body["type"] == "snap-start"
        assert (body["dual"], body["joins"], body["twice"]) == (
            "dual as an ES module",
            "joins dual as an ES module",
            "node20",
        )
    assert not [line for line in srv.output if "no snapshot start" in line]  # forked, really
