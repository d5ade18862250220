"""The AWS SDKs Lambda's images preinstall, kept once per machine for every environment.

AWS pins an SDK per runtime image: boto3 and botocore for Python (plus setuptools on the images
whose interpreter bundles it, python3.9 to python3.11), the AWS SDK for JavaScript v3 for
Node.js, and the AWS SDK for Ruby. Fireside installs the same from the package registries once
(`fireside sdks install`, which `make up` and `make test` run) into a cache that works offline
afterwards, and shows it in every sandbox at `/var/runtime` (`fireside.sandbox.share`):

    <cache>/python3.X/runtime/        boto3, botocore and their dependencies, for Python 3.X
    <cache>/python3.X/site-packages/  setuptools, as in the image's /var/lang site-packages
    <cache>/nodejs/node_modules/      @aws-sdk/* (and @smithy/*), seen as /var/runtime/node_modules
    <cache>/ruby/                     gems/ and specifications/ of aws-sdk-*, on GEM_PATH

Each tree carries `manifest.json` with what it holds and is published whole (a temporary name,
then a rename), so a tree that exists is complete. What is missing is named in the log when an
environment starts, and the runtime starts without it.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

#: Python minor versions Lambda runs (python3.9 and later).
PYTHON_VERSIONS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")

#: What `npm install` puts under /var/runtime/node_modules: the clients functions use most and
#: the libraries Lambda's images carry beside them. AWS preinstalls every client, but all of
#: them cost 7 minutes and 1.7 GB here (docs/runtimes.md), so they are opt-in (`node_packages`).
NODE_PACKAGES = (
    "@aws-sdk/client-apigatewaymanagementapi",
    "@aws-sdk/client-cloudwatch",
    "@aws-sdk/client-cloudwatch-logs",
    "@aws-sdk/client-dynamodb",
    "@aws-sdk/client-dynamodb-streams",
    "@aws-sdk/client-eventbridge",
    "@aws-sdk/client-kafka",
    "@aws-sdk/client-kinesis",
    "@aws-sdk/client-kms",
    "@aws-sdk/client-lambda",
    "@aws-sdk/client-s3",
    "@aws-sdk/client-secrets-manager",
    "@aws-sdk/client-ses",
    "@aws-sdk/client-sns",
    "@aws-sdk/client-sqs",
    "@aws-sdk/client-ssm",
    "@aws-sdk/client-sts",
    "@aws-sdk/credential-providers",
    "@aws-sdk/lib-dynamodb",
    "@aws-sdk/lib-storage",
    "@aws-sdk/s3-request-presigner",
    "@aws-sdk/util-dynamodb",
)

#: Every `@aws-sdk/client-*` package and the libraries beside them, one name a line: what
#: FIRESIDE_NODE_SDK_PACKAGES=all installs.
NODE_PACKAGES_FILE = Path(__file__).with_name("node_sdk_packages.txt")


def node_packages() -> tuple[str, ...]:
    """The JavaScript SDK's packages to install: `NODE_PACKAGES` and the names in
    `FIRESIDE_NODE_SDK_PACKAGES` (separated by spaces), where `all` stands for every package
    in `NODE_PACKAGES_FILE`, the whole SDK as AWS's images have it."""
    extra: list[str] = []
    for name in os.environ.get("FIRESIDE_NODE_SDK_PACKAGES", "").split():
        if name == "all":
            lines = NODE_PACKAGES_FILE.read_text().splitlines()
            extra += [line.strip() for line in lines if line.strip() and line[0] != "#"]
        else:
            extra.append(name)
    return tuple(dict.fromkeys([*NODE_PACKAGES, *extra]))


#: The AWS SDK for Ruby: its core and the service gems functions here use most.
RUBY_GEMS = (
    "aws-sdk-core",
    "aws-sdk-apigatewaymanagementapi",
    "aws-sdk-dynamodb",
    "aws-sdk-dynamodbstreams",
    "aws-sdk-kms",
    "aws-sdk-lambda",
    "aws-sdk-s3",
    "aws-sdk-sns",
    "aws-sdk-sqs",
)

