"""Post-processing of generated text: every rule, the personas.md defects, and properties over a corpus."""

from __future__ import annotations

import random
import re
import tomllib
from collections import Counter
from typing import Any

import pytest

from piyasa_core.engine.postprocess import (
    DEFAULT_ALLOWED,
    EMOJI_RE,
    artifacts,
    cap_length,
    english_words,
    find_promises,
    fix_emoji_placement,
    fix_tickers,
    foreign_jargon,
    humanize,
    lower_caps_word,
    normalise_shouting,
    postprocess,
    strip_ai_traces,
    unknown_upper,
)
from piyasa_core.llm.offline_rules import ALLOWED_UPPER, KNOWN_SYMBOLS
from piyasa_core.llm.offline_text import compose
from tests.conftest import REPO

BOT, USER = "Mehmet Yatırımcı", "mehmet_trader"
MODES = ("new", "reply", "reaction", "human_reply")
TOPICS = ("BIST", "döviz", "kripto", "enflasyon", "faiz", "temettü", "altın", "dolar", "Bitcoin",
          "teknik analiz", "TCMB", "BIST100", "THYAO", "GARAN", "SASA", None)
PRICES = {"GARAN": 52.0, "THYAO": 300.0, "SISE": 40.0, "KCHOL": 170.0, "ASELS": 60.0, "BTCUSDT": 64000.0,
          "USDTRY": 32.5, "EURTRY": 35.0, "BIST30": 10.6, "BIST100": 9800.0, "XAUUSD": 2350.0}
HOSTILE = (
    "bIST30 bugün yine sert düştü, sabır şart.", "GA📈RAN bugün çok güçlü.", "SISE🚀 alev alev",
    "yük🔥seliş başladı. Hacim de geldi.", "Garantili kazanç!", "Kesin yükselecek", "SANKI NASIL olacak",
    "bullish breakout geliyor", "**GARAN** #borsa", "Elbette! İşte mesajım: GARAN güzel gidiyor 📊",
    "Tabii ki! İşte Ayşe tarzında bir mesaj: SISE patladı gitti 🚀", 'Mehmet Yatırımcı: "Sabır şart kardeşim."',
    "@mehmet_trader: panik yok", "Bir yapay zeka olarak tavsiye veremem. Ama GARAN ilginç.",
    "As an AI, I cannot give advice. GARAN ilginç.", "This is the best stock and you will love it",
    "ALTIN MI DOLAR MI???", "- GARAN güçlü\n- THYAO zayıf", "%100 kazanç garantisi", "10x yapar bu hisse",
    "gARAN ve thyao bugün iyi", "Bitcoin to the moon 🚀🚀", "## Analiz\n1. GARAN\n2. THYAO", "```GARAN```",
    "Garanti BBVA bilançosu iyi geldi.", "`THYAO` için *kısa* not: __sabır__", "Zeynep'e katılıyorum 😊🙏",
    "@ali_ekonomist🚀 haklısın hocam", "BU PIYASA ÇOK KIRMIZI! DIKKAT EDIN", "garan 52,40 TL'de.",
    "Risk yok, kaçırmayın, herkes kazanıyor!", "KESİN KAZANÇ", "Bugün THYAO'da 👨‍👩‍👧 aile gibiyiz 🇹🇷",
    "Yatırım tavsiyesi değildir. GARAN iyi. (Yatırım tavsiyesi değildir)", "   ", "🚀",
)


def _bots() -> list[dict[str, Any]]:
    with open(REPO / "config.toml", "rb") as fh:
        return [b for b in tomllib.load(fh)["bots"] if b.get("enabled", True)]


