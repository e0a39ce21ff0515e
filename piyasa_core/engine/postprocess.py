"""Cleaning of generated chat text (real LLMs and the offline composer both pass through here).

``postprocess`` runs: ``strip_ai_traces`` → foreign check → ``fix_emoji_placement`` → ``fix_tickers``
→ ``normalise_shouting`` → promise check → ``humanize`` → ``cap_length`` → final ``artifacts`` check.
``artifacts`` names every defect listed in ``/work/shared/personas.md``; a non-rejected result never
has any (a text the fixes could not clean is rejected with reason ``"artifact: …"``).
"""

from __future__ import annotations

import functools
import itertools
import random
import re
from dataclasses import dataclass

from piyasa_core.llm import phrases as ph
from piyasa_core.llm.offline_rules import ALLOWED_UPPER, KNOWN_SYMBOLS
from piyasa_core.llm.turkish import fix_surface, surface_problems

__all__ = [
    "DEFAULT_ALLOWED", "EMOJI_RE", "EXTRA_UPPER", "PostProcessed", "artifacts", "cap_length", "english_words",
    "drop_unfinished", "find_promises", "fix_emoji_placement", "fix_tickers", "foreign_jargon", "humanize", "lower_caps_word",
    "normalise_shouting", "postprocess", "strip_ai_traces", "tr_lower", "tr_upper", "unknown_upper"]

EXTRA_UPPER: frozenset[str] = frozenset({
    "BIST", "BIST50", "XU100", "XU030", "XBANK", "USD", "EUR", "BTC", "ETH", "AB", "TÜİK", "BDDK", "SPK", "KAP",
    "PPK", "IMF", "GSYH", "ETF", "KDV", "ÖTV", "ÜFE", "FAVÖK", "CDS", "AMB", "FED", "OVP", "EPDK", "TMSF", "MSCI",
    "VİOP", "BES", "BBVA", "QNB", "TEB", "HSBC", "TRY"})
"""Common Turkish market acronyms real LLMs write; lower-casing them ("kap", "ab") would be wrong."""
DEFAULT_ALLOWED: frozenset[str] = ALLOWED_UPPER | EXTRA_UPPER
"""Default all-caps whitelist: the offline composer's ``ALLOWED_UPPER`` plus ``EXTRA_UPPER``."""
TICKER_LOOKALIKES: frozenset[str] = frozenset({"sise", "sasa"})
"""Lower/title-case tokens never upper-cased by ``fix_tickers`` (plain-ASCII "şişe", a nickname)."""
PROPER_WORDS: frozenset[str] = frozenset(ph.PROPER) | frozenset({
    "Türkiye", "İstanbul", "Ankara", "İzmir", "Borsa", "Garanti", "Koç", "Sabancı", "Avrupa", "Amerika", "Çin"})


# ── Text primitives ───────────────────────────────────────────────────────────────────────────────
def tr_lower(text: str) -> str:
    """Turkish-aware lower case (I → ı, İ → i), same length as the input."""
    return text.replace("I", "ı").replace("İ", "i").lower()  # str.replace: far faster than translate


def tr_upper(text: str) -> str:
    """Turkish-aware upper case (i → İ, ı → I)."""
    return text.replace("i", "İ").replace("ı", "I").upper()


def _cap_first(text: str) -> str:
    return tr_upper(text[0]) + text[1:] if text and text[0].islower() else text


def _key(token: str) -> str:
    return token.replace("İ", "I").upper()


_EMO_BASE = ("\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2300-\u23FF\u2194-\u2199\u21A9\u21AA"
             "\u3030\u303D\u3297\u3299\u203C\u2049")
_EMO_MOD = "\uFE0E\uFE0F\U0001F3FB-\U0001F3FF\U000E0020-\U000E007F"
_ONE_EMOJI = (rf"(?:[0-9#*]\uFE0F?\u20E3|[{_EMO_BASE}][{_EMO_MOD}]*"
              rf"(?:\u200D[{_EMO_BASE}][{_EMO_MOD}]*)*)")
