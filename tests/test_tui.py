"""The Textual control centre, driven with Pilot over a ScriptedSource (no workers, no network)."""

from __future__ import annotations

import dataclasses
import inspect
import json
import time
from collections import deque
from pathlib import Path

import pytest
from textual.widgets import Input

from piyasa_core.workers.snapshot import FeedItem, Snapshot
from piyasa_core.workers.supervisor import Supervisor
from piyasa_tui.app import PiyasaApp
from piyasa_tui.screens.benchmark import BenchmarkScreen, BenchmarkStartScreen
from piyasa_tui.screens.help import HelpScreen
from piyasa_tui.screens.message import MessageDetailScreen
from piyasa_tui.screens.modals import (
    ConfirmScreen,
    MessageScreen,
    PostScreen,
    ProviderPicker,
)
from piyasa_tui.source import ScriptedSource, SnapshotSource, sample_snapshot
from piyasa_tui.widgets.feed import FeedFilter, FeedLog
from piyasa_tui.widgets.workers import WorkersTable, fit_columns
from tests.bench_support import REPORT_KEYS

NOW = 1741950131.0  # 2025-03-14 14:02:11 in Istanbul
SIZE = (120, 40)


def make_app(source: ScriptedSource, clock=lambda: NOW, **kwargs) -> PiyasaApp:
    return PiyasaApp(source, clock=clock, cursor_blink=False, **kwargs)


def screen_text(app: PiyasaApp) -> str:
    """What the terminal shows (the top screen; modals are drawn over the dashboard)."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def messages(app: PiyasaApp) -> list[str]:
    return [f"{severity}|{title}|{message}" for severity, title, message in app.notifications_log]


async def wait_for(pilot, condition, timeout: float = 10.0) -> float:
    """Pause until ``condition()`` holds; returns the seconds it took."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise AssertionError("condition not met in time")
        await pilot.pause(0.01)
    return time.perf_counter() - start


def feed_item(n: int, at: float, worker_id: int = 0, bot: str = "Mehmet Yatırımcı", chat: str = "piyasa-local") -> FeedItem:
    return FeedItem(message_id=n, at=at, worker_id=worker_id, bot_id=worker_id, bot_name=bot, chat_key=chat,
                    text=f"mesaj {n}", mode="new", reply_to_author=None, provider="offline", model="offline")


# ── the source protocol ──────────────────────────────────────────────────────────────────────────
PROTOCOL_METHODS = ("snapshot", "subscribe", "unsubscribe", "switch_provider", "restart_workers", "preview_restart",
                    "set_simulation",
                    "post_human", "benchmark", "message_detail", "set_bot_enabled")


@pytest.mark.parametrize("implementation", [Supervisor, ScriptedSource])
def test_sources_match_the_protocol(implementation: type) -> None:
    for name in PROTOCOL_METHODS:
        expected, actual = getattr(SnapshotSource, name), getattr(implementation, name)
        assert inspect.iscoroutinefunction(expected) == inspect.iscoroutinefunction(actual), name
        want = [(p.name, p.default) for p in inspect.signature(expected).parameters.values()]
        got = [(p.name, p.default) for p in inspect.signature(actual).parameters.values()]
        assert got == want, f"{implementation.__name__}.{name}: {got} != {want}"
    assert isinstance(ScriptedSource(sample_snapshot(NOW)), SnapshotSource)


async def test_scripted_source_plays_records_and_raises() -> None:
    first, second = sample_snapshot(NOW), sample_snapshot(NOW + 1)
    source = ScriptedSource([first, second], errors={"switch_provider": ValueError("unknown provider")})
    assert source.snapshot() is first and source.snapshot() is second and source.snapshot() is second
    with pytest.raises(ValueError):
        await source.switch_provider("nope")
    assert (await source.benchmark("start", {}))["ok"]
    assert await source.restart_workers() == {"ok": True, "changes": [], "held": [], "error": None}
    assert source.called("switch_provider") == [("nope",)]
    assert source.called("restart_workers") == [(None,)]


def test_an_offline_stand_in_is_marked_in_the_feed() -> None:
    """A line the offline composer wrote while an LLM provider is active is marked; under the offline
    default (every line is offline) nothing is."""
    from dataclasses import replace

    from piyasa_tui.widgets.feed import feed_line

    item = feed_item(1, NOW)
    assert "[offline]" in feed_line(item, None, "groq").plain
    assert "[offline]" not in feed_line(item, None, "offline").plain
    assert "[offline]" not in feed_line(replace(item, provider="groq"), None, "groq").plain


