"""The simulated price tape, RSS headlines and the market context."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time

import pytest

from piyasa_core.engine.market import (
    DAY,
    GRAM_PER_OUNCE,
    IST_OFFSET,
    SPECS,
    HeadlineFeed,
    MarketContext,
    PriceTape,
    canonical_symbol,
    format_quote,
    parse_headlines,
    priced_symbols,
)
from piyasa_core.engine.types import MarketSnapshot
from tests.conftest import REPO

WATCH = ["GARAN", "THYAO", "EREGL", "SAHOL", "SISE", "KCHOL", "ASELS", "BTCUSDT", "USDTRY", "EURTRY",
         "enflasyon", "TCMB", "BIST30", "dolar", "altın", "AKBNK", "SASA", "XAUUSD", "BIST100", "ETHUSDT",
         "TUPRS", "BIMAS"]
T0 = 1762160400.0  # 2025-11-03 12:00 Istanbul (inside the BIST session)

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Piyasa Haberleri</title>
<item><title>Borsa İstanbul güne yükselişle başladı</title>
  <pubDate>Mon, 03 Nov 2025 09:00:00 +0300</pubDate></item>
<item><title>TCMB faiz kararını açıkladı</title><pubDate>Mon, 03 Nov 2025 14:00:00 +0300</pubDate></item>
<item><title>Dolar/TL &lt;b&gt;yeni&lt;/b&gt; haftaya yatay başladı</title>
  <pubDate>Mon, 03 Nov 2025 08:00:00 +0300</pubDate></item>
<item><title>Enflasyon verisi beklentilerin altında geldi</title>
  <pubDate>Mon, 03 Nov 2025 10:00:00 +0300</pubDate></item>
<item><title>Bankacılık endeksinde kâr satışları</title><pubDate>Mon, 03 Nov 2025 11:00:00 +0300</pubDate></item>
<item><title>TCMB faiz kararını açıkladı</title><pubDate>Mon, 03 Nov 2025 13:00:00 +0300</pubDate></item>
</channel></rss>"""

SUBPROCESS = """
import json, sys
from piyasa_core.engine.market import PriceTape
tape = PriceTape(json.loads(sys.argv[1]), seed=int(sys.argv[2]))
print(json.dumps([[q.symbol, q.price, q.change_pct] for q in tape.snapshot(float(sys.argv[3])).quotes]))
"""


def _as_json(snapshot: MarketSnapshot) -> str:
    return json.dumps([[q.symbol, q.price, q.change_pct] for q in snapshot.quotes])


def test_symbols_are_canonical_and_themes_are_skipped() -> None:
    tape = PriceTape(WATCH)
    assert "USDTRY" in tape.symbols and "altın" in tape.symbols
    assert not {"enflasyon", "TCMB", "dolar"} & set(tape.symbols)
    assert len(tape.symbols) == len(set(tape.symbols)) == len(WATCH) - 3
    assert canonical_symbol("dolar") == "USDTRY" and canonical_symbol("Bitcoin") == "BTCUSDT"
    assert canonical_symbol("BIST") == "BIST100" and canonical_symbol("ALTIN") == "altın"
    assert canonical_symbol("SANKI") is None and canonical_symbol("NASIL") is None
    assert priced_symbols(["XYZAB"], extra=["XYZAB"]) == ("XYZAB",)
    assert PriceTape(["XYZAB"], base_prices={"XYZAB": 12.5}).symbols == ("XYZAB",)


def test_same_moment_same_snapshot_in_fresh_tapes() -> None:
    for t in (T0, T0 + 61, T0 + 7 * DAY + 3333, T0 - 400 * DAY, 0.0):
        a, b = PriceTape(WATCH, seed=7).snapshot(t), PriceTape(WATCH, seed=7).snapshot(t)
        assert a == b
    # a cached tape answers the same as a fresh one, in any query order
    tape = PriceTape(WATCH, seed=7)
    for t in (T0 + 5 * DAY, T0, T0 + 5 * DAY - 60):
        assert tape.snapshot(t) == PriceTape(WATCH, seed=7).snapshot(t)
    # the price only depends on t // step
    assert PriceTape(WATCH).snapshot(T0 + 1).quotes == PriceTape(WATCH).snapshot(T0 + 59).quotes
    assert PriceTape(WATCH, seed=1).snapshot(T0) != PriceTape(WATCH, seed=2).snapshot(T0)


