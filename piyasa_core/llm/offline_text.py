"""Offline text composer ("offline — not an LLM"): persona-aware Turkish market talk from templates.

``compose(hints, reply_to, seed)`` builds one chat message from independently chosen fragments
(opener, market observation with Turkish-formatted numbers, persona aside / stance / holding, closer)
taken from ``phrases``. Pure standard library, no network, deterministic per input.
Every result is checked against the output rules in ``offline_rules`` (no promises, no foreign words,
no stray upper-case words, no glued emoji, mention exactly once, length cap); a failing draft is redrawn.
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from piyasa_core.llm import phrases as ph
from piyasa_core.llm.asks import Ask, classify
from piyasa_core.llm.daytime import is_sign_off, time_phrase_violations
from piyasa_core.llm.offline_answer import answer_templates, lead_templates, social_templates, topic_of
from piyasa_core.llm.offline_rules import ALLOWED_UPPER, KNOWN_SYMBOLS, MENTION, acceptable, fragment_ok
from piyasa_core.llm.phrases.signoff import SIGN_OFF
from piyasa_core.llm.turkish import fix_surface

__all__ = ["ALLOWED_UPPER", "KNOWN_SYMBOLS", "MODES", "compose"]

MODES: tuple[str, ...] = ("new", "reply", "reaction", "human_reply")
_KIND_GROUPS: dict[str, set[str]] = {"asset": {"stock", "index", "fx", "crypto", "gold"},
                                     "macro": {"macro", "rate", "cb"}}

# ── Text helpers ────────────────────────────────────────────────────────────────────────────────
_SLOT = re.compile(r"\{([^{}]*)\}")
_NEEDS = re.compile(r"\{([^{}|]*)\}")
_QUESTION = re.compile(r"\b(nasıl|neden|niye|hangi)\b|\bm[iıuü]\b|\bne (diyor|dersin|oldu)")
_SENT_START = re.compile(r"(^|[.!?…]\s+)([a-zçğıöşü])")


def _tr_lower(text: str) -> str:
    """Turkish-aware lower case (I → ı, İ → i)."""
    return text.replace("I", "ı").replace("İ", "i").lower()


def _cap(text: str) -> str:
    """Upper-case the first letter, Turkish-aware; tickers and mentions are left alone."""
    if not text or not text[0].islower():
        return text
    first = {"i": "İ", "ı": "I"}.get(text[0], text[0].upper())
    return first + text[1:]


def _lower_first(text: str) -> str:
    """Lower the first letter for a mid-sentence position, unless it starts a name or a symbol."""
    first = text.split()[0] if text.split() else ""
    word = re.match(r"[^\W\d_]*", first)
    w = word.group(0) if word else ""
    if not w or w in ph.PROPER or any(c.isupper() for c in w[1:]) or not w[0].isupper():
        return text
    return _tr_lower(text[0]) + text[1:]


# ── Numbers ─────────────────────────────────────────────────────────────────────────────────────
def _num(value: float, decimals: int) -> str:
    """Turkish number format: 61.250,50 (dot thousands, decimal comma)."""
    s = f"{abs(value):,.{decimals}f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return ("-" if value < 0 else "") + s


def _pct(value: float) -> str:
    """Absolute percent figure without the sign: 1,2 / 0,05."""
    a = abs(value)
    return _num(a, 2 if a < 0.1 else 1)


def _fmt_price(kind: str, key: str, price: float, rng: random.Random) -> str:
    """A price as a Turkish chat writes it: 52,40 TL, 61.250 dolar, 32,45 (a rate), 9.850 puan."""
    if kind == "stock":
        return f"{_num(price, 2)} TL"
    if kind == "index":
        return f"{_num(price, 0)} puan" if price >= 1000 else f"{_num(price, 2)} TL"
    if kind == "fx":
        return _num(price, 2 if price >= 10 else 4)
    if kind == "crypto":
        if price >= 1000:
            v = _num(price, 0)
            return rng.choice((f"{v} dolar", f"${v}"))
        return f"{_num(price, 2)} dolar"
    if kind == "gold":
        return f"{_num(price, 0)} dolar" if key == "XAUUSD" else f"{_num(price, 2)} TL"
    return _num(price, 2)


# ── Topics ──────────────────────────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class _Topic:
    key: str
    kind: str
    short: tuple[str, ...]
    long: tuple[str, ...]
    market_keys: tuple[str, ...]
    drivers: tuple[str, ...]


def _resolve_topic(raw: str) -> _Topic:
    """Map a symbol or theme word onto a kind, display forms and market keys."""
    s = " ".join(str(raw).split())
    up, low = s.upper(), _tr_lower(s)
    if up == "BIST":
        up = "BIST100"
    if up in KNOWN_SYMBOLS:
        if up in ph.STOCK_SECTORS:
            return _Topic(up, "stock", (up,), (f"{up} hissesi", up), (up,), ph.DRIVERS[ph.STOCK_SECTORS[up]])
        if up in ph.INDICES:
            return _Topic(up, "index", (up,), (f"{up} endeksi", up), (up,), ph.DRIVERS["index"])
        if up == "USDTRY":
            # people say "dolar", "dolar/TL", not the pair code USDTRY
            return _Topic(up, "fx", ("dolar/TL", "dolar"), ("dolar/TL kuru", "dolar kuru"), (up,), ph.DRIVERS["fx"])
        if up == "EURTRY":
            return _Topic(up, "fx", ("euro/TL", "euro"), ("euro/TL kuru", "euro kuru"), (up,), ph.DRIVERS["fx"])
        if up in ph.CRYPTO:
            name = "Bitcoin" if up == "BTCUSDT" else "Ethereum"
            code = "BTC" if up == "BTCUSDT" else "ETH"
            return _Topic(up, "crypto", (name, code), (name, code), (up,), ph.DRIVERS["crypto"])
        if up == "XAUUSD":
            return _Topic(up, "gold", ("ons altın", "ons"), ("ons altın",), (up,), ph.DRIVERS["gold"])
        return _Topic("TCMB", "cb", ("TCMB", "Merkez Bankası"), ("TCMB", "Merkez Bankası"), (), ph.DRIVERS["cb"])
    if low in ph.THEMES:
        kind, key = ph.THEMES[low]
        if kind == "gold":  # the quote is gram gold in TL: never call it the ounce
            return _Topic(key, kind, ("altın", "gram altın"), ("gram altın", "altın"), (low, "altın"),
                          ph.DRIVERS["gold"])
        if kind == "crypto" and low == "kripto":
            return _Topic(key, kind, ("Bitcoin", "kripto tarafı"), ("Bitcoin", "kripto piyasası"), (key,),
                          ph.DRIVERS["crypto"])
        if kind == "index":
            return _Topic(key, kind, ("BIST100", "borsa"), ("BIST100 endeksi", "borsa"), (key,), ph.DRIVERS["index"])
        if kind == "fx" and low in ("dolar", "euro", "avro"):
            base = _resolve_topic(key)
            return _Topic(key, kind, (low,) + base.short, base.long, base.market_keys, base.drivers)
        if kind in ("fx", "cb") or (kind == "crypto"):
            return _resolve_topic(key)
        forms = {"macro": (("enflasyon",), ("enflasyon", "yıllık enflasyon")),
                 "rate": (("faiz", "faizler"), ("faizler", "faiz tarafı")),
                 "dividend": (("temettü", "temettü hisseleri"), ("temettü hisseleri",)),
                 "technical": (("teknik analiz",), ("teknik analiz",))}[kind]
        return _Topic(key, kind, forms[0], forms[1], (), ph.DRIVERS[kind])
    word = low if s and fragment_ok(s) and len(s) <= 30 and not any(c.isdigit() for c in s) else "piyasa"
    return _Topic(word, "generic", (word,), (word,), (), ph.DRIVERS["generic"])


def _kind_ok(tag: str, kind: str) -> bool:
    return any(kind == t or kind in _KIND_GROUPS.get(t, ()) for t in tag.split(","))


# ── Context ─────────────────────────────────────────────────────────────────────────────────────
@dataclass
class _Ctx:
    persona: str
    pools: Mapping[str, Sequence[str]]
    mode: str
    topic: _Topic
    quote: tuple[str, float, float] | None  # market key, price, change %
    market: Mapping[str, Any]
    mention: str | None
    name: str | None
    reply_question: bool = False
    reply_mood: str = ""
    sigs: list[str] = field(default_factory=list)
    emoji: list[str] = field(default_factory=list)
    stances: list[tuple[str, str, float, str]] = field(default_factory=list)  # display, view, conf, key
    holdings: list[tuple[str, float, str, _Topic]] = field(default_factory=list)
    max_chars: int = 400
    ask: Ask | None = None  # what the reply target does (None: not a reply)
    watch: tuple[str, ...] = ()
    hour: float | None = None
    topicless: bool = False  # a reply to a message about no subject: no topic, no market talk
    closing: bool = False  # the bot's last message before it leaves for a while: it may say goodbye
    past: tuple[str, ...] = ()  # the bot's seeded memories, first person (config.toml ``memories``)
    quoted: frozenset[str] = frozenset()  # instruments whose price the chat has just stated: not said again


def _stable_seed(seed: int, *fields: object) -> int:
    """A process-independent seed from the caller's seed and a few hint fields."""
    digest = hashlib.blake2b(repr((int(seed),) + fields).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _first_name(display: str) -> str | None:
    words = re.findall(r"[^\W\d_]+", str(display).split("_")[0] if " " not in str(display) else str(display))
    if not words:
        return None
    name = words[0]
    name = name[0].upper() + name[1:].lower() if name.isupper() or name.islower() else name
    return name if fragment_ok(name) else None


def _quote(topic: _Topic, market: Mapping[str, Any]) -> tuple[str, float, float] | None:
    for key in topic.market_keys:
        entry = market.get(key)
        if isinstance(entry, Mapping):
            try:
                price, pct = float(entry.get("price")), float(entry.get("change_pct", 0.0))
            except (TypeError, ValueError):
                continue
            if price > 0 and abs(pct) < 60 and price == price and pct == pct:
                return key, price, pct
    return None


def _context(hints: Mapping[str, Any], reply_to: tuple[str, str, bool] | None, seed: int) -> _Ctx:
    persona = str(hints.get("persona") or "neutral").strip().lower()
    persona = persona if persona in ph.P else "neutral"
    mode = str(hints.get("mode") or ("reply" if reply_to else "new")).strip().lower()
    mode = mode if mode in MODES else "new"
    defaults = ph.DEFAULTS[persona]
    rng = random.Random(_stable_seed(seed, "ctx", persona, mode, str(hints.get("topic")),
                                     str(hints.get("username") or hints.get("bot_name"))))
    mention = str(hints.get("mention") or "").strip().lstrip("@") or None
    if mention and not re.fullmatch(r"\w{1,64}", mention):
        mention = None
    market = hints.get("market") if isinstance(hints.get("market"), Mapping) else {}
    watch = [str(w) for w in (hints.get("watchlist") or ()) if str(w).strip()] or list(defaults["watch"])
    hinted = str(hints.get("topic") or "").strip()
    raw_topic = hinted or rng.choice(watch)
    name, question, mood, ask = None, False, "", None
    if reply_to is not None and mode != "new":
        author, text = str(reply_to[0] or ""), str(reply_to[1] or "")
        name = _first_name(author)
        low = _tr_lower(MENTION.sub(" ", text))
        ask = classify(text)
        question = ask.is_question
        ups, downs = sum(w in low for w in ph.UP_WORDS), sum(w in low for w in ph.DOWN_WORDS)
        mood = "up" if ups > downs else "down" if downs > ups else ""
        raw_topic = topic_of(ask) or raw_topic  # a reply keeps its target's subject, never a random one
        topicless = not hinted and topic_of(ask) is None
    else:
        topicless = False
    topic = _resolve_topic(raw_topic)
    sigs = [str(s).strip() for s in (hints.get("signature_phrases") or ()) if fragment_ok(str(s).strip())]
    emoji = [str(e).strip() for e in (hints.get("emoji") or defaults["emoji"])
             if str(e).strip() and len(str(e).strip()) <= 4 and not any(c.isalnum() for c in str(e))]
    stances = []
    for st in hints.get("stances") or ():
        if not isinstance(st, Mapping):
            continue
        t, view = str(st.get("topic") or "").strip(), str(st.get("view") or "").strip().rstrip(".")
        disp = t.upper() if t.upper() in KNOWN_SYMBOLS else t
        try:
            conf = float(st.get("confidence", 0.5))
        except (TypeError, ValueError):
            conf = 0.5
        if disp and fragment_ok(disp) and fragment_ok(view):
            stances.append((disp, view[0].lower() + view[1:] if view[:1].isupper() and not view.split()[0].isupper()
                            else view, conf, _resolve_topic(t).key))
    holdings = []
    for h in hints.get("holdings") or ():
        if not isinstance(h, Mapping):
            continue
        sym = str(h.get("symbol") or "").strip().upper()
        try:
            avg = float(h.get("avg_price"))
        except (TypeError, ValueError):
            continue
        note = str(h.get("note") or "").strip()
        if sym in KNOWN_SYMBOLS and avg > 0:
            holdings.append((sym, avg, note if fragment_ok(note) else "", _resolve_topic(sym)))
    try:
        max_chars = int(hints.get("max_chars") or 400)
    except (TypeError, ValueError):
        max_chars = 400
    pools = {**ph.P["neutral"], **ph.P[persona]}
    return _Ctx(persona, pools, mode, topic, _quote(topic, market), market, mention, name, question, mood,
                sigs, emoji, stances, holdings, max(8, max_chars), ask,
                tuple(w for w in watch if w.upper() in KNOWN_SYMBOLS), _hour(hints.get("hour")), topicless,
                bool(hints.get("closing")),
                tuple(m for m in (str(x).strip().rstrip(".") for x in hints.get("past") or ()) if fragment_ok(m)),
                frozenset(str(q) for q in hints.get("quoted") or ()))


# ── Template expansion ──────────────────────────────────────────────────────────────────────────
def _expand(template: str, rng: random.Random, slots: Mapping[str, Any]) -> str:
    """Fill ``{a|b}`` choices and ``{SLOT}`` values (a sequence value is drawn per occurrence)."""
    def repl(m: re.Match[str]) -> str:
        body = m.group(1)
        if "|" in body:
            return rng.choice(body.split("|"))
        value = slots[body]
        return value if isinstance(value, str) else rng.choice(tuple(value))
    while "{" in template:
        template = _SLOT.sub(repl, template)
    return template


_SYN_FORMS: dict[str, str] = {k: k for k in ph.SYNONYMS} | {_cap(k): k for k in ph.SYNONYMS}
_SYN_RE = re.compile(r"(?<![\w'])(" + "|".join(sorted(map(re.escape, _SYN_FORMS), key=len, reverse=True))
                     + r")(?![\w'])")


def _vary(template: str, rng: random.Random) -> str:
    """Swap some words of a template for drop-in variants (hint values are never touched)."""
    def repl(m: re.Match[str]) -> str:
        word, key = m.group(0), _SYN_FORMS[m.group(0)]
        prev = template[:m.start()].replace("{", " ").replace("|", " ").split()[-1:]
        nxt = template[m.end():].replace("}", " ").replace("|", " ").split()[:1]
        before, after = ph.SYN_GUARDS.get(key, (frozenset(), frozenset()))
        if (prev and _tr_lower(prev[0]) in before) or (nxt and _tr_lower(nxt[0]) in after) or rng.random() < 0.5:
            return word
        choice = rng.choice(ph.SYNONYMS[key])
        return _cap(choice) if word[0].isupper() else choice
    return _SYN_RE.sub(repl, template)


@functools.lru_cache(maxsize=8192)  # templates come from the phrase tables: parsed once, not per message
def _template(raw: str) -> tuple[str, str, tuple[str, ...]]:
    """(kind tag or "", template, slot names it needs) of one pool entry such as "[fx] {S} …"."""
    tag, tpl = raw[1:].split("] ", 1) if raw.startswith("[") else ("", raw)
    return tag, tpl, tuple(_NEEDS.findall(tpl))


def _pick(rng: random.Random, pool: Sequence[str], slots: Mapping[str, Any], kind: str) -> str | None:
    """Expand one usable template of ``pool`` (kind-tagged ones count double for their kinds)."""
    options: list[str] = []
    for raw in pool:
        tag, tpl, needs = _template(raw)
        if tag and not _kind_ok(tag, kind):
            continue
        if all(need in slots for need in needs):
            options.extend([tpl, tpl] if tag else [tpl])
    return _tidy(_expand(_vary(rng.choice(options), rng), rng, slots)) if options else None


def _tidy(text: str) -> str:
    """Spacing, punctuation and Turkish sentence capitals."""
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"\s+([,.!?;:)])", r"\1", text)
    text = re.sub(r",\s*,", ",", text)
    text = re.sub(r"([!?])\.", r"\1", text)
    text = re.sub(r"(?<!\.)\.\.(?!\.)", ".", text)
    if text and text[-1] not in ".!?…":
        text += "."
    return _SENT_START.sub(lambda m: m.group(1) + _cap(m.group(2)), _cap(text))