def test_feed_filter_grammar() -> None:
    f = FeedFilter.parse('w2 bot:ayşe chat:piyasa "hacim geldi"')
    assert f.workers == {2} and f.bots == ("ayşe",) and f.chats == ("piyasa",) and f.words == ("hacim geldi",)
    assert not FeedFilter.parse("   ")
    item = feed_item(1, NOW, worker_id=2, bot="Ayşe Scalper")
    assert FeedFilter.parse("w2").matches(item) and not FeedFilter.parse("w1").matches(item)
    assert FeedFilter.parse("bot:AYŞE").matches(item) and FeedFilter.parse("chat:piyasa-local").matches(item)
    assert FeedFilter.parse("worker:2 mesaj").matches(item) and not FeedFilter.parse("chat:borsa").matches(item)


def test_columns_drop_by_priority_and_the_error_takes_what_is_left() -> None:
    """The design sketch's columns first (all of them in the 74 cells a 120-column terminal leaves the
    table), then the last error with what is left, at least 10 cells (else it goes to the border)."""
    narrow, error_narrow = fit_columns(44)
    sketch, error_sketch = fit_columns(74)
    wide, error_wide = fit_columns(140)
    assert [c.key for c in narrow][:2] == ["id", "state"] and "error" not in [c.key for c in narrow]
    assert [c.key for c in sketch] == ["id", "pid", "state", "up", "rst", "bots", "r1", "r10", "spark", "cpu", "rss"]
    assert error_narrow == error_sketch == 0
    assert [c.key for c in wide][-1] == "error" and error_wide >= 10


# ── what the dashboard shows ─────────────────────────────────────────────────────────────────────
async def test_dashboard_shows_workers_providers_cache_and_clock() -> None:
    app = make_app(ScriptedSource(sample_snapshot(NOW)))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "14:02:06 w3 Can Teknik" in screen_text(app))  # the feed scrolled to its end
        text = screen_text(app)
        for expected in ("4 workers (3 up)", "provider: groq (llama-3.3-70b-versatile)", "simulation: running",
                         "4.6 msg/min", "14:02:11 TRT", "backoff 5s", "database is locked",
                         "● groq", "auth_error", "401 invalid key (OPENAI_API_KEY)", "model_missing",
                         "404 gemini-1.5-flash not found", "offline — not an LLM", "tok 11.2k/12k",
                         "today 41k/100k tok", "empty ≈ 19:40", "L1 77%", "L2 not configured",
                         "Feed (follow)", "14:02:06 w3 Can Teknik → piyasa-local"):
            assert expected in text, expected
        table = app.query_one(WorkersTable)
        assert table.get_cell("2", "state").plain.strip() == "backoff 5s"  # cells start with the one-space gap
        assert "error" not in [c.key for c in table.ordered_columns]  # at 120 columns: in the border below
        assert str(table.border_subtitle) == "w2: exited with code 1: sqlite3.OperationalError: database is locked"


async def test_backoff_row_counts_down_and_follows_new_snapshots() -> None:
    clock = [NOW]
    source = ScriptedSource(sample_snapshot(NOW))
    app = make_app(source, clock=lambda: clock[0])
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(WorkersTable)
        await pilot.pause()
        assert table.get_cell("2", "state").plain.strip() == "backoff 5s"
        clock[0] = NOW + 2
        await wait_for(pilot, lambda: table.get_cell("2", "state").plain.strip() == "backoff 3s")
        snap = sample_snapshot(NOW)
        workers = list(snap.workers)
        workers[2] = dataclasses.replace(workers[2], state="running", pid=4200, backoff_until=None, uptime_s=1.0,
                                         cpu_percent=1.0, rss_bytes=50 * 1048576)
        source.show(dataclasses.replace(snap, workers=tuple(workers)))
        await wait_for(pilot, lambda: table.get_cell("2", "state").plain.strip() == "running")


async def test_l2_hit_rates_when_configured() -> None:
    app = make_app(ScriptedSource(sample_snapshot(NOW, l2=True)))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "L2 not configured" not in text and "L2 " in text and "L1/L2 w0 71%/36%" in text


