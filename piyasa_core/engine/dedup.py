"""Duplicate detection for chat messages: exact (after normalisation) and near (rapidfuzz).

``normalise`` makes the same sentence with different emoji, punctuation, case or @mentions equal.
``DuplicateChecker.check`` compares one draft with the newest ``window`` messages of a chat:

- exact: equal normalised texts (any length; an emoji-only text compares by its emoji);
- near: ``rapidfuzz.fuzz.ratio`` ≥ ``threshold`` between normalised texts, only when both are at least
  ``min_near_chars`` long. ``ratio`` (whole-string Indel similarity) is used rather than
  ``token_set_ratio`` because the latter scores 100 whenever one text's word set contains the other's,
  so a reply that quotes a question, or any long message containing a stock phrase, would count as a
  duplicate; ``ratio`` flags the actual failure: the same sentence reworded by a word or a number.
  Short reactions are never near duplicates: "Alev alev" and "Alev gibi" differ but are similar.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rapidfuzz import fuzz, process

from piyasa_core.engine.postprocess import EMOJI_RE, tr_lower

__all__ = ["DedupResult", "DuplicateChecker", "dedup_key", "normalise"]

_MENTION = re.compile(r"@\w+")
_NON_WORD = re.compile(r"[\W_]+")


def normalise(text: str) -> str:
    """Comparable form: NFKC, Turkish lower case, ``ı``/``i`` and circumflexes folded (so "BIST",
    "bist" and "Bist" agree), @mentions, emoji and punctuation removed, spaces collapsed."""
    text = tr_lower(unicodedata.normalize("NFKC", text)).replace("ı", "i").replace("â", "a")
    text = text.replace("î", "i").replace("û", "u")
    text = EMOJI_RE.sub(" ", _MENTION.sub(" ", text))
    return _NON_WORD.sub(" ", text).strip()


@functools.lru_cache(maxsize=8192)
def dedup_key(text: str) -> str:
    """``normalise(text)``, or for a text with no words (emoji only) its characters without spaces,
    so "🚀" and "🔥" stay different. Cached: recent messages are compared again and again."""
    return normalise(text) or "".join(text.split())


@dataclass(frozen=True)
class DedupResult:
    """Outcome of one check: ``score`` is 100.0 for exact, the ratio for near, 0.0 for no duplicate;
    ``match`` is the recent text that matched."""

    duplicate: bool
    kind: Literal["exact", "near"] | None
    score: float
    match: str | None


class DuplicateChecker:
    """Checks drafts against recent messages and counts what it found (``checked``, ``exact``,
    ``near``)."""

    def __init__(self, threshold: float = 88.0, window: int = 50, min_near_chars: int = 25) -> None:
        self.threshold = threshold
        self.window = window
        self.min_near_chars = min_near_chars
        self.checked = 0
        self.exact = 0
        self.near = 0

    def check(self, text: str, recent: Sequence[str]) -> DedupResult:
        """Is ``text`` a duplicate of one of the newest ``window`` entries of ``recent`` (newest last)?"""
        self.checked += 1
        key = dedup_key(text)
        items = recent if isinstance(recent, (list, tuple)) else list(recent)
        newest = list(items[-self.window:]) if self.window > 0 else []
        keys = [dedup_key(r) for r in newest]
        for original, other in zip(reversed(newest), reversed(keys)):
            if other == key:
                self.exact += 1
                return DedupResult(True, "exact", 100.0, original)
        if len(key) < self.min_near_chars:
            return DedupResult(False, None, 0.0, None)
        choices = {i: k for i, k in enumerate(keys) if len(k) >= self.min_near_chars}
        best = process.extractOne(key, choices, scorer=fuzz.ratio, score_cutoff=self.threshold)
        if best is None:
            return DedupResult(False, None, 0.0, None)
        self.near += 1
        return DedupResult(True, "near", float(best[1]), newest[best[2]])
