"""Who is calling and where: what a provider method learns about a request besides its params."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestContext:
    account_id: str
    region: str
    request_id: str
    #: The endpoint clients use to reach this server (for URLs handed back, e.g. code locations).
    endpoint_url: str
    #: The access key that signed the request ("" when unsigned): who the caller is, for STS.
    access_key_id: str = ""
    #: The request's Host header and path as sent (before a service's `path_rewrite`): for
    #: the few operations whose answer depends on the address (the `@connections` API).
    host: str = ""
    path: str = ""
