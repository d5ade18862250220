"""Lambda layers: versioned archives, a resource policy per version, references from functions.

A layer version is an archive in the BlobStore plus a JSON record in the `layer_versions` table.
Version numbers come from a per-name counter (`layers.last_version`) that outlives every
version, so a number is never reused. Deleting a version only hides it from the API: functions
that already reference it keep it, as on AWS.

`LayerStore` is the storage and the check of a function's `Layers` (`resolve`); `LayerApi` has
the nine layer operations, registered by the Lambda provider.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError
from fireside.aws.pagination import marker_page
from fireside.compute.code_links import CodeLinks
from fireside.compute.code_source import ObjectReader, read_package
from fireside.compute.errors import archive as archive_error
from fireside.compute.errors import (
    entity_too_large,
    invalid,
    invalid_marker,
    lambda_error,
    not_authorized,
    precondition_failed,
)
from fireside.compute.functions import now_iso
from fireside.store.blobs import MAX_UNZIPPED_BYTES, ArchiveError, BlobStore, inspect_zip
from fireside.store.database import Database

MAX_LAYERS = 5
MAX_ZIP_BYTES = 52_428_800  # 50 MB direct upload, as for function code

_ARN_HEAD = r"^arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):layer:"
_LAYER_ARN = re.compile(_ARN_HEAD + r"(?P<name>[a-zA-Z0-9_-]+)$")
_VERSION_ARN = re.compile(_ARN_HEAD + r"(?P<name>[a-zA-Z0-9_-]+):(?P<version>[0-9]+)$")
_ROOT_PRINCIPAL = re.compile(r"^arn:aws[a-zA-Z-]*:iam::(\d{12}):root$")

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]


def _layer_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{account}:layer:{name}"


# -- errors, worded as AWS words them ----------------------------------------------------------
def _not_found(message: str = "The resource you requested does not exist.") -> ServiceError:
    return lambda_error("ResourceNotFoundException", message, Type="User")


def _no_such_version(arn: str) -> ServiceError:
    return _not_found(f"Layer version {arn} does not exist.")


def check_combined_size(total: int) -> None:
    """AWS's limit on a function's unzipped code and layers together."""
    if total > MAX_UNZIPPED_BYTES:
        raise invalid(
            "Function code combined with layers exceeds the maximum allowed size of "
            f"{MAX_UNZIPPED_BYTES} bytes. The actual size is {total} bytes."
        )


# -- the record --------------------------------------------------------------------------------
@dataclass(slots=True)
class LayerVersion:
    account: str
    region: str
    name: str
    version: int
    code_sha256: str  # base64 of the sha256, as Lambda reports it
    digest: str  # hex sha256: the blob key
    code_size: int
    unzipped_size: int
    description: str = ""
    created: str = field(default_factory=now_iso)
    # None when not given (then absent on the wire); an empty list is reported as one.
    compatible_runtimes: list[str] | None = None
    compatible_architectures: list[str] | None = None
    license_info: str | None = None
    statements: list[dict[str, Any]] = field(default_factory=list)
    policy_revision: str | None = None
    deleted: bool = False

    @property
    def layer_arn(self) -> str:
        return _layer_arn(self.region, self.account, self.name)

    @property
    def arn(self) -> str:
        return f"{self.layer_arn}:{self.version}"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> LayerVersion:
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def list_item(self) -> dict[str, Any]:
        """Lambda's LayerVersionsListItem."""
        item: dict[str, Any] = {
            "LayerVersionArn": self.arn,
            "Version": self.version,
            "Description": self.description,
            "CreatedDate": self.created,
        }
        if self.compatible_runtimes is not None:
            item["CompatibleRuntimes"] = list(self.compatible_runtimes)
        if self.compatible_architectures is not None:
            item["CompatibleArchitectures"] = list(self.compatible_architectures)
        if self.license_info is not None:
            item["LicenseInfo"] = self.license_info
        return item

    def to_wire(self, location: str) -> dict[str, Any]:
        """Lambda's GetLayerVersionResponse (also PublishLayerVersion's); `location` is the
        archive's download link."""
        return {
            **self.list_item(),
            "LayerArn": self.layer_arn,
            "Content": {
                "Location": location,
                "CodeSha256": self.code_sha256,
                "CodeSize": self.code_size,
            },
        }

    def matches(self, runtime: str | None, architecture: str | None) -> bool:
        if runtime is not None and runtime not in (self.compatible_runtimes or ()):
            return False
        return architecture is None or architecture in (self.compatible_architectures or ())

    def readable_by(self, account: str) -> bool:
        return account == self.account or any(_grants(s, account) for s in self.statements)


