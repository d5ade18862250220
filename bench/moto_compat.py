"""Compatibility: moto's own test suites, unmodified, against a Fireside server.

moto's tests run in "server mode" (`TEST_SERVER_MODE=true`), where its `mock_aws` decorator
sends every boto3 call to `TEST_SERVER_MODE_ENDPOINT` instead of mocking. The suite comes from
the moto sdist on PyPI (same version as the moto installed in `.bench-venvs/moto`, see
`bench/tables.py`); its files are not changed. `--suite` picks what runs:

- `dynamodb` (default): `tests/test_dynamodb`, with a pytest plugin that deletes every table
  and backup before each test module (what moto's `/moto-api/reset` does for its own server),
  so tests that reuse fixed table names start clean;
- `lambda_policy`: `tests/test_awslambda/test_lambda_policy.py` (AddPermission,
  RemovePermission, GetPolicy), with a plugin that answers moto's `get_role_name()` helper with
  a role ARN (it creates the role through IAM, which Fireside does not have). The tests expect
  moto's default account, 123456789012, so the client signs with that account id as its key
  (the plugin turns off moto's `mock_credentials`, which would replace it);
- `lambda_url`: `tests/test_awslambda/test_lambda_function_urls.py` (the Function URL
  configuration operations), set up as `lambda_policy`;
- `apigatewayv2`: `tests/test_apigatewayv2` (HTTP and WebSocket APIs' control plane), with a
  plugin that deletes every API before each test (moto's tests start from an empty backend),
  signing with account 123456789012 as `lambda_policy` does;
- `apigateway`: `tests/test_apigateway` (REST APIs), set up as `apigatewayv2`, its plugin
  deleting every REST API, usage plan and API key;
- `events`: `tests/test_events` (EventBridge), set up as `apigatewayv2`, its plugin deleting
  every rule (targets first) and custom event bus;
- `sns`: `tests/test_sns`, with a plugin that deletes every topic and queue before each test,
  signing with account 123456789012 as `lambda_policy` does; `sns_with_policies` is the same
  run with each subscribed queue given the policy AWS requires (moto's tests leave it out);
- `sqs`: `tests/test_sqs`, with a plugin that deletes every queue before each test (some tests
  count the account's queues), signing with account 123456789012 as `lambda_policy` does.
  `test_sqs_integration.py` is left out: it waits, without a limit, for a function that an
  SQS event-source mapping (not built yet) would invoke;
- `scheduler`: `tests/test_scheduler` (EventBridge Scheduler), set up as `apigatewayv2`, its
  plugin deleting every schedule group but `default` and every schedule.
- `logs`: `tests/test_logs` (CloudWatch Logs: groups, streams, events, filters, tags), set up
  as `apigatewayv2`, its plugin deleting every log group.
- `elbv2`: `tests/test_elbv2` (Application Load Balancers' control plane), its plugin
  deleting every load balancer and target group, then (as `ec2`'s) every EC2 networking
  record but the default VPC's: most of these tests make a VPC, subnets and security groups
  through EC2 first;
- `ec2`: moto's VPC, subnet, security group, internet gateway and route table tests
  (`tests/test_ec2/test_{vpcs,subnets,security_groups,internet_gateways,route_tables}.py`),
  its plugin deleting every EC2 networking record but the default VPC's;
- `cloudformation`: `tests/test_cloudformation` (stacks, change sets, exports, nested stacks,
  custom resources) but moto's parser and URL unit tests, its plugin deleting every stack
  before each test, with `lambda_policy`'s role helper.

Prints passed/run for all tests and for the ones moto marks `aws_verified` (checked against
real AWS), and writes the per-test outcomes to bench/results/moto_compat[_<suite>].json.
Usage: python bench/moto_compat.py
       [--suite dynamodb|lambda_policy|lambda_url|lambda_esm|s3_notifications|apigatewayv2|
        apigateway|events|sqs|scheduler|sns|logs|cloudformation|elbv2|ec2|
        sns_with_policies]
       [-k EXPR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

from common import ROOT, log, start_server

MOTO_VENV = ROOT / ".bench-venvs" / "moto"
CACHE = ROOT / ".bench-venvs" / "moto-suite"
DYNAMODB_PLUGIN = """
import os

