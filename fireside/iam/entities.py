"""IAM's entities (roles, managed policies, instance profiles), their ids and ARNs, and the
helpers every IAM operation shares: AWS's errors, name and path checks, tags, pagination.

IAM is global: an entity belongs to an account, never to a region. Names are unique within
an account without regard to case or path (`PRODROLE` and `prodrole` cannot both exist), so
entities are keyed by their lower-cased name. Each entity is kept as one JSON record
(`record()` / `from_record()`) in `fireside.iam.store`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
import string
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from fireside.aws.errors import ModelledErrors, ServiceError

__all__ = [
    "InstanceProfile",
    "ManagedPolicy",
    "Role",
    "Tags",
    "check_name",
    "check_path",
    "iam_error",
    "new_id",
    "page",
    "validation",
]

iam_error = ModelledErrors("iam")

T = TypeVar("T")

_NAME = re.compile(r"[\w+=,.@-]+", re.ASCII)  # Java's \w, as the model means it
_PATH = re.compile(r"/|/[\u0021-\u007e]+/")
#: AWS's default quotas (IAM and AWS STS quotas).
MAX_TAGS: Final = 50
_TAG_PUNCTUATION: Final = frozenset("_.:/=+-@")
_ID_ALPHABET: Final = string.ascii_uppercase + "234567"
_DEFAULT_PAGE: Final = 100


def validation(message: str) -> ServiceError:
    return ServiceError("ValidationError", message, 400)


def _constraint(value: str, where: str, constraint: str) -> ServiceError:
    return validation(
        f"1 validation error detected: Value '{value}' at '{where}' failed to satisfy "
        f"constraint: {constraint}"
    )


def check_name(value: str, where: str, longest: int) -> None:
    """A role/policy/profile name as the model constrains it (for calls that skip the wire
    layer's checks: CloudFormation's providers)."""
    if not 1 <= len(value) <= longest:
        raise _constraint(
            value,
            where,
            f"Member must have length less than or equal to {longest}"
            if value
            else "Member must have length greater than or equal to 1",
        )
    if not _NAME.fullmatch(value):
        raise _constraint(
            value, where, "Member must satisfy regular expression pattern: [\\w+=,.@-]+"
        )


def check_path(value: str) -> None:
    if len(value) > 512 or not _PATH.fullmatch(value):
        raise _constraint(
            value,
            "path",
            "Member must satisfy regular expression pattern: "
            "(\\u002F)|(\\u002F[\\u0021-\\u007E]+\\u002F)",
        )


def new_id(prefix: str) -> str:
    """An IAM unique id: a four-letter kind (`AROA` role, `ANPA` policy, `AIPA` instance
    profile) and 17 more characters of the alphabet AWS's ids use."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def stable_id(prefix: str, seed: str) -> str:
    """An id that is the same every time for the same seed (AWS managed policies)."""
    digest = base64.b32encode(hashlib.sha256(seed.encode()).digest()).decode()
    return prefix + digest[:17]


def timestamp(value: float) -> datetime:
    return datetime.fromtimestamp(int(value), UTC)


# -- tags -----------------------------------------------------------------------------------


class Tags:
    """An entity's tags, in the order first given: keys are unique without regard to case
    (tagging `TEAM` replaces `team`, spelling included); at most 50."""

    def __init__(self, pairs: Sequence[tuple[str, str]] = ()) -> None:
        self._tags: dict[str, tuple[str, str]] = {}
        for key, value in pairs:
            self._tags[key.lower()] = (key, value)

    @classmethod
    def given(cls, tags: list[dict[str, str]] | None) -> Tags:
        for index, tag in enumerate(tags or [], 1):
            for member, value in (("key", tag["Key"]), ("value", tag.get("Value", ""))):
                if not all(_tag_character(c) for c in value):
                    raise _constraint(
                        value,
                        f"tags.{index}.member.{member}",
                        "Member must satisfy regular expression pattern: "
                        + ("[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]" + ("+" if member == "key" else "*")),
                    )
        keys = [tag["Key"].lower() for tag in tags or []]
        if len(set(keys)) != len(keys):
            raise iam_error(
                "InvalidInputException",
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            )
        return cls([(tag["Key"], tag.get("Value", "")) for tag in tags or []])

    def merge(self, other: Tags, kind: str) -> None:
        merged = dict(self._tags)
        for lower, pair in other._tags.items():
            merged[lower] = pair
        if len(merged) > MAX_TAGS:
            raise iam_error(
                "LimitExceededException", f"Cannot exceed quota for TagsPer{kind}: {MAX_TAGS}"
            )
        self._tags = merged

    def remove(self, keys: list[str]) -> None:
        for key in keys:
            self._tags.pop(key.lower(), None)

    def __bool__(self) -> bool:
        return bool(self._tags)

    def __len__(self) -> int:
        return len(self._tags)

    def listed(self) -> list[dict[str, str]]:
        return [{"Key": k, "Value": v} for k, v in self._tags.values()]

    def pairs(self) -> list[list[str]]:
        return [[k, v] for k, v in self._tags.values()]


