"""Pacing and turn-taking with seeded randomness and explicit (injected) times."""

from __future__ import annotations

import math
import random
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from piyasa_core.config.schema import EngineConfig
from piyasa_core.engine.pacing import HOUR, BotPacer, Window
from piyasa_core.engine.sharding import owner_modulo, owner_rendezvous, owns, shard
from piyasa_core.engine.turns import decide_turn, score_targets
from piyasa_core.engine.types import BotProfile, ChatInfo, HistoryLine

IST = ZoneInfo("Europe/Istanbul")


def at(hour: int, minute: int = 0, day: int = 25) -> float:
    return datetime(2026, 11, day, hour, minute, tzinfo=IST).timestamp()


def bot(**kwargs: object) -> BotProfile:
    base = dict(id=1, username="mehmet_trader", name="Mehmet Yatırımcı", persona="investor",
                watchlist=("GARAN", "THYAO"), chat_ids=(1,))
    base.update(kwargs)
    return BotProfile(**base)  # type: ignore[arg-type]


def test_windows_including_midnight() -> None:
    night = Window.parse("22:00-02:00")
    assert night.contains(23 * 60) and night.contains(60) and not night.contains(12 * 60)
    assert Window.parse("09:00-12:00").contains(9 * 60) and not Window.parse("09:00-12:00").contains(12 * 60)
    with pytest.raises(ValueError):
        Window.parse("9-12")


def test_active_hours_are_read_in_the_configured_timezone() -> None:
    pacer = BotPacer(bot(active_hours=("09:00-12:00", "22:00-01:00")), EngineConfig(), random.Random(1))
    assert pacer.is_active(at(9, 30)) and not pacer.is_active(at(13)) and pacer.is_active(at(0, 30, day=26))
    # 07:00 UTC is 10:00 in Istanbul
    assert pacer.is_active(datetime(2026, 11, 25, 7, 0, tzinfo=ZoneInfo("UTC")).timestamp())
    assert pacer.next_active(at(12, 30)) == at(22)
    assert pacer.next_active(at(1, 30, day=26)) == at(9, day=26)
    utc = BotPacer(bot(active_hours=("09:00-12:00",)), EngineConfig(timezone="UTC"), random.Random(1))
    assert not utc.is_active(at(9, 30))  # 06:30 UTC


def test_cap_holds_over_a_simulated_day_and_active_hours_are_respected() -> None:
    cfg = EngineConfig(hourly_min=50, hourly_max=60, rhythm=False)  # the cap alone, at a steady pace
    pacer = BotPacer(bot(active_hours=("09:00-12:00", "23:00-01:00"), speed="fastest"), cfg, random.Random(7))
    t = pacer.first_due(at(8))
    due = t
    sends: list[float] = []
    while due < at(8, day=26):
        assert pacer.is_active(due)
        sends.append(due)
        pacer.record_send(due)
        due = pacer.next_due(due, due + 5)
    assert sends
    for i, s in enumerate(sends):  # no rolling hour ever holds more than hourly_max
        assert sum(1 for x in sends[i:] if x < s + HOUR) <= 60
    per_window = [sum(1 for s in sends if at(9) <= s < at(12)), sum(1 for s in sends if at(23) <= s < at(1, day=26))]
    assert per_window[0] > 150 and per_window[1] > 100


def test_rate_sits_between_min_and_max_and_speed_orders_personas() -> None:
    cfg = EngineConfig()
    rates = {speed: BotPacer(bot(speed=speed), cfg, random.Random(1)).target_per_hour(at(15))
             for speed in ("fast", "medium", "slow")}
    assert cfg.hourly_min <= rates["slow"] < rates["medium"] < rates["fast"] <= cfg.hourly_max
    pacer = BotPacer(bot(), cfg, random.Random(3))
    delays = [pacer.delay(at(15)) for _ in range(2000)]
    mean = HOUR / pacer.target_per_hour(at(15))
    assert min(delays) >= mean * 0.75 - 1e-9 and max(delays) <= mean * 1.25 + 1e-9  # bounded jitter