import boto3
import pytest

REGIONS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1",
           "ap-southeast-1", "ap-northeast-1", "ap-south-1", "ca-central-1"]


def _reset():
    endpoint = os.environ["TEST_SERVER_MODE_ENDPOINT"]
    for region in REGIONS:
        client = boto3.client(
            "dynamodb", endpoint_url=endpoint, region_name=region,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )
        for page in client.get_paginator("list_tables").paginate():
            for name in page["TableNames"]:
                try:
                    client.update_table(TableName=name, DeletionProtectionEnabled=False)
                except Exception:
                    pass
                client.delete_table(TableName=name)
        for page in client.get_paginator("list_backups").paginate(BackupType="ALL"):
            for backup in page["BackupSummaries"]:
                client.delete_backup(BackupArn=backup["BackupArn"])


@pytest.fixture(autouse=True, scope="module")
def _fireside_reset():
    _reset()
    yield


@pytest.fixture(autouse=True)
def _fireside_clean_slate(request):
    # moto resets its whole state for every test; these tests count what the account holds.
    if request.node.get_closest_marker("requires_clean_slate"):
        _reset()
    yield
"""
LAMBDA_PLUGIN = """
import os
import sys

ROLE = "arn:aws:iam::123456789012:role/my-path/my-role"


def pytest_sessionstart(session):
    from moto.core.config import default_user_config

    # Keep the caller's key (the account id) instead of moto's fake one.
    default_user_config.setdefault("core", {})["mock_credentials"] = False
    sys.path.insert(0, os.getcwd())
    from tests.test_awslambda import utilities

    utilities.get_role_name = lambda region=None: ROLE
    # moto's tests name the newest runtime (python3.14); this host's interpreters may stop
    # earlier, and a runtime the host lacks is refused at CreateFunction, not run.
    utilities.PYTHON_VERSION = os.environ.get("MOTO_LAMBDA_RUNTIME", "python3.11")
"""
#: The plugin of a suite whose tests count what an account holds: each test starts from an
#: empty account, as moto's in-process backend does (`{cleanup}`: the body of a loop over
#: REGIONS with a boto3 `client` of the suite's service).
CLEAN_SLATE_PLUGIN = """
import os

import boto3
import pytest

REGIONS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1",
           "ap-southeast-1", "ap-northeast-1"]


def pytest_sessionstart(session):
    from moto.core.config import default_user_config

    # Keep the caller's key (the account id) instead of moto's fake one.
    default_user_config.setdefault("core", {{}})["mock_credentials"] = False


@pytest.fixture(autouse=True)
def _fireside_clean_slate():
    endpoint = os.environ["TEST_SERVER_MODE_ENDPOINT"]
    for region in REGIONS:
        client = boto3.client("{service}", endpoint_url=endpoint, region_name=region)
{cleanup}
    yield
"""


def clean_slate(service: str, cleanup: str) -> str:
    """`CLEAN_SLATE_PLUGIN` for `service`; `cleanup` is written at the loop's depth."""
    body = "\n".join("        " + line if line else "" for line in cleanup.strip("\n").split("\n"))
    return CLEAN_SLATE_PLUGIN.format(service=service, cleanup=body)


