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


def header_parts(p: ProviderView) -> list[str]:
    """`req 987/1k`, `tok 11.2k/12k`, `reset 12s`: the remaining/limit the provider's headers last said."""
    parts = []
    if p.remaining_requests is not None or p.limit_requests is not None:
        parts.append(f"req {count(p.remaining_requests)}/{count(p.limit_requests)}")
    if p.remaining_tokens is not None or p.limit_tokens is not None:
        parts.append(f"tok {count(p.remaining_tokens)}/{count(p.limit_tokens)}")
    if p.reset_s is not None:
        parts.append(f"reset {countdown(p.reset_s)}")
    return parts


def provider_lines(p: ProviderView, frame: Frame, *, compact: bool, detailed: bool = False) -> Text:
    """The text beside a provider's marker: its title and state, then (unless compact) the numbers."""
    now = frame.now
    text = Text()
    title = p.name if compact and p.is_llm else provider_title(p)
    if p.state == "not_configured":  # no key: nothing was tried, nothing is wrong; one dim line says what to set
        text.append(f"{title}  not configured", "dim")
        text.append(f" · {one_line(p.reason)}" if p.reason and not compact else "", "dim")
        return text
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
    planned = plan_of(frame, p.name)
    if compact or (not p.is_llm and not p.tpd and planned is None):  # the offline composer with emulated quotas
        return text                                                  # shows them like a provider's
    limits = header_parts(p)
    if limits:
        text.append("\n" + " · ".join(limits), "")
    if p.tpd or p.tokens_today or p.requests_today:
        text.append("\n")
        today(text, p, frame, detailed=detailed)
    if planned is not None:
        text.append("\n")
        plan_line(text, planned, frame)
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


def plan_of(frame: Frame, name: str) -> dict | None:  # type: ignore[type-arg]
    """The day's plan for a provider with a daily quota (None: no plan, or no quota to plan)."""
    plan = frame.snapshot.day_plan or {}
    return next((p for p in plan.get("providers", ()) if p["name"] == name and p["affordable_left"] is not None),
                None)


def plan_line(text: Text, p: dict, frame: Frame) -> None:  # type: ignore[type-arg]
    """`plan 215 msg left · 14.9/h · lasts past 23:00` (the day's plan, docs/providers.md)."""
    day_end = (frame.snapshot.day_plan or {}).get("day_end")
    text.append(f"plan {count(int(p['affordable_left']))} msg left", "")
    if p["planned_per_hour"] is not None:
        text.append(f" · {p['planned_per_hour']:.1f}/h")
    if p["lasts_until"] is not None:
        text.append(f" · lasts until {hhmm(p['lasts_until'], frame.tz)}", "yellow")
    elif day_end is not None:
        text.append(f" · lasts past {hhmm(day_end, frame.tz)}", "green")


def plan_summary(frame: Frame) -> Text | None:
    """One line when the plan holds the community back or cannot keep it going to the end of its day."""
    plan = frame.snapshot.day_plan
    if not plan or (plan["scale"] >= 1.0 and not plan["warning"]):
        return None
    text = Text(f"plan: every bot at ×{plan['scale']:.2f} of its pace, {plan['planned_per_hour']:.1f} msg/h to "
                f"{hhmm(plan['day_end'], frame.tz)}; {plan['reserve']:.0f} kept for people", "yellow")
    if plan["warning"]:
        text.append("\n" + one_line(plan["warning"]), "red")
    return text


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
            plan = frame.snapshot.day_plan or {}
            key = (frame.snapshot.providers, int(frame.now), frame.tz, self.compact, self.detailed,
                   plan.get("at"), plan.get("scale"))
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
        summary = plan_summary(frame)
        if summary is not None:
            grid.add_row("", summary)
        return grid