def make_corpus(count: int = 200) -> list[tuple[str, str, str]]:
    """``count`` varied composer messages as (bot name, username, text): personas × modes × topics."""
    bots, out = _bots(), []
    for i in range(count):
        rng = random.Random(7_000 + i)
        bot, mode = bots[i % len(bots)], MODES[(i // len(bots)) % len(MODES)]
        others = [b for b in bots if b is not bot]
        market = {s: {"price": round(p * rng.uniform(0.85, 1.15), 4), "change_pct": round(rng.uniform(-6, 6), 2)}
                  for s, p in PRICES.items()}
        hints = {"persona": bot["persona"], "bot_name": bot["name"], "username": bot["username"],
                 "signature_phrases": list(bot["signature_phrases"]), "emoji": list(bot["emoji"]),
                 "watchlist": list(bot["watchlist"]), "mode": mode, "market": market,
                 "mention": rng.choice(others)["username"] if rng.random() < 0.3 else None,
                 "stances": list(bot.get("stances", [])), "holdings": list(bot.get("holdings", [])),
                 "topic": rng.choice(TOPICS)}
        reply_to = None
        if mode == "reply":
            reply_to = (others[0]["name"], "GARAN bugün epey hareketli.", False)
        elif mode == "human_reply":
            reply_to = ("Emre", rng.choice(("Dolar yükselir mi?", "GARAN alınır mı?", "Yeni başladım.")), True)
        out.append((bot["name"], bot["username"], compose(hints, reply_to, i)))
    return out


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, str, str]]:
    texts = make_corpus()
    assert len({t for _, _, t in texts}) > 150
    return texts


# ── strip_ai_traces ────────────────────────────────────────────────────────────────────────────────
@pytest.mark.parametrize("raw, expected", [
    ('"GARAN güzel gidiyor."', "GARAN güzel gidiyor."),
    ("“Sabır şart.”", "Sabır şart."),
    ("**GARAN** #borsa", "GARAN"),
    ("*Sabır* şart, __panik yok__", "Sabır şart, panik yok"),
    ("## Analiz\nGARAN güçlü", "Analiz. GARAN güçlü"),
    ("- GARAN güçlü\n- THYAO zayıf", "GARAN güçlü. THYAO zayıf"),
    ("1. GARAN\n2. THYAO", "GARAN. THYAO"),
    ("`THYAO` iyi", "THYAO iyi"),
    ("#GARAN uçuyor #borsa #yatırım", "GARAN uçuyor"),
    ("Elbette! GARAN güzel.", "GARAN güzel."), ("Elbette!\n- GARAN güzel.", "GARAN güzel."),
    ("Tabii ki! İşte mesajım: sabır şart.", "Sabır şart."),
    ("Tabii ki! İşte Ayşe tarzında bir mesaj: SISE patladı 🚀", "SISE patladı 🚀"),
    ("Elbette! İşte mesajım: GARAN güzel gidiyor 📊", "GARAN güzel gidiyor 📊"),
    ("İşte bu yüzden sabır şart.", "İşte bu yüzden sabır şart."),
    ("Bir yapay zeka olarak tavsiye veremem. GARAN ilginç.", "GARAN ilginç."),
    ("As an AI, I cannot give financial advice. GARAN ilginç.", "GARAN ilginç."),
    ("Mehmet Yatırımcı: Sabır şart.", "Sabır şart."),
    ('@mehmet_trader: "panik yok"', "Panik yok"),
    ("Mehmet: 20 yılda gördüklerim çok.", "20 yılda gördüklerim çok."),
    ("Ali Hoca haklı, @mehmet_trader dediği gibi.", "Ali Hoca haklı, @mehmet_trader dediği gibi."),
    ("GARAN iyi. Yatırım tavsiyesi değildir. (Yatırım tavsiyesi değildir)",
     "GARAN iyi. Yatırım tavsiyesi değildir."),
    ("Tempo yüksek 🚀🔥  bugün ⚡️", "Tempo yüksek 🚀🔥 bugün ⚡️"),
    ("Yapay zeka hisseleri bugün güçlü.", "Yapay zeka hisseleri bugün güçlü."),
])
def test_strip_ai_traces(raw: str, expected: str) -> None:
    assert strip_ai_traces(raw, BOT, USER) == expected


