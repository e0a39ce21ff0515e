"""Who a human message is for: @username, a reply, or a bot's name used as a vocative; and, for a
question nobody was addressed in, the one or two bots whose persona and watchlist fit it best."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

from piyasa_core.engine.types import BotProfile

UNADDRESSED_ANSWERS = 2
"""At most this many bots answer a question that named nobody."""
SECOND_ANSWER_FIT = 0.75
"""A second bot answers an unaddressed question only when it fits at least this share of the best fit."""

_QUESTION = re.compile(r"\?|\b(nasıl|neden|niye|niçin|hangi|kaç|kaça|ne zaman|nedir|mı|mi|mu|mü|mısın|misin|"
                       r"musun|müsün|mıdır|midir|ne dersin|ne dersiniz|ne düşünüyorsun)\b", re.IGNORECASE)

# Words that bring a subject into a persona's field (besides its own watchlist); lower case, word starts.
PERSONA_FIELDS: dict[str, tuple[str, ...]] = {
    "investor": ("temettü", "uzun vade", "bilanço", "hisse", "portföy", "değer", "f/k", "sermaye", "bedelsiz",
                 "halka arz", "endeks", "bist"),
    "scalper": ("kripto", "bitcoin", "btc", "eth", "ethereum", "kaldıraç", "stop", "scalp", "grafik", "teknik",
                "destek", "direnç", "rsi", "vadeli", "kısa vade", "al sat", "al-sat"),
    "economist": ("enflasyon", "faiz", "tcmb", "merkez bankası", "fed", "tüfe", "büyüme", "veri", "kur",
                  "dolar", "euro", "cari açık", "işsizlik", "ppk", "politika", "altın", "tahvil"),
    "newbie": (),
}


def is_question(text: str) -> bool:
    """A question mark, or a Turkish question word or particle."""
    return bool(_QUESTION.search(text))


def _tr_lower(text: str) -> str:
    return text.replace("I", "ı").replace("İ", "i").lower()


@lru_cache(maxsize=4096)
def _vocative_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    alt = "|".join(re.escape(_tr_lower(n)) for n in sorted(set(names), key=len, reverse=True) if n)
    hon = r"(?:abi|abla|hocam|hoca|bey|hanım|kardeş|usta)"
    # "Ayşe, …" / "Ayşe hocam …" / "Ayşe sence …" at the start; "…, Ayşe?" / "… Ayşe abla?" at the end;
    # a bare name followed by a word is not enough ("Can sıkıcı bir gün" calls nobody)
    return re.compile(rf"^\W*(?:{alt})(?:\s+{hon})?\s*[,:!?]"
                      rf"|^\W*(?:{alt})\s+(?:{hon}|sence|sen|siz|bir sorum|ne dersin)(?![\w'’])"
                      rf"|,\s*(?:{alt})(?:\s+{hon})?\s*(?:[,?!.…]|$)"
                      rf"|\s(?:{alt})\s+{hon}\s*[?!.…]*\s*$")


def names_of(bot: BotProfile) -> tuple[str, ...]:
    """What people call the bot: its first name and its full display name."""
    return tuple(dict.fromkeys(n for n in (bot.first_name, bot.name) if n and len(n) >= 2))


def called_by_name(text: str, bot: BotProfile) -> bool:
    """The bot's first or display name used as a vocative (not merely mentioned in passing)."""
    names = names_of(bot)
    return bool(names) and bool(_vocative_pattern(names).search(_tr_lower(" ".join(text.split()))))


def mentions_handle(text: str, bot: BotProfile) -> bool:
    """``@username`` in the text (not a longer handle that starts the same)."""
    return bool(re.search(rf"@{re.escape(bot.username)}(?![A-Za-z0-9_])", text, re.IGNORECASE))


def addressed(text: str, bot: BotProfile, *, reply_to_bot_id: int | None = None,
              usernames: Iterable[str] = ()) -> bool:
    """The message is for this bot: @username (in the text or Telegram's entities), a reply to it, or
    its name as a vocative."""
    return (bot.id == reply_to_bot_id or mentions_handle(text, bot)
            or bot.username.lower() in {u.lower() for u in usernames} or called_by_name(text, bot))


def fit(text: str, bot: BotProfile) -> float:
    """How well a question falls in the bot's field: its watchlist symbols count most, then the
    persona's subjects. 0 when nothing matches."""
    low = _tr_lower(text)
    words = set(re.findall(r"[\wçğıöşü/]+", low))
    score = 0.0
    for symbol in bot.watchlist:
        s = _tr_lower(symbol)
        if s in words or (len(s) > 3 and s in low):
            score += 2.0
    for term in PERSONA_FIELDS.get(bot.persona, ()):
        if re.search(rf"(?<![\wçğıöşü]){re.escape(term)}", low):
            score += 1.0
    return score


def answerers(text: str, bots: Sequence[BotProfile]) -> list[int]:
    """For a question that addressed nobody: the best-fitting bot, and a second one when it fits
    nearly as well. The newcomer asks rather than answers, so it only answers when nobody else fits.
    Ties go to the bot whose id the text's hash picks, so who answers varies between questions."""
    if not bots:
        return []
    start = sum(map(ord, text)) % len(bots)
    rotated = list(bots[start:]) + list(bots[:start])
    ranked = sorted(rotated, key=lambda b: (b.persona == "newbie", -fit(text, b)))
    best = fit(text, ranked[0])
    chosen = [ranked[0]]
    if best > 0:
        chosen += [b for b in ranked[1:UNADDRESSED_ANSWERS]
                   if b.persona != "newbie" and fit(text, b) >= SECOND_ANSWER_FIT * best]
    return [b.id for b in chosen]