async def test_small_terminal_keeps_the_essentials() -> None:
    app = make_app(ScriptedSource(sample_snapshot(NOW)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        for expected in ("backoff 5s", "exited with", "● groq", "auth_error", "offline — not an LLM",
                         "L2 not configured", "14:02:11 TRT", "Feed (follow)", "q quit"):
            assert expected in text, expected


async def test_notices_become_notifications_once() -> None:
    base = sample_snapshot(NOW)
    first = dataclasses.replace(base, notices=((NOW - 9, "info", "old news"), (NOW - 5, "error", "worker 2 crashed")))
    source = ScriptedSource(first)
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert messages(app) == ["error|error|worker 2 crashed"]  # before start: only the problems
        source.show(dataclasses.replace(first, notices=(*first.notices, (NOW, "warning", "chat disabled"),
                                                        (NOW + 1, "info", "active provider → openai"))))
        await wait_for(pilot, lambda: len(app.notifications_log) == 3)
        await pilot.pause(0.3)
        assert messages(app)[1:] == ["warning|warning|chat disabled", "information|info|active provider → openai"]


# ── keys ─────────────────────────────────────────────────────────────────────────────────────────
async def test_p_picks_a_provider_and_switches() -> None:
    source = ScriptedSource(sample_snapshot(NOW), results={"switch_provider": {"ok": True, "provider": "openai",
                                                                               "workers": [0, 1, 3]}})
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ProviderPicker))
        text = screen_text(app)
        assert "auth_error — 401 invalid key" in text and "offline — not an LLM" in text
        await pilot.press("down", "enter")
        # openai's key was refused: the switch asks first and says why
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "openai cannot work now: its key was refused" in screen_text(app)
        assert not source.called("switch_provider")
        await pilot.press("enter")
        await wait_for(pilot, lambda: source.called("switch_provider"))
        assert source.called("switch_provider") == [("openai",)]
        await wait_for(pilot, lambda: any("Active provider → openai (3 workers told)" in m for m in messages(app)))


async def test_r_confirms_restarts_all_and_shows_the_changes() -> None:
    """`r` asks the source what a restart would change first; the dialog shows the masked diff and what
    cannot be applied (and why) before anything restarts; the result repeats both."""
    changes = ["GROQ_API_KEY: gsk_…a1 → gsk_…b2", "engine.time_scale: 1.0 → 3.0"]
    held = ["supervisor.workers: 4 → 6 — not applied: the worker count is fixed while piyasa runs; "
            "restart piyasa to apply it"]
    source = ScriptedSource(sample_snapshot(NOW), results={
        "preview_restart": {"ok": True, "changes": changes, "held": held, "error": None},
        "restart_workers": {"ok": True, "changes": changes, "held": held, "error": None}})
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert source.called("preview_restart") == [()] and not source.called("restart_workers")
        text = screen_text(app)
        assert "engine.time_scale: 1.0 → 3.0" in text and "gsk_…a1 → gsk_…b2" in text
        assert "It cannot apply" in text and "supervisor.workers: 4 → 6" in text
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen))
        assert source.called("restart_workers") == [(None,)]
        text = screen_text(app)
        assert "Restarted all workers" in text and "GROQ_API_KEY: gsk_…a1 → gsk_…b2" in text
        assert "Not applied" in text
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, MessageScreen))


async def test_r_shows_a_refused_restart_and_escape_cancels() -> None:
    source = ScriptedSource(sample_snapshot(NOW))
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "No configuration changes" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert not source.called("restart_workers")
    refused = ScriptedSource(sample_snapshot(NOW), results={"preview_restart": {
        "ok": False, "changes": [], "held": [], "error": "llm.active: 'grok' is not a provider"}})
    app = make_app(refused)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen))
        text = screen_text(app)
        assert "Restart refused" in text and "'grok' is not a provider" in text
        assert not refused.called("restart_workers")


async def test_shift_r_restarts_the_selected_worker() -> None:
    source = ScriptedSource(sample_snapshot(NOW))
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(WorkersTable)
        table.focus()
        await pilot.press("down", "down")
        assert table.selected_worker == 2
        await pilot.press("R")
        await wait_for(pilot, lambda: source.called("restart_workers"))
        assert source.called("restart_workers") == [(2,)]
        await wait_for(pilot, lambda: any("Restarted worker 2" in m for m in messages(app)))


