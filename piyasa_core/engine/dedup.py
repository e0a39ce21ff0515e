"""Duplicate detection for chat messages: exact (after normalisation) and near (rapidfuzz).

``normalise`` makes the same sentence with different emoji, punctuation, case or @mentions equal.
``DuplicateChecker.check`` compares one draft with the newest ``window`` messages of a chat:

- exact: equal normalised texts (any length; an emoji-only text compares by its emoji);
- exact, further back: a key in ``seen`` (a chat's ``SeenKeys``: every message the worker has seen in
  the chat, up to ``SEEN_KEEP``), so a short reaction ("Katılıyorum") is not repeated 60 messages later;
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
from collections import OrderedDict
from collections.abc import Container, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rapidfuzz import fuzz, process

from piyasa_core.engine.postprocess import EMOJI_RE, tr_lower

__all__ = ["NEAR_THRESHOLD", "SEEN_KEEP", "DedupResult", "DuplicateChecker", "SeenKeys", "dedup_key", "near_pairs",
           "normalise"]

NEAR_THRESHOLD = 88.0  # rapidfuzz ratio at or above which two texts are near duplicates
NEAR_WINDOW = 50  # a draft is compared with this many of the chat's newest messages
MIN_NEAR_CHARS = 25  # shorter texts (reactions) are never near duplicates
SEEN_KEEP = 1000
"""Dedup keys remembered per chat: more than a 10-minute benchmark sends to one chat (~65), and an
hour of a busy one."""

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


class SeenKeys(Container[str]):
    """The dedup keys of the newest ``keep`` messages of one chat that this worker has seen."""

    def __init__(self, keep: int = SEEN_KEEP) -> None:
        self.keep = keep
        self._keys: OrderedDict[str, None] = OrderedDict()  # oldest first
        self._last: object = None

    def note(self, texts: Iterable[str]) -> None:
        """Remember ``texts`` (the oldest remembered are forgotten first)."""
        keys = self._keys
        for text in texts:
            key = dedup_key(text)
            if key not in keys:
                keys[key] = None
        while len(keys) > self.keep:
            keys.popitem(last=False)

    def note_history(self, lines: Sequence[Any]) -> None:
        """Remember a chat history (``HistoryLine``s); the same tuple again is skipped. Every line is
        looked at: a message sent late (long typing) can appear behind newer ids."""
        if lines is self._last:
            return
        self._last = lines
        self.note(line.text for line in lines)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)


class DuplicateChecker:
    """Checks drafts against recent messages and counts what it found (``checked``, ``exact``,
    ``near``)."""

    def __init__(self, threshold: float = NEAR_THRESHOLD, window: int = NEAR_WINDOW,
                 min_near_chars: int = MIN_NEAR_CHARS) -> None:
        self.threshold = threshold
        self.window = window
        self.min_near_chars = min_near_chars
        self.checked = 0
        self.exact = 0
        self.near = 0

    def check(self, text: str, recent: Sequence[str], seen: Container[str] = ()) -> DedupResult:
        """Is ``text`` a duplicate of one of the newest ``window`` entries of ``recent`` (newest last), or
        exactly of a message further back whose key is in ``seen``?"""
        self.checked += 1
        key = dedup_key(text)
        items = recent if isinstance(recent, (list, tuple)) else list(recent)
        newest = list(items[-self.window:]) if self.window > 0 else []
        keys = [dedup_key(r) for r in newest]
        for original, other in zip(reversed(newest), reversed(keys)):
            if other == key:
                self.exact += 1
                return DedupResult(True, "exact", 100.0, original)
        if key in seen:
            self.exact += 1
            return DedupResult(True, "exact", 100.0, None)
        if len(key) < self.min_near_chars:
            return DedupResult(False, None, 0.0, None)
        choices = {i: k for i, k in enumerate(keys) if len(k) >= self.min_near_chars}
        best = process.extractOne(key, choices, scorer=fuzz.ratio, score_cutoff=self.threshold)
        if best is None:
            return DedupResult(False, None, 0.0, None)
        self.near += 1
        return DedupResult(True, "near", float(best[1]), newest[best[2]])


def near_pairs(texts: Sequence[str], threshold: float = NEAR_THRESHOLD, window: int = NEAR_WINDOW,
               min_near_chars: int = MIN_NEAR_CHARS) -> list[tuple[int, int, float]]:
    """``(earlier, later, score)`` for every text of one chat (oldest first) that is a near duplicate of
    one of the ``window`` texts before it, by the engine's own rule; exact copies are left out (they
    are counted as duplicates of their own)."""
    keys = [dedup_key(t) for t in texts]
    out: list[tuple[int, int, float]] = []
    for i, key in enumerate(keys):
        if len(key) < min_near_chars:
            continue
        start = max(0, i - window)
        choices = {j: keys[j] for j in range(start, i) if len(keys[j]) >= min_near_chars and keys[j] != key}
        best = process.extractOne(key, choices, scorer=fuzz.ratio, score_cutoff=threshold)
        if best is not None:
            out.append((int(best[2]), i, float(best[1])))
    return out
