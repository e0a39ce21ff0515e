"""Simulated time: every engine wait goes through a clock that `time_scale` compresses."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
START_FORMS = "'' (now), HH:MM (today, engine timezone) or YYYY-MM-DDTHH:MM (engine timezone unless an offset is given)"


def check_start(text: str) -> str:
    """``text`` if it is a valid simulated start (see :func:`start_epoch`), else ValueError."""
    text = text.strip()
    if not text or _CLOCK.match(text):
        return text
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a start time: use {START_FORMS}") from None
    if len(text) < 16:  # a date alone would start at midnight, which nobody means
        raise ValueError(f"{text!r} names no time of day: use {START_FORMS}")
    return text


def start_epoch(text: str, tz_name: str, now: float | None = None) -> float:
    """Epoch seconds where a simulated clock starts: ``""`` → ``now``; ``HH:MM`` → that time today in
    ``tz_name`` (today by ``now``); an ISO date and time → that moment (naive: in ``tz_name``)."""
    now = time.time() if now is None else now
    text = check_start(text)
    if not text:
        return now
    tz = ZoneInfo(tz_name)
    if _CLOCK.match(text):
        hour, minute = (int(p) for p in text.split(":"))
        return datetime.fromtimestamp(now, tz).replace(hour=hour, minute=minute, second=0, microsecond=0).timestamp()
    moment = datetime.fromisoformat(text)
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)).timestamp()


class SimClock:
    """``now() = start + (monotonic elapsed) × scale`` in epoch seconds; ``sleep`` takes simulated
    seconds. With scale 60, ten simulated minutes pass in ten real seconds."""

    def __init__(self, scale: float = 1.0, start: float | None = None, anchor: float | None = None) -> None:
        """``anchor`` is the ``time.monotonic()`` moment at which the simulated time was ``start``;
        the monotonic clock is system-wide on Linux, so a restarted worker passed the supervisor's
        anchor continues the same simulated timeline instead of starting over."""
        if scale <= 0:
            raise ValueError("time scale must be positive")
        self.scale = scale
        self._anchor_real = time.monotonic() if anchor is None else anchor
        self._anchor_sim = time.time() if start is None else start

    def now(self) -> float:
        """Simulated epoch seconds."""
        return self._anchor_sim + (time.monotonic() - self._anchor_real) * self.scale

    def now_dt(self) -> datetime:
        """Simulated now as an aware UTC datetime."""
        return datetime.fromtimestamp(self.now(), timezone.utc)

    def real_seconds(self, sim_seconds: float) -> float:
        """How long ``sim_seconds`` of simulated time take in real time."""
        return max(0.0, sim_seconds) / self.scale

    async def sleep(self, sim_seconds: float) -> None:
        """Await ``sim_seconds`` of simulated time (non-blocking)."""
        await asyncio.sleep(self.real_seconds(sim_seconds))

    async def sleep_until(self, sim_time: float) -> None:
        """Await until the simulated clock reaches ``sim_time``."""
        await self.sleep(sim_time - self.now())


_DAYS_TR = ("Pazartesi", "Salı", "Çarşamba", "Perşembe", "Cuma", "Cumartesi", "Pazar")
BIST_OPEN_H, BIST_CLOSE_H = 10.0, 18.0


def local_hour(epoch: float, tz_name: str) -> float:
    """The hour of day (0–24, with minutes as a fraction) at ``epoch`` in ``tz_name``."""
    moment = datetime.fromtimestamp(epoch, ZoneInfo(tz_name))
    return moment.hour + moment.minute / 60


def bist_open(epoch: float, tz_name: str) -> bool:
    """Borsa İstanbul's continuous session: weekdays 10:00–18:00 (holidays are not modelled)."""
    moment = datetime.fromtimestamp(epoch, ZoneInfo(tz_name))
    return moment.weekday() < 5 and BIST_OPEN_H <= moment.hour + moment.minute / 60 < BIST_CLOSE_H


def describe_moment(epoch: float, tz_name: str) -> str:
    """The simulated clock and the market session, as one prompt line."""
    moment = datetime.fromtimestamp(epoch, ZoneInfo(tz_name))
    if bist_open(epoch, tz_name):
        bist = "BIST açık"
    elif moment.weekday() >= 5:
        bist = "BIST hafta sonu kapalı; döviz, kripto açık"
    else:
        bist = "BIST kapalı (10:00–18:00); döviz, kripto açık"
    return f"Şimdi: {_DAYS_TR[moment.weekday()]} {moment:%H:%M}, {bist}."
