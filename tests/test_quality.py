"""Quality report over a small hand-built conversation with known numbers."""

from __future__ import annotations

import json

import pytest

from piyasa_core.engine.quality import QualityInput, QualityReport, inputs_from_history, quality_report
from piyasa_core.engine.types import HistoryLine

Q = QualityInput
CONVERSATION = [
    Q("Merhaba, GARAN ne olur?", None, 1),                                                   # human
    Q("GARAN için sabır şart kardeşim.", 1, 1, reply_to_is_human=True, topic="GARAN"),
    Q("Bence GARAN için sabır şart değil.", 2, 1, reply_to_bot_id=1, topic="GARAN"),
    Q("Enflasyon verisi geldi, verilere bakalım.", 3, 1, topic="enflasyon"),
    Q("GARAN için sabır şart kardeşim!", 1, 1, reply_to_bot_id=1, topic="GARAN"),           # self reply, dup
    Q("bIST30 bugün GA📈RAN", 2, 1),                                                          # 3 artifacts
    Q("GARAN için sabır şart kardeşim.", 1, 2, topic="GARAN"),                               # other chat
    Q("Garantili kazanç!", 4, 2, reply_to_bot_id=3, topic="kripto"),                         # 2 artifacts
]


def test_report_numbers() -> None:
    report = quality_report(CONVERSATION, {1: "prompt a", 2: "prompt b", 3: "prompt a"})
    assert report.messages == 8 and report.bot_messages == 7
    assert report.bot_to_bot_reply_rate == pytest.approx(2 / 7)
    assert report.human_reply_count == 1
    # trigrams: 3 + 4 + 3 + 3 + 2 + 3 + 0 = 18, distinct 3 + 2 + 3 + 0 + 2 + 0 + 0 = 10
    assert report.distinct_3gram_ratio == pytest.approx(10 / 18)
    assert report.topic_spread == pytest.approx({"GARAN": 4 / 6, "enflasyon": 1 / 6, "kripto": 1 / 6})
    assert report.top_topic_share == pytest.approx(4 / 6)
    assert report.artifact_count == 5
    assert report.artifact_examples == (
        ("bIST30 bugün GA📈RAN", ("ticker-case", "emoji-glued", "unknown-caps")),
        ("Garantili kazanç!", ("certainty-opener", "promise")))
    assert report.distinct_system_prompts == 2
    assert report.duplicates == 1


def test_empty_and_examples_cap() -> None:
    empty = quality_report([])
    assert empty == QualityReport(0, 0, 0.0, 0, 1.0)
    many = quality_report([Q(f"Kesin yükselecek {i}", 1, 1) for i in range(9)])
    assert many.artifact_count == 18 and len(many.artifact_examples) == 5
    assert many.topic_spread == {} and many.top_topic_share == 0.0 and many.duplicates == 0


def test_to_dict_is_json_ready() -> None:
    data = quality_report(CONVERSATION).to_dict()
    assert json.loads(json.dumps(data, ensure_ascii=False)) == data
    assert data["artifact_examples"][1] == ["Garantili kazanç!", ["certainty-opener", "promise"]]
    assert data["distinct_system_prompts"] == 0 and data["duplicates"] == 1


def test_inputs_from_history() -> None:
    lines = [
        HistoryLine(10, 1, "GARAN ne olur?", 0.0, "Emre"),
        HistoryLine(11, 1, "Sabır şart.", 1.0, "Mehmet", bot_id=1, reply_to_id=10, topic="GARAN"),
        HistoryLine(12, 1, "Katılıyorum.", 2.0, "Zeynep", bot_id=4, reply_to_id=11, topic="GARAN"),
        HistoryLine(13, 1, "Eski mesaja cevap.", 3.0, "Ali", bot_id=3, reply_to_id=5),
    ]
    rows = inputs_from_history(lines)
    assert rows[1] == Q("Sabır şart.", 1, 1, None, True, "GARAN", id=11, reply_to_id=10, created_at=1.0)
    assert rows[2] == Q("Katılıyorum.", 4, 1, 1, False, "GARAN", id=12, reply_to_id=11, created_at=2.0)
    assert rows[3].reply_to_bot_id is None and not rows[3].reply_to_is_human
    report = quality_report(rows)
    assert report.bot_to_bot_reply_rate == pytest.approx(1 / 3) and report.human_reply_count == 1


