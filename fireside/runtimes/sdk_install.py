"""`fireside sdks install`: download the AWS SDKs Lambda's images carry into the SDK cache.

Each tree is built under a temporary name in the cache and renamed into place when complete
(`fireside.store.durable.publish_tree`), so an interrupted install leaves nothing half-made and
the next run starts that tree again. Trees already there are kept: the cache works offline.
Progress goes to the `say` callback (the command prints it), with each installer's own output
passed through, since a first install downloads a few hundred megabytes.

- Python: per minor version, with that version's interpreter (`python3.X -m pip install
  --target`), so pip picks the newest boto3 that interpreter supports (python3.9 gets a boto3
  from before 3.9 support ended). Where the interpreter's `ensurepip` bundles setuptools (3.9 to
  3.11, as AWS's images for those runtimes have it) that same setuptools goes in beside it.
- Node.js: one `npm install` of `sdks.node_packages()` (the registry's newest), for nodejs20.x+.
  A tree installed from a shorter list (FIRESIDE_NODE_SDK_PACKAGES set since) is rebuilt and
  replaced by the next install.
- Ruby: `gem install --install-dir` of `sdks.RUBY_GEMS` with the host's RubyGems.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from fireside.runtimes import sdks
from fireside.store.durable import publish_tree

Say = Callable[[str], None]

_ENSUREPIP_PROBE = (
    "import ensurepip, json, os, glob\n"
    "bundled = os.path.join(os.path.dirname(ensurepip.__file__), '_bundled')\n"
    "print(json.dumps({'setuptools': getattr(ensurepip, '_SETUPTOOLS_VERSION', None),\n"
    "    'wheels': glob.glob(os.path.join(bundled, 'setuptools-*.whl'))}))\n"
)


class InstallFailed(Exception):
    """An installer exited with an error; the message has its command and the end of its output."""


def _run(argv: list[str], say: Say, cwd: Path | None = None) -> None:
    say("  $ " + " ".join(argv))
    tail: list[str] = []
    with subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        cwd=cwd,
        text=True,
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            say("    " + line.rstrip())
            tail = [*tail[-19:], line.rstrip()]
    if process.returncode != 0:
        raise InstallFailed(f"{argv[0]} exited with {process.returncode}: " + "\n".join(tail))


def _staging(root: Path) -> Path:
    if not root.is_dir():
        root.mkdir(parents=True)
        for made in (root, root.parent):  # sandboxes mount the trees from here as `nobody`
            os.chmod(made, 0o755)
    return Path(tempfile.mkdtemp(dir=root, prefix=".install-"))


def _publish(staging: Path, root: Path, name: str, contents: dict[str, str]) -> None:
    (staging / sdks.MANIFEST).write_text(json.dumps(contents, indent=1, sort_keys=True) + "\n")
    for dirpath, _dirnames, filenames in os.walk(staging):  # readable by the sandbox's user
        os.chmod(dirpath, 0o755)
        for filename in filenames:
            path = os.path.join(dirpath, filename)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | 0o444)
    target = root / name
    retired: Path | None = None
    if target.exists():  # an older tree: moved aside whole, so `target` is never half-made
        retired = Path(tempfile.mkdtemp(dir=root, prefix=RETIRED)) / name
        os.rename(target, retired)
    try:
        publish_tree(staging, target)
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
        if retired is not None and not target.exists():
            os.rename(retired, target)  # the older tree is better than none
        if sdks.tree(name, root) is None:  # another install won the race: fine
            raise


#: Prefix of the directories that hold trees a newer one replaced. Environments started before
#: keep using theirs (bound, or opened by path under `process`), so they go at the next install.
RETIRED = ".retired-"


def _remove_retired(root: Path) -> None:
    for retired in root.glob(RETIRED + "*"):
        shutil.rmtree(retired, ignore_errors=True)


#: Marks a Python tree whose modules are compiled (trees installed before that lack it).
COMPILED = ".compiled"


def _compile(tree: Path, interpreter: str, say: Say) -> None:
    """Compile a Python tree's modules with the interpreter that will import them, as AWS's
    images ship boto3: without bytecode every cold start compiles botocore again (about 13 s
    of Init in a TCG microvm guest, and most of a second in the other sandboxes).

    Each .pyc is written atomically, so this may run on a published tree in use."""
    if (tree / COMPILED).exists():
        return
    say(f"{tree.name}: compiling its modules with {interpreter}")
    _run([interpreter, "-m", "compileall", "-q", "-j", "0", str(tree)], say)
    for dirpath, dirnames, filenames in os.walk(tree):  # readable by the sandbox's user
        for entry in [*dirnames, *filenames]:
            path = os.path.join(dirpath, entry)
            if not os.path.islink(path):
                os.chmod(path, os.stat(path).st_mode | (0o555 if entry in dirnames else 0o444))
    (tree / COMPILED).write_text("")
    os.chmod(tree / COMPILED, 0o644)


def install_python(version: str, interpreter: str, root: Path, say: Say) -> sdks.Tree:
    name = sdks.python_tree_name(version)
    if (existing := sdks.tree(name, root)) is not None:
        _compile(existing.path, interpreter, say)
        return existing
    say(f"python{version}: boto3 for {interpreter}")
    staging = _staging(root)
    try:
        pip = [interpreter, "-m", "pip", "install", "--disable-pip-version-check", "--no-compile"]
        pip += ["--no-warn-script-location", "--progress-bar", "off"]
        _run([*pip, "--target", str(staging / "runtime"), "boto3"], say)
        site = staging / "site-packages"
        site.mkdir()
        probe = subprocess.run(
            [interpreter, "-c", _ENSUREPIP_PROBE], capture_output=True, text=True, check=False
        )
        bundled = json.loads(probe.stdout) if probe.returncode == 0 else {}
        setuptools = bundled.get("setuptools")
        if setuptools:
            wheels = bundled.get("wheels") or []
            source = wheels[0] if wheels else f"setuptools=={setuptools}"
            say(f"python{version}: setuptools {setuptools}, as its ensurepip bundles it")
            _run([*pip, "--no-deps", "--target", str(site), source], say)
        for leftover in (staging / "runtime" / "bin", site / "bin"):
            shutil.rmtree(leftover, ignore_errors=True)
        contents = {
            k: v
            for k, v in {
                **sdks.dist_versions(staging / "runtime"),
                **sdks.dist_versions(site),
            }.items()
            if k in ("boto3", "botocore", "s3transfer", "urllib3", "setuptools")
        }
        _compile(staging, interpreter, say)
        _publish(staging, root, name, contents)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    found = sdks.tree(name, root)
    assert found is not None
    return found


def install_node(npm: str, root: Path, say: Say, packages: tuple[str, ...]) -> sdks.Tree:
    """One `npm install` of `packages` (the registry's newest). A tree that already holds them
    all is kept; one that lacks some (installed from a shorter list) is rebuilt whole beside it
    and then put in its place (`_publish`)."""
    _remove_retired(root)
    existing = sdks.tree("nodejs", root)
    if existing is not None:
        lacking = [package for package in packages if package not in existing.contents]
        if not lacking:
            return existing
        say(f"nodejs: the installed SDK lacks {len(lacking)} of its {len(packages)} packages")
    say(f"nodejs: the AWS SDK for JavaScript v3 ({len(packages)} packages) from npm")
    staging = _staging(root)
    try:
        (staging / "package.json").write_text('{"private": true}\n')
        argv = [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--omit=dev"]
        argv += ["--no-package-lock", "--loglevel=http", *packages]
        _run(argv, say, cwd=staging)
        contents: dict[str, str] = {}
        for package in packages:
            manifest = staging / "node_modules" / package / "package.json"
            contents[package] = str(json.loads(manifest.read_text())["version"])
        (staging / "package.json").unlink()
        _publish(staging, root, "nodejs", contents)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    found = sdks.tree("nodejs", root)
    assert found is not None
    return found


def install_ruby(gem: str, root: Path, say: Say, gems: tuple[str, ...]) -> sdks.Tree:
    """From RubyGems; failing that (out of reach), the subset Debian packages (`apt-get
    download`, unpacked into the same gem layout: nothing is installed on the host)."""
    if (existing := sdks.tree("ruby", root)) is not None:
        return existing
    say(f"ruby: the AWS SDK for Ruby ({len(gems)} gems) from RubyGems")
    staging = _staging(root)
    try:
        argv = [gem, "install", "--install-dir", str(staging), "--no-document", "--no-user-install"]
        try:
            _run([*argv, *gems], say)
        except InstallFailed:
            apt = shutil.which("apt-get")
            if apt is None:
                raise
            say("ruby: RubyGems failed; taking the gems Debian packages instead")
            _gems_from_debian(apt, staging, say)
        shutil.rmtree(staging / "cache", ignore_errors=True)  # the .gem archives
        contents: dict[str, str] = {}
        for spec in (staging / "specifications").glob("*.gemspec"):
            gem_name, _, version = spec.name.removesuffix(".gemspec").rpartition("-")
            if gem_name.startswith("aws-sdk-"):
                contents[gem_name] = version
        _publish(staging, root, "ruby", contents)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    found = sdks.tree("ruby", root)
    assert found is not None
    return found


def _gems_from_debian(apt: str, staging: Path, say: Say) -> None:
    """Debian's packages of the SDK as a gem directory: each package's gemspec, and its files
    (Debian puts some gems' `lib` under vendor_ruby) in `gems/<name>-<version>/`."""
    downloads = Path(tempfile.mkdtemp(dir=staging.parent, prefix=".debs-"))
    try:
        _run([apt, "download", *sdks.RUBY_DEBIAN_PACKAGES], say, cwd=downloads)
        (staging / "specifications").mkdir(parents=True, exist_ok=True)
        for deb in sorted(downloads.glob("*.deb")):
            unpacked = downloads / deb.stem
            _run(["dpkg-deb", "-x", str(deb), str(unpacked)], say)
            integration = unpacked / "usr/share/rubygems-integration/all"
            for spec in (integration / "specifications").glob("*.gemspec"):
                name = spec.name.removesuffix(".gemspec")
                shutil.copy2(spec, staging / "specifications" / spec.name)
                target = staging / "gems" / name
                if (integration / "gems" / name).is_dir():
                    shutil.copytree(integration / "gems" / name, target, dirs_exist_ok=True)
                vendor = unpacked / "usr/lib/ruby/vendor_ruby"
                if vendor.is_dir():
                    shutil.copytree(vendor, target / "lib", dirs_exist_ok=True)
    finally:
        shutil.rmtree(downloads, ignore_errors=True)


def install_all(say: Say, root: Path | None = None) -> list[str]:
    """Install every SDK this host can run functions with; returns what could not be had."""
    from fireside.runtimes import registry

    root = root or sdks.cache_root()
    missing: list[str] = []
    for version in sdks.PYTHON_VERSIONS:
        interpreter = registry.find_python(version)
        if interpreter is None:
            say(f"python{version}: no interpreter on this host, skipped")
            continue
        try:
            found = install_python(version, interpreter, root, say)
            say(f"python{version}: {found.describe()}")
        except (InstallFailed, OSError) as exc:
            missing.append(f"boto3 for python{version}: {exc}")

    def node(npm: str) -> sdks.Tree:
        return install_node(npm, root, say, sdks.node_packages())

    def ruby(gem: str) -> sdks.Tree:
        return install_ruby(gem, root, say, sdks.RUBY_GEMS)

    installers: tuple[tuple[str, str, Callable[[str], sdks.Tree]], ...] = (
        ("nodejs", "npm", node),
        ("ruby", "gem", ruby),
    )
    for label, tool, install in installers:
        program = shutil.which(tool)
        if program is None:
            missing.append(f"the {label} SDK: no {tool} on PATH")
            continue
        try:
            say(f"{label}: {install(program).describe()}")
        except (InstallFailed, OSError, ValueError, KeyError) as exc:
            missing.append(f"the {label} SDK: {exc}")
    return missing
