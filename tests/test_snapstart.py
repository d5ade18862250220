"""Snapshot starts (SnapStart): environments of a published version forked from a template that
ran Init once, each in namespaces of its own, with the restore hooks run and state re-created."""

from __future__ import annotations

import base64
import json
import re
import shutil
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import ROLE, FunctionFactory, Server, make_zip, unavailable

NODE_RUNTIME = "nodejs20.x"

SOURCE = """
import ctypes, json, os, random, time, uuid
time.sleep(0.5)  # an expensive Init, paid once per version
INIT_TOKEN = uuid.uuid4().hex
INIT_RANDOM = random.random()
from snapshot_restore_py import register_after_restore, register_before_snapshot
HOOKS = []
register_before_snapshot(lambda: HOOKS.append("before"))
@register_after_restore
def restored():
    HOOKS.append("after")
libc = ctypes.CDLL(None, use_errno=True)
def attempt(call):
    return "allowed" if call() == 0 else os.strerror(ctypes.get_errno())
def handler(event, context):
    mark = f"/tmp/{context.aws_request_id}"
    seen = sorted(os.listdir("/tmp"))
    open(mark, "w").close()
    time.sleep(event.get("sleep", 0))
    if event.get("allocate_mb"):
        block = bytearray(event["allocate_mb"] * 1024 * 1024)
    return {
        "init_token": INIT_TOKEN, "init_random": INIT_RANDOM, "random": random.random(),
        "uuid": uuid.uuid4().hex, "hooks": HOOKS, "pid": os.getpid(),
        "processes": sorted(p for p in os.listdir("/proc") if p.isdigit()),
        "tmp_before": seen, "key": os.environ["AWS_ACCESS_KEY_ID"],
        "type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "userns": attempt(lambda: libc.unshare(0x10000000)),
        "mount": attempt(lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
    }
"""


def snapstart_available(server: Server) -> bool:
    detail = server.health()["sandbox_detail"]
    return "namespace" in detail and "no warm starts" not in detail


def invoke(lam: Any, name: str, event: dict[str, Any]) -> tuple[dict[str, Any], str]:
    out = lam.invoke(FunctionName=name, Qualifier="1", Payload=json.dumps(event), LogType="Tail")
    body = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, body
    return body, base64.b64decode(out["LogResult"]).decode()


def init_duration(log: str) -> float | None:
    match = re.search(r"Init Duration: ([0-9.]+) ms", log)
    return float(match[1]) if match else None