EMOJI_RE = re.compile(rf"(?:{_ONE_EMOJI})+")
"""A run of emoji with no space inside (pictographs, symbols, keycaps, FE0F, skin tones, ZWJ, tags)."""
_MENTION = re.compile(r"@\w+")
_TOKEN = re.compile(r"[^\W_]+")
_MENTION_OR_TOKEN = re.compile(r"@\w+|[^\W_]+")
_SENT_END = re.compile(rf"[.!?…]+(?=\s|$|[{_EMO_BASE}])")
_AT_SENT_START = re.compile(r"(?:^|[.!?…]\s+)(?:@\w+,?\s+)?$")


def _glued(text: str, start: int, end: int) -> bool:
    near = (text[start - 1] if start else "") + (text[end] if end < len(text) else "")
    return any(c.isalnum() or c == "_" for c in near)


# ── AI traces and markdown ────────────────────────────────────────────────────────────────────────
_QUOTES = {'"': '"', "'": "'", "“": "”", "”": "”", "«": "»", "„": "“", "‘": "’"}
_OPENER = re.compile(
    r"^(?:(?:elbette|tabii ki|tabi ki|tabiki|tabii|memnuniyetle|harika bir soru|sure|certainly|of course"
    r"|absolutely)\b|here(?:'s| is)[^:.!?]{0,40}:"
    r"|işte\s+(?:[^\s.!?:]+\s+){0,4}?(?:mesaj|yanıt|cevap|yorum|paylaşım|tweet|gönderi)\w*\s*:"
    r"|(?:mesaj(?:ım)?|yanıt(?:ım)?|cevap(?:ım)?|yorum(?:um)?|tweet|response|answer|message)\s*:)"
    r"(?:\s*[!.,:…]+)*\s*")
_AI_SENTENCE = re.compile(
    r"yapay zek[aâ] olarak|bir yapay zek[aâ] (?:dil modeli|asistan\w*|modeli)|ben bir yapay zek"
    r"|yapay zek[aâ] (?:dil )?modeli|dil modeli olarak|bir dil modeli\w*|\bas an ai\b|\bi(?:'m| am) an ai\b"
    r"|language model|\bas a (?:chat)?bot\b")
_DISCLAIMER = re.compile(r"\(?\s*yatırım tavsiyesi değildir\s*[.!]?\s*\)?")
_MD_SUBS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"```[\w-]*"), " "), (re.compile(r"`"), ""),
    (re.compile(r"\[([^\]\n]+)\]\([^)\s]+\)"), r"\1"),
    (re.compile(r"(?m)^\s*(?:[-*_]\s*){3,}$"), ""), (re.compile(r"(?m)^\s{0,3}#{1,6}\s+"), ""),
    (re.compile(r"(?m)^\s*>\s?"), ""), (re.compile(r"(?m)^\s*[-*•+]\s+"), ""),
    (re.compile(r"\*\*(.+?)\*\*"), r"\1"), (re.compile(r"(?<![\w@])__(.+?)__(?!\w)"), r"\1"),
    (re.compile(r"~~(.+?)~~"), r"\1"), (re.compile(r"(?<![\w@])_([^_\n]+?)_(?!\w)"), r"\1"),
    (re.compile(r"\*"), ""))
_NUMBERED = re.compile(r"(?m)^\s*\d{1,2}[.)]\s+")
_TRAILING_TAGS = re.compile(r"(?:\s*#[^\W_]\w*)+\s*$")
_HASHTAG = re.compile(r"#([^\W_])")


def _unwrap_quotes(text: str) -> str:
    t = text.strip()
    while len(t) >= 2 and t[0] in _QUOTES and t[-1] == _QUOTES[t[0]] and t[0] not in t[1:-1] \
            and t[-1] not in t[1:-1]:
        t = t[1:-1].strip()
    return t


def _ai_trace(text: str) -> bool:
    return bool(_AI_SENTENCE.search(tr_lower(text)) or _AI_SENTENCE.search(text.lower()))


