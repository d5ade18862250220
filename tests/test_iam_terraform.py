"""Terraform's AWS provider against Fireside's IAM: apply a role with an inline policy, a
customer managed and an AWS managed policy attached and an instance profile; a second plan
finds nothing to change (every read answers what was written); destroy removes it all.

Terraform's providers come from a registry; this runs where a provider mirror is on disk
(`FIRESIDE_TF_PLUGINS`, default `/opt/tf-plugins`), and `FIRESIDE_TEST_REQUIRE=terraform`
makes its absence a failure. Marked slow: Terraform's own start-up dominates.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.conftest import Server, unavailable

PLUGINS = Path(os.environ.get("FIRESIDE_TF_PLUGINS", "/opt/tf-plugins"))
PROVIDER = "registry.terraform.io/hashicorp/aws"


def _provider_version() -> str | None:
    versions = sorted(p.name for p in (PLUGINS / PROVIDER).glob("*") if p.is_dir())
    return versions[-1] if versions else None


def _terraform(work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(work / "terraformrc"),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }
    return subprocess.run(
        ["terraform", *args, "-input=false", "-no-color"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


# Terraform itself takes 13-28 s a command on this 2-core machine (IAM answers in milliseconds).
@pytest.mark.slow
@pytest.mark.timeout(600)
def test_terraform_applies_plans_and_destroys_roles(server: Server, tmp_path: Path) -> None:
    version = _provider_version()
    if shutil.which("terraform") is None or version is None:
        unavailable("terraform", f"no terraform binary or no AWS provider under {PLUGINS}")
    name = f"tf-{uuid.uuid4().hex[:8]}"
    (tmp_path / "terraformrc").write_text(
        f'provider_installation {{\n  filesystem_mirror {{\n    path = "{PLUGINS}"\n'
        f'    include = ["{PROVIDER}"]\n  }}\n}}\n'
    )
    (tmp_path / "main.tf").write_text(
        textwrap.dedent(
            f"""
            terraform {{
              required_providers {{
                aws = {{ source = "hashicorp/aws", version = "{version}" }}
              }}
            }}
            provider "aws" {{
              region                      = "us-east-1"
              access_key                  = "test"
              secret_key                  = "test"
              skip_credentials_validation = true
              skip_metadata_api_check     = true
              skip_requesting_account_id  = true
              endpoints {{
                iam = "{server.endpoint}"
                sts = "{server.endpoint}"
              }}
            }}
            resource "aws_iam_role" "fn" {{
              name = "{name}"
              path = "/tf/"
              assume_role_policy = jsonencode({{
                Version = "2012-10-17"
                Statement = [{{
                  Effect = "Allow", Action = "sts:AssumeRole",
                  Principal = {{ Service = "lambda.amazonaws.com" }}
                }}]
              }})
              tags = {{ team = "a" }}
            }}
            resource "aws_iam_role_policy" "inline" {{
              name = "inline"
              role = aws_iam_role.fn.id
              policy = jsonencode({{
                Version = "2012-10-17",
                Statement = [{{ Effect = "Allow", Action = "s3:GetObject", Resource = "*" }}]
              }})
            }}
            resource "aws_iam_policy" "managed" {{
              name = "{name}-managed"
              policy = jsonencode({{
                Version = "2012-10-17",
                Statement = [{{ Effect = "Allow", Action = "logs:*", Resource = "*" }}]
              }})
            }}
            resource "aws_iam_role_policy_attachment" "mine" {{
              role       = aws_iam_role.fn.name
              policy_arn = aws_iam_policy.managed.arn
            }}
            resource "aws_iam_role_policy_attachment" "aws" {{
              role       = aws_iam_role.fn.name
              policy_arn = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
            }}
            resource "aws_iam_instance_profile" "profile" {{
              name = "{name}"
              role = aws_iam_role.fn.name
            }}
            """
        )
    )
    for step in (("init",), ("apply", "-auto-approve")):
        done = _terraform(tmp_path, *step)
        assert done.returncode == 0, done.stdout + done.stderr
    iam = server.client("iam")
    role = iam.get_role(RoleName=name)["Role"]
    assert role["Arn"] == f"arn:aws:iam::000000000000:role/tf/{name}"
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["inline"]
    assert len(iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]) == 2
    profiles = iam.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"]
    assert [p["InstanceProfileName"] for p in profiles] == [name]

    plan = _terraform(tmp_path, "plan", "-detailed-exitcode")
    assert plan.returncode == 0, plan.stdout + plan.stderr  # 2 would mean drift

    done = _terraform(tmp_path, "destroy", "-auto-approve")
    assert done.returncode == 0, done.stdout + done.stderr
    assert name not in [r["RoleName"] for r in iam.list_roles(PathPrefix="/tf/")["Roles"]]
    assert not [p for p in iam.list_policies(Scope="Local")["Policies"] if name in p["Arn"]]
