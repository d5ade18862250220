"""Request and trace ids have the shapes AWS's have, and differ every time."""

from __future__ import annotations

import re
import uuid

from fireside.ids import request_id, trace_id


def test_request_ids_are_version_4_uuids() -> None:
    seen = {request_id() for _ in range(2000)}
    assert len(seen) == 2000
    for text in seen:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_trace_ids_are_x_ray_headers() -> None:
    shape = re.compile(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0")
    seen = {trace_id() for _ in range(500)}
    assert len(seen) == 500
    assert all(shape.fullmatch(t) for t in seen)
