"""Compatibility: dynalite's own test suite, unmodified, against a Fireside server.

dynalite (npm `dynalite`) checks its tests against real DynamoDB: with `REMOTE=1` its helpers
send every request, signed by `aws4`, to `dynamodb.<region>.amazonaws.com` and expect AWS's
answers, codes and messages. The npm package ships without its tests, so the suite comes from a
checkout of the `architect/dynalite` repository (`--source`, copied once into
`.bench-venvs/dynalite-suite/`, where its npm dependencies are installed). Nothing in the
checkout is changed: a preload module given to mocha with `--require` redirects the requests
meant for AWS's DynamoDB host to the Fireside server started here, keeping the signed `Host`
header. The tests that start a dynalite server of their own (`should connect to SSL`) and the
benchmark file are left out, since they do not exercise Fireside. Against a server that fails
some assertions, a few dynalite tests fail after they have passed (inside async callbacks), which
makes mocha abort the run; the preload keeps it running, and such a test counts as failed.

Prints passed/failed per test file and per kind of failure, and writes the per-test outcomes
(with the first line of each failure) to bench/results/dynalite_suite.json.
Usage: python bench/dynalite_suite.py --source DIR [--slow] [--grep TEXT]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import boto3
from common import ROOT, log, start_server

CACHE = ROOT / ".bench-venvs" / "dynalite-suite"
#: Tests that run a dynalite server of their own instead of talking to the one under test.
OWN_SERVER_TESTS = "should connect to SSL"
REDIRECT = """
// Sends the requests dynalite's REMOTE mode makes to AWS's DynamoDB host to Fireside instead.
const http = require('http')
const target = Number(process.env.FIRESIDE_PORT)
const original = http.request
http.request = function (options, ...rest) {
  if (options && typeof options === 'object' && /^dynamodb\\.[a-z0-9-]+\\.amazonaws\\.com$/
    .test(options.host || '')) {
    const headers = Object.assign({}, options.headers)
    if (!Object.keys(headers).some(k => k.toLowerCase() === 'host')) headers.Host = options.host
    options = Object.assign({}, options, { host: '127.0.0.1', hostname: '127.0.0.1',
      port: target, headers })
  }
  return original.call(this, options, ...rest)
}
// Several tests assert inside async.forEach callbacks, so against a server that fails one of
// them an assertion can fire after the test has passed; mocha then aborts the whole run. Keep
// running instead: that late failure is still reported, as a failure of that test.
const Runner = require(require.resolve('mocha/lib/runner', { paths: [process.cwd()] }))
Runner.prototype.abort = function () { return this }
"""


def prepare(source: Path) -> Path:
    """A copy of the checkout with its npm dependencies installed (made once per commit)."""
    if not (source / "test" / "helpers.js").exists():
        raise SystemExit(
            f"{source} is not a checkout of architect/dynalite (no test/helpers.js); "
            "clone the repository and pass its directory as --source"
        )
    head = subprocess.run(
        ["git", "-C", str(source), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    work = CACHE / f"dynalite-{head or 'checkout'}"
    if not (work / "node_modules" / "mocha").exists():
        log(f"copying {source} to {work} and installing its npm dependencies...")
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(source, work, ignore=shutil.ignore_patterns(".git", "node_modules"))
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=work, check=True, stdout=sys.stderr,
        )  # fmt: skip
    (work / "fireside-redirect.js").write_text(REDIRECT)
    return work


def kind_of(message: str) -> str:
    """A coarse kind for one failure, from the assertion's text."""
    if message.startswith("Timeout of"):
        return "timeout"
    codes = re.findall(r"#(\w+Exception)", message)
    if len(codes) >= 2 and codes[0] != codes[1]:
        return "error code"
    if re.match(r"expected \d+ to (equal|be) \d+", message):
        return "HTTP status"
    if re.match(r"expected '.*' to (equal|match|start with)", message, re.DOTALL):
        return "message text"
    if "Cannot read properties" in message or "is not defined" in message:
        return "response shape (missing member)"
    return "response body"


def _mocha(work: Path, port: int, slow: bool, report: Path, args: list[str]) -> Any:
    env = {
        **os.environ,
        "REMOTE": "1",
        "FIRESIDE_PORT": str(port),
        "AWS_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "dynalite",
        "AWS_SECRET_ACCESS_KEY": "dynalite",
    }
    env.pop("AWS_SESSION_TOKEN", None)
    if slow:
        env["SLOW_TESTS"] = "1"
    command = [
        str(work / "node_modules" / ".bin" / "mocha"), "--require", "should",
        "--require", str(work / "fireside-redirect.js"), "--timeout", "30000",
        "--reporter", "json", "--reporter-option", f"output={report}", *args,
    ]  # fmt: skip
    subprocess.run(command, cwd=work, env=env, stdout=sys.stderr)
    return json.loads(report.read_text())