def test_pace_comes_from_the_persona_not_from_a_threshold() -> None:
    """Speed places a persona in the hourly band (personas.md: Ayşe fastest … Ali slowest), prime hours
    add a quarter up to the cap; the plan over a span is that rate over its active part."""
    from piyasa_core.config import load_config
    from tests.conftest import REPO

    settings = load_config(REPO / "config.toml").settings
    cfg = EngineConfig(hourly_min=50, hourly_max=100, rhythm=False)  # the rhythm is tested on its own
    pacers = {b.username: BotPacer(bot(username=b.username, speed=b.speed, active_hours=tuple(b.active_hours),
                                       prime_hours=tuple(b.prime_hours)), cfg, random.Random(1))
              for b in settings.bots}
    base = {name: p.base_per_hour() for name, p in pacers.items()}
    assert base["ayse_scalp"] > base["mehmet_trader"] == base["zeynep_newbie"] > base["ali_ekonomist"] \
        > base["fatma_temettu"]
    assert base == {"mehmet_trader": 75.0, "ayse_scalp": 85.0, "ali_ekonomist": 65.0, "zeynep_newbie": 75.0,
                    "can_chartist": 75.0, "fatma_temettu": 55.0}
    mehmet, ayse = pacers["mehmet_trader"], pacers["ayse_scalp"]
    assert mehmet.target_per_hour(at(11, 30)) == 75.0
    # prime 10:00-11:00: 93.75 and 106.25 bent below hourly_max (above 80), the scalper still faster
    prime = 80 + 20 * math.tanh((93.75 - 80) / 20)
    assert mehmet.target_per_hour(at(10, 30)) == pytest.approx(prime)
    assert 100 > ayse.target_per_hour(at(10, 30)) > prime
    assert mehmet.planned_messages(at(10), at(11)) == pytest.approx(prime)
    assert mehmet.planned_messages(at(11, 30), at(14, 30)) == pytest.approx(75 / 2 + 75 / 2)  # 12-14 inactive
    assert mehmet.active_seconds(at(11, 30), at(14, 30)) == pytest.approx(3600)
    assert mehmet.planned_messages(at(2), at(5)) == 0.0
    everyday = BotPacer(bot(speed="fast"), EngineConfig(), random.Random(1))  # the default band, 10-20
    assert everyday.base_per_hour() == 17.0


def test_floor_alarm_and_typing() -> None:
    cfg = EngineConfig(hourly_min=50, hourly_max=100)
    pacer = BotPacer(bot(), cfg, random.Random(1))
    start = at(10)
    assert not pacer.below_floor(start + 600, start)  # not before a full hour
    for k in range(10):
        pacer.record_send(start + 3600 + k)
    assert pacer.below_floor(start + 3700, start)
    slow = BotPacer(bot(speed="slowest"), cfg, random.Random(1)).typing_seconds("x" * 120)
    fast = BotPacer(bot(speed="fastest"), cfg, random.Random(1)).typing_seconds("x" * 120)
    short = BotPacer(bot(), cfg, random.Random(1)).typing_seconds("x" * 10)
    assert slow > fast > short > 0
    assert BotPacer(bot(), cfg, random.Random(1), pacing=False).typing_seconds("x" * 100) == 0


def test_sharding_is_one_rule() -> None:
    assert [owner_modulo(b, 4) for b in (1, 2, 3, 4)] == [1, 2, 3, 0]
    assert owns(5, 1, 4) and not owns(5, 0, 4)
    assert shard(range(1, 9), 0, 4) == [4, 8]
    workers = ["a", "b", "c", "d"]
    before = {b: owner_rendezvous(b, workers) for b in range(200)}
    after = {b: owner_rendezvous(b, workers[:3]) for b in range(200)}
    moved = [b for b in range(200) if before[b] != after[b]]
    assert all(before[b] == "d" for b in moved)  # only the removed worker's bots move


def line(id: int, text: str, t: float, bot_id: int | None, author: str = "x", username: str | None = None,
         reply_to_id: int | None = None) -> HistoryLine:
    return HistoryLine(id=id, chat_id=1, text=text, created_at=t, author=author, bot_id=bot_id,
                       username=username, reply_to_id=reply_to_id)


