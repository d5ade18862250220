"""Request routing for the REST protocols (rest-json and rest-xml).

REST services identify the operation by method and path: `requestUri` templates such as
`/2015-03-31/functions/{FunctionName}/invocations` (labels, greedy `{Key+}` labels, literal
query parameters like `/2018-10-31/layers?find=LayerVersion`).

`Router` compiles every operation's `requestUri` at load time. Requests are bucketed by method
and first path segment (the API date, for Lambda), so routing costs one dict lookup and a few
anchored regex matches. Among matching templates the most specific one (most literal
characters, including literal query parameters such as `?find=LayerVersion`) wins.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from urllib.parse import parse_qsl

from fireside.aws.errors import ServiceError
from fireside.aws.model import Operation, ServiceModel

__all__ = ["Route", "Router", "parse_query"]

_LABEL = re.compile(r"\{([^}]+)\}")


def parse_query(query: str) -> dict[str, list[str]]:
    """A raw query string as {key: [values...]}, percent-decoded, blank values kept."""
    params: dict[str, list[str]] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(key, []).append(value)
    return params


class Route:
    """One operation's compiled `requestUri`."""

    __slots__ = ("first_segment", "labels", "operation", "query_literals", "regex", "sort_key")

    def __init__(self, operation: Operation) -> None:
        self.operation = operation
        path, _, query = operation.request_uri.partition("?")
        #: Literal query parameters the request must carry, e.g. (("find", "LayerVersion"),).
        self.query_literals: tuple[tuple[str, str | None], ...] = tuple(
            (key, value if sep else None)
            for key, sep, value in (part.partition("=") for part in query.split("&") if part)
        )
        pieces: list[str] = []
        labels: list[str] = []
        literal_chars = 0
        greedy = 0
        for index, piece in enumerate(_LABEL.split(path)):
            if index % 2 == 0:
                pieces.append(re.escape(piece))
                literal_chars += len(piece)
                continue
            name = piece.rstrip("+")
            group = f"l{len(labels)}"
            labels.append(name)
            if piece.endswith("+"):
                greedy += 1
                pieces.append(f"(?P<{group}>.+)")
            else:
                pieces.append(f"(?P<{group}>[^/]+)")
        # Older models (and SDKs) put a trailing slash on some URIs (`/functions/`): accept both.
        pattern = "".join(pieces)
        if pattern.endswith("/") and len(pattern) > 1:
            pattern = pattern[:-1]
        self.regex = re.compile(pattern + "/?")
        #: Template label names in group order (`l0`, `l1`...).
        self.labels: tuple[str, ...] = tuple(labels)
        segment = path.split("/", 2)[1] if path.count("/") >= 1 else ""
        #: The literal first path segment, or None when it is (or contains) a label.
        self.first_segment: str | None = None if "{" in segment else segment
        literal_chars += sum(len(k) + len(v or "") for k, v in self.query_literals)
        self.sort_key = (-literal_chars, greedy, operation.name)

    def match(self, path: str, query: Mapping[str, list[str]]) -> dict[str, str] | None:
        """The raw (still percent-encoded) label values if this route matches, else None."""
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        for key, value in self.query_literals:
            values = query.get(key)
            if values is None or (value is not None and value not in values):
                return None
        groups = found.groups()
        return {label: groups[i] for i, label in enumerate(self.labels)}


class Router:
    """Finds the operation for a method and path among a REST service's operations."""

    def __init__(self, service: ServiceModel) -> None:
        self.service = service
        routes = [Route(op) for op in service.operations()]
        self.routes: tuple[Route, ...] = tuple(routes)
        by_method: dict[str, list[Route]] = {}
        for route in routes:
            by_method.setdefault(route.operation.http_method, []).append(route)
        self._buckets: dict[tuple[str, str], tuple[Route, ...]] = {}
        self._fallback: dict[str, tuple[Route, ...]] = {}
        for method, method_routes in by_method.items():
            wild = [r for r in method_routes if r.first_segment is None]
            self._fallback[method] = tuple(sorted(wild, key=_sort_key))
            for segment in {r.first_segment for r in method_routes} - {None}:
                assert segment is not None
                bucket = [r for r in method_routes if r.first_segment == segment] + wild
                self._buckets[(method, segment)] = tuple(sorted(bucket, key=_sort_key))

    def match(
        self, method: str, path: str, query: Mapping[str, list[str]]
    ) -> tuple[Operation, dict[str, str]]:
        """The operation and its raw label values; raises UnknownOperationException (404)."""
        for route, labels in self.matches(method, path, query):
            return route.operation, labels
        raise ServiceError(
            "UnknownOperationException",
            f"No {self.service.service_id} operation matches {method} {path}",
            404,
        )

    def matches(
        self, method: str, path: str, query: Mapping[str, list[str]]
    ) -> Iterator[tuple[Route, dict[str, str]]]:
        """Every matching route with its raw label values, most specific first.

        S3 has operations that share a method and URI and differ only by a header
        (`PutObject` and `CopyObject`, with `x-amz-copy-source`); its protocol picks among them.
        """
        parts = path.split("/", 2)
        segment = parts[1] if len(parts) > 1 else ""
        candidates = self._buckets.get((method, segment)) or self._fallback.get(method, ())
        for route in candidates:
            labels = route.match(path, query)
            if labels is not None:
                yield route, labels


def _sort_key(route: Route) -> tuple[int, int, str]:
    return route.sort_key