def _tag_character(char: str) -> bool:
    """IAM's tag alphabet, `[\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]` (Python's `re` has no `\\p{...}`)."""
    return char in _TAG_PUNCTUATION or unicodedata.category(char)[0] in "LZN"


def check_tag_count(tags: Tags) -> None:
    if len(tags) > MAX_TAGS:
        raise _constraint(
            "[...]", "tags", f"Member must have length less than or equal to {MAX_TAGS}"
        )


# -- pagination -----------------------------------------------------------------------------


def page(
    items: list[T], key: Callable[[T], str], params: dict[str, Any]
) -> tuple[list[T], dict[str, Any]]:
    """One page of `items` (sorted by `key`) after `Marker`, at most `MaxItems` (100 by
    default): the page and the `IsTruncated`/`Marker` members of the answer. A marker names
    the first item of the next page, so deletes between pages skip nothing."""
    start = 0
    marker = params.get("Marker")
    if marker:
        try:
            after = base64.urlsafe_b64decode(marker.encode()).decode()
        except (binascii.Error, UnicodeError, ValueError):
            raise validation("Invalid Marker.") from None
        start = next((i for i, item in enumerate(items) if key(item) >= after), len(items))
    limit = params.get("MaxItems") or _DEFAULT_PAGE
    shown = items[start : start + limit]
    out: dict[str, Any] = {"IsTruncated": start + limit < len(items)}
    if out["IsTruncated"]:
        out["Marker"] = base64.urlsafe_b64encode(key(items[start + limit]).encode()).decode()
    return shown, out


# -- entities -------------------------------------------------------------------------------


@dataclass(slots=True)
class Role:
    account: str
    name: str
    path: str
    role_id: str
    created: float
    #: The trust policy as the caller wrote it (returned URL-encoded, as AWS does).
    trust: str
    description: str | None = None
    max_session: int = 3600
    boundary: str | None = None
    tags: Tags = field(default_factory=Tags)
    #: Inline policies: name (as first written) -> document.
    inline: dict[str, str] = field(default_factory=dict)
    #: Attached managed policies' ARNs, in the order they were attached.
    attached: list[str] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role{self.path}{self.name}"

    @property
    def key(self) -> str:
        return self.name.lower()

    def record(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "name": self.name,
            "path": self.path,
            "role_id": self.role_id,
            "created": self.created,
            "trust": self.trust,
            "description": self.description,
            "max_session": self.max_session,
            "boundary": self.boundary,
            "tags": self.tags.pairs(),
            "inline": self.inline,
            "attached": self.attached,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Role:
        return cls(**{**record, "tags": Tags([(k, v) for k, v in record["tags"]])})


@dataclass(slots=True)
class PolicyVersion:
    version_id: str
    document: str
    created: float


@dataclass(slots=True)
class ManagedPolicy:
    account: str
    name: str
    path: str
    policy_id: str
    created: float
    updated: float
    versions: list[PolicyVersion]
    default_version: str = "v1"
    next_version: int = 2
    description: str | None = None
    tags: Tags = field(default_factory=Tags)

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:policy{self.path}{self.name}"

    @property
    def key(self) -> str:
        return self.name.lower()

    def version(self, version_id: str) -> PolicyVersion | None:
        return next((v for v in self.versions if v.version_id == version_id), None)

    def record(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "name": self.name,
            "path": self.path,
            "policy_id": self.policy_id,
            "created": self.created,
            "updated": self.updated,
            "versions": [[v.version_id, v.document, v.created] for v in self.versions],
            "default_version": self.default_version,
            "next_version": self.next_version,
            "description": self.description,
            "tags": self.tags.pairs(),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> ManagedPolicy:
        return cls(
            **{
                **record,
                "versions": [PolicyVersion(*v) for v in record["versions"]],
                "tags": Tags([(k, v) for k, v in record["tags"]]),
            }
        )


@dataclass(slots=True)
class InstanceProfile:
    account: str
    name: str
    path: str
    profile_id: str
    created: float
    #: The role's key (lower-cased name): a profile holds at most one.
    roles: list[str] = field(default_factory=list)
    tags: Tags = field(default_factory=Tags)

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:instance-profile{self.path}{self.name}"

    @property
    def key(self) -> str:
        return self.name.lower()

    def record(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "name": self.name,
            "path": self.path,
            "profile_id": self.profile_id,
            "created": self.created,
            "roles": self.roles,
            "tags": self.tags.pairs(),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> InstanceProfile:
        return cls(**{**record, "tags": Tags([(k, v) for k, v in record["tags"]])})