def test_reply_scoring() -> None:
    me = bot()
    now = at(15)
    history = [
        line(1, "GARAN bugün hareketli", now - 50, 2, "Ayşe Scalper", "ayse_scalp"),
        line(2, "enflasyon verisi ne zaman?", now - 40, None, "Deniz"),
        line(3, "@mehmet_trader sen ne dersin?", now - 30, 3, "Ali Hoca", "ali_ekonomist"),
        line(4, "kendi mesajım", now - 20, 1, "Mehmet Yatırımcı", "mehmet_trader"),
        line(5, "eski bir not: GARAN uzun vadede tutulur", now - 7200, 4, "Zeynep Yeni", "zeynep_newbie"),
    ]
    scored = score_targets(me, history, now)
    ids = [s.line.id for s in scored]
    assert 4 not in ids  # never itself
    assert ids[0] == 3 and "mention" in scored[0].reasons  # a mention of this bot wins
    assert 2 not in ids  # a person's fresh question to the group belongs to the bots its reply jobs chose
    assert ids[-1] == 5  # old lines decay
    later = score_targets(me, history, now + 600)  # ten simulated minutes on, anyone may join
    later_ids = [s.line.id for s in later]
    assert later_ids.index(2) < later_ids.index(1)  # and a human's question beats a plain bot line
    answered_q = [*history, line(7, "TÜFE ayın 3'ünde açıklanır.", now - 35, 3, "Ali Hoca", "ali_ekonomist",
                                 reply_to_id=2)]
    assert 2 not in [s.line.id for s in score_targets(me, answered_q, now + 600)]  # answered: not again
    answered = [*history, line(6, "cevap", now - 10, 1, reply_to_id=3)]
    assert 3 not in [s.line.id for s in score_targets(me, answered, now)]
    acks = [line(8, "Anladım", now - 5, 2, "Ayşe Scalper", "ayse_scalp"), line(9, "🔥 🚀", now - 4, 3),
            line(10, "Ali, rica ederim!", now - 3, 4, "Zeynep Yeni", "zeynep_newbie")]
    assert not {8, 9, 10} & {s.line.id for s in score_targets(me, [*history, *acks], now)}  # closers


def test_a_bots_question_to_another_bot_is_left_to_that_bot_for_ten_minutes() -> None:
    me = bot()  # mehmet_trader
    now = at(15)
    history = [line(1, "İlk yatırımım bir BIST30 fonu. @ayse_scalp senin fikrin ne?", now - 30, 4, "Zeynep Yeni",
                    "zeynep_newbie"),
               line(2, "@ayse_scalp GARAN bugün güzel gidiyor.", now - 20, 3, "Ali Hoca", "ali_ekonomist"),
               line(3, "@mehmet_trader sen ne dersin?", now - 10, 4, "Zeynep Yeni", "zeynep_newbie")]
    ids = [s.line.id for s in score_targets(me, history, now)]
    assert 1 not in ids  # asked of Ayşe
    assert 2 in ids and 3 in ids  # a tag without a question is open; a question to this bot is its own
    assert 1 in [s.line.id for s in score_targets(me, history, now + 600)]  # later anyone may join


