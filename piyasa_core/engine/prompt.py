"""Prompts: a compact per-bot Turkish system prompt and a budgeted user prompt.

The system prompt is built from the persona data only (so it can be cached per bot). The user
prompt carries stances, holdings, memories, market lines, the chat's newest history, the clock and
the market session, the bot's own last message, the labelled reply target, the topic and the task.
It is fitted to a token budget (``llm.tokens``: ≈ 2.7 characters per token, chat template included)
by priority (see ``build_user_prompt``): what the reply answers and the newest six lines first,
stances and holdings next, then the market, then the rest. ``hints_for`` gives the offline provider the same information as structured hints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from piyasa_core.engine.addressing import is_question
from piyasa_core.engine.market import canonical_symbol, format_quote, tr_number
from piyasa_core.engine.types import BotProfile, HistoryLine, MarketSnapshot, Quote, Turn
from piyasa_core.llm.asks import priced_symbol
from piyasa_core.llm.tokens import CHAT_OVERHEAD_TOKENS, chars_within, estimate_tokens

__all__ = ["HISTORY_FLOOR", "MODE_TEXT", "clip", "PromptParts", "UserPrompt", "build_prompt", "build_user_prompt", "estimate_tokens",
           "hints_for", "quoted_symbols", "rewrite_prompt", "system_prompt"]

FORBIDDEN_WORDS: tuple[str, ...] = ("garanti", "kesin")
"""Words the bots must never write; they appear in the system prompt only inside the prohibition."""

MODE_TEXT: dict[str, str] = {
    "new": "Görev: bu konuda kendi gözleminle yeni bir mesaj yaz.",
    "reply": "Görev: cevap ver; katıl ya da itiraz et.",
    "reaction": "Görev: yalnızca çok kısa bir tepki ver: 1-2 emoji ya da birkaç kelime, cümle kurma.",
    "human_reply": "Görev: bir grup üyesi sana soruyor; sorusunu doğrudan, açıkça yanıtla.",
    "human_group": "Görev: bir grup üyesi gruba sordu (sana özel değil); bildiğin kadarıyla kısaca yanıtla.",
    "new_ask": "Görev: bu konuda yeni bir mesajla katıl ve @{mention} etiketiyle ona bir soru sor.",
}
"""The task line per mode (new topic / reply / short emoji reaction / answer a human); ``human_group``
for a person's question to the group that this bot was chosen to answer (it was not asked itself),
``new_ask`` for a new message that asks another member."""

HISTORY_FLOOR = 6
"""The newest history lines every prompt keeps (clipped shorter if need be) before any context block; a
reply target is one of them (it is the chat's newest line that matters most, shown in its labelled line)."""
_LINE_CHARS = 200  # one history line is clipped to this many characters at most
_TARGET_CHARS = 110  # the reply target: what is answered, clipped (issue 16: 200 → 140 → 110 for the token goal)
_VIEW_CHARS = 60  # a stance's view and a holding's note, clipped: the blocks must fit beside six lines
_NOTE_CHARS = 30
_NEWEST_MIN_CHARS = 80  # the newest history line is clipped 30 characters longer than the older ones, not below this




def clip(text: str, limit: int) -> str:
    """One line of at most ``limit`` characters (cut with "…")."""
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _cap_first(text: str) -> str:
    text = text.strip()
    if not text or not text[0].islower():
        return text
    return {"i": "İ", "ı": "I"}.get(text[0], text[0].upper()) + text[1:]


def _level(value: Any, words: tuple[str, str, str], cuts: tuple[float, float] = (0.35, 0.65)) -> str:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return words[1]
    return words[0] if v < cuts[0] else words[1] if v < cuts[1] else words[2]


def _copula(name: str) -> str:
    """Turkish "you are" suffix for a name by vowel harmony: Yatırımcı'sın, Yeni'sin, Can'sın."""
    for ch in reversed(name.casefold()):
        if ch in "aı":
            return "'sın"
        if ch in "ei":
            return "'sin"
        if ch in "ou":
            return "'sun"
        if ch in "öü":
            return "'sün"
    return "'sin"


SIGNATURES = 1  # signature phrases in the system prompt (the offline composer has them all)
EMOJI = 1  # emoji shown as the persona's own (an emoji is 2-4 Llama 3 tokens)

_STYLE: dict[str, str] = {
    "fastest": "çok kısa, kesik.",
    "fast": "çok kısa, hızlı.",
    "medium": "kısa, sohbet gibi.",
    "slow": "ölçülü, gerekçeli.",
    "slowest": "yavaş, ölçülü.",
}


# ── System prompt ───────────────────────────────────────────────────────────────────────────────
def system_prompt(bot: BotProfile) -> str:
    """A distinct, compact Turkish system prompt for one bot (persona, tone, style, rules)."""
    emo = bot.emotion_dict()
    bio = bot.bio.casefold()
    # nothing the bio says already is said again (no block repeated: issue 16)
    tone = ", ".join(w for w in (t.strip() for t in str(emo.get("tone") or "").split(",")) if w and w.casefold() not in bio)
    words = [tone] + [w for w in (
        _level(emo.get("energy"), ("sakin", "", "çok enerjik")),
        _level(emo.get("optimism"), ("temkinli", "dengeli", "iyimser"), (0.4, 0.65)),
        _level(emo.get("humor"), ("ciddi", "arada esprili", "ironik"), (0.25, 0.45)),
    ) if w and w not in tone and w.casefold() not in bio]
    mood = ", ".join(w for w in words if w)
    style = "" if "kısa cümle" in bio else _STYLE.get(bot.speed, _STYLE["medium"])
    parts = [f"Sen {bot.name}{_copula(bot.name)}, borsa sohbet grubundasın."]
    if bot.bio:
        parts.append(_cap_first(bot.bio).rstrip(".") + ".")
    if bot.risk or bot.horizon:
        parts.append("Risk " + ", ".join(x for x in (bot.risk, bot.horizon) if x) + ".")
    parts.append(("Ton: " + "; ".join(x for x in (mood, style) if x)).rstrip(".") + ".")
    if bot.signature_phrases:
        parts.append("Ara sıra: " + ", ".join(f"“{p}”" for p in bot.signature_phrases[:SIGNATURES]) + ".")
    if bot.emoji:
        parts.append("Emoji seyrek: " + " ".join(bot.emoji[:EMOJI]))
    # only what changes behaviour and the post-processor cannot fix for free: it strips markdown,
    # hashtags, a self-label and AI self-references at no cost, but a promise costs a retry and
    # English text a lost draft. The watchlist is not repeated here: the user prompt's topic, stances
    # and holdings carry it (issue 16: 199 → ~110 Llama 3 tokens).
    # English is left out: a Turkish prompt gets Turkish answers, and the post-processor drops the rare other
    rules = "Gündelik Türkçe, 1-3 cümle; “garanti”, “kesin” gibi vaat yok."
    return " ".join(parts) + "\n" + rules


REPLY_TOKENS: dict[str, int] = {"fastest": 60, "fast": 70, "medium": 100, "slow": 120, "slowest": 140}
"""The answer's token cap per persona speed: its 1-3 sentences (Turkish runs ~2.7 characters per Llama 3
token: 100 tokens ≈ 270 characters) with room to end the last one. A cap is not what is billed (the
answer's own length is), but every request reserves prompt + cap in the per-minute token budget, so
220 for a two-line scalper message held back requests that the provider would have taken."""


HUMAN_REPLY_EXTRA_TOKENS = 30


def reply_tokens(bot: BotProfile, mode: str) -> int:
    """The token cap for one answer of ``bot`` in ``mode`` (a person's question may take a little more)."""
    cap = REPLY_TOKENS.get(bot.speed, REPLY_TOKENS["medium"])
    return cap + HUMAN_REPLY_EXTRA_TOKENS if mode == "human_reply" else cap


def stop_sequences(bot: BotProfile, history: Sequence[HistoryLine]) -> tuple[str, ...]:
    """Where an answer ends: a blank line (a second message) or the model writing another member's line
    ("\nAli:"); at most 4 (OpenAI's limit; Gemini takes 5)."""
    others = [label for author, label in _labels(history).items() if author != bot.name]
    return ("\n\n", *(f"\n{label}:" for label in dict.fromkeys(reversed(others))))[:4]


# ── User prompt ─────────────────────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class UserPrompt:
    """The rendered user prompt and how it was fitted.

    ``estimated_tokens`` is the user text alone; ``total_tokens`` adds the system prompt and the chat
    template's overhead (this sum is what stays within the budget).
    """

    text: str
    history_used: int
    history_dropped: int
    estimated_tokens: int
    system_tokens: int = 0
    blocks_dropped: tuple[str, ...] = ()

    @property
    def total_tokens(self) -> int:
        return self.system_tokens + self.estimated_tokens + CHAT_OVERHEAD_TOKENS


@dataclass(frozen=True)
class PromptParts:
    """System and user prompt of one generation."""

    system: str
    user: UserPrompt

    @property
    def total_tokens(self) -> int:
        return self.user.total_tokens


def _same_topic(a: str, b: str) -> bool:
    ca, cb = canonical_symbol(a), canonical_symbol(b)
    return (ca is not None and ca == cb) or a.strip().casefold() == b.strip().casefold()


def _size(value: float) -> str:
    if float(value).is_integer():
        return tr_number(value, 0)
    return tr_number(value, 4).rstrip("0").rstrip(",")


def _market_quotes(bot: BotProfile, topic: str, market: MarketSnapshot, limit: int = 3) -> list[Quote]:
    wanted: list[str] = []
    for name in (topic, *bot.watchlist, *(h.symbol for h in bot.holdings)):
        sym = canonical_symbol(name)
        if sym and sym not in wanted:
            wanted.append(sym)
    quotes = [q for q in (market.quote(s) for s in wanted) if q is not None]
    return quotes[:limit]


_UNITS = {"USDTRY": "dolar", "EURTRY": "euro", "BTCUSDT": "BTC", "ETHUSDT": "ETH", "XAUUSD": "ons", "altın": "gram"}
"""What a holding is counted in: dollars and coins, not "3.000 adet" of USDTRY (shares: adet)."""


def _blocks(bot: BotProfile, turn: Turn, market: MarketSnapshot, memories: Sequence[str],
            per: int = 2) -> list[tuple[str, str]]:
    """Context blocks in display order as (name, line); ``per`` stances and holdings at most (the
    ones about the turn's topic first)."""
    out: list[tuple[str, str]] = []
    stances = sorted(bot.stances, key=lambda s: not _same_topic(s.topic, turn.topic))[:per]
    if stances:
        # how firmly a view is held matters only when the bot is unsure ("%80" cost 4 tokens a stance)
        out.append(("stances", "Görüşlerin: " + "; ".join(
            f"{s.topic}: {clip(s.view, _VIEW_CHARS)}{' (emin değilsin)' if float(s.confidence) < 0.5 else ''}"
            for s in stances)))
    if bot.holdings:
        items = []
        for h in sorted(bot.holdings, key=lambda h: not _same_topic(h.symbol, turn.topic))[:per]:
            sym = canonical_symbol(h.symbol) or h.symbol
            q = market.quote(sym)
            extra = [clip(h.note, _NOTE_CHARS)] if h.note and per > 1 else []
            if q and h.avg_price > 0 and 0.1 < q.price / h.avg_price < 10:
                pnl = (q.price / h.avg_price - 1) * 100
                extra.insert(0, f"{'+' if pnl >= 0 else '-'}%{tr_number(abs(pnl), 0 if abs(pnl) >= 10 else 1)}")
            tail = f" ({', '.join(extra)})" if extra else ""
            items.append(f"{h.symbol} {_size(h.size)} {_UNITS.get(sym or '', 'adet')}, maliyet "
                         f"{tr_number(h.avg_price, 2)}{tail}")
        out.append(("holdings", "Pozisyonların: " + "; ".join(items)))
    mem = [clip(m, 120) for m in memories if str(m).strip()][:2]
    if mem:
        out.append(("memories", "Hatırladıkların: " + "; ".join(mem)))
    quotes = _market_quotes(bot, turn.topic, market)
    if quotes:
        out.append(("market", "Piyasa: " + ", ".join(format_quote(q) for q in quotes)))
    if market.headlines:
        out.append(("headlines", "Gündem: " + clip(market.headlines[0], 160)))
    return out


_BLOCK_ORDER = ("stances", "holdings", "memories", "market", "headlines")
"""How the context blocks are shown, top to bottom."""
_KEEP_ORDER = ("stances", "holdings", "market")
"""Context blocks added after the newest history lines, in this order; then more history, then the rest."""
_REST_ORDER = ("headlines", "memories")
_MIN_LINE_CHARS = 36  # history lines are clipped down to this before fewer than HISTORY_FLOOR lines are kept


HISTORY_HEAD = "Sohbet:"
"""The history's heading; its lines run oldest to newest (the order a chat is read in)."""


def _labels(lines: Sequence[HistoryLine]) -> dict[str, str]:
    """Author → the label its history lines carry: the first name, unless two shown authors share it."""
    firsts: dict[str, set[str]] = {}
    for ln in lines:
        firsts.setdefault((ln.author or "?").split()[0] if (ln.author or "").split() else "?", set()).add(ln.author)
    return {author: first if len(authors) == 1 else author for first, authors in firsts.items() for author in authors}


def _history_line(line: HistoryLine, limit: int = _LINE_CHARS, label: str | None = None) -> str:
    return f"{label or line.author}: {clip(line.text, limit)}"


OWN_LABEL = "Sen"
"""The label of the bot's own history lines: it reads what it said as its own (and the task says
"kendini tekrarlama"), without a separate line naming them (18 Llama 3 tokens a prompt)."""
OWN_NOTE = " Kendini tekrarlama."


def _own_last(bot: BotProfile, history: Sequence[HistoryLine], shown: Sequence[HistoryLine]) -> str:
    """The bot's own newest message when the shown history does not hold it, so that it does not say
    it again; "" when it is shown (labelled ``OWN_LABEL``) or the bot has not spoken."""
    mine = next((ln for ln in reversed(history) if ln.bot_id == bot.id), None)
    if mine is None or any(ln.id == mine.id for ln in shown):
        return ""
    return f"Son mesajın (tekrarlama): {clip(mine.text, 90)}"


CLOSING_LINE = "Bu mesajdan sonra bir süre yazmayacaksın; istersen kısaca vedalaş."


def _tail(turn: Turn, moment: str = "", own_last: str = "", closing: bool = False, note: str = "",
          own_shown: bool = False, label: str = "") -> list[str]:
    """The required closing lines: the clock, the bot's own last message (or, when its lines are in the
    history, "kendini tekrarlama" in the task), reply target, topic and task (+ mention, + may say
    goodbye when ``closing``)."""
    lines = [x for x in (moment, own_last) if x]
    mention = (turn.mention or "").strip().lstrip("@")
    if turn.reply_to is not None:
        who = (label or turn.reply_to.author) + (" (grup üyesi)" if turn.mode == "human_reply" else "")
        asks = " (soru soruyor)" if is_question(turn.reply_to.text) else ""
        lines.append(f"Yanıtlayacağın mesaj — {who}{asks}: {clip(turn.reply_to.text, _TARGET_CHARS)}")
    if turn.mode == "human_reply" and not turn.addressed:
        task = MODE_TEXT["human_group"]
    elif turn.mode == "new" and mention:
        task = MODE_TEXT["new_ask"].format(mention=mention)  # never "reply to nobody" and "tag X" together
    else:
        task = MODE_TEXT.get(turn.mode, MODE_TEXT["new"])
        if mention:
            task += f" Mesajında @{mention} etiketini bir kez kullan."
    # a reply to a thank-you or a greeting has no topic to bring in; a target that names its topic needs
    # no "Konu:" line (6 tokens)
    named = turn.reply_to is not None and turn.topic.casefold() in clip(turn.reply_to.text, _TARGET_CHARS).casefold()
    if turn.topic and not named:
        lines.append(f"Konu: {turn.topic}")
    if own_shown:
        task += OWN_NOTE
    if note.strip():
        task += " " + note.strip()  # a retry's instruction belongs to the task
    lines.append(task)
    if closing:
        lines.append(CLOSING_LINE)
    return lines


def _render(blocks: Sequence[str], history: Sequence[str], tail: Sequence[str]) -> str:
    lines = list(blocks)
    if history:
        lines.append(HISTORY_HEAD)
        lines += history
    return "\n".join(lines + list(tail))


def build_user_prompt(bot: BotProfile, turn: Turn, history: Sequence[HistoryLine], market: MarketSnapshot,
                      memories: Sequence[str] = (), token_budget: int = 600,
                      system_tokens: int | None = None, moment: str = "", closing: bool = False,
                      note: str = "") -> UserPrompt:
    """The user prompt fitted to ``token_budget`` (system + user + the chat template's overhead).

    ``history`` is oldest → newest. What is kept, in priority order: the tail (clock and session,
    the bot's own last message, the reply target, topic and task), the newest ``HISTORY_FLOOR``
    history lines, stances and holdings (older lines clipped shorter, down to 50 characters, the newest
    to 40 more but not below 100, then one stance and one holding, before a block is dropped; the
    blocks before a line), market, then older history lines, then headlines and memories. If even the tail and
    the newest line are over budget the prompt is returned anyway with them.
    """
    sys_tokens = estimate_tokens(system_prompt(bot)) if system_tokens is None else int(system_tokens)
    target_id = turn.reply_to.id if turn.reply_to is not None else None
    # the reply target is shown once, in its labelled line, and counts as used
    shown = [ln for ln in history if target_id is None or ln.id != target_id]
    target_in_history = len(shown) != len(history)
    # one stance and one holding (the topic's first): the second pair cost ~45 Llama 3 tokens a prompt
    # and was about another ticker (issue 16); the offline composer's hints keep them all
    blocks = compact = dict(_blocks(bot, turn, market, memories, per=1))
    budget = chars_within(token_budget - sys_tokens - CHAT_OVERHEAD_TOKENS)

    def render(names: Sequence[str], n: int, clip: int) -> str:
        # older lines are clipped to ``clip``; the newest to 30 more (at least _NEWEST_MIN_CHARS)
        newest = min(_LINE_CHARS, max(clip + 30, _NEWEST_MIN_CHARS))
        picked = shown[len(shown) - n:] if n else []
        target = [turn.reply_to] if turn.reply_to is not None else []
        labels = _labels([ln for ln in [*picked, *target] if ln.bot_id != bot.id])
        lines = [_history_line(ln, clip if i < n - 1 else newest,
                               OWN_LABEL if ln.bot_id == bot.id else labels.get(ln.author))
                 for i, ln in enumerate(picked)]
        own = _own_last(bot, history, picked)
        return _render([blocks[k] for k in _BLOCK_ORDER if k in names], lines,
                       _tail(turn, moment, own, closing, note, own_shown=any(ln.bot_id == bot.id for ln in picked),
                             label=labels.get(target[0].author, "") if target else ""))

    def fits(names: Sequence[str], n: int, clip: int) -> bool:
        return len(render(names, n, clip)) <= budget

    def widest(names: Sequence[str], n: int) -> int | None:
        """The longest clip (older lines) at which ``n`` lines and ``names`` fit; None if none does."""
        clip = _LINE_CHARS
        while not fits(names, n, clip):
            if clip == _MIN_LINE_CHARS:
                return None
            clip = max(_MIN_LINE_CHARS, int(clip * 0.85))
        return clip

    # the newest HISTORY_FLOOR lines first, then stances and holdings: older lines are clipped down to
    # _MIN_LINE_CHARS, then one stance and one holding are kept, before either is dropped
    n = min(HISTORY_FLOOR - (1 if turn.reply_to is not None else 0), len(shown))
    chosen: list[str] = [k for k in _KEEP_ORDER[:2] if k in blocks]
    clip = widest(chosen, n)
    for name, step in (("holdings", "one"), ("stances", "one"), ("holdings", "drop"), ("stances", "drop")):
        if clip is not None:
            break
        if name in chosen and step == "one" and compact[name] != blocks[name]:
            blocks[name] = compact[name]
        elif name in chosen and step == "drop":
            chosen.remove(name)
        else:
            continue
        clip = widest(chosen, n)
    while clip is None and n > 1:
        n -= 1
        clip = widest((), n)
    if clip is None:
        clip = _MIN_LINE_CHARS  # infeasible budget: the newest line and the tail stay anyway
        n = 1 if shown else 0
    for name in _KEEP_ORDER[2:]:
        if name in blocks and fits([*chosen, name], n, clip):
            chosen.append(name)
    while n < len(shown) and fits(chosen, n + 1, clip):
        n += 1
    for name in _REST_ORDER:
        if name in blocks and fits([*chosen, name], n, clip):
            chosen.append(name)
    text = render(chosen, n, clip)
    used = n + (1 if target_in_history else 0)
    return UserPrompt(text=text, history_used=used, history_dropped=len(history) - used,
                      estimated_tokens=estimate_tokens(text), system_tokens=sys_tokens,
                      blocks_dropped=tuple(k for k in _BLOCK_ORDER if k in blocks and k not in chosen))


REWRITE_HEAD = "Taslağın:"


def rewrite_prompt(turn: Turn, draft: str, note: str, system_tokens: int = 0, keep_meaning: bool = True) -> UserPrompt:
    """A retry's user prompt: the message it answers (if any), the rejected draft and what to change
    (``note``: no promise, no untimely greeting, not what was said already). About 90 tokens instead
    of the whole fitted prompt: the draft already carries what the context asked for."""
    lines = []
    if turn.reply_to is not None:
        lines.append(f"Yanıtladığın mesaj — {turn.reply_to.author.split()[0] if turn.reply_to.author else '?'}: "
                     f"{clip(turn.reply_to.text, _TARGET_CHARS)}")
    lines.append(f"{REWRITE_HEAD} {clip(draft, 300)}")
    # a promise or an untimely greeting is taken out of the same message; a draft that repeats the chat
    # needs another angle (the note says so), not the same meaning again
    task = "Görev: taslağı aynı anlamla yeniden yaz." if keep_meaning else "Görev: taslağın yerine yeni bir mesaj yaz."
    lines.append(f"{task} {note.strip()}".strip())
    text = "\n".join(lines)
    return UserPrompt(text=text, history_used=0, history_dropped=0, estimated_tokens=estimate_tokens(text),
                      system_tokens=system_tokens)


def build_prompt(bot: BotProfile, turn: Turn, history: Sequence[HistoryLine], market: MarketSnapshot,
                 memories: Sequence[str] = (), token_budget: int = 600, system: str | None = None) -> PromptParts:
    """System prompt (given, e.g. from the cache, or rendered) plus the fitted user prompt."""
    system = system_prompt(bot) if system is None else system
    user = build_user_prompt(bot, turn, history, market, memories, token_budget, estimate_tokens(system))
    return PromptParts(system=system, user=user)


# ── Offline hints ───────────────────────────────────────────────────────────────────────────────
QUOTED_LINES = 6
"""How far back a price said in the chat counts as just said (a reply or a post does not repeat it)."""
def quoted_symbols(history: Sequence[HistoryLine], lines: int = QUOTED_LINES) -> list[str]:
    """The instruments whose price one of the newest ``lines`` history lines states ("EREGL … 31,43 TL")."""
    out: list[str] = []
    for line in history[-lines:]:
        symbol = priced_symbol(line.text)
        if symbol and symbol not in out:
            out.append(symbol)
    return out


def hints_for(bot: BotProfile, turn: Turn, market: MarketSnapshot, seed: int, max_chars: int = 400,
              hour: float | None = None, closing: bool = False, past: Sequence[str] = (),
              quoted: Sequence[str] = ()) -> dict[str, Any]:
    """Structured hints for the offline composer (see ``piyasa_core.llm.offline_text.compose``);
    ``hour``: the local hour of day on the simulated clock (time-of-day phrases must be true);
    ``closing``: the bot leaves after this message (only then may it say goodbye); ``quoted``: the
    instruments whose price the chat has just stated (:func:`quoted_symbols`), not to be said again."""
    return {
        "hour": hour,
        "closing": closing,
        "persona": bot.persona,
        "bot_name": bot.name,
        "username": bot.username,
        "signature_phrases": list(bot.signature_phrases),
        "emoji": list(bot.emoji),
        "watchlist": list(bot.watchlist),
        "topic": turn.topic,
        "mode": turn.mode,
        "mention": (turn.mention or "").lstrip("@") or None,
        "market": market.as_hints(),
        "stances": [{"topic": s.topic, "view": s.view, "confidence": s.confidence} for s in bot.stances],
        "holdings": [{"symbol": h.symbol, "avg_price": h.avg_price, "size": h.size, "note": h.note}
                     for h in bot.holdings],
        "max_chars": max_chars,
        "past": list(past),  # seeded memories (config.toml), first person
        "quoted": list(quoted),
        "seed": seed,
    }