APIGATEWAYV2_PLUGIN = clean_slate(
    "apigatewayv2",
    """
for api in client.get_apis()["Items"]:
    client.delete_api(ApiId=api["ApiId"])
""",
)
APIGATEWAY_PLUGIN = clean_slate(
    "apigateway",
    """
for api in client.get_rest_apis(limit=500)["items"]:
    client.delete_rest_api(restApiId=api["id"])
for plan in client.get_usage_plans()["items"]:
    client.delete_usage_plan(usagePlanId=plan["id"])
for key in client.get_api_keys()["items"]:
    client.delete_api_key(apiKey=key["id"])
""",
)
EVENTS_PLUGIN = clean_slate(
    "events",
    """
for archive in client.list_archives()["Archives"]:
    client.delete_archive(ArchiveName=archive["ArchiveName"])
for bus in client.list_event_buses()["EventBuses"]:
    for rule in client.list_rules(EventBusName=bus["Name"])["Rules"]:
        ids = [t["Id"] for t in client.list_targets_by_rule(
            Rule=rule["Name"], EventBusName=bus["Name"])["Targets"]]
        if ids:
            client.remove_targets(Rule=rule["Name"], EventBusName=bus["Name"], Ids=ids)
        client.delete_rule(Name=rule["Name"], EventBusName=bus["Name"])
    if bus["Name"] != "default":
        client.delete_event_bus(Name=bus["Name"])
""",
)
SCHEDULER_PLUGIN = clean_slate(
    "scheduler",
    """
for group in client.list_schedule_groups()["ScheduleGroups"]:
    if group["Name"] != "default":
        client.delete_schedule_group(Name=group["Name"])
for schedule in client.list_schedules()["Schedules"]:
    client.delete_schedule(Name=schedule["Name"], GroupName=schedule["GroupName"])
""",
)
LOGS_PLUGIN = clean_slate(
    "logs",
    """
for page in client.get_paginator("describe_log_groups").paginate():
    for group in page["logGroups"]:
        client.delete_log_group(logGroupName=group["logGroupName"])
""",
)
CLOUDFORMATION_PLUGIN = clean_slate(
    "cloudformation",
    """
for page in client.get_paginator("list_stacks").paginate():
    for stack in page["StackSummaries"]:
        if stack["StackStatus"] not in ("DELETE_COMPLETE", "DELETE_IN_PROGRESS"):
            client.delete_stack(StackName=stack["StackId"])
""",
)
#: Removes every EC2 networking record but the default VPC's (`client`: an ec2 client).
EC2_CLEANUP = """
for nat in client.describe_nat_gateways()["NatGateways"]:
    if nat["State"] != "deleted":
        client.delete_nat_gateway(NatGatewayId=nat["NatGatewayId"])
for address in client.describe_addresses()["Addresses"]:
    client.release_address(AllocationId=address["AllocationId"])
default_vpc = [v["VpcId"] for v in client.describe_vpcs()["Vpcs"] if v["IsDefault"]]
for table in client.describe_route_tables()["RouteTables"]:
    if table["VpcId"] in default_vpc:
        continue
    for association in table.get("Associations", []):
        if not association.get("Main"):
            client.disassociate_route_table(AssociationId=association["RouteTableAssociationId"])
    if not any(a.get("Main") for a in table.get("Associations", [])):
        client.delete_route_table(RouteTableId=table["RouteTableId"])
for gateway in client.describe_internet_gateways()["InternetGateways"]:
    attached = [a["VpcId"] for a in gateway.get("Attachments", [])]
    if any(v in default_vpc for v in attached):
        continue
    for vpc_id in attached:
        client.detach_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"], VpcId=vpc_id)
    client.delete_internet_gateway(InternetGatewayId=gateway["InternetGatewayId"])
groups = client.describe_security_groups()["SecurityGroups"]
for group in groups:
    for key, revoke in (("IpPermissions", client.revoke_security_group_ingress),
                        ("IpPermissionsEgress", client.revoke_security_group_egress)):
        if group["GroupName"] != "default" and group.get(key):
            revoke(GroupId=group["GroupId"], IpPermissions=group[key])
for group in groups:
    if group["GroupName"] != "default":
        client.delete_security_group(GroupId=group["GroupId"])
for subnet in client.describe_subnets()["Subnets"]:
    if subnet["VpcId"] not in default_vpc:
        client.delete_subnet(SubnetId=subnet["SubnetId"])
for vpc in client.describe_vpcs()["Vpcs"]:
    if not vpc["IsDefault"]:
        client.delete_vpc(VpcId=vpc["VpcId"])
"""
ELBV2_PLUGIN = clean_slate(
    "elbv2",
    """
for lb in client.describe_load_balancers()["LoadBalancers"]:
    client.modify_load_balancer_attributes(
        LoadBalancerArn=lb["LoadBalancerArn"],
        Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}],
    )
    client.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
for group in client.describe_target_groups()["TargetGroups"]:
    client.delete_target_group(TargetGroupArn=group["TargetGroupArn"])
client = boto3.client("ec2", endpoint_url=endpoint, region_name=region)
"""
    + EC2_CLEANUP,
)
EC2_PLUGIN = clean_slate("ec2", EC2_CLEANUP)
SQS_PLUGIN = clean_slate(
    "sqs",
    """
for url in client.list_queues().get("QueueUrls", []):
    client.delete_queue(QueueUrl=url)
""",
)
SNS_PLUGIN = clean_slate(
    "sns",
    """
for page in client.get_paginator("list_topics").paginate():
    for topic in page["Topics"]:
        client.delete_topic(TopicArn=topic["TopicArn"])
sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=region)
for url in sqs.list_queues().get("QueueUrls", []):
    sqs.delete_queue(QueueUrl=url)
""",
)

