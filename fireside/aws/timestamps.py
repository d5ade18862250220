"""Timestamp conversions for the AWS wire formats: epoch seconds, ISO 8601 and RFC 822.

Service models name a format per member (`timestampFormat`) or leave the protocol default:
JSON bodies use epoch seconds, query strings and URIs ISO 8601, headers RFC 822. Clients are
not always strict about it, so parsing accepts any of the three; formatting follows the
requested format exactly as botocore writes it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime

__all__ = ["EPOCH", "epoch_seconds", "format_timestamp", "parse_timestamp"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_timestamp(value: str | int | float) -> datetime:
    """An aware UTC datetime from epoch seconds (number or numeric string), ISO 8601 or RFC 822.

    Raises ValueError for anything else.
    """
    if isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    if isinstance(value, int | float):
        return _from_epoch(value)
    text = value.strip()
    try:
        return _from_epoch(float(text))
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError) as exc:
            raise ValueError(f"not a timestamp: {value!r}") from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _from_epoch(seconds: float) -> datetime:
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        raise ValueError("not a finite timestamp")
    try:
        # timedelta rounds to the nearest microsecond, undoing float noise in `1.000001`.
        return EPOCH + timedelta(seconds=seconds)
    except OverflowError as exc:
        raise ValueError(f"timestamp out of range: {seconds}") from exc


def _aware(value: datetime) -> datetime:
    # A naive datetime from a provider means UTC (Fireside never uses local time).
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def epoch_seconds(value: datetime | int | float) -> int | float:
    """Epoch seconds as botocore writes them: an int when whole, else microsecond precision."""
    if isinstance(value, int | float):
        return value
    delta = _aware(value) - EPOCH
    whole = delta.days * 86400 + delta.seconds
    if not delta.microseconds:
        return whole
    # Add in integer microseconds and divide once so the float is rounded only once.
    return (whole * 1_000_000 + delta.microseconds) / 1_000_000


def format_timestamp(value: datetime | int | float, fmt: str) -> str | int | float:
    """`value` in the model's format name: unixTimestamp, iso8601 or rfc822."""
    fmt = fmt.lower()
    if fmt == "unixtimestamp":
        return epoch_seconds(value)
    moment = _aware(value) if isinstance(value, datetime) else _from_epoch(value)
    moment = moment.astimezone(UTC)
    if fmt == "iso8601":
        if moment.microsecond:
            return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if fmt == "rfc822":
        return format_datetime(moment.replace(microsecond=0), usegmt=True)
    raise ValueError(f"unknown timestamp format {fmt!r}")