def strip_ai_traces(text: str, bot_name: str | None = None, username: str | None = None) -> str:
    """Remove wrapping quotes, markdown, hashtags, assistant openers, AI self-references and a leading
    self-label ("Mehmet Yatırımcı:", "@mehmet_trader:"); join lines; keep one disclaimer; keep emoji."""
    t = text.replace("\r", "\n").replace("\t", " ")
    for rx, repl in _MD_SUBS:
        t = rx.sub(repl, t)
    if len(_NUMBERED.findall(t)) >= 2:
        t = _NUMBERED.sub("", t)
    lines = [ln.strip() for ln in t.split("\n") if ln.strip()]
    t = ""
    for ln in lines:
        t = f"{t}. {ln}" if t and t[-1].isalnum() else f"{t} {ln}"
    names = {tr_lower(x) for x in (bot_name, username, (bot_name or "").split(" ")[0]) if x}
    alts = "|".join(re.escape(x) for x in sorted(names, key=len, reverse=True))
    label = re.compile(rf"^[\[(]?@?(?:{alts})[\])]?\s*[:：]\s*") if names else None
    for _ in range(6):
        before = t
        t = _unwrap_quotes(t)
        low = tr_lower(t)
        if label and (m := label.match(low)):
            t = t[m.end():]
        elif (m := _OPENER.match(low)) and m.end() > 0:
            t = _cap_first(re.sub(r"^[-•+>*]\s+", "", t[m.end():]))
        t = " ".join(p for p in re.split(r"(?<=[.!?…])\s+", t) if not _ai_trace(p)).strip()
        if t == before:
            break
    t = _HASHTAG.sub(r"\1", _TRAILING_TAGS.sub("", t))
    for start, end in reversed([m.span() for m in _DISCLAIMER.finditer(tr_lower(t))][1:]):
        t = t[:start] + " " + t[end:]  # one disclaimer is enough
    t = re.sub(r"\(\s*\)", " ", t)
    t = re.sub(r"\s+", " ", t).strip()
    t = re.sub(r"(?<=\w) +([,.!?;:…])", r"\1", t)
    return _cap_first(t) if t != text.strip() else t


# ── Promises and foreign text ─────────────────────────────────────────────────────────────────────
_BANK = re.compile(
    r"\bgarant[iİı]\s+(?:bbva|bankas[ıi]\w*|bank\b|yat[ıi]r[ıi]m\w*|emeklilik\w*|hisse(?:si|leri)\w*"
    r"|teknoloji\w*|filo\w*|fakt[oö]ring\w*|leasing\w*|portf[oö]y\w*)", re.IGNORECASE)