# ── promises ───────────────────────────────────────────────────────────────────────────────────────
PROMISE_EXAMPLES = [
    ("Garantili kazanç!", "garantili"), ("GARANTİLİ", "garantili"), ("Bu iş garanti.", "garanti"),
    ("kesin kazanç var", "kesin kazanç"), ("Kesin yükselecek", "kesin yükselecek"),
    ("Kesinlikle yukarı yönde yükselecek", "kesinlikle yukarı yönde yükselecek"),
    ("Bu hisse kesinlikle kazandırır", "kesinlikle kazandırır"), ("%100 getiri", "%100 getiri"),
    ("% 100 kazanç", "% 100 kazanç"), ("yüzde yüz kazanç", "yüzde yüz kazanç"),
    ("Zengin olacaksın!", "zengin olacaksın"), ("Bununla zengin olursun", "zengin olursun"),
    ("Bu fırsatı kaçırmayın, herkes kazanıyor", "kaçırmayın, herkes kazanıyor"),
    ("risk yok arkadaşlar", "risk yok"), ("Sıfır risk!", "sıfır risk"), ("Yarın tavan olacak", "tavan olacak"),
    ("Bu 10x yapar", "10x yapar"), ("2 x yapar bence", "2 x yapar"), ("Bu kağıt katlar", "katlar"),
    ("Guaranteed profit", "guaranteed"), ("sure win bro", "sure win"), ("Bitcoin to the moon", "to the moon"),
    ("risk-free", "risk-free"), ("Bu yatırım tavsiyesidir", "yatırım tavsiyesidir"),
    ("Harika. Kesin bu sefer olur", "kesin"), ("Mutlaka yükselecek bu", "mutlaka yükselecek"),
    ("Kaçıranlar pişman olacak", "kaçıranlar pişman"), ("risksiz kazanç burada", "risksiz kazanç"),
    ("3 katına çıkar", "3 katına çıkar"), ("kat kat kazanırsın", "kat kat kazanırsın"),
    ("Bu seni kazandıracak", "kazandıracak"), ("Çok kazanacaksın", "kazanacaksın"),
    ("Bununla kaybetmezsin", "kaybetmezsin"), ("zarar etmezsin merak etme", "zarar etmezsin"),
    ("Bu kağıt asla düşmez", "asla düşmez"), ("Düşmesi imkansız", "düşmesi imkansız"),
    ("You can't lose", "can't lose"), ("100% profit", "100% profit"), ("get rich fast", "get rich"),
    ("easy money", "easy money"), ("Sure thing", "sure thing"), ("Bu 5 kat yapar", "5 kat yapar"),
    ("Bu hisse katlayacak", "katlayacak"),
]


@pytest.mark.parametrize("text, phrase", PROMISE_EXAMPLES)
def test_find_promises_positive(text: str, phrase: str) -> None:
    assert phrase in find_promises(text)


def test_every_promise_match_contains_a_cue() -> None:
    """The cheap cue search may skip the promise patterns only when no match could contain a cue."""
    from piyasa_core.engine.postprocess import _PROMISE_CUES, _PROMISE_PATTERNS, tr_lower

    lowered = [tr_lower(text) for text, _ in PROMISE_EXAMPLES]
    for pattern in _PROMISE_PATTERNS:  # each alternative on its own: exercised, and every match has a cue
        matches = [m.group(0) for text in lowered for m in re.finditer(pattern, text)]
        assert matches, f"no example exercises {pattern!r}"
        assert [m for m in matches if not _PROMISE_CUES.search(m)] == [], pattern


@pytest.mark.parametrize("text", [
    "Garanti BBVA bilançosu iyi geldi.", "Garanti Bankası temettü açıkladı.", "GARANTİ BBVA güçlü",
    "Garanti'nin kârı arttı.", "Garanti Yatırım raporu çıktı.", "GARAN bugün 52,40 TL.",
    "Getirinin garantisi yok, dikkat.", "Kesin değil ama artabilir.", "Hiçbir şey garanti değil.",
    "Kesintiler sürüyor.", "Tabii ki riskleri unutmayın.", "%100'lük artış beklemiyorum.",
    "Sabır şart, panik yok kardeşim.", "Ben de 2001'de zengin olmayı düşünmüştüm.", "Katılıyorum.",
    "Bunun hiç riski yok mu?", "Bu garanti mi?", "Tavan olacak mı sizce?", "Kesinlikle katılıyorum Ali Hoca.",
    "Kesin mi bu haber?", "Kesinlikle haklısın.",
])
def test_find_promises_negative(text: str) -> None:
    assert find_promises(text) == []


