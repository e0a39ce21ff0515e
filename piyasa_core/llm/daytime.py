"""Time-of-day phrases and when they are true: "günaydın" in the morning, "iyi akşamlar" in the
evening, "öğlen" around noon. A message that says one at the wrong hour reads as written by a bot."""

from __future__ import annotations

import re

# (name, pattern over Turkish lower-case text, hours [start, end) in which it may be said)
PHRASES: tuple[tuple[str, re.Pattern[str], tuple[float, float]], ...] = (
    ("morning", re.compile(r"günaydın|hayırlı sabahlar|bu sabah(?!tan)|sabah sabah"), (5.0, 12.0)),
    ("noon", re.compile(r"öğlen öğlen|öğle arası|öğle yemeği|öğleden beri"), (11.5, 18.0)),
    # an LLM wrote "Öğleden sonra ons altın …" at 10:00 and it was sent
    ("afternoon", re.compile(r"öğleden sonra|akşamüstü|akşamüzeri"), (12.0, 19.0)),
    ("evening", re.compile(r"iyi akşamlar|hayırlı akşamlar|bu akşam|akşam akşam"), (17.0, 24.0)),
    ("night", re.compile(r"iyi geceler|hayırlı geceler|bu gece"), (20.0, 28.0)),  # 28: 04:00 next day
    ("since_morning", re.compile(r"sabahtan beri"), (9.0, 24.0)),
    ("since_open", re.compile(r"açılıştan beri"), (10.0, 24.0)),
)


# Goodbyes: true only when the writer then stays away for a while (SIGN_OFF_QUIET_S at least)
SIGN_OFF = re.compile(r"benden bu kadar|şimdilik bu kadar|bugünlük bu kadar|sağlıcakla kalın|esen kalın|görüşürüz"
                      r"|görüşmek üzere|\bkaçtım\b|\bkaçıyorum\b|ben çıkıyorum|ekrandan kalkıyorum|ayrılmam gerekiyor"
                      r"|kalkmam lazım|sonra yazarım|yine yazarım|iyi geceler|hayırlı geceler")
SIGN_OFF_QUIET_S = 3600.0


def is_sign_off(text: str) -> bool:
    """The message says goodbye ("Şimdilik benden bu kadar", "Ben kaçtım", "İyi geceler", …)."""
    return bool(SIGN_OFF.search(tr_lower(text)))


def tr_lower(text: str) -> str:
    return text.replace("I", "ı").replace("İ", "i").lower()


def _holds(hour: float, span: tuple[float, float]) -> bool:
    start, end = span
    return start <= hour < end or (end > 24 and hour < end - 24)


def time_phrase_violations(text: str, hour: float) -> list[str]:
    """The time-of-day phrases of ``text`` that are false at ``hour`` (0–24, local time)."""
    low = tr_lower(text)
    return [name for name, pattern, span in PHRASES if pattern.search(low) and not _holds(hour, span)]
