"""Random identifiers minted on every request: one system call each, no `UUID` object."""

from __future__ import annotations

import os
import time


def request_id() -> str:
    """A random (version 4) UUID in its usual text form, as `str(uuid.uuid4())` gives."""
    h = os.urandom(16).hex()
    variant = "89ab"[int(h[16], 16) & 3]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


def trace_id() -> str:
    """An X-Ray trace header for a request that arrived without one (not sampled)."""
    h = os.urandom(20).hex()
    return f"Root=1-{int(time.time()):08x}-{h[:24]};Parent={h[24:]};Sampled=0"