async def test_enter_on_a_worker_row_shows_its_full_error() -> None:
    app = make_app(ScriptedSource(sample_snapshot(NOW)))
    async with app.run_test(size=(80, 24)) as pilot:
        table = app.query_one(WorkersTable)
        table.focus()
        await pilot.press("down", "down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen))
        text = screen_text(app)
        assert "Worker 2" in text and "restart in 5s" in text and "database is locked" in text


async def test_space_pauses_then_resumes() -> None:
    source = ScriptedSource(sample_snapshot(NOW))
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        await wait_for(pilot, lambda: len(source.called("set_simulation")) == 1)
        await pilot.pause()
        assert "simulation: paused" in screen_text(app)
        await pilot.press("space")
        await wait_for(pilot, lambda: len(source.called("set_simulation")) == 2)
        assert source.called("set_simulation") == [(False,), (True,)]
        await pilot.pause()
        assert "simulation: running" in screen_text(app)


async def test_f_filters_the_feed() -> None:
    app = make_app(ScriptedSource(sample_snapshot(NOW)))
    async with app.run_test(size=SIZE) as pilot:
        feed = app.query_one(FeedLog)
        await pilot.pause()
        assert len(feed.lines) == 24

        async def apply(text: str) -> None:
            await pilot.press("f")
            bar = app.dashboard.filter_bar
            await wait_for(pilot, lambda: bar.is_open)
            assert "Enter applies" in screen_text(app)
            bar.value = ""
            await pilot.press(*text) if text else None
            await pilot.press("enter")
            await wait_for(pilot, lambda: not bar.is_open)
            await pilot.pause()
            assert not bar.is_open

        await apply("w2")
        assert len(feed.lines) == 6 and all(" w2 Ayşe Scalper" in line.text for line in feed.lines)
        assert "filter: w2" in str(feed.border_title)
        await apply("bot:Zeynep")
        assert len(feed.lines) == 3 and all("Zeynep Yeni →" in line.text for line in feed.lines)
        await apply("chat:borsa-sohbet")
        assert len(feed.lines) == 8 and all("→ borsa-sohbet" in line.text for line in feed.lines)
        await apply("")
        assert len(feed.lines) == 24 and "filter" not in str(feed.border_title)

        await apply("w2")
        await pilot.press("f")  # Escape closes the bar and keeps the filter; focus goes back
        await wait_for(pilot, lambda: app.dashboard.filter_bar.value == "w2")
        await pilot.press("backspace", "1", "escape")
        await wait_for(pilot, lambda: not app.dashboard.filter_bar.is_open)
        assert feed.filter.source == "w2" and len(feed.lines) == 6
        assert app.dashboard.workers_table.has_focus


async def test_slash_posts_as_a_human_and_names_who_answers() -> None:
    source = ScriptedSource(sample_snapshot(NOW),
                            results={"post_human": {"ok": True, "message_id": 77, "answering": [3]}})
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.screen, PostScreen))
        await pilot.press("enter")  # empty text: stays open
        await pilot.pause()
        assert isinstance(app.screen, PostScreen) and source.calls == []
        await pilot.press(*"merhaba @ayse")
        await pilot.press("enter")
        await wait_for(pilot, lambda: source.called("post_human"))
        assert source.called("post_human") == [("piyasa-local", "merhaba @ayse", "Operatör")]
        await wait_for(pilot, lambda: any("Answering: Ayşe Scalper" in m for m in messages(app)))