def test_a_bots_question_to_the_group_goes_to_the_one_or_two_that_fit_it() -> None:
    """Zeynep asked the group "BIST100 ne demek?" and three bots each answered with the same definition (a
    benchmark transcript): the best-fitting bots answer, the others leave it, and after ten minutes an
    unanswered question is open to anyone while an answered one is not answered again."""
    mehmet = bot()
    ayse = bot(id=2, username="ayse_scalp", name="Ayşe Scalper", persona="scalper", watchlist=("SISE", "BTCUSDT"))
    ali = bot(id=3, username="ali_ekonomist", name="Ali Hoca", persona="economist", watchlist=("USDTRY", "TCMB"))
    zeynep = bot(id=4, username="zeynep_newbie", name="Zeynep Yeni", persona="newbie", watchlist=("BIST30",))
    members = (mehmet, ayse, ali, zeynep)
    now = at(15)
    asked = [line(1, "Arkadaşlar, enflasyon verisi faizi nasıl etkiler?", now - 20, 4, "Zeynep Yeni", "zeynep_newbie")]
    may = {b.username: 1 in [s.line.id for s in score_targets(b, asked, now, members, "Europe/Istanbul")]
           for b in (mehmet, ayse, ali)}
    assert may == {"mehmet_trader": False, "ayse_scalp": False, "ali_ekonomist": True}, may
    # and Ali, chosen, takes it first (as a question put to him would be), not some other line
    chat = ChatInfo(1, "c", "C", topics=("BIST",))
    busy = [line(0, "SISE alev alev, hacim geldi", now - 25, 2, "Ayşe Scalper", "ayse_scalp"), *asked]
    picks = [decide_turn(ali, chat, busy, EngineConfig(), random.Random(seed), now, {b.id: b.username for b in members},
                         members=members) for seed in range(50)]
    assert sum(1 for t in picks if t is not None and t.reply_to is not None and t.reply_to.id == 1) >= 30
    later = now + 600
    assert 1 in [s.line.id for s in score_targets(mehmet, asked, later, members, "Europe/Istanbul")]
    answered = [*asked, line(2, "Faiz artınca enflasyon yavaşlar.", now - 10, 3, "Ali Hoca", "ali_ekonomist",
                             reply_to_id=1)]
    assert 1 not in [s.line.id for s in score_targets(mehmet, answered, later, members, "Europe/Istanbul")]
    assert 2 in [s.line.id for s in score_targets(mehmet, answered, now, members, "Europe/Istanbul")]  # the answer


def test_turn_rules() -> None:
    me = bot()
    chat = ChatInfo(1, "c", "C", topics=("BIST",))
    cfg = EngineConfig()
    now = at(15)
    own_last = [line(1, "selam", now - 5, 2), line(2, "benim", now - 1, 1)]
    assert decide_turn(me, chat, own_last, cfg, random.Random(1), now, {1: "mehmet_trader"}) is None
    human_q = [line(1, "@mehmet_trader GARAN ne olur?", now - 5, None, "Deniz", "deniz_k")]
    turn = decide_turn(me, chat, human_q, cfg, random.Random(1), now, {1: "mehmet_trader"})
    assert turn is not None and turn.mode == "human_reply" and turn.reply_to.id == 1 and turn.addressed
    assert turn.mention is None  # the reply threads to Deniz's message: no @mention on top
    modes = [decide_turn(me, chat, [line(1, "SISE alev alev", now - 5, 2, "Ayşe", "ayse_scalp")], cfg,
                         random.Random(seed), now, {1: "mehmet_trader", 2: "ayse_scalp"}).mode  # type: ignore[union-attr]
             for seed in range(400)]
    share = {m: modes.count(m) / len(modes) for m in set(modes)}
    assert 0.55 < share["reply"] < 0.8 and 0.2 < share["new"] < 0.45 and share.get("reaction", 0) < 0.15


def test_the_daily_rhythm_plans_busy_opens_and_quiet_nights_and_weekends() -> None:
    """Wednesday 25 November 2026: the open and the close are busier than midday, lunch and the night
    quieter; Saturday quieter than a weekday; the morning of the TÜFE release (3 December, 10:00) and a
    configured decision the busiest; speed still orders the personas at every hour; the floor alarm
    follows a quiet hour; rhythm = false keeps the steady pace."""
    cfg = EngineConfig(data_releases=["2026-11-26T14:00"])
    pacers = {speed: BotPacer(bot(speed=speed), cfg, random.Random(1)) for speed in ("fastest", "medium", "slow")}
    medium = pacers["medium"]
    rate = medium.target_per_hour
    assert rate(at(10, 15)) > rate(at(15)) and rate(at(17, 30)) > rate(at(15))
    assert rate(at(13)) < rate(at(15)) and rate(at(23, 30)) < rate(at(13))
    assert rate(at(15, day=28)) < rate(at(15))  # a Saturday
    assert rate(datetime(2026, 12, 3, 10, 30, tzinfo=IST).timestamp()) > rate(at(10, 15))  # TÜFE morning
    assert rate(at(14, 30, day=26)) > rate(at(15, day=26))  # the configured release
    for hour, minute in ((10, 15), (13, 0), (15, 0), (17, 30), (23, 30)):
        rates = [pacers[s].target_per_hour(at(hour, minute)) for s in ("fastest", "medium", "slow")]
        assert rates == sorted(rates, reverse=True) and len(set(rates)) == 3 and rates[0] <= cfg.hourly_max
    # a quiet night hour plans fewer than hourly_min: the floor alarm scales with it
    night = BotPacer(bot(speed="medium"), cfg, random.Random(1))
    for k in range(8):
        night.record_send(at(23, 5, day=25) + 420 * k)
    assert night.below_floor(at(0, 5, day=26), at(20)) is False
    steady = BotPacer(bot(speed="medium"), EngineConfig(rhythm=False), random.Random(1))
    assert steady.target_per_hour(at(10, 15)) == steady.target_per_hour(at(23, 30)) == 15.0


