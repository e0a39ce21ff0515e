"""Duplicate detection: normalisation, exact / near / short cases, window, counters and speed."""

from __future__ import annotations

import time

import pytest
from rapidfuzz import fuzz

from piyasa_core.engine.dedup import DedupResult, DuplicateChecker, SeenKeys, dedup_key, normalise
from piyasa_core.engine.types import HistoryLine
from tests.test_postprocess import make_corpus

LONG_A = "GARAN bugün 52,40 TL'den işlem görüyor, sabır şart kardeşim 📊"
LONG_B = "GARAN bugün 52,45 TL'den işlem görüyor, sabır şart kardeşim!"


@pytest.mark.parametrize("raw, expected", [
    ("Alev alev 🚀", "alev alev"), ("ALEV ALEV!!!", "alev alev"), ("alev, alev...", "alev alev"),
    ("BIST30 bugün ÇOK İYİ! @ali_ekonomist 🚀", "bist30 bugün çok iyi"),
    ("bist30 Bugün çok iyi", "bist30 bugün çok iyi"),
    ("Sabır şart 👨‍👩‍👧 dostlar", "sabir şart dostlar"), ("ISTANBUL", "istanbul"), ("İstanbul", "istanbul"),
    ("GARAN'ın 52,40 TL", "garan in 52 40 tl"), ("   ", ""), ("🚀🔥", ""),
])
def test_normalise(raw: str, expected: str) -> None:
    assert normalise(raw) == expected


@pytest.mark.parametrize("text, recent, kind", [
    ("alev alev!", ["Alev alev 🚀"], "exact"),
    ("ALEV ALEV", ["Alev alev 🚀"], "exact"),
    ("Helal olsun!", ["helal olsun 👏"], "exact"),
    ("@zeynep_newbie haklısın hocam, veriler önemli", ["@ali_ekonomist Haklısın hocam; veriler önemli."], "exact"),
    ("🚀", ["🚀"], "exact"),
    (LONG_B, [LONG_A], "near"),
    ("Verilere bakalım, makro resim hâlâ karışık görünüyor arkadaşlar",
     ["Verilere bakalım, makro resim hala karışık görünüyor arkadaşlar ⚠️"], "exact"),
    ("Verilere bakalım: makro resim hâlâ çok karışık görünüyor arkadaşlar",
     ["Verilere bakalım, makro resim hala karışık görünüyor arkadaşlar ⚠️"], "near"),
    ("Alev gibi", ["Alev alev"], None),                      # short and different: never near
    ("Süper gidiyor", ["Süper gidiyo"], None),               # short: only exact counts
    ("🔥", ["🚀"], None),
    ("GARAN için ne düşünüyorsunuz diye sormuşsun, bence bilanço güçlü ama sabır şart",
     ["GARAN için ne düşünüyorsunuz"], None),               # a quoting reply is not a duplicate
    ("Enflasyon verisi beklentinin üzerinde geldi, faiz tarafı önemli",
     ["Bitcoin hafta sonu sakin geçti, hacim düşük kaldı arkadaşlar"], None),
])
def test_check(text: str, recent: list[str], kind: str | None) -> None:
    result = DuplicateChecker().check(text, recent)
    assert result.kind == kind, result
    assert result.duplicate is (kind is not None)
    if kind == "exact":
        assert result.score == 100.0 and result.match == recent[0]
    elif kind == "near":
        assert 88.0 <= result.score < 100.0 and result.match == recent[0]
    else:
        assert result == DedupResult(False, None, 0.0, None)


def test_ratio_rather_than_token_set_ratio() -> None:
    short, reply = "garan için ne düşünüyorsunuz", normalise(
        "GARAN için ne düşünüyorsunuz diye sormuşsun, bence bilanço güçlü ama sabır şart")
    assert fuzz.token_set_ratio(short, reply) == 100.0  # would flag every quoting reply
    assert fuzz.ratio(short, reply) < 88.0


def test_window_threshold_and_counters() -> None:
    checker = DuplicateChecker(window=3)
    recent = [LONG_A, "bir", "iki", "üç"]
    assert not checker.check(LONG_B, recent).duplicate          # LONG_A is outside the window
    assert checker.check(LONG_B, recent[:3]).kind == "near"
    assert checker.check("İKİ!", recent).kind == "exact"
    assert not DuplicateChecker(threshold=99.5).check(LONG_B, [LONG_A]).duplicate
    assert not DuplicateChecker(window=0).check("bir", ["bir"]).duplicate
    assert (checker.checked, checker.exact, checker.near) == (3, 1, 1)


def test_newest_match_wins_and_any_sequence() -> None:
    result = DuplicateChecker().check("alev alev", ("Alev alev 🚀", "başka", "ALEV ALEV 🔥"))
    assert result.match == "ALEV ALEV 🔥"
    assert dedup_key("🚀 🔥") == "🚀🔥"


def test_speed_against_50_recent() -> None:
    texts = [t for _, _, t in make_corpus(400)]
    checker = DuplicateChecker()
    for i in range(50, 100):  # warm the key cache like a running chat would
        checker.check(texts[i], texts[i - 50:i])
    start = time.perf_counter()
    rounds = 0
    for i in range(100, len(texts)):
        checker.check(texts[i], texts[i - 50:i])
        rounds += 1
    avg_ms = (time.perf_counter() - start) / rounds * 1000
    dedup_key.cache_clear()
    start = time.perf_counter()
    for i in range(100, len(texts)):
        DuplicateChecker().check(texts[i], texts[i - 50:i])
        dedup_key.cache_clear()
    cold_ms = (time.perf_counter() - start) / rounds * 1000
    print(f"\ndedup: {avg_ms:.4f} ms per check against 50 recent messages (keys cached), {cold_ms:.4f} ms "
          f"with every key normalised afresh ({rounds} checks, {checker.exact} exact, {checker.near} near)")


def test_seen_keys_reach_further_back_than_the_window() -> None:
    checker = DuplicateChecker(window=50)
    older = ["Katılıyorum"] + [f"Mesaj numarası {i} hakkında farklı bir yorum" for i in range(60)]
    seen = SeenKeys(keep=100)
    seen.note(older)
    assert not checker.check("Katılıyorum. 📊", older).duplicate  # 61 messages back: outside the window
    verdict = checker.check("Katılıyorum. 📊", older, seen)
    assert verdict.duplicate and verdict.kind == "exact"
    small = SeenKeys(keep=3)
    small.note(["bir", "iki", "üç", "dört"])  # the oldest is forgotten first
    assert "bir" not in small and "dört" in small and len(small) == 3
    small.note_history(lines := (HistoryLine(9, 1, "beş", 0.0, "Ali"),))
    small.note_history(lines)  # the same history again is skipped
    assert "beş" in small and "iki" not in small