async def test_b_starts_the_benchmark_shows_progress_and_cancels() -> None:
    bench = {"id": "r1", "state": "running", "trigger": "tui", "duration_s": 120.0, "time_scale": 120.0,
             "elapsed_sim_s": 60.0, "progress": 0.5, "sent": 7, "throughput_per_min": 7.0, "error": "",
             "criteria": [{"id": "throughput_min", "name": "Throughput (minimum)", "status": "pass", "value": 7.0,
                           "threshold": 4.0, "op": ">=", "detail": "7.00 msg/min (minimum 4)", "required": True},
                          {"id": "l2_hit_rate", "name": "L2 cache hit rate", "status": "not_configured",
                           "value": None, "threshold": 0.2, "op": ">", "detail": "not configured: no Redis",
                           "required": True}]}
    source = ScriptedSource(sample_snapshot(NOW), results={"benchmark": lambda action, options: {
        "ok": True, "id": "r1", "duration_s": 120.0, "time_scale": 120.0, "real_seconds": 1.0, "out_dir": "/tmp/b"}})
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BenchmarkStartScreen))
        duration = app.screen.query_one("#bench-duration", Input)
        duration.value = "soon"
        await pilot.pause()
        assert "duration: 'soon'" in screen_text(app)  # the bad field is named, nothing is sent
        await pilot.press("enter")
        await pilot.pause()
        assert not source.called("benchmark") and isinstance(app.screen, BenchmarkStartScreen)
        duration.value = "2m"
        app.screen.query_one("#bench-scale", Input).value = "120"
        await pilot.pause()
        assert "takes about 1 s of real time" in screen_text(app)
        await pilot.click("#start")
        await wait_for(pilot, lambda: isinstance(app.screen, BenchmarkScreen))
        assert source.called("benchmark") == [("start", {"duration": "120s", "time_scale": 120.0, "trigger": "tui"})]
        source.show(dataclasses.replace(sample_snapshot(NOW), benchmark=bench))
        await wait_for(pilot, lambda: "Throughput (minimum)" in screen_text(app))
        text = screen_text(app)
        assert "1.0 of 2 simulated min" in text and "➖ not configured" in text and "✅ pass" in text
        await pilot.press("c")
        await wait_for(pilot, lambda: len(source.called("benchmark")) == 2)
        assert source.called("benchmark")[1] == ("cancel", {})
        source.show(dataclasses.replace(sample_snapshot(NOW), benchmark={
            **bench, "state": "cancelled", "passed": False, "run_dir": "/tmp/b/r1", "files": ["report.json"]}))
        # one condition: a frame read between two redraws (the cancel notice arriving) can be partial
        await wait_for(pilot, lambda: "CANCELLED" in (s := screen_text(app)) and "/tmp/b/r1 (report.json)" in s)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, BenchmarkScreen))


async def test_question_mark_opens_help() -> None:
    app = make_app(ScriptedSource(sample_snapshot(NOW)))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app)
        for expected in ("Switch provider", "Restart all workers", "Restart selected worker", "Benchmark",
                         "Pause / resume", "Filter feed", "Post as a human", "Quit", "Command palette"):
            assert expected in text, expected
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, HelpScreen))


async def test_q_quits() -> None:
    app = make_app(ScriptedSource(sample_snapshot(NOW)))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert app._exit
    assert app.return_code == 0


async def test_command_palette_offers_every_action() -> None:
    source = ScriptedSource(sample_snapshot(NOW))
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for expected in ("Switch provider (p)", "Restart all workers (r)", "Restart selected worker (R)",
                         "Benchmark (b)", "Pause / resume (space)", "Filter feed (f)", "Post as a human (/)",
                         "Help (?)", "Quit"):
            assert expected in titles, expected
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"Benchmark")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BenchmarkStartScreen))
        await pilot.press("enter")
        await wait_for(pilot, lambda: source.called("benchmark"))


async def test_worker_errors_take_one_path() -> None:
    source = ScriptedSource(sample_snapshot(NOW), errors={"switch_provider": ValueError("unknown provider 'x'"),
                                                          "set_simulation": RuntimeError("queue closed")})
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ProviderPicker))
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("unknown provider 'x'" in m for m in messages(app)))
        assert next(m for m in messages(app) if "unknown provider" in m).startswith("error|switch provider failed")
        await pilot.press("space")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageScreen))
        assert "RuntimeError: queue closed" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert "simulation: running" in screen_text(app)  # the optimistic pause was rolled back


async def test_a_failing_source_is_reported_once_and_recovers() -> None:
    snap = sample_snapshot(NOW)

    class Flaky(ScriptedSource):
        broken = True

        def snapshot(self) -> Snapshot:
            if self.broken:
                raise ConnectionError("control API unreachable")
            return super().snapshot()

    source = Flaky(snap)
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.35)
        assert [m for m in messages(app) if "unreachable" in m] == ["error|No snapshot|ConnectionError: control API unreachable"]
        assert "waiting for the supervisor" in screen_text(app)
        source.broken = False
        await wait_for(pilot, lambda: "4 workers" in screen_text(app))


