"""Deploying other people's Lambda programs by hand: packaging their dependencies from the
registries (PyPI, npm, Debian's Ruby gems), and creating what their templates would create.

SAM and CloudFormation are not served by Fireside yet, so `Deployer` does with boto3 what a
template's resources amount to (a table, a bucket, a layer version, a function with its
environment), and says so in the report. Downloads are cached under `.bench-venvs/programs`.
"""

from __future__ import annotations

import glob
import hashlib
import io
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from common import ROLE, ROOT, log

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

    def close(self) -> None:
        for name in self.functions:
            try:
                self.lam.delete_function(FunctionName=name)
            except Exception as error:  # a failed deletion must not hide the results
                log(f"could not delete {name}: {error}")
        shutil.rmtree(self.scratch, ignore_errors=True)
