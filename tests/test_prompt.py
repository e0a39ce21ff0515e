"""System prompts per persona, the budgeted user prompt and the offline hints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from piyasa_core.config import load_config
from piyasa_core.config.schema import BotConfig
from piyasa_core.engine.market import PriceTape
from piyasa_core.engine.prompt import (
    EMOJI,
    MODE_TEXT,
    SIGNATURES,
    build_prompt,
    build_user_prompt,
    estimate_tokens,
    hints_for,
    system_prompt,
)
from piyasa_core.engine.types import BotProfile, HistoryLine, Holding, MarketSnapshot, Stance, Turn
from piyasa_core.llm.offline_text import compose
from tests.conftest import REPO

_NEWEST = 78  # the newest line is clipped to 80 characters at the least ("…" included)

T0 = 1762160400.0
FORBIDDEN = ("garanti", "kesin")
NEGATION = re.compile(r"\b(deme|yok|kullanma|yasak)\b")
LINES = (
    "SISE sabah açılışta alev alev gitti, hacim de geldi, ben kısa vadeli girdim, akşama kadar bakalım ne olacak 🔥",
    "Enflasyon verisi yarın açıklanıyor, beklenti yüzde otuz iki civarında; verilere bakalım, sonra konuşalım ⚠️",
    "Merhaba arkadaşlar, BIST30 fonuna küçük bir miktar yatırdım, sizce uzun vadede mantıklı mı acaba? 😊",
    "GARAN temettü açıkladı mı bilen var mı? Geçen yıl nisan ayında ödemişlerdi diye hatırlıyorum, bekliyorum.",
)
AUTHORS = (("Ayşe Scalper", 2, "ayse_scalp"), ("Ali Hoca", 3, "ali_ekonomist"),
           ("Zeynep Yeni", 4, "zeynep_newbie"), ("Emre Kaya", None, "emre_k"))


def profile(index: int, bot: BotConfig) -> BotProfile:
    """A BotProfile from a config entry (the engine does the same from the database)."""
    return BotProfile(
        id=index, username=bot.username, name=bot.name, persona=bot.persona, bio=bot.bio, risk=bot.risk,
        horizon=bot.horizon, emotion=tuple(bot.emotion.model_dump().items()), speed=bot.speed,
        active_hours=tuple(bot.active_hours), prime_hours=tuple(bot.prime_hours), watchlist=tuple(bot.watchlist),
        signature_phrases=tuple(bot.signature_phrases), emoji=tuple(bot.emoji),
        stances=tuple(Stance(s.topic, s.view, s.confidence) for s in bot.stances),
        holdings=tuple(Holding(h.symbol, h.avg_price, h.size, h.note) for h in bot.holdings),
        token_env=bot.token_env or None)


@pytest.fixture(scope="module")
def bots() -> dict[str, BotProfile]:
    config = load_config(REPO / "config.toml", Path("/nonexistent/.env"), environ={}, env_path_explicit=False)
    return {b.username: profile(i, b) for i, b in enumerate(config.settings.bots, start=1)}


@pytest.fixture(scope="module")
def market(bots: dict[str, BotProfile]) -> MarketSnapshot:
    names = [w for b in bots.values() for w in (*b.watchlist, *(h.symbol for h in b.holdings))]
    return PriceTape(names).snapshot(T0)


def history(n: int, chars: int = 120) -> list[HistoryLine]:
    """``n`` chat lines oldest → newest, each unique (marker #i) and about ``chars`` long."""
    out = []
    for i in range(n):
        author, bot_id, username = AUTHORS[i % len(AUTHORS)]
        text = f"#{i} " + LINES[i % len(LINES)]
        text = (text + " " + LINES[(i + 1) % len(LINES)])[:chars].rstrip()
        out.append(HistoryLine(id=100 + i, chat_id=1, text=text, created_at=T0 - 60 * (n - i), author=author,
                               bot_id=bot_id, username=username))
    return out


def reply_turn(target: HistoryLine, mode: str = "reply", mention: str | None = "ayse_scalp") -> Turn:
    return Turn(bot_id=1, chat_id=1, mode=mode, topic="SISE", reply_to=target, mention=mention)


def kept_markers(text: str) -> list[int]:
    return sorted(int(m) for m in re.findall(r"#(\d+) ", text))


# ── System prompt ───────────────────────────────────────────────────────────────────────────────
def test_every_persona_gets_a_distinct_system_prompt(bots: dict[str, BotProfile]) -> None:
    prompts = {name: system_prompt(bot) for name, bot in bots.items()}
    assert len(bots) >= 6 and len(set(prompts.values())) == len(prompts)
    for name, bot in bots.items():
        text = prompts[name]
        assert bot.name in text and "@" not in text  # the username is not needed to write as the bot
        for phrase in bot.signature_phrases[:SIGNATURES]:
            assert f"“{phrase}”" in text
        assert all(e in text for e in bot.emoji[:EMOJI])
        assert "1-3 cümle" in text
        assert "**" not in text and "#" not in text
        tokens = estimate_tokens(text)
        assert 40 <= tokens <= 130, (name, tokens)  # cut to what changes behaviour (issue 16)
        print(f"\n{name}: system prompt {len(text)} chars ≈ {tokens} tokens")


def test_forbidden_words_appear_only_as_prohibitions(bots: dict[str, BotProfile]) -> None:
    for bot in bots.values():
        text = system_prompt(bot)
        sentences = re.split(r"(?<=[.!?])\s+|\n", text)
        hits = [s for s in sentences if any(w in s.casefold() for w in FORBIDDEN)]
        assert hits, "the prompt must forbid promises"
        for sentence in hits:
            assert NEGATION.search(sentence.casefold()), sentence
        persona_data = " ".join((bot.bio, *bot.signature_phrases, *(s.view for s in bot.stances))).casefold()
        assert not any(w in persona_data for w in FORBIDDEN)


def test_speed_and_emotion_change_the_style(bots: dict[str, BotProfile]) -> None:
    ayse, ali = system_prompt(bots["ayse_scalp"]), system_prompt(bots["ali_ekonomist"])
    assert "kısa cümleler" in ayse and "ölçülü, gerekçeli" in ali  # her bio says it; his speed's style
    assert ayse.count("heyecanlı") == 1  # the tone word her bio says already is not said twice
    assert "heyecanlı" in ayse and "iyimser" in ayse and "temkinli" in ali


# ── User prompt ─────────────────────────────────────────────────────────────────────────────────
def test_reply_target_is_labelled_and_mention_requested(bots: dict[str, BotProfile], market: MarketSnapshot) -> None:
    lines = history(6)
    target = lines[-1]
    user = build_user_prompt(bots["mehmet_trader"], reply_turn(target), lines, market)
    assert f"Yanıtlayacağın mesaj — {target.author.split()[0]}: {target.text[:100]}" in user.text  # its label
    assert "@ayse_scalp" in user.text and "Konu: SISE" in user.text
    assert user.text.count(target.text[:100]) == 1  # the target is not repeated in the history block
    plain = build_user_prompt(bots["mehmet_trader"], Turn(1, 1, "new", "GARAN"), lines, market)
    assert "Yanıtlayacağın" not in plain.text and "@" not in plain.text


def test_mode_text_differs_per_mode(bots: dict[str, BotProfile], market: MarketSnapshot) -> None:
    lines = history(4)
    texts = {}
    for mode in ("new", "reply", "reaction", "human_reply"):
        turn = Turn(1, 1, mode, "GARAN", reply_to=None if mode == "new" else lines[-1], addressed=True)
        user = build_user_prompt(bots["mehmet_trader"], turn, lines, market)
        task = [ln for ln in user.text.splitlines() if ln.startswith("Görev:")]
        assert task == [MODE_TEXT[mode]]
        texts[mode] = task[0]
    assert len(set(texts.values())) == 4
    assert "emoji" in texts["reaction"] and "doğrudan" in texts["human_reply"] and "yeni" in texts["new"]


def test_stances_holdings_and_market_lines(bots: dict[str, BotProfile], market: MarketSnapshot) -> None:
    turn = Turn(1, 1, "new", "GARAN")
    user = build_user_prompt(bots["mehmet_trader"], turn, history(2), market, memories=["Ayşe dün SISE sattı"],
                             token_budget=2000)
    text = user.text
    assert "Görüşlerin: GARAN: temettü için uzun vadede tutulur" in text and "(%80)" not in text
    assert "Pozisyonların: GARAN 2.000 adet, maliyet 48,50" in text
    assert "Hatırladıkların: Ayşe dün SISE sattı" in text
    market_line = next(ln for ln in text.splitlines() if ln.startswith("Piyasa: "))
    assert market_line.startswith("Piyasa: GARAN ") and re.search(r"\d+,\d{2} TL \([+-]?%\d+,\d{2}\)", market_line)
    zeynep = build_user_prompt(bots["zeynep_newbie"], Turn(4, 1, "new", "altın"), (), market, token_budget=2000)
    assert "Piyasa: altın " in zeynep.text and "USDTRY " in zeynep.text and "enflasyon" not in zeynep.text
    assert "Sohbet" not in zeynep.text and zeynep.history_used == zeynep.history_dropped == 0


@pytest.mark.parametrize("budget", [40, 120, 300, 380, 450, 520, 600, 700, 900, 1500, 4000])
@pytest.mark.parametrize("target_index", [None, -1, 3])
def test_newest_kept_oldest_dropped_and_counts(bots: dict[str, BotProfile], market: MarketSnapshot,
                                               budget: int, target_index: int | None) -> None:
    lines = history(12)
    turn = Turn(1, 1, "new", "SISE") if target_index is None else reply_turn(lines[target_index])
    user = build_user_prompt(bots["mehmet_trader"], turn, lines, market, token_budget=budget)
    assert lines[-1].text[:_NEWEST] in user.text  # the newest line, always (clipped to 80 at the least)
    assert user.history_used + user.history_dropped == len(lines)
    markers = kept_markers(user.text)
    others = [i for i in range(12) if target_index is None or lines[i] is not lines[target_index]]
    shown = [i for i in markers if i in others]
    assert shown and shown == others[-len(shown):]  # a suffix: the oldest went first
    assert user.history_used == len(markers)
    if target_index is not None:
        assert f"Yanıtlayacağın mesaj — {lines[target_index].author.split()[0]}" in user.text
    assert user.estimated_tokens == estimate_tokens(user.text)
    # the smallest prompt there is (newest line, target, tail): any budget at least that big is kept
    minimal = build_user_prompt(bots["mehmet_trader"], turn, lines, market, token_budget=0).total_tokens
    if budget >= minimal:
        assert user.total_tokens <= budget, (budget, user.total_tokens)


def test_tiny_budget_keeps_newest_line_and_target(bots: dict[str, BotProfile], market: MarketSnapshot) -> None:
    lines = history(12)
    user = build_user_prompt(bots["ali_ekonomist"], reply_turn(lines[5], "human_reply"), lines, market,
                             memories=["x" * 100], token_budget=10)
    assert lines[-1].text[:_NEWEST] in user.text and lines[5].text[:100] in user.text
    assert user.history_used == 2 and user.history_dropped == 10
    assert set(user.blocks_dropped) >= {"memories", "stances", "market"}
    assert "Görev: bir grup üyesi gruba sordu" in user.text and "(grup üyesi)" in user.text


def test_realistic_prompt_fits_the_default_budget(bots: dict[str, BotProfile], market: MarketSnapshot) -> None:
    from piyasa_core.config.schema import EngineConfig

    budget = EngineConfig().prompt_token_budget
    lines = history(12, chars=120)
    target = HistoryLine(id=999, chat_id=1, text="SISE patladı gitti! 38 üstü kapanış gelirse şimdi tam zamanı, "
                         "hacim de destekliyor 🚀", created_at=T0, author="Ayşe Scalper", bot_id=2,
                         username="ayse_scalp")
    lines.append(target)
    parts = build_prompt(bots["mehmet_trader"], reply_turn(target), lines, market,
                         memories=["Ayşe geçen hafta SISE'de zarar kesti"], token_budget=budget)
    assert parts.total_tokens <= budget
    assert parts.user.system_tokens == estimate_tokens(parts.system)
    assert parts.user.history_used >= 6  # target + the newest lines: six at least
    assert "Görüşlerin:" in parts.user.text and "Pozisyonların:" in parts.user.text  # before older lines
    print(f"\nrealistic prompt: system {parts.user.system_tokens} + user {parts.user.estimated_tokens} = "
          f"{parts.total_tokens} tokens; history used {parts.user.history_used}, "
          f"dropped {parts.user.history_dropped}, blocks dropped {parts.user.blocks_dropped}")
    print(parts.system)
    print("---")
    print(parts.user.text)


def test_long_lines_are_clipped(bots: dict[str, BotProfile], market: MarketSnapshot) -> None:
    long = HistoryLine(id=1, chat_id=1, text="uzun " * 200, created_at=T0, author="Emre Kaya")
    user = build_user_prompt(bots["zeynep_newbie"], Turn(4, 1, "new", "BIST30"), [long], market)
    assert user.history_used == 1 and "…" in user.text and len(user.text) < 1500


# ── Offline hints ───────────────────────────────────────────────────────────────────────────────
def test_hints_for_offline_composer(bots: dict[str, BotProfile], market: MarketSnapshot) -> None:
    lines = history(3)
    bot = bots["mehmet_trader"]
    hints = hints_for(bot, reply_turn(lines[-1]), market, seed=11)
    assert set(hints) == {"persona", "bot_name", "username", "signature_phrases", "emoji", "watchlist", "topic",
                          "mode", "mention", "market", "stances", "holdings", "max_chars", "seed", "hour", "closing", "past", "quoted"}
    assert hints["persona"] == "investor" and hints["mention"] == "ayse_scalp" and hints["seed"] == 11
    assert hints["market"]["GARAN"] == {"price": market.quote("GARAN").price,  # type: ignore[union-attr]
                                        "change_pct": market.quote("GARAN").change_pct}  # type: ignore[union-attr]
    assert hints["stances"][0] == {"topic": "GARAN", "view": "temettü için uzun vadede tutulur", "confidence": 0.8}
    assert hints["holdings"][0]["symbol"] == "GARAN" and hints["holdings"][0]["size"] == 2000
    text = compose(hints, (lines[-1].author, lines[-1].text, False), 11)
    assert text and "@ayse_scalp" in text


@pytest.mark.parametrize("tokens", [0, 1, 2, 27, 100, 599])
def test_the_character_budget_is_exactly_the_token_estimate(tokens: int) -> None:
    from piyasa_core.llm.tokens import chars_within

    limit = chars_within(tokens)
    assert limit == 0 or estimate_tokens("x" * limit) <= tokens
    assert estimate_tokens("x" * (limit + 1)) > tokens


def test_a_bot_not_asked_is_not_told_it_was_asked(bots: dict[str, BotProfile], market: MarketSnapshot) -> None:
    """A person's question to the group, answered by a bot the reply jobs chose: the task says the
    group was asked; the labelled target says it is a question; no @mention on top of the reply."""
    lines = history(4)
    question = HistoryLine(99, 1, "Temettü ne zaman hesaba yatıyor?", lines[-1].created_at + 5, "Emre Kaya",
                           username="emre")
    for addressed, expected in ((True, MODE_TEXT["human_reply"]), (False, MODE_TEXT["human_group"])):
        turn = Turn(1, 1, "human_reply", "temettü", reply_to=question, addressed=addressed)
        text = build_user_prompt(bots["mehmet_trader"], turn, [*lines, question], market).text
        assert [ln for ln in text.splitlines() if ln.startswith("Görev:")] == [expected]
        assert "Yanıtlayacağın mesaj — Emre (grup üyesi) (soru soruyor): Temettü ne zaman" in text
        assert "etiket" not in text
    assert "sana soruyor" not in MODE_TEXT["human_group"] and "gruba" in MODE_TEXT["human_group"]


def test_a_new_message_that_asks_someone_has_one_consistent_task(bots: dict[str, BotProfile],
                                                                 market: MarketSnapshot) -> None:
    text = build_user_prompt(bots["mehmet_trader"], Turn(1, 1, "new", "GARAN", mention="ayse_scalp"), history(4),
                             market).text
    task = [ln for ln in text.splitlines() if ln.startswith("Görev:")]
    assert task == ["Görev: bu konuda yeni bir mesajla katıl ve @ayse_scalp etiketiyle ona bir soru sor."]
    assert "kimseye yanıt verme" not in text


def test_the_prompt_states_the_simulated_clock_and_the_session(bots: dict[str, BotProfile],
                                                               market: MarketSnapshot) -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from piyasa_core.engine.clock import describe_moment

    tz = "Europe/Istanbul"
    wednesday = datetime(2026, 11, 25, 10, 7, tzinfo=ZoneInfo(tz)).timestamp()
    assert describe_moment(wednesday, tz) == "Şimdi: Çarşamba 10:07, BIST açık."
    assert "BIST kapalı (10:00–18:00); döviz, kripto açık" in describe_moment(wednesday + 9 * 3600, tz)  # 19:07
    assert "BIST hafta sonu kapalı" in describe_moment(wednesday + 4 * 86400, tz)  # Sunday
    line = describe_moment(wednesday, tz)
    user = build_user_prompt(bots["mehmet_trader"], Turn(1, 1, "new", "GARAN"), history(12), market,
                             token_budget=10, moment=line)
    assert line in user.text  # kept however small the budget: it is part of the tail


def test_the_bots_own_lines_are_labelled_as_its_own_and_not_to_be_repeated(bots: dict[str, BotProfile],
                                                                          market: MarketSnapshot) -> None:
    """Mehmet's own history lines read "Sen: …" and the task says "Kendini tekrarlama."; when his last
    message is older than the lines shown, the prompt quotes it instead; a bot that has not spoken gets
    neither."""
    mehmet = bots["mehmet_trader"]
    lines = history(12)
    own = HistoryLine(id=500, chat_id=1, text="GARAN'da acele yok, temettü dönemini bekliyorum", created_at=T0 - 30,
                      author=mehmet.name, bot_id=mehmet.id, username=mehmet.username)
    shown = build_user_prompt(mehmet, Turn(mehmet.id, 1, "new", "GARAN"), [*lines, own], market, token_budget=600)
    assert f"\nSen: {own.text}" in shown.text and f"{mehmet.name}:" not in shown.text
    assert "Kendini tekrarlama." in shown.text.splitlines()[-1] and "Son mesajın" not in shown.text
    older = build_user_prompt(mehmet, Turn(mehmet.id, 1, "new", "GARAN"), [own, *lines], market, token_budget=350)
    assert "\nSen:" not in older.text and f"Son mesajın (tekrarlama): {own.text}" in older.text
    assert "Kendini tekrarlama." not in older.text
    silent = build_user_prompt(mehmet, Turn(mehmet.id, 1, "new", "GARAN"), lines, market, token_budget=600)
    assert "tekrarlama" not in silent.text.casefold()


def test_a_holding_is_counted_in_its_own_unit(market: MarketSnapshot) -> None:
    """"USDTRY 3.000 adet" read wrong: dollars are dollars, coins coins, shares adet."""
    from piyasa_core.engine.types import Holding

    ali = BotProfile(id=3, username="ali_ekonomist", name="Ali Hoca", persona="economist",
                     holdings=(Holding("USDTRY", 32.1, 3000, ""), Holding("BTCUSDT", 61000, 0.05, ""),
                               Holding("GARAN", 48.5, 2000, "")))
    texts = [build_user_prompt(ali, Turn(3, 1, "new", topic), [], market, token_budget=2000).text
             for topic in ("USDTRY", "BTCUSDT", "GARAN")]
    assert "USDTRY 3.000 dolar" in texts[0] and "BTCUSDT 0,05 BTC" in texts[1] and "GARAN 2.000 adet" in texts[2]


def test_a_target_that_names_its_topic_needs_no_topic_line(bots: dict[str, BotProfile], market: MarketSnapshot) -> None:
    target = HistoryLine(id=7, chat_id=1, text="SISE bugün yine hareketli, hacim geldi", created_at=T0, author="Ayşe Scalper",
                         bot_id=2, username="ayse_scalp")
    named = build_user_prompt(bots["mehmet_trader"], reply_turn(target, mention=None), [target], market)
    other = build_user_prompt(bots["mehmet_trader"], Turn(1, 1, "reply", "GARAN", reply_to=target), [target], market)
    assert "Konu:" not in named.text and "Konu: GARAN" in other.text
