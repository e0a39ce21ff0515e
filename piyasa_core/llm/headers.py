"""Reading rate-limit headers and the waits written into providers' error messages."""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from piyasa_core.llm.types import RateLimitHeaders
from piyasa_core.timeutil import utcnow

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_WAIT_IN_TEXT = re.compile(r"try again in ((?:\d+(?:\.\d+)?(?:ms|h|m|s))+)", re.I)


def parse_reset(text: str | None) -> float | None:
    """Seconds from ``"2m59.56s"``, ``"7.66s"``, ``"1h2m"``, ``"450ms"`` or a bare number."""
    if text is None:
        return None
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(number) * scale[unit] for number, unit in parts)


def parse_retry_after(text: str | None) -> float | None:
    """Seconds from a ``retry-after`` header (seconds or an HTTP date)."""
    if not text:
        return None
    seconds = parse_reset(text)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        return max(0.0, (parsedate_to_datetime(text) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


def wait_from_message(message: str) -> float | None:
    """The wait in texts such as Groq's "Please try again in 7m12.5s"."""
    match = _WAIT_IN_TEXT.search(message)
    return parse_reset(match.group(1)) if match else None


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


def read_rate_limit_headers(headers: Mapping[str, str] | None) -> RateLimitHeaders:
    """The ``x-ratelimit-*`` and ``retry-after`` headers of a response (case-insensitive)."""
    if not headers:
        return RateLimitHeaders()
    lower = {k.lower(): v for k, v in headers.items()}
    return RateLimitHeaders(
        limit_requests=_int(lower.get("x-ratelimit-limit-requests")),
        remaining_requests=_int(lower.get("x-ratelimit-remaining-requests")),
        reset_requests_s=parse_reset(lower.get("x-ratelimit-reset-requests")),
        limit_tokens=_int(lower.get("x-ratelimit-limit-tokens")),
        remaining_tokens=_int(lower.get("x-ratelimit-remaining-tokens")),
        reset_tokens_s=parse_reset(lower.get("x-ratelimit-reset-tokens")),
        retry_after_s=parse_retry_after(lower.get("retry-after")),
    )
