"""Parsing of Fireside's credential configuration, `FIRESIDE_CREDENTIALS`.

The variable lists the access keys the server accepts and their secrets as comma-separated
`ACCESS_KEY_ID:SECRET` pairs, e.g. `FIRESIDE_CREDENTIALS="AKID1:SECRET1,AKID2:SECRET2"`. Blank or
unset means "no credentials": the server then accepts any request, signed or not (see
`fireside.aws.auth.Authenticator`).
"""

from __future__ import annotations

ENV_VAR = "FIRESIDE_CREDENTIALS"


def parse_credentials_env(value: str) -> dict[str, str]:
    """Parse `AKID1:SECRET1,AKID2:SECRET2` into `{access key id: secret}`; blank -> `{}`.

    Raises ValueError naming the offending entry by position: error messages never echo a
    secret (they end up in logs), so entries are identified by number and access key only.
    """
    if not value.strip():
        return {}
    credentials: dict[str, str] = {}
    for number, entry in enumerate(value.split(","), start=1):
        entry = entry.strip()
        where = f"{ENV_VAR} entry {number}"
        if not entry:
            raise ValueError(
                f"{where} is empty; expected comma-separated ACCESS_KEY_ID:SECRET pairs"
            )
        # Split on the first colon only: access key ids never contain one, so a colon in the
        # secret (unusual, but harmless) survives.
        access_key_id, colon, secret = entry.partition(":")
        access_key_id, secret = access_key_id.strip(), secret.strip()
        if not colon:
            raise ValueError(f"{where} has no ':'; expected ACCESS_KEY_ID:SECRET")
        if not access_key_id:
            raise ValueError(f"{where} has an empty access key id; expected ACCESS_KEY_ID:SECRET")
        if not secret:
            raise ValueError(f"{where} ({access_key_id!r}) has an empty secret")
        # A slash or whitespace in the key would make the SigV4 credential scope
        # (`AKID/date/region/service/aws4_request`) unparseable, so such a key could never sign.
        if "/" in access_key_id or any(ch.isspace() for ch in access_key_id):
            raise ValueError(
                f"{where}: access key id {access_key_id!r} must not contain '/' or whitespace"
            )
        if any(ch.isspace() for ch in secret):
            raise ValueError(f"{where} ({access_key_id!r}): the secret must not contain whitespace")
        if access_key_id in credentials:
            raise ValueError(f"{where}: access key id {access_key_id!r} is listed twice")
        credentials[access_key_id] = secret
    return credentials
