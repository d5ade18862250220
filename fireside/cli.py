"""The `fireside` command: `up` starts the server, `deploy` deploys a template as a stack,
`logs` prints a function's logs, `layers` lists layers, `layer build` makes a layer zip from a
folder or a requirements.txt, `tables` lists DynamoDB tables and `tables scan NAME` prints
one's items."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from fireside import __version__
from fireside.app import Fireside, Started
from fireside.compute.logs import LogStore, read_records
from fireside.config import DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, ConfigError, load_settings
from fireside.deploy import command as deploy_command
from fireside.sandbox import SandboxMode

DEFAULT_ACCOUNT = "000000000000"
#: The collector's thresholds once the server is up (young, middle and full passes).
GC_THRESHOLDS = (10_000, 10, 100)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fireside",
        description="Fireside: a self-hosted serverless cloud that speaks AWS. "
        "Point boto3 or the AWS CLI at its endpoint (default http://127.0.0.1:4566).",
    )
    parser.add_argument("--version", action="version", version=f"fireside {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser(
        "up",
        help="run Fireside in the foreground",
        description="Run Fireside in the foreground until Ctrl-C or SIGTERM, which stop every "
        "execution environment and close the store cleanly.",
    )
    up.add_argument("--host", default=None, help=f"address to listen on (default {DEFAULT_HOST})")
    up.add_argument(
        "--port",
        type=int,
        default=None,
        help=f"port to listen on, 0 for any (default {DEFAULT_PORT})",
    )
    up.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"where functions, code, logs and queued events live (default ./{DEFAULT_DATA_DIR})",
    )
    up.add_argument(
        "--sandbox",
        default=None,
        choices=[mode.value for mode in SandboxMode],
        help="how execution environments are contained: namespace (Linux namespaces, "
        "seccomp and cgroup limits; the default where the host supports it), gvisor (the same "
        "under gVisor's runsc: a stronger boundary, ~0.3 s more per cold start), microvm "
        "(each environment in a QEMU microvm guest with its own kernel: the strongest boundary; "
        "seconds per cold start, slow without working KVM) or process (plain child processes, "
        "no isolation)",
    )
    up.add_argument(
        "--tables-backend",
        default=None,
        metavar="URL",
        help="where DynamoDB tables live: sqlite (the default, <data dir>/tables.sqlite) or a "
        "postgresql://user:password@host/db URL shared by several Fireside nodes",
    )
    up.add_argument("--verbose", "-v", action="store_true", help="log debug details")

    logs = commands.add_parser(
        "logs",
        help="print a function's logs",
        description="Print the log lines of a function (START/END/REPORT and what it printed).",
    )
    logs.add_argument("function", help="function name")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing new lines")
    logs.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    logs.add_argument("--region", default="us-east-1")
    logs.add_argument("--account", default=DEFAULT_ACCOUNT)

    layers = commands.add_parser(
        "layers",
        help="list the layers of an account",
        description="List layers (ListLayers on a running Fireside): name, latest version, "
        "compatible runtimes and description.",
    )
    _client_options(layers)

    tables = commands.add_parser(
        "tables",
        help="list DynamoDB tables, or print a table's items",
        description="List the tables of a running Fireside (items, size, key, indexes, "
        "stream), or with `scan NAME` print a table's items as a grid.",
    )
    _client_options(tables)
    table_actions = tables.add_subparsers(dest="action", metavar="ACTION")
    scan = table_actions.add_parser("scan", help="print a table's items")
    scan.add_argument("name", help="table name")
    scan.add_argument("--limit", type=int, default=100, help="items to show (default 100)")
    _client_options(scan)

    topics = commands.add_parser(
        "topics",
        help="list Kafka topics with partitions, end offsets and consumer-group lag",
        description="List the topics of every Kafka broker of a running Fireside (the "
        "default broker on kafka_port and each MSK cluster's): each partition's start and "
        "end offsets, and each consumer group's committed offset and lag (end - committed). "
        "Signed with your AWS credentials when the server requires them.",
    )
    _client_options(topics)

    layer = commands.add_parser(
        "layer",
        help="build or publish a layer",
        description="Build a layer zip, or publish one to a running Fireside.",
    )
    actions = layer.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = actions.add_parser(
        "build",
        help="make a layer zip from a folder or a requirements.txt",
        description="Make a layer zip. From a folder, its contents become /opt (use --prefix "
        "python, nodejs or ruby/gems/3.2.0 when the folder holds just the packages). From a "
        "requirements.txt, pip installs it with the --runtime's interpreter under python/.",
    )
    build.add_argument("source", type=Path, help="a folder, or a requirements.txt")
    build.add_argument("-o", "--output", type=Path, required=True, help="the zip to write")
    build.add_argument("--prefix", default="", help="folder inside the zip for a folder's files")
    build.add_argument("--runtime", default="python3.11", help="python3.X for a requirements.txt")
    publish = actions.add_parser(
        "publish",
        help="publish a layer zip (PublishLayerVersion)",
        description="Publish a zip as the next version of a layer and print its version ARN.",
    )
    publish.add_argument("name", help="layer name")
    publish.add_argument("zip", type=Path, help="the layer zip")
    publish.add_argument("--runtime", action="append", default=[], help="compatible runtime")
    publish.add_argument("--description", default="")
    _client_options(publish)

    deploy_command.add_parser(commands, _client_options)

    sdk = commands.add_parser(
        "sdks",
        help="list or install the AWS SDKs functions get without packaging them",
        description="List the AWS SDKs in the SDK cache, or (install) download those missing "
        "from the package registries: boto3 per Python version, the AWS SDK for JavaScript v3, "
        "the AWS SDK for Ruby. See docs/runtimes.md.",
    )
    sdk.add_argument("action", nargs="?", choices=["list", "install"], default="list")
    return parser


def _client_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--endpoint-url",
        default=f"http://{DEFAULT_HOST}:{DEFAULT_PORT}",
        help="Fireside's endpoint (default http://127.0.0.1:4566)",
    )
    parser.add_argument("--region", default="us-east-1")


def _lambda_client(args: argparse.Namespace, service: str = "lambda") -> Any:
    import boto3

    session = boto3.Session()
    credentials = session.get_credentials()
    return session.client(
        service,
        endpoint_url=args.endpoint_url,
        region_name=args.region,
        aws_access_key_id=credentials.access_key if credentials else DEFAULT_ACCOUNT,
        aws_secret_access_key=credentials.secret_key if credentials else "fireside",
    )


def _layers(args: argparse.Namespace) -> int:
    client = _lambda_client(args)
    rows = []
    for page in client.get_paginator("list_layers").paginate():
        for item in page["Layers"]:
            latest = item["LatestMatchingVersion"]
            runtimes = ",".join(latest.get("CompatibleRuntimes", [])) or "-"
            rows.append((item["LayerName"], str(latest["Version"]), runtimes,
                         latest.get("Description", "")))  # fmt: skip
    if not rows:
        print("no layers", file=sys.stderr)
        return 0
    widths = [max(len(row[i]) for row in [("NAME", "VERSION", "RUNTIMES", ""), *rows])
              for i in range(3)]  # fmt: skip
    for row in [("NAME", "VERSION", "RUNTIMES", "DESCRIPTION"), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
              + "  " + row[3])  # fmt: skip
    return 0


def _tables(args: argparse.Namespace) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from fireside.tables.console import list_tables, scan_table

    session = boto3.Session()
    credentials = session.get_credentials()
    client = session.client(
        "dynamodb",
        endpoint_url=args.endpoint_url,
        region_name=args.region,
        aws_access_key_id=credentials.access_key if credentials else DEFAULT_ACCOUNT,
        aws_secret_access_key=credentials.secret_key if credentials else "fireside",
    )
    try:
        if args.action == "scan":
            print(scan_table(client, args.name, args.limit))
        else:
            print(list_tables(client))
    except (BotoCoreError, ClientError) as exc:
        print(f"fireside: {exc}", file=sys.stderr)
        return 1
    return 0


def _topics(args: argparse.Namespace) -> int:
    import json
    import urllib.error
    import urllib.request

    import boto3
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    from fireside.msk.inventory import render

    request = AWSRequest(method="GET", url=f"{args.endpoint_url}/_fireside/kafka/topics")
    credentials = boto3.Session().get_credentials()
    if credentials is not None:
        SigV4Auth(credentials, "fireside", args.region).add_auth(request)
    prepared = urllib.request.Request(request.url, headers=dict(request.headers))
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            data = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"fireside: cannot read topics from {args.endpoint_url}: {exc}", file=sys.stderr)
        return 1
    print(render(data))
    return 0


def _layer(args: argparse.Namespace) -> int:
    from fireside.layer_build import BuildError, install_requirements, zip_folder

    if args.action == "publish":
        client = _lambda_client(args)
        params: dict[str, Any] = {
            "LayerName": args.name,
            "Content": {"ZipFile": args.zip.read_bytes()},
            "Description": args.description,
        }
        if args.runtime:
            params["CompatibleRuntimes"] = args.runtime
        print(client.publish_layer_version(**params)["LayerVersionArn"])
        return 0
    try:
        if args.source.is_file():
            count = install_requirements(args.source, args.output, args.runtime)
        else:
            count = zip_folder(args.source, args.output, args.prefix)
    except (BuildError, OSError) as exc:
        print(f"fireside: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.output} ({count} files, {args.output.stat().st_size} bytes)")
    return 0


def _up(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings(
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            sandbox=args.sandbox,
            tables_backend=args.tables_backend,
        )
        server = Fireside(settings)
    except (ConfigError, ValueError) as exc:
        print(f"fireside: {exc}", file=sys.stderr)
        return 2

    def started(info: Started) -> None:
        # What start-up built (service models, the app) lives as long as the process: out of
        # the collector's full passes, which otherwise walked all of it (~0.4 s, the event
        # loop stopped) every time enough new objects had survived.
        gc.freeze()
        # Collections sized for a server: 700 new containers (the default) go by in a few
        # invokes, and each pass cost ~0.3 ms; a full pass, which visits everything the
        # survivors refer to (frozen objects included, cache-cold), stalled the loop 10-17 ms
        # about once a second at 128 clients. Cyclic garbage waits a little longer.
        gc.set_threshold(*GC_THRESHOLDS)
        auth = (
            f"{len(settings.credentials)} configured key(s)"
            if settings.credentials
            else "any signature accepted (no credentials configured)"
        )
        print(f"Fireside {__version__} listening on http://{info.host}:{info.port}", flush=True)
        print(f"  data dir: {info.data_dir.resolve()}", flush=True)
        if "kafka" in info.extra:
            print(f"  kafka:    {info.extra['kafka']}", flush=True)
        print(f"  sandbox:  {info.sandbox}", flush=True)
        print(f"  auth:     {auth}", flush=True)
        print(f"  sdks:     {_sdk_summary()}", flush=True)
        if server.sandbox_warning:
            print(f"  warning:  {server.sandbox_warning}", flush=True)
        print("  Ctrl-C to stop.", flush=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await server.run(stop, started)

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        asyncio.run(main())
    print("Fireside stopped.", flush=True)
    # Everything is closed and flushed: skip the interpreter's teardown of a heap holding
    # dozens of service models, which took ~0.9 s after this point (a test run starts and
    # stops the server ~200 times).
    logging.shutdown()
    sys.stderr.flush()
    os._exit(0)


def _logs(args: argparse.Namespace) -> int:
    path = LogStore(args.data_dir / "logs").path(args.account, args.region, args.function)
    if not path.exists() and not args.follow:
        print(f"fireside: no logs for {args.function} in {path.parent}", file=sys.stderr)
        return 1
    try:
        for line in read_records(path, follow=args.follow):
            print(line, flush=args.follow)
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "up":
        return _up(args)
    if args.command == "layers":
        return _layers(args)
    if args.command == "tables":
        return _tables(args)
    if args.command == "layer":
        return _layer(args)
    if args.command == "topics":
        return _topics(args)
    if args.command == "sdks":
        return _sdks(args)
    if args.command == "deploy":
        return deploy_command.run(args, lambda service: _lambda_client(args, service))
    return _logs(args)


def _sdk_summary() -> str:
    """Which AWS SDKs functions get, or how to get them (`make up` installs them first)."""
    from fireside.runtimes import sdks

    names = [tree.name for tree in sdks.installed()]
    if not names:
        return f"none installed in {sdks.cache_root()}: run `fireside sdks install`"
    return ", ".join(names) + " (`fireside sdks` lists versions)"


def _sdks(args: argparse.Namespace) -> int:
    """Installing says what it does as it goes; a registry out of reach is reported, not fatal
    (functions then run without that SDK, and the log says so)."""
    from fireside.runtimes import sdk_install, sdks

    if args.action == "install":
        missing = sdk_install.install_all(lambda line: print(line, flush=True))
        for line in missing:
            print(f"not installed: {line}", file=sys.stderr)
    print(f"AWS SDKs in {sdks.cache_root()}:")
    for tree in sdks.installed():
        print(f"  {tree.name}: {tree.describe()}")
    if not sdks.installed():
        print("  none: `fireside sdks install` downloads them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
