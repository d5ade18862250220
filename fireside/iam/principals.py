"""IAM users and groups as records: who they are and what policies they hold.

Fireside's users are stored and returned for the tools that manage them (Terraform, templates
with `AWS::IAM::Policy` on `Users`/`Groups`); they have no access keys or passwords, so no one
signs in as one. A group lists its members (by user key); a user's groups are found from the
groups, so membership lives in one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fireside.iam.entities import Tags, timestamp

__all__ = ["Group", "User"]


@dataclass(slots=True)
class User:
    account: str
    name: str
    path: str
    user_id: str
    created: float
    tags: Tags = field(default_factory=Tags)
    inline: dict[str, str] = field(default_factory=dict)
    attached: list[str] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:user{self.path}{self.name}"

    @property
    def key(self) -> str:
        return self.name.lower()

    def record(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "name": self.name,
            "path": self.path,
            "user_id": self.user_id,
            "created": self.created,
            "tags": self.tags.pairs(),
            "inline": self.inline,
            "attached": self.attached,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> User:
        return cls(**{**record, "tags": Tags([(k, v) for k, v in record["tags"]])})

    def view(self, *, tags: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "Path": self.path,
            "UserName": self.name,
            "UserId": self.user_id,
            "Arn": self.arn,
            "CreateDate": timestamp(self.created),
        }
        if tags and self.tags:
            out["Tags"] = self.tags.listed()
        return out


@dataclass(slots=True)
class Group:
    account: str
    name: str
    path: str
    group_id: str
    created: float
    inline: dict[str, str] = field(default_factory=dict)
    attached: list[str] = field(default_factory=list)
    #: Members' keys (lower-cased user names), in the order they were added.
    users: list[str] = field(default_factory=list)

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:group{self.path}{self.name}"

    @property
    def key(self) -> str:
        return self.name.lower()

    def record(self) -> dict[str, Any]:
        return {
            "account": self.account,
            "name": self.name,
            "path": self.path,
            "group_id": self.group_id,
            "created": self.created,
            "inline": self.inline,
            "attached": self.attached,
            "users": self.users,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Group:
        return cls(**record)

    def view(self) -> dict[str, Any]:
        return {
            "Path": self.path,
            "GroupName": self.name,
            "GroupId": self.group_id,
            "Arn": self.arn,
            "CreateDate": timestamp(self.created),
        }
