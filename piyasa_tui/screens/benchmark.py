"""The benchmark: a dialog to start a run (duration, time scale) and a progress screen with the live
criteria, the verdict and where the reports went. The run itself lives in the supervisor."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.reactive import var
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, ProgressBar, Static

from piyasa_core.bench.options import BenchInputError, parse_duration_text
from piyasa_core.bench.writers import criterion_status, fmt, pct

ACTIVE_STATES = ("starting", "warming up", "running", "writing")
RESULT_STYLES = {"pass": "green", "fail": "bold red", "not_configured": "dim", "pending": "yellow"}


def is_active(bench: dict[str, Any] | None) -> bool:
    return isinstance(bench, dict) and bench.get("state") in ACTIVE_STATES


class BenchmarkStartScreen(ModalScreen["dict[str, Any] | None"]):
    """Duration and time scale; Enter starts, Escape cancels. Dismisses with the options."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, duration: str, time_scale: float, *, cursor_blink: bool = True) -> None:
        super().__init__(classes="modal")
        self.duration, self.time_scale, self.cursor_blink = duration, time_scale, cursor_blink

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -small"):
            yield Label("Start the benchmark", classes="dialog-title")
            yield Label("Duration (simulated): 10m, 90s, 1h")
            yield Input(self.duration, id="bench-duration")
            yield Label("Time scale (simulated seconds per real second)")
            yield Input(f"{self.time_scale:g}", id="bench-scale")
            yield Static("", id="bench-hint", classes="dialog-hint")
            with Horizontal(classes="buttons"):
                yield Button("Start", variant="primary", id="start")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        for field in self.query(Input):
            field.cursor_blink = self.cursor_blink
        self.query_one("#bench-duration", Input).focus()
        self._check()

    def on_input_changed(self) -> None:
        self._check()

    def _values(self) -> tuple[str, float]:
        """The options, or :class:`BenchInputError` naming the bad field."""
        duration_text = self.query_one("#bench-duration", Input).value.strip()
        seconds = parse_duration_text("duration", duration_text)
        scale_text = self.query_one("#bench-scale", Input).value.strip()
        try:
            scale = float(scale_text)
        except ValueError:
            raise BenchInputError(f"time scale: {scale_text!r} is not a number") from None
        if not 0 < scale <= 10000:
            raise BenchInputError(f"time scale: {scale_text!r} must be more than 0 and at most 10000")
        return f"{seconds:g}s", scale

    def _check(self) -> bool:
        hint = self.query_one("#bench-hint", Static)
        try:
            duration, scale = self._values()
        except BenchInputError as exc:
            hint.update(Text(str(exc), style="bold red"))
            return False
        real = float(duration[:-1]) / scale
        hint.update(f"takes about {real / 60:.1f} min of real time" if real >= 120 else
                    f"takes about {real:.0f} s of real time")
        return True

    def on_input_submitted(self) -> None:
        self._start()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self._start()
        else:
            self.dismiss(None)

    def _start(self) -> None:
        if self._check():
            duration, scale = self._values()
            self.dismiss({"duration": duration, "time_scale": scale})

    def action_cancel(self) -> None:
        self.dismiss(None)


def hint_for(bench: dict[str, Any] | None) -> str:
    """The dialog's key hint, following the run: what `c` and Escape do now."""
    if is_active(bench):
        return "c cancels the run · Escape closes this view (the run goes on)"
    if bench:
        return "Escape closes this view · H lists every run · b starts a new one"
    return "Escape closes this view · b starts a run"