async def test_actions_run_in_the_source_loop_when_it_has_its_own() -> None:
    import asyncio
    import threading

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    seen = []
    source = ScriptedSource(sample_snapshot(NOW), results={
        "set_simulation": lambda running: seen.append(asyncio.get_running_loop()) or {"ok": True}})
    try:
        app = make_app(source, source_loop=loop)
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("space")
            await wait_for(pilot, lambda: seen)
            assert seen == [loop] and source.called("set_simulation") == [(False,)]
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=2)
        loop.close()


async def test_refresh_is_at_most_10_hz() -> None:
    source = ScriptedSource(sample_snapshot(NOW))
    app = make_app(source, refresh_hz=50)  # asked for more: still capped
    async with app.run_test(size=SIZE) as pilot:
        before = source.snapshot_calls
        await pilot.pause(1.0)
        calls = source.snapshot_calls - before
        assert 3 <= calls <= 11, calls


# ── the feed: follow, pause, flood ───────────────────────────────────────────────────────────────
async def test_feed_follows_pauses_on_scroll_up_and_resumes() -> None:
    base = sample_snapshot(NOW, feed_size=0)
    items = [feed_item(i, NOW - 300 + i) for i in range(100)]
    source = ScriptedSource(dataclasses.replace(base, feed=tuple(items)))
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        feed = app.query_one(FeedLog)
        await pilot.pause(0.2)
        assert feed.follow and len(feed.lines) == 100
        await wait_for(pilot, lambda: feed.scroll_y == feed.max_scroll_y > 0)
        feed.focus()
        await pilot.press("pageup")  # the user scrolls up: follow pauses
        await wait_for(pilot, lambda: not feed.follow)
        await pilot.wait_for_scheduled_animations()
        y = feed.scroll_y
        more = items + [feed_item(100 + i, NOW + i) for i in range(5)]
        source.show(dataclasses.replace(base, feed=tuple(more)))
        await wait_for(pilot, lambda: feed.pending == 5)
        assert len(feed.lines) == 100 and feed.scroll_y == y  # the view holds still
        assert "paused · 5 new" in str(feed.border_title)
        await pilot.press("end")  # back at the bottom: following again, the new lines drawn
        await wait_for(pilot, lambda: feed.follow)
        assert len(feed.lines) == 105 and feed.lines[-1].text.strip().endswith("mesaj 104")
        await pilot.press("F")  # F pauses by hand …
        assert not feed.follow
        source.show(dataclasses.replace(base, feed=tuple(more + [feed_item(200, NOW + 9)])))
        await wait_for(pilot, lambda: feed.pending == 1)
        await pilot.press("F")  # … and follows again
        await wait_for(pilot, lambda: len(feed.lines) == 106)
        assert feed.follow and feed.pending == 0


async def test_feed_is_bounded() -> None:
    base = sample_snapshot(NOW, feed_size=0)
    source = ScriptedSource(dataclasses.replace(base, feed=tuple(feed_item(i, NOW + i) for i in range(300))))
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        feed = app.query_one(FeedLog)
        await pilot.pause()
        source.show(dataclasses.replace(base, feed=tuple(feed_item(i, NOW + i) for i in range(300, 800))))
        await wait_for(pilot, lambda: feed.items and feed.items[-1].message_id == 799)
        assert len(feed.items) == 500 and len(feed.lines) == 500
        assert feed.items[0].message_id == 300