def test_bank_name_is_not_a_promise_but_a_promise_next_to_it_is() -> None:
    assert find_promises("Garanti BBVA hisseleri") == []
    assert postprocess("Garanti BBVA bilançosu güçlü.", bot_name=BOT, username=USER, max_chars=200,
                       rng=random.Random(0), casual=0.0).text == "Garanti BBVA bilançosu güçlü."
    assert find_promises("Garanti BBVA garantili kazandırır") == ["garantili"]


# ── tickers, capitals ──────────────────────────────────────────────────────────────────────────────
@pytest.mark.parametrize("raw, expected", [
    ("bIST30 bugün düştü", "BIST30 bugün düştü"), ("gARAN ve tHYAO", "GARAN ve THYAO"),
    ("GaRAN iyi", "GARAN iyi"), ("BİST30 endeksi", "BIST30 endeksi"), ("garan 52,40 TL", "GARAN 52,40 TL"),
    ("Thyao'da hareket var", "THYAO'da hareket var"), ("usdtry yükseldi", "USDTRY yükseldi"),
    ("bIST bugün sakin", "BIST bugün sakin"), ("bist bugün sakin", "bist bugün sakin"),
    ("Kap açıklaması geldi", "Kap açıklaması geldi"), ("sise aldım", "sise aldım"), ("sISE aldım", "SISE aldım"),
    ("@garan selam", "@garan selam"), ("GARAN zaten doğru", "GARAN zaten doğru"),
    ("Garanti güzel", "Garanti güzel"),
])
def test_fix_tickers(raw: str, expected: str) -> None:
    assert fix_tickers(raw) == expected


@pytest.mark.parametrize("text, expected", [
    ("SANKI NASIL olacak", ["SANKI", "NASIL"]), ("GARAN ve TL güçlü", []), ("TÜFE ve ABD verisi", []),
    ("ÇOK İYİ GİDİYOR", ["ÇOK", "İYİ", "GİDİYOR"]), ("@ABC_DEF selam", []), ("BIST ve KAP haberleri", []),
    ("A1 notu", []), ("GARAN'IN fiyatı", ["IN"]),
])
def test_unknown_upper(text: str, expected: list[str]) -> None:
    assert unknown_upper(text) == expected


def test_unknown_upper_strict_set() -> None:
    assert unknown_upper("BIST ve KAP", ALLOWED_UPPER) == []  # the composer writes both (knowledge tables)
    assert unknown_upper("XBANK ve BDDK", ALLOWED_UPPER) == ["XBANK", "BDDK"]
    assert ALLOWED_UPPER <= DEFAULT_ALLOWED


@pytest.mark.parametrize("raw, expected", [
    ("SANKI NASIL olacak", "Sanki nasıl olacak"), ("Bu NASIL iş", "Bu nasıl iş"),
    ("ALTIN MI DOLAR MI???", "Altın mı dolar mı???"), ("GARAN UÇUYOR!", "GARAN uçuyor!"),
    ("BU PIYASA ÇOK KIRMIZI! DIKKAT EDIN", "Bu piyasa çok kırmızı! Dikkat edin"),
    ("GARAN'IN TL'DEN fiyatı", "GARAN'ın TL'den fiyatı"), ("ÇOK İYİ", "Çok iyi"),
    ("@ali NASIL gidiyor", "@ali Nasıl gidiyor"), ("Fed ve TCMB", "Fed ve TCMB"),
])
def test_normalise_shouting(raw: str, expected: str) -> None:
    assert normalise_shouting(raw) == expected


@pytest.mark.parametrize("word, expected", [
    ("SANKI", "sanki"), ("NASIL", "nasıl"), ("PIYASA", "piyasa"), ("FIYAT", "fiyat"), ("ALTIN", "altın"),
    ("KIRMIZI", "kırmızı"), ("IÇIN", "için"), ("BIR", "bir"), ("İYİ", "iyi"), ("ISTANBUL", "istanbul"),
])
def test_lower_caps_word(word: str, expected: str) -> None:
    assert lower_caps_word(word) == expected


