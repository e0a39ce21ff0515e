"""The day's plan inside the engine (engine/quota.py): usage from the database, the bots' remaining
day from every bot's profile, the scale applied to the pacers and shown in the metrics."""

from __future__ import annotations

import random
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from piyasa_core.engine.pacing import BotPacer
from piyasa_core.engine.quota import DEFAULT_TOKENS_PER_MESSAGE, QuotaPlanner, chain_of
from piyasa_core.engine.repo import load_profiles
from piyasa_core.store.db import session_scope
from piyasa_core.store.models import ProviderUsage
from tests.engine_support import SIM_START, engines, run_for, setup_store


def test_the_plan_reads_todays_usage_of_every_worker_and_scales_the_fleet(workdir: Path) -> None:
    config, store = setup_store()
    settings = config.settings
    with session_scope(store.sessions) as session:
        bots = load_profiles(session)
        day = datetime.fromtimestamp(SIM_START, timezone.utc).date()
        for model, tokens in (("llama-3.3-70b-versatile", 40_000), ("llama-3.1-8b-instant", 20_000)):
            session.add(ProviderUsage(day=day, provider="groq", model=model, requests=100, prompt_tokens=tokens,
                                      completion_tokens=0))
    planner = QuotaPlanner(bots, settings.engine, settings.llm)
    assert chain_of(settings.llm, "groq") == ["groq", *[p for p in settings.llm.fallback if p != "groq"]]
    with session_scope(store.sessions) as session:
        plan = planner.compute(session, SIM_START, "groq", {"groq": "ok"})
    groq = next(p for p in plan.providers if p.name == "groq")
    assert (groq.used_tokens, groq.used_requests, groq.tpd) == (60_000, 200, 100_000)
    assert plan.tokens_per_message == DEFAULT_TOKENS_PER_MESSAGE  # nothing sent today to measure yet
    assert "offline" not in chain_of(settings.llm, "groq")  # config.toml has no fallback: groq's quota binds
    assert groq.affordable_left == pytest.approx(40_000 / DEFAULT_TOKENS_PER_MESSAGE, abs=0.1)
    assert 0 < plan.scale < 1 and plan.affordable == pytest.approx(groq.affordable_left * 0.9, abs=0.2)
    assert plan.demand > plan.affordable and plan.warning  # far too little for the bots' day
    end = datetime.fromtimestamp(plan.day_end, planner.zone)
    assert (end.hour, end.minute) == (23, 0)  # Ali and Zeynep talk until 23:00
    with session_scope(store.sessions) as session:
        broken = planner.compute(session, SIM_START, "groq", {"groq": "auth_error"})
    assert broken.scale == 0.0
    store.dispose()


def test_a_scaled_pacer_plans_fewer_messages_and_the_offline_default_is_not_held_back(workdir: Path) -> None:
    config, store = setup_store()
    with session_scope(store.sessions) as session:
        bot = load_profiles(session)[0]
    pacer = BotPacer(bot, config.settings.engine, random.Random(0))
    full = pacer.planned_messages(SIM_START, SIM_START + 3600)
    pacer.budget_scale = 0.25
    assert pacer.planned_messages(SIM_START, SIM_START + 3600) == pytest.approx(full * 0.25, rel=1e-6)
    store.dispose()


async def test_every_worker_publishes_the_plan_with_its_metrics(workdir: Path) -> None:
    config, store = setup_store()
    events: list[Any] = []
    items = engines(config, store, 60, events)
    for e in items:
        await e.start()
    await run_for(items, 2.5)
    plans = [m.extra["plan"] for m in events if hasattr(m, "extra") and m.extra.get("plan")]
    assert plans and all(p["scale"] == 1.0 and p["affordable"] is None for p in plans)  # offline: unlimited
    assert all(pacer.budget_scale == 1.0 for e in items for pacer in e.pacers.values())
    store.dispose()