T0 = 1_795_590_000.0  # any moment: the hours below are given explicitly


def test_realism_measures_count_what_a_reader_notices() -> None:
    """Mentions (own handle, the replied author), emoji per bot, human questions and how many bots
    answered each within 10 minutes, and time-of-day phrases false at their hour."""
    q = QualityInput("Temettü ne zaman yatıyor?", None, 1, id=1, created_at=T0, username="deniz")
    plain = QualityInput("Bugün piyasa sakin.", None, 1, id=2, created_at=T0, username="deniz")
    msgs = [
        q, plain,
        QualityInput("@deniz mayısta genelde 📈", 1, 1, reply_to_is_human=True, id=3, reply_to_id=1,
                     created_at=T0 + 60, hour=10.1, username="mehmet_trader", reply_to_username="deniz"),
        QualityInput("Genel kurul sonrası, hepinize iyi akşamlar", 2, 1, reply_to_is_human=True, id=4,
                     reply_to_id=1, created_at=T0 + 120, hour=10.2, username="ayse_scalp"),
        QualityInput("Ben de @ali_ekonomist ile aynı fikirdeyim", 3, 1, id=5, created_at=T0 + 200, hour=10.3,
                     username="ali_ekonomist"),
        QualityInput("Geç kalmış bir cevap: şirketin duyurusuna bakın", 3, 1, reply_to_is_human=True, id=6,
                     reply_to_id=1, created_at=T0 + 900, hour=10.4, username="ali_ekonomist"),
    ]
    r = quality_report(msgs)
    assert r.mention_rate == pytest.approx(2 / 4) and r.self_mentions == 1 and r.mentions_of_reply_author == 1
    assert r.emoji_rate_by_bot == {"ali_ekonomist": 0.0, "ayse_scalp": 0.0, "mehmet_trader": 1.0}
    assert (r.human_questions, r.human_questions_answered) == (1, 1)
    assert r.replies_per_human_question == 3.0 and r.max_bots_per_human_question_10min == 2
    assert r.time_phrase_violations == 1 and r.time_phrase_examples[0][1] == ("evening",)
    assert json.loads(json.dumps(r.to_dict()))["time_phrase_examples"][0][0].startswith("Genel kurul")


def test_surface_errors_are_counted_by_class() -> None:
    r = quality_report([QualityInput("Haklısın, veriler da aynı şeyi söylüyor.", 1, 1),
                        QualityInput("Evet Kanka, riskleri unutmayın, unutmayın.", 2, 1)])
    assert r.artifact_classes == {"harmony": 1, "doubled-word": 1, "midsentence-caps": 1}


def test_answered_questions_addressed_first_and_unanswered_repeats() -> None:
    """A reply answers when it carries the question's subject and an answer of the asked type; "İlginç"
    and an off-subject line do not. A question asked again after no answer counts as a repeat."""
    from piyasa_core.engine.types import BotProfile
    ayse = BotProfile(id=1, username="ayse_scalp", name="Ayşe Kaya", persona="scalper")
    mehmet = BotProfile(id=2, username="mehmet_trader", name="Mehmet Yılmaz", persona="investor")
    msgs = [
        QualityInput("Temettü ne zaman hesaba yatıyor?", 9, 1, id=1, created_at=T0, username="zeynep_yeni"),
        QualityInput("İlginç", 1, 1, id=2, reply_to_id=1, created_at=T0 + 30, username="ayse_scalp"),
        QualityInput("Hemen anlatayım: temettü hisseleri hızlı hareket eder", 2, 1, id=3, reply_to_id=1,
                     created_at=T0 + 60, username="mehmet_trader"),
        QualityInput("Temettü ne zaman yatar?", 9, 1, id=4, created_at=T0 + 300, username="zeynep_yeni"),
        QualityInput("Temettü genel kurulun onayladığı tarihte, çoğu şirkette nisan ile haziran arasında ödenir.",
                     2, 1, id=5, reply_to_id=4, created_at=T0 + 330, username="mehmet_trader"),
        QualityInput("Ayşe, BIST30 nedir?", None, 1, id=6, created_at=T0 + 400, username="deniz"),
        QualityInput("BIST30, en büyük 30 şirketin endeksidir.", 2, 1, id=7, reply_to_id=6, created_at=T0 + 420,
                     username="mehmet_trader"),
        QualityInput("Aynen, BIST30 bence de güzel.", 1, 1, id=8, reply_to_id=6, created_at=T0 + 450,
                     username="ayse_scalp"),
    ]
    r = quality_report(msgs, None, [ayse, mehmet])
    assert r.question_replies == 5 and r.answered_question_rate == pytest.approx(2 / 5)
    assert (r.addressed_human_questions, r.addressed_answered_first) == (1, 0)  # Mehmet answered before Ayşe
    assert r.questions == 3 and r.unanswered_repeats == 1
    assert r.human_questions_with_answer == 1
    assert [ok for *_, ok in r.answer_examples] == [False, False, True, True, False]


