"""Snapshot tests of the dashboard (pytest-textual-snapshot): one fixed snapshot, a fixed clock.

Regenerate after an intended change with `pytest tests/test_tui_snapshots.py --snapshot-update` and look
at the SVGs in tests/__snapshots__/test_tui_snapshots/ before committing them.
"""

from __future__ import annotations

import pytest

from piyasa_tui.app import PiyasaApp
from piyasa_tui.source import ScriptedSource, sample_snapshot

NOW = 1741950131.0  # 2025-03-14 14:02:11 TRT


def dashboard(**kwargs) -> PiyasaApp:
    return PiyasaApp(ScriptedSource(sample_snapshot(NOW, **kwargs)), clock=lambda: NOW, cursor_blink=False)


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (200, 60)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_dashboard(snap_compare, size: tuple[int, int]) -> None:
    assert snap_compare(dashboard(), terminal_size=size)


def test_dashboard_with_l2_and_help(snap_compare) -> None:
    assert snap_compare(dashboard(l2=True), terminal_size=(120, 40), press=["question_mark"])