async def test_when_only_the_peoples_reserve_is_left_bots_spend_no_llm_call_and_people_are_answered(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The offline provider with an emulated daily quota (100 requests) of which 99 are used today: the one
    request left is the people's reserve. The bots' own turns then cost no LLM call (a reaction composed
    locally, or nothing), and a person's question is still answered through the provider."""
    from sqlalchemy import select

    from piyasa_core.engine import repo
    from piyasa_core.engine.types import ReplyJob
    from piyasa_core.store.models import Chat, Message

    monkeypatch.setenv("PIYASA_LLM__PROVIDERS__OFFLINE__RPD", "100")
    config, store = setup_store()
    day = datetime.fromtimestamp(SIM_START, timezone.utc).date()
    with session_scope(store.sessions) as session:
        session.add(ProviderUsage(day=day, provider="offline", model="templates-v1", requests=99, prompt_tokens=0,
                                  completion_tokens=0))
        chat_id = session.scalar(select(Chat.id))
        # something to react to, so that a held turn has a target
        session.add(Message(chat_id=chat_id, bot_id=None, human_name="Deniz", text="SISE bugün hareketli, hacim geldi",
                            status="sent", created_at=datetime.fromtimestamp(SIM_START - 30, timezone.utc),
                            sent_at=datetime.fromtimestamp(SIM_START - 30, timezone.utc)))
    events: list[Any] = []
    items = engines(config, store, 120, events)
    for e in items:
        await e.start()
        e.replan(SIM_START, {p.name: p.state for p in e.router.statuses()})
        assert e.kept_for_people(), e.quota.plan  # type: ignore[union-attr]
    with session_scope(store.sessions) as session:
        question = repo.store_human_message(session, chat_id=chat_id, text="@ali_ekonomist faiz kararı ne zaman?",
                                            human_name="Deniz", username="deniz_k", created_at=SIM_START)
    await items[3].cache.bump(f"history:{chat_id}")
    items[3].submit_reply_job(ReplyJob(bot_id=3, chat_id=chat_id, message_id=question))
    await run_for(items, 3.0)  # ~6 simulated minutes
    with session_scope(store.sessions) as session:
        rows = session.execute(select(Message.provider, Message.reply_to_id, Message.meta)
                               .where(Message.bot_id.is_not(None), Message.status == "sent")).all()
    answers = [r for r in rows if r.reply_to_id == question]
    assert answers and answers[0].provider == "offline"  # the person got the provider's answer
    own = [r for r in rows if r.reply_to_id != question]
    assert all(r.provider == "local" and r.meta.get("mode") == "reaction" for r in own), own
    assert sum(e.counts["held_for_people"] + e.counts["reacted_for_people"] for e in items) > 0
    store.dispose()


async def test_a_workers_share_of_the_day_follows_what_the_fleet_left_not_a_fixed_quarter(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without Redis each worker held a fixed quarter of the day's quota: in the `day` profile Zeynep's
    worker spent its quarter at 20:20 and she fell silent while the others' quarters went unused. Each
    plan now shares what the provider has left (read from every worker's stored usage); the engine's
    simulated day and the budget's own clock are different days here, as in every scaled run."""
    monkeypatch.setenv("PIYASA_LLM__PROVIDERS__OFFLINE__TPD", "40000")
    config, store = setup_store()
    engine = engines(config, store, 60, [], workers=4)[0]
    await engine.start()
    budget = engine.router.budget
    assert budget.try_reserve("offline", 9_000)[0] is not None  # type: ignore[union-attr]
    assert budget.try_reserve("offline", 2_000)[0] is None  # type: ignore[union-attr]  # its static quarter (10,000)
    with session_scope(store.sessions) as session:  # the other three workers used 6,000 today
        day = datetime.fromtimestamp(SIM_START, timezone.utc).date()
        session.add(ProviderUsage(day=day, provider="offline", model="templates-v1", requests=12,
                                  prompt_tokens=6_000, completion_tokens=0))
    engine.replan(SIM_START, {"offline": "ok"})
    # 40,000 - 6,000 used by the others (this worker's 9,000 is in flight, not yet stored): a quarter of
    # what is left on top of its own
    assert budget.try_reserve("offline", 8_000)[0] is not None  # type: ignore[union-attr]
    assert budget.try_reserve("offline", 1_000)[0] is None  # type: ignore[union-attr]
    await engine.cache.aclose()
    await engine.router.aclose()
    store.dispose()


async def test_in_a_slow_chat_a_bot_brings_something_up_after_its_own_unanswered_message(workdir: Path) -> None:
    """A bot never follows its own message up at once. But in a chat held back by the day's plan nobody
    may answer for a long while: after one of its own pacing intervals, with another member around, it
    brings something new up (the `day` profile's newcomer lost a third of her messages waiting). Alone
    in the chat, or sooner, it still waits."""
    from piyasa_core.engine.types import HistoryLine

    config, store = setup_store()
    engine = engines(config, store, 60, [], workers=1)[0]
    await engine.start()
    zeynep = next(b for b in engine.bots.values() if b.username == "zeynep_newbie")
    chat = engine.chats[zeynep.chat_ids[0]]
    pacer = engine.pacers[zeynep.id]
    interval = 3600 / pacer.target_per_hour(SIM_START)

    def own_last(age: float) -> tuple[HistoryLine, ...]:
        return (HistoryLine(1, chat.id, "BIST bugün sakin.", SIM_START - age - 60, "Mehmet Yatırımcı", bot_id=1),
                HistoryLine(2, chat.id, "Dolar neden yükseliyor?", SIM_START - age, zeynep.name, bot_id=zeynep.id))

    assert not engine._quiet_after_own(zeynep, chat, own_last(interval * 0.9), SIM_START)
    assert engine._quiet_after_own(zeynep, chat, own_last(interval * 1.1), SIM_START)  # 10:05: the others are around
    night = SIM_START + 13.5 * 3600  # 23:35: everyone else's day has ended
    assert not engine._quiet_after_own(zeynep, chat, tuple(
        HistoryLine(h.id, h.chat_id, h.text, h.created_at + 13.5 * 3600, h.author, bot_id=h.bot_id)
        for h in own_last(interval * 3)), night)
    await engine.cache.aclose()
    await engine.router.aclose()
    store.dispose()
