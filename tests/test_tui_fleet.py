"""Fleet mode in the control centre (issue 18): the fleet line under the header, the fleet screen (`L`)
and its drain (`d`, confirmed), the palette and help in fleet mode, every source's drain, and the
embedded dashboard joining the fleet — Pilot over a ScriptedSource, no workers, no database."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

from piyasa_core.workers.supervisor import Supervisor
from piyasa_tui.fleet import read_fleet
from piyasa_tui.remote import RemoteSource
from piyasa_tui.screens.fleet import FleetScreen
from piyasa_tui.screens.help import HelpScreen
from piyasa_tui.screens.modals import ConfirmScreen
from piyasa_tui.source import ScriptedSource, SnapshotSource, sample_snapshot
from piyasa_tui.widgets.fleet import FleetLine, fleet_line
from piyasa_tui.widgets.keybar import KeyBar
from tests.test_tui import NOW, make_app, messages, screen_text, wait_for
from tests.test_tui_fleet_cli import fleet_snapshot

SIZE = (120, 36)


# ── the fleet line ───────────────────────────────────────────────────────────────────────────────
@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_the_fleet_line_fits_and_never_cuts_the_unheld_count(width: int) -> None:
    fleet = read_fleet(fleet_snapshot(failover=True).fleet)
    assert fleet is not None
    left, right = fleet_line(fleet, width)
    assert left.cell_len + right.cell_len + 1 <= width
    assert "4 unheld" in right.plain
    for host in ("piyasa-a", "piyasa-b", "piyasa-c"):
        assert host in left.plain
    assert "gone" in left.plain and ("(here)" in left.plain or "▸piyasa-a" in left.plain)
    if width >= 120:
        assert "piyasa-a (here) ● 4/6" in left.plain and "4.6/min" in left.plain and "12 shards" in right.plain


def test_gone_hosts_holding_nothing_fold_before_the_live_ones_lose_their_rates() -> None:
    snap = fleet_snapshot(failover=True)
    assert snap.fleet is not None
    dead = [{**snap.fleet["hosts"][2], "host_id": f"old-host-{i}"} for i in range(4)]
    fleet = read_fleet({**snap.fleet, "hosts": [*snap.fleet["hosts"], *dead]})
    assert fleet is not None
    left = fleet_line(fleet, 120)[0].plain
    assert "piyasa-a (here) ● 4/6" in left and "4.6/min" in left and left.rstrip().endswith("· ✕ 5 gone")
    assert "old-host-1 ✕ gone 41 s" in fleet_line(fleet, 300)[0].plain  # room for every one of them


def test_an_agent_error_takes_the_summarys_place() -> None:
    fleet = read_fleet(fleet_snapshot(error="OperationalError: connection refused").fleet)
    assert fleet is not None
    assert "fleet round failed: OperationalError" in fleet_line(fleet, 120)[1].plain


# ── the dashboard ────────────────────────────────────────────────────────────────────────────────
async def test_the_fleet_line_shows_in_fleet_mode_only_and_follows_the_hosts() -> None:
    source = ScriptedSource(sample_snapshot(NOW))
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        line = app.dashboard.query_one(FleetLine)
        assert not line.has_class("-on") and not line.display
        assert " L fleet " not in app.dashboard.query_one(KeyBar).render().plain  # type: ignore[union-attr]
        source.show(fleet_snapshot())
        await wait_for(pilot, lambda: "fleet: piyasa-a (here) ● 4/4" in screen_text(app))
        text = screen_text(app)
        assert "piyasa-b ● 4/4" in text and "12 shards · all held" in text and " L fleet " in text
        source.show(fleet_snapshot(failover=True))
        await wait_for(pilot, lambda: "piyasa-c ✕ gone 41 s" in screen_text(app))
        assert "12 shards · 4 unheld" in screen_text(app) and "piyasa-a (here) ● 4/6" in screen_text(app)


async def test_the_fleet_line_fits_the_small_terminal() -> None:
    app = make_app(ScriptedSource(fleet_snapshot(failover=True)))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: "4 unheld" in screen_text(app) and "backoff 5s" in screen_text(app))
        text = screen_text(app)
        for expected in ("▸piyasa-a ● 4/6", "piyasa-c ✕ gone", "backoff 5s", "● groq", "Feed (follow)", "q quit"):
            assert expected in text, expected


async def test_l_shows_the_fleet_and_d_drains_this_host_after_asking() -> None:
    source = ScriptedSource(fleet_snapshot(failover=True))
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: " L fleet " in screen_text(app))  # in fleet mode from the first frame
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen) and "piyasa-c" in screen_text(app))
        text = screen_text(app)
        for expected in ("● live (here)", "0, 3, 6, 9", "3 running, 1 backoff", "✕ gone", "41 s", "1.9 s",
                         "shards: 12, lease 10 s, held by 2 hosts, unheld: 2, 5, 8, 11", "d drain this host"):
            assert expected in text, expected
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        text = screen_text(app)
        assert "Drain host piyasa-a" in text and "hands its 4 shard(s)" in text and "They go to: piyasa-b" in text
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, FleetScreen))
        assert source.called("drain_host") == []
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: source.called("drain_host") == [()])
        await wait_for(pilot, lambda: any("piyasa-a is draining: 4 shard(s) to hand over" in m for m in messages(app)))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, FleetScreen))


async def test_without_a_fleet_l_and_the_drain_say_so_and_drain_nothing() -> None:
    source = ScriptedSource(sample_snapshot(NOW))
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("L")
        await wait_for(pilot, lambda: any("not in fleet mode" in m for m in messages(app)))
        assert not isinstance(app.screen, FleetScreen)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Fleet hosts (L)" not in titles and "Drain this host" not in titles
        app.action_drain_host()
        await wait_for(pilot, lambda: any(m.startswith("warning|Drain|Nothing to drain") for m in messages(app)))
        assert source.called("drain_host") == []
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert "Fleet hosts" not in screen_text(app)


async def test_the_palette_and_help_offer_the_fleet_in_fleet_mode() -> None:
    source = ScriptedSource(fleet_snapshot())
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Fleet hosts (L)" in titles and "Drain this host" in titles
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert "Fleet hosts" in screen_text(app)
        await pilot.press("escape")
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"Drain this")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        assert source.called("drain_host") == []


async def test_a_refused_drain_takes_the_one_error_path() -> None:
    source = ScriptedSource(fleet_snapshot(), errors={"drain_host": ValueError("drain needs fleet mode")})
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.action_drain_host()
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: any(m.startswith("error|drain this host failed|drain needs fleet mode")
                                          for m in messages(app)))


@pytest.mark.parametrize("implementation", [Supervisor, ScriptedSource, RemoteSource])
def test_every_source_can_drain(implementation: type) -> None:
    expected, actual = SnapshotSource.drain_host, getattr(implementation, "drain_host")
    assert inspect.iscoroutinefunction(actual)
    assert list(inspect.signature(actual).parameters) == list(inspect.signature(expected).parameters) == ["self"]


async def test_the_scripted_drain_follows_the_snapshot() -> None:
    source = ScriptedSource(fleet_snapshot())
    source.snapshot()
    assert await source.drain_host() == {"ok": True, "host": "piyasa-a", "shards": 4}
    plain = ScriptedSource(sample_snapshot(NOW))
    plain.snapshot()
    with pytest.raises(ValueError, match="fleet mode"):
        await plain.drain_host()


# ── SVG snapshots (regenerate with --snapshot-update; look at them before committing) ───────────
def _fleet_app(failover: bool) -> Any:
    from piyasa_tui.app import PiyasaApp

    return PiyasaApp(ScriptedSource(fleet_snapshot(failover=failover)), clock=lambda: NOW, cursor_blink=False)


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_dashboard_of_a_fleet_during_a_failover(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(_fleet_app(True), terminal_size=size)


def test_fleet_screen(snap_compare) -> None:
    assert snap_compare(_fleet_app(True), terminal_size=(120, 36), press=["L"])


# ── the embedded dashboard joins the fleet ───────────────────────────────────────────────────────
def test_the_embedded_dashboard_is_a_fleet_host_and_a_drain_closes_it(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """With `[fleet] enabled` the embedded supervisor takes leases like a serve (else it would run every
    bot unfenced beside the fleet); drained, the app exits and the supervisor stops."""
    from types import SimpleNamespace

    import multiprocess.resource_tracker

    import piyasa_core.store.bootstrap
    import piyasa_core.workers.supervisor
    from piyasa_tui import app as app_module

    seen: dict[str, Any] = {}

    class FakeSupervisor:
        total = 4

        def __init__(self, config: Any, workers: int | None = None) -> None:
            self.fleet: Any = None

        def use_fleet(self, host_id: str, address: str) -> Any:
            seen["fleet"] = (host_id, address)
            self.fleet = SimpleNamespace(on_drained=None)
            return self.fleet

        async def start(self) -> None:
            seen["on_drained"] = self.fleet.on_drained if self.fleet is not None else None

        async def stop(self) -> None:
            seen["stopped"] = True

    async def run_async(self: Any) -> None:
        seen["app"] = self

    monkeypatch.setattr(piyasa_core.workers.supervisor, "Supervisor", FakeSupervisor)
    monkeypatch.setattr(piyasa_core.store.bootstrap, "initialise", lambda config: None)
    monkeypatch.setattr(multiprocess.resource_tracker, "ensure_running", lambda: None)
    monkeypatch.setattr(app_module.PiyasaApp, "run_async", run_async)

    def config(**fleet: Any) -> Any:
        return SimpleNamespace(data_dir=tmp_path, settings=SimpleNamespace(fleet=SimpleNamespace(**fleet)))

    assert app_module.run_embedded(config(enabled=True, host_id="desk-1"), log_file=tmp_path / "tui.log") == 0
    assert seen["fleet"] == ("desk-1", "") and seen["on_drained"] == seen["app"].exit and seen["stopped"]
    seen.clear()
    app_module.run_embedded(config(enabled=True, host_id=""), log_file=tmp_path / "tui.log")
    assert seen["fleet"][0] == app_module.embedded_host_id() and "-tui-" in seen["fleet"][0]
    seen.clear()
    app_module.run_embedded(config(enabled=False, host_id=""), log_file=tmp_path / "tui.log")
    assert "fleet" not in seen and seen["on_drained"] is None