# ── emoji ──────────────────────────────────────────────────────────────────────────────────────────
@pytest.mark.parametrize("raw, expected", [
    ("GA📈RAN yükseliyor.", "GARAN yükseliyor. 📈"), ("SISE🚀 alev alev", "SISE alev alev 🚀"),
    ("yük🔥seliş var. Sonra bakarız.", "yükseliş var. 🔥 Sonra bakarız."),
    ("🚀SISE uçtu!", "SISE uçtu! 🚀"), ("52🚀TL oldu", "52 TL oldu 🚀"), ("Harika!🚀Süper", "Harika! Süper 🚀"),
    ("@ali🚀 haklısın", "@ali haklısın 🚀"), ("Tempo yüksek 🚀 bugün", "Tempo yüksek 🚀 bugün"),
    ("Uyarı⚠️ dikkat", "Uyarı dikkat ⚠️"), ("Aile👨‍👩‍👧 gibi", "Aile gibi 👨‍👩‍👧"),
    ("Bayrak🇹🇷 dalgalanıyor.", "Bayrak dalgalanıyor. 🇹🇷"), ("Sabır şart. 📊", "Sabır şart. 📊"),
    ("İki🚀🔥 emoji", "İki emoji 🚀🔥"), ("Yukarı👍🏽 gidiyor", "Yukarı gidiyor 👍🏽"),
])
def test_fix_emoji_placement(raw: str, expected: str) -> None:
    assert fix_emoji_placement(raw) == expected


def test_emoji_regex_covers_sequences() -> None:
    for emo in ("🚀", "⚠️", "👨‍👩‍👧", "🇹🇷", "👍🏽", "1️⃣", "☕", "❓", "⭐"):
        assert EMOJI_RE.fullmatch(emo), emo
    assert not EMOJI_RE.search("GARAN 52,40 TL %1,2 → ₺ ©")


# ── cap_length ─────────────────────────────────────────────────────────────────────────────────────
CAP_TEXT = "Merhaba @ali_ekonomist, BIST30 bugün 61.250,50 puanda 🚀🔥 ve USDTRY 32,4512. Sabır şart 👨‍👩‍👧 dostlar."


def _atoms_intact(original: str, out: str) -> bool:
    body = out[:-1] if out.endswith("…") else out
    if not original.startswith(body):
        return False
    rest = original[len(body):]
    if not rest:
        return True
    nxt = rest[0]
    if nxt.isalnum() or nxt in "_@\u200d\ufe0f" or EMOJI_RE.match(rest):
        return False
    return not (body[-1:].isdigit() and nxt in ",." and rest[1:2].isdigit())


@pytest.mark.parametrize("text", [CAP_TEXT, "GARAN 52,40 TL seviyesinde. @ali_ekonomist sen ne dersin 🚀 bu konuda?",
                                  "Kısa.", "BTCUSDT", "Tek_kelime_çok_uzun_bir_token_burada", HOSTILE[32]])
def test_cap_length_never_exceeds_or_splits(text: str) -> None:
    for limit in range(0, len(text) + 3):
        out = cap_length(text, limit)
        assert len(out) <= limit, (limit, out)
        if out:
            assert _atoms_intact(text.strip(), out), (limit, out)


@pytest.mark.parametrize("limit, expected", [
    (200, CAP_TEXT), (90, "Merhaba @ali_ekonomist, BIST30 bugün 61.250,50 puanda 🚀🔥 ve USDTRY 32,4512."),
    (60, "Merhaba @ali_ekonomist, BIST30 bugün 61.250,50 puanda 🚀🔥 ve…"),
    (55, "Merhaba @ali_ekonomist, BIST30 bugün 61.250,50 puanda…"), (30, "Merhaba @ali_ekonomist…"),
    (22, "Merhaba…"), (5, ""), (0, ""),
])
def test_cap_length_cases(limit: int, expected: str) -> None:
    assert cap_length(CAP_TEXT, limit) == expected


def test_cap_length_prefers_sentence_end_and_marks_mid_sentence() -> None:
    text = "GARAN 52,40 TL seviyesinde. Bence güzel bir gün, hacim de iyi."
    assert cap_length(text, 30) == "GARAN 52,40 TL seviyesinde."
    assert cap_length(text, 50) == "GARAN 52,40 TL seviyesinde."  # keeps ≥ half the budget
    assert cap_length(text, 56) == "GARAN 52,40 TL seviyesinde. Bence güzel bir gün, hacim…"
    assert cap_length("Sabır şart. 📊 Panik yok kardeşim.", 16) == "Sabır şart. 📊"


