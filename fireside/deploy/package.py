"""Packaging a template's local artifacts into S3, as `aws cloudformation package` and
`sam deploy` do.

Properties that name a local file or folder (a function's `CodeUri`, a layer's `ContentUri`,
an API's `DefinitionUri` or `BodyS3Location`, a nested stack's `TemplateURL`, ...) are
uploaded to a bucket and rewritten to point at it. A folder is zipped (files sorted, fixed
timestamps, modes kept, so the same folder always makes the same zip); a file is uploaded
as it is, and a nested template is packaged itself first. Objects are keyed by the MD5 of
their content and uploaded only when the bucket lacks them, so a deploy that changes one
function uploads one zip.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fireside.deploy.template_text import dump_template, load_template

__all__ = ["PackageError", "Packager"]

#: (resource type, property, how the uploaded object replaces the local path).
#: "uri": `s3://bucket/key`; "code": {S3Bucket, S3Key}; "location": {Bucket, Key};
#: "url": an HTTPS URL of the object (nested templates); "template": a packaged template's URL.
ARTIFACTS: tuple[tuple[str, str, str], ...] = (
    ("AWS::Serverless::Function", "CodeUri", "uri"),
    ("AWS::Serverless::LayerVersion", "ContentUri", "uri"),
    ("AWS::Serverless::Api", "DefinitionUri", "uri"),
    ("AWS::Serverless::HttpApi", "DefinitionUri", "uri"),
    ("AWS::Serverless::StateMachine", "DefinitionUri", "uri"),
    ("AWS::Serverless::Application", "Location", "template"),
    ("AWS::Lambda::Function", "Code", "code"),
    ("AWS::Lambda::LayerVersion", "Content", "code"),
    ("AWS::ApiGateway::RestApi", "BodyS3Location", "location"),
    ("AWS::ApiGatewayV2::Api", "BodyS3Location", "location"),
    ("AWS::AppSync::GraphQLSchema", "DefinitionS3Location", "uri"),
    ("AWS::StepFunctions::StateMachine", "DefinitionS3Location", "location"),
    ("AWS::CloudFormation::Stack", "TemplateURL", "template"),
)
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
#: Kinds uploaded as the file itself even when it is not a zip (definitions, templates).
_RAW_KINDS = {"AWS::Serverless::Api", "AWS::Serverless::HttpApi", "AWS::Serverless::StateMachine"}

#: Uploads bytes under a key unless present; returns nothing.
Upload = Callable[[str, bytes], None]


class PackageError(Exception):
    """A local artifact is missing or unreadable (the message names it)."""


def zip_folder(folder: Path) -> bytes:
    """The same zip for the same folder: sorted names, fixed times, modes kept."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts:
                continue
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), _ZIP_TIME)
            info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _is_local(value: Any) -> bool:
    if not isinstance(value, str) or not value:
        return False
    return not value.startswith(("s3://", "https://", "http://"))


class Packager:
    def __init__(self, bucket: str, upload: Upload, object_url: Callable[[str], str]) -> None:
        self.bucket = bucket
        self._upload = upload
        self._object_url = object_url
        #: Every artifact uploaded or found in place: (local path, key).
        self.artifacts: list[tuple[Path, str]] = []

    def package_file(self, template_path: Path) -> dict[str, Any]:
        """The template at `template_path` with its local artifacts uploaded and replaced."""
        try:
            template = load_template(template_path.read_text())
        except OSError as error:
            raise PackageError(f"cannot read {template_path}: {error.strerror}") from None
        return self.package(template, template_path.parent)

    def package(self, template: dict[str, Any], base: Path) -> dict[str, Any]:
        globals_ = template.get("Globals")
        if isinstance(globals_, dict):
            function = globals_.get("Function")
            if isinstance(function, dict) and _is_local(function.get("CodeUri")):
                function["CodeUri"] = self._replace(
                    "AWS::Serverless::Function", "uri", function["CodeUri"], base
                )
        resources = template.get("Resources")
        if not isinstance(resources, dict):
            return template
        for resource in resources.values():
            if not isinstance(resource, dict):
                continue
            properties = resource.get("Properties")
            kind = resource.get("Type")
            if not isinstance(properties, dict):
                continue
            for type_name, name, style in ARTIFACTS:
                if kind == type_name and _is_local(properties.get(name)):
                    properties[name] = self._replace(kind, style, properties[name], base)
        return template

    def _replace(self, kind: str, style: str, local: str, base: Path) -> Any:
        path = (base / local).resolve()
        if not path.exists():
            raise PackageError(f"{kind}: the path {local!r} does not exist (relative to {base})")
        if style == "template":
            packaged = Packager(self.bucket, self._upload, self._object_url)
            nested = packaged.package_file(path)
            self.artifacts += packaged.artifacts
            data = dump_template(nested).encode("utf-8")
            key = self._put(path, data, ".template")
            return self._object_url(key)
        if path.is_dir():
            data = zip_folder(path)
        elif kind in _RAW_KINDS or zipfile.is_zipfile(path) or style == "location":
            data = path.read_bytes()
        else:  # one source file: zipped alone, as the tools do
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                info = zipfile.ZipInfo(path.name, _ZIP_TIME)
                info.external_attr = (path.stat().st_mode & 0o777 | 0o100000) << 16
                archive.writestr(info, path.read_bytes())
            data = buffer.getvalue()
        key = self._put(path, data, "")
        if style == "uri":
            return f"s3://{self.bucket}/{key}"
        if style == "code":
            return {"S3Bucket": self.bucket, "S3Key": key}
        return {"Bucket": self.bucket, "Key": key}

    def _put(self, path: Path, data: bytes, suffix: str) -> str:
        key = hashlib.md5(data, usedforsecurity=False).hexdigest() + suffix
        self._upload(key, data)
        self.artifacts.append((path, key))
        return key
