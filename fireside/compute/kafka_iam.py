"""How a Kafka event-source mapping signs in to an MSK cluster with IAM access control.

On AWS, a mapping on a cluster with IAM client authentication (and no SCRAM secret named)
connects with SASL/IAM as the function's execution role. Fireside does the same, with no
shortcut past the listener's check: the mapping is issued temporary credentials of its own
account (a session of the function's role, as an execution environment is), signs an
OAUTHBEARER token with them (a SigV4-presigned `kafka-cluster:Connect` request, the format of
`aws-msk-iam-sasl-signer-python`), and the cluster's listener verifies it like any client's and
admits only its own account.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

from aiokafka.abc import AbstractTokenProvider
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

__all__ = ["REISSUE_AFTER", "TOKEN_SECONDS", "MappingTokens", "presigned_token"]

#: A token's validity (the signer library's default: 15 minutes).
TOKEN_SECONDS = 900
#: Credentials are issued anew when older than this (they are valid for 12 hours).
REISSUE_AFTER = 3600.0
#: A token is signed anew when the one held is older than this.
_REFRESH_AFTER = TOKEN_SECONDS / 3

#: (access key id, secret, session token) of a mapping's account, or None if it has no
#: function (its role) any more.
Issue = Callable[[], tuple[str, str, str] | None]


def presigned_token(key: str, secret: str, session: str | None, region: str) -> str:
    """The OAUTHBEARER token for `kafka-cluster:Connect` in `region`, signed now."""
    signer = SigV4QueryAuth(
        Credentials(key, secret, session), "kafka-cluster", region, expires=TOKEN_SECONDS
    )
    request = AWSRequest(
        method="GET",
        url=f"https://kafka.{region}.amazonaws.com/",
        params={"Action": "kafka-cluster:Connect"},
    )
    signer.add_auth(request)
    url = request.prepare().url
    return base64.urlsafe_b64encode(url.encode()).decode().rstrip("=")


class MappingTokens(AbstractTokenProvider):  # type: ignore[misc]
    """aiokafka's OAUTHBEARER token provider for one poller. Its credentials are issued when it
    first connects and again every `REISSUE_AFTER` (an environment's keys last 12 hours; a
    poller runs for as long as its mapping), the old key revoked; each token signed with them
    is reused for a while."""

    def __init__(self, issue: Issue, revoke: Callable[[str], None], region: str) -> None:
        self._issue = issue
        self._revoke = revoke
        self._region = region
        self._credentials: tuple[str, str, str] | None = None
        self._issued = 0.0
        self._token = ""
        self._signed = 0.0

    def close(self) -> None:
        """Revoke the key held (the poller stopped)."""
        if self._credentials is not None:
            self._revoke(self._credentials[0])
            self._credentials = None

    async def token(self) -> str:
        now = time.monotonic()
        if self._credentials is None or now - self._issued > REISSUE_AFTER:
            fresh = self._issue()
            if fresh is None:
                raise PermissionError("the mapping's function (its execution role) is gone")
            self.close()
            self._credentials, self._issued, self._token = fresh, now, ""
        if not self._token or now - self._signed > _REFRESH_AFTER:
            key, secret, session = self._credentials
            self._token = presigned_token(key, secret, session, self._region)
            self._signed = now
        return self._token