def _slots(ctx: _Ctx, rng: random.Random) -> dict[str, Any]:
    """Slot values shared by every fragment of one message."""
    t = ctx.topic
    slots: dict[str, Any] = {"VOC": ctx.pools["voc"]}
    if not ctx.topicless:
        slots.update({"T": t.short, "TH": t.long, "DRV": t.drivers})
    if ctx.mode in ("reply", "human_reply", "reaction") or ctx.mention:
        if ctx.mention:
            slots["N"] = "@" + ctx.mention
        elif ctx.name and rng.random() < 0.85:
            slots["N"] = ctx.name
        else:
            slots["N"] = _cap(rng.choice(ctx.pools["voc1"]))
            slots["N_VOC"] = "1"
    if ctx.quote and not ctx.topicless:
        key, price, pct = ctx.quote
        slots["P"] = _fmt_price(t.kind, key, price, rng)
        slots["CHG"] = _pct(pct)
        sup = price * (1 - rng.uniform(0.015, 0.07))
        res = price * (1 + rng.uniform(0.015, 0.07))
        slots["SUP"] = _fmt_price(t.kind, key, sup, rng)
        slots["RES"] = _fmt_price(t.kind, key, res, rng)
        rsi = int(max(12, min(88, 50 + pct * 5 + rng.randint(-9, 9))))
        zone = "aşırı alım bölgesinde" if rsi >= 70 else "aşırı satım bölgesinde" if rsi <= 30 else "nötr bölgede"
        slots["RSIP"] = (f"{rsi} seviyesinde, {zone}", f"{rsi} ile {zone}", f"{rsi} civarında, yani {zone}")
        slots["YLD"] = "%" + _num(rng.uniform(2.5, 9.5), 1)
        slots["DIRW"] = ("yükseldi", "artıda") if pct >= 0.15 else ("geriledi", "ekside") if pct <= -0.15 \
            else ("değişimle yatay", "ile yerinde sayıyor")
    stocks = tuple(w for w in ctx.watch if w.upper() in ph.STOCK_SECTORS)
    if stocks:
        slots["W"] = stocks
    return slots