async def test_flood_of_200_messages_per_second_stays_responsive() -> None:
    rate, duration = 200, 3.0
    base = sample_snapshot(NOW, feed_size=0)
    produced = [0]
    start = time.monotonic()

    def flood():
        window: deque[FeedItem] = deque(maxlen=500)  # what the supervisor keeps
        while True:
            due = int(min(time.monotonic() - start, duration) * rate)
            while produced[0] < due:
                n = produced[0]
                window.append(feed_item(n, NOW + n / rate, worker_id=n % 4, bot=f"bot {n % 7}"))
                produced[0] += 1
            yield dataclasses.replace(base, feed=tuple(window), at=NOW + due / rate)

    source = ScriptedSource(flood())
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        feed = app.query_one(FeedLog)
        await pilot.pause(1.0)
        pressed = time.perf_counter()
        await pilot.press("f")
        await wait_for(pilot, lambda: app.dashboard.filter_bar.is_open)
        filter_latency = time.perf_counter() - pressed
        await pilot.press("escape")
        await wait_for(pilot, lambda: not app.dashboard.filter_bar.is_open)
        await pilot.pause(0.5)
        pressed = time.perf_counter()
        await pilot.press("space")
        await wait_for(pilot, lambda: source.called("set_simulation"))
        pause_latency = time.perf_counter() - pressed
        remaining = duration + 0.3 - (time.monotonic() - start)
        if remaining > 0:
            await pilot.pause(remaining)
        # every message of the flood produced (the source is read as the app polls it) and shown
        await wait_for(pilot, lambda: produced[0] == int(rate * duration) and feed.items
                       and feed.items[-1].message_id == produced[0] - 1, timeout=30)
        print(f"\nflood {rate}/s for {duration:.0f} s: {produced[0]} messages, {app.refresh_count} refreshes; "
              f"key → effect: f {filter_latency * 1000:.0f} ms, space {pause_latency * 1000:.0f} ms")
        assert produced[0] == int(rate * duration)
        assert len(feed.items) == 500 and len(feed.lines) == 500


# ── the real supervisor behind the same screens ──────────────────────────────────────────────────
@pytest.mark.e2e
async def test_four_real_workers_pause_switch_benchmark_and_a_human_gets_an_answer(workdir) -> None:
    """The real supervisor with 4 workers behind the dashboard: every key that acts, end to end."""
    import multiprocess.resource_tracker

    from tests.supervisor_support import running_supervisor

    multiprocess.resource_tracker.ensure_running()
    earlier = _post_before_start("sabah GARAN'da hacim var mı?")  # the feed starts with today's lines
    async with running_supervisor(scale=60) as supervisor:
        app = PiyasaApp(supervisor, cursor_blink=False)
        async with app.run_test(size=SIZE) as pilot:
            feed = app.query_one(FeedLog)
            await wait_for(pilot, lambda: {i.worker_id for i in feed.items if not i.human} == {0, 1, 2, 3},
                           timeout=60)
            assert feed.items[0].message_id == earlier and feed.items[0].human
            await wait_for(pilot, lambda: "4 workers ─" in screen_text(app), timeout=30)
            assert "offline — not an LLM" in screen_text(app) and "L2 not configured" in screen_text(app)
            await pilot.press("space")
            await wait_for(pilot, lambda: not supervisor.running)
            await wait_for(pilot, lambda: "simulation: paused" in screen_text(app))
            await pilot.press("space")
            await wait_for(pilot, lambda: supervisor.running)
            await pilot.press("b")  # a real (short) benchmark from the key: same runner, same report
            await wait_for(pilot, lambda: isinstance(app.screen, BenchmarkStartScreen))
            app.screen.query_one("#bench-duration", Input).value = "1m"
            app.screen.query_one("#bench-scale", Input).value = "60"
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, BenchmarkScreen))
            await wait_for(pilot, lambda: (supervisor.bench.status() or {}).get("state") == "completed", timeout=60)
            bench = supervisor.bench.status()
            assert bench["trigger"] == "tui" and set(bench["files"]) == {"report.json", "report.md", "report.html",
                                                                          "timeseries.csv"}
            report = json.loads((Path(bench["run_dir"]) / "report.json").read_text(encoding="utf-8"))
            assert report["schema"] == "piyasa.bench/2" and report["run"]["trigger"] == "tui"
            assert set(report) == REPORT_KEYS
            await wait_for(pilot, lambda: "reports" in screen_text(app) and bench["id"] in screen_text(app))
            await pilot.press("escape")
            await wait_for(pilot, lambda: not isinstance(app.screen, BenchmarkScreen))
            # the run talked in its own chats on its own clock: nothing of it in the feed, no time going back
            assert not any("@" in i.chat_key for i in feed.items)
            times = [i.at for i in feed.items if not i.human]
            assert all(b > a - 60 for a, b in zip(times, times[1:])), times
            await pilot.press("p")
            await wait_for(pilot, lambda: isinstance(app.screen, ProviderPicker))
            await pilot.press("up", "enter")
            # the provider above offline has no key here: the switch asks first, and says why
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=10)
            assert "cannot work now: no API key is set" in screen_text(app)
            await pilot.press("enter")
            await wait_for(pilot, lambda: supervisor.active_provider != "offline", timeout=10)
            chosen = supervisor.active_provider
            await wait_for(pilot, lambda: all(s.applied.get("provider", ("",))[0] == chosen
                                              for s in supervisor.slots.values()), timeout=30)
            await pilot.press("p")
            await wait_for(pilot, lambda: isinstance(app.screen, ProviderPicker))
            await pilot.press("down", "enter")
            await wait_for(pilot, lambda: supervisor.active_provider == "offline", timeout=10)
            await wait_for(pilot, lambda: all(s.applied.get("provider", ("",))[0] == "offline"
                                              for s in supervisor.slots.values()), timeout=30)
            await pilot.press("slash")
            await wait_for(pilot, lambda: isinstance(app.screen, PostScreen))
            await pilot.press(*"@zeynep_newbie altin nasil?")
            await pilot.press("enter")
            await wait_for(pilot, lambda: any(i.bot_name == "Zeynep Yeni" and i.mode == "human_reply"
                                              for i in feed.items), timeout=30)
            mine = next(i for i in feed.items if i.human and i.text == "@zeynep_newbie altin nasil?")
            answer = next(i for i in feed.items if i.mode == "human_reply")
            for item, expected in ((mine, "posted from the console"), (answer, "post-process")):
                feed.focus()
                feed._select(item)
                await pilot.press("enter")  # the message detail, from the database
                await wait_for(pilot, lambda: isinstance(app.screen, MessageDetailScreen) and app.screen.detail)
                assert expected in screen_text(app) and app.screen.detail["id"] == item.message_id
                await pilot.press("escape")
                await wait_for(pilot, lambda: not isinstance(app.screen, MessageDetailScreen))
            await pilot.press("q")


