"""`fireside deploy`'s packaging, in-process: local artifacts zipped the same way every time,
uploaded once by content, and rewritten as each resource type expects; YAML short forms read."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from fireside.deploy.package import PackageError, Packager, zip_folder
from fireside.deploy.template_text import TemplateTextError, load_template

TEMPLATE = """
AWSTemplateFormatVersion: 2010-09-09
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    CodeUri: shared/
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Environment:
        Variables:
          TABLE: !Ref Table
          ARN: !GetAtt Table.Arn
          TEXT: !Sub "${AWS::StackName}-x"
  Plain:
    Type: AWS::Lambda::Function
    Properties:
      Code: src/app.py
  Layer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: s3://already/there.zip
  Nested:
    Type: AWS::CloudFormation::Stack
    Properties:
      TemplateURL: nested.yaml
  Table:
    Type: AWS::DynamoDB::Table
"""


def _project(root: Path) -> Path:
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("def handler(e, c):\n    return 1\n")
    (root / "shared").mkdir()
    (root / "shared" / "x.py").write_text("X = 1\n")
    (root / "nested.yaml").write_text(
        "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        "      CodeUri: src/\n"
    )
    (root / "template.yaml").write_text(TEMPLATE)
    return root / "template.yaml"


def test_local_artifacts_are_uploaded_once_and_rewritten(tmp_path: Path) -> None:
    uploads: dict[str, bytes] = {}
    packager = Packager(
        "bucket", lambda key, data: uploads.setdefault(key, data), lambda key: f"URL/{key}"
    )
    template = packager.package_file(_project(tmp_path))
    assert template["AWSTemplateFormatVersion"] == "2010-09-09"  # a string, not a date
    resources = template["Resources"]
    code_uri = resources["Fn"]["Properties"]["CodeUri"]
    assert code_uri.startswith("s3://bucket/")
    assert template["Globals"]["Function"]["CodeUri"].startswith("s3://bucket/")
    variables = resources["Fn"]["Properties"]["Environment"]["Variables"]
    assert variables == {
        "TABLE": {"Ref": "Table"},
        "ARN": {"Fn::GetAtt": ["Table", "Arn"]},
        "TEXT": {"Fn::Sub": "${AWS::StackName}-x"},
    }
    plain = resources["Plain"]["Properties"]["Code"]
    assert plain["S3Bucket"] == "bucket"
    with zipfile.ZipFile(io.BytesIO(uploads[plain["S3Key"]])) as archive:
        assert archive.namelist() == ["app.py"]  # one file, zipped alone
    assert resources["Layer"]["Properties"]["ContentUri"] == "s3://already/there.zip"
    nested_url = resources["Nested"]["Properties"]["TemplateURL"]
    nested = json.loads(uploads[nested_url.removeprefix("URL/")])
    # The nested template's own folder is packaged too; src/ is the same zip, stored once.
    assert nested["Resources"]["F"]["Properties"]["CodeUri"] == code_uri
    with zipfile.ZipFile(io.BytesIO(uploads[code_uri.rsplit("/", 1)[1]])) as archive:
        assert archive.namelist() == ["app.py"]
    assert len(uploads) == 4  # src zip, shared zip, app.py zip, nested template


def test_a_folder_always_makes_the_same_zip(tmp_path: Path) -> None:
    (tmp_path / "b.py").write_text("b")
    (tmp_path / "a.sh").write_text("#!/bin/sh\n")
    (tmp_path / "a.sh").chmod(0o755)
    first = zip_folder(tmp_path)
    (tmp_path / "b.py").touch()  # a new mtime changes nothing
    assert zip_folder(tmp_path) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.namelist() == ["a.sh", "b.py"]
        assert (archive.getinfo("a.sh").external_attr >> 16) & 0o777 == 0o755


def test_missing_artifacts_and_bad_text_are_named(tmp_path: Path) -> None:
    path = _project(tmp_path)
    path.write_text(TEMPLATE.replace("CodeUri: src/", "CodeUri: nowhere/"))
    packager = Packager("bucket", lambda key, data: None, lambda key: key)
    with pytest.raises(PackageError, match="'nowhere/' does not exist"):
        packager.package_file(path)
    with pytest.raises(TemplateTextError):
        load_template("Resources: [unclosed")
    with pytest.raises(TemplateTextError):
        load_template("- a list")
