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

__all__ = ["TOKEN_SECONDS", "MappingTokens", "presigned_token"]

#: A token's validity (the signer library's default: 15 minutes).
TOKEN_SECONDS = 900
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
    """aiokafka's OAUTHBEARER token provider for one poller: its credentials are issued once
    (when the poller connects) and each token signed with them is reused for a while."""

    def __init__(self, issue: Issue, region: str) -> None:
        self._issue = issue
        self._region = region
        self._credentials: tuple[str, str, str] | None = None
        self._token = ""
        self._signed = 0.0

    @property
    def access_key_id(self) -> str | None:
        return self._credentials[0] if self._credentials else None

    async def token(self) -> str:
        if self._credentials is None:
            self._credentials = self._issue()
            if self._credentials is None:
                raise PermissionError("the mapping's function (its execution role) is gone")
        if not self._token or time.monotonic() - self._signed > _REFRESH_AFTER:
            key, secret, session = self._credentials
            self._token = presigned_token(key, secret, session, self._region)
            self._signed = time.monotonic()
        return self._token