def _post_before_start(text: str) -> int:
    """A person's line of the simulated day, stored before the supervisor starts; its message id."""
    from sqlalchemy import select

    from piyasa_core.config import load_config
    from piyasa_core.store import open_store
    from piyasa_core.store.bootstrap import initialise
    from piyasa_core.store.models import Chat
    from piyasa_core.telegram.inbound import post_as_human
    from tests.engine_support import SIM_START

    config = load_config()
    initialise(config)
    store = open_store(config)
    try:
        with store.engine.begin() as conn:
            chat = conn.execute(select(Chat.id).where(Chat.key == "piyasa-local")).scalar_one()
            stored = post_as_human(conn, chat_id=chat, text=text, human_name="Deniz", created_at=SIM_START - 600,
                                   bots=[])
    finally:
        store.dispose()
    assert stored.message_id is not None
    return stored.message_id


def test_the_providers_panel_shows_the_days_plan() -> None:
    """Groq at 41k of 100k tokens: the plan's messages left, its pace and how long it lasts, and the
    summary line when the plan holds the bots back and cannot keep every bot at its minimum."""
    import dataclasses
    from zoneinfo import ZoneInfo

    from rich.console import Console

    from piyasa_core.llm.quota_plan import ProviderDay, plan_day
    from piyasa_tui.source import sample_snapshot
    from piyasa_tui.widgets.common import Frame
    from piyasa_tui.widgets.providers import ProvidersPanel

    now = 1741950131.0  # 14:02 TRT
    plan = plan_day([ProviderDay("groq", tpd=100_000, used_tokens=41_000)], at=now, day_end=now + 9 * 3600,
                    demand=500, demand_at_minimum=300, tokens_per_message=465)
    tz = ZoneInfo("Europe/Istanbul")

    def render(day_plan: dict | None) -> str:  # type: ignore[type-arg]
        snap = dataclasses.replace(sample_snapshot(now), day_plan=day_plan)
        console = Console(width=100, record=True)
        console.print(ProvidersPanel.build(Frame(snap, now, True, tz), compact=False))
        return console.export_text()

    shown = render(plan.to_dict())
    assert "plan 126 msg left · 12.7/h · lasts past 23:02" in shown, shown
    assert "plan: every bot at ×0.23 of its pace, 12.7 msg/h to 23:02; 13 kept for people" in shown
    assert "keeping every bot at its hourly minimum" in shown and "(186 short)" in shown
    assert "plan" not in render(None)
