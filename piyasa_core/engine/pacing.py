"""Per-bot pacing: active/prime hours in a timezone, rolling-hour cap and floor, delays, typing."""

from __future__ import annotations

import math
import random
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from piyasa_core.config.schema import EngineConfig
from piyasa_core.engine.rhythm import Rhythm
from piyasa_core.engine.types import BotProfile
from piyasa_core.llm.daytime import SIGN_OFF_QUIET_S

HOUR = 3600.0
# Where a persona's pace sits inside the [hourly_min, hourly_max] band, by its speed (personas.md:
# Ayşe fastest, then Mehmet and Zeynep, Ali and Fatma slowest): evenly spaced, so the order and the
# spread come from the personas and the configured band alone.
SPEED_POSITION = {"fastest": 0.9, "fast": 0.7, "medium": 0.5, "slow": 0.3, "slowest": 0.1}
PRIME_BOOST = 1.25  # a persona's prime hours: a quarter more, never above hourly_max
# Rates above this share of hourly_max are bent smoothly towards it instead of cut at it, so a
# boosted scalper stays faster than a boosted investor (a hard cap would make them equal).
SOFT_CAP_KNEE = 0.8
MIN_RATE = 0.1  # messages per hour: a zero band still leaves a finite delay
TYPING_CHARS_PER_S = {"fastest": 9.0, "fast": 8.0, "medium": 6.5, "slow": 5.0, "slowest": 4.0}
# A person who posts every 36 s cannot spend a minute typing each message: typing takes at most a
# third of the bot's mean interval, so the pace the persona is configured for stays physically possible.
TYPING_SHARE = 1 / 3
TYPING_MAX_S = 30.0
_WINDOW = re.compile(r"^(\d\d):(\d\d)-(\d\d):(\d\d)$")


@dataclass(frozen=True)
class Window:
    """A daily clock window ``HH:MM-HH:MM`` in minutes of the day; may cross midnight."""

    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> Window:
        match = _WINDOW.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not a window like '09:00-12:00'")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        return cls(h1 * 60 + m1, h2 * 60 + m2)

    def contains(self, minute_of_day: float) -> bool:
        if self.start == self.end:
            return True
        if self.start < self.end:
            return self.start <= minute_of_day < self.end
        return minute_of_day >= self.start or minute_of_day < self.end  # crosses midnight


def active_at(bot: BotProfile, t: float, tz_name: str) -> bool:
    """Inside one of the bot's active windows at simulated ``t`` (always, when it has none)."""
    if not bot.active_hours:
        return True
    local = datetime.fromtimestamp(t, ZoneInfo(tz_name))
    minute = local.hour * 60 + local.minute + local.second / 60
    return any(Window.parse(w).contains(minute) for w in bot.active_hours)


