"""Output rules of the offline composer: decides whether a draft or a hint fragment is acceptable."""

from __future__ import annotations

import functools
import re

from piyasa_core.llm import phrases as ph

KNOWN_SYMBOLS: frozenset[str] = frozenset(ph.STOCK_SECTORS) | frozenset(
    ph.INDICES + ph.FX + ph.CRYPTO + ph.OTHER_SYMBOLS)
"""Every ticker / instrument / institution the composer may write in upper case."""

ALLOWED_UPPER: frozenset[str] = KNOWN_SYMBOLS | frozenset({"TL", "RSI", "TÜFE", "ABD", "BIST", "KAP", "SPK",
                                                             "TÜİK", "PPK"})
"""Every all-caps token (length ≥ 2) that may appear in composed text (mentions aside)."""

_FORBIDDEN = re.compile(
    r"garanti|\bkesin|%\s*100\b|yükselecek|tavan olacak|zengin olacak|kazandıracak|kazanacaksın"
    r"|yapay zeka|yapay zekâ|\belbette\b|tabii ki|\bpromise", re.IGNORECASE)
_FOREIGN = re.compile(
    r"\b(bullish|bearish|pump|moon|trade|trades|trading|trader|breakout|support|resistance|scalp\w*"
    r"|long|short|stop|rally|hodl|ok|okey|data|trend|to the)\b", re.IGNORECASE)
_MARKDOWN = re.compile(r"[*_`#>\[\]\n\r\t]|^\s*[-•]\s|^\s*\d+[.)]\s")
_EMOJI = re.compile("[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2190-\u21FF\u2300-\u23FF]"
                    "[\uFE0F\u200D\U0001F3FB-\U0001F3FF\U0001F000-\U0001FAFF\u2600-\u27BF]*")
MENTION = re.compile(r"@\w+")
"""An @mention; mentions are ignored by the word rules."""


def text_problems(text: str) -> list[str]:
    """Rule violations of a finished text or a user-supplied fragment (mentions ignored)."""
    bare = MENTION.sub(" ", text)
    problems: list[str] = []
    if _FORBIDDEN.search(bare):
        problems.append("promise/ai")
    if _FOREIGN.search(bare):
        problems.append("foreign")
    if _MARKDOWN.search(bare) or (len(bare) > 1 and bare[0] in "\"'“«" and bare[-1] in "\"'”»"):
        problems.append("markdown")
    for tok in re.findall(r"\w+", bare):
        if len(tok) >= 2 and tok.isupper() and tok not in ALLOWED_UPPER:
            problems.append(f"caps:{tok}")
        if tok.upper() in KNOWN_SYMBOLS and tok != tok.upper():
            problems.append(f"case:{tok}")
    for m in _EMOJI.finditer(text):
        before = text[m.start() - 1] if m.start() else " "
        after = text[m.end()] if m.end() < len(text) else " "
        if before.isalnum() or after.isalnum() or before in "@_" or after not in " ":
            problems.append("emoji-place")
    return problems


@functools.lru_cache(maxsize=4096)  # the same signature phrases and stances come back every message
def fragment_ok(text: str) -> bool:
    """A hint string (signature phrase, stance view, note) that is safe to weave in."""
    return bool(text) and len(text) <= 160 and not _EMOJI.search(text) and not text_problems(text)


def acceptable(text: str, max_chars: int, mention: str | None, mode: str) -> bool:
    """A finished draft passes: no rule problems, within ``max_chars``, the mention exactly once,
    and a reaction of at most six words."""
    if not text or len(text) > max_chars or text_problems(text):
        return False
    if mention and len(re.findall("@" + re.escape(mention) + r"(?!\w)", text)) != 1:
        return False
    if mode == "reaction" and len(re.findall(r"\w+", text)) > 6:
        return False
    return True
