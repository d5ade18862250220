"""Pipelined `/next` in the Node.js and Ruby runtimes, and snapshot copies that connect to their
Runtime API while parked, under load: many concurrent invokes past the environment cap, runtimes
killed (kill -9) mid-load. Every invoke must get exactly one answer, its own, and no environment
may serve two at once (as `test_invoke_hammer.py` checks for the Python runtime).
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.conftest import ROLE, make_zip
from tests.hammer_support import check_hammer, hammer, runtimes_of, serves_afterwards

CAP = 5
CLIENTS = 12
ROUNDS = 10
NODE = """
const ENVIRONMENT = require('crypto').randomBytes(8).toString('hex'); // per process
exports.handler = async (event, context) => {
  const started = Date.now() / 1000;
  await new Promise((resolve) => setTimeout(resolve, event.sleep * 1000));
  return { n: event.n, id: context.awsRequestId, env: ENVIRONMENT, started, ended: Date.now() / 1000 };
};
"""
RUBY = """
require 'securerandom'
ENVIRONMENT = SecureRandom.hex(8) # per process
def handler(event:, context:)
  started = Time.now.to_f
  sleep(event['sleep'])
  { n: event['n'], id: context.aws_request_id, env: ENVIRONMENT, started: started,
    ended: Time.now.to_f }
end
"""
# Made at the first invoke: a snapshot copy's module state is its template's until then.
PYTHON_SNAP = """
import os, time
ENVIRONMENT = None
def handler(event, context):
    global ENVIRONMENT
    ENVIRONMENT = ENVIRONMENT or os.urandom(8).hex()  # this copy's own
    started = time.time()
    time.sleep(event["sleep"])
    return {"n": event["n"], "id": context.aws_request_id, "env": ENVIRONMENT,
            "started": started, "ended": time.time()}
"""
NODE_SNAP = NODE.replace(
    "const ENVIRONMENT = require('crypto').randomBytes(8).toString('hex'); // per process",
    "let ENVIRONMENT = null;",
).replace(
    "  const started",
    "  ENVIRONMENT = ENVIRONMENT || require('crypto').randomBytes(8).toString('hex');\n"
    "  const started",
)

CASES = {
    "node": ("nodejs20.x", "index.handler", {"index.js": NODE}, b"bootstrap.js", 0),
    "ruby": ("ruby3.2", "app.handler", {"app.rb": RUBY}, b"bootstrap.rb", 0),
    "python-snapshot": ("python3.11", "app.handler", {"app.py": PYTHON_SNAP}, b"bootstrap.py", 1),
    "node-snapshot": ("nodejs20.x", "index.handler", {"index.js": NODE_SNAP}, b"bootstrap.js", 1),
}


@pytest.mark.parametrize("case", list(CASES))
def test_many_invokes_with_runtimes_killed(fresh_server: Any, case: str) -> None:
    runtime, handler, files, marker, snapshot = CASES[case]
    # The host's Ruby runs ruby3.2 functions whatever its version (Debian 12 ships 3.1).
    ruby = {"FIRESIDE_RUBY_3_2": shutil.which("ruby") or "ruby"} if case == "ruby" else {}
    srv = fresh_server(FIRESIDE_MAX_ENVIRONMENTS=str(CAP), **ruby)
    lam = srv.client(max_pool_connections=CLIENTS)
    extra: dict[str, Any] = {"SnapStart": {"ApplyOn": "PublishedVersions"}} if snapshot else {}
    lam.create_function(
        FunctionName="hammer", Runtime=runtime, Handler=handler, Role=ROLE,
        Code={"ZipFile": make_zip(files)}, Timeout=30, **extra,
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName="hammer")
    qualifier: dict[str, str] = {}
    if snapshot:
        lam.publish_version(FunctionName="hammer")
        qualifier = {"Qualifier": "1"}
    assert srv.process is not None

    pid = srv.process.pid
    hammered = hammer(
        srv, lam, lambda: runtimes_of(pid, marker, bool(snapshot)),
        clients=CLIENTS, rounds=ROUNDS, kill_every=15, **qualifier,
    )  # fmt: skip
    check_hammer(hammered, clients=CLIENTS, rounds=ROUNDS, cap=CAP, label=case)
    serves_afterwards(lam, **qualifier)