def _grants(statement: dict[str, Any], account: str) -> bool:
    # A `*` statement limited to an organization (aws:PrincipalOrgID) grants everyone: Fireside
    # has no organizations to check membership against.
    principal = statement.get("Principal")
    if principal == "*":
        return True
    match = _ROOT_PRINCIPAL.match(principal.get("AWS", "")) if isinstance(principal, dict) else None
    return match is not None and match[1] == account


def reference(record: LayerVersion) -> dict[str, Any]:
    """How a function's configuration records a layer it uses (`FunctionConfig.layers`)."""
    return {"arn": record.arn, "code_size": record.code_size, "digest": record.digest}


# -- storage -----------------------------------------------------------------------------------
class LayerStore:
    """Layer versions in SQLite. Reads are point queries, cheap enough without a cache."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def publish(self, account: str, region: str, name: str, **fields: Any) -> LayerVersion:
        """Store a new version under the next number of `name`, in one transaction."""
        key = (account, region, name)
        with self._db.transaction() as conn:
            row = conn.execute(
                "SELECT last_version FROM layers WHERE account = ? AND region = ? AND name = ?",
                key,
            ).fetchone()
            record = LayerVersion(*key, version=(int(row[0]) if row else 0) + 1, **fields)
            conn.execute(
                "INSERT INTO layers (account, region, name, last_version) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (account, region, name) DO UPDATE SET last_version = ?",
                (*key, record.version, record.version),
            )
            conn.execute(
                "INSERT INTO layer_versions (account, region, name, version, deleted, record) "
                "VALUES (?, ?, ?, ?, 0, ?)",
                (*key, record.version, record.to_json()),
            )
        return record

    def save(self, record: LayerVersion) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE layer_versions SET deleted = ?, record = ? "
                "WHERE account = ? AND region = ? AND name = ? AND version = ?",
                (
                    int(record.deleted),
                    record.to_json(),
                    record.account,
                    record.region,
                    record.name,
                    record.version,
                ),
            )

    def get(self, account: str, region: str, name: str, version: int) -> LayerVersion | None:
        """A version that was published and not deleted."""
        rows = self._db.query(
            "SELECT record FROM layer_versions WHERE account = ? AND region = ? AND name = ? "
            "AND version = ? AND deleted = 0",
            (account, region, name, version),
        )
        return LayerVersion.from_json(str(rows[0][0])) if rows else None

    def versions(self, account: str, region: str, name: str | None = None) -> list[LayerVersion]:
        """Live versions of one layer (or of every layer), by name, newest version first."""
        sql = "SELECT record FROM layer_versions WHERE account = ? AND region = ? AND deleted = 0"
        params: tuple[object, ...] = (account, region)
        if name is not None:
            sql += " AND name = ?"
            params += (name,)
        rows = self._db.query(sql + " ORDER BY name, version DESC", params)
        return [LayerVersion.from_json(str(text)) for (text,) in rows]

    def resolve(self, arns: list[str], account: str, region: str) -> list[LayerVersion]:
        """The versions a function of `account` in `region` asks for in `Layers`, checked."""
        if len(arns) > MAX_LAYERS:
            raise invalid(f"Cannot reference more than {MAX_LAYERS} layers.")
        matches = [(arn, _VERSION_ARN.match(arn)) for arn in arns]
        for _arn, match in matches:
            if match is not None and match["region"] != region:
                raise invalid(
                    "Layers are not in the same region as the function. Layers are expected "
                    f"to be in region {region}."
                )
        first_of: dict[tuple[str, str], str] = {}  # (account, name) -> the first ARN
        for arn, match in matches:
            if match is None:
                continue
            layer = (match["account"], match["name"])
            if layer in first_of:
                raise invalid(
                    "Two different versions of the same layer are not allowed to be referenced "
                    f"in the same function. {first_of[layer]} and {arn} are versions of the "
                    "same layer."
                )
            first_of[layer] = arn
        records = []
        for arn, match in matches:
            record = (
                self.get(match["account"], region, match["name"], int(match["version"]))
                if match is not None
                else None
            )
            if record is None:
                raise invalid(f"Layer version {arn} does not exist.")
            if not record.readable_by(account):
                raise not_authorized(account, "lambda:GetLayerVersion", arn)
            records.append(record)
        return records


# -- the operations ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Target:
    """The layer an operation names, by name (the caller's) or by ARN (maybe another's)."""

    account: str
    region: str
    name: str

    @property
    def arn(self) -> str:
        return _layer_arn(self.region, self.account, self.name)


def _target(ctx: RequestContext, layer_name: str) -> _Target:
    match = _LAYER_ARN.match(layer_name)
    if match is None:
        return _Target(ctx.account_id, ctx.region, layer_name)
    return _Target(match["account"], match["region"], match["name"])


def _version_of(params: dict[str, Any]) -> int:
    version = int(params["VersionNumber"])
    if version < 1:
        raise invalid("Layer Version Cannot be less than 1")
    return version


class LayerApi:
    def __init__(
        self, store: LayerStore, blobs: BlobStore, objects: ObjectReader, links: CodeLinks
    ) -> None:
        self._store = store
        self._links = links
        self._blobs = blobs
        self._objects = objects

    def operations(self) -> dict[str, Operation]:
        return {
            "PublishLayerVersion": self.publish_layer_version,
            "GetLayerVersion": self.get_layer_version,
            "GetLayerVersionByArn": self.get_layer_version_by_arn,
            "ListLayers": self.list_layers,
            "ListLayerVersions": self.list_layer_versions,
            "DeleteLayerVersion": self.delete_layer_version,
            "AddLayerVersionPermission": self.add_layer_version_permission,
            "RemoveLayerVersionPermission": self.remove_layer_version_permission,
            "GetLayerVersionPolicy": self.get_layer_version_policy,
        }

    # -- helpers -------------------------------------------------------------------------------
    @staticmethod
    def _own(ctx: RequestContext, target: _Target, action: str) -> None:
        """Operations other than reading a version are for the layer's own account."""
        if target.account != ctx.account_id:
            raise not_authorized(ctx.account_id, f"lambda:{action}", target.arn)

    def _readable(self, ctx: RequestContext, target: _Target, version: int) -> LayerVersion:
        record = None
        if target.region == ctx.region:
            record = self._store.get(target.account, target.region, target.name, version)
        if record is None:
            raise _not_found()
        if not record.readable_by(ctx.account_id):
            raise not_authorized(ctx.account_id, "lambda:GetLayerVersion", record.arn)
        return record

    def _owned_version(
        self, ctx: RequestContext, params: dict[str, Any], action: str
    ) -> LayerVersion:
        target = _target(ctx, params["LayerName"])
        version = _version_of(params)
        self._own(ctx, target, action)
        record = None
        if target.region == ctx.region:
            record = self._store.get(target.account, target.region, target.name, version)
        if record is None:
            raise _no_such_version(f"{target.arn}:{version}")
        return record

    @staticmethod
    def _check_policy_revision(record: LayerVersion, params: dict[str, Any]) -> None:
        revision = params.get("RevisionId")
        if revision is not None and revision != record.policy_revision:
            raise precondition_failed("GetLayerPolicy")

    # -- versions ------------------------------------------------------------------------------
    async def publish_layer_version(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        target = _target(ctx, params["LayerName"])
        self._own(ctx, target, "PublishLayerVersion")
        if target.region != ctx.region:
            raise _not_found()
        data, from_s3 = await read_package(
            self._objects,
            ctx,
            params["Content"],
            missing="Missing Content",
            both="Please do not provide other Content parameters when providing a ZipFile.",
        )
        if not from_s3 and len(data) > MAX_ZIP_BYTES:  # S3 content: 250 MB unzipped only
            # As CreateFunction answers an oversized upload (AWS's answer recorded there).
            raise entity_too_large(f"Zipped size must be smaller than {MAX_ZIP_BYTES} bytes")
        # Validated before anything is stored: a refused archive leaves no blob and no row.
        try:
            info = await asyncio.to_thread(inspect_zip, data)
        except ArchiveError as exc:
            raise archive_error(exc) from exc
        await asyncio.to_thread(self._blobs.put, data, info.sha256_hex)
        runtimes, architectures = (
            params.get("CompatibleRuntimes"),
            params.get("CompatibleArchitectures"),
        )
        record = self._store.publish(
            target.account,
            target.region,
            target.name,
            code_sha256=base64.b64encode(bytes.fromhex(info.sha256_hex)).decode(),
            digest=info.sha256_hex,
            code_size=info.size,
            unzipped_size=info.unzipped_size,
            description=params.get("Description", ""),
            compatible_runtimes=None if runtimes is None else list(runtimes),
            compatible_architectures=None if architectures is None else list(architectures),
            license_info=params.get("LicenseInfo"),
        )
        return record.to_wire(self._links.url(ctx.endpoint_url, record.digest))

    async def get_layer_version(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        target = _target(ctx, params["LayerName"])
        record = self._readable(ctx, target, _version_of(params))
        return record.to_wire(self._links.url(ctx.endpoint_url, record.digest))

    async def get_layer_version_by_arn(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        match = _VERSION_ARN.match(params["Arn"])
        if match is None:  # e.g. an AWS-owned `awslayer` ARN
            raise _not_found()
        target = _Target(match["account"], match["region"], match["name"])
        record = self._readable(ctx, target, int(match["version"]))
        return record.to_wire(self._links.url(ctx.endpoint_url, record.digest))

    async def list_layers(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        runtime, architecture = (
            params.get("CompatibleRuntime"),
            params.get("CompatibleArchitecture"),
        )
        latest: dict[str, LayerVersion] = {}
        for record in self._store.versions(ctx.account_id, ctx.region):
            if record.name not in latest and record.matches(runtime, architecture):
                latest[record.name] = record  # newest first within a name
        page, marker = marker_page(
            list(latest.values()),
            lambda r: (r.name,),
            params,
            scope=f"ListLayers:{runtime or ''}:{architecture or ''}",
            invalid=invalid_marker,
        )
        result: dict[str, Any] = {
            "Layers": [
                {
                    "LayerName": r.name,
                    "LayerArn": r.layer_arn,
                    "LatestMatchingVersion": r.list_item(),
                }
                for r in page
            ]
        }
        if marker:
            result["NextMarker"] = marker
        return result

    async def list_layer_versions(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        target = _target(ctx, params["LayerName"])
        self._own(ctx, target, "ListLayerVersions")
        runtime, architecture = (
            params.get("CompatibleRuntime"),
            params.get("CompatibleArchitecture"),
        )
        records = []
        if target.region == ctx.region:  # an unknown layer lists as empty, as on AWS
            records = [
                r
                for r in self._store.versions(target.account, target.region, target.name)
                if r.matches(runtime, architecture)
            ]
        page, marker = marker_page(  # newest first, as AWS lists them
            records,
            lambda r: (-r.version,),
            params,
            scope=f"ListLayerVersions:{_layer_arn(target.region, target.account, target.name)}:"
            f"{runtime or ''}:{architecture or ''}",
            invalid=invalid_marker,
        )
        result: dict[str, Any] = {"LayerVersions": [r.list_item() for r in page]}
        if marker:
            result["NextMarker"] = marker
        return result

    async def delete_layer_version(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        target = _target(ctx, params["LayerName"])
        version = _version_of(params)
        self._own(ctx, target, "DeleteLayerVersion")
        record = None
        if target.region == ctx.region:
            record = self._store.get(target.account, target.region, target.name, version)
        if record is not None:  # deleting what is not there succeeds too, as on AWS
            # The record and archive stay for the functions that reference this version.
            record.deleted = True
            self._store.save(record)
        return {}

    # -- permissions ---------------------------------------------------------------------------
    async def add_layer_version_permission(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self._owned_version(ctx, params, "AddLayerVersionPermission")
        self._check_policy_revision(record, params)
        sid = params["StatementId"]
        if any(s["Sid"] == sid for s in record.statements):
            raise lambda_error(
                "ResourceConflictException",
                f"The statement id ({sid}) provided already exists. Please provide a new "
                "statement id, or remove the existing statement.",
                Type="User",
            )
        principal: str = params["Principal"]  # the model allows `*`, an account or its root
        if principal.isdigit():
            principal = f"arn:aws:iam::{principal}:root"
        statement: dict[str, Any] = {
            "Sid": sid,
            "Effect": "Allow",
            "Principal": principal if principal == "*" else {"AWS": principal},
            "Action": params["Action"],
            "Resource": record.arn,
        }
        if params.get("OrganizationId"):
            statement["Condition"] = {
                "StringEquals": {"aws:PrincipalOrgID": params["OrganizationId"]}
            }
        record.statements.append(statement)
        record.policy_revision = str(uuid.uuid4())
        self._store.save(record)
        return {"Statement": _compact(statement), "RevisionId": record.policy_revision}

    async def remove_layer_version_permission(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self._owned_version(ctx, params, "RemoveLayerVersionPermission")
        self._check_policy_revision(record, params)
        sid = params["StatementId"]
        kept = [s for s in record.statements if s["Sid"] != sid]
        if len(kept) == len(record.statements):
            raise _not_found(f"Statement {sid} is not found in resource policy.")
        record.statements = kept
        record.policy_revision = str(uuid.uuid4())
        self._store.save(record)
        return {}

    async def get_layer_version_policy(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        record = self._owned_version(ctx, params, "GetLayerVersionPolicy")
        if not record.statements:
            raise _not_found("No policy is associated with the given resource.")
        policy = {"Version": "2012-10-17", "Id": "default", "Statement": record.statements}
        return {"Policy": _compact(policy), "RevisionId": record.policy_revision}


def _compact(value: Any) -> str:
    """JSON the way Lambda returns policies: no spaces."""
    return json.dumps(value, separators=(",", ":"))