_BANK_APOS = re.compile(r"\b(?:Garanti|GARANT[İI])(?=['’])")
_QUESTION = r"m[ıiuü](?:s[ıiuü]n\w*|d[ıiuü]r|y[ıiuü]m)?\b"
_NEG = rf"(?!\s+(?:değil|yok|olmaz|veremem|veremez|veremeyiz|edemem|edemez|etmez|vermez|{_QUESTION}))"
_KESIN_OPENER = rf"kesin(?:likle)?\b(?!\s+(?:katıl\w*|haklı\w*|öyle|aynen|doğru)){_NEG}"
"""Sentence-initial "Kesin…", unless negated, a question or agreement ("Kesinlikle katılıyorum")."""
_PROMISE_PATTERNS: tuple[str, ...] = (
    rf"\bgaranti\w*\b{_NEG}", r"\bkesin\s+(?:kazan\w*|kâr\w*|kar\b|getiri\w*|para\b)",
    r"\b(?:kesin(?:likle)?|mutlaka)\s+(?:\w+\s+){0,3}?(?:yükselecek|yükselir|artacak|kazandırır|kazandıracak"
    r"|kazanırsın\w*|çıkacak|uçacak|patlayacak|katlayacak|prim yapacak)\b",
    rf"(?:^|[.!?…]\s+)(?:@\w+,?\s+)?{_KESIN_OPENER}",
    r"%\s*100\s*(?:kazanç|getiri|kâr|kar|garanti|kesin|yükseliş|emin)\w*",
    r"\byüzde\s*yüz\s*(?:kazanç|getiri|kâr|kar|garanti|kesin|emin)\w*",
    r"\bzengin\s+(?:olacak\w*|olursun\w*|oluruz|eder\b|edecek\w*)", r"\bkaçırma\w*\b.{0,40}?\bkazan\w*",
    r"\bkaçıran(?:lar)?\s+pişman\w*", r"\brisk(?:i)?\s+yok\b", r"\bsıfır\s+risk\w*",
    r"\brisksiz\s+(?:kazanç|getiri|kâr|yatırım)\w*", r"\btavan\s+(?:olacak|yapacak|yapar|serisi)\w*",
    r"\b\d+\s*x\s*(?:yapar|yapacak|getirir|getirecek|kazandırır|kazandıracak|olur|olacak)\b",
    r"\b\d+\s*kat(?:ına)?\s*(?:çıkar|çıkacak|yapar|kazandırır|getirir)\b", r"\bkatlar\b", r"\bkatlayacak\b",
    r"\bkat kat kazan\w*", r"\bkazandıracak\w*", r"\bkazanacaksın\w*", r"\bkaybetmezsin\w*",
    r"\bzarar etmezsin\w*", r"\basla düşmez\b", r"\bdüşmesi imkansız\b", r"\byatırım tavsiyesidir\b",
    r"\bguarantee[ds]?\b", r"\bsure\s+(?:win|thing|profit|bet)\b", r"\brisk[- ]free\b",
    r"\bcan(?:no|')t\s+lose\b", r"\bto the moon\b", r"\b100\s*%\s*(?:profit|return|gain)s?\b",
    r"\bget rich\b", r"\beasy money\b")
_PROMISES = re.compile("|".join(_PROMISE_PATTERNS))

_ASKED = re.compile(rf"\s*{_QUESTION}")
_ENGLISH = frozenset({
    "the", "and", "is", "are", "was", "were", "you", "your", "this", "that", "with", "for", "to", "will",
    "would", "should", "what", "have", "just", "from", "about", "they", "we", "my", "it", "if", "or"})
"""English function words; "on", "of", "be", "in", "at", "a", "can", "has", "not" are left out (they are
Turkish words or names too)."""
_JARGON = re.compile(r"\b(?:bullish|bearish|breakout|pump\w*|dump|hodl|moon|to the moon|support|resistance"
                     r"|trade|trades|trading|rally|stop[- ]loss)\b")


_PROMISE_CUES = re.compile(r"garanti|kesin|mutlaka|%|yüzde|zengin|kaçır|risk|tavan|\d\s*x|kat|kazan|kaybetmez"
                           r"|zarar|düşmez|imkansız|tavsiye|guarantee|sure|lose|moon|rich|money")
"""Every match of ``_PROMISES`` contains one of these (a test holds it to that): a text with none
skips the big alternation, which costs ~0.5 µs per character and is most of ``find_promises``."""


def find_promises(text: str) -> list[str]:
    """Financial promises / certainty claims (Turkish and English), as matched (lower-cased) phrases.

    "Garanti BBVA", "Garanti Bankası", "Garanti'nin" … name the bank and are ignored; a negated
    "garantisi yok" / "kesin değil", a question ("riski yok mu?") or "Kesinlikle katılıyorum" are not."""
    return list(_promises(text))


@functools.lru_cache(maxsize=1024)
def _promises(text: str) -> tuple[str, ...]:
    # cached: one text is checked up to four times on its way through ``postprocess``
    masked = tr_lower(_BANK_APOS.sub("Banka", _BANK.sub("Banka", _MENTION.sub(" ", text))))
    if not _PROMISE_CUES.search(masked):
        return ()
    phrases = (re.sub(r"^[.!?…\s]+", "", m.group(0)).strip() for m in _PROMISES.finditer(masked)
               if not _ASKED.match(masked, m.end()))
    return tuple(dict.fromkeys(p for p in phrases if p))


