"""`H`: past benchmark runs from the timeline of the output directory (newest first) with their verdicts,
throughput against the previous run of their profile and where their reports are; the selected run in
full below. `r` reloads (a run that ends while the screen is open is added by itself)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from piyasa_core.bench.writers import fmt, pct
from piyasa_core.timeutil import as_utc
from piyasa_tui.screens.operator import BACK, Hint, OperatorScreen
from piyasa_tui.widgets.common import Frame, clip
from piyasa_tui.widgets.keybar import KeyBar
from piyasa_tui.widgets.status import StatusLine

VERDICT_STYLE = {"passed": "bold green", "failed": "bold red", "cancelled": "yellow", "could not run": "bold red"}
# key, label, width, right-aligned; "reports" takes what is left
COLUMNS = (("n", "#", 3, True), ("started", "started", 11, False), ("profile", "profile", 9, False),
           ("verdict", "verdict", 13, False), ("rate", "msg/min", 7, True), ("delta", "vs previous", 14, False),
           ("length", "length", 9, False), ("workers", "w", 2, True), ("provider", "provider", 8, False),
           ("reports", "reports", 10, False))


def started(row: dict[str, Any], frame: Frame | None) -> str:
    try:
        moment = as_utc(str(row.get("started_at")))
    except (TypeError, ValueError):
        return "?"
    return moment.astimezone(frame.tz).strftime("%d.%m %H:%M") if frame is not None else moment.strftime("%d.%m %H:%M")


def length(row: dict[str, Any]) -> str:
    duration, scale = row.get("duration_s"), row.get("time_scale")
    text = f"{float(duration) / 60:g}m" if isinstance(duration, (int, float)) else "?"
    return text + (f" ×{float(scale):g}" if isinstance(scale, (int, float)) else "")


def run_cells(n: int, row: dict[str, Any], frame: Frame | None, reports_width: int) -> dict[str, Text]:
    verdict = str(row.get("verdict", "?"))
    rate = row.get("throughput_per_min")
    return {"n": Text(str(n), justify="right"), "started": Text(started(row, frame)),
            "profile": Text(str(row.get("profile") or "–")),
            "verdict": Text(verdict + (" ★" if row.get("record") else ""), VERDICT_STYLE.get(verdict, "")),
            "rate": Text(fmt(rate) if isinstance(rate, (int, float)) else "–", justify="right"),
            "delta": Text(str(row.get("vs_previous") or "–")), "length": Text(length(row)),
            "workers": Text(str(row.get("workers", "?")), justify="right"),
            "provider": Text(str(row.get("provider") or "?")),
            "reports": Text(clip(str(row.get("run_dir") or row.get("id")) + "/", max(1, reports_width)), "cyan")}


def run_detail(row: dict[str, Any] | None, history: dict[str, Any] | None, frame: Frame | None) -> RenderableType:
    if history is None:
        return Text("loading the timeline…", "dim")
    if row is None:
        return Text(f"No benchmark has run yet: none in {history.get('timeline')}. b starts one.", "dim")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    verdict = str(row.get("verdict"))
    head = Text(f"run {row.get('id')}  ", "bold")
    head.append(verdict.upper(), VERDICT_STYLE.get(verdict, ""))
    if row.get("record"):
        head.append("  new best of its profile", "green")
    grid.add_row("started", f"{started(row, frame)} ({str(row.get('started_at'))[:19].replace('T', ' ')} UTC) · "
                            f"trigger {row.get('trigger')} · git {row.get('git_revision') or 'unknown'}")
    grid.add_row("run", f"{row.get('profile')} profile · {length(row)} · {row.get('workers')} workers · "
                        f"provider {row.get('provider')} · {row.get('sent')} sent")
    l2 = pct(row.get("l2_hit_rate")) if row.get("l2_configured") else "not configured"
    grid.add_row("figures", f"{fmt(row.get('throughput_per_min'))} msg/min ({row.get('vs_previous')}) · worker CV "
                            f"{fmt(row.get('worker_cv'), 3)} · pace deviation {pct(row.get('pace_deviation'))} · "
                            f"lateness p95 {fmt(row.get('lateness_p95_s'))} s · duplicates {row.get('duplicates')} · "
                            f"L2 {l2}")
    files = row.get("files") or []
    grid.add_row("reports", Text(str(row.get("run_path")), "cyan"))
    grid.add_row("", ", ".join(files) if files else Text("no report files in it" if row.get("exists") else
                                                         "the run directory is gone", "yellow"))
    return Group(head, grid)


def seen_run(frame: Frame | None) -> tuple[Any, Any] | None:
    """(id, state) of the supervisor's current or last benchmark run."""
    bench = frame.snapshot.benchmark if frame is not None else None
    return (bench.get("id"), bench.get("state")) if isinstance(bench, dict) else None