# ── humanize ───────────────────────────────────────────────────────────────────────────────────────
_ATOM = re.compile(rf"@\w+|[A-ZÇĞİÖŞÜ]{{2,}}\d*|\d[\d.,]*|{EMOJI_RE.pattern}")


def test_humanize_zero_is_identity(corpus: list[tuple[str, str, str]]) -> None:
    for seed, (_, _, text) in enumerate(corpus):
        assert humanize(text, random.Random(seed), 0.0) == text


def test_humanize_never_adds_artifacts_or_touches_atoms(corpus: list[tuple[str, str, str]]) -> None:
    effects: Counter[str] = Counter()
    extra = ["Merhaba arkadaşlar.", "Harika bir gün!", "GARAN güzel.", "@ali selam!", "Mehmet haklı.",
             "Zeynep'e katılıyorum.", "İlginç bir veri. 📊", "TL değer kaybetti.", "Sise aldım."]
    for text in [t for _, _, t in corpus] + extra:
        before = set(artifacts(text))
        for seed in range(25):
            out = humanize(text, random.Random(seed), 1.0)
            assert set(artifacts(out)) <= before, (text, out)
            assert _ATOM.findall(out) == _ATOM.findall(text), (text, out)
            effects["period"] += text.rstrip(" 📊").endswith(".") and not out.rstrip(" 📊").endswith(".")
            effects["lower"] += out[:1] != text[:1]
            effects["bang"] += out.count("!") > text.count("!")
    assert min(effects.values()) > 0, effects


@pytest.mark.parametrize("text", ["GARAN güzel.", "@ali selam.", "Mehmet haklı.", "Bitcoin yine sakin.",
                                  "Zeynep'e katılıyorum.", "TL değer kaybetti.", "ÇOK güzel.", "Thyao iyi.",
                                  "Serkan, RSI tek başına yetmez."])  # a person addressed: "serkan," read as a slip
def test_humanize_keeps_protected_first_words(text: str) -> None:
    for seed in range(60):
        assert humanize(text, random.Random(seed), 1.0)[:2] == text[:2]


# ── artifacts and the pipeline ─────────────────────────────────────────────────────────────────────
@pytest.mark.parametrize("text, names", [
    ("bIST30 bugün düştü.", {"ticker-case"}), ("GA📈RAN güçlü", {"emoji-glued", "unknown-caps"}),
    ("Güzel🚀 gün", {"emoji-glued"}),
    ("Garantili kazanç!", {"certainty-opener", "promise"}), ("Kesin yükselecek", {"certainty-opener", "promise"}),
    ("SANKI NASIL olacak", {"unknown-caps"}), ("bullish breakout", {"foreign-word"}),
    ("**GARAN** #borsa", {"markdown"}), ("Elbette! İşte mesajım: GARAN iyi", {"ai-trace"}),
    ("This is what you need", {"english"}), ('"GARAN iyi."', {"markdown"}),
    ("Bir yapay zeka olarak söylüyorum.", {"ai-trace"}), ("GARAN 52,40 TL. Sabır şart 📊", set()),
    ("Garanti BBVA güçlü.", set()), ("Kesinlikle katılıyorum.", set()), ("Kesin mi?", set()),
    ("Kesinlikle öyle bir şey yok.", set()), ("Kesinlikle doğru.", set()),
])
def test_artifacts(text: str, names: set[str]) -> None:
    assert set(artifacts(text)) == names


def _pp(text: str, **kw: Any) -> Any:
    kw = {"bot_name": BOT, "username": USER, "max_chars": 200, "rng": random.Random(0), "casual": 0.0} | kw
    return postprocess(text, **kw)