def test_snapstart_configuration(lam: Any, make_function: FunctionFactory) -> None:
    name = make_function(SOURCE, SnapStart={"ApplyOn": "PublishedVersions"})
    latest = lam.get_function_configuration(FunctionName=name)
    assert latest["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    version = lam.publish_version(FunctionName=name)
    assert version["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    off = lam.update_function_configuration(FunctionName=name, SnapStart={"ApplyOn": "None"})
    assert off["SnapStart"] == {"ApplyOn": "None", "OptimizationStatus": "Off"}


def test_environments_fork_from_one_initialised_template(
    server: Server, lam: Any, make_function: FunctionFactory
) -> None:
    if not snapstart_available(server):
        unavailable("namespace", "snapshot starts need the namespace sandbox as root")
    name = make_function(SOURCE, SnapStart={"ApplyOn": "PublishedVersions"}, Timeout=15)
    lam.publish_version(FunctionName=name)
    first, _ = invoke(lam, name, {})  # makes the template (Init runs here, once)
    with ThreadPoolExecutor(3) as pool:  # three at once: three new environments
        results = list(pool.map(lambda _: invoke(lam, name, {"sleep": 1.0}), range(3)))
    bodies = [first, *(body for body, _ in results)]
    for body in bodies:
        assert body["type"] == "snap-start"
        assert body["hooks"] == ["before", "after"]  # after_restore ran once, in this copy
        assert body["pid"] == 1 and body["processes"] == ["1"]  # its own PID namespace
        assert body["userns"] == "Operation not permitted"
        assert body["mount"] == "Operation not permitted"
    assert len({b["init_token"] for b in bodies}) == 1  # one Init, copied
    assert len({b["init_random"] for b in bodies}) == 1
    new = [body for body, log in results if init_duration(log) is not None]
    assert len(new) >= 2
    assert len({b["random"] for b in new}) == len(new)  # reseeded after the copy
    assert len({b["uuid"] for b in new}) == len(new)
    assert len({b["key"] for b in new}) == len(new)  # credentials of their own
    assert all(b["tmp_before"] == [] for b in new)  # a fresh /tmp each
    for _, log in results:
        duration = init_duration(log)
        assert duration is None or duration < 400  # a fork, not the 500 ms Init


def test_forked_environment_memory_limit(
    server: Server, lam: Any, make_function: FunctionFactory
) -> None:
    if not snapstart_available(server):
        unavailable("namespace", "snapshot starts need the namespace sandbox as root")
    name = make_function(SOURCE, SnapStart={"ApplyOn": "PublishedVersions"}, MemorySize=128)
    lam.publish_version(FunctionName=name)
    out = lam.invoke(FunctionName=name, Qualifier="1", Payload=b'{"allocate_mb": 400}')
    body = json.loads(out["Payload"].read())
    assert out.get("FunctionError") == "Unhandled"
    assert body["errorType"] == "Runtime.OutOfMemory"
    ok, _ = invoke(lam, name, {})  # Fireside and the template keep serving
    assert ok["type"] == "snap-start"


def test_failed_init_is_reported_as_without_snapshot(
    lam: Any, make_function: FunctionFactory
) -> None:
    name = make_function(
        "raise ValueError('no snapshot for me')\ndef handler(e, c):\n    return 1\n",
        SnapStart={"ApplyOn": "PublishedVersions"},
    )
    lam.publish_version(FunctionName=name)
    started = time.monotonic()
    out = lam.invoke(FunctionName=name, Qualifier="1")
    body = json.loads(out["Payload"].read())
    assert out.get("FunctionError") == "Unhandled"
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "no snapshot for me"
    assert time.monotonic() - started < 10


def test_concurrent_first_starts_share_one_init(
    server: Server, lam: Any, make_function: FunctionFactory
) -> None:
    if not snapstart_available(server):
        unavailable("namespace", "snapshot starts need the namespace sandbox as root")
    name = make_function(SOURCE, SnapStart={"ApplyOn": "PublishedVersions"}, Timeout=15)
    lam.publish_version(FunctionName=name)
    with ThreadPoolExecutor(4) as pool:  # four cold starts at once, before any snapshot exists
        results = list(pool.map(lambda _: invoke(lam, name, {"sleep": 0.5}), range(4)))
    bodies = [body for body, _ in results]
    assert {b["type"] for b in bodies} == {"snap-start"}
    assert len({b["init_token"] for b in bodies}) == 1  # they waited for one template's Init
    assert len({b["uuid"] for b in bodies}) == 4


NODE = """
const started = Date.now();
const INIT_TOKEN = Math.random().toString(36);
while (Date.now() - started < 500) {}  // an expensive Init
exports.handler = async (event) => {
  await new Promise((resolve) => setTimeout(resolve, (event && event.hold) || 0));
  return {
    type: process.env.AWS_LAMBDA_INITIALIZATION_TYPE, init: started, now: Date.now(),
    token: INIT_TOKEN,
  };
};
"""


def create_node_function(lam: Any, name: str, source: str, **kwargs: Any) -> None:
    lam.create_function(
        FunctionName=name, Runtime=NODE_RUNTIME, Handler="index.handler", Role=ROLE,
        Code={"ZipFile": make_zip({"index.js": source})}, Timeout=15,
        SnapStart={"ApplyOn": "PublishedVersions"}, **kwargs,
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName=name)
    lam.publish_version(FunctionName=name)


def wait_for_idle_environments(srv: Server, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{srv.endpoint}/_fireside/health") as response:
            if json.load(response)["environments"]["idle"] >= count:
                return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} idle environments after {timeout} s")


def test_node_without_a_compiler_starts_from_an_initialised_spare(fresh_server: Any) -> None:
    """Without a C compiler for its fork addon, a version's next Node.js environment is
    initialised ahead instead."""
    if shutil.which("node") is None:
        pytest.skip("no Node.js here")
    srv: Server = fresh_server(CC="/nonexistent/cc")
    lam = srv.client()
    create_node_function(lam, "snap-node-spare", NODE)
    lam.invoke(FunctionName="snap-node-spare", Qualifier="1")  # a cold start; a spare's Init
    wait_for_idle_environments(srv, 2)  # the used one and the spare, initialised
    sent_ms = time.time() * 1000
    with ThreadPoolExecutor(2) as pool:  # one finds the used environment, one the spare
        outs = list(
            pool.map(
                # Each holds its environment for a second, so the two overlap.
                lambda _: lam.invoke(
                    FunctionName="snap-node-spare",
                    Qualifier="1",
                    LogType="Tail",
                    Payload=b'{"hold": 1000}',
                ),
                range(2),
            )
        )
    bodies = [json.loads(out["Payload"].read()) for out in outs]
    assert {b["type"] for b in bodies} == {"snap-start"}
    assert len({b["token"] for b in bodies}) == 2
    logs = [base64.b64decode(out["LogResult"]).decode() for out in outs]
    assert all("Init Duration" not in log for log in logs)  # neither waited for an Init
    # Both Inits ran before these invokes were sent: the spare's was not started by them.
    assert all(b["init"] < sent_ms for b in bodies)
    if snapstart_available(srv):
        assert any("initialised spare, not a fork: no C compiler" in line for line in srv.output)


NODE_FORKED = """
const crypto = require('crypto');
const fs = require('fs');
const { execFileSync } = require('child_process');
const started = Date.now();
while (Date.now() - started < 500) {}  // an expensive Init, paid once per version
const INIT = { token: crypto.randomUUID(), random: Math.random(), int: crypto.randomInt(2 ** 40) };
let invokes = 0;
const attempt = (action) => {
  try { action(); return 'allowed'; } catch (error) { return error.code || 'failed'; }
};
exports.handler = async (event, context) => {
  invokes += 1;
  if (event.crash) {
    setTimeout(() => { throw new Error('this environment ends here'); }, 10);
    return new Promise(() => {});
  }
  await new Promise((resolve) => setTimeout(resolve, (event.sleep || 0) * 1000));
  const tmp = fs.readdirSync('/tmp');
  fs.writeFileSync(`/tmp/${context.awsRequestId}`, '');
  return {
    type: process.env.AWS_LAMBDA_INITIALIZATION_TYPE, init: INIT, invokes, pid: process.pid,
    random: Math.random(), uuid: crypto.randomUUID(), int: crypto.randomInt(2 ** 40),
    bytes: crypto.randomBytes(8).toString('hex'), key: process.env.AWS_ACCESS_KEY_ID,
    mine: process.env.MINE, tmp, processes: fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)),
    userns: attempt(() => execFileSync('unshare', ['--user', 'true'], { stdio: 'ignore' })),
    writeDev: attempt(() => fs.writeFileSync('/dev/fireside-probe', 'x')),
    writeTask: attempt(() => fs.writeFileSync('/var/task/probe', 'x')),
    rehearsal: process.env.FIRESIDE_REHEARSAL ?? null, requestId: context.awsRequestId,
    arn: context.invokedFunctionArn, trace: process.env._X_AMZN_TRACE_ID ?? null,
  };
};
"""


def test_node_environments_fork_from_one_template(
    server: Server, lam: Any, make_function: FunctionFactory
) -> None:
    if shutil.which("node") is None or shutil.which("cc") is None:
        pytest.skip("no Node.js or no C compiler here")
    if not snapstart_available(server):
        unavailable("namespace", "snapshot starts need the namespace sandbox as root")
    name = f"snap-node-{time.monotonic_ns()}"
    create_node_function(lam, name, NODE_FORKED, Environment={"Variables": {"MINE": "yes"}})
    try:
        first, _ = invoke(lam, name, {})  # makes the template (Init runs here, once)
        with ThreadPoolExecutor(3) as pool:  # three at once: three new environments
            results = list(pool.map(lambda _: invoke(lam, name, {"sleep": 1.0}), range(3)))
        bodies = [first, *(body for body, _ in results)]
        for body in bodies:
            assert body["type"] == "snap-start"
            assert body["pid"] == 1 and body["processes"] == ["1"]  # its own PID namespace
            assert body["mine"] == "yes"
            assert body["userns"] != "allowed"  # seccomp: no new user namespaces
            assert body["writeDev"] == "EACCES"  # Landlock: no new files outside /tmp
            assert body["writeTask"] == "EROFS"
            # The template rehearsed a first invocation (snapshot.js): nothing of it is left.
            assert body["rehearsal"] is None
            assert body["requestId"] != "rehearsal" and body["arn"].endswith(f":{name}:1")
            assert not (body["trace"] or "").startswith("Root=1-00000000-")
        assert len({json.dumps(b["init"]) for b in bodies}) == 1  # one Init, copied
        new = [body for body, log in results if init_duration(log) is not None]
        assert len(new) >= 2
        assert all(b["tmp"] == [] for b in new)  # a fresh /tmp each
        for field in ("random", "uuid", "int", "bytes", "key"):  # made again in each copy
            assert len({b[field] for b in new}) == len(new), field
        durations = [init_duration(log) for _, log in results]
        assert all(d is None or d < 400 for d in durations)  # forks, not the 500 ms Init

        # A crash ends its own environment only: the template and the others keep serving.
        out = lam.invoke(FunctionName=name, Qualifier="1", Payload=b'{"crash": true}')
        crashed = json.loads(out["Payload"].read())
        assert out.get("FunctionError") == "Unhandled"
        assert crashed["errorMessage"] == "this environment ends here"
        # It exits just after posting the error: an invoke handed to it before Fireside sees
        # that exit goes to another environment (tests/test_custom_runtime.py).
        with ThreadPoolExecutor(3) as pool:
            after = list(pool.map(lambda _: invoke(lam, name, {"sleep": 0.5}), range(3)))
        assert {json.dumps(body["init"]) for body, _ in after} == {json.dumps(first["init"])}
        assert any(body["invokes"] > 1 for body, _ in after)  # the survivors kept their state
    finally:
        lam.delete_function(FunctionName=name)


def test_node_failed_init_is_reported_as_without_snapshot(server: Server, lam: Any) -> None:
    if shutil.which("node") is None:
        pytest.skip("no Node.js here")
    name = f"snap-node-broken-{time.monotonic_ns()}"
    create_node_function(lam, name, "throw new TypeError('no snapshot for me');\n")
    try:
        started = time.monotonic()
        out = lam.invoke(FunctionName=name, Qualifier="1")
        body = json.loads(out["Payload"].read())
        assert out.get("FunctionError") == "Unhandled"
        assert body["errorType"] == "TypeError"
        assert body["errorMessage"] == "no snapshot for me"
        assert time.monotonic() - started < 10
        if snapstart_available(server) and shutil.which("cc") is not None:
            # The template reported it on its control socket, then the start from scratch did.
            assert any("Init failed: TypeError: no snapshot for me" in x for x in server.output)
    finally:
        lam.delete_function(FunctionName=name)


NODE_BUSY = """
const crypto = require('crypto');
const fs = require('fs');
const zlib = require('zlib');
const { promisify } = require('util');
const { PerformanceObserver } = require('perf_hooks');
let gcs = 0;
new PerformanceObserver((list) => { gcs += list.getEntries().length; }).observe({ type: 'gc' });
const hot = (n) => { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 7) % 1000003; return s; };
hot(1e6);  // optimised during Init
exports.handler = async () => {
  const before = gcs;
  let kept = [];
  for (let round = 0; round < 20; round++) {  // young and old generation collections
    const batch = [];
    for (let i = 0; i < 20000; i++) batch.push({ round, i, pad: new Array(8).fill(i) });
    kept.push(batch);
    if (kept.length > 4) kept.shift();
  }
  kept = null;
  gc();  // a full collection: V8 hands part of it to a worker thread, which copies lack
  let total = 0;
  for (let k = 0; k < 20; k++) total += hot(1e5);
  const files = await Promise.all([1, 2, 3, 4].map(() => fs.promises.readFile('/etc/passwd')));
  const packed = await promisify(zlib.gzip)(Buffer.alloc(1 << 18, 7));
  const unpacked = await promisify(zlib.gunzip)(packed);
  const key = await promisify(crypto.pbkdf2)('pw', 'salt', 1000, 16, 'sha256');
  await new Promise((resolve) => setTimeout(resolve, 5));
  return { gcs: gcs - before, total, files: files.length, unpacked: unpacked.length,
           key: key.toString('hex') };
};
"""


def test_node_forked_environments_keep_working(server: Server, lam: Any) -> None:
    """Copies have only the forking thread: garbage collection, the libuv thread pool (fs, zlib,
    crypto), timers and optimised code must still work in each, invoke after invoke."""
    if shutil.which("node") is None or shutil.which("cc") is None:
        pytest.skip("no Node.js or no C compiler here")
    if not snapstart_available(server):
        unavailable("namespace", "snapshot starts need the namespace sandbox as root")
    name = f"snap-node-busy-{time.monotonic_ns()}"
    create_node_function(lam, name, NODE_BUSY, MemorySize=256)
    try:
        invoke(lam, name, {})  # makes the template
        with ThreadPoolExecutor(3) as pool:  # three environments, eight invokes each
            runs = list(pool.map(lambda _: [invoke(lam, name, {}) for _ in range(8)], range(3)))
        results = [result for run in runs for result in run]
        for body, _ in results:
            assert body["gcs"] > 0
            assert body["files"] == 4 and body["unpacked"] == 1 << 18
        assert len({(body["total"], body["key"]) for body, _ in results}) == 1
        forks = [init_duration(log) for _, log in results if init_duration(log) is not None]
        assert len(forks) >= 2 and all(duration < 400 for duration in forks)
    finally:
        lam.delete_function(FunctionName=name)


RUBY = """
require 'fiddle'
require 'securerandom'
sleep 0.5  # an expensive Init, paid once per version
INIT_TOKEN = SecureRandom.hex(8)
UNSHARE = Fiddle::Function.new(Fiddle.dlopen(nil)['unshare'], [Fiddle::TYPE_INT], Fiddle::TYPE_INT)
def handler(event:, context:)
  sleep(event['sleep'] || 0)
  {
    'type' => ENV['AWS_LAMBDA_INITIALIZATION_TYPE'], 'pid' => Process.pid, 'token' => INIT_TOKEN,
    'random' => SecureRandom.hex(8), 'key' => ENV['AWS_ACCESS_KEY_ID'], 'tmp' => Dir.children('/tmp'),
    'processes' => Dir.children('/proc').grep(/\\A\\d+\\z/),
    'userns' => UNSHARE.call(0x10000000).zero? ? 'allowed' : 'denied',
  }
end
"""


def test_ruby_environments_fork_from_one_template(fresh_server: Any) -> None:
    ruby = shutil.which("ruby")
    if ruby is None:
        pytest.skip("no Ruby here")
    srv: Server = fresh_server(FIRESIDE_RUBY_3_2=ruby)
    if not snapstart_available(srv):
        unavailable("namespace", "snapshot starts need the namespace sandbox as root")
    lam = srv.client()
    lam.create_function(
        FunctionName="snap-ruby", Runtime="ruby3.2", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": make_zip({"app.rb": RUBY})}, Timeout=15,
        SnapStart={"ApplyOn": "PublishedVersions"},
    )  # fmt: skip
    lam.get_waiter("function_active_v2").wait(FunctionName="snap-ruby")
    lam.publish_version(FunctionName="snap-ruby")
    first, _ = invoke(lam, "snap-ruby", {})
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda _: invoke(lam, "snap-ruby", {"sleep": 1.0}), range(3)))
    bodies = [first, *(body for body, _ in results)]
    for body in bodies:
        assert body["type"] == "snap-start"
        assert body["pid"] == 1 and body["processes"] == ["1"]
        assert body["tmp"] == []
        assert body["userns"] == "denied"
    assert len({b["token"] for b in bodies}) == 1  # one Init, copied
    new = [body for body, log in results if init_duration(log) is not None]
    assert len(new) >= 2
    assert len({b["random"] for b in new}) == len(new)
    assert len({b["key"] for b in new}) == len(new)
    durations = [init_duration(log) for _, log in results]
    assert all(d is None or d < 400 for d in durations)  # forks, not the 500 ms Init
