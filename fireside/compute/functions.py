"""A function version's configuration as Fireside stores it, and its wire form.

`FunctionConfig` is the single record of a function version (`$LATEST` for now): persisted as
JSON in the metadata store, turned into Lambda's `FunctionConfiguration` by `to_wire()`.
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

LATEST = "$LATEST"
#: Fields a version does not freeze: identity, state and bookkeeping.
_NOT_FROZEN = frozenset(
    {
        "version", "revision_id", "last_modified", "state", "state_reason", "state_reason_code",
        "last_update_status", "last_update_status_reason", "last_update_status_reason_code",
        "last_published", "reserved_concurrency", "published_from", "tags",
    }
)  # fmt: skip


def now_iso() -> str:
    """Lambda's LastModified format: `2026-11-26T08:53:48.123+0000`."""
    seconds = time.time()
    millis = int(seconds * 1000) % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}+0000"


def new_revision() -> str:
    return str(uuid.uuid4())


def version_order(version: str) -> tuple[int, int]:
    """Where a version sorts in Lambda's listings: `$LATEST` first, then by number."""
    return (0, 0) if version == LATEST else (1, int(version))


@dataclass(slots=True)
class FunctionConfig:
    account: str
    region: str
    name: str
    runtime: str
    handler: str
    role: str
    code_sha256: str  # base64 of the sha256, as Lambda reports it
    code_digest: str  # hex sha256: the blob key
    code_size: int
    version: str = LATEST
    description: str = ""
    timeout: int = 3
    memory_size: int = 128
    environment: dict[str, str] = field(default_factory=dict)
    architectures: list[str] = field(default_factory=lambda: ["x86_64"])
    ephemeral_storage: int = 512
    tags: dict[str, str] = field(default_factory=dict)
    #: Layer versions in the order listed: {"arn", "code_size", "digest" (the blob key)}.
    layers: list[dict[str, Any]] = field(default_factory=list)
    revision_id: str = field(default_factory=new_revision)
    last_modified: str = field(default_factory=now_iso)
    state: str = "Pending"
    state_reason: str | None = "The function is being created."
    state_reason_code: str | None = "Creating"
    last_update_status: str | None = None
    last_update_status_reason: str | None = None
    last_update_status_reason_code: str | None = None
    #: SnapStart's ApplyOn: "None", or "PublishedVersions" (versions start from a snapshot).
    snap_start: str = "None"
    #: TracingConfig's Mode, "PassThrough" or "Active": kept and reported (there is no X-Ray).
    tracing_mode: str = "PassThrough"
    #: DeadLetterConfig's TargetArn: where failed Event invokes' events go (an SQS queue or
    #: SNS topic), through `fireside.outbox`.
    dead_letter_arn: str | None = None
    #: LoggingConfig as set (LogFormat, ApplicationLogLevel, SystemLogLevel, LogGroup).
    logging: dict[str, str] = field(default_factory=dict)
    #: $LATEST only: the number of the last published version (never reused).
    last_published: int = 0
    #: $LATEST only: the function's reserved concurrency (None: it draws on the unreserved pool).
    reserved_concurrency: int | None = None
    #: Fingerprint of the code and configuration a version was published from (PublishVersion
    #: returns the last version again when $LATEST has not changed since).
    published_from: str | None = None

    @property
    def arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account}:function:{self.name}"

    @property
    def qualified_arn(self) -> str:
        return f"{self.arn}:{self.version}"

    @property
    def is_latest(self) -> bool:
        return self.version == LATEST

    @property
    def snapshot_starts(self) -> bool:
        """This version's environments start from a snapshot of its initialised runtime."""
        return self.snap_start == "PublishedVersions" and not self.is_latest

    def fingerprint(self) -> str:
        """What a published version freezes: code and configuration (not state or ids)."""
        frozen = {
            key: value for key, value in dataclasses.asdict(self).items() if key not in _NOT_FROZEN
        }
        return json.dumps(frozen, sort_keys=True)

    @property
    def log_group(self) -> str:
        return self.logging.get("LogGroup") or f"/aws/lambda/{self.name}"

    def logging_config(self) -> dict[str, str]:
        """Lambda's LoggingConfig: log levels apply to JSON logs only, and are INFO unless set."""
        log_format = self.logging.get("LogFormat", "Text")
        wire = {"LogFormat": log_format, "LogGroup": self.log_group}
        if log_format == "JSON":
            wire["ApplicationLogLevel"] = self.logging.get("ApplicationLogLevel", "INFO")
            wire["SystemLogLevel"] = self.logging.get("SystemLogLevel", "INFO")
        return wire

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> FunctionConfig:
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})

    def evolve(self, **changes: Any) -> FunctionConfig:
        return dataclasses.replace(self, **changes)

    def to_wire(self, *, qualified: bool = False) -> dict[str, Any]:
        """Lambda's FunctionConfiguration. `$LATEST` has the unqualified ARN, except in the
        listings of versions (ListVersionsByFunction, ListFunctions of ALL versions), where
        AWS qualifies it (`...:function:name:$LATEST`) like the numbered versions."""
        wire: dict[str, Any] = {
            "FunctionName": self.name,
            "FunctionArn": self.qualified_arn if qualified or not self.is_latest else self.arn,
            "Runtime": self.runtime,
            "Role": self.role,
            "Handler": self.handler,
            "CodeSize": self.code_size,
            "Description": self.description,
            "Timeout": self.timeout,
            "MemorySize": self.memory_size,
            "LastModified": self.last_modified,
            "CodeSha256": self.code_sha256,
            "Version": self.version,
            "TracingConfig": {"Mode": self.tracing_mode},
            **(
                {"DeadLetterConfig": {"TargetArn": self.dead_letter_arn}}
                if self.dead_letter_arn
                else {}
            ),
            "RevisionId": self.revision_id,
            "State": self.state,
            "PackageType": "Zip",
            "Architectures": list(self.architectures),
            "EphemeralStorage": {"Size": self.ephemeral_storage},
            "SnapStart": {
                "ApplyOn": self.snap_start,
                "OptimizationStatus": "On" if self.snapshot_starts else "Off",
            },
            "LoggingConfig": self.logging_config(),
        }
        if self.layers:  # absent, not empty, when there are none (as on AWS)
            wire["Layers"] = [{"Arn": x["arn"], "CodeSize": x["code_size"]} for x in self.layers]
        if self.environment:
            wire["Environment"] = {"Variables": dict(self.environment)}
        if self.state_reason:
            wire["StateReason"] = self.state_reason
        if self.state_reason_code:
            wire["StateReasonCode"] = self.state_reason_code
        if self.last_update_status:
            wire["LastUpdateStatus"] = self.last_update_status
        if self.last_update_status_reason:
            wire["LastUpdateStatusReason"] = self.last_update_status_reason
        if self.last_update_status_reason_code:
            wire["LastUpdateStatusReasonCode"] = self.last_update_status_reason_code
        return wire