#: `sns_with_policies`: moto's SNS tests subscribe queues without the queue policy AWS requires
#: (`sns.amazonaws.com` allowed to send for the topic; moto does not check it). This variant
#: adds that policy whenever a test subscribes a queue, so the tests measure delivery, filter
#: policies and envelopes rather than the (intended) refusals.
SNS_POLICY_PLUGIN = (
    SNS_PLUGIN
    + """

import json

import botocore.client

_make_api_call = botocore.client.BaseClient._make_api_call


def _granting(self, operation, params):
    if operation == "Subscribe" and params.get("Protocol") == "sqs":
        parts = str(params.get("Endpoint", "")).split(":")
        if len(parts) == 6:
            sqs = boto3.client(
                "sqs", endpoint_url=os.environ["TEST_SERVER_MODE_ENDPOINT"], region_name=parts[3]
            )
            try:
                url = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])
                policy = {"Statement": [{"Effect": "Allow",
                          "Principal": {"Service": "sns.amazonaws.com"},
                          "Action": "sqs:SendMessage", "Resource": params["Endpoint"]}]}
                sqs.set_queue_attributes(
                    QueueUrl=url["QueueUrl"], Attributes={"Policy": json.dumps(policy)}
                )
            except Exception:
                pass
    return _make_api_call(self, operation, params)


botocore.client.BaseClient._make_api_call = _granting
"""
)


@dataclass(frozen=True)
class Suite:
    path: str
    plugin: str
    env: dict[str, str] = field(default_factory=dict)
    #: Extra pytest arguments (e.g. `--ignore` for tests that cannot end).
    args: tuple[str, ...] = ()


