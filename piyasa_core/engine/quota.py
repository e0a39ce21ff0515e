"""The engine's side of the day's LLM plan (llm/quota_plan.py): gather its inputs, apply its scale.

Every worker computes the same plan from shared inputs, so the fleet paces as one without a
coordinator: today's usage per provider from the `provider_usage` rows every worker flushes (every
10 s), the bots' remaining day from all bots' profiles (not only this worker's), the cost of a message
measured from today's usage and today's sent messages. The plan is recomputed once a simulated
minute and whenever a provider changes state; each worker applies its scale to its own bots' pacers.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from piyasa_core.config.schema import EngineConfig, LLMConfig
from piyasa_core.engine.pacing import HOUR, BotPacer
from piyasa_core.engine.prompt import HUMAN_REPLY_EXTRA_TOKENS, REPLY_TOKENS
from piyasa_core.engine.types import BotProfile
from piyasa_core.llm.quota_plan import DayPlan, ProviderDay, plan_day
from piyasa_core.store.models import Message, ProviderUsage

__all__ = ["DEFAULT_TOKENS_PER_MESSAGE", "QuotaPlanner", "chain_of"]

DEFAULT_TOKENS_PER_MESSAGE = 465.0
"""Until 20 messages of the day are measured: what bench/tokens.py billed per sent message with the
Llama 3 tokenizer (456–467 at the default 400-token prompt budget, 2026-12-07)."""
MEASURED_AFTER = 20
STEP_S = 300.0  # the remaining day is planned in 5-minute pieces (cheap enough once a simulated minute)
UNUSABLE = {"auth_error", "model_missing", "not_configured"}


def chain_of(llm: LLMConfig, active: str) -> list[str]:
    """The provider chain: the active provider, then the fallbacks (the offline composer only where the
    operator put it: active or in `fallback`)."""
    return list(dict.fromkeys([active, *llm.fallback]))


ANSWER_HEADROOM_TOKENS = max(REPLY_TOKENS.values()) + HUMAN_REPLY_EXTRA_TOKENS
"""What answering a person reserves beyond an average message at most: the longest reply cap."""


class QuotaPlanner:
    """Computes the fleet's plan; ``scale`` is what this worker's pacers run at."""

    def __init__(self, everyone: Sequence[BotProfile], engine: EngineConfig, llm: LLMConfig,
                 reserve_share: float = 0.1) -> None:
        self.engine = engine
        self.llm = llm
        self.reserve_share = reserve_share
        self.zone = ZoneInfo(engine.timezone)
        self.pacers = [BotPacer(b, engine, random.Random(0)) for b in everyone]  # unscaled: the bots' own pace
        self.plan: DayPlan | None = None

    def day_end(self, now: float) -> float:
        """The end of the last active minute of any bot today (local midnight at the latest)."""
        local = datetime.fromtimestamp(now, self.zone)
        midnight = (local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)).timestamp()
        t, last = now, now
        while t < midnight:
            if any(p.is_active(t) for p in self.pacers):
                last = min(t + 60.0, midnight)
            t += 60.0
        return last

    def demand(self, now: float, end: float) -> tuple[float, float]:
        """Bot messages the bots' own pace plans in ``[now, end)``, and the same at their hourly minimum."""
        own = sum(p.planned_messages(now, end, STEP_S) for p in self.pacers)
        floor = sum(self.engine.hourly_min * p.active_seconds(now, end, STEP_S) / HOUR for p in self.pacers)
        return own, floor

    def people_demand(self, session: Session, day_start: float, now: float, end: float) -> float:
        """Answers to people expected in ``[now, end)``: today's rate of bot replies to people's messages
        over today's active time so far (people ask as the day goes; a quiet morning predicts little)."""
        person = aliased(Message)
        since = datetime.fromtimestamp(day_start, timezone.utc)
        answers = session.scalar(select(func.count()).select_from(Message).join(person, Message.reply_to_id == person.id)
                                 .where(person.bot_id.is_(None), Message.bot_id.is_not(None), Message.status == "sent",
                                        Message.created_at >= since)) or 0
        if not answers:
            return 0.0
        active = sum(1 for t in range(int(day_start), int(now), int(STEP_S))
                     if any(p.is_active(t + STEP_S / 2) for p in self.pacers)) * STEP_S
        ahead = sum(1 for t in range(int(now), int(end), int(STEP_S))
                    if any(p.is_active(t + STEP_S / 2) for p in self.pacers)) * STEP_S
        return answers / max(active, HOUR) * ahead

    def compute(self, session: Session, now: float, active: str, states: dict[str, str]) -> DayPlan:
        """The plan now, from the database's usage of the provider day (UTC) ``now`` falls in."""
        day = datetime.fromtimestamp(now, timezone.utc).date()
        used = {name: (int(tokens or 0), int(requests or 0)) for name, tokens, requests in session.execute(
            select(ProviderUsage.provider,
                   func.sum(ProviderUsage.prompt_tokens + ProviderUsage.completion_tokens),
                   func.sum(ProviderUsage.requests))
            .where(ProviderUsage.day == day).group_by(ProviderUsage.provider))}
        chain = []
        for name in chain_of(self.llm, active):
            cfg = self.llm.providers[name]
            tokens, requests = used.get(name, (0, 0))
            chain.append(ProviderDay(name, cfg.tpd, cfg.rpd, tokens, requests, states.get(name, "ok") not in UNUSABLE))
        start = datetime.combine(day, datetime.min.time(), timezone.utc)
        # the offline composer counts only where the operator emulates quotas on it (tpd/rpd)
        billed = [p for p in chain if p.name != "offline" or p.tpd or p.rpd]
        sent = session.scalar(select(func.count()).select_from(Message).where(
            Message.bot_id.is_not(None), Message.status == "sent", Message.created_at >= start,
            Message.provider.in_([p.name for p in billed]))) or 0
        spent = sum(p.used_tokens for p in billed)
        calls = sum(p.used_requests for p in billed)
        measured = sent >= MEASURED_AFTER and spent > 0
        per_message = spent / sent if measured else DEFAULT_TOKENS_PER_MESSAGE
        calls_per_message = calls / sent if measured and calls else 1.0
        end = self.day_end(now)
        own, floor = self.demand(now, end)
        self.plan = plan_day(chain, at=now, day_end=end, demand=own, demand_at_minimum=floor,
                             tokens_per_message=per_message, calls_per_message=calls_per_message,
                             reserve_share=self.reserve_share,
                             people_demand=self.people_demand(session, start.timestamp(), now, end),
                             answer_headroom=ANSWER_HEADROOM_TOKENS)
        return self.plan
