"""The header: workers, active provider, simulation state, throughput, clock (TRT). Attached, a second
line says where the data comes from and how old it is — `attached to http://127.0.0.1:8765 · data 0.3 s
old` — or `disconnected since 14:02:15 · retrying in 4s`, and the first line is greyed (the last known
state, nothing in it is live)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from piyasa_tui.widgets.common import Frame, clock_text, countdown, one_line, provider_title
from piyasa_tui.widgets.panel import FrameLine


SIM_SHOWN_AFTER_S = 60.0  # the simulated clock is shown when it runs scaled or this far from the wall clock
LEVELS = 6  # ways of writing the header's left part, each shorter than the one before


@dataclass(frozen=True)
class Parts:
    """What the header's left part says; :meth:`line` writes it shorter at each level so that the rate
    is never the part cut off (a long model name or the sim clock used to cut `17.…`)."""

    total: int
    up: int
    trouble: bool
    provider: str  # with its model
    provider_name: str
    sim: str
    sim_style: str
    rate: str

    def line(self, level: int, width: int) -> Text:
        sep = (" ─ ", "dim")
        labels, wide = level < 2, width >= 100 and level < 4
        left = Text(no_wrap=True, overflow="ellipsis")
        left.append(" ")
        if width >= 100 and level < 1:
            left.append("piyasa", "bold")
            left.append(*sep)
        left.append(f"{self.total} workers" if wide else f"{self.total}w", "bold" if not self.trouble else "bold red")
        if self.up != self.total:
            left.append(f" ({self.up} up)", "red" if self.trouble else "yellow")
        if level >= 5:  # the rate before anything that may be cut
            left.append(*sep)
            left.append(self.rate)
        left.append(*sep)
        left.append("provider: " if labels and width >= 100 else "")
        left.append(self.provider if level < 3 else self.provider_name, "bold cyan")
        left.append(*sep)
        left.append("simulation: " if labels and width >= 100 else "")
        left.append(self.sim, self.sim_style)
        if level < 5:
            left.append(*sep)
            left.append(self.rate)
        return left


class StatusLine(FrameLine):
    """` piyasa ─ 4 workers ─ provider: groq (llama-3.3-70b) ─ simulation: running ─ 5.8 msg/min   14:02:11 TRT`"""

    def _show(self) -> None:
        left, right = self._parts()
        link = self.link_text(self.frame) if self.frame is not None else Text()
        self.set_class(bool(link), "-attached")  # two lines (app.tcss)
        self.show((left, right, link), lambda: self._grid(left, right, link))

    @staticmethod
    def _grid(left: Text, right: Text, link: Text) -> RenderableType:
        if not right:
            return left
        grid = Table.grid(expand=True)
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        grid.add_column(justify="right", no_wrap=True)
        grid.add_row(left, right)
        return Group(grid, link) if link else grid

    @staticmethod
    def link_text(frame: Frame) -> Text:
        """The second line of an attached TUI: the connection and the data's age (empty when embedded)."""
        link, text = frame.link, Text(no_wrap=True, overflow="ellipsis")
        if link is None:
            return text
        age = frame.data_age
        if not link.connected:
            retry = "not retrying (attach again)" if link.retry_at is None else \
                f"retrying in {countdown(link.retry_at - frame.now)}" if link.retry_at > frame.now else "retrying…"
            text.append(f" disconnected since {clock_text(link.since, frame.tz)}, {retry} ", "bold white on red")
            text.append(" showing the state of " + (clock_text(link.received_at, frame.tz) if link.received_at else "–")
                        + " (greyed)", "bold")
            if link.error:
                text.append(f" · {one_line(link.error)}", "dim")
            return text
        text.append(f" attached to {link.url}", "green" if not frame.stale else "bold yellow")
        if frame.stale:
            text.append(f" · no data for {age or 0:.0f} s (greyed)", "bold yellow")
        else:
            text.append(f" · data {age or 0:.1f} s old", "dim")
        text.append(f" · connected since {clock_text(link.since, frame.tz)}", "dim")
        return text

    def _parts(self) -> tuple[Text, Text]:
        frame = self.frame
        if frame is None:
            return Text(" piyasa ─ waiting for the supervisor…", style="bold"), Text()
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
        width = self.size.width
        right = Text(no_wrap=True)
        if snap.time_scale != 1.0 or abs(snap.sim_at - snap.at) > SIM_SHOWN_AFTER_S:  # scaled, or [engine] start_at
            scale = f" ×{snap.time_scale:g}" if snap.time_scale != 1.0 else ""
            right.append(f"sim {clock_text(snap.sim_at, frame.tz)}{scale} · ", "grey50" if frame.stale else "bold")
        right.append(f"{clock_text(frame.now, frame.tz)} {frame.tz_label} ", "bold")
        parts = Parts(total, up, bool(trouble), provider, snap.active_provider, sim, sim_style, f"{snap.rate_1m:.1f} msg/min")
        room = (width or 10_000) - right.cell_len - 1
        left = next((t for t in (parts.line(level, width) for level in range(LEVELS)) if t.cell_len <= room),
                    parts.line(LEVELS - 1, width))
        if frame.stale:  # the last known state, greyed: nothing in it is live
            left = Text(left.plain, style="grey50", no_wrap=True, overflow="ellipsis")
        return left, right