class BenchmarkScreen(ModalScreen[None]):
    """Progress of the run with its live criteria; `c` cancels the run, Escape closes (the run goes on).
    While it is shown no toast covers it: notices are held (counted here, listed on the providers screen)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "close", "close"),
                                             Binding("c", "cancel_run", "cancel run"),
                                             Binding("H", "leave('bench_runs')", "runs"),
                                             Binding("P", "leave('providers')", "notices"),
                                             Binding("b", "again", "new run")]
    bench: var[dict[str, Any] | None] = var(None, init=False)

    def __init__(self, bench: dict[str, Any] | None) -> None:
        super().__init__(classes="modal")
        self._initial = bench
        self.held: list[tuple[str, str, str]] = []  # (severity, title, message) of the notices held

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -wide", id="bench-dialog"):
            yield Label("Benchmark", classes="dialog-title", id="bench-title")
            yield ProgressBar(total=1.0, show_eta=False, id="bench-progress")
            with VerticalScroll(classes="dialog-scroll", id="bench-scroll"):  # the hints below stay in view
                yield Static("", id="bench-body", classes="dialog-body")
            yield Static(hint_for(self._initial), classes="dialog-hint", id="bench-hint")
            yield Static("", classes="dialog-hint", id="bench-held")

    def on_mount(self) -> None:
        self.app.clear_notifications()  # nothing covers the results
        if self.bench is None:
            self.bench = self._initial
        else:
            self.watch_bench(self.bench)

    def hold_toast(self, severity: str, title: str, message: str) -> bool:
        """Called by the app for every notice while this screen is on top: held, not shown as a toast
        (information — the run's own start, clock and verdict among it — is only logged; warnings and
        errors are counted here, the newest shown)."""
        if severity == "information" or title.startswith("Benchmark"):
            return True
        self.held.append((severity, title, message))
        errors = sum(1 for s, _t, _m in self.held if s == "error")
        line = Text(f"{len(self.held)} notice{'s' if len(self.held) != 1 else ''} held while this view is open"
                    + (f" ({errors} error{'s' if errors != 1 else ''})" if errors else "") + " · the newest: ",
                    style="bold red" if errors else "")
        line.append(f"{title + ': ' if title else ''}{' '.join(message.split())[:80]}", "dim")
        line.append(" · P lists them all")
        held = self.query_one("#bench-held", Static)
        held.update(line)
        held.display = True
        return True

    def watch_bench(self, bench: dict[str, Any] | None) -> None:
        if not self.is_mounted:
            return  # on_mount shows it
        title, body = self.render_parts(bench)
        if not self.query("#bench-title"):
            return  # closing: its widgets are gone
        self.query_one("#bench-title", Label).update(title)
        self.query_one("#bench-body", Static).update(body)
        self.query_one("#bench-hint", Static).update(hint_for(bench))
        if bench:
            self.query_one("#bench-progress", ProgressBar).update(progress=float(bench.get("progress") or 0.0))

    @staticmethod
    def render_parts(bench: dict[str, Any] | None) -> tuple[Text, Any]:
        if not bench:
            return Text("Benchmark"), Text("No benchmark has run yet.")
        state = str(bench.get("state"))
        verdict = {"completed": "PASSED" if bench.get("passed") else "FAILED", "cancelled": "CANCELLED",
                   "failed": "COULD NOT RUN"}.get(state, state)
        title = Text(f"Benchmark {bench.get('id')} — ", style="bold")
        title.append(verdict, "bold green" if verdict == "PASSED" else "bold red" if state != "running" and
                     state in ("completed", "cancelled", "failed") else "bold yellow")
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True)
        grid.add_column()
        elapsed, duration = float(bench.get("elapsed_sim_s") or 0), float(bench.get("duration_s") or 0)
        rate = bench.get("throughput_per_min")
        grid.add_row("progress", f"{elapsed / 60:.1f} of {duration / 60:g} simulated min at ×{bench.get('time_scale')}"
                                 f" · {bench.get('sent', 0)} sent · {fmt(rate)} msg/min")
        if bench.get("error"):
            grid.add_row("error", Text(str(bench["error"]), style="bold red"))
        if bench.get("run_dir"):  # first: the criteria below may need scrolling
            grid.add_row("reports", f"{bench['run_dir']} ({', '.join(bench.get('files') or [])})")
        for c in bench.get("criteria") or []:
            is_rate = c.get("id") == "l2_hit_rate"
            value = pct(c.get("value")) if is_rate else fmt(c.get("value"), 3)
            line = Text(f"{criterion_status(c)}  ", style=RESULT_STYLES.get(str(c.get("status")), ""))
            line.append(f"{value}  ", "bold")
            line.append(str(c.get("detail", "")), "dim")
            grid.add_row(str(c.get("name")), line)
        return title, grid

    def action_close(self) -> None:
        self.dismiss(None)

    def action_leave(self, action: str) -> None:
        """Close this view and open another screen (the runs, or the providers with the held notices)."""
        self.dismiss(None)
        getattr(self.app, f"action_{action}")()

    def action_again(self) -> None:
        if not is_active(self.bench):
            self.dismiss(None)
            self.app.action_benchmark()  # type: ignore[attr-defined]

    def action_cancel_run(self) -> None:
        if is_active(self.bench):
            self.app.action_cancel_benchmark()  # type: ignore[attr-defined]
        else:
            self.query_one("#bench-hint", Static).update(Text("Nothing to cancel: the run has ended. "
                                                              + hint_for(self.bench), style="yellow"))
