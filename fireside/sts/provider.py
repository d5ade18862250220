"""The STS provider: GetCallerIdentity, GetSessionToken and AssumeRole.

Fireside has no IAM users, and its IAM roles (`fireside.iam`) are stored, not consulted: a
configured access key acts as its account's root, an execution environment's key as the
function's execution role (session name: the function name, as on Lambda). STS answers with
those identities, and the sessions it hands out are real temporary credentials: the
authenticator accepts them (with their session identity) until they expire.
Nothing is evaluated against policies, so AssumeRole trusts any caller of the role's own
account and refuses other accounts (trust policies are not evaluated). Sessions live in memory
and end when the server stops.

Other STS operations are absent from `operations()`, so the edge answers them with a
NotImplementedException naming them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

from fireside.aws.auth import Authenticator, Identity
from fireside.aws.context import RequestContext
from fireside.aws.errors import ServiceError

__all__ = ["StsProvider", "assumed_role", "new_access_key"]

Operation = Callable[[RequestContext, dict[str, Any]], Awaitable[dict[str, Any]]]

_ROLE_ARN: Final = re.compile(
    r"arn:aws[a-z-]*:iam::(?P<account>[0-9]{12}):role/(?:[\w+=,.@/-]*/)?(?P<name>[\w+=,.@-]+)"
)
#: GetSessionToken's default lifetime, and the one-hour cap AWS puts on the root's sessions.
_SESSION_DEFAULT = 43200
_ROOT_SESSION_MAX = 3600
_ROLE_DEFAULT = 3600
#: A session that assumes a role again ("role chaining") lasts at most an hour.
_CHAINED_MAX = 3600


def new_access_key() -> tuple[str, str, str]:
    """(access key id, secret, session token) of a new set of temporary credentials."""
    return (
        "ASIA" + secrets.token_hex(8).upper(),
        secrets.token_urlsafe(30),
        secrets.token_urlsafe(48),
    )


def _role_id(account: str, role_name: str) -> str:
    # IAM gives each role a unique id (AROA...); without IAM, the same role always gets the same.
    digest = hashlib.sha256(f"{account}:{role_name}".encode()).digest()
    return "AROA" + base64.b32encode(digest).decode()[:17]


def assumed_role(account: str, role_arn: str, session: str) -> Identity | None:
    """Who a session of `role_arn` named `session` is, in `account`; None if not a role ARN."""
    match = _ROLE_ARN.fullmatch(role_arn)
    if match is None:
        return None
    name = match["name"]
    return Identity(
        account,
        f"arn:aws:sts::{account}:assumed-role/{name}/{session}",
        f"{_role_id(account, name)}:{session}",
    )


def _denied(who: Identity, action: str, resource: str) -> ServiceError:
    return ServiceError(
        "AccessDenied",
        f"User: {who.arn} is not authorized to perform: sts:{action} on resource: {resource}",
        403,
    )


class StsProvider:
    def __init__(
        self, authenticator: Authenticator, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._auth = authenticator
        self._clock = clock

    def operations(self) -> dict[str, Operation]:
        return {
            "GetCallerIdentity": self.get_caller_identity,
            "GetSessionToken": self.get_session_token,
            "AssumeRole": self.assume_role,
        }

    def _caller(self, ctx: RequestContext) -> Identity:
        return self._auth.identity(ctx.access_key_id, ctx.account_id)

    async def get_caller_identity(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        who = self._caller(ctx)
        return {"UserId": who.user_id, "Account": who.account_id, "Arn": who.arn}

    async def get_session_token(
        self, ctx: RequestContext, params: dict[str, Any]
    ) -> dict[str, Any]:
        who = self._caller(ctx)
        if self._auth.is_temporary(ctx.access_key_id):
            raise ServiceError(
                "AccessDenied", "Cannot call GetSessionToken with session credentials", 403
            )
        # Every configured key is its account's root, whose sessions AWS caps at an hour.
        duration = min(params.get("DurationSeconds", _SESSION_DEFAULT), _ROOT_SESSION_MAX)
        return {"Credentials": self._issue(who, duration)}

    async def assume_role(self, ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
        who = self._caller(ctx)
        role_arn: str = params["RoleArn"]
        session: str = params["RoleSessionName"]
        match = _ROLE_ARN.fullmatch(role_arn)
        if match is None:  # AWS's words for a malformed ARN; kept for other non-role ARNs
            raise ServiceError("ValidationError", f"{role_arn} is invalid", 400)
        if match["account"] != ctx.account_id:
            # No trust policies to consult: a role trusts its own account only.
            raise _denied(who, "AssumeRole", role_arn)
        policy = params.get("Policy")
        if policy is not None:
            try:
                json.loads(policy)
            except ValueError:
                raise ServiceError(
                    "MalformedPolicyDocumentException",
                    "The policy is not in the valid JSON format.",
                    400,
                ) from None
        duration = params.get("DurationSeconds", _ROLE_DEFAULT)
        if ":assumed-role/" in who.arn and duration > _CHAINED_MAX:
            raise ServiceError(
                "ValidationError",
                "The requested DurationSeconds exceeds the 1 hour session limit for roles "
                "assumed by role chaining.",
                400,
            )
        identity = assumed_role(ctx.account_id, role_arn, session)
        assert identity is not None  # the ARN matched above
        out: dict[str, Any] = {
            "Credentials": self._issue(identity, duration),
            "AssumedRoleUser": {"AssumedRoleId": identity.user_id, "Arn": identity.arn},
        }
        if params.get("SourceIdentity"):
            out["SourceIdentity"] = params["SourceIdentity"]
        return out

    def _issue(self, identity: Identity, duration: int) -> dict[str, Any]:
        key, secret, token = new_access_key()
        # Whole seconds: the Expiration clients see is when the key stops working.
        expires = float(int(self._clock()) + duration)
        self._auth.add_temporary(
            key, secret, identity.account_id, identity=identity, expires=expires
        )
        return {
            "AccessKeyId": key,
            "SecretAccessKey": secret,
            "SessionToken": token,
            "Expiration": datetime.fromtimestamp(expires, UTC),
        }
