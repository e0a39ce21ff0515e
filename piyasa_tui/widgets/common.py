"""What every dashboard widget renders (one immutable `Frame`) and the small formatters they share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from piyasa_core.workers.snapshot import ProviderView, Snapshot

ISTANBUL = "Europe/Istanbul"
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
NOT_AN_LLM = "not an LLM"

STATE_STYLES = {
    # workers
    "running": "green", "starting": "yellow", "draining": "yellow", "stopped": "dim",
    "crashed": "bold red", "backoff": "bold red",
    # providers
    "ok": "green", "cooling": "yellow", "exhausted": "red", "down": "red",
    "auth_error": "bold red", "model_missing": "bold red", "unknown": "dim", "not_configured": "dim",
}


@dataclass(frozen=True)
class Frame:
    """One refresh: the supervisor's snapshot, the wall clock, and what the operator last asked for."""

    snapshot: Snapshot
    now: float  # wall-clock epoch seconds (injectable: fixed in snapshot tests)
    running: bool  # the simulation state to show (an operator's pending pause/resume wins)
    tz: tzinfo

    @property
    def tz_label(self) -> str:
        if getattr(self.tz, "key", "") == ISTANBUL:
            return "TRT"
        return datetime.fromtimestamp(self.now, self.tz).tzname() or ""


def zone(name: str) -> tzinfo:
    return ZoneInfo(name)


def clock_text(at: float, tz: tzinfo) -> str:
    """HH:MM:SS of an epoch time in ``tz``."""
    return datetime.fromtimestamp(at, tz).strftime("%H:%M:%S")


def hhmm(at: float, tz: tzinfo) -> str:
    return datetime.fromtimestamp(at, tz).strftime("%H:%M")


def duration(seconds: float | None) -> str:
    """Compact elapsed time: 59:59, 23h59m, 9d23h."""
    if seconds is None or seconds < 0:
        return "–"
    s = int(seconds)
    if s < 3600:
        return f"{s // 60:02d}:{s % 60:02d}"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"


def countdown(seconds: float | None) -> str:
    """A short countdown: 4s, 2m05s, 1h10m."""
    if seconds is None:
        return ""
    s = max(0, math.ceil(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def count(n: float | None) -> str:
    """Human counts: 987, 11.2k, 41k, 1.5M."""
    if n is None:
        return "?"
    n = float(n)
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= limit:
            value = n / limit
            if value < 100:
                return f"{value:.1f}".removesuffix(".0") + suffix
            return f"{value:.0f}{suffix}"
    return f"{n:.0f}"


def percent(rate: float | None) -> str:
    return "–" if rate is None else f"{rate * 100:.0f}%"


def hit_rate(cache: dict, layer: str) -> float | None:
    hits = int(cache.get(f"{layer}_hits", 0) or 0)
    misses = int(cache.get(f"{layer}_misses", 0) or 0)
    return hits / (hits + misses) if hits + misses else None


def sparkline(values: tuple[int, ...], peak: int) -> str:
    """Block characters ▁..█ scaled to ``peak`` (shared by all rows so they compare); zero is ▁."""
    if not values:
        return ""
    top = len(SPARK_BLOCKS) - 1
    out = []
    for v in values:
        if v <= 0 or peak <= 0:
            out.append(SPARK_BLOCKS[0])
        else:
            out.append(SPARK_BLOCKS[max(1, min(top, math.ceil(v / peak * top)))])
    return "".join(out)


def provider_title(p: ProviderView) -> str:
    """`groq (llama-3.3-70b)`, or the offline provider's label, which says it is not an LLM."""
    if not p.is_llm:
        return p.label if NOT_AN_LLM in p.label else f"{p.name} — {NOT_AN_LLM}"
    return f"{p.name} ({p.model})" if p.model else p.name


def one_line(text: str) -> str:
    return " ".join(text.split())


def clip(text: str, width: int) -> str:
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"