def _delete_tables(port: int) -> None:
    """What a new mocha run needs: its root hook creates dynalite's fixed-name tables."""
    client = boto3.client(
        "dynamodb", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="dynalite", aws_secret_access_key="dynalite",
    )  # fmt: skip
    for page in client.get_paginator("list_tables").paginate():
        for name in page["TableNames"]:
            client.delete_table(TableName=name)


def run_suite(work: Path, port: int, slow: bool, grep: str | None, scratch: Path) -> Any:
    """One mocha run of every file, then a run of the tests a failed hook kept from running.

    A late assertion of one test (see REDIRECT) can also land in the next `before` hook,
    which then fails and skips its whole `describe`; those tests run again on their own.
    """
    files = sorted(str(p.relative_to(work)) for p in (work / "test").glob("*.js"))
    files = [f for f in files if f not in ("test/helpers.js", "test/bench.js")]
    select = ["--grep", grep] if grep else ["--grep", OWN_SERVER_TESTS, "--invert"]
    listed = _mocha(work, port, slow, scratch / "dry.json", ["--dry-run", *select, *files])
    result = _mocha(work, port, slow, scratch / "report.json", [*select, *files])
    done = {case["fullTitle"] for case in (*result["passes"], *result["failures"])}
    left = [case for case in listed["tests"] if case["fullTitle"] not in done]
    if left:
        log(f"running {len(left)} tests again that a failed hook kept from running...")
        _delete_tables(port)
        titles = "|".join(re.escape(case["fullTitle"]) for case in left)
        again = _mocha(work, port, slow, scratch / "again.json",
                       ["--grep", f"^({titles})$", *sorted({c["file"] for c in left})])  # fmt: skip
        result["passes"] += again["passes"]
        result["failures"] += [
            c for c in again["failures"] if '"before all" hook' not in c["fullTitle"]
        ]
    # Hook failures are not tests: a test they kept from running is counted above or not at all.
    result["failures"] = [c for c in result["failures"] if '" hook' not in c["fullTitle"]]
    # Counted by title, as tests are reported: dynalite repeats a few titles within a file.
    every = {case["fullTitle"] for case in listed["tests"]}
    pending = {case["fullTitle"] for case in listed["pending"]}
    result["listed"], result["stats"]["pending"] = len(every), len(pending)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", required=True, help="a checkout of architect/dynalite")
    parser.add_argument("--slow", action="store_true", help="also run dynalite's slow tests")
    parser.add_argument("--grep", default=None, help="run only tests whose title matches")
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "dynalite_suite.json"))
    args = parser.parse_args()
    work = prepare(Path(args.source).resolve())
    with tempfile.TemporaryDirectory() as data:
        process, port = start_server(data, sandbox="process")
        try:
            log(f"running dynalite's tests against Fireside on port {port}...")
            result = run_suite(work, port, args.slow, args.grep, Path(data))
        finally:
            process.terminate()
            process.wait(20)
    tests: dict[str, dict[str, str]] = {}
    by_file: dict[str, Counter[str]] = defaultdict(Counter)
    kinds: Counter[str] = Counter()
    for case in result["passes"]:
        tests[case["fullTitle"]] = {"outcome": "passed", "file": Path(case["file"]).name}
    for case in result["failures"]:
        message = " ".join((case.get("err", {}).get("message") or "").split())
        kind = kind_of(message)
        tests[case["fullTitle"]] = {
            "outcome": "failed", "file": Path(case.get("file") or "hook").name,
            "kind": kind, "error": message[:1000],
        }  # fmt: skip
    for entry in tests.values():
        by_file[entry["file"]][entry["outcome"]] += 1
        if entry["outcome"] == "failed":
            kinds[entry["kind"]] += 1
    passed = sum(1 for t in tests.values() if t["outcome"] == "passed")
    failed = len(tests) - passed
    not_run = result["listed"] - len(tests) - result["stats"]["pending"]
    for name, counts in sorted(by_file.items()):
        print(f"{name:24} {counts['passed']:4} passed {counts['failed']:4} failed")
    print(
        f"{'all':24} {passed:4} passed {failed:4} failed ({result['stats']['pending']} pending, "
        f"{not_run} not run)"
    )
    for kind, count in kinds.most_common():
        print(f"  failures of kind {kind!r}: {count}")
    summary = {
        "passed": passed, "failed": failed, "pending": result["stats"]["pending"],
        "not_run": not_run,
    }  # fmt: skip
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"summary": summary, "kinds": dict(kinds), "tests": tests}, indent=1)
    )
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
