"""Real programs nobody here wrote, deployed on Fireside and invoked: which run unmodified.

The programs (`bench/program_catalog.py`) are published Lambda examples: AWS's Lambda developer
guide sample apps, serverless/examples, aws-samples/serverless-patterns and Powertools for AWS
Lambda (Python and TypeScript). Their code comes from those repositories, fetched beforehand
into one folder (`--repos`: a clone of awsdocs/aws-lambda-developer-guide goes in
DIR/awsdocs+aws-lambda-developer-guide, and so on; the JSON records each one's commit). Their
dependencies come from PyPI, npm and Debian's Ruby gems (cached in `.bench-venvs/programs`; the
Ruby ones need `apt-get install ruby-tzinfo ruby-faker`). Nothing of theirs is copied here.

A program AWS reaches over HTTP (API Gateway REST or HTTP APIs, Function URLs) is wired
through Fireside's front doors as its template wires it and driven with its README's plain
HTTP requests (`--http` runs only those); the others are invoked with their events.

Starts its own Fireside (random port, temporary data dir, default sandbox). A runtime the host
lacks (e.g. `nodejs22.x` on a host with Node.js 20) is run on the nearest host interpreter
through Fireside's `FIRESIDE_<LANG>_<VERSION>` override, and the report says so.
Prints a table and writes JSON (default bench/results/real_programs.json).
Usage: python bench/real_programs.py --repos DIR [-k SUBSTRING] [--http] [--json PATH] [--sandbox NAME]
"""

from __future__ import annotations

import argparse
import base64
import json
import re
import shutil
import subprocess
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from common import ROOT, log, start_server
from program_catalog import PROGRAMS, Call, Program, Reply, Request, Result
from program_deploy import Deployer, pyenv_pythons, python_for


def host_version(command: list[str]) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=20).stdout
    except OSError:
        return ""
    match = re.search(r"(\d+)\.(\d+)", out)
    return f"{match[1]}.{match[2]}" if match else ""


def overrides(programs: list[Program]) -> dict[str, str]:
    """FIRESIDE_* interpreter overrides for the runtimes this host has no interpreter of."""
    env: dict[str, str] = {}
    node, ruby = shutil.which("node"), shutil.which("ruby")
    node_major = host_version(["node", "--version"]).split(".")[0]
    ruby_version = host_version(["ruby", "--version"])
    for program in programs:
        runtime = program.runtime
        if runtime.startswith("nodejs") and node and runtime != f"nodejs{node_major}.x":
            env[f"FIRESIDE_NODE_{runtime[6:-2]}"] = node
        elif runtime.startswith("ruby") and ruby and runtime[4:] != ruby_version:
            env[f"FIRESIDE_RUBY_{runtime[4:].replace('.', '_')}"] = ruby
        elif runtime.startswith("python") and not python_for(runtime[6:]):
            newest = pyenv_pythons()
            env[f"FIRESIDE_PYTHON_{runtime[6:].replace('.', '_')}"] = (
                newest[-1] if newest else "python3"
            )
    return env


def commit_of(repo: Path) -> str | None:
    """The commit a fetched repository is at, to say which version of each program ran (a
    COMMIT file names it for a repository checked out with `git archive`)."""
    if (repo / "COMMIT").is_file():
        return (repo / "COMMIT").read_text().strip()
    out = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True
    )
    return out.stdout.strip() or None


def invoke(d: Deployer, call: Call) -> Result:
    event = call.event() if callable(call.event) else call.event
    out = d.lam.invoke(
        FunctionName=call.function, Payload=json.dumps(event).encode(), LogType="Tail"
    )
    raw = out["Payload"].read()
    try:
        payload: Any = json.loads(raw)
    except ValueError:
        payload = raw.decode(errors="replace")
    log_tail = base64.b64decode(out.get("LogResult", "")).decode(errors="replace")
    return Result(out.get("FunctionError"), payload, log_tail)


