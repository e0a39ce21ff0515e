"""TUI under a feed flood: the real PiyasaApp (headless, 120×40) fed 200 messages per second.

A source in this script grows its feed by ``--rate`` FeedItems per second of wall time (a 500-item
window, like the supervisor's), the app polls it at its own 10 Hz. Every ``--probe-every`` seconds
a key is delivered (as the terminal driver does), alternating ``space`` (the header's "simulation: running" ↔ "simulation: paused")
and ``f`` (the focus moves into the feed's filter line, whose hint changes; then ``escape``); the latency is the time from the press until
the effect reaches the terminal: the headless driver's ``write`` is wrapped, and a probe ends at
the first frame written after the press that holds the expected text (looking at the writes costs
nothing, unlike rendering the screen again to inspect it, which would compete with the app). The process RSS (psutil) is sampled every 5 s; the first
sample after the 10 s warm-up is the baseline.

Goals: key → redraw p95 ≤ 100 ms; RSS flat within ±10 % of the baseline.

    .venv/bin/python bench/tui.py [--duration 300] [--probe-every 2] [--rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import re
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
from textual import events

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from piyasa_core.workers.snapshot import FeedItem
from piyasa_tui.app import PiyasaApp
from piyasa_tui.widgets.filter_bar import EDIT_HINT
from piyasa_tui.source import ScriptedSource, sample_snapshot

SIZE = (120, 40)
WARMUP = 10.0
RSS_EVERY = 5.0
POLL = 0.005  # seconds between looks at the screen while waiting for a key's effect
WINDOW = 500  # the supervisor's feed deque
LINES = ("GARAN'da acele yok, 20 yılda gördüklerim bunu söylüyor", "SISE alev alev, hacim geldi 🚀",
         "dolar/TL 38 üstünde kalıcı mı sizce", "THYAO bilançosu beklentinin üstünde geldi",
         "altın ons 3000'e dayandı, gram altın rekor", "faiz kararı perşembe, piyasa fiyatladı bence")


class FloodSource(ScriptedSource):
    """Every ``snapshot()`` adds the FeedItems due by now (``rate`` per second since ``start()``) to a
    bounded window and returns the base snapshot with that feed; ``set_simulation`` is honoured."""

    def __init__(self, rate: float) -> None:
        self.base = sample_snapshot(time.time(), feed_size=0)
        super().__init__(self._flood())
        self.rate = rate
        self.produced = 0
        self.running = True
        self.window: deque[FeedItem] = deque(maxlen=WINDOW)
        self.started: float | None = None
        self.stopped: float | None = None

    def start(self) -> None:
        self.started = time.monotonic()

    def stop(self) -> None:
        self._catch_up()
        self.stopped = time.monotonic()

    def _catch_up(self) -> None:
        if self.started is None or self.stopped is not None:
            return
        due = int((time.monotonic() - self.started) * self.rate)
        now = time.time()
        while self.produced < due:
            n = self.produced
            self.window.append(FeedItem(
                message_id=n, at=now, worker_id=n % 4, bot_id=n % 7, bot_name=f"bot {n % 7}",
                chat_key="piyasa-local" if n % 3 else "borsa-sohbet", text=f"{LINES[n % len(LINES)]} #{n}",
                mode="new", reply_to_author=None, provider="offline", model="offline"))
            self.produced += 1

    def _flood(self):  # type: ignore[no-untyped-def]
        while True:
            self._catch_up()
            now = time.time()
            yield dataclasses.replace(self.base, feed=tuple(self.window), at=now, sim_at=now, running=self.running)

    async def set_simulation(self, running: bool) -> dict[str, Any]:
        self.running = running
        return await super().set_simulation(running)


def filter_open(app: PiyasaApp) -> bool:
    return app.dashboard.filter_bar.is_open


KEY_CHARS = {"space": " ", "f": "f", "escape": "\x1b"}


def press(app: PiyasaApp, key: str) -> None:
    """Deliver a key the way the terminal driver does (Pilot.press would add its wait-for-idle
    pauses, up to 1 s each under load, to the measured latency)."""
    event = events.Key(key, KEY_CHARS[key])
    event.set_sender(app)
    assert app._driver is not None
    app._driver.send_message(event)


ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")


class Terminal:
    """What the app wrote to its terminal: the plain text of each frame and when.

    Under ``run_test`` the driver is headless and the app skips turning frames into terminal output;
    this switches the driver to a terminal-like one (same class plus ``is_headless = False``) so the
    app pays the full cost of writing every frame, as it does in a real terminal."""

    def __init__(self, app: PiyasaApp) -> None:
        driver = app._driver
        assert driver is not None
        self.frames: deque[tuple[float, str]] = deque(maxlen=64)
        frames = self.frames

        class TerminalDriver(type(driver)):  # type: ignore[misc]
            @property
            def is_headless(self) -> bool:
                return False

            def write(self, data: str) -> None:
                frames.append((time.perf_counter(), ANSI.sub("", data)))

        driver.__class__ = TerminalDriver

    def shown_since(self, since: float, text: str) -> float | None:
        """When a frame written after ``since`` first held ``text``."""
        for at, plain in self.frames:
            if at >= since and text in plain:
                return at
        return None


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise TimeoutError("effect not visible in time")
        await asyncio.sleep(POLL)


async def shown(terminal: Terminal, pressed: float, text: str, timeout: float = 5.0) -> float:
    """Seconds from the press until a frame held ``text``."""
    await until(lambda: terminal.shown_since(pressed, text) is not None, timeout)
    return terminal.shown_since(pressed, text) - pressed  # type: ignore[operator]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))  # nearest rank
    return ordered[k]


async def run(duration: float, probe_every: float, rate: float) -> int:
    proc = psutil.Process()
    source = FloodSource(rate)
    app = PiyasaApp(source, cursor_blink=False)
    latencies: dict[str, list[float]] = {"space": [], "f": []}
    rss: list[tuple[float, int]] = []
    failures: list[str] = []

    async with app.run_test(size=SIZE):
        from piyasa_tui.widgets.feed import FeedLog

        feed = app.query_one(FeedLog)
        terminal = Terminal(app)
        source.start()
        t0 = time.monotonic()
        refresh0 = app.refresh_count

        async def sample_rss() -> None:
            while True:
                rss.append((time.monotonic() - t0, proc.memory_info().rss))
                await asyncio.sleep(RSS_EVERY)

        sampler = asyncio.create_task(sample_rss())
        probe = 0
        next_probe = t0 + probe_every
        try:
            while True:
                now = time.monotonic()
                if now - t0 >= duration:
                    break
                await asyncio.sleep(max(0.0, min(next_probe, t0 + duration) - now))
                if time.monotonic() - t0 >= duration:
                    break
                next_probe += probe_every
                key = "space" if probe % 2 == 0 else "f"
                probe += 1
                try:
                    if key == "space":
                        want = "paused" if source.running else "running"
                        pressed = time.perf_counter()
                        press(app, "space")
                        latencies[key].append(await shown(terminal, pressed, want))
                    else:
                        pressed = time.perf_counter()
                        press(app, "f")
                        latencies[key].append(await shown(terminal, pressed, EDIT_HINT))
                        pressed = time.perf_counter()
                        press(app, "escape")
                        await until(lambda: not filter_open(app))
                except TimeoutError as exc:
                    failures.append(f"{key} at {time.monotonic() - t0:.1f} s: {exc}")
        finally:
            source.stop()
            sampler.cancel()
        elapsed = source.stopped - source.started  # type: ignore[operator]
        refreshes = app.refresh_count - refresh0
        rss.append((time.monotonic() - t0, proc.memory_info().rss))
        try:
            await until(lambda: bool(feed.items) and feed.items[-1].message_id == source.produced - 1, 3.0)
            last_shown = f"the feed shows the last one (#{source.produced - 1})"
        except TimeoutError:
            last = feed.items[-1].message_id if feed.items else None
            last_shown = f"the feed's last item is #{last}, not #{source.produced - 1}"

    print("f probes (ms):", [round(v * 1000) for v in latencies["f"]])
    ms = lambda s: s * 1000
    all_lat = latencies["space"] + latencies["f"]
    print(f"TUI flood bench: PiyasaApp headless {SIZE[0]}×{SIZE[1]}, {duration:g} s, "
          f"a key every {probe_every:g} s, RSS every {RSS_EVERY:g} s")
    print(f"events fed: {source.produced} FeedItems in {elapsed:.1f} s = {source.produced / elapsed:.1f}/s "
          f"(target {rate:g}/s); {refreshes} snapshot refreshes ({refreshes / elapsed:.1f}/s); {last_shown}")
    if all_lat:
        print(f"key → redraw latency over {len(all_lat)} probes: median {ms(statistics.median(all_lat)):.1f} ms, "
              f"p95 {ms(pct(all_lat, 0.95)):.1f} ms, max {ms(max(all_lat)):.1f} ms")
        for key, values in latencies.items():
            if values:
                print(f"  {key:5}: {len(values)} probes, median {ms(statistics.median(values)):.1f} ms, "
                      f"p95 {ms(pct(values, 0.95)):.1f} ms, max {ms(max(values)):.1f} ms")
    for failure in failures:
        print(f"  probe failed: {failure}")
    after = [(t, b) for t, b in rss if t >= WARMUP]
    mib = lambda b: b / 1048576
    rss_ok = False
    rss_range: tuple[float, float] | None = None
    if after:
        start_b, end_b = after[0][1], after[-1][1]
        low, high = min(b for _, b in after), max(b for _, b in after)
        change = (end_b - start_b) / start_b * 100
        spread_lo, spread_hi = (low - start_b) / start_b * 100, (high - start_b) / start_b * 100
        print(f"RSS ({len(after)} samples after {WARMUP:g} s warm-up): start {mib(start_b):.1f} MiB "
              f"(at {after[0][0]:.0f} s), end {mib(end_b):.1f} MiB, min {mib(low):.1f} MiB, max {mib(high):.1f} MiB, "
              f"change {change:+.1f} % (range {spread_lo:+.1f} % … {spread_hi:+.1f} %)")
        rss_ok = abs(spread_lo) <= 10 and abs(spread_hi) <= 10
        rss_range = (spread_lo, spread_hi)
    else:
        print("RSS: no sample after the warm-up (duration too short)")
    p95 = pct(all_lat, 0.95) if all_lat else float("inf")
    lat_ok = bool(all_lat) and p95 <= 0.100 and not failures
    print(f"goals: key → redraw p95 ≤ 100 ms: {'PASS' if lat_ok else 'FAIL'} ({ms(p95):.1f} ms); "
          f"RSS flat within ±10 %: {'PASS' if rss_ok else 'FAIL'}")
    print("RESULT " + json.dumps({
        "measure": "P6", "duration": duration, "rate": round(source.produced / elapsed, 1), "probes": len(all_lat),
        "probe_failures": len(failures), "p95_ms": round(ms(p95), 1) if all_lat else None,
        "median_ms": round(ms(statistics.median(all_lat)), 1) if all_lat else None,
        "max_ms": round(ms(max(all_lat)), 1) if all_lat else None,
        "rss_start_mib": round(mib(after[0][1]), 1) if after else None,
        "rss_end_mib": round(mib(after[-1][1]), 1) if after else None,
        "rss_range_pct": [round(v, 1) for v in rss_range] if rss_range else None,
        "latency_ok": lat_ok, "rss_ok": rss_ok}))
    return 0 if lat_ok and rss_ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds of flood (default 300)")
    parser.add_argument("--probe-every", type=float, default=2.0, help="seconds between key probes (default 2)")
    parser.add_argument("--rate", type=float, default=200.0, help="FeedItems per second (default 200)")
    args = parser.parse_args()
    return asyncio.run(run(args.duration, args.probe_every, args.rate))


if __name__ == "__main__":
    sys.exit(main())
