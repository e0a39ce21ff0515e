"""The operator console (issue 17) with Pilot over a ScriptedSource: who talks when, the bots screen and
its switch, the providers screen with past notices, the benchmark runs, the benchmark dialog following
its run without toasts over it, the header keeping the rate, and the palette's screenshot."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from piyasa_core.bench.history import bench_history
from piyasa_tui.screens.benchmark import BenchmarkScreen
from piyasa_tui.screens.bots import BotsScreen, BotsTable
from piyasa_tui.screens.modals import ConfirmScreen, ProviderPicker
from piyasa_tui.screens.providers import ProvidersScreen
from piyasa_tui.screens.runs import RunsScreen, RunsTable
from piyasa_tui.source import ScriptedSource, sample_snapshot
from piyasa_tui.widgets.status import LEVELS, Parts
from tests.test_tui import NOW, make_app, messages, screen_text, wait_for

SIZE = (120, 36)
NIGHT = 1741987800.0  # 2025-03-15 00:30 TRT


async def test_the_who_line_says_who_talks_now_next_and_nobody_at_night() -> None:
    source = ScriptedSource(sample_snapshot(NOW))
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "active now: Mehmet, Zeynep, Ayşe · next: Ali at 15:00" in screen_text(app))
        source.show(sample_snapshot(NIGHT))
        await wait_for(pilot, lambda: "nobody active until 08:00 (Zeynep)" in screen_text(app))
        off = sample_snapshot(NOW)
        off = dataclasses.replace(off, bots=tuple(dataclasses.replace(b, state="disabled", disabled_by="operator")
                                                  for b in off.bots))
        source.show(off)
        await wait_for(pilot, lambda: "no bot is enabled · t shows them" in screen_text(app))


async def test_t_shows_every_bot_and_e_disables_and_enables_one() -> None:
    source = ScriptedSource(sample_snapshot(NOW))
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, BotsScreen))
        table = app.screen.query_one(BotsTable)
        await wait_for(pilot, lambda: table.row_count == 5)
        text = screen_text(app)
        for expected in ("Mehmet Yatırımcı", "active →17:00", "in 40s", "4 /10–20", "11.0/h", "09-12 14-17 20-22",
                         "away →15:00", "w2 down", "disabled (op)", "14:01 GARAN'da",
                         "temettü: uzun vadede kazandırır (0.9)", "prime 10:00-11:00, 20:00-21:00"):
            assert expected in text, expected
        await pilot.press("e")  # Mehmet talks: disabling asks first
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "stays disabled across restarts" in screen_text(app)
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, BotsScreen))
        assert source.called("set_bot_enabled") == []
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: source.called("set_bot_enabled") == [(0, False)])
        await wait_for(pilot, lambda: any("Mehmet Yatırımcı disabled" in m for m in messages(app)))
        await pilot.press("down", "down", "down", "down", "e")  # Can: disabled by the operator, enabled at once
        await wait_for(pilot, lambda: source.called("set_bot_enabled")[-1] == (4, True))
        assert "Can Teknik (@can_chartist" in screen_text(app) or "Can Teknik" in screen_text(app)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, BotsScreen))


async def test_a_bot_disabled_in_config_or_a_refused_switch_is_one_line() -> None:
    snap = sample_snapshot(NOW)
    snap = dataclasses.replace(snap, bots=(dataclasses.replace(snap.bots[0], state="disabled", disabled_by="config"),
                                           *snap.bots[1:]))
    source = ScriptedSource(snap, errors={"set_bot_enabled": ValueError("unknown bot 7; known: 1 (mehmet_trader)")})
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, BotsScreen) and app.screen.query_one(BotsTable).row_count)
        assert "disabled (cfg)" in screen_text(app) and "set enabled = true there and run init" in screen_text(app)
        await pilot.press("e")
        await wait_for(pilot, lambda: any("disabled in config.toml (enabled = false)" in m for m in messages(app)))
        assert source.called("set_bot_enabled") == []
        await pilot.press("down", "down", "down", "down", "e")  # Can, off by the operator: the source refuses
        await wait_for(pilot, lambda: any(m.startswith("error|enable/disable bot failed|unknown bot 7")
                                          for m in messages(app)))


async def test_P_shows_limits_budgets_plan_breaker_and_keeps_every_notice() -> None:
    from tests.test_tui_snapshots import operator_snapshot

    source = ScriptedSource(operator_snapshot(NOW))
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        app.notify("worker 3 restarted", title="Restart")
        await pilot.press("P")
        await wait_for(pilot, lambda: isinstance(app.screen, ProvidersScreen))
        await wait_for(pilot, lambda: "Notices (2, newest first)" in screen_text(app))
        text = screen_text(app)
        for expected in ("● groq (llama-3.3-70b-versatile)  ok · breaker closed · last error server at 13:58:11",
                         "req 987/1k · tok 11.2k/12k · reset 12s", "budgets rpm 30 · tpm 12k · rpd 1k · tpd 100k",
                         "today 41k/100k tok · 812 req · empty ≈ 19:40", "215 msg left · 14.9/h",
                         "last error auth at 13:12:11", "401 invalid key (OPENAI_API_KEY)", "budgets none",
                         "14:02:11 info  Restart — worker 3 restarted",
                         "14:02:11 error w2: exited with code 1: database is locked"):
            assert expected in text, expected
        app.notify("a later notice", title="Provider")
        await wait_for(pilot, lambda: "Provider — a later notice" in screen_text(app))
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ProviderPicker))
        await pilot.press("escape", "escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, (ProviderPicker, ProvidersScreen)))


def write_timeline(out: Path) -> None:
    rows = [{"id": "20250314T090000Z-ab12", "started_at": "2025-03-14T09:00:00+00:00", "state": "completed",
             "trigger": "tui", "profile": "seed", "duration_s": 600, "time_scale": 60, "workers": 4,
             "provider": "offline", "sent": 312, "throughput_per_min": 31.2, "worker_cv": 0.08, "pace_deviation": 0.04,
             "lateness_p95_s": 3.1, "duplicates": 0, "near_duplicates": 0, "l2_hit_rate": None, "l2_configured": False,
             "passed": True, "git_revision": "bf548f5", "run_dir": "20250314T090000Z-ab12"},
            {"id": "20250314T100000Z-cd34", "started_at": "2025-03-14T10:00:00+00:00", "state": "completed",
             "trigger": "api", "profile": "seed", "duration_s": 60, "time_scale": 60, "workers": 4,
             "provider": "offline", "sent": 20, "throughput_per_min": 20.0, "worker_cv": 0.3, "pace_deviation": 0.3,
             "lateness_p95_s": 9.0, "duplicates": 1, "near_duplicates": 0, "l2_hit_rate": None, "l2_configured": False,
             "passed": False, "git_revision": "bf548f5", "run_dir": "20250314T100000Z-cd34"}]
    (out / "20250314T090000Z-ab12").mkdir(parents=True)
    for name in ("report.json", "report.md", "report.html", "timeseries.csv"):
        (out / "20250314T090000Z-ab12" / name).write_text("{}", encoding="utf-8")
    lines = [json.dumps(r) for r in rows]
    (out / "timeline.jsonl").write_text(lines[0] + "\nnot json\n" + lines[1] + "\n", encoding="utf-8")


async def test_H_lists_the_timelines_runs_with_verdicts_and_reports(tmp_path: Path) -> None:
    write_timeline(tmp_path)
    source = ScriptedSource(sample_snapshot(NOW), results={"benchmark": lambda action, options: bench_history(tmp_path)})
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("H")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        table = app.screen.query_one(RunsTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        assert source.called("benchmark") == [("history", {})]
        text = screen_text(app)
        for expected in ("failed", "passed", "×0.64 (-11.20)", "baseline", "1m ×60", "10m ×60",
                         "1 unreadable line(s) skipped", "run 20250314T100000Z-cd34  FAILED", "the run directory is gone"):
            assert expected in text, expected
        await pilot.press("down")
        await wait_for(pilot, lambda: "report.html, report.json, report.md, timeseries.csv" in screen_text(app))
        assert str(tmp_path / "20250314T090000Z-ab12") in screen_text(app)
        await pilot.press("r")
        await wait_for(pilot, lambda: len(source.called("benchmark")) == 2)
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, RunsScreen))


async def test_the_benchmark_dialog_follows_its_run_and_no_toast_covers_it() -> None:
    snap = sample_snapshot(NOW)
    running = {"id": "r1", "state": "running", "progress": 0.5, "elapsed_sim_s": 300, "duration_s": 600,
               "time_scale": 60, "sent": 150, "throughput_per_min": 30.0, "criteria": []}
    done = {**running, "state": "completed", "passed": True, "progress": 1.0, "elapsed_sim_s": 600,
            "run_dir": "data/bench/r1", "files": ["report.json"]}
    source = ScriptedSource(snap)
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("b", "enter")  # the start dialog's defaults
        await wait_for(pilot, lambda: isinstance(app.screen, BenchmarkScreen))
        source.show(dataclasses.replace(snap, benchmark=running))
        await wait_for(pilot, lambda: "c cancels the run · Escape closes this view (the run goes on)" in screen_text(app))
        assert not app._notifications  # "Benchmark started" does not sit over the dialog
        source.show(dataclasses.replace(snap, benchmark=done))
        await wait_for(pilot, lambda: "PASSED" in screen_text(app))
        text = screen_text(app)
        assert "c cancels" not in text and "Escape closes this view · H lists every run" in text
        app.notify("worker 2 exited with code 1", title="Worker", severity="error")
        await wait_for(pilot, lambda: "1 notice held while this view is open (1 error)" in screen_text(app))
        assert not app._notifications and messages(app)[-1] == "error|Worker|worker 2 exited with code 1"
        await pilot.press("c")
        await wait_for(pilot, lambda: "Nothing to cancel: the run has ended." in screen_text(app))
        assert ("cancel", {}) not in source.called("benchmark")
        await pilot.press("P")  # the held notices are on the providers screen
        await wait_for(pilot, lambda: isinstance(app.screen, ProvidersScreen))
        await wait_for(pilot, lambda: "Worker — worker 2 exited with code 1" in screen_text(app))


def test_the_header_shortens_its_labels_before_it_cuts_the_rate() -> None:
    parts = Parts(4, 4, False, "groq (llama-3.3-70b-versatile)", "groq", "paused: no provider usable until 14:05",
                  "bold yellow", "17.4 msg/min")
    lines = [parts.line(level, 120).plain for level in range(LEVELS)]
    assert lines[0] == " piyasa ─ 4 workers ─ provider: groq (llama-3.3-70b-versatile) ─ simulation: paused: no " \
                       "provider usable until 14:05 ─ 17.4 msg/min"
    assert all(len(b) <= len(a) for a, b in zip(lines, lines[1:]))
    assert lines[-1].startswith(" 4w ─ 17.4 msg/min ─ groq ─ ")  # the rate before anything that may be cut


async def test_the_header_shows_the_simulated_clock_and_the_whole_rate() -> None:
    snap = dataclasses.replace(sample_snapshot(NOW), time_scale=60.0, sim_at=NOW - 4 * 3600, rate_1m=17.4,
                               paused_reason="no provider usable until 14:05")
    app = make_app(ScriptedSource(snap))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: "sim 10:02:11 ×60 · 14:02:11 TRT" in screen_text(app))
        header = screen_text(app).splitlines()[0]
        assert "17.4 msg/min" in header and "…" not in header, header


async def test_the_palettes_screenshot_saves_in_the_data_dir_and_says_where(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "screenshots"
    app = make_app(ScriptedSource(sample_snapshot(NOW)), screenshot_dir=folder)
    async with app.run_test(size=SIZE) as pilot:
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Screenshot")
        assert str(folder) in command.help
        command.callback()
        await wait_for(pilot, lambda: any(m.startswith("information|Screenshot|saved ") for m in messages(app)))
        saved = [p for p in folder.iterdir() if p.suffix == ".svg"]
        assert len(saved) == 1 and messages(app)[-1].endswith(str(saved[0].resolve()))
        app.screenshot_dir = tmp_path / "a-file"
        app.screenshot_dir.write_text("", encoding="utf-8")
        app.action_save_screenshot()
        assert messages(app)[-1].startswith(f"error|Screenshot|could not save it in {tmp_path / 'a-file'}: ")


async def test_an_info_notice_after_a_start_without_notices_is_shown() -> None:
    """The switch's 'bot … disabled by the operator' came as the first notice of an embedded run and was
    taken for one from before the start (only problems of those are shown)."""
    snap = sample_snapshot(NOW)
    source = ScriptedSource(snap)
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        source.show(dataclasses.replace(snap, notices=((NOW, "info", "bot Ayşe Scalper disabled by the operator"),)))
        await wait_for(pilot, lambda: "information|info|bot Ayşe Scalper disabled by the operator" in messages(app))