SUITES = {
    "dynamodb": Suite("tests/test_dynamodb", DYNAMODB_PLUGIN),
    "lambda_policy": Suite(
        "tests/test_awslambda/test_lambda_policy.py",
        LAMBDA_PLUGIN,
        {
            "AWS_ACCESS_KEY_ID": "123456789012",
            "AWS_DEFAULT_REGION": "us-west-2",
        },
    ),
    "lambda_url": Suite(
        "tests/test_awslambda/test_lambda_function_urls.py",
        LAMBDA_PLUGIN,
        {"AWS_ACCESS_KEY_ID": "123456789012", "AWS_DEFAULT_REGION": "us-west-2"},
    ),
    "apigatewayv2": Suite(
        "tests/test_apigatewayv2",
        APIGATEWAYV2_PLUGIN,
        {"AWS_ACCESS_KEY_ID": "123456789012", "AWS_DEFAULT_REGION": "us-west-2"},
    ),
    "events": Suite(
        "tests/test_events",
        EVENTS_PLUGIN,
        {"AWS_ACCESS_KEY_ID": "123456789012", "AWS_DEFAULT_REGION": "us-east-1"},
    ),
    "sqs": Suite(
        "tests/test_sqs",
        SQS_PLUGIN,
        {"AWS_ACCESS_KEY_ID": "123456789012", "AWS_DEFAULT_REGION": "us-east-1"},
        ("--ignore=tests/test_sqs/test_sqs_integration.py",),
    ),
    "sns": Suite(
        "tests/test_sns",
        SNS_PLUGIN,
        {"AWS_ACCESS_KEY_ID": "123456789012", "AWS_DEFAULT_REGION": "us-east-1"},
    ),
    "sns_with_policies": Suite(
        "tests/test_sns",
        SNS_POLICY_PLUGIN,
        {"AWS_ACCESS_KEY_ID": "123456789012", "AWS_DEFAULT_REGION": "us-east-1"},
    ),
    "scheduler": Suite(
        "tests/test_scheduler",
        SCHEDULER_PLUGIN,
        {"AWS_ACCESS_KEY_ID": "123456789012", "AWS_DEFAULT_REGION": "eu-west-1"},
    ),
    "lambda_esm": Suite(
        "tests/test_awslambda/test_lambda_eventsourcemapping.py",
        LAMBDA_PLUGIN,
        {"AWS_ACCESS_KEY_ID": "123456789012", "AWS_DEFAULT_REGION": "us-east-1"},
    ),
    "s3_notifications": Suite(
        "tests/test_s3/test_s3_notifications.py",
        LAMBDA_PLUGIN,
        {"AWS_ACCESS_KEY_ID": "123456789012", "AWS_DEFAULT_REGION": "us-east-1"},
        (
            "tests/test_s3/test_s3_lambda_integration.py",
            "tests/test_s3/test_s3_eventbridge_integration.py",
        ),
    ),
    "logs": Suite(
        "tests/test_logs/test_logs.py",
        LOGS_PLUGIN,
        {"AWS_ACCESS_KEY_ID": "123456789012", "AWS_DEFAULT_REGION": "us-east-1"},
        ("tests/test_logs/test_logs_filter_log_events.py", "tests/test_logs/test_logs_tags.py"),
    ),
    "cloudformation": Suite(
        "tests/test_cloudformation",
        # (LAMBDA_PLUGIN's pytest_sessionstart, defined last, does what the first one does too.)
        CLOUDFORMATION_PLUGIN + LAMBDA_PLUGIN,
        {"AWS_ACCESS_KEY_ID": "123456789012", "AWS_DEFAULT_REGION": "us-east-1"},
        # Unit tests of moto's own parser and its server's URL routing, not of an API.
        (
            "--ignore=tests/test_cloudformation/test_stack_parsing.py",
            "--ignore=tests/test_cloudformation/test_server.py",
        ),
    ),
    "elbv2": Suite(
        "tests/test_elbv2",
        ELBV2_PLUGIN,
        {"AWS_ACCESS_KEY_ID": "123456789012", "AWS_DEFAULT_REGION": "us-east-1"},
    ),
    "ec2": Suite(
        "tests/test_ec2/test_vpcs.py",
        EC2_PLUGIN,
        {"AWS_ACCESS_KEY_ID": "123456789012", "AWS_DEFAULT_REGION": "us-east-1"},
        (
            "tests/test_ec2/test_subnets.py",
            "tests/test_ec2/test_security_groups.py",
            "tests/test_ec2/test_internet_gateways.py",
            "tests/test_ec2/test_route_tables.py",
        ),
    ),
    "apigateway": Suite(
        "tests/test_apigateway",
        APIGATEWAY_PLUGIN,
        {"AWS_ACCESS_KEY_ID": "123456789012", "AWS_DEFAULT_REGION": "us-west-2"},
    ),
}