def test_same_snapshot_in_another_process() -> None:
    t = T0 + 12345.0
    result = subprocess.run([sys.executable, "-c", SUBPROCESS, json.dumps(WATCH), "3", repr(t)], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == _as_json(PriceTape(WATCH, seed=3).snapshot(t))


def test_prices_change_over_time() -> None:
    tape = PriceTape(WATCH)
    a, b = tape.snapshot(T0), tape.snapshot(T0 + 3600)
    moved = [q.symbol for q in a.quotes if q.price != b.quote(q.symbol).price]  # type: ignore[union-attr]
    assert len(moved) >= len(a.quotes) - 2
    btc = [tape.snapshot(T0 + 60 * i).quote("BTCUSDT").price for i in range(30)]  # type: ignore[union-attr]
    assert len(set(btc)) > 20
    days = {tape.snapshot(T0 + d * DAY).quote("GARAN").price for d in range(10)}  # type: ignore[union-attr]
    assert len(days) == 10


def test_rounding_and_units() -> None:
    snap = PriceTape(WATCH).snapshot(T0)
    assert snap.quote("BTCUSDT").price == int(snap.quote("BTCUSDT").price)  # type: ignore[union-attr]
    for sym, decimals in (("GARAN", 2), ("USDTRY", 4), ("EURTRY", 4), ("BIST30", 2), ("altın", 2)):
        price = snap.quote(sym).price  # type: ignore[union-attr]
        assert round(price, decimals) == price
    line = format_quote(snap.quote("GARAN"))  # type: ignore[arg-type]
    assert line.startswith("GARAN ") and line.endswith(")") and " TL (" in line and "," in line
    assert " puan " in format_quote(snap.quote("BIST100"))  # type: ignore[arg-type]
    assert " dolar " in format_quote(snap.quote("BTCUSDT"))  # type: ignore[arg-type]


def test_gram_gold_follows_ounce_and_dollar() -> None:
    tape = PriceTape(["altın"])
    for t in (T0, T0 + 3 * DAY + 999):
        gram, _ = tape.price("altın", t)
        ounce, _ = tape.price("XAUUSD", t)
        usd, _ = tape.price("dolar", t)
        assert gram == pytest.approx(ounce * usd / GRAM_PER_OUNCE, rel=1e-9)
    with pytest.raises(KeyError):
        tape.price("GARAN", T0)


def test_change_is_since_the_istanbul_day_open_and_bist_is_flat_overnight() -> None:
    tape = PriceTape(WATCH)
    midnight = math.floor((T0 + IST_OFFSET) / DAY) * DAY - IST_OFFSET
    snap = tape.snapshot(midnight)
    assert snap.at == midnight
    assert all(abs(q.change_pct) < 0.5 for q in snap.quotes)
    night = [tape.price("GARAN", midnight + h * 3600) for h in (0, 3, 9.9)]
    assert night[0] == night[1] == night[2]
    evening = [tape.price("GARAN", midnight + h * 3600) for h in (18.1, 21, 23.9)]
    assert evening[0] == evening[1] == evening[2]
    assert tape.price("GARAN", midnight + 12 * 3600) != night[0]
    assert tape.price("BTCUSDT", midnight + 3 * 3600) != tape.price("BTCUSDT", midnight)


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_plausible_bounds_over_30_days(seed: int) -> None:
    tape = PriceTape(WATCH, seed=seed)
    gram_base = SPECS["XAUUSD"].base * SPECS["USDTRY"].base / GRAM_PER_OUNCE
    for hour in range(0, 30 * 24, 3):
        for q in tape.snapshot(T0 + hour * 3600 + 17).quotes:
            base = gram_base if q.symbol == "altın" else SPECS[q.symbol].base
            assert 0.4 < q.price / base < 2.5, (q, hour)
            assert abs(q.change_pct) < 20, (q, hour)
    # the lira pairs drift upwards over a year
    usd = [tape.price("USDTRY", T0 + d * DAY)[0] for d in range(0, 400)]
    assert sum(usd[-30:]) / 30 > 1.08 * sum(usd[:30]) / 30


def test_snapshot_speed() -> None:
    symbols = [s for s in SPECS if not s.startswith("ETH")][:19] + ["altın"]
    cold_started = time.perf_counter()
    tape = PriceTape(symbols)
    tape.snapshot(T0)
    cold = time.perf_counter() - cold_started
    n = 3000
    started = time.perf_counter()
    for i in range(n):  # distinct steps of one day: no snapshot-cache hits
        tape.snapshot(T0 + 60 * (i % 600) - 6 * 3600)
    warm = (time.perf_counter() - started) / n
    assert len(tape.symbols) == 20
    print(f"\nPriceTape, 20 symbols: {warm * 1e6:.1f} µs per snapshot (warm day), "
          f"{cold * 1e3:.1f} ms for the first snapshot of a day (cold)")


def test_rss_parse_from_string() -> None:
    titles = parse_headlines(RSS)
    assert titles[0] == "TCMB faiz kararını açıkladı"  # newest first
    assert titles.count("TCMB faiz kararını açıkladı") == 1
    assert "Dolar/TL yeni haftaya yatay başladı" in titles  # markup stripped
    assert len(titles) == 5
    assert parse_headlines("http://example.invalid/feed.xml") == []  # never fetched as a URL


def test_headline_feed_rotation_and_failures(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []
    fail = {"on": False}

    def fetcher(url: str) -> str:
        calls.append(url)
        if fail["on"]:
            raise OSError("network down")
        return RSS

    feed = HeadlineFeed(["https://example.invalid/rss"], refresh_seconds=600, fetcher=fetcher)
    assert feed.headlines_for(1, T0) == ()
    assert feed.maybe_refresh(now=1000.0) and len(feed.headlines) == 5
    assert not feed.maybe_refresh(now=1100.0) and len(calls) == 1  # not due yet
    picks = [feed.headlines_for(bot, T0)[0] for bot in range(1, 5)]
    assert len(set(picks)) == 4  # four bots, four different headlines at the same moment
    assert feed.headlines_for(1, T0 + feed.rotate_seconds) != feed.headlines_for(1, T0)
    assert len(set(feed.headlines_for(2, T0, k=3))) == 3
    before = feed.headlines
    fail["on"] = True
    assert not feed.maybe_refresh(now=2000.0)
    assert feed.headlines == before and feed.errors == 1
    assert "network down" in caplog.text
    assert not HeadlineFeed([], fetcher=fetcher).maybe_refresh(now=0.0)


def test_market_context_selects_headlines_per_bot() -> None:
    feed = HeadlineFeed(["local"], fetcher=lambda url: RSS)
    feed.refresh()
    ctx = MarketContext(PriceTape(WATCH), feed)
    a, b = ctx.snapshot(T0, bot_id=1), ctx.snapshot(T0, bot_id=2)
    assert a.quotes == b.quotes and a.headlines != b.headlines and len(a.headlines) == 1
    assert ctx.snapshot(T0).headlines
    assert MarketContext(PriceTape(WATCH)).snapshot(T0, bot_id=1).headlines == ()


@pytest.mark.parametrize("seed", [0, 1, 7, 42])
def test_related_instruments_move_together_over_a_year(seed: int) -> None:
    """BIST30 stays above BIST100 within a plausible ratio, and EURTRY/USDTRY (the implied EURUSD)
    stays a plausible cross rate, every hour for a year; the two indices move the same way on most
    days (before: two independent walks put BIST30 13,063 below BIST100 13,514)."""
    tape = PriceTape(["BIST30", "BIST100", "USDTRY", "EURTRY"], seed=seed)
    t0 = 1_763_978_400.0  # 2025-11-24 13:00 Istanbul
    ratios, crosses, same_way, days = [], [], 0, 0
    for hour in range(0, 365 * 24, 5):
        t = t0 + hour * 3600
        ratios.append(tape.price("BIST30", t)[0] / tape.price("BIST100", t)[0])
        crosses.append(tape.price("EURTRY", t)[0] / tape.price("USDTRY", t)[0])
    for day in range(365):
        t = t0 + day * 86400  # 13:00, in the session: change since the open
        a, b = tape.price("BIST30", t)[1], tape.price("BIST100", t)[1]
        if abs(b) > 0.2:
            days += 1
            same_way += (a > 0) == (b > 0)
    assert 1.0 < min(ratios) and max(ratios) < 1.25, (min(ratios), max(ratios))
    assert 1.0 < min(crosses) and max(crosses) < 1.35, (min(crosses), max(crosses))
    assert same_way >= 0.8 * days, (same_way, days)
    assert "_EURUSD" not in {q.symbol for q in tape.snapshot(t0).quotes}