# ── Fragments ───────────────────────────────────────────────────────────────────────────────────
def _market_sentence(ctx: _Ctx, rng: random.Random, slots: dict[str, Any]) -> tuple[str, str]:
    """The numbers sentence and the persona's comment on the day's direction."""
    assert ctx.quote is not None
    pct = ctx.quote[2]
    direction = "up" if pct >= 0.15 else "down" if pct <= -0.15 else "flat"
    pool = {"up": ph.MARKET_UP, "down": ph.MARKET_DOWN, "flat": ph.MARKET_FLAT}[direction]
    clause = _pick(rng, pool, slots, ctx.topic.kind) or ""
    if clause and rng.random() < 0.3:
        clause = f"{(_pick(rng, ph.MARKET_LEAD, slots, ctx.topic.kind) or '').rstrip('.')}, {_lower_first(clause)}"
    comment = _pick(rng, ctx.pools[direction], slots, ctx.topic.kind) or ""
    return clause, comment


def _move_name(text: str | None, name: str, keep: bool, rng: random.Random, voc: bool,
               interjections: Sequence[str] = ("Şimdi",)) -> str | None:
    """Vary where the addressee's name sits: leading (default), after the first clause, behind an
    interjection, or (without a mention) dropped."""
    if not text or not text.startswith(name + ", "):
        return text
    rest, roll = text[len(name) + 2:], rng.random()
    if roll < 0.22 and not keep:
        return _tidy(rest)
    m = re.search(r"[.!?;:](\s|$)", rest)
    moved = _lower_first(name) if voc else name
    if roll < 0.45 and m and m.start() > 0:
        return _tidy(f"{rest[:m.start()]}, {moved}{rest[m.start():]}")
    if roll < 0.62 and not rest.startswith(("Evet", "Aynen", "Bak")):
        return f"{rng.choice(interjections)} {moved}, {rest}"
    return text


