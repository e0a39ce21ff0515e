"""Snapshot tests of the dashboard (pytest-textual-snapshot): one fixed snapshot, a fixed clock.

Regenerate after an intended change with `pytest tests/test_tui_snapshots.py --snapshot-update` and look
at the SVGs in tests/__snapshots__/test_tui_snapshots/ before committing them.
"""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from textual.app import App

import piyasa_tui
from piyasa_tui.app import PiyasaApp
from piyasa_tui.screens.message import MessageDetailScreen
from piyasa_tui.source import ScriptedSource, sample_snapshot

NOW = 1741950131.0  # 2025-03-14 14:02:11 TRT


def dashboard(**kwargs) -> PiyasaApp:
    return PiyasaApp(ScriptedSource(sample_snapshot(NOW, **kwargs)), clock=lambda: NOW, cursor_blink=False)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_dashboard(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(dashboard(), terminal_size=size)


def test_dashboard_with_l2_and_help(snap_compare) -> None:
    assert snap_compare(dashboard(l2=True), terminal_size=(120, 40), press=["question_mark"])


# ── the operator console (issue 17) ──────────────────────────────────────────────────────────────
NIGHT = 1741987800.0  # 2025-03-15 00:30 TRT: nobody's hours


def console(snapshot=None, **kwargs) -> PiyasaApp:
    return PiyasaApp(ScriptedSource(snapshot or operator_snapshot(NOW), **kwargs), clock=lambda: NOW,
                     cursor_blink=False)


def operator_snapshot(at: float):  # type: ignore[no-untyped-def]
    """The sample with what the providers screen shows: budgets, a newest error, a day's plan."""
    import dataclasses

    snap = sample_snapshot(at)
    groq, openai, *rest = snap.providers
    groq = dataclasses.replace(groq, budgets={"rpm": 30, "tpm": 12000, "rpd": 1000, "tpd": 100000},
                               last_error="server", last_error_at=at - 240, errors={"server": 1})
    openai = dataclasses.replace(openai, budgets={"rpm": 500, "tpm": 200000, "rpd": 0, "tpd": 0},
                                 last_error="auth", last_error_at=at - 3000)
    plan = {"at": at, "scale": 1.0, "warning": "", "day_end": at + 8 * 3600, "planned_per_hour": 58.0, "reserve": 12,
            "affordable": 215.0, "providers": [{"name": "groq", "affordable_left": 215.0, "planned_per_hour": 14.9,
                                               "lasts_until": None}]}
    return dataclasses.replace(snap, providers=(groq, openai, *rest), day_plan=plan,
                               notices=((at - 100, "error", "w2: exited with code 1: database is locked"),))


HISTORY = {"ok": True, "out_dir": "data/bench", "timeline": "data/bench/timeline.jsonl", "total": 2, "skipped": [],
           "runs": [{"id": "20250314T100000Z-cd34", "started_at": "2025-03-14T10:00:00+00:00", "state": "cancelled",
                     "trigger": "api", "profile": "seed", "duration_s": 600, "time_scale": 60, "workers": 4,
                     "provider": "offline", "sent": 101, "throughput_per_min": 28.0, "worker_cv": 0.2,
                     "pace_deviation": 0.1, "lateness_p95_s": 5.0, "duplicates": 0, "l2_hit_rate": None,
                     "l2_configured": False, "passed": False, "git_revision": "bf548f5",
                     "run_dir": "20250314T100000Z-cd34", "verdict": "cancelled", "vs_previous": "×0.90 (-3.20)",
                     "record": False, "run_path": "data/bench/20250314T100000Z-cd34", "exists": True,
                     "files": ["report.html", "report.json", "report.md", "timeseries.csv"]},
                    {"id": "20250314T090000Z-ab12", "started_at": "2025-03-14T09:00:00+00:00", "state": "completed",
                     "trigger": "tui", "profile": "seed", "duration_s": 600, "time_scale": 60, "workers": 4,
                     "provider": "offline", "sent": 312, "throughput_per_min": 31.2, "worker_cv": 0.08,
                     "pace_deviation": 0.04, "lateness_p95_s": 3.1, "duplicates": 0, "l2_hit_rate": None,
                     "l2_configured": False, "passed": True, "git_revision": "bf548f5",
                     "run_dir": "20250314T090000Z-ab12", "verdict": "passed", "vs_previous": "baseline",
                     "record": False, "run_path": "data/bench/20250314T090000Z-ab12", "exists": True,
                     "files": ["report.html", "report.json", "report.md", "timeseries.csv"]}]}


def test_dashboard_120x36_shows_the_sketchs_worker_columns(snap_compare) -> None:
    assert snap_compare(dashboard(), terminal_size=(120, 36))


def test_dashboard_at_night_says_nobody_is_active(snap_compare) -> None:
    app = PiyasaApp(ScriptedSource(sample_snapshot(NIGHT)), clock=lambda: NIGHT, cursor_blink=False)
    assert snap_compare(app, terminal_size=(120, 36))


def test_bots_screen(snap_compare) -> None:
    assert snap_compare(console(), terminal_size=(120, 36), press=["t", "down", "down", "down"])


def test_providers_screen_with_notices(snap_compare) -> None:
    assert snap_compare(console(), terminal_size=(120, 36), press=["P"])


def test_benchmark_runs_screen(snap_compare) -> None:
    app = console(results={"benchmark": lambda action, options: HISTORY})
    assert snap_compare(app, terminal_size=(120, 36), press=["H"])


class DetailHost(App[None]):
    """Only the message detail (over an empty screen, so that the snapshot shows the dialog alone)."""

    CSS_PATH = str(Path(piyasa_tui.__file__).parent / "app.tcss")

    def __init__(self, detail: dict) -> None:  # type: ignore[type-arg]
        super().__init__()
        self.detail = detail

    async def message_detail(self, message_id: int) -> dict:  # type: ignore[type-arg]
        return self.detail

    def on_mount(self) -> None:
        item = sample_snapshot(NOW).feed[-1]
        self.push_screen(MessageDetailScreen(item, ZoneInfo("Europe/Istanbul")))


def test_message_detail(snap_compare) -> None:
    from tests.test_tui_feed import DETAIL

    async def loaded(pilot) -> None:  # type: ignore[no-untyped-def]
        while not isinstance(pilot.app.screen, MessageDetailScreen) or pilot.app.screen.detail is None:
            await pilot.pause(0.01)

    assert snap_compare(DetailHost(DETAIL), terminal_size=(120, 36), run_before=loaded)


# ── the dialogs (every screen has its snapshot) ──────────────────────────────────────────────────
def _open(key: str, screen_type: type):  # type: ignore[no-untyped-def]
    """Press ``key`` and wait until its dialog is up (``run_before`` runs before ``press`` would)."""
    async def wait(pilot) -> None:  # type: ignore[no-untyped-def]
        await pilot.press(key)
        for _ in range(1000):
            if isinstance(pilot.app.screen, screen_type):
                break
            await pilot.pause(0.01)
        await pilot.pause(0.05)
    return wait


def test_restart_dialog_shows_the_masked_diff_and_what_it_cannot_apply(snap_compare) -> None:
    from piyasa_tui.screens.modals import ConfirmScreen

    preview = {"ok": True, "error": None,
               "changes": ["GROQ_API_KEY: (unset) → *** (sha256 3f2a…)", "engine.time_scale: 1.0 → 3.0",
                           "llm.active: 'offline' → 'groq'"],
               "held": ["supervisor.workers: 4 → 6 — not applied: the worker count is fixed while piyasa runs; "
                        "restart piyasa to apply it"]}
    app = PiyasaApp(ScriptedSource(sample_snapshot(NOW), results={"preview_restart": preview}), clock=lambda: NOW,
                    cursor_blink=False)
    assert snap_compare(app, terminal_size=(120, 36), run_before=_open("r", ConfirmScreen))


def test_provider_picker(snap_compare) -> None:
    from piyasa_tui.screens.modals import ProviderPicker

    assert snap_compare(dashboard(), terminal_size=(120, 36), run_before=_open("p", ProviderPicker))


def test_post_dialog(snap_compare) -> None:
    from piyasa_tui.screens.modals import PostScreen

    assert snap_compare(dashboard(), terminal_size=(120, 36), run_before=_open("slash", PostScreen))


def test_benchmark_start_dialog(snap_compare) -> None:
    from piyasa_tui.screens.benchmark import BenchmarkStartScreen

    assert snap_compare(dashboard(), terminal_size=(120, 36), run_before=_open("b", BenchmarkStartScreen))
