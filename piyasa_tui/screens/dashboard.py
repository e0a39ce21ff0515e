"""The dashboard: header, who talks, the fleet (fleet mode), workers + cache, providers, live feed, footer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import var
from textual.screen import Screen

from piyasa_tui.widgets.cache import CachePanel
from piyasa_tui.widgets.common import Frame
from piyasa_tui.widgets.feed import FeedFilter, FeedLog
from piyasa_tui.widgets.fleet import FleetLine
from piyasa_tui.widgets.filter_bar import FilterBar
from piyasa_tui.widgets.keybar import KeyBar
from piyasa_tui.widgets.providers import ProvidersPanel
from piyasa_tui.widgets.status import StatusLine
from piyasa_tui.widgets.who import WhoLine
from piyasa_tui.widgets.workers import WorkersTable


@dataclass(frozen=True)
class Key:
    key: str  # Textual key name
    shown: str  # how the help screen writes it
    action: str  # an App action (without the `app.` prefix)
    label: str  # footer label
    title: str  # command palette / help title
    help: str
    fleet: bool = False  # fleet mode only: hidden from the key line, help and palette otherwise


KEYS = (
    Key("p", "p", "switch_provider", "provider", "Switch provider", "Choose the active LLM provider"),
    Key("r", "r", "restart_all", "restart", "Restart all workers", "Restart every worker, re-reading .env (asks first)"),
    Key("R", "R", "restart_selected", "worker", "Restart selected worker",
        "Restart the worker of the selected row"),
    Key("b", "b", "benchmark", "bench", "Benchmark", "Start the benchmark, or show the running one (c there cancels it)"),
    Key("space", "space", "toggle_simulation", "pause", "Pause / resume", "Pause or resume the simulation"),
    Key("f", "f", "filter_feed", "filter", "Filter feed", "Filter the feed: w2, bot:Ayşe or bot:ayse_scalp, chat:piyasa-local (empty clears)"),
    Key("F", "F", "toggle_follow", "follow", "Follow feed", "Follow the newest messages / pause the feed"),
    Key("w", "w", "toggle_wrap", "wrap", "Wrap feed lines", "Wrap long feed lines / cut them at the edge"),
    Key("slash", "/", "post_human", "post", "Post as a human", "Post into a chat as a person; mentioned bots answer"),
    Key("L", "L", "fleet", "fleet", "Fleet hosts", "Fleet mode: every host with its state, heartbeat, shards and "
        "msg/min, and who holds each shard; d there drains this host (asks first)", fleet=True),
    Key("t", "t", "bots", "bots", "Bots", "Who talks when: every bot's state, hours, next turn, pace and stances; "
        "e there enables or disables one"),
    Key("P", "P", "providers", "limits", "Providers and notices",
        "Rate limits, our budgets, the day's plan, breaker and errors per provider; every past notice"),
    Key("H", "H", "bench_runs", "runs", "Benchmark runs", "Past benchmark runs with their verdicts and report paths"),
    Key("question_mark", "?", "help", "help", "Help", "Show the keys"),
    Key("q", "q", "quit", "quit", "Quit", "Quit piyasa (the workers are stopped)"),
)
HIDDEN_IN_FOOTER = {"toggle_follow"}
NARROW, SHORT, WIDE = 100, 30, 160


class DashboardScreen(Screen[None]):
    """Everything at a glance; rendering only the frame it is given."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding(k.key, f"app.{k.action}", k.label, show=k.action not in HIDDEN_IN_FOOTER,
                        key_display=k.shown if k.key in ("slash", "question_mark") else None)
                for k in KEYS]

    frame: var[Frame | None] = var(None, init=False)

    def __init__(self, *, feed_limit: int = 500, cursor_blink: bool = True) -> None:
        super().__init__()
        self.feed_limit = feed_limit
        self.cursor_blink = cursor_blink
        self._freshness: tuple[str, bool] = ("", False)

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status").data_bind(DashboardScreen.frame)
        yield WhoLine(id="who").data_bind(DashboardScreen.frame)
        yield FleetLine(id="fleet").data_bind(DashboardScreen.frame)
        with Horizontal(id="top"):
            with Vertical(id="left"):
                yield WorkersTable(id="workers").data_bind(DashboardScreen.frame)
                yield CachePanel(id="cache").data_bind(DashboardScreen.frame)
            yield ProvidersPanel(id="providers").data_bind(DashboardScreen.frame)
        yield FeedLog(limit=self.feed_limit, id="feed").data_bind(DashboardScreen.frame)
        yield FilterBar(cursor_blink=self.cursor_blink, id="filter-bar")
        yield KeyBar([k for k in KEYS if k.action not in HIDDEN_IN_FOOTER], id="keys")

    def on_mount(self) -> None:
        self.query_one(WorkersTable).focus()
        self.call_after_refresh(self._show_freshness)
        self._show_fleet_keys()  # now, not after a refresh: an unchanged frame asks for none

    def on_resize(self) -> None:
        width, height = self.size
        self.set_class(width < NARROW, "-narrow")
        self.set_class(height < SHORT, "-short")
        self.set_class(width >= WIDE, "-wide")
        self.query_one(CachePanel).compact = height < SHORT
        self.query_one(ProvidersPanel).compact = height < SHORT or width < NARROW
        self.query_one(ProvidersPanel).detailed = width >= WIDE and height >= SHORT

    def on_data_table_row_selected(self, event: WorkersTable.RowSelected) -> None:
        """Enter on a worker row: everything about that worker, the full last error included."""
        frame = self.frame
        worker = next((w for w in frame.snapshot.workers if str(w.worker_id) == event.row_key.value), None) \
            if frame is not None else None
        if worker is not None:
            from piyasa_tui.screens.modals import MessageScreen, worker_details

            self.app.push_screen(MessageScreen(f"Worker {worker.worker_id}", worker_details(worker, frame)))

    def watch_frame(self) -> None:
        self._show_freshness()
        self._show_fleet_keys()

    def _show_fleet_keys(self) -> None:
        """The fleet's keys on the key line only in fleet mode (the first frame may come before compose;
        no bar either while the app closes)."""
        if self.frame is not None:
            for bar in self.query(KeyBar):
                bar.fleet = self.frame.snapshot.fleet is not None

    def _show_freshness(self) -> None:
        """Attached: every panel says how old its data is, and stale data is greyed."""
        frame = self.frame
        if frame is None or not self.is_mounted:  # the first frame may come before compose (on_mount shows it)
            return
        tag, style = frame.freshness()
        stale = frame.stale
        if (tag, stale) == self._freshness:
            return
        self._freshness = (tag, stale)
        self.set_class(stale, "-stale")
        suffix = f"[{style}]· {tag}[/]" if tag else ""
        for panel, title in ((WorkersTable, "Workers"), (CachePanel, "Cache"), (ProvidersPanel, "Providers")):
            self.query_one(panel).border_title = f"{title} {suffix}" if suffix else title
        self.feed_log.freshness = suffix

    def open_filter(self) -> None:
        self.filter_bar.open(self.feed_log.filter.source)

    def on_filter_bar_applied(self, event: FilterBar.Applied) -> None:
        try:
            self.feed_log.filter = FeedFilter.parse(event.value)
        except ValueError as exc:  # the filter stays as it was; the line stays open to fix it
            self.app.notify(str(exc), title="Filter not applied", severity="warning", timeout=10, markup=False)
            self.filter_bar.open(event.value, keep=self.feed_log.filter.source)

    def on_feed_log_selected(self, event: FeedLog.Selected) -> None:
        """Enter on a feed line: everything stored about that message."""
        from piyasa_tui.screens.message import MessageDetailScreen

        if self.frame is not None:
            self.app.push_screen(MessageDetailScreen(event.item, self.frame.tz))

    @property
    def filter_bar(self) -> FilterBar:
        return self.query_one(FilterBar)

    @property
    def workers_table(self) -> WorkersTable:
        return self.query_one(WorkersTable)

    @property
    def feed_log(self) -> FeedLog:
        return self.query_one(FeedLog)