#: Where RubyGems is out of reach: the part of the SDK that Debian packages (the core, S3 and
#: KMS, with their dependencies), unpacked into the same layout.
RUBY_DEBIAN_PACKAGES = (
    "ruby-aws-eventstream",
    "ruby-aws-partitions",
    "ruby-aws-sdk-core",
    "ruby-aws-sdk-kms",
    "ruby-aws-sdk-s3",
    "ruby-aws-sigv4",
    "ruby-jmespath",
)

MANIFEST = "manifest.json"

#: The Ruby tree's parts, bound at /var/runtime/<part> (/var/runtime is on GEM_PATH).
RUBY_PARTS = ("gems", "specifications")

#: Where runtimes bind the SDK trees under /var/runtime (empty directories there).
MOUNT_POINTS = (*(f"python{v}" for v in PYTHON_VERSIONS), "node_modules", *RUBY_PARTS)


def cache_root() -> Path:
    """`FIRESIDE_SDK_CACHE`; else, for root, `/var/cache/fireside/sdks`, which the sandboxes'
    unprivileged user can reach (they mount its trees as they are); else
    `$XDG_CACHE_HOME/fireside/sdks` (`~/.cache/...`)."""
    configured = os.environ.get("FIRESIDE_SDK_CACHE")
    if configured:
        return Path(configured)
    if os.geteuid() == 0:
        return Path("/var/cache/fireside/sdks")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "fireside" / "sdks"


@dataclass(frozen=True, slots=True)
class Tree:
    """One installed SDK tree and what its manifest says it holds."""

    name: str
    path: Path
    contents: dict[str, str]

    def describe(self) -> str:
        return ", ".join(f"{key} {value}" for key, value in sorted(self.contents.items()))


def tree(name: str, root: Path | None = None) -> Tree | None:
    """The installed tree `name` (`python3.9`, `nodejs`, `ruby`), or None when missing."""
    path = (root or cache_root()) / name
    try:
        contents = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return Tree(name, path, {str(k): str(v) for k, v in contents.items()})


def python_tree_name(version: str) -> str:
    return f"python{version}"


def installed(root: Path | None = None) -> list[Tree]:
    """Every complete tree in the cache, by name."""
    names = [python_tree_name(v) for v in PYTHON_VERSIONS] + ["nodejs", "ruby"]
    return [found for name in names if (found := tree(name, root)) is not None]


def host_boto3_supports(version: str) -> bool:
    """Whether the server's own boto3 (the fallback when the cache has none for `version`)
    declares support for Python `version` (its Requires-Python floor)."""
    try:
        requires = importlib.metadata.metadata("boto3")["Requires-Python"] or ""
    except importlib.metadata.PackageNotFoundError:
        return False
    floor = re.search(r">=\s*3\.(\d+)", requires)
    minor = int(version.split(".")[1])
    return floor is None or minor >= int(floor[1])


def reachable(path: Path) -> bool:
    """Whether the sandboxes' unprivileged user can reach `path` (every ancestor traversable
    by others): bubblewrap resolves bind sources as that user."""
    current = path.resolve()
    for part in [current, *current.parents]:
        try:
            if not os.stat(part).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


_warned: set[str] = set()


def warn_unreachable(path: Path) -> None:
    warning = (
        f"the AWS SDKs in {path.parent} are out of reach of the sandboxes' user, so functions "
        f"run without them; set FIRESIDE_SDK_CACHE to a directory every user can traverse and "
        f"run `fireside sdks install`"
    )
    if warning not in _warned:
        _warned.add(warning)
        log.warning("%s", warning)


def warn_missing(what: str) -> None:
    """Say once per process that an SDK is missing, and how to get it."""
    message = (
        f"{what} is not installed, so functions run without it; `fireside sdks install` "
        f"installs it into {cache_root()} (make up and make test run it)"
    )
    if what not in _warned:
        _warned.add(what)
        log.warning("%s", message)


def dist_versions(directory: Path) -> dict[str, str]:
    """`{name: version}` of the distributions pip installed into `directory`."""
    found: dict[str, str] = {}
    for info in directory.glob("*.dist-info"):
        match = re.fullmatch(r"(.+?)-([^-]+)\.dist-info", info.name)
        if match:
            found[match[1].lower().replace("_", "-")] = match[2]
    return found
