"""The `fireside deploy` command: one step from a template folder to a running stack."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from fireside.deploy.package import PackageError, Packager
from fireside.deploy.stack import Deployment, deploy
from fireside.deploy.template_text import TemplateTextError, dump_template

__all__ = ["add_parser", "run"]

#: Where `sam build` leaves its packaged-ready template.
_TEMPLATES = (".aws-sam/build/template.yaml", "template.yaml", "template.yml", "template.json")
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]


def add_parser(commands: Any, client_options: Any) -> None:
    parser = commands.add_parser(
        "deploy",
        help="deploy a CloudFormation or SAM template as a stack",
        description="Package the template's local artifacts (CodeUri, ContentUri, "
        "DefinitionUri, nested templates...) into Fireside's S3, create or update the stack "
        "through a change set, print its events as they happen, and end with its outputs: "
        "what `sam deploy` gives, against a running Fireside.",
    )
    parser.add_argument(
        "template",
        nargs="?",
        type=Path,
        help="the template (default: .aws-sam/build/template.yaml, else template.yaml, "
        "template.yml or template.json in this folder)",
    )
    parser.add_argument(
        "--stack-name", help="the stack (default: the template folder's name, cleaned)"
    )
    parser.add_argument(
        "--parameter-overrides",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="template parameters; those left out keep their previous values on an update",
    )
    parser.add_argument("--tags", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--s3-bucket",
        help="bucket for artifacts (default fireside-deploy-<account>-<region>, made if missing)",
    )
    parser.add_argument(
        "--capabilities",
        nargs="*",
        default=CAPABILITIES,
        help="capabilities to acknowledge (default: all three; a local deploy trusts its template)",
    )
    parser.add_argument(
        "--no-execute",
        action="store_true",
        help="create the change set and print it, without executing it",
    )
    client_options(parser)


def _pairs(items: list[str], what: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} must be KEY=VALUE, not {item!r}")
        pairs[key] = value
    return pairs


def _template_path(given: Path | None) -> Path:
    if given is not None:
        return given
    for name in _TEMPLATES:
        if Path(name).is_file():
            return Path(name)
    raise ValueError("no template given, and none of " + ", ".join(_TEMPLATES) + " here")


def _stack_name(given: str | None, template: Path) -> str:
    if given:
        return given
    folder = template.resolve().parent
    if folder.name == "build" and folder.parent.name == ".aws-sam":
        folder = folder.parent.parent
    name = re.sub(r"[^A-Za-z0-9-]+", "-", folder.name).strip("-") or "stack"
    return name if name[0].isalpha() else f"s-{name}"


def _bucket(s3: Any, sts: Any, given: str | None, region: str) -> str:
    name = given or f"fireside-deploy-{sts.get_caller_identity()['Account']}-{region}"
    try:
        s3.head_bucket(Bucket=name)
    except ClientError:
        options = (
            {}
            if region == "us-east-1"
            else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        s3.create_bucket(Bucket=name, **options)
    return name


def run(args: argparse.Namespace, client: Any) -> int:
    """`client(service)`: a boto3 client for the running Fireside."""
    try:
        template_path = _template_path(args.template)
        overrides = _pairs(args.parameter_overrides, "--parameter-overrides")
        tags = _pairs(args.tags, "--tags")
        cfn, s3 = client("cloudformation"), client("s3")
        bucket = _bucket(s3, client("sts"), args.s3_bucket, args.region)

        def upload(key: str, data: bytes) -> None:
            try:
                s3.head_object(Bucket=bucket, Key=key)
            except ClientError:
                s3.put_object(Bucket=bucket, Key=key, Body=data)

        def url(key: str) -> str:
            return f"{args.endpoint_url.rstrip('/')}/{bucket}/{key}"

        def upload_template(text: str) -> str:
            key = f"templates/{_stack_name(args.stack_name, template_path)}.json"
            s3.put_object(Bucket=bucket, Key=key, Body=text.encode())
            return url(key)

        packager = Packager(bucket, upload, url)
        template = packager.package_file(template_path)
        print(
            f"Packaged {len(packager.artifacts)} artifact(s) into s3://{bucket}",
            file=sys.stdout,
            flush=True,
        )
        declared = template.get("Parameters")
        plan = Deployment(
            stack_name=_stack_name(args.stack_name, template_path),
            template=dump_template(template),
            parameters=overrides,
            declared=list(declared) if isinstance(declared, dict) else [],
            capabilities=list(args.capabilities),
            tags=tags,
            execute=not args.no_execute,
            upload_template=upload_template,
        )
        return deploy(cfn, plan, sys.stdout)
    except (ValueError, PackageError, TemplateTextError) as error:
        print(f"fireside deploy: {error}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as error:
        print(f"fireside deploy: {error}", file=sys.stderr)
        return 1
