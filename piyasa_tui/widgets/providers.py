"""LLM providers: ● marks the active one; state and reason, remaining limits, today's tokens vs budget."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.reactive import var

from piyasa_core.workers.snapshot import ProviderView
from piyasa_tui.widgets.common import (
    STATE_STYLES,
    Frame,
    count,
    countdown,
    hhmm,
    one_line,
    provider_title,
)
from piyasa_tui.widgets.panel import SnapshotPanel


def provider_lines(p: ProviderView, frame: Frame, *, compact: bool, detailed: bool = False) -> Text:
    """The text beside a provider's marker: its title and state, then (unless compact) the numbers."""
    now = frame.now
    text = Text()
    title = p.name if compact and p.is_llm else provider_title(p)
    text.append(title, "bold" if p.active else "")
    text.append("  ")
    text.append(p.state, STATE_STYLES.get(p.state, ""))
    if p.breaker not in ("closed", ""):
        text.append(f" · breaker {p.breaker}", "yellow")
    if p.until is not None and p.until > now and p.state != "ok":
        text.append(f" · retry in {countdown(p.until - now)}", "yellow")
    if p.reason and (p.state != "ok" or not compact):
        text.append("\n")
        text.append(one_line(p.reason), "red" if p.state in ("auth_error", "model_missing", "down", "exhausted") else "yellow")
    if compact or not p.is_llm:
        return text
    limits = []
    if p.remaining_requests is not None or p.limit_requests is not None:
        limits.append(f"req {count(p.remaining_requests)}/{count(p.limit_requests)}")
    if p.remaining_tokens is not None or p.limit_tokens is not None:
        limits.append(f"tok {count(p.remaining_tokens)}/{count(p.limit_tokens)}")
    if p.reset_s is not None:
        limits.append(f"reset {countdown(p.reset_s)}")
    if limits:
        text.append("\n" + " · ".join(limits), "")
    if p.tpd or p.tokens_today or p.requests_today:
        text.append("\n")
        today(text, p, frame, detailed=detailed)
    if detailed and p.errors:
        text.append("\nerrors: " + ", ".join(f"{k} {v}" for k, v in sorted(p.errors.items())), "dim")
    return text


def today(text: Text, p: ProviderView, frame: Frame, *, detailed: bool) -> None:
    """`today 41k/100k tok · empty ≈ 19:40` (requests too when there is room)."""
    if p.tpd:
        used = p.tokens_today / p.tpd
        text.append(f"today {count(p.tokens_today)}/{count(p.tpd)} tok",
                    "red" if used >= 0.9 else "yellow" if used >= 0.7 else "")
    else:
        text.append(f"today {count(p.tokens_today)} tok")
    if detailed:
        text.append(f" · {count(p.requests_today)} req", "dim")
    if p.projected_exhaustion is not None:
        text.append(f" · empty ≈ {hhmm(p.projected_exhaustion, frame.tz)}", "yellow")


class ProvidersPanel(SnapshotPanel):
    frame: var[Frame | None] = var(None, init=False)
    compact: var[bool] = var(False)
    detailed: var[bool] = var(False)

    def on_mount(self) -> None:
        self.border_title = "Providers"

    def watch_frame(self) -> None:
        self._show()

    def watch_compact(self) -> None:
        self._show()

    def watch_detailed(self) -> None:
        self._show()

    def _show(self) -> None:
        frame = self.frame
        if frame is not None:  # countdowns change once a second
            key = (frame.snapshot.providers, int(frame.now), frame.tz, self.compact, self.detailed)
            self.show(key, lambda: self.build(frame, compact=self.compact, detailed=self.detailed))

    @staticmethod
    def build(frame: Frame, *, compact: bool, detailed: bool = False) -> RenderableType:
        grid = Table.grid(expand=True)
        grid.add_column(width=2, no_wrap=True)
        grid.add_column(ratio=1)
        for p in frame.snapshot.providers:
            marker = Text("● ", "bold green") if p.active else Text("○ ", "dim") if p.in_chain else Text("  ")
            grid.add_row(marker, provider_lines(p, frame, compact=compact, detailed=detailed))
        if not frame.snapshot.providers:
            grid.add_row("", Text("no provider reported yet", "dim"))
        return grid