def _stance(ctx: _Ctx, rng: random.Random, slots: dict[str, Any], matching_p: float, other_p: float) -> str | None:
    matching = [s for s in ctx.stances if s[3] == ctx.topic.key]
    if matching and rng.random() < matching_p:
        disp, view, conf, _ = rng.choice(matching)
    elif ctx.stances and rng.random() < other_p:
        disp, view, conf, _ = rng.choice(ctx.stances)
    else:
        return None
    pool = ph.STANCE_FIRM if conf >= 0.55 else ph.STANCE_SOFT
    return _pick(rng, pool, {**slots, "T_ST": disp, "SV": view}, ctx.topic.kind)


def _holding(ctx: _Ctx, rng: random.Random, slots: dict[str, Any], matching_p: float, other_p: float) -> str | None:
    matching = [h for h in ctx.holdings if h[3].key == ctx.topic.key]
    if matching and rng.random() < matching_p:
        sym, avg, note, topic = rng.choice(matching)
    elif ctx.holdings and rng.random() < other_p:
        sym, avg, note, topic = rng.choice(ctx.holdings)
    else:
        return None
    quote = _quote(topic, ctx.market)
    pl = ""
    if quote and rng.random() < 0.6:
        change = (quote[1] / avg - 1) * 100
        if abs(change) < 0.5:
            pl = rng.choice((", şu an başabaş", ", şimdilik başabaş"))
        elif abs(change) < 300:
            word = "kârdayım" if change > 0 else "zarardayım"
            pl = f", {rng.choice(('şu an', 'şimdilik', 'bugün itibarıyla'))} %{_pct(change)} {word}"
    extra = {"HS": sym, "HP": _fmt_price(topic.kind, sym, avg, rng), "PL": pl}
    if note:
        extra["NOTE"] = note
    return _pick(rng, ph.HOLDING, {**slots, **extra}, ctx.topic.kind)


