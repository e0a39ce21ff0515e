"""`P`: every provider in full — state, breaker and its newest error, the rate-limit headers the provider
sent, our budgets, tokens today and the day's plan — and a notices pane that keeps every toast the app
showed (newest first), so a notice that vanished can still be read."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import tzinfo
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from piyasa_core.workers.snapshot import ProviderView
from piyasa_tui.screens.operator import BACK, Hint, OperatorScreen
from piyasa_tui.widgets.common import STATE_STYLES, Frame, clock_text, count, countdown, one_line, provider_title
from piyasa_tui.widgets.keybar import KeyBar
from piyasa_tui.widgets.providers import header_parts, plan_line, plan_of, plan_summary, today
from piyasa_tui.widgets.status import StatusLine

BREAKER_STYLE = {"closed": "green", "open": "bold red", "half-open": "yellow"}
SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "information": "cyan"}
SEVERITY_WORD = {"information": "info", "warning": "warn", "error": "error"}
VALUE_WIDTH = 46  # the first value column, so every provider's second column lines up


def headers_text(p: ProviderView) -> Text:
    """`req 987/1k · tok 11.2k/12k · reset 12s` (remaining/limit as the provider last said)."""
    parts = header_parts(p)
    return Text(" · ".join(parts)) if parts else Text("none received yet", "dim")


def budgets_text(p: ProviderView) -> Text:
    """`rpm 30 · tpm 12k · rpd 1k · tpd 100k` (config; 0 = no budget of ours)."""
    parts = [f"{k} {count(v)}" for k, v in p.budgets.items() if v]
    return Text(" · ".join(parts)) if parts else Text("none", "dim")


def card(p: ProviderView, frame: Frame) -> RenderableType:
    """One provider: a title line, then headers, budgets, today and the plan in two columns."""
    head = Text()
    head.append("● " if p.active else "○ " if p.in_chain else "  ", "bold green" if p.active else "dim")
    head.append(provider_title(p), "bold" if p.active else "")
    head.append("  ")
    head.append(p.state, STATE_STYLES.get(p.state, ""))
    if p.is_llm and p.state != "not_configured":
        head.append(" · breaker ", "dim")
        head.append(p.breaker or "closed", BREAKER_STYLE.get(p.breaker, ""))
    if p.until is not None and p.until > frame.now and p.state != "ok":
        head.append(f" · retry in {countdown(p.until - frame.now)}", "yellow")
    if p.last_error:
        head.append(" · last error ", "dim")
        head.append(p.last_error, "red")
        if p.last_error_at is not None:
            head.append(f" at {clock_text(p.last_error_at, frame.tz)}", "dim")
    rows: list[RenderableType] = [head]
    if p.state == "not_configured":  # nothing was tried: what to set, and what it would be allowed
        line = Text(f"  {one_line(p.reason) or 'not configured'} · budgets ", "dim")
        line.append_text(budgets_text(p))
        return Group(head, line)
    if p.reason:
        rows.append(Text("  " + one_line(p.reason), "yellow" if p.state in ("ok", "cooling", "unknown") else "red"))
    if not p.is_llm and not p.tpd and plan_of(frame, p.name) is None:
        return Group(*rows)
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True, width=8)
    grid.add_column(min_width=VALUE_WIDTH)
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    used = Text()
    today(used, p, frame, detailed=True)
    planned = plan_of(frame, p.name)
    plan = Text()
    if planned is not None:
        plan_line(plan, planned, frame)
        plan = plan[len("plan "):] if plan.plain.startswith("plan ") else plan  # the label says it
    else:
        plan.append("no daily quota to plan", "dim")
    grid.add_row("  limits", headers_text(p), "budgets", budgets_text(p))
    grid.add_row("  usage", used, "plan", plan)
    if p.errors:
        grid.add_row("  errors", Text(", ".join(f"{k} {v}" for k, v in sorted(p.errors.items())), "dim"), "", "")
    rows.append(grid)
    return Group(*rows)


def cards(frame: Frame) -> RenderableType:
    parts: list[RenderableType] = [card(p, frame) for p in frame.snapshot.providers]
    if not parts:
        parts.append(Text("no provider reported yet", "dim"))
    summary = plan_summary(frame)
    if summary is not None:
        parts.append(summary)
    return Group(*parts)


def notices_text(log: Iterable[tuple[str, str, str]], times: Iterable[float], tz: tzinfo) -> Text:
    """Every logged notice, newest first: `14:02:11 error  Restart failed — the message`."""
    entries = list(zip(times, log))
    text = Text()
    if not entries:
        return Text("no notices yet", "dim")
    for at, (severity, title, message) in reversed(entries):
        text.append(f"{clock_text(at, tz)} ", "dim")
        text.append(f"{SEVERITY_WORD.get(severity, severity):<5} ", SEVERITY_STYLE.get(severity, ""))
        if title and title.lower() not in ("info", "warning", "error", "critical", "information"):
            text.append(f"{title} — ", "bold")
        text.append(one_line(message) + "\n")
    text.rstrip()
    return text


class ProvidersScreen(OperatorScreen):
    """Provider cards on top, the notices below; `p` switches the provider from here too."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("p", "app.switch_provider", "switch provider")]
    HINTS = (Hint("p", "switch provider"), Hint("tab", "scroll notices"), BACK)

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status").data_bind(OperatorScreen.frame)
        with VerticalScroll(id="provider-cards", classes="panel"):
            yield Static(id="provider-body")
        with VerticalScroll(id="notices", classes="panel"):
            yield Static(id="notices-body")
        yield KeyBar(self.HINTS, classes="keys")

    def on_mount(self) -> None:
        self.query_one("#provider-cards").border_title = "Providers"
        self._shown: tuple[object, ...] = ()
        self._notices: tuple[object, ...] = ()
        self.show_notices()
        self.set_interval(0.25, self.show_notices)  # a notice may come with no new snapshot

    def watch_frame(self) -> None:
        frame = self.frame
        if frame is None:
            return
        plan = frame.snapshot.day_plan or {}
        key = (frame.snapshot.providers, int(frame.now), plan.get("at"), plan.get("scale"))
        if key != getattr(self, "_shown", None):
            self._shown = key
            self.query_one("#provider-body", Static).update(cards(frame))
        self.show_notices()

    def show_notices(self) -> None:
        log = self.app.notifications_log  # type: ignore[attr-defined]
        times = self.app.notification_times  # type: ignore[attr-defined]
        key = (len(log), log[-1] if log else None)
        if key == getattr(self, "_notices", None):
            return
        self._notices = key
        box = self.query_one("#notices", VerticalScroll)
        box.border_title = f"Notices ({len(log)}, newest first)"
        self.query_one("#notices-body", Static).update(notices_text(log, times, self.app.tz))  # type: ignore[attr-defined]