class BotPacer:
    """Decides when a bot may speak next; all times are simulated epoch seconds."""

    def __init__(self, bot: BotProfile, config: EngineConfig, rng: random.Random,
                 *, pacing: bool = True) -> None:
        self.bot = bot
        self.config = config
        self.rng = rng
        self.pacing = pacing
        self.zone = ZoneInfo(config.timezone)
        self.active = [Window.parse(w) for w in bot.active_hours]
        self.prime = [Window.parse(w) for w in bot.prime_hours]
        self.sent: deque[float] = deque()
        self.budget_scale = 1.0  # the day's LLM plan (engine/quota.py): every bot's pace × this
        self.rhythm = Rhythm(self.zone, config.data_releases) if config.rhythm else None

    # ── hours ──────────────────────────────────────────────────────────────────────────────────
    def _minute(self, t: float) -> float:
        local = datetime.fromtimestamp(t, self.zone)
        return local.hour * 60 + local.minute + local.second / 60

    def is_active(self, t: float) -> bool:
        """Inside one of the bot's active windows (always, when it has none)."""
        return not self.active or any(w.contains(self._minute(t)) for w in self.active)

    def in_prime(self, t: float) -> bool:
        return any(w.contains(self._minute(t)) for w in self.prime)

    def next_active(self, t: float) -> float:
        """The first moment ≥ t inside an active window (minute resolution, DST-safe)."""
        if self.is_active(t):
            return t
        local = datetime.fromtimestamp(t, self.zone).replace(second=0, microsecond=0)
        for step in range(1, 2 * 24 * 60 + 1):
            candidate = local + timedelta(minutes=step)
            epoch = candidate.timestamp()
            if self.is_active(epoch):
                return epoch
        return t  # no window ever active (validated configs cannot get here)

    def closing(self, t: float) -> bool:
        """This is the bot's last message for a while: its next one (a mean interval on) falls
        outside its active hours and the bot stays away ``SIGN_OFF_QUIET_S`` at least. Only then
        may it say goodbye."""
        if not self.pacing or not self.active or not self.is_active(t):
            return False
        after = t + HOUR / self.target_per_hour(t)
        return not self.is_active(after) and self.next_active(after) >= t + SIGN_OFF_QUIET_S

    # ── rate ───────────────────────────────────────────────────────────────────────────────────
    def base_per_hour(self) -> float:
        """The persona's rate outside prime hours: its speed's position in the hourly band."""
        cfg = self.config
        position = SPEED_POSITION.get(self.bot.speed, SPEED_POSITION["medium"])
        return max(MIN_RATE, cfg.hourly_min + position * (cfg.hourly_max - cfg.hourly_min))

    def activity(self, t: float) -> float:
        """The group's rhythm at ``t`` (1.0 when ``[engine] rhythm`` is off)."""
        return self.rhythm.activity(t) if self.rhythm is not None else 1.0

    def target_per_hour(self, t: float) -> float:
        """The planned rate at ``t`` (inside active hours): the base, raised in prime hours, times
        the group's rhythm; never above hourly_max (approached smoothly, so the order of the
        personas' paces holds at every hour)."""
        rate = self.base_per_hour() * (PRIME_BOOST if self.in_prime(t) else 1.0) * self.activity(t)
        cap = float(self.config.hourly_max)
        knee = SOFT_CAP_KNEE * cap
        if rate > knee:
            rate = knee + (cap - knee) * math.tanh((rate - knee) / (cap - knee))
        return max(MIN_RATE, min(rate, cap) * self.budget_scale)

    def _active_spans(self, begin: float, end: float, step: float) -> list[tuple[float, float]]:
        """(middle, length) of the ``step``-long pieces of ``[begin, end)`` inside active hours."""
        out, t = [], begin
        while t < end:
            span = min(step, end - t)
            if self.is_active(t + span / 2):
                out.append((t + span / 2, span))
            t += span
        return out

    def planned_messages(self, begin: float, end: float, step: float = 10.0,
                         company: Callable[[float], bool] | None = None,
                         scale_at: Callable[[float], float] | None = None) -> float:
        """How many messages the configured pace plans in ``[begin, end)``: the planned rate over the
        active part of the span (what the benchmark holds each bot's delivered count against).
        ``company(t)``: someone else is there to talk to at ``t``; a bot alone in its chats plans
        nothing then (it never follows itself up, engine/turns.py). ``scale_at(t)``: the day's LLM plan
        held every bot at this share of its pace at ``t`` (engine/quota.py)."""
        return sum(self.target_per_hour(mid) * (scale_at(mid) if scale_at else 1.0) * span / HOUR
                   for mid, span in self._active_spans(begin, end, step) if company is None or company(mid))

    def active_seconds(self, begin: float, end: float, step: float = 10.0) -> float:
        """Seconds of ``[begin, end)`` inside the bot's active hours."""
        return sum(span for _, span in self._active_spans(begin, end, step))

    def delay(self, t: float) -> float:
        """Seconds to the next message: around the mean with bounded jitter."""
        mean = HOUR / self.target_per_hour(t)
        jitter = self.config.delay_jitter
        return mean * (1 + self.rng.uniform(-jitter, jitter))

    def first_due(self, t: float) -> float:
        """Stagger the start: somewhere within the first third of a mean interval."""
        if not self.pacing:
            return t
        return self.next_active(t + self.rng.uniform(0, 0.3 * HOUR / self.target_per_hour(t)))

    # ── rolling hour ───────────────────────────────────────────────────────────────────────────
    def _prune(self, t: float) -> None:
        while self.sent and self.sent[0] <= t - HOUR:
            self.sent.popleft()

    def record_send(self, t: float) -> None:
        self.sent.append(t)

    def sent_last_hour(self, t: float) -> int:
        self._prune(t)
        return len(self.sent)

    def cap_reached(self, t: float) -> bool:
        return self.sent_last_hour(t) >= self.config.hourly_max

    def below_floor(self, t: float, running_since: float) -> bool:
        """The floor alarm: active for a full hour and still under ``hourly_min`` messages (scaled
        down by the rhythm in a quiet hour, which plans fewer on purpose)."""
        if t - running_since < HOUR or not self.is_active(t - HOUR) or not self.is_active(t):
            return False
        return self.sent_last_hour(t) < self.config.hourly_min * min(1.0, self.activity(t - HOUR / 2))

    def next_due(self, previous_due: float, now: float) -> float:
        """When to speak next: previous due + delay (so work time does not slow the rate), moved
        past the rolling-hour cap and into the next active window."""
        if not self.pacing:
            return now
        delay = self.delay(previous_due)
        due = previous_due + delay
        # A message that ran late (waiting for another speaker, a slow provider) may be caught up
        # on, so the hourly rate holds; after a longer stall the schedule restarts from now.
        if due < now - delay:
            due = now
        self._prune(due)
        if len(self.sent) >= self.config.hourly_max:
            due = max(due, self.sent[len(self.sent) - self.config.hourly_max] + HOUR)
        if not self.is_active(due):
            due = self.next_active(due) + self.rng.uniform(0, 60)
        return due

    def typing_seconds(self, text: str) -> float:
        """How long a person types this message: length over the persona's speed, ±15 %."""
        if not self.pacing:
            return 0.0
        cps = TYPING_CHARS_PER_S.get(self.bot.speed, 6.5)
        ceiling = min(TYPING_MAX_S, TYPING_SHARE * HOUR / self.base_per_hour())
        return min(ceiling, (0.8 + len(text) / cps) * self.rng.uniform(0.85, 1.15))
