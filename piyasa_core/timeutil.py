"""The one place where timestamps are normalised to timezone-aware UTC."""

from __future__ import annotations

from datetime import date, datetime, time, timezone

UTC = timezone.utc


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(value: datetime | str | int | float) -> datetime:
    """Normalise a timestamp to an aware UTC ``datetime``.

    Accepts aware or naive datetimes (naive ones are taken to be UTC, which is how the
    store and the cache write them), ISO-8601 strings (``Z`` suffix included) and Unix
    epoch seconds. Anything else raises ``TypeError``.
    """
    if isinstance(value, datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        return as_utc(datetime.fromisoformat(text))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    if isinstance(value, date):
        return datetime.combine(value, time(), UTC)
    raise TypeError(f"cannot read a timestamp from {type(value).__name__}")
