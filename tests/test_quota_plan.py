"""The day's plan (llm/quota_plan.py): Groq's free tier at ~465 tokens a message, four bots."""

from __future__ import annotations

import pytest

from piyasa_core.llm.quota_plan import ProviderDay, plan_day

AT = 1_764_054_000.0  # 10:00 Istanbul on a Wednesday (a fixed number: no clock)
END = AT + 13 * 3600  # the last active hour ends at 23:00


def test_an_unlimited_chain_does_not_hold_the_community_back() -> None:
    plan = plan_day([ProviderDay("groq", tpd=100_000), ProviderDay("offline")], at=AT, day_end=END, demand=700,
                    demand_at_minimum=450, tokens_per_message=465)
    assert plan.scale == 1.0 and plan.affordable is None and plan.warning == ""
    assert [p.planned_per_hour for p in plan.providers] == [round(700 / 13, 2), 0.0]  # groq first, offline idle
    assert plan.providers[0].lasts_until == pytest.approx(AT + 100_000 / 465 / (700 / 13) * 3600)


def test_groqs_free_tier_alone_scales_every_bot_to_last_the_day() -> None:
    """100,000 tokens at 465 a message afford 215 messages; 10 % is kept for people: 193.5 for bots,
    against 700 that the bots' own pace plans: ×0.276, the quota lasts to the day's end, and the
    plan warns that every bot's minimum (450) cannot be kept."""
    plan = plan_day([ProviderDay("groq", tpd=100_000, rpd=1000)], at=AT, day_end=END, demand=700,
                    demand_at_minimum=450, tokens_per_message=465)
    assert plan.affordable == pytest.approx(193.5, abs=0.1) and plan.reserve == pytest.approx(21.5, abs=0.1)
    assert plan.scale == pytest.approx(193.5 / 700, abs=1e-3)
    groq = plan.providers[0]
    assert groq.lasts_until is None  # at the planned pace it lasts past the day's end
    assert groq.lasts_until_unplanned == pytest.approx(AT + 215.05 / (700 / 13) * 3600, rel=1e-3)  # ~14:00
    assert "affords 194 more bot messages" in plan.warning and "needs 450 (256 short)" in plan.warning


def test_two_providers_share_the_pace_by_what_each_has_left_and_used_quota_counts() -> None:
    chain = [ProviderDay("groq", tpd=100_000, used_tokens=50_000), ProviderDay("gemini", rpd=250, used_requests=50)]
    plan = plan_day(chain, at=AT, day_end=END, demand=300, demand_at_minimum=200, tokens_per_message=500)
    groq, gemini = plan.providers
    assert groq.affordable_left == 100.0 and gemini.affordable_left == 200.0
    assert plan.scale == pytest.approx(270 / 300) and plan.warning == ""
    assert groq.planned_per_hour == pytest.approx(gemini.planned_per_hour / 2, abs=0.01)
    spent = plan_day([ProviderDay("groq", tpd=100_000, used_tokens=100_000)], at=AT, day_end=END, demand=300,
                     demand_at_minimum=200, tokens_per_message=500)
    assert spent.scale == 0.0 and spent.affordable == 0.0 and spent.warning


def test_a_provider_that_cannot_work_affords_nothing() -> None:
    plan = plan_day([ProviderDay("groq", tpd=100_000, usable=False)], at=AT, day_end=END, demand=300,
                    demand_at_minimum=200, tokens_per_message=500)
    assert plan.scale == 0.0 and plan.providers[0].planned_per_hour is None


def test_the_peoples_reserve_holds_a_whole_reservation_for_the_last_answer() -> None:
    """A request reserves its prompt and its reply cap, not the average message: with the average alone
    the `day` profile's last question found 525 tokens left against a 530-token reservation."""
    chain = [ProviderDay("groq", tpd=100_000, used_tokens=99_000)]  # 1,000 tokens: about two messages
    bare = plan_day(chain, at=AT, day_end=END, demand=50, demand_at_minimum=40, tokens_per_message=450,
                    people_demand=0.5)
    held = plan_day(chain, at=AT, day_end=END, demand=50, demand_at_minimum=40, tokens_per_message=450,
                    people_demand=0.5, answer_headroom=170)
    assert bare.reserve == pytest.approx(2.0) and bare.affordable == pytest.approx(1000 / 450 - 2, abs=0.05)
    assert held.reserve == pytest.approx(min(1000 / 450, 2 + 170 / 450), abs=0.05)
    assert held.affordable is not None and held.affordable < 1.0  # the bots' own turns stop calling the LLM
