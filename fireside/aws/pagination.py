"""Marker pagination (`Marker` in, `NextMarker` out, `MaxItems` per page), as Lambda does it.

Every Lambda list operation pages the same way, so every one of them calls `marker_page`:

- The items are listed in the order of their key (a name, a version number, an ARN); a page
  is at most `MaxItems` of them (50 when absent; operations AWS documents as returning at
  most 50 per call whatever `MaxItems` says are capped at 50). The model's bounds on
  `MaxItems` (1..10000, or 1..50) are checked before a provider runs.
- `NextMarker` is sent only when items remain, and is opaque: it names the listing it came
  from and the key of the last item given. A marker resumes strictly after that key, so an
  item deleted or added between pages never makes another item appear twice or be skipped
  (a listing changed between pages may of course include or miss the changed item), and a
  marker whose item has since gone still resumes in place instead of answering an empty page.
- A marker Fireside did not issue for this listing (not decodable, or from another operation
  or function) is the caller's error: AWS refuses markers it did not issue with a 400, and so
  does Fireside, with the error the caller passes (Lambda's `InvalidParameterValueException`).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fireside.aws.errors import ServiceError

__all__ = ["DEFAULT_PAGE", "Key", "marker_page", "token_page"]

T = TypeVar("T")
#: An item's place in its listing: compared as a tuple, carried in the marker as JSON.
Key = tuple[str | int, ...]
#: Lambda's page size when the caller gives no `MaxItems`.
DEFAULT_PAGE = 50


def _encode(scope: str, key: Key) -> str:
    document = json.dumps([scope, list(key)], separators=(",", ":"))
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip("=")


def _decode(marker: str, scope: str, invalid: Callable[[], ServiceError]) -> Key:
    try:
        padded = marker + "=" * (-len(marker) % 4)
        found = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (UnicodeError, ValueError, binascii.Error):  # JSONDecodeError is a ValueError
        raise invalid() from None
    if (
        not isinstance(found, list)
        or len(found) != 2
        or found[0] != scope
        or not isinstance(found[1], list)
        or not all(isinstance(part, str | int) and not isinstance(part, bool) for part in found[1])
    ):
        raise invalid()
    return tuple(found[1])


def marker_page(
    items: Sequence[T],
    key: Callable[[T], Key],
    params: dict[str, Any],
    *,
    scope: str,
    invalid: Callable[[], ServiceError],
    cap: int | None = DEFAULT_PAGE,
) -> tuple[list[T], str | None]:
    """One page of `items` (in any order; listed by `key`) and the `NextMarker`, if any.

    `scope` names the listing (the operation, and the function or layer it lists), so a
    marker from another listing is refused; `cap` is the most one page holds whatever
    `MaxItems` asks (None: as many as `MaxItems`, which the model bounds)."""
    ordered = sorted(items, key=key)
    marker = params.get("Marker")
    if marker:
        after = _decode(marker, scope, invalid)
        ordered = [item for item in ordered if _after(key(item), after)]
    limit = params.get("MaxItems") or DEFAULT_PAGE
    if cap is not None:
        limit = min(limit, cap)
    page = ordered[:limit]
    if len(ordered) <= limit:
        return page, None
    return page, _encode(scope, key(page[-1]))


def token_page(
    items: Sequence[T],
    key: Callable[[T], str],
    token: str | None,
    limit: int | None,
    *,
    scope: str,
    invalid: Callable[[], ServiceError],
    cap: int = 100,
) -> tuple[list[T], dict[str, Any]]:
    """`marker_page` for APIs that page with `NextToken` (EventBridge, Scheduler): one page
    of at most `limit` (default and cap `cap`) and `{"NextToken": ...}` when more follow."""
    page, marker = marker_page(
        items,
        lambda item: (key(item),),
        {"Marker": token, "MaxItems": limit or cap},
        scope=scope,
        invalid=invalid,
        cap=cap,
    )
    return page, ({"NextToken": marker} if marker else {})


def _after(candidate: Key, after: Key) -> bool:
    # Keys of one listing have the same shape; a hand-made marker of another shape must not
    # crash the comparison (str vs int), so compare part by part as text where types differ.
    for mine, theirs in zip(candidate, after, strict=False):
        if mine == theirs:
            continue
        if type(mine) is type(theirs):
            return mine > theirs  # type: ignore[operator]
        return str(mine) > str(theirs)
    return len(candidate) > len(after)