def _signature(ctx: _Ctx, rng: random.Random, slots: dict[str, Any]) -> str | None:
    if not ctx.sigs:
        return None
    sig = rng.choice(ctx.sigs)
    low = _tr_lower(sig)
    if _QUESTION.search(low):
        pool: Sequence[str] = ph.SIG_WRAP_Q
    elif " " not in sig:
        pool = ph.SIG_WRAP[:2]
    else:
        pool = ph.SIG_WRAP[:2] * 2 + ph.SIG_WRAP[2:]
    return _pick(rng, pool, {**slots, "SIG": _cap(sig), "sig": sig}, ctx.topic.kind)


def _reaction(ctx: _Ctx, rng: random.Random, slots: dict[str, Any]) -> str:
    """1–6 words, optionally one emoji."""
    short_sigs = [s for s in ctx.sigs if len(s.split()) <= 3]
    text = _cap(rng.choice(short_sigs)) if short_sigs and rng.random() < 0.25 else rng.choice(ctx.pools["react"])
    if _QUESTION.search(_tr_lower(text)):
        text = text.rstrip("?") + "?"
    else:
        text += rng.choice(("", "", ".", "!"))
    if ctx.mention:
        text = f"@{ctx.mention} {text}"
    if ctx.emoji and rng.random() < 0.5:
        text += " " + rng.choice(ctx.emoji)
    return text


