"""Turkish surface checks and fixes for text built from slots: the clitic "da/de" follows the vowel
harmony of the word before it, no word is doubled across a comma ("unutmayın, unutmayın"), and a
filler or form of address is not capitalised mid-sentence ("Evet Kanka")."""

from __future__ import annotations

import re

BACK_VOWELS = frozenset("aıou")
FRONT_VOWELS = frozenset("eiöü")
FRONT_EXCEPTIONS = frozenset({
    "saat", "dikkat", "hal", "kalp", "rol", "gol", "alkol", "kontrol", "petrol", "sembol", "ihtimal", "istikbal",
    "emsal", "hayal", "ideal", "kabul", "usul", "hakikat", "seyahat", "cemaat", "ziraat", "sadakat", "meşgul",
    "harf", "ahlak", "idrak", "iştirak", "tahsilat", "ihracat", "ithalat", "kanaat", "vakit",
})
"""Loanwords whose last vowel is back but which take front suffixes (saatte, dikkatte)."""
ADDRESS_WORDS = frozenset({"kanka", "arkadaşlar", "millet", "ekip", "hocam", "abi", "abla", "dostlar", "kardeşim",
                           "çocuklar", "beyler", "usta", "gençler", "efendim", "dostum", "hocalarım"})
"""Fillers and forms of address that are never capitalised inside a sentence."""

_WORD = r"[A-Za-zÇĞİÖŞÜçğıöşüâîû]+"
_CLITIC = re.compile(rf"(?<![\w'’])({_WORD})\s+(da|de)(?![\w'’])")
_DOUBLED = re.compile(rf"(?<![\w'’])({_WORD}),\s+\1(?![\w'’])", re.IGNORECASE)
_ADDRESS = re.compile(rf"(?<=[\w,;:])(\s+)({'|'.join(sorted(w.capitalize() for w in ADDRESS_WORDS))})(?![\w'’])")


def tr_lower(text: str) -> str:
    return text.replace("I", "ı").replace("İ", "i").lower()


def takes_back_suffix(word: str) -> bool | None:
    """True for a word whose suffixes take a back vowel (kitap-ta), False for front (ev-de), None when
    it cannot be told (no vowel; all capitals: a ticker or an abbreviation, said letter by letter)."""
    if len(word) > 1 and word.isupper():
        return None
    low = tr_lower(word)
    if low in FRONT_EXCEPTIONS:
        return False
    for ch in reversed(low):
        if ch in BACK_VOWELS or ch == "â" or ch == "û":
            return True
        if ch in FRONT_VOWELS or ch == "î":
            return False
    return None


def _clitic_wanted(word: str, clitic: str) -> str | None:
    back = takes_back_suffix(word)
    if back is None:
        return None
    wanted = "da" if back else "de"
    return wanted if wanted != clitic else None


def harmony_errors(text: str) -> list[str]:
    """``word da/de`` pairs that break vowel harmony ("veriler da", "baskı de")."""
    return [f"{m.group(1)} {m.group(2)}" for m in _CLITIC.finditer(text) if _clitic_wanted(m.group(1), m.group(2))]


def fix_harmony(text: str) -> str:
    """The clitic after each word set by its vowel harmony."""
    def repl(m: re.Match[str]) -> str:
        wanted = _clitic_wanted(m.group(1), m.group(2))
        return m.group(0) if wanted is None else m.group(0)[: m.start(2) - m.start(0)] + wanted
    return _CLITIC.sub(repl, text)


def doubled_words(text: str) -> list[str]:
    """Words repeated right after a comma ("unutmayın, unutmayın"); reduplications without a comma
    ("yavaş yavaş") are Turkish and not counted."""
    return [m.group(1) for m in _DOUBLED.finditer(text)]


def fix_doubled(text: str) -> str:
    return _DOUBLED.sub(lambda m: m.group(1), text)


def midsentence_capitals(text: str) -> list[str]:
    """A filler or form of address capitalised after a word inside a sentence ("Evet Kanka")."""
    return [m.group(2) for m in _ADDRESS.finditer(text)]


def fix_midsentence_capitals(text: str) -> str:
    return _ADDRESS.sub(lambda m: m.group(1) + tr_lower(m.group(2)), text)


def fix_surface(text: str) -> str:
    """Every fix of this module, in an order where none undoes another."""
    return fix_midsentence_capitals(fix_doubled(fix_harmony(text)))


def surface_problems(text: str) -> list[str]:
    """Names of the classes found: ``harmony``, ``doubled-word``, ``midsentence-caps``."""
    found = []
    if harmony_errors(text):
        found.append("harmony")
    if doubled_words(text):
        found.append("doubled-word")
    if midsentence_capitals(text):
        found.append("midsentence-caps")
    return found
