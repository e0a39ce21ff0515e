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
    assert expected(plan(10.0, 1800.0), 6, 20) == 10.0  # half an hour: a cap of 10