def _answer(ctx: _Ctx, rng: random.Random, slots: dict[str, Any]) -> str | None:
    """The first sentence of a reply to a question: the persona's answer of the asked type, from
    what it knows about the question's subject (``offline_answer``); None when it knows nothing."""
    assert ctx.ask is not None
    for pool in answer_templates(ctx.persona, ctx.ask, ctx.topic.kind):
        fact = _pick(rng, pool, slots, ctx.topic.kind)
        if fact:
            fact = _lower_first(fact).rstrip(".")
            if rng.random() < 0.55:
                lead = _expand(rng.choice(lead_templates(ctx.persona, ctx.ask.qtype)), rng, slots)
                fact = f"{lead}, {fact}"
            return _move_name(_tidy(f"{slots['N']}, {fact}"), str(slots["N"]), bool(ctx.mention), rng,
                              "N_VOC" in slots, ph.INTERJECTIONS[ctx.persona])
    return None


def _social(ctx: _Ctx, rng: random.Random, slots: dict[str, Any]) -> list[tuple[str, int]] | None:
    """Thanks back or a greeting back (nothing about a topic the target never raised)."""
    assert ctx.ask is not None
    pool = social_templates(ctx.persona, ctx.ask, ctx.hour)
    text = _pick(rng, pool, slots, ctx.topic.kind) if pool else None
    return [(text, 0)] if text else None