def test_a_goodbye_followed_by_more_messages_within_the_hour_is_counted() -> None:
    msgs = [
        QualityInput("Şimdilik benden bu kadar, hayırlı seanslar.", 1, 1, id=1, created_at=T0, username="mehmet"),
        QualityInput("GARAN yine hareketli.", 1, 1, id=2, created_at=T0 + 60, username="mehmet"),
        QualityInput("Ben kaçtım, kolay gelsin!", 2, 1, id=3, created_at=T0, username="ayse"),
        QualityInput("Günaydın, ben geldim.", 2, 1, id=4, created_at=T0 + 7200, username="ayse"),
        QualityInput("Sonra yine sorarım.", 3, 1, id=5, created_at=T0, username="zeynep"),
    ]
    r = quality_report(msgs)
    assert (r.sign_offs, r.sign_off_then_spoke) == (2, 1)  # "sonra yine sorarım" says no goodbye


def test_echoed_prices_and_misdirected_thanks_are_counted() -> None:
    """From a benchmark transcript: three bots answered Mehmet's "EREGL … fiyat 31,43 TL" each with the same
    quote (3 echoes; a quote of another instrument is none), and Zeynep answered "rica ederim" to thanks
    that Mehmet gave Ayşe, then Ayşe answered Zeynep's "rica ederim" (2 misdirected)."""
    msgs = [
        QualityInput("Kahvemi aldım. EREGL neredeyse yerinde sayıyor, fiyat 31,43 TL.", 1, 1, id=1,
                     username="mehmet_trader"),
        QualityInput("Rakamlara göre, EREGL şu an 31,43 TL, Mehmet", 3, 1, id=2, reply_to_id=1,
                     username="ali_ekonomist"),
        QualityInput("Mehmet, okuduğum kadarıyla EREGL şu anda 31,43 TL. ❓", 4, 1, id=3, reply_to_id=1,
                     username="zeynep_newbie"),
        QualityInput("EREGL şu an 31,43 TL, bugün %0,06 değişimle yatay. 📈", 2, 1, id=4, reply_to_id=1,
                     username="ayse_scalp"),
        QualityInput("Dolar 50,52, bugün sakin.", 2, 1, id=5, username="ayse_scalp"),
        QualityInput("Ayşe, tam benim söylediğim şey, eline sağlık.", 1, 1, id=6, reply_to_id=4,
                     username="mehmet_trader"),
        QualityInput("Hocam, rica ederim, ben de öğreniyorum.", 4, 1, id=7, reply_to_id=6, username="zeynep_newbie"),
        QualityInput("Zeynep, rica ederim!", 2, 1, id=8, reply_to_id=7, username="ayse_scalp"),
        QualityInput("Ayşe, ne demek, bol kazançlar!", 2, 1, id=9, reply_to_id=6, username="ayse_scalp"),
    ]
    r = quality_report(msgs)
    assert r.echoed_prices == 3 and r.echoed_price_rate == pytest.approx(3 / 9)
    assert r.misdirected_pleasantries == 2  # Ayşe's own answer to the thanks she was given is right
