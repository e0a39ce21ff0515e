"""Market context: a deterministic simulated price tape plus optional RSS headlines.

The tape is a pure function of ``(seed, symbol, t // step_seconds)``: every worker process computes
the identical :class:`MarketSnapshot` for the same simulated moment without sharing any state.

Model (log price)::

    log p(t) = log base + drift · days + L(day) + B(day, step)

* ``L(day)`` — the level at the day's open: a multi-scale value noise over the day index (scales
  1, 2, 4 … 128 days, node values from ``blake2b(seed, symbol, scale, node)``). Day-to-day it moves
  like a random walk with the symbol's daily volatility, over months it reverts around ``base``, and
  it costs O(number of scales) per day — no summing from an epoch.
* ``B(day, step)`` — an intraday random walk over the day's steps (1440 one-minute steps by default),
  drawn from one ``shake_256`` stream per (seed, symbol, day) and pinned as a bridge so that the
  close meets the next day's open. Computed once per (symbol, day) and cached (LRU).
* BIST stocks and indices move only in the session 10:00–18:00 Istanbul time (flat overnight, every
  day of the week — weekends are not modelled); FX, crypto and gold trade around the clock.
* Days are Istanbul days: ``(t + 3 h) // 86400`` (Türkiye has kept UTC+3 without DST since 2016).
  ``change_pct`` is the change since that day's open (for BIST: since the previous session's close).
* Related instruments move together, from shared factors (``DERIVED``): gram gold in TL is
  ``XAUUSD × USDTRY / 31.1035``; ``EURTRY`` is ``USDTRY × EURUSD`` (a hidden factor around 1.16), so
  the implied cross rate stays plausible; ``BIST30`` is ``BIST100 ×`` a slowly wandering ratio around
  1.10 (vol 0.3 %/day), so the 30 large caps stay above the broad index as they do.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import struct
import time
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import feedparser

from piyasa_core.engine.types import MarketSnapshot, Quote

log = logging.getLogger(__name__)

DAY = 86400.0
IST_OFFSET = 3 * 3600.0  # Europe/Istanbul, fixed UTC+3
ANCHOR_DAY = 20393  # 2025-11-01 (Istanbul day index): base prices are centred here
GRAM_PER_OUNCE = 31.1035
_SCALES = 8  # 1 … 128 days
_U32 = 1.0 / 4294967296.0
_LOG_GRAM = math.log(GRAM_PER_OUNCE)


@dataclass(frozen=True)
class SymbolSpec:
    """How one instrument behaves: base price, daily volatility and drift (log units), rounding."""

    base: float
    vol: float
    kind: str  # stock | index | fx | crypto | gold
    drift: float = 0.0
    decimals: int = 2
    session: bool = False  # BIST: moves only 10:00–18:00


def _stock(base: float, vol: float = 0.02) -> SymbolSpec:
    return SymbolSpec(base, vol, "stock", 0.0003, 2, True)


SPECS: dict[str, SymbolSpec] = {
    "GARAN": _stock(135.0, 0.022), "AKBNK": _stock(62.0, 0.022), "YKBNK": _stock(33.0, 0.023),
    "ISCTR": _stock(14.5, 0.022), "HALKB": _stock(30.0, 0.024), "VAKBN": _stock(29.0, 0.024),
    "THYAO": _stock(300.0), "PGSUS": _stock(230.0, 0.022), "TAVHL": _stock(290.0), "EREGL": _stock(28.0),
    "KRDMD": _stock(28.0, 0.022), "SAHOL": _stock(92.0, 0.018), "KCHOL": _stock(170.0, 0.018),
    "ENKAI": _stock(70.0, 0.018), "SISE": _stock(38.0), "ASELS": _stock(190.0, 0.025),
    "SASA": _stock(3.2, 0.03), "PETKM": _stock(20.0, 0.024), "HEKTS": _stock(3.0, 0.03),
    "TUPRS": _stock(180.0, 0.018), "BIMAS": _stock(530.0, 0.016), "MGROS": _stock(520.0, 0.018),
    "FROTO": _stock(95.0, 0.018), "TOASO": _stock(230.0, 0.02), "TCELL": _stock(100.0, 0.018),
    "TTKOM": _stock(58.0, 0.02), "KOZAL": _stock(22.0, 0.025), "ARCLK": _stock(130.0, 0.02),
    "EKGYO": _stock(17.0, 0.024),
    "BIST30": SymbolSpec(11900.0, 0.013, "index", 0.0003, 2, True),
    "BIST100": SymbolSpec(10800.0, 0.012, "index", 0.0003, 2, True),
    # FX: slow upward drift of the lira pairs (~20 % a year)
    "USDTRY": SymbolSpec(42.0, 0.0025, "fx", 0.0005, 4),
    "EURTRY": SymbolSpec(48.7, 0.004, "fx", 0.0005, 4),
    "BTCUSDT": SymbolSpec(105000.0, 0.03, "crypto", 0.0, 0),
    "ETHUSDT": SymbolSpec(3600.0, 0.035, "crypto", 0.0, 2),
    "XAUUSD": SymbolSpec(4000.0, 0.009, "gold", 0.0002, 2),
}
"""Default instruments: BIST stocks (banks a little more volatile), indices, FX, crypto, gold.
Bases are plausible late-2025 levels."""

HIDDEN: dict[str, SymbolSpec] = {
    "_EURUSD": SymbolSpec(1.16, 0.004, "fx", 0.0, 4),
    "_BIST30_RATIO": SymbolSpec(1.10, 0.003, "index", 0.0, 4, True),
}
"""Factors that are never quoted: they only make up derived instruments."""

DERIVED: dict[str, tuple[tuple[str, str], float]] = {
    "altın": (("XAUUSD", "USDTRY"), -_LOG_GRAM),
    "EURTRY": (("USDTRY", "_EURUSD"), 0.0),
    "BIST30": (("BIST100", "_BIST30_RATIO"), 0.0),
}
"""Instruments computed as a product of two others (log sum plus a log constant)."""

ALIASES: dict[str, str] = {
    "dolar": "USDTRY", "döviz": "USDTRY", "kur": "USDTRY", "dolar/tl": "USDTRY", "euro": "EURTRY",
    "avro": "EURTRY", "bitcoin": "BTCUSDT", "btc": "BTCUSDT", "kripto": "BTCUSDT", "ethereum": "ETHUSDT",
    "bist": "BIST100", "borsa": "BIST100", "endeks": "BIST100", "bist 100": "BIST100", "bist 30": "BIST30",
    "altın": "altın", "gram altın": "altın", "ons altın": "XAUUSD", "ons": "XAUUSD",
}
"""Watchlist words → priced symbols (themes such as enflasyon, faiz, TCMB are not priced)."""

_TICKER = re.compile(r"^[A-Z]{4,6}$")


def _tr_lower(text: str) -> str:
    return text.replace("I", "ı").replace("İ", "i").lower()


def canonical_symbol(name: str, extra: Iterable[str] = ()) -> str | None:
    """The priced symbol a watchlist item stands for, or None (``"dolar"`` → ``"USDTRY"``, ``"TCMB"`` → None).

    Upper-case words that are not known instruments (SANKI, NASIL) are never priced unless listed in
    ``extra`` (tickers given explicit base prices).
    """
    raw = " ".join(str(name).split())
    if not raw:
        return None
    if raw.upper() in SPECS:
        return raw.upper()
    for low in (_tr_lower(raw), raw.lower()):  # ALTIN → altın, BIST → bist
        if low in ALIASES:
            return ALIASES[low]
    if raw in DERIVED:
        return raw
    if raw.upper() in set(extra) and _TICKER.match(raw.upper()):
        return raw.upper()
    return None


def priced_symbols(names: Iterable[str], extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Canonical, de-duplicated priced symbols of ``names`` in first-seen order (see :func:`canonical_symbol`)."""
    extra = tuple(extra)
    out: list[str] = []
    for name in names:
        sym = canonical_symbol(name, extra)
        if sym and sym not in out:
            out.append(sym)
    return tuple(out)


