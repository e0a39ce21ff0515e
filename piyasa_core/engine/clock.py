"""Simulated time: every engine wait goes through a clock that `time_scale` compresses."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone


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
