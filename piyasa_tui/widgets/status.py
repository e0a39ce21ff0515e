"""The one-line header: workers, active provider, simulation state, throughput, clock (TRT)."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.reactive import var

from piyasa_tui.widgets.common import Frame, clock_text, provider_title
from piyasa_tui.widgets.panel import SnapshotPanel


class StatusLine(SnapshotPanel):
    """` piyasa ─ 4 workers ─ provider: groq (llama-3.3-70b) ─ simulation: running ─ 5.8 msg/min   14:02:11 TRT`"""

    frame: var[Frame | None] = var(None, init=False)

    def watch_frame(self) -> None:
        self._show()

    def on_resize(self) -> None:
        self._show()

    def _show(self) -> None:
        parts = self._parts()
        self.show(parts, lambda: self._grid(*parts))

    @staticmethod
    def _grid(left: Text, clock: str) -> RenderableType:
        if not clock:
            return left
        grid = Table.grid(expand=True)
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        grid.add_column(justify="right", no_wrap=True)
        grid.add_row(left, Text(clock + " ", style="bold"))
        return grid

    def _parts(self) -> tuple[Text, str]:
        frame = self.frame
        if frame is None:
            return Text(" piyasa ─ waiting for the supervisor…", style="bold"), ""
        snap = frame.snapshot
        total = len(snap.workers)
        up = sum(1 for w in snap.workers if w.state == "running")
        trouble = [w for w in snap.workers if w.state in ("crashed", "backoff")]
        active = next((p for p in snap.providers if p.name == snap.active_provider), None)
        provider = provider_title(active) if active else snap.active_provider
        if frame.running:
            sim, sim_style = ("paused: " + snap.paused_reason, "bold yellow") if snap.paused_reason else ("running", "green")
        else:
            sim, sim_style = "paused", "bold yellow"
        clock = f"{clock_text(frame.now, frame.tz)} {frame.tz_label}"
        if snap.time_scale != 1.0:
            clock = f"sim {clock_text(snap.sim_at, frame.tz)} ×{snap.time_scale:g} · {clock}"
        wide = self.size.width >= 100
        sep = (" ─ ", "dim")
        left = Text(no_wrap=True, overflow="ellipsis")
        if wide:
            left.append(" piyasa", "bold")
            left.append(*sep)
        else:
            left.append(" ")
        workers = f"{total} workers" if wide else f"{total}w"
        left.append(workers, "bold" if not trouble else "bold red")
        if up != total:
            left.append(f" ({up} up)", "red" if trouble else "yellow")
        left.append(*sep)
        left.append("provider: " if wide else "")
        left.append(provider, "bold cyan")
        left.append(*sep)
        left.append("simulation: " if wide else "")
        left.append(sim, sim_style)
        left.append(*sep)
        left.append(f"{snap.rate_1m:.1f} msg/min")
        return left, clock
