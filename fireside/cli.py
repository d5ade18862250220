"""The `fireside` command: `up` starts the server, `logs` prints a function's logs."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from fireside import __version__
from fireside.app import Fireside, Started
from fireside.compute.logs import LogStore, read_records
from fireside.config import DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, ConfigError, load_settings
from fireside.sandbox import SandboxMode

DEFAULT_ACCOUNT = "000000000000"


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
    return parser


def _up(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        settings = load_settings(
            host=args.host, port=args.port, data_dir=args.data_dir, sandbox=args.sandbox
        )
        server = Fireside(settings)
    except (ConfigError, ValueError) as exc:
        print(f"fireside: {exc}", file=sys.stderr)
        return 2

    def started(info: Started) -> None:
        auth = (
            f"{len(settings.credentials)} configured key(s)"
            if settings.credentials
            else "any signature accepted (no credentials configured)"
        )
        print(f"Fireside {__version__} listening on http://{info.host}:{info.port}", flush=True)
        print(f"  data dir: {info.data_dir.resolve()}", flush=True)
        print(f"  sandbox:  {info.sandbox}", flush=True)
        print(f"  auth:     {auth}", flush=True)
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
    return 0


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
    return _logs(args)


if __name__ == "__main__":
    sys.exit(main())
