"""Turkish surface errors of slot-built text: each class from issue 15's reading is caught by the
quality report's artifact check and fixed by the composer and the post-processor (1,000 offline
messages without any: tests/test_offline_text.py)."""

from __future__ import annotations

import random

import pytest

from piyasa_core.engine.postprocess import artifacts, postprocess
from piyasa_core.llm.turkish import fix_surface, harmony_errors, surface_problems, takes_back_suffix


@pytest.mark.parametrize("text, kind, fixed", [
    ("Haklısın, veriler da aynı şeyi söylüyor.", "harmony", "Haklısın, veriler de aynı şeyi söylüyor."),
    ("Reel faiz yükselirse dolar üzerindeki baskı de değişir.", "harmony",
     "Reel faiz yükselirse dolar üzerindeki baskı da değişir."),
    ("Hareketsizlik da bir bilgi: piyasa yön arıyor.", "harmony", "Hareketsizlik de bir bilgi: piyasa yön arıyor."),
    ("Stop koyun. Riskleri unutmayın, unutmayın.", "doubled-word", "Stop koyun. Riskleri unutmayın."),
    ("Evet Kanka, SISE yine hareketli.", "midsentence-caps", "Evet kanka, SISE yine hareketli."),
])
def test_each_class_is_caught_and_fixed(text: str, kind: str, fixed: str) -> None:
    assert kind in surface_problems(text) and kind in artifacts(text)
    assert fix_surface(text) == fixed and not surface_problems(fixed)


@pytest.mark.parametrize("text", [
    "Ben de aynı fikirdeyim, ya da bekleriz.",  # ya da, ben de
    "Saat de geç oldu, dikkat de lazım.",  # loanwords with front suffixes
    "Yavaş yavaş toparlanıyor, ağır ağır.",  # reduplication is Turkish
    "Kanka, bugün SISE de THYAO da hareketli.",  # capitals at the start; tickers are not judged
    "@ayse_scalp de bakar.",
])
def test_correct_turkish_is_left_alone(text: str) -> None:
    assert not surface_problems(text) and fix_surface(text) == text


def test_harmony_follows_the_last_vowel() -> None:
    assert [takes_back_suffix(w) for w in ("kitap", "ev", "Durgunluk", "gözlük", "saat", "BIST", "x")] == \
        [True, False, True, False, False, None, None]
    assert harmony_errors("rakamlar de, Hareketsizlik da, etki da") == ["rakamlar de", "Hareketsizlik da", "etki da"]


def test_the_post_processor_fixes_an_llm_text_and_says_so() -> None:
    out = postprocess("Evet Kanka, veriler da bunu gösteriyor.", bot_name="Ali Hoca", username="ali_ekonomist",
                      max_chars=400, rng=random.Random(1), casual=0.0)
    assert not out.rejected and "fix_turkish_surface" in out.changes
    assert "veriler de" in out.text and "Kanka" not in out.text



def test_an_afternoon_phrase_before_noon_and_efendim_mid_sentence_are_caught() -> None:
    """Seen in a dashboard capture: an LLM's "Öğleden sonra ons altın …" at 10:00, and "Aynen Efendim, …"."""
    from piyasa_core.engine.postprocess import artifacts
    from piyasa_core.llm.daytime import time_phrase_violations

    assert time_phrase_violations("Öğleden sonra ons altın beklentinin üstünde.", 10.0) == ["afternoon"]
    assert time_phrase_violations("Öğleden sonra ons altın beklentinin üstünde.", 14.0) == []
    assert "midsentence-caps" in artifacts("Aynen Efendim, temel resim bunu doğruluyor.")