# ── Turkish number formatting (shared with the prompt builder) ──────────────────────────────────
def tr_number(value: float, decimals: int = 2) -> str:
    """Turkish format: 61.250,50 (dot thousands, decimal comma)."""
    text = f"{abs(value):,.{decimals}f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return ("-" if value < 0 and text.strip("0.,") else "") + text


def tr_pct(value: float) -> str:
    """Signed Turkish percent: +%1,24 / -%0,35 / %0,00."""
    text = tr_number(abs(value), 2)
    if text == "0,00":
        return "%0,00"
    return ("+" if value > 0 else "-") + "%" + text


def format_price(symbol: str, price: float) -> str:
    """A price with its unit as a Turkish chat writes it: 131,25 TL · 11.850 puan · 42,1234 · 105.230 dolar."""
    spec = SPECS.get(symbol)
    if spec is None or spec.kind == "stock":
        return f"{tr_number(price, 2)} TL"
    if spec.kind == "index":
        return f"{tr_number(price, 0)} puan"
    if spec.kind == "fx":
        return tr_number(price, 4)
    return f"{tr_number(price, 0 if price >= 1000 else 2)} dolar"


def format_quote(quote: Quote) -> str:
    """``GARAN 131,25 TL (+%1,20)``."""
    return f"{quote.symbol} {format_price(quote.symbol, quote.price)} ({tr_pct(quote.change_pct)})"