def _parts(ctx: _Ctx, rng: random.Random, slots: dict[str, Any]) -> list[tuple[str, int]]:
    """Ordered (sentence, priority) fragments; priority 0 must stay, higher numbers drop first."""
    kind, pools = ctx.topic.kind, ctx.pools
    parts: list[tuple[str | None, int]] = []
    mode = ctx.mode
    head = None
    if mode in ("reply", "human_reply") and ctx.ask is not None:
        if ctx.ask.act in ("thanks", "greeting") and (social := _social(ctx, rng, slots)):
            return social
        if ctx.ask.is_question:
            answer = _answer(ctx, rng, slots) or _pick(rng, ph.knowledge.DUNNO.get(ctx.persona, ph.knowledge.DUNNO[
                "neutral"]), slots, kind)
            parts.append((answer, 0))
            parts.append((_stance(ctx, rng, slots, 0.5, 0.0), 4))
            parts.append((_holding(ctx, rng, slots, 0.4, 0.0), 4))
            if mode == "human_reply" and rng.random() < 0.35:
                parts.append((_pick(rng, pools.get("disclaimer", ph.DISCLAIMER), slots, kind), 5))
            return [(p, prio) for p, prio in parts if p]
    if mode in ("reply", "human_reply"):
        if mode == "human_reply":
            head = "human"
        elif ctx.reply_question and rng.random() < 0.7:
            head = "answer"
        else:
            head = "agree" if rng.random() < ph.AGREE_P[ctx.persona] else "disagree"
        first = _move_name(_pick(rng, pools[head], slots, kind), str(slots["N"]), bool(ctx.mention), rng,
                           "N_VOC" in slots, ph.INTERJECTIONS[ctx.persona])
        parts.append((first, 0))
        if rng.random() < 0.3 and "soru" not in (first or ""):
            echo = ph.ECHO_Q if ctx.reply_question else {"up": ph.ECHO_UP, "down": ph.ECHO_DOWN}.get(ctx.reply_mood)
            if echo:
                parts.append((_pick(rng, echo, slots, kind), 6))
        if ctx.topicless:
            return [(p, prio) for p, prio in parts if p]
    elif rng.random() < 0.7:
        parts.append((_pick(rng, pools["open"], slots, kind), 1))
    quote_p = {"new": 0.85, "reply": 0.45, "human_reply": 0.6}[mode]
    # three bots answering one post each with "EREGL şu an 31,43 TL" read as an echo: a price the chat
    # has just stated is not stated again
    if ctx.quote and ctx.quote[0] not in ctx.quoted and rng.random() < quote_p:
        clause, comment = _market_sentence(ctx, rng, slots)
        joined = f"{clause} {comment}" if comment and rng.random() < 0.75 else clause
        parts.append((joined, 1 if mode == "new" else 2))
        if "num" in pools and rng.random() < 0.6:
            parts.append((_pick(rng, pools["num"], slots, kind), 3))
        if rng.random() < 0.25:
            parts.append((_pick(rng, pools["obs"], slots, kind), 5))
    elif mode == "new" or rng.random() < 0.6:
        parts.append((_pick(rng, pools["obs"], slots, kind), 1 if mode == "new" else 3))
    extras: list[tuple[str | None, int]] = []
    aside_p = {"new": 0.35, "reply": 0.25, "human_reply": 0.2}[mode]
    if rng.random() < aside_p:
        extras.append((_pick(rng, pools["aside"], slots, kind), 4))
    extras.append((_stance(ctx, rng, slots, 0.35, 0.08), 4))
    extras.append((_holding(ctx, rng, slots, 0.3, 0.06), 4))
    if ctx.past and mode == "new" and rng.random() < 0.12:  # now and then the bot tells of its past
        extras.append((_pick(rng, ph.MEMORY_WRAP, {**slots, "MEM": rng.choice(ctx.past)}, kind), 4))
    rng.shuffle(extras)
    parts.extend(extras)
    if rng.random() < (0.3 if mode == "new" else 0.2):
        sig = _signature(ctx, rng, slots)
        parts.insert(rng.randint(1, len(parts)) if parts else 0, (sig, 5))
    if mode == "human_reply" and rng.random() < 0.35:
        parts.append((_pick(rng, pools.get("disclaimer", ph.DISCLAIMER), slots, kind), 5))
    # a closing line asks for help or thanks ahead ("Bilen biri anlatırsa sevinirim"): not after saying
    # the answer was understood ("Çok sağ olun, daha iyi anladım")
    if head != "agree" and rng.random() < {"new": 0.5, "reply": 0.3, "human_reply": 0.3}[mode]:
        parts.append((_pick(rng, pools["close"], slots, kind), 4))
    if mode == "new" and ctx.mention:
        parts.append((_pick(rng, ph.MENTION_CLOSE, slots, kind), 0))
    elif ctx.closing and mode != "reaction" and rng.random() < 0.6:
        parts.append((_pick(rng, SIGN_OFF.get(ctx.persona, SIGN_OFF["neutral"]), slots, kind), 2))
    clean = [(p, prio) for p, prio in parts if p]
    fillers = ph.FILLERS.get(ctx.persona, ph.FILLERS["neutral"])
    for i in range(1, len(clean)):
        text, prio = clean[i]
        if prio and rng.random() < 0.2 and not text.startswith("@") and "," not in " ".join(text.split()[:3]):
            filler = rng.choice(fillers)
            if _tr_lower(text.split()[0]).strip(",.!?") != _tr_lower(filler.split()[0]):
                clean[i] = (f"{filler}, {_lower_first(text)}", prio)
    if not any(prio <= 1 for _, prio in clean) and clean:
        clean[0] = (clean[0][0], 0)
    return clean


def _truncate(text: str, limit: int, keep: str | None) -> str:
    """Shorten at a word boundary (never inside a word or symbol); keep ``keep`` (the mention)."""
    if len(text) <= limit:
        return text
    if keep and len(keep) + 2 <= limit:
        rest = re.sub(r"(,\s*)?" + re.escape(keep) + r"(?!\w)(,\s*)?", " ", text)
        rest = re.sub(r"\s+([,.!?;:])", r"\1", " ".join(rest.split())).lstrip(",;: ")
        return keep + " " + _truncate(rest, limit - len(keep) - 1, None)
    words, out = text.split(), ""
    for w in words:
        if len(out) + len(w) + (1 if out else 0) > limit - 1:
            break
        out = f"{out} {w}" if out else w
    out = re.sub(r"[\s,;:–-]+$", "", out)
    out = re.sub(r"\s+\b(ve|ama|için|ile|bir|da|de|ya|ki)$", "", out)
    if out and out[-1] not in ".!?…" and len(out) < limit:
        out += "…"
    return out