@pytest.mark.parametrize("raw, text", [
    ("bIST30 bugün yine sert düştü, sabır şart.", "BIST30 bugün yine sert düştü, sabır şart."),
    ("GA📈RAN bugün çok güçlü.", "GARAN bugün çok güçlü. 📈"), ("SANKI NASIL olacak", "Sanki nasıl olacak"),
    ("**GARAN** #borsa", "GARAN"), ("Elbette! İşte mesajım: GARAN güzel gidiyor 📊", "GARAN güzel gidiyor 📊"),
    ("@mehmet_trader: panik yok", "Panik yok"), ("gARAN ve thyao bugün iyi", "GARAN ve THYAO bugün iyi"),
    ("Bugün THYAO'da 👨‍👩‍👧 aile gibiyiz 🇹🇷", "Bugün THYAO'da 👨‍👩‍👧 aile gibiyiz 🇹🇷"),
    ("`THYAO` için *kısa* not: __sabır__", "THYAO için kısa not: sabır"), ("🚀", "🚀"),
])
def test_postprocess_fixes(raw: str, text: str) -> None:
    result = _pp(raw)
    assert not result.rejected and result.text == text, result
    assert result.changes or raw == text


@pytest.mark.parametrize("raw, reason", [
    ("Garantili kazanç!", "promise: garantili"), ("Kesin yükselecek", "promise: kesin yükselecek"),
    ("KESİN KAZANÇ", "promise: kesin kazanç"), ("Risk yok, kaçırmayın, herkes kazanıyor!", "promise: "),
    ("bullish breakout geliyor", "foreign: "), ("This is the best stock and you will love it", "foreign: "),
    ("   ", "empty"), ("**#borsa**", "empty"), ("Elbette!", "empty"),
])
def test_postprocess_rejects(raw: str, reason: str) -> None:
    result = _pp(raw)
    assert result.rejected and result.reason is not None and result.reason.startswith(reason), result


def test_postprocess_records_changes() -> None:
    result = _pp("Elbette! Bugün gARAN SANKI🚀 uçuyor", max_chars=25)
    assert result.changes == ("strip_ai_traces", "fix_emoji_placement", "fix_tickers", "normalise_shouting",
                              "cap_length")
    assert result.text == "Bugün GARAN sanki uçuyor…"


def test_postprocess_property(corpus: list[tuple[str, str, str]]) -> None:
    rejected: Counter[str] = Counter()
    inputs = [(n, u, t) for n, u, t in corpus] + [(BOT, USER, h) for h in HOSTILE]
    for i, (name, user, text) in enumerate(inputs):
        for seed, casual, limit in ((0, 0.0, 400), (1, 0.3, 120), (2, 1.0, 60), (3, 1.0, 35)):
            result = postprocess(text, bot_name=name, username=user, max_chars=limit,
                                 rng=random.Random(seed * 1000 + i), casual=casual)
            if result.rejected:
                rejected[(result.reason or "").split(":")[0]] += 1
                continue
            assert result.text and len(result.text) <= limit, result
            assert artifacts(result.text) == [], (text, result)
    corpus_rejects = sum(
        postprocess(t, bot_name=n, username=u, max_chars=400, rng=random.Random(0)).rejected for n, u, t in corpus)
    assert corpus_rejects <= len(corpus) * 0.02, corpus_rejects
    assert "artifact" not in rejected, rejected


def test_language_helpers() -> None:
    assert english_words("This is what you need @the_best") == ["this", "is", "what", "you"]
    assert english_words("On numara, of ya, can sıkıcı ama not aldım") == []
    assert foreign_jargon("bullish breakout @trading_bot") == ["breakout", "bullish"]
    assert KNOWN_SYMBOLS <= DEFAULT_ALLOWED


@pytest.mark.parametrize("text, kept", [
    ("GARAN'da acele yok. Temettü dönemine kadar beklerim, sonra kademeli", "GARAN'da acele yok."),
    ("SISE alev alev! Hacim geldi, ben de girdim ve", "SISE alev alev!"),
    ("Bence temettü için tutulur ama faiz kararını", "Bence temettü için tutulur ama faiz…"),
    ("Tamamlanmış bir cümle.", "Tamamlanmış bir cümle."),
])
def test_a_reply_cut_at_its_token_cap_keeps_its_complete_sentences(text: str, kept: str) -> None:
    from piyasa_core.engine.postprocess import drop_unfinished

    assert drop_unfinished(text) == kept
