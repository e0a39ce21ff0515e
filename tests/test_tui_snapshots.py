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