def english_words(text: str) -> list[str]:
    """English function words in ``text`` (mentions ignored); three or more mean an English sentence."""
    return [w for w in re.findall(r"[a-z']+", _MENTION.sub(" ", text).lower()) if w in _ENGLISH]


def foreign_jargon(text: str) -> list[str]:
    """English market jargon leaking into Turkish text ("bullish", "breakout", …)."""
    return sorted({m.group(0) for m in _JARGON.finditer(_MENTION.sub(" ", text).lower())})


# ── Tickers and upper case ────────────────────────────────────────────────────────────────────────
def fix_tickers(text: str, known: frozenset[str] = KNOWN_SYMBOLS,
                acronyms: frozenset[str] = EXTRA_UPPER) -> str:
    """Restore case-mangled tickers (mentions untouched). Rule, per token of letters/digits whose upper
    form (İ → I) is a known symbol and differs from the token:

    - mangled case ("bIST30", "gARAN", "GaRAN", "BİST30": neither all-lower nor Title-case) → restored
      (``acronyms`` such as "BIST" are restored too, only from this mangled shape);
    - all lower ("garan", "thyao") or Title-case ("Thyao") → restored, except ``TICKER_LOOKALIKES``.
    """
    def repl(m: re.Match[str]) -> str:
        tok, key = m.group(0), _key(m.group(0))
        if tok[0] == "@" or key == tok or (key not in known and key not in acronyms):
            return tok
        plain = tok.islower() or (tok[0].isupper() and tok[1:].islower())
        return tok if plain and (key not in known or tr_lower(tok) in TICKER_LOOKALIKES) else key

    return _MENTION_OR_TOKEN.sub(repl, text)


def _caps_tokens(text: str, allowed: frozenset[str]) -> list[re.Match[str]]:
    bare = _MENTION.sub(lambda m: " " * len(m.group(0)), text)
    return [m for m in _TOKEN.finditer(bare)
            if m.group(0).isupper() and sum(c.isalpha() for c in m.group(0)) >= 2
            and m.group(0) not in allowed and _key(m.group(0)) not in allowed]


def unknown_upper(text: str, allowed: frozenset[str] = DEFAULT_ALLOWED) -> list[str]:
    """All-caps tokens (≥ 2 letters, Turkish letters included) not in ``allowed`` ("SANKI", "NASIL")."""
    return [m.group(0) for m in _caps_tokens(text, allowed)]


_VOWELS_FRONT, _VOWELS = "EİÖÜeiöü", "AEIİOÖUÜaeıioöuü"
_SEED_WORDS = ("sanki piyasa fiyat kira bilanço sigara kredi hisse gibi bile diye niye kalite maliyet şimdi "
               "hiç biz siz bir iki için ile faiz enflasyon nasıl kırmızı yatırım sıfır kısa yıl").split()


