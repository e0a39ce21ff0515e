"""What the configured pace plans for a run: per bot and per worker, the number of messages its
persona's pace (speed, hourly band, active and prime hours; engine/pacing.py) asks for over the
measured window. The balance criteria hold each delivered count against this plan."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from piyasa_core.config.schema import EngineConfig
from piyasa_core.engine.pacing import HOUR, BotPacer
from piyasa_core.engine.sharding import owner_modulo
from piyasa_core.engine.types import BotProfile

PHASE_SLACK = 1.0
"""Messages a count may differ from its plan before it deviates at all: a bot speaking every ~40 s
has one message more or less in a window depending on where its schedule's phase falls."""


@dataclass(frozen=True)
class PaceRow:
    """One bot's or worker's planned and delivered messages over the window."""

    label: str
    planned: float
    delivered: int

    @property
    def deviation(self) -> float | None:
        """(delivered − planned) / planned; None when nothing was planned."""
        return (self.delivered - self.planned) / self.planned if self.planned > 0 else None

    @property
    def excess(self) -> float:
        """How far outside one message of slack the count is, relative to the plan (0 inside it)."""
        return max(0.0, abs(self.delivered - self.planned) - PHASE_SLACK) / max(self.planned, 1.0)


@dataclass(frozen=True)
class BotPlan:
    bot_id: int
    name: str
    username: str
    persona: str
    speed: str
    worker: int
    planned: float  # messages in the window
    base_per_hour: float  # the persona's pace outside prime hours
    active_s: float  # simulated seconds of the window inside its active hours
    alone_planned: float = 0.0  # what its pace would plan in the spans it is alone in its chats
    people_alone: int = 0  # people's posts in those spans: each gives it company for one turn


def plan_bots(bots: list[BotProfile], engine: EngineConfig, workers: int, begin: float, end: float,
              people_at: Sequence[float] = (), scale_at: Callable[[float], float] | None = None) -> list[BotPlan]:
    """Every bot's plan for ``[begin, end)`` (the engine's own pacer, no randomness involved); a bot
    plans nothing while no other bot of its chats is active (it does not talk to itself), except that
    a person's post (``people_at``) in such a span lets it take one turn after it."""
    pacers = {bot.id: BotPacer(bot, engine, random.Random(0)) for bot in bots}
    out = []
    for bot in bots:
        pacer = pacers[bot.id]
        others = [pacers[b.id] for b in bots if b.id != bot.id and set(b.chat_ids) & set(bot.chat_ids)]

        def company(t: float, others: list[BotPacer] = others) -> bool:
            return any(o.is_active(t) for o in others)

        def alone(t: float, company: Callable[[float], bool] = company) -> bool:
            return not company(t)

        people = sum(1 for t in people_at if begin <= t < end and pacer.is_active(t) and alone(t))
        out.append(BotPlan(bot.id, bot.name, bot.username, bot.persona, bot.speed, owner_modulo(bot.id, workers),
                           pacer.planned_messages(begin, end, company=company, scale_at=scale_at),
                           pacer.base_per_hour(), pacer.active_seconds(begin, end),
                           pacer.planned_messages(begin, end, company=alone, scale_at=scale_at) if people else 0.0,
                           people))
    return out


def expected(plan: BotPlan, answers: int, hourly_max: int) -> float:
    """What the bot should have sent: its plan, plus its answers to people (outside its schedule), but
    no more than its hourly cap allows over its active time (a whole cap for a window up to an hour;
    answers count towards the cap, so a bot at its cap answers a person in place of a scheduled turn).
    Alone in its chats a bot plans nothing, but each person's post there gives it company for one
    message: its answer, or else one scheduled turn (at most what its pace plans there); so the posts
    it had alone count as at least that many messages, its answers included."""
    extra = max(answers, min(plan.people_alone, plan.alone_planned))
    if extra <= 0:
        return plan.planned
    cap = hourly_max * max(1.0, plan.active_s / HOUR)
    return max(plan.planned, min(plan.planned + extra, cap))


def pace_rows(plans: list[BotPlan], delivered: dict[int, int], workers: int, answers: dict[int, int] | None = None,
              hourly_max: int = 0) -> tuple[list[PaceRow], list[PaceRow]]:
    """(per bot, per worker) expected (:func:`expected`) against delivered."""
    answers = answers or {}
    want = {p.bot_id: expected(p, answers.get(p.bot_id, 0), hourly_max) for p in plans}
    bots = [PaceRow(p.name, want[p.bot_id], delivered.get(p.bot_id, 0)) for p in plans]
    per_worker = []
    for w in range(workers):
        mine = [p for p in plans if p.worker == w]
        per_worker.append(PaceRow(f"w{w}", sum(want[p.bot_id] for p in mine),
                                  sum(delivered.get(p.bot_id, 0) for p in mine)))
    return bots, per_worker


def per_hour(count: float, seconds: float) -> float | None:
    return count * HOUR / seconds if seconds > 0 else None