def request(d: Deployer, call: Request) -> Reply:
    """Send a program's HTTP request to its front door, as the README's curl does."""
    url = call.url() if callable(call.url) else call.url
    data = call.body
    if data is not None and not isinstance(data, bytes):
        data = json.dumps(data).encode()
    status, headers, body, first_byte = d.http(call.method, url, data, call.headers, sign=call.sign)
    return Reply(status, headers, body, first_byte)


def run(program: Program, port: int, repos: Path) -> dict[str, Any]:
    report: dict[str, Any] = {
        "program": program.key, "language": program.language, "runtime": program.runtime,
        "source": f"{program.repo.replace('+', '/')}: {program.path}", "deployed": program.how,
        "on_aws": program.on_aws, "calls": [],
    }  # fmt: skip
    repo = repos / program.repo
    if not repo.is_dir():
        return {
            **report,
            "outcome": "not run",
            "reason": f"repository {program.repo} not in {repos}",
        }
    d = Deployer(port, re.sub(r"[^a-z0-9]+", "-", program.key.lower()).strip("-")[:40])
    try:
        started = time.perf_counter()
        calls = program.deploy(d, repo)
        report["deploy_s"] = round(time.perf_counter() - started, 1)
        for call in calls:
            if isinstance(call, Request):
                reply = request(d, call)
                difference = call.check(reply)
                report["calls"].append({
                    "call": call.label, "http": True, "as_on_aws": difference is None,
                    "difference": difference, "reply": reply.describe(),
                })  # fmt: skip
                if difference:
                    break
                continue
            result = invoke(d, call)
            difference = call.check(result)
            report["calls"].append({
                "call": call.label, "as_on_aws": difference is None, "difference": difference,
                "function_error": result.error, "payload": result.payload if difference else None,
                "log_tail": result.log[-1500:] if difference else None,
            })  # fmt: skip
            if difference:
                break  # later calls depend on this one
    except Exception as error:  # a program that cannot be deployed is a row, not a crash
        report["calls"].append({"call": "deploy", "as_on_aws": False, "difference": repr(error)[:500],
                                "traceback": traceback.format_exc()[-2000:]})  # fmt: skip
    finally:
        d.close()
    report["trigger"] = program.trigger
    same = bool(report["calls"]) and all(c["as_on_aws"] for c in report["calls"])
    report["outcome"] = "as on AWS" if same else "differs"
    report["reason"] = next((c["difference"] for c in report["calls"] if not c["as_on_aws"]), "")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos", required=True, help="folder holding the fetched repositories")
    parser.add_argument("-k", default="", help="run only programs whose name contains this")
    parser.add_argument("--http", action="store_true", help="only programs AWS reaches over HTTP")
    parser.add_argument("--sandbox", default=None)
    parser.add_argument("--json", default=str(ROOT / "bench" / "results" / "real_programs.json"))
    args = parser.parse_args()
    programs = [p for p in PROGRAMS if args.k in p.key and (p.trigger != "invoke" or not args.http)]
    env = overrides(programs)
    for name, value in sorted(env.items()):
        log(f"host lacks the runtime: {name}={value}")
    reports = []
    with tempfile.TemporaryDirectory() as data:
        process, port = start_server(data, sandbox=args.sandbox, env=env)
        try:
            for program in programs:
                log(f"--- {program.key}")
                reports.append(run(program, port, Path(args.repos)))
                log(f"    {reports[-1]['outcome']} {reports[-1]['reason'][:200]}")
        finally:
            process.terminate()
            process.wait(20)
    print(f"{'program':<52} {'runtime':<11} {'trigger':<9} {'result':<10} why not")
    for r in reports:
        print(
            f"{r['program']:<52} {r['runtime']:<11} {r.get('trigger', ''):<9} {r['outcome']:<10} {' '.join(r['reason'].split())[:150]}"
        )
    same = sum(1 for r in reports if r["outcome"] == "as on AWS")
    print(f"{same}/{len(reports)} programs behave as on AWS")
    commits = {
        repo: commit_of(Path(args.repos) / repo) for repo in sorted({p.repo for p in programs})
    }
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps({"repositories": commits, "overrides": env, "programs": reports}, indent=1)
    )
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