@functools.cache
def _vocabulary() -> frozenset[str]:
    """Lower-case Turkish words of the offline phrase tables (plus a few seeds), to resolve ASCII "I"."""
    words, stack = set(_SEED_WORDS), [getattr(ph, name) for name in ph.__all__]
    while stack:
        obj = stack.pop()
        if isinstance(obj, str):
            words.update(re.findall(r"[^\W\d_]+", tr_lower(obj)))
        elif isinstance(obj, dict):
            stack += [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            stack += list(obj)
    return frozenset(words)


def _harmony(word: str, prev_vowel: str, suffix: bool) -> str:
    """Resolve each ASCII "I" of an all-caps word by vowel harmony (nearest other vowel; a suffix after
    an apostrophe or a bare question particle "MI…" follows the previous word; else "i")."""
    out, follow = list(word), suffix or word.startswith("MI")
    for i, ch in enumerate(word):
        if ch != "I":
            continue
        others = [c for c in reversed(word[:i]) if c in _VOWELS and c != "I"] + \
            ([prev_vowel] if follow and prev_vowel else []) + [c for c in word[i + 1:] if c in _VOWELS and c != "I"]
        ref = "İ" if i == 0 and not follow else others[0] if others else "İ"
        out[i] = "i" if (ref or "İ") in _VOWELS_FRONT else "ı"
    return tr_lower("".join(out))


def lower_caps_word(word: str, prev_vowel: str = "", suffix: bool = False) -> str:
    """Turkish lower case of an all-caps word. A word containing "İ" uses the plain I → ı rule; an
    ASCII "I" may stand for "i" or "ı" and is chosen by the phrase-table vocabulary (longest known
    prefix), falling back to vowel harmony: "NASIL" → "nasıl", "SANKI" → "sanki", "PIYASA" → "piyasa".
    A ``suffix`` ("GARAN'IN") follows ``prev_vowel``, the last vowel before it, by harmony alone."""
    count = word.count("I")
    if "İ" in word or not count:
        return tr_lower(word)
    guess = _harmony(word, prev_vowel, suffix)
    if count > 4 or suffix:
        return guess
    vocab, best, best_len = _vocabulary(), guess, 0
    for combo in itertools.product("iı", repeat=count):
        it = iter(combo)
        cand = tr_lower("".join(next(it) if c == "I" else c for c in word))
        known_len = max((n for n in range(min(4, len(cand)), len(cand) + 1) if cand[:n] in vocab), default=0)
        if known_len > best_len or (known_len == best_len and cand == guess):
            best, best_len = cand, known_len
    return best


def normalise_shouting(text: str, allowed: frozenset[str] = DEFAULT_ALLOWED) -> str:
    """Lower-case unknown all-caps words (Turkish rules: "NASIL" → "nasıl"); a word that starts a
    sentence keeps a capital first letter. So a short all-caps message becomes sentence case
    ("ALTIN MI DOLAR MI???" → "Altın mı dolar mı???") and allowed tokens stay ("GARAN UÇUYOR" →
    "GARAN uçuyor")."""
    out, pos = [], 0
    for m in _caps_tokens(text, allowed):
        prefix = text[:m.start()]
        vowels = [c for c in prefix[-12:].upper() if c in _VOWELS]
        word = lower_caps_word(m.group(0), vowels[-1] if vowels else "", prefix.endswith(("'", "’")))
        if _AT_SENT_START.search(prefix):
            word = _cap_first(word)
        out += [text[pos:m.start()], word]
        pos = m.end()
    return "".join(out) + text[pos:]


# ── Emoji ─────────────────────────────────────────────────────────────────────────────────────────
def fix_emoji_placement(text: str) -> str:
    """Move every emoji run glued to a letter/digit ("GA📈RAN", "SISE🚀", "yük🔥seliş") to the end of
    its sentence (after the closing punctuation) or of the message, with one space before it. Between
    two letters the word is re-joined; otherwise a space is left. Spaced emoji are untouched."""
    for _ in range(50):
        m = next((e for e in EMOJI_RE.finditer(text) if _glued(text, e.start(), e.end())), None)
        if m is None:
            break
        s, e, emo = m.start(), m.end(), m.group(0)
        before, after = (text[s - 1] if s else ""), (text[e] if e < len(text) else "")
        joiner = " " if after.isalnum() and before and not before.isspace() \
            and not (before.isalpha() and after.isalpha()) else ""
        text = text[:s] + joiner + text[e:]
        end = _SENT_END.search(text, s)
        if end:
            text = text[:end.end()] + " " + emo + text[end.end():]
        else:
            text = text.rstrip() + " " + emo
    return re.sub(r"\s+", " ", text).strip()


# ── Length ────────────────────────────────────────────────────────────────────────────────────────
def drop_unfinished(text: str) -> str:
    """A reply the provider cut at its token cap (finish reason "length") ends mid-sentence: keep its
    complete sentences, or the text up to the last word with "…" when it has none."""
    text = text.strip()
    if not text or text[-1] in ".!?…" or EMOJI_RE.search(text[-2:]):
        return text
    ends = [m.end() for m in _SENT_END.finditer(text)]
    if ends and ends[-1] < len(text):
        return text[:ends[-1]].strip()
    return cap_length(text, len(text) - 1)


def cap_length(text: str, max_chars: int) -> str:
    """At most ``max_chars`` characters. Cut at a sentence end (plus its trailing emoji) when that keeps
    at least half the budget, else at a space (never inside a word, ticker, number, @mention or emoji
    run) adding "…"; a single token too long to fit gives ""."""
    text = text.strip()
    if len(text) <= max_chars or max_chars <= 0:
        return text if len(text) <= max_chars else ""
    sent = ""
    for m in _SENT_END.finditer(text):
        end = m.end()
        while end < len(text) and text[end] == " " and (e := EMOJI_RE.match(text, end + 1)):
            end = e.end()
        if end <= max_chars:
            sent = text[:end]
    word = ""
    for m in re.finditer(r"\s+", text):
        if m.start() > max_chars:
            break
        prefix = text[:m.start()].rstrip()
        prefix = re.sub(rf"(?:\s*{_ONE_EMOJI})+$", "", prefix).rstrip(" ,;:-–—(\"“«'")
        if not prefix:
            continue
        cand = prefix if prefix[-1] in ".!?…" else prefix + "…"
        if len(cand) <= max_chars:
            word = cand
    if sent and (len(sent) * 2 >= max_chars or not word):
        return sent
    return word or sent


# ── Casual touches ────────────────────────────────────────────────────────────────────────────────
_TAIL = re.compile(rf"(?:\s+{EMOJI_RE.pattern})+$")


def humanize(text: str, rng: random.Random, casual: float,
             known: frozenset[str] = KNOWN_SYMBOLS, allowed: frozenset[str] = DEFAULT_ALLOWED) -> str:
    """Light casual touches, each with a probability scaled by ``casual`` (0..1): drop the final period,
    lower-case the first letter (only a plain capitalised word, not a ticker, name, @mention or
    all-caps word, and not one followed by an apostrophe suffix or a comma: "Serkan, …" addresses a
    person, and "serkan," reads as a slip), double a final "!". Always draws
    three random numbers; a touch that would add an ``artifacts`` entry is skipped."""
    draws = [rng.random() for _ in range(3)]
    if not text.strip():
        return text
    base: set[str] | None = None  # computed only when a touch actually changes the text

    def attempt(new: str, old: str) -> str:
        nonlocal base
        if new == old:
            return old
        if base is None:
            base = set(artifacts(text, known, allowed))
        return new if set(artifacts(new, known, allowed)) <= base else old

    def split(t: str) -> tuple[str, str]:  # (text, trailing " 🚀 📊")
        m = _TAIL.search(t)
        return (t[:m.start()], m.group(0)) if m else (t, "")

    out = text
    core, tail = split(out)
    if draws[0] < casual * 0.5 and core.endswith(".") and not core.endswith("..") and len(core) > 1 \
            and core[-2].isalpha():
        out = attempt(core[:-1] + tail, out)
    first = re.match(r"([^\W\d_]+)(\S?)", out)
    if draws[1] < casual * 0.3 and first:
        w, nxt = first.group(1), first.group(2)
        if len(w) >= 2 and w[0].isupper() and w[1:].islower() and w not in PROPER_WORDS \
                and _key(w) not in known and _key(w) not in allowed and nxt not in ("'", "’", ","):
            out = attempt(tr_lower(out[0]) + out[1:], out)
    core, tail = split(out)
    if draws[2] < casual * 0.15 and core.endswith("!") and not core.endswith("!!"):
        out = attempt(core + "!" + tail, out)
    return out


# ── Defects and the pipeline ──────────────────────────────────────────────────────────────────────
_MD_LEFT = re.compile(r"\*|`|~~|(?<![\w@])__|(?<![\w@])_[^_\s][^_]*_(?!\w)|(?:^|\s)#[^\W_]|^\s*[-•+>]\s"
                      r"|^\s*#|\[[^\]]+\]\([^)]+\)|[\n\r\t]")
_OPENER_LEFT = re.compile(rf"(?:^|[.!?…]\s+)(?:@\w+,?\s+)?(?:garanti\w*\b{_NEG}|{_KESIN_OPENER})")


def artifacts(text: str, known: frozenset[str] = KNOWN_SYMBOLS,
              allowed: frozenset[str] = DEFAULT_ALLOWED) -> list[str]:
    """Names of the personas.md defects present: ticker-case, emoji-glued, certainty-opener, promise,
    unknown-caps, markdown, ai-trace, english, foreign-word; and Turkish surface errors (``llm.turkish``):
    harmony, doubled-word, midsentence-caps."""
    return list(_artifacts(text, known, allowed))


@functools.lru_cache(maxsize=1024)
def _artifacts(text: str, known: frozenset[str], allowed: frozenset[str]) -> tuple[str, ...]:
    # cached: ``humanize`` and the final check of ``postprocess`` often look at the same text
    found: list[str] = []
    if fix_tickers(text, known, allowed - known) != text:
        found.append("ticker-case")
    if any(_glued(text, e.start(), e.end()) for e in EMOJI_RE.finditer(text)):
        found.append("emoji-glued")
    masked = _BANK_APOS.sub("Banka", _BANK.sub("Banka", text))
    if _OPENER_LEFT.search(tr_lower(masked)):
        found.append("certainty-opener")
    if find_promises(text):
        found.append("promise")
    if unknown_upper(text, allowed):
        found.append("unknown-caps")
    if _MD_LEFT.search(_MENTION.sub(" ", text)) or _unwrap_quotes(text) != text.strip():
        found.append("markdown")
    if _OPENER.match(tr_lower(text).strip()) or _ai_trace(text):
        found.append("ai-trace")
    if len(english_words(text)) >= 3:
        found.append("english")
    if foreign_jargon(text):
        found.append("foreign-word")
    found.extend(surface_problems(_MENTION.sub(" ", text)))
    return tuple(found)


@dataclass(frozen=True)
class PostProcessed:
    """Result of ``postprocess``: the cleaned text, or a rejection with its reason."""

    text: str
    rejected: bool
    reason: str | None
    changes: tuple[str, ...]


def postprocess(text: str, *, bot_name: str, username: str, max_chars: int, rng: random.Random,
                casual: float = 0.3, known: frozenset[str] = KNOWN_SYMBOLS,
                allowed: frozenset[str] = DEFAULT_ALLOWED) -> PostProcessed:
    """Clean one generated message; reject it (``empty``, ``foreign: …``, ``promise: …``,
    ``artifact: …``) when it cannot be used. ``changes`` names the steps that altered the text."""
    changes: list[str] = []

    def step(name: str, new: str, old: str) -> str:
        changes.extend([name] if new != old else [])
        return new

    def reject(reason: str, cur: str) -> PostProcessed:
        return PostProcessed(cur, True, reason, tuple(changes))
    t = step("strip_ai_traces", strip_ai_traces(text, bot_name, username), text)
    if not re.search(r"[^\W_]", t) and not EMOJI_RE.search(t):
        return reject("empty", t)
    eng, jargon = english_words(t), foreign_jargon(t)
    if len(eng) >= 3 or jargon:
        return reject("foreign: " + ", ".join(dict.fromkeys(eng + jargon)), t)
    t = step("fix_emoji_placement", fix_emoji_placement(t), t)
    t = step("fix_tickers", fix_tickers(t, known, allowed - known), t)
    t = step("normalise_shouting", normalise_shouting(t, allowed), t)
    if promises := find_promises(t):
        return reject("promise: " + ", ".join(promises), t)
    t = step("humanize", humanize(t, rng, casual, known, allowed), t)
    t = step("fix_turkish_surface", fix_surface(t), t)
    t = step("cap_length", cap_length(t, max_chars), t)
    if not t.strip():
        return reject("empty", t)
    if left := artifacts(t, known, allowed):
        return reject("artifact: " + ", ".join(left), t)
    return PostProcessed(t, False, None, tuple(changes))
