"""People's questions in a benchmark run (bench/humans.py) and the pace expected with them (bench/plan.py)."""

from __future__ import annotations

import pytest

from piyasa_core.bench.humans import QUESTIONS, address
from piyasa_core.bench.plan import BotPlan, expected
from piyasa_core.engine.addressing import addressed, is_question
from piyasa_core.engine.types import BotProfile


def bot(name: str, username: str) -> BotProfile:
    return BotProfile(id=1, username=username, name=name, persona="investor", chat_ids=(1,))


@pytest.mark.parametrize("mode, words", QUESTIONS)
def test_every_question_asks_and_addresses_the_bot_it_names(mode: str, words: str) -> None:
    mehmet = bot("Mehmet Yatırımcı", "mehmet_trader")
    text = address(mode, words, mehmet)
    assert is_question(text), text
    assert addressed(text, mehmet) == (mode != "none"), text  # the engine's own reading agrees
    assert not addressed(address(mode, words, None), mehmet)


def test_an_inline_address_keeps_a_tickers_capitals() -> None:
    ali = bot("Ali Hoca", "ali_ekonomist")
    assert address("inline", "ASELS niye düştü bugün?", ali) == "Ali sence ASELS niye düştü bugün?"
    assert address("inline", "Faiz ne olur?", ali) == "Ali sence faiz ne olur?"


def plan(planned: float, active_s: float = 3600.0) -> BotPlan:
    return BotPlan(1, "Mehmet", "mehmet_trader", "investor", "medium", 0, planned, planned, active_s)


def test_answers_to_people_come_on_top_of_the_plan_within_the_hourly_cap() -> None:
    assert expected(plan(12.0), 0, 20) == 12.0
    assert expected(plan(12.0), 3, 20) == 15.0
    assert expected(plan(19.3), 3, 20) == 20.0  # at its cap an answer takes a scheduled turn's place
    assert expected(plan(19.3), 3, 20) >= plan(19.3).planned
    assert expected(plan(10.0, 1800.0), 6, 20) == 16.0  # half an hour still holds a rolling hour's cap
    assert expected(plan(30.0, 7200.0), 20, 20) == 40.0  # two hours: twice the cap


def test_a_person_gives_a_bot_alone_in_its_chats_company_for_one_turn() -> None:
    """08:30-09:00: Zeynep is alone (the others start at 09:00) and plans nothing; three people's posts
    in that half hour give her company for one message each: her answer, or else a turn of her own."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from piyasa_core.bench.plan import plan_bots
    from piyasa_core.config.schema import EngineConfig

    tz = ZoneInfo("Europe/Istanbul")
    begin = datetime(2026, 11, 25, 8, 30, tzinfo=tz).timestamp()
    zeynep = BotProfile(4, "zeynep_newbie", "Zeynep Yeni", "newbie", active_hours=("08:00-23:00",), chat_ids=(1,))
    mehmet = BotProfile(1, "mehmet_trader", "Mehmet Yatırımcı", "investor", active_hours=("09:00-12:00",),
                        chat_ids=(1,))
    cfg = EngineConfig(rhythm=False)
    quiet = {p.username: p for p in plan_bots([zeynep, mehmet], cfg, 4, begin, begin + 1800)}["zeynep_newbie"]
    assert quiet.planned == 0.0 and expected(quiet, 0, 20) == 0.0
    posts = [begin + 150, begin + 450, begin + 750]
    asked = {p.username: p for p in plan_bots([zeynep, mehmet], cfg, 4, begin, begin + 1800, posts)}["zeynep_newbie"]
    assert asked.people_alone == 3 and 0 < asked.alone_planned
    assert expected(asked, 0, 20) == min(3, asked.alone_planned)  # three turns of her own
    assert expected(asked, 3, 20) == 3  # she answered all three: the answers were those messages
    assert expected(asked, 5, 20) == 5
