"""Who a human message is for, and who answers a question that named nobody."""

from __future__ import annotations

import pytest

from piyasa_core.engine.addressing import addressed, answerers, called_by_name, fit, is_question
from piyasa_core.engine.types import BotProfile

MEHMET = BotProfile(1, "mehmet_trader", "Mehmet Yatırımcı", "investor", watchlist=("GARAN", "THYAO", "EREGL", "SAHOL"))
AYSE = BotProfile(2, "ayse_scalp", "Ayşe Scalper", "scalper", watchlist=("SISE", "KCHOL", "ASELS", "BTCUSDT"))
ALI = BotProfile(3, "ali_ekonomist", "Ali Hoca", "economist", watchlist=("USDTRY", "EURTRY", "enflasyon", "TCMB"))
ZEYNEP = BotProfile(4, "zeynep_newbie", "Zeynep Yeni", "newbie", watchlist=("BIST30", "USDTRY", "altın"))
CAN = BotProfile(5, "can_chartist", "Can Teknik", "chartist", watchlist=("GARAN",))
BOTS = (MEHMET, AYSE, ALI, ZEYNEP)


@pytest.mark.parametrize("text, bot", [
    ("Ayşe, SISE'de stop nereye konur?", AYSE),
    ("ayşe hocam btc ne olur sence", AYSE),
    ("Enflasyon verisi ne zaman, Ali Hoca?", ALI),
    ("Mehmet sence GARAN alınır mı", MEHMET),
    ("Temettü ne zaman yatar, Mehmet abi?", MEHMET),
    ("Zeynep: sen hangi hisseyi aldın?", ZEYNEP),
])
def test_a_name_used_as_a_vocative_addresses_the_bot(text: str, bot: BotProfile) -> None:
    assert called_by_name(text, bot) and addressed(text, bot)
    assert [b.id for b in BOTS if addressed(text, b)] == [bot.id]


@pytest.mark.parametrize("text, bot", [
    ("Can sıkıcı bir gün, borsa hiç kıpırdamadı", CAN),
    ("Ali Hoca'nın dediği çıktı mı?", ALI),  # talked about, not talked to
    ("Mehmet'in GARAN yorumu neydi?", MEHMET),
])
def test_a_name_in_passing_addresses_nobody(text: str, bot: BotProfile) -> None:
    assert not called_by_name(text, bot)


def test_handles_replies_and_entities_address_too() -> None:
    assert addressed("@ayse_scalp ne dersin", AYSE) and not addressed("@ayse_scalp ne dersin", ALI)
    assert addressed("katılıyorum", ALI, reply_to_bot_id=3)
    assert addressed("bak şuna", MEHMET, usernames=("Mehmet_Trader",))


def test_questions_are_recognised_with_or_without_a_mark() -> None:
    assert is_question("Temettü ne zaman hesaba yatıyor") and is_question("dolar yükselir mi")
    assert is_question("BIST30 nedir?") and not is_question("Bugün piyasa sakin.")


def test_an_unaddressed_question_goes_to_the_best_fitting_one_or_two() -> None:
    assert answerers("Enflasyon verisi ne zaman açıklanıyor?", BOTS) == [ALI.id]
    assert answerers("BTC'de kaldıraçla stop nereye konur?", BOTS)[0] == AYSE.id
    assert answerers("GARAN temettü ne zaman dağıtıyor?", BOTS)[0] == MEHMET.id
    both = answerers("Dolar yükselirse hisse mi alınır, kripto mu?", BOTS)
    assert 1 <= len(both) <= 2 and ZEYNEP.id not in both
    assert fit("BIST30 nedir?", ZEYNEP) > 0 and ZEYNEP.id not in answerers("BIST30 nedir?", BOTS)


def test_a_question_that_fits_nobody_still_gets_one_answer_not_from_the_newcomer() -> None:
    for text in ("Bugün ne yapıyorsunuz?", "Naber millet, keyifler nasıl?", "Hafta sonu planı var mı?"):
        chosen = answerers(text, BOTS)
        assert len(chosen) == 1 and chosen != [ZEYNEP.id]


def test_a_question_to_the_group_goes_to_the_bots_around_now() -> None:
    """At 08:30 only Zeynep (08:00-23:00) is around: she answers, not Ali who comes at 10:00; at 10:30
    the best fit answers again; at 04:00 nobody is around and the best fit is still chosen."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from piyasa_core.telegram.inbound import Inbound, reply_jobs

    hours = {1: ("09:00-12:00",), 2: ("09:00-18:00",), 3: ("10:00-13:00",), 4: ("08:00-23:00",)}
    bots = [BotProfile(b.id, b.username, b.name, b.persona, watchlist=b.watchlist, active_hours=hours[b.id],
                       chat_ids=(1,)) for b in BOTS]

    def who(hh: int, mm: int) -> list[int]:
        t = datetime(2026, 11, 25, hh, mm, tzinfo=ZoneInfo("Europe/Istanbul")).timestamp()
        item = Inbound(chat_id=1, text="Enflasyon verisi ne zaman açıklanıyor?", human_name="Deniz", created_at=t)
        return [j.bot_id for j in reply_jobs(item, 7, bots, None, tz_name="Europe/Istanbul")]

    assert who(8, 30) == [ZEYNEP.id]
    assert who(10, 30) == [ALI.id]
    assert who(4, 0) == [ALI.id]