class RunsTable(DataTable[Text]):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self.border_title = "Benchmark runs"

    def show_runs(self, runs: list[dict[str, Any]], frame: Frame | None) -> None:
        width = self.scrollable_content_region.width or self.size.width or 120
        fixed = sum(c[2] + 2 for c in COLUMNS if c[0] != "reports")
        reports = max(10, width - fixed - 2)
        cursor = self.cursor_row
        self.clear(columns=True)
        for key, label, size, right in COLUMNS:
            self.add_column(Text(label, "bold", justify="right" if right else "left"),
                            width=reports if key == "reports" else size, key=key)
        total = len(runs)
        for i, row in enumerate(runs):
            cells = run_cells(total - i, row, frame, reports)
            self.add_row(*(cells[c[0]] for c in COLUMNS), key=str(i))
        if runs:
            self.move_cursor(row=min(max(cursor, 0), total - 1), animate=False)


class RunsScreen(OperatorScreen):
    """The timeline's runs, the selected one in full; `r` reloads, `b` starts or shows a run."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("r", "reload", "reload"), Binding("b", "app.benchmark", "bench")]
    HINTS = (Hint("↑↓", "select"), Hint("r", "reload"), Hint("b", "benchmark"), BACK)

    def __init__(self, frame: Frame | None = None) -> None:
        super().__init__(frame)
        self.history: dict[str, Any] | None = None
        self._bench_seen = seen_run(frame)

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status").data_bind(OperatorScreen.frame)
        yield RunsTable(id="runs-table", classes="panel")
        yield Static(id="run-detail", classes="panel detail")
        yield KeyBar(self.HINTS, classes="keys")

    def on_mount(self) -> None:
        self.query_one(RunsTable).focus()
        self.query_one("#run-detail", Static).border_title = "Selected run"
        self._show_detail()
        self.action_reload()

    def action_reload(self) -> None:
        self.app.run_worker(self._load(), group="bench-runs", name="load the benchmark runs", exclusive=True,
                            exit_on_error=False)

    async def _load(self) -> None:
        app = self.app
        history = await app._call(app.source.benchmark, "history", {})  # type: ignore[attr-defined]
        self.history = history if isinstance(history, dict) else {"runs": []}
        runs = list(self.history.get("runs") or [])
        self.query_one(RunsTable).show_runs(runs, self.frame)
        skipped = self.history.get("skipped") or []
        note = f" · {len(skipped)} unreadable line(s) skipped" if skipped else ""
        self.query_one(RunsTable).border_subtitle = f"{len(runs)} of {self.history.get('total', len(runs))} in " \
                                                    f"{self.history.get('out_dir', '?')}{note}"
        self._show_detail()

    def watch_frame(self) -> None:
        """A run that ends while this screen is open joins the list."""
        seen = seen_run(self.frame)
        if seen != self._bench_seen:
            self._bench_seen = seen
            if seen is not None and seen[1] in ("completed", "cancelled", "failed"):
                self.action_reload()

    def on_data_table_row_highlighted(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        runs = (self.history or {}).get("runs") or []
        table = self.query_one(RunsTable)
        row = runs[table.cursor_row] if runs and 0 <= table.cursor_row < len(runs) else None
        self.query_one("#run-detail", Static).update(run_detail(row, self.history, self.frame))
