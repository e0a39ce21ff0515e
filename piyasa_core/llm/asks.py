"""What a chat message asks, and whether a reply answers it.

``classify`` reads a message as a Turkish market group would: a question of a type (when, how much,
why, what, how, which, yes/no opinion), a greeting, a thank-you, a piece of news, an opinion or a plain
statement, and its subject (a concept such as dividends or stop-loss, and an instrument).
``answers`` is the realism measure built on it: a reply answers a question when it carries the
question's subject and an answer of the asked type (a date or a period for "when", a figure for "how
much", a cause for "why", a definition for "what", steps for "how", a named instrument for "which", a
stated view for a yes/no question). The offline composer and the quality report both use it; the
evidence patterns are Turkish usage, not the composer's templates, so an LLM's answer is judged alike.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["ACTS", "QTYPES", "Ask", "answers", "classify", "priced_symbol", "subject_forms"]

ACTS = ("question", "thanks", "welcome", "greeting", "news", "opinion", "statement")
QTYPES = ("when", "how_much", "why", "what", "how", "which", "yesno")

_W = r"(?<![\wçğıöşü])"  # a word starts here (Turkish letters count as word characters)
_E = r"(?![\wçğıöşü])"  # … and ends here ("nerede" is no "neredeyse", "kaç" no "kaçtım")

# concept → what people write for it (lower-case regular expressions, matched where a word starts)
CONCEPTS: dict[str, tuple[str, ...]] = {
    # "hangi haberleri takip etmeliyim?" asks for sources, whatever the subject (first: it decides)
    "kaynak": ("hangi kaynak", "hangi haber", "ne tür haber", "ne tür kaynak", "kaynak(?!lı)", "haberleri takip",
               "hangi kitap", "kitap öner"),
    "temettü": ("temettü", "kâr payı", "kar payı"),
    "stop": ("stop(?!aj)", "zarar kes", "zararı kes"),
    "kaldıraç": ("kaldıraç",),
    "rsi": ("rs[iı](?![a-zçğıöşü])",),
    "teknik analiz": ("teknik analiz", "teknik", "grafik", "destek", "direnç"),
    "halka arz": ("halka arz",),
    "bilanço": ("bilanço",),
    "bedelsiz": ("bedelsiz",),
    "enflasyon": ("enflasyon", "tüfe"),
    "faiz": ("faiz", "ppk", "politika faizi"),
    "veri takvimi": ("veri takvimi", "veriler", "veri ne zaman", "açıklanacak veri"),
    "seans": ("seans", "borsa kaçta", "borsa saat"),
}
# instrument → what people write for it
SYMBOLS: dict[str, tuple[str, ...]] = {
    "BIST30": ("b[iı]st ?30",),
    "BIST100": ("b[iı]st ?100", "b[iı]st", "borsa", "endeks"),
    "USDTRY": ("usdtry", "dolar", "döviz", "kur(?![a-zçğıöşü])", "kuru(?!l|m)", "kurda"),
    "EURTRY": ("eurtry", "euro", "avro"),
    "BTCUSDT": ("btcusdt", "bitcoin", "btc", "kripto"),
    "ETHUSDT": ("ethusdt", "ethereum", "eth"),
    "XAUUSD": ("xauusd", "ons altın", "ons(?![a-zçğıöşü])"),
    "altın": ("gram altın", "altın"),  # the quoted gold is gram gold in TL (engine/market.py); the ounce is XAUUSD
    "TCMB": ("tcmb", "merkez bankası"),
}
STOCKS = ("GARAN", "AKBNK", "YKBNK", "ISCTR", "HALKB", "VAKBN", "THYAO", "PGSUS", "EREGL", "KRDMD", "SAHOL",
          "KCHOL", "SISE", "ASELS", "SASA", "PETKM", "HEKTS", "TUPRS", "BIMAS", "MGROS", "FROTO", "TOASO",
          "TCELL", "TTKOM", "KOZAL", "ARCLK", "EKGYO", "ENKAI", "TAVHL")

_QTYPE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("when", re.compile(_W + r"(ne zaman|hangi (gün|tarih|ay|hafta|saat)|kaçta|saat kaç|ne vakit|kaçında)" + _E)),
    ("why", re.compile(_W + r"(neden|niye|niçin|sebebi ne|nedeni ne|ne oldu|neyin etkisi|ne yüzünden)" + _E)),
    # "nereye gider?", "ne olur?" ask for a view of what comes, not today's figure
    ("yesno", re.compile(_W + r"(nereye gider|nereye gidiyor|nereye gidecek|ne olur|ne olacak|yükselir mi|düşer mi)"
                         + _E)),
    ("how_much", re.compile(_W + r"(ne kadar|kaç|kaça|kaçtan|yüzde kaç|fiyatı ne|seviyesi ne|nereye|nerede|"
                            r"hangi seviye)" + _E)),
    # "senin fikrin ne?" asks an opinion, not a definition
    ("yesno", re.compile(_W + r"(fikrin|fikriniz|görüşün|görüşünüz|yorumun|yorumunuz|tahminin|tahmininiz)"
                         r"\s+(ne|nedir|nasıl)" + _E)),
    ("what", re.compile(_W + r"(nedir|ne demek|ne işe yarar|ne anlama|nasıl bir şey|ne demektir|neyi gösterir|"
                        r"neyi gösteriyor|ne gösterir|ne anlatır|neyi ölçer|neyi ölçüyor|ne ölçer|"
                        r"(anlatan|açıklayan|anlatabilecek|açıklayabilecek)( biri)? (var mı|olur mu))" + _E
                        + r"|\bne\s*\?")),
    ("how", re.compile(_W + r"(nasıl)" + _E)),
    ("which", re.compile(_W + r"(hangi|hangisi)" + _E)),
)
_YESNO = re.compile(r"\?|" + _W + r"(m[ıiuü]|m[ıiuü]s[ıiuü]n|m[ıiuü]y[ıiuü]z|m[ıiuü]d[ıiuü]r|sence|sizce|"
                    r"ne dersin|ne dersiniz|ne düşünüyorsun|ne düşünüyorsunuz)(?![\wçğıöşü])")
_SENTENCE = re.compile(r"[^.!?…]+[.!?…]*")
# Without a "?", a chat question leaves its sentence open ("temettü ne zaman yatıyor"); a sentence closed
# with "." or "!" states ("EREGL neredeyse yerinde sayıyor."), and a particle inside a clause is an
# embedded question ("dönüyor mu ona bak"): the particle asks only at the sentence's end or before
# sence/sizce/acaba.
_OPEN_SENTENCE = re.compile(r"[^.!?…]+$")
_TAIL_PARTICLE = re.compile(_W + r"(m[ıiuü]|m[ıiuü]s[ıiuü]n|m[ıiuü]y[ıiuü]z|m[ıiuü]d[ıiuü]r)"
                            r"(?=\s*(?:[,;]?\s*(?:sence|sizce|acaba|peki)\s*)?[.!…]*\s*$)")
_WELCOME = re.compile(r"^\W*(?:[^\W\d_]+,\s*)?(?:ne demek|rica ederim|estağfurullah|önemli değil)\s*[,.!]")
_THANKS = re.compile(_W + r"(teşekkür|sağ ol|sağol|eyvallah|eline sağlık|emeğine sağlık|çok makbule|minnettar)")
_GREETING = re.compile(r"^\W*(günaydın|merhaba|selam|iyi akşamlar|iyi geceler|hayırlı sabahlar|herkese (merhaba|selam"
                       r"|günaydın|iyi)|hoş bulduk)")
_NEWS = re.compile(_W + r"(açıklandı|açıkladı|duyurdu|haber|kap'a|kap’a|karar(ı|ını)? (verdi|geldi|açıklandı)|"
                   r"son dakika|flaş|yükseltti|indirdi|sabit tuttu)")
_OPINION = re.compile(_W + r"(bence|bana göre|sanırım|galiba|kanaatimce|düşünüyorum|tahminim|beklentim)")

# What an answer of each type carries (Turkish lower case).
_MONTHS = r"ocak|şubat|mart|nisan|mayıs|haziran|temmuz|ağustos|eylül|ekim|kasım|aralık"
_DAYS = r"pazartesi|salı|çarşamba|perşembe|cuma|cumartesi|pazar"
EVIDENCE: dict[str, re.Pattern[str]] = {
    "when": re.compile(_W + rf"({_MONTHS}|{_DAYS}|ayın|her ay|yılda|takvim|tarih|genel kurul|hafta içi|hafta sonu|"
                       r"yarın|iş günü|saat \d|\d{1,2}[:.]\d\d|\d+\s*(gün|hafta|ay|yıl)|çeyrek|7/24|sabah|akşam)"),
    "how_much": re.compile(r"\d"),
    "why": re.compile(_W + r"(çünkü|nedeni|sebebi|yüzünden|etkisi|etkiliyor|dolayı|kaynaklı|bağlı|tetikle|baskı|"
                      r"beklenti|fiyatlıyor|sayesinde)"),
    "what": re.compile(r"[\wçğıöşü]+(d[ıiuü]r|t[ıiuü]r)(?![\wçğıöşü])|" + _W
                       + r"(demek|denir|anlamına|yani|olan|dediğimiz|kısaca)"),
    # "nasıl etkiler?" is answered by what happens when: "faiz artınca …", "… etkilenir"
    "how": re.compile(_W + r"(önce|sonra|adım|üzerinden|belirle|seç|koy|takip et|etkilenir|etkiler)"
                      r"|[\wçğıöşü]+(arak|erek|ınca|ince|unca|ünce)(?![\wçğıöşü])"),
    "which": re.compile(r"\b(" + "|".join(STOCKS) + r"|BIST30|BIST100|USDTRY|EURTRY|BTCUSDT|ETHUSDT|XAUUSD)\b"
                        r"|(?i:bitcoin|ethereum|altın|dolar|euro|temettü hisse|banka hisse|endeks fonu)"
                        r"|\b(KAP|TÜİK|TCMB)\b"),
    "yesno": re.compile(_W + r"(bence|bana göre|bana kalırsa|kanaatimce|kanımca|fikrimce|evet|hayır|mantıklı|olmaz|almam|alırım|beklerim|tutarım|"
                        r"satarım|katılıyorum|sanmıyorum|sanırım|düşünüyorum|tavsiye|öneririm|şart|iyi olur|acele etme|"
                        r"beklemek|erken|geç değil|olur|değer|riskli)"),
}


def tr_lower(text: str) -> str:
    """Turkish-aware lower case (I → ı, İ → i)."""
    return text.replace("I", "ı").replace("İ", "i").lower()


@lru_cache(maxsize=64)
def _forms_pattern(forms: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(_W + "(" + "|".join(sorted(forms, key=len, reverse=True)) + ")")


def subject_forms(subject: str) -> tuple[str, ...]:
    """The lower-case words that name ``subject`` (a concept key, an instrument or a stock ticker)."""
    if subject in CONCEPTS:
        return CONCEPTS[subject]
    if subject in SYMBOLS:
        return SYMBOLS[subject]
    return (re.escape(tr_lower(subject)),)


@dataclass(frozen=True)
class Ask:
    """What a message does (``act``), the question type when it asks, and what it is about."""

    act: str
    qtype: str | None = None
    concept: str | None = None  # temettü, stop, enflasyon, …
    symbol: str | None = None  # THYAO, USDTRY, BIST30, …

    @property
    def subject(self) -> str | None:
        """The concept when there is one (it is what is asked about), else the instrument."""
        return self.concept or self.symbol

    @property
    def is_question(self) -> bool:
        return self.act == "question"


_BELOW_BEFORE = re.compile(r"(\d[\d.,]*\s*(?:tl|puan|dolar|\$)?|[\wçğıöşü]+(?:n[ıiuü]n|[ıiuü]n|'[ıiuü]n|'n[ıiuü]n|"
                           r"’[ıiuü]n))[,]?\s*$")
_BELOW_AFTER = re.compile(r"^\s*(?:in|düş|sark|gel|kır|çekil|geril|kal|iner|iniş)")


_WORD_REST = re.compile(r"[\wçğıöşü’']*")


def _gold_sense(low: str, start: int, end: int) -> bool:
    """"altın…" at ``low[start:end]`` names gold, not "below": "30 altına inip", "desteğin altına",
    "altına inerse zarar keserim" do not."""
    end += len(_WORD_REST.match(low, end).group(0))  # type: ignore[union-attr]  # the rest of the word
    return not (_BELOW_BEFORE.search(low[:start]) or _BELOW_AFTER.match(low[end:]))


def _symbol_match(key: str, forms: tuple[str, ...], low: str) -> re.Match[str] | None:
    """The first place ``low`` names instrument ``key`` (gold only in its gold sense)."""
    return next((m for m in _forms_pattern(forms).finditer(low)
                 if key != "altın" or _gold_sense(low, m.start(), m.end())), None)


def _find_subject(low: str, text: str) -> tuple[str | None, str | None]:
    concept = next((key for key, forms in CONCEPTS.items() if _forms_pattern(forms).search(low)), None)
    symbol = next((t for t in STOCKS if re.search(rf"\b{t}\b", text.upper())), None)
    if symbol is None:
        # the most specific form wins: "bist30" before "bist", "gram altın" before "altın"
        hits = [(m.start(), -len(m.group(1)), key) for key, forms in SYMBOLS.items()
                if (m := _symbol_match(key, forms, low))]
        symbol = min(hits)[2] if hits else None
    return concept, symbol


@lru_cache(maxsize=4096)
def classify(text: str) -> Ask:
    """Read one chat message (mentions are ignored)."""
    clean = re.sub(r"@\w+", " ", str(text))
    low = tr_lower(" ".join(clean.split()))
    concept, symbol = _find_subject(low, clean)
    asked = [s for s in _SENTENCE.findall(low) if s.rstrip().endswith("?")]
    if asked:  # "Ne kadar güzel yazdın. RSI neyi gösteriyor?": the type comes from the sentence that asks
        low = asked[-1]
        c2, s2 = _find_subject(low, low.upper())
        concept, symbol = c2 or concept, s2 or symbol
    elif _WELCOME.search(low):  # "Ne demek, bol kazançlar!" answers a thank-you; it asks nothing
        return Ask("welcome", None, concept, symbol)
    else:  # no "?": only a sentence left open may ask (see _OPEN_SENTENCE)
        last = _OPEN_SENTENCE.search(low.rstrip())
        if last is None:
            return _statement(low, concept, symbol)
        low = last.group(0)
        if _TAIL_PARTICLE.search(low):
            return Ask("question", _qtype(low) or "yesno", concept, symbol)
        low = _TAIL_PARTICLE.sub(" ", low)
    qtype = _qtype(low)
    if qtype:
        return Ask("question", qtype, concept, symbol)
    if asked and _YESNO.search(low):
        return Ask("question", "yesno", concept, symbol)
    if not asked and re.search(_W + r"(sence|sizce|ne dersin|ne dersiniz|ne düşünüyorsun|ne düşünüyorsunuz)" + _E, low):
        return Ask("question", "yesno", concept, symbol)
    return _statement(re.sub(r"@\w+", " ", tr_lower(" ".join(str(text).split()))), concept, symbol)


def _qtype(low: str) -> str | None:
    return next((qtype for qtype, pattern in _QTYPE_RULES if pattern.search(low)), None)


def _statement(low: str, concept: str | None, symbol: str | None) -> Ask:
    """What a message that asks nothing does: thanks, a greeting, news, an opinion, a statement."""
    if _THANKS.search(low):
        return Ask("thanks", None, concept, symbol)
    if _GREETING.search(low) and len(low.split()) <= 8:
        return Ask("greeting", None, concept, symbol)
    if _NEWS.search(low) and (concept or symbol):
        return Ask("news", None, concept, symbol)
    if _OPINION.search(low):
        return Ask("opinion", None, concept, symbol)
    return Ask("statement", None, concept, symbol)


_PRICE = re.compile(r"\d[\d.]*,\d|\d\s*(?:TL|puan)\b|\$\s?\d")


def priced_symbol(text: str) -> str | None:
    """The instrument whose price ``text`` states ("EREGL … fiyat 31,43 TL" → EREGL), if it states one."""
    return classify(text).symbol if _PRICE.search(text) else None


def carries_subject(ask: Ask, reply: str) -> bool:
    """The reply names the question's concept or its instrument (True when the question named none)."""
    if ask.concept is None and ask.symbol is None:
        return True
    low = tr_lower(re.sub(r"@\w+", " ", reply))
    return any(_forms_pattern(subject_forms(s)).search(low) or (s in STOCKS and re.search(rf"\b{s}\b", reply))
               for s in (ask.concept, ask.symbol) if s)


def answers(question: str, reply: str) -> bool:
    """``reply`` answers ``question``: the question's subject and evidence of the asked type.
    False when ``question`` asks nothing."""
    ask = classify(question)
    if not ask.is_question or ask.qtype is None:
        return False
    body = re.sub(r"@\w+", " ", reply)
    evidence = EVIDENCE[ask.qtype]
    found = evidence.search(body if ask.qtype == "which" else tr_lower(body))
    return bool(found) and carries_subject(ask, reply)