def _fit(parts: list[tuple[str, int]], soft: int, budget: int, keep: str | None) -> str:
    """Keep mandatory fragments, add optional ones by priority while under the soft length."""
    chosen = {i for i, (_, prio) in enumerate(parts) if prio == 0}
    length = sum(len(parts[i][0]) + 1 for i in chosen)
    for i in sorted(range(len(parts)), key=lambda j: (parts[j][1], j)):
        if i in chosen:
            continue
        add = len(parts[i][0]) + 1
        limit = budget if parts[i][1] <= 1 and length == 0 else min(soft, budget)
        if length + add <= limit + 1:
            chosen.add(i)
            length += add
    text = " ".join(parts[i][0] for i in sorted(chosen))
    if not text and parts:
        text = parts[0][0]
    return _truncate(text, budget, keep)


_UP_RE = re.compile(r"(?<![\wçğıöşü])(" + "|".join(ph.UP_WORDS) + ")")
_DOWN_RE = re.compile(r"(?<![\wçğıöşü])(" + "|".join(w + "(?!ün)" if w == "düş" else w for w in ph.DOWN_WORDS) + ")")
"""A stated move: the mood words at a word's start ("düşünce" is a thought, not a fall)."""
_UP_EMOJI = frozenset({"📈", "🚀"})
_DOWN_EMOJI = frozenset({"📉", "🔻"})


def _build(ctx: _Ctx, rng: random.Random) -> str:
    slots = _slots(ctx, rng)
    keep = "@" + ctx.mention if ctx.mention else None
    if ctx.mode == "reaction":
        return _reaction(ctx, rng, slots)
    parts = _parts(ctx, rng, slots)
    n_emoji = rng.choices((0, 1, 2), weights=ph.EMOJI_WEIGHTS.get(ctx.persona, ph.EMOJI_WEIGHTS["neutral"]))[0]
    n_emoji = min(n_emoji, len(ctx.emoji))
    room = sum(sorted((len(e) + 1 for e in ctx.emoji), reverse=True)[:n_emoji])
    if room * 4 > ctx.max_chars:
        n_emoji = room = 0
    lo, hi = ph.SOFT_LEN[ctx.persona]
    text = _fit(parts, rng.randint(lo, hi), ctx.max_chars - room, keep)
    said = _tr_lower(text)
    ups, downs = len(_UP_RE.findall(said)), len(_DOWN_RE.findall(said))
    # a direction emoji goes with a stated move only: no 📉 under "bugün %1,7 artıda", none under "günaydın"
    against = _DOWN_EMOJI if ups > downs else _UP_EMOJI if downs > ups else (
        frozenset() if ups else _UP_EMOJI | _DOWN_EMOJI)
    if "?" not in text:
        against = against | {"❓"}  # a question mark of an emoji under a message that asks nothing
    fitting = [e for e in ctx.emoji if e not in against]  # no 📉 under "bugün %1,7 artıda"
    emojis = rng.sample(fitting, min(n_emoji, len(fitting))) if fitting else []
    return text + ((" " + " ".join(emojis)) if emojis else "")


def _hour(value: Any) -> float | None:
    try:
        hour = float(value)
    except (TypeError, ValueError):
        return None
    return hour if 0 <= hour < 24 else None


def _fallback(ctx: _Ctx) -> str:
    """A minimal safe message for pathological hints (e.g. a tiny ``max_chars``)."""
    base = "Takipteyim." if ctx.mode != "new" else "Piyasayı izliyorum."
    text = f"@{ctx.mention} {base}" if ctx.mention else base
    if len(text) > ctx.max_chars:
        text = f"@{ctx.mention}" if ctx.mention and len(ctx.mention) < ctx.max_chars else "Hmm."[: ctx.max_chars]
    return text


def compose(hints: Mapping[str, Any], reply_to: tuple[str, str, bool] | None, seed: int) -> str:
    """One persona-aware Turkish chat message; deterministic for the same (hints, reply_to, seed).

    ``hints``: persona, bot_name, username, signature_phrases, emoji, watchlist, topic, mode
    ("new" | "reply" | "reaction" | "human_reply"), mention, market {symbol: {price, change_pct}},
    stances, holdings, max_chars (default 400), hour (local hour of day: time-of-day phrases must be
    true then; absent: not checked), closing (the bot leaves after this message: only then may it
    say goodbye). ``reply_to``: (author display name, text, is_human).
    """
    ctx = _context(hints, reply_to, seed)
    hour = _hour(hints.get("hour"))
    who = str(hints.get("username") or hints.get("bot_name") or "")
    reply_text = reply_to[1] if reply_to else ""
    for attempt in range(8):
        rng = random.Random(_stable_seed(seed, ctx.persona, ctx.mode, ctx.topic.key, who, ctx.mention,
                                         reply_text, attempt))
        text = fix_surface(_build(ctx, rng))
        if acceptable(text, ctx.max_chars, ctx.mention, ctx.mode) and \
                (hour is None or not time_phrase_violations(text, hour)) and (ctx.closing or not is_sign_off(text)):
            return text
    return _fallback(ctx)