def test_a_data_release_that_is_no_date_is_refused() -> None:
    with pytest.raises(ValueError, match="data_releases"):
        EngineConfig(data_releases=["next tuesday"])


def test_a_bot_may_say_goodbye_only_before_it_leaves_for_a_while() -> None:
    cfg = EngineConfig(hourly_min=10, hourly_max=20, rhythm=False)
    pacer = BotPacer(bot(active_hours=("09:00-12:00", "12:30-13:00", "20:00-22:00")), cfg, random.Random(1))
    interval = HOUR / pacer.target_per_hour(at(11))
    assert not pacer.closing(at(10)) and not pacer.closing(at(8))  # mid-window; not active at all
    assert not pacer.closing(at(12) - interval / 2)  # back at 12:30: a half-hour break is no goodbye
    assert pacer.closing(at(13) - interval / 2)  # next at 20:00
    assert not BotPacer(bot(), cfg, random.Random(1)).closing(at(23))  # no windows: never leaves


def test_the_plan_leaves_out_the_hours_a_bot_is_alone_in_its_chats() -> None:
    """Zeynep (08:00–23:00) alone from 18:00 to 20:00: she does not follow herself up, so the plan asks
    nothing of her then (a 12-hour everyday run held her to 190.6 messages and she sent 157)."""
    from piyasa_core.bench.plan import plan_bots

    cfg = EngineConfig(rhythm=False)
    zeynep = bot(id=4, username="zeynep_newbie", speed="medium", active_hours=("08:00-23:00",))
    ayse = bot(id=2, username="ayse_scalp", speed="fast", active_hours=("09:00-18:00",))
    elsewhere = bot(id=5, username="can", chat_ids=(2,), active_hours=("18:00-20:00",))
    plans = {p.username: p for p in plan_bots([zeynep, ayse, elsewhere], cfg, 4, at(17), at(21))}
    assert plans["zeynep_newbie"].planned == pytest.approx(15.0)  # 17:00–18:00 only; 18–21 alone
    assert plans["ayse_scalp"].planned == pytest.approx(16.98, abs=0.01)  # 17 bent under the cap of 20
    assert plans["can"].planned == 0.0  # alone in its own chat


def test_a_plan_held_back_by_the_days_quota_plans_that_share_of_the_pace() -> None:
    """The benchmark holds each bot against its pace × the day plan's scale at each moment."""
    from piyasa_core.bench.plan import plan_bots

    me = bot(active_hours=())
    other = bot(id=2, username="ayse_scalp", name="Ayşe Scalper", persona="scalper", active_hours=())
    cfg = EngineConfig()
    full = plan_bots([me, other], cfg, 4, at(10), at(12))[0].planned
    half = plan_bots([me, other], cfg, 4, at(10), at(12), scale_at=lambda t: 0.5)[0].planned
    first_hour = plan_bots([me, other], cfg, 4, at(10), at(12), scale_at=lambda t: 1.0 if t < at(11) else 0.0)[0].planned
    assert half == pytest.approx(full / 2) and 0 < first_hour < full
