"""Temporary credentials of execution environments, and how long they last.

Each environment gets a key of its own (its function's account, acting as a session of the
execution role named after the function, as on Lambda) that Fireside accepts until the
environment stops or the key expires, whichever comes first. A snapshot template's Init gets
one too (`TemplateSession`), revoked with the template or its version.

Lambda gives an environment credentials valid for its lifetime and recycles environments
within hours; role sessions last at most 12 hours. Fireside does the same with fixed figures:
keys expire after `LIFETIME`, and nothing that holds one is given an invoke after
`REUSE_AGE`, so even an invoke started at that age (up to Lambda's 15 minute timeout) ends
before the key expires, in an environment forked from a template at the end of its own
`REUSE_AGE` too.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from fireside.aws.auth import Authenticator
from fireside.sts import assumed_role, new_access_key

#: Seconds an environment's (or a template's) credentials are valid: AWS's longest role session.
LIFETIME = 12 * 3600.0
#: Lambda's longest function timeout.
MAX_INVOKE = 15 * 60.0
#: Seconds after its start during which an environment takes invokes, and a template forks
#: environments; past it the environment is stopped when idle and a new one started.
REUSE_AGE = LIFETIME / 2 - MAX_INVOKE

Credentials = tuple[str, str, str]


class EnvironmentCredentials:
    """Issues and revokes the keys of execution environments (and templates)."""

    def __init__(
        self,
        authenticator: Authenticator,
        *,
        lifetime: float = LIFETIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._auth = authenticator
        self._lifetime = lifetime
        self._clock = clock

    def issue(self, account: str, role: str, function: str) -> Credentials:
        """A fresh (key id, secret, session token) for one environment of `function`.

        Accepted for `account` only, never one of the server's configured keys, and refused
        after `lifetime` even if nothing revokes it."""
        key, secret, token = new_access_key()
        self._auth.add_temporary(
            key,
            secret,
            account,
            identity=assumed_role(account, role, function),
            expires=self._clock() + self._lifetime,
        )
        return key, secret, token

    def revoke(self, access_key_id: str) -> None:
        self._auth.revoke(access_key_id)
