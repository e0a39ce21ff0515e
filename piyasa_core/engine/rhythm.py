"""The community's daily rhythm: how busy the group is at a moment of the simulated clock.

A market chat is busiest at the BIST open and close and right after a data release, quieter at
lunch, at night and at weekends. ``activity(t)`` is a multiplier on every bot's planned rate (the
pacer applies it inside the bot's active hours and keeps the result within its hourly band), so the
benchmark's plan, built from the same pacer, follows the rhythm too.

Data releases: Turkish CPI (TÜFE) is published by TÜİK on the 3rd of each month at 10:00 (the next
weekday when the 3rd falls on a weekend); further moments (a PPK rate decision at 14:00, …) come
from ``[engine] data_releases``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

BIST_OPEN = 10 * 60  # minutes of the day
BIST_CLOSE = 18 * 60
OPEN_SPAN = 45  # minutes after the open that are busier
CLOSE_SPAN = 45  # minutes before the close
RELEASE_SPAN = 60  # minutes after a data release

OPEN_FACTOR = 1.4
CLOSE_FACTOR = 1.3
RELEASE_FACTOR = 1.5
LUNCH_FACTOR = 0.8  # 12:30–13:30 on weekdays
NIGHT_FACTOR = 0.5  # 23:00–08:00
WEEKEND_FACTOR = 0.6  # BIST closed: crypto and FX talk only


def cpi_release(year: int, month: int, zone: ZoneInfo) -> datetime:
    """TÜFE publication: the 3rd at 10:00, moved to the next weekday."""
    day = datetime(year, month, 3, 10, 0, tzinfo=zone)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def parse_release(text: str, zone: ZoneInfo) -> datetime:
    """One ``[engine] data_releases`` entry: ``YYYY-MM-DDTHH:MM`` in the engine's timezone."""
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


class Rhythm:
    """Activity multipliers on the simulated clock, in ``zone``."""

    def __init__(self, zone: ZoneInfo, releases: Iterable[str] = ()) -> None:
        self.zone = zone
        self.releases = tuple(sorted(parse_release(r, zone).timestamp() for r in releases))

    def after_release(self, t: float) -> bool:
        """Within RELEASE_SPAN minutes after a CPI release or a configured one."""
        local = datetime.fromtimestamp(t, self.zone)
        cpi = cpi_release(local.year, local.month, self.zone).timestamp()
        span = RELEASE_SPAN * 60
        return 0 <= t - cpi < span or any(0 <= t - r < span for r in self.releases)

    def activity(self, t: float) -> float:
        """How busy the group is at ``t`` relative to an ordinary hour (1.0)."""
        local = datetime.fromtimestamp(t, self.zone)
        minute = local.hour * 60 + local.minute
        if self.after_release(t):
            return RELEASE_FACTOR
        if minute >= 23 * 60 or minute < 8 * 60:
            return NIGHT_FACTOR
        if local.weekday() >= 5:
            return WEEKEND_FACTOR
        if BIST_OPEN <= minute < BIST_OPEN + OPEN_SPAN:
            return OPEN_FACTOR
        if BIST_CLOSE - CLOSE_SPAN <= minute < BIST_CLOSE:
            return CLOSE_FACTOR
        if 12 * 60 + 30 <= minute < 13 * 60 + 30:
            return LUNCH_FACTOR
        return 1.0