def ensure_suite() -> Path:
    """The moto sdist's tests for the installed moto version (downloaded once)."""
    if not (MOTO_VENV / "bin" / "moto_server").exists():
        raise SystemExit("run bench/tables.py once first: it installs moto into .bench-venvs/moto")
    version = subprocess.run(
        [str(MOTO_VENV / "bin" / "python"), "-c", "import moto; print(moto.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    root = CACHE / f"moto-{version}"
    if not root.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        log(f"downloading the moto {version} sdist...")
        subprocess.run(
            [str(MOTO_VENV / "bin" / "pip"), "download", "--quiet", "--no-binary", ":all:",
             "--no-deps", f"moto=={version}", "-d", str(CACHE)],
            check=True,
        )  # fmt: skip
        with tarfile.open(CACHE / f"moto-{version}.tar.gz") as archive:
            archive.extractall(CACHE, filter="data")
        subprocess.run(
            [str(MOTO_VENV / "bin" / "pip"), "install", "--quiet", "pytest", "freezegun"],
            check=True,
        )
    return root


def verified_tests(root: Path, env: dict[str, str], path: str) -> set[str]:
    out = subprocess.run(
        [str(MOTO_VENV / "bin" / "python"), "-m", "pytest", path,
         "-m", "aws_verified", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=root, env=env, capture_output=True, text=True,
    )  # fmt: skip
    return {line.strip() for line in out.stdout.splitlines() if "::" in line}


def outcomes(report: Path) -> dict[str, str]:
    """Per-test outcome by pytest node id, from a junit report in the xunit1 family."""
    results: dict[str, str] = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        file_path = case.get("file", "")
        module = file_path[: -len(".py")].replace("/", ".")
        classname = case.get("classname", "")
        owner = classname[len(module) + 1 :] if classname.startswith(module + ".") else ""
        name = "::".join(part for part in (file_path, owner, case.get("name", "")) if part)
        if case.find("skipped") is not None:
            results[name] = "skipped"
        elif case.find("failure") is not None or case.find("error") is not None:
            results[name] = "failed"
        else:
            results[name] = "passed"
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", choices=sorted(SUITES), default="dynamodb")
    parser.add_argument("-k", default=None, help="pytest -k expression")
    parser.add_argument("--json", default=None, help="default: bench/results/moto_compat*.json")
    args = parser.parse_args()
    suite = SUITES[args.suite]
    default_name = (
        "moto_compat.json" if args.suite == "dynamodb" else f"moto_compat_{args.suite}.json"
    )
    args.json = args.json or str(ROOT / "bench" / "results" / default_name)
    root = ensure_suite()
    with tempfile.TemporaryDirectory() as data, tempfile.TemporaryDirectory() as plugin_dir:
        Path(plugin_dir, "fireside_reset.py").write_text(suite.plugin)
        # moto's tests reuse queue names after its reset; AWS's 60 s wait would refuse them.
        reuse = args.suite in ("sqs", "sns", "sns_with_policies")  # SNS's tests make queues too
        server_env = {"FIRESIDE_SQS_NAME_REUSE_WAIT": "0"} if reuse else None
        process, port = start_server(data, sandbox="process", env=server_env)
        try:
            env = {
                **os.environ,
                "TEST_SERVER_MODE": "true",
                "TEST_SERVER_MODE_ENDPOINT": f"http://127.0.0.1:{port}",
                "MOTO_CALL_RESET_API": "false",
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
                "PYTHONPATH": plugin_dir,
                **suite.env,
            }
            verified = verified_tests(root, env, suite.path)
            report = Path(data) / "report.xml"
            command = [
                str(MOTO_VENV / "bin" / "python"), "-m", "pytest", suite.path,
                "-p", "fireside_reset", "-p", "no:cacheprovider", "-q", "-rf", "--tb=line",
                f"--junitxml={report}", "-o", "junit_family=xunit1",
            ]  # fmt: skip
            command += suite.args
            if args.k:
                command += ["-k", args.k]
            log(f"running moto's {suite.path} against Fireside...")
            subprocess.run(command, cwd=root, env=env, stdout=sys.stderr)
            results = outcomes(report)
        finally:
            process.terminate()
            process.wait(20)
    ran = {n: r for n, r in results.items() if r != "skipped"}
    passed = sum(1 for r in ran.values() if r == "passed")
    in_verified = {n: r for n, r in ran.items() if n in verified}
    verified_passed = sum(1 for r in in_verified.values() if r == "passed")
    summary = {
        "run": len(ran),
        "passed": passed,
        "skipped": len(results) - len(ran),
        "aws_verified_run": len(in_verified),
        "aws_verified_passed": verified_passed,
    }
    print(f"all tests:          {passed}/{len(ran)} passed ({summary['skipped']} skipped)")
    if in_verified:
        share = 100 * verified_passed / len(in_verified)
        print(f"aws_verified tests: {verified_passed}/{len(in_verified)} passed ({share:.1f}%)")
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"summary": summary, "tests": results}, indent=1, sort_keys=True))
    log(f"wrote {path}")


if __name__ == "__main__":
    main()
