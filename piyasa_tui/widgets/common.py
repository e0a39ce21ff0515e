"""What every dashboard widget renders (one immutable `Frame`) and the small formatters they share."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, tzinfo
from zoneinfo import ZoneInfo

from piyasa_core.workers.snapshot import ProviderView, Snapshot
from piyasa_tui.source import Link

ISTANBUL = "Europe/Istanbul"
STALE_AFTER_S = 2.0  # an attached TUI's data is stale when no snapshot came for this long (they come at 2 Hz)
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
    link: Link | None = None  # attached: the connection to the server (None: embedded, always fresh)

    @property
    def data_age(self) -> float | None:
        """Seconds since the newest snapshot arrived (None when embedded, or nothing arrived yet)."""
        if self.link is None or self.link.received_at is None:
            return None
        return max(0.0, self.now - self.link.received_at)

    @property
    def stale(self) -> bool:
        """Attached, and disconnected or without a snapshot for longer than ``STALE_AFTER_S``."""
        if self.link is None:
            return False
        age = self.data_age
        return not self.link.connected or age is None or age > STALE_AFTER_S

    def freshness(self) -> tuple[str, str]:
        """Each panel's tag and style: ``<1 s old``, ``2 s old``, ``stale 12 s`` ('' when embedded)."""
        if self.link is None:
            return "", ""
        age = self.data_age
        if age is None:
            return "no data", "bold red"
        if self.stale:
            return f"stale {age:.0f} s", "bold yellow"
        return ("<1 s old" if age < 1 else f"{age:.0f} s old"), "dim"

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
