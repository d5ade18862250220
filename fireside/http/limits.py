"""What one client can make the HTTP server hold: bytes, seconds and connections.

Every bound is a field of `HttpLimits`, set from `FIRESIDE_HTTP_<FIELD>` (or `[http]` in
`fireside.toml`). The defaults follow what well-known front ends use: AWS's Application Load
Balancer (16 KB request line, 64 KB of headers, 60 s idle timeout), Apache (100 header fields),
nginx (60 s between two body reads).
"""

from __future__ import annotations

import dataclasses
import logging
import resource
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

_ENV_PREFIX = "FIRESIDE_HTTP_"


@dataclass(frozen=True, slots=True)
class HttpLimits:
    #: Bytes of the request target (path and query); a longer one is answered 414.
    max_url: int = 16 * 1024
    #: Bytes of the request head (request line and header fields); more is answered 431.
    max_head: int = 64 * 1024
    #: Header fields in one request; more is answered 431.
    max_headers: int = 100
    #: Bytes of a request body unless the edge sets a lower bound for the service (413).
    max_body: int = 80 * 1024 * 1024
    #: Seconds a request head may take from its first byte (or from the connection's opening)
    #: until its last; then 408 (or a silent close if nothing was sent) and the connection ends.
    header_timeout: float = 20.0
    #: Seconds a request body may go without a byte arriving before 408 and close.
    body_timeout: float = 60.0
    #: Seconds a keep-alive connection may sit between requests before it is closed.
    keepalive_timeout: float = 60.0
    #: Seconds a client may leave answers unread (the write buffer full) before the
    #: connection is aborted, dropping what it has not read.
    send_timeout: float = 60.0
    #: Connections open at once per server (its listeners together). Past it the longest-idle
    #: connection is closed to make room, or, with none idle, the new one is answered 503.
    max_connections: int = 10_000
    #: Requests read ahead on one connection before reading pauses until they are answered.
    max_pipelined: int = 32

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: HttpLimits | None = None) -> HttpLimits:
        """Limits from {field: value} (a `[http]` table); unknown names raise ValueError."""
        current = base or cls()
        changes: dict[str, Any] = {}
        for name, value in values.items():
            if name not in _FIELDS:
                raise ValueError(f"unknown HTTP limit {name!r}")
            kind = type(getattr(current, name))
            converted = kind(value)
            if converted <= 0:
                raise ValueError(f"{name} must be positive, not {value!r}")
            changes[name] = converted
        return dataclasses.replace(current, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str], base: HttpLimits | None = None) -> HttpLimits:
        """`base` with every `FIRESIDE_HTTP_<FIELD>` variable of `env` applied."""
        values = {
            name: env[_ENV_PREFIX + name.upper()]
            for name in _FIELDS
            if _ENV_PREFIX + name.upper() in env
        }
        try:
            return cls.from_mapping(values, base)
        except ValueError as exc:
            raise ValueError(f"{_ENV_PREFIX}*: {exc}") from exc

    @property
    def tick(self) -> float:
        """How often deadlines are checked: often enough for the shortest timeout's accuracy."""
        shortest = min(
            self.header_timeout, self.body_timeout, self.keepalive_timeout, self.send_timeout
        )
        return min(1.0, shortest / 4)


_FIELDS = frozenset(field.name for field in dataclasses.fields(HttpLimits))


def raise_open_file_limit(wanted: int) -> int:
    """Raise this process's soft limit on open files towards `wanted` (never past the hard
    limit); returns the soft limit now in force. Each connection holds one descriptor, so a
    connection cap above this limit would fail at accept() instead of where we choose."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit to %d: %s", target, exc)
    return soft