# ── The tape ────────────────────────────────────────────────────────────────────────────────────
def _unit(seed: int, *parts: object) -> float:
    """A stable uniform in [0, 1) from blake2b of the parts."""
    digest = hashlib.blake2b(repr((seed,) + parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 18446744073709551616.0


class PriceTape:
    """Deterministic simulated prices; ``snapshot(t)`` is identical in every process for the same t."""

    def __init__(self, symbols: Iterable[str], seed: int = 0, step_seconds: float = 60.0,
                 base_prices: Mapping[str, float] | None = None, cache_days: int | None = None) -> None:
        if step_seconds <= 0:
            raise ValueError("step_seconds must be positive")
        self.seed = int(seed)
        self.step_seconds = float(step_seconds)
        self.steps_per_day = max(1, math.ceil(DAY / self.step_seconds))
        extra = tuple(str(k).upper() for k in (base_prices or {}))
        self.symbols: tuple[str, ...] = priced_symbols(symbols, extra)
        self._specs: dict[str, SymbolSpec] = {}
        overrides = {canonical_symbol(k, extra) or k: float(v) for k, v in (base_prices or {}).items()}
        needed = set(self.symbols)
        for sym in self.symbols:
            needed.update(DERIVED[sym][0] if sym in DERIVED else ())
        for sym in needed:
            if sym in DERIVED:
                continue
            spec = SPECS.get(sym) or HIDDEN.get(sym) or _stock(100.0)  # an extra ticker: its base comes from base_prices
            if sym in overrides and overrides[sym] > 0:
                spec = replace(spec, base=overrides[sym])
            self._specs[sym] = spec
        self._log_base = {sym: math.log(spec.base) for sym, spec in self._specs.items()}
        self._rounding = tuple((sym, self.decimals(sym)) for sym in self.symbols)
        self._weights: dict[bool, tuple[float, ...]] = {}
        self._days: OrderedDict[tuple[str, int], tuple[float, tuple[float, ...]]] = OrderedDict()
        self._max_days = cache_days or max(64, 3 * len(self._specs))
        self._snap_key: tuple[int, int] | None = None
        self._snap: MarketSnapshot | None = None

    # -- model pieces --
    def _level(self, sym: str, day: int) -> float:
        """Open level of ``day`` in log units, relative to log(base) (O(number of scales))."""
        spec = self._specs[sym]
        total = spec.drift * (day - ANCHOR_DAY)
        for k in range(_SCALES):
            size = 1 << k
            node, rest = divmod(day, size)
            frac = rest / size
            a = 2.0 * _unit(self.seed, sym, k, node) - 1.0
            b = 2.0 * _unit(self.seed, sym, k, node + 1) - 1.0 if frac else 0.0
            amp = spec.vol * math.sqrt(size) * 0.5 * math.sqrt(3.0)  # uniform [-√3, √3] has unit variance
            total += amp * (a + (b - a) * frac)
        return total

    def _step_weights(self, session: bool) -> tuple[float, ...]:
        """Per-step volatility weights within a day (zero outside the BIST session)."""
        if session not in self._weights:
            w = [float(not session or 36000 <= i * self.step_seconds < 64800) for i in range(self.steps_per_day)]
            self._weights[session] = tuple(w) if any(w) else (1.0,) * self.steps_per_day
        return self._weights[session]

    def _day(self, sym: str, day: int) -> tuple[float, tuple[float, ...]]:
        """(open level, intraday offsets after each step) for one symbol and day, cached."""
        key = (sym, day)
        hit = self._days.get(key)
        if hit is not None:
            self._days.move_to_end(key)
            return hit
        spec = self._specs[sym]
        open_, close = self._level(sym, day), self._level(sym, day + 1)
        weights = self._step_weights(spec.session)
        n = len(weights)
        active = sum(1 for w in weights if w) or 1
        sd = spec.vol * 0.6 / math.sqrt(active)
        stream = hashlib.shake_256(f"{self.seed}|{sym}|{day}".encode()).digest(8 * n)
        vals = struct.unpack(f">{2 * n}I", stream)
        walk, var, w_cum, v_cum = [], [], 0.0, 0.0
        for i, w in enumerate(weights):
            if w:
                u1, u2 = vals[2 * i] * _U32, vals[2 * i + 1] * _U32
                z = (u1 + u2 - 1.0) * 2.449489742783178  # triangular, unit variance
                w_cum += sd * w * z
                v_cum += w * w
            walk.append(w_cum)
            var.append(v_cum)
        gap = (close - open_) - w_cum
        offsets = tuple(x + gap * (v / v_cum) for x, v in zip(walk, var)) if v_cum else tuple(walk)
        entry = (open_, offsets)
        self._days[key] = entry
        if len(self._days) > self._max_days:
            self._days.popitem(last=False)
        return entry

    def _locate(self, t: float) -> tuple[int, int]:
        local = float(t) + IST_OFFSET
        day = math.floor(local / DAY)
        step = int((local - day * DAY) // self.step_seconds)
        return day, min(step, self.steps_per_day - 1)

    def _log_price(self, sym: str, day: int, step: int) -> tuple[float, float]:
        """(log price, log open) including log(base)."""
        hit = self._days.get((sym, day))
        open_, offsets = hit if hit is not None else self._day(sym, day)
        base = self._log_base[sym]
        return base + open_ + offsets[step], base + open_

    def _quote_at(self, sym: str, day: int, step: int) -> tuple[float, float]:
        """(price, change % since the day's open), unrounded."""
        derived = DERIVED.get(sym)
        if derived:
            parts, const = derived
            (pa, oa), (pb, ob) = (self._log_price(s, day, step) for s in parts)
            lp, lo = pa + pb + const, oa + ob + const
        else:
            lp, lo = self._log_price(sym, day, step)
        return math.exp(lp), (math.exp(lp - lo) - 1.0) * 100.0

    def price(self, symbol: str, t: float) -> tuple[float, float]:
        """(price, change % since the day's open) of one symbol at ``t``, unrounded."""
        sym = canonical_symbol(symbol, self._specs) or symbol
        if sym not in DERIVED and sym not in self._specs or \
                sym in DERIVED and not all(p in self._specs for p in DERIVED[sym][0]):
            raise KeyError(f"{symbol!r} is not on this tape")
        return self._quote_at(sym, *self._locate(t))

    def decimals(self, symbol: str) -> int:
        """Rounding of a symbol's price: 2 for TL stocks, indices and gold, 4 for FX, 0 for BTC."""
        spec = SPECS.get(symbol) if symbol in DERIVED else self._specs.get(symbol)
        return spec.decimals if spec is not None else 2

    def snapshot(self, t: float) -> MarketSnapshot:
        """Quotes of every symbol at ``t`` (``at`` is the start of t's step)."""
        day, step = self._locate(t)
        if self._snap_key == (day, step) and self._snap is not None:
            return self._snap
        quotes = []
        for sym, decimals in self._rounding:
            price, pct = self._quote_at(sym, day, step)
            quotes.append(Quote(sym, round(price, decimals), round(pct, 2)))
        at = day * DAY - IST_OFFSET + step * self.step_seconds
        snap = MarketSnapshot(at=at, quotes=tuple(quotes))
        self._snap_key, self._snap = (day, step), snap
        return snap


# ── Headlines ───────────────────────────────────────────────────────────────────────────────────
_TAG = re.compile(r"<[^>]+>")


def parse_headlines(text: str | bytes, limit: int = 50) -> list[str]:
    """Entry titles of an RSS/Atom document, newest first when dates are given, cleaned and unique."""
    # bytes: feedparser must never take the text for a URL or a file name
    feed = feedparser.parse(text.encode("utf-8") if isinstance(text, str) else bytes(text))
    entries = list(feed.entries)
    if any(e.get("published_parsed") or e.get("updated_parsed") for e in entries):
        entries.sort(key=lambda e: tuple(e.get("published_parsed") or e.get("updated_parsed") or ()),
                     reverse=True)
    out: list[str] = []
    for entry in entries:
        title = " ".join(_TAG.sub(" ", str(entry.get("title") or "")).split())
        if title and title not in out:
            out.append(title)
        if len(out) >= limit:
            break
    return out


def _http_fetch(url: str) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": "piyasa/1 (+rss)"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (configured URLs only)
        return response.read()


class HeadlineFeed:
    """Latest headlines from configured RSS feeds, rotated per bot so bots do not echo one headline."""

    def __init__(self, urls: Sequence[str], refresh_seconds: float = 600, fetcher: Callable[[str], str | bytes]
                 | None = None, max_items: int = 30, rotate_seconds: float = 900) -> None:
        self.urls = tuple(u for u in urls if str(u).strip())
        self.refresh_seconds = float(refresh_seconds)
        self.rotate_seconds = max(1.0, float(rotate_seconds))
        self.max_items = max_items
        self._fetch = fetcher or _http_fetch
        self._headlines: tuple[str, ...] = ()
        self._last: float | None = None
        self.errors = 0

    @property
    def headlines(self) -> tuple[str, ...]:
        return self._headlines

    def refresh(self) -> bool:
        """Fetch and parse every URL now; on total failure keep the previous headlines. True if updated."""
        self._last = time.monotonic()
        fresh: list[str] = []
        for url in self.urls:
            try:
                for title in parse_headlines(self._fetch(url), self.max_items):
                    if title not in fresh:
                        fresh.append(title)
            except Exception as exc:  # network, parse: log and keep going
                self.errors += 1
                log.warning("headline feed %s failed: %s", url, exc)
        if not fresh:
            if self.urls:
                log.warning("no headlines fetched; keeping the previous %d", len(self._headlines))
            return False
        self._headlines = tuple(fresh[: self.max_items])
        return True

    def maybe_refresh(self, now: float | None = None) -> bool:
        """Refresh when ``refresh_seconds`` passed since the last attempt (wall clock by default)."""
        now = time.monotonic() if now is None else now
        if not self.urls or (self._last is not None and now - self._last < self.refresh_seconds):
            return False
        updated = self.refresh()
        self._last = now
        return updated

    async def amaybe_refresh(self, now: float | None = None) -> bool:
        """:meth:`maybe_refresh` in a thread, for the worker's event loop."""
        return await asyncio.to_thread(self.maybe_refresh, now)

    def headlines_for(self, bot_id: int, t: float, k: int = 1) -> tuple[str, ...]:
        """``k`` headlines for one bot at simulated time ``t``: index (bot_id + t // period) % n."""
        items, n = self._headlines, len(self._headlines)
        if not n or k <= 0:
            return ()
        start = (int(bot_id) + int(t // self.rotate_seconds)) % n
        return tuple(items[(start + i) % n] for i in range(min(k, n)))


class MarketContext:
    """A price tape plus optional headlines: the market a bot sees at one moment."""

    def __init__(self, tape: PriceTape, feed: HeadlineFeed | None = None, headlines_per_bot: int = 1) -> None:
        self.tape = tape
        self.feed = feed
        self.headlines_per_bot = headlines_per_bot

    def snapshot(self, t: float, bot_id: int | None = None) -> MarketSnapshot:
        """Quotes at ``t``; with a feed, headlines selected for ``bot_id`` (bot 0's rotation when None)."""
        snap = self.tape.snapshot(t)
        if self.feed is None:
            return snap
        heads = self.feed.headlines_for(0 if bot_id is None else bot_id, t, self.headlines_per_bot)
        return replace(snap, headlines=heads) if heads else snap
