"""`t`: who talks when — every bot with its worker, state (active / away / disabled), next turn, this
hour's messages against its min/max, planned pace, hours and last message; the selected bot's prime
hours and stances below. `e` enables or disables the selected bot (kept in the database)."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from piyasa_core.workers.snapshot import BotView
from piyasa_tui.screens.modals import ConfirmScreen
from piyasa_tui.screens.operator import BACK, Hint, OperatorScreen
from piyasa_tui.widgets.common import Frame, clip, clock_text, countdown, hhmm, one_line
from piyasa_tui.widgets.keybar import KeyBar
from piyasa_tui.widgets.status import StatusLine
from piyasa_tui.widgets.who import WhoLine, when

# key, label, width, right-aligned; "last" takes what is left (12 at least)
COLUMNS = (("id", "#", 3, True), ("bot", "bot", 16, False), ("w", "w", 2, True), ("state", "state", 14, False),
           ("next", "next turn", 9, False), ("hour", "this hour", 9, False), ("plan", "plan", 6, True),
           ("hours", "active hours", 17, False), ("last", "last message", 12, False))
DROP_ORDER = ("hours", "plan", "w", "last")  # dropped first when the screen is narrow
STATE_STYLE = {"active": "green", "away": "yellow", "disabled": "red"}


def short_hours(windows: tuple[str, ...]) -> str:
    """`09-12 14-17 20-22` (minutes kept when not :00); `always` without windows."""
    if not windows:
        return "always"
    return " ".join(w.replace(":00", "") for w in windows)


def state_text(b: BotView, frame: Frame) -> Text:
    if b.state == "disabled":
        return Text(f"disabled ({'op' if b.disabled_by == 'operator' else 'cfg'})", "bold red" if
                    b.disabled_by == "operator" else "dim")
    text = Text(b.state, STATE_STYLE.get(b.state, ""))
    if b.next_change is not None:
        text.append(f" →{hhmm(b.next_change, frame.tz)}", "dim")
    return text


def next_turn(b: BotView, frame: Frame) -> str:
    """`in 1m05s` within the hour, else the clock time; `now` while its turn runs; `w2 down` while its
    worker is not running; `–` when it has none."""
    if b.state == "disabled":
        return "–"
    worker = next((w for w in frame.snapshot.workers if w.worker_id == b.worker), None)
    if worker is not None and worker.state != "running":
        return f"w{b.worker} down"
    if b.sent_hour is None:
        return "–"
    if b.next_due is None:
        return "now"
    ahead = b.next_due - frame.snapshot.sim_at
    return "due" if ahead <= 0 else f"in {countdown(ahead)}" if ahead < 3600 else hhmm(b.next_due, frame.tz)


def hour_text(b: BotView, alarms: set[str]) -> Text:
    if b.sent_hour is None:
        return Text(f"– /{b.hourly_min}–{b.hourly_max}", "dim")
    style = "red" if b.sent_hour >= b.hourly_max else "yellow" if b.username in alarms else ""
    return Text(f"{b.sent_hour} /{b.hourly_min}–{b.hourly_max}", style)


def bot_cells(b: BotView, frame: Frame, alarms: set[str], last_width: int) -> dict[str, Text]:
    last = Text()
    if b.last_at is not None:
        last.append(hhmm(b.last_at, frame.tz) + " ", "dim")
        last.append(clip(one_line(b.last_text), max(1, last_width - 6)))
    return {"id": Text(str(b.bot_id), "bold"), "bot": Text(clip(b.name, 16), "bold" if b.state == "active" else ""),
            "w": Text(str(b.worker)), "state": state_text(b, frame), "next": Text(next_turn(b, frame)),
            "hour": hour_text(b, alarms), "plan": Text(f"{b.plan_per_hour:.1f}/h" if b.plan_per_hour and b.state == "active" else "–"),
            "hours": Text(short_hours(b.active_hours)), "last": last}


def detail(b: BotView | None, frame: Frame) -> Group | Text:
    """Everything about the selected bot."""
    if b is None:
        return Text("no bots known yet", "dim")
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="dim", no_wrap=True)
    grid.add_column()
    head = Text()
    head.append(b.name, "bold")
    head.append(f"  @{b.username} · worker {b.worker} · ")
    if b.state == "disabled":
        head.append_text(state_text(b, frame))
    else:
        head.append(b.state, STATE_STYLE.get(b.state, ""))
        if b.next_change is not None:
            head.append(f" {'until' if b.state == 'active' else 'from'} {when(b.next_change, frame)}")
    pace = Text(f"{next_turn(b, frame)}", "bold")
    if b.next_due is not None and b.state != "disabled":
        ahead = b.next_due - frame.snapshot.sim_at
        pace.append(f" ({clock_text(b.next_due, frame.tz)})" if ahead < 3600 else f" (in {countdown(ahead)})", "dim")
    pace.append(f" · {'–' if b.sent_hour is None else b.sent_hour} in the last hour (min {b.hourly_min}, "
                f"max {b.hourly_max})")
    if b.plan_per_hour and b.state == "active":
        pace.append(f" · planned {b.plan_per_hour:.1f}/h")
    grid.add_row("next turn", pace)
    grid.add_row("hours", f"active {', '.join(b.active_hours) or 'always'} · prime {', '.join(b.prime_hours) or 'none'}")
    last = Text("–", "dim") if b.last_at is None else Text(
        f"{datetime.fromtimestamp(b.last_at, frame.tz):%d.%m %H:%M:%S}  {one_line(b.last_text)}")
    grid.add_row("last message", last)
    grid.add_row("stances", "\n".join(b.stances) or "–")
    hint = {"operator": "e enables it again", "config": "disabled in config.toml: set enabled = true there and run init"
            }.get(b.disabled_by, "e disables it: it stops talking until enabled again, across restarts and init")
    return Group(head, grid, Text(hint, "dim"))


class BotsTable(DataTable[Text]):
    """One row per bot, keyed by bot id; cells update in place."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self.border_title = "Bots"
        self._layout: tuple[tuple[str, ...], int] = ((), 0)
        self._rows: dict[int, dict[str, Text]] = {}

    def columns_for(self, width: int) -> tuple[tuple[str, ...], int]:
        """The columns that fit (dropping DROP_ORDER first) and the last message's width."""
        keys = [c[0] for c in COLUMNS]
        widths = {c[0]: c[2] for c in COLUMNS}
        for victim in (None, *DROP_ORDER):
            if victim is not None:
                keys.remove(victim)
            used = sum(widths[k] + 2 for k in keys)
            if used <= width:
                return tuple(keys), widths["last"] + width - used if "last" in keys else 0
        return tuple(keys), 0

    def show_bots(self, frame: Frame) -> None:
        width = self.scrollable_content_region.width or self.size.width
        if not width:
            return
        keys, last_width = self.columns_for(width)
        bots = frame.snapshot.bots
        ids = [b.bot_id for b in bots]
        if (keys, last_width) != self._layout:
            self._layout = (keys, last_width)
            cursor = self.cursor_row
            self.clear(columns=True)
            for key, label, size, right in COLUMNS:
                if key in keys:
                    self.add_column(Text(label, "bold", justify="right" if right else "left"),
                                    width=last_width if key == "last" else size, key=key)
            self._rows = {}
            self.move_cursor(row=cursor, animate=False)
        alarms = {a for w in frame.snapshot.workers for a in w.floor_alarms}
        cells = {b.bot_id: bot_cells(b, frame, alarms, last_width) for b in bots}
        for row in cells.values():
            for key, _label, _size, right in COLUMNS:
                if right:
                    row[key].justify = "right"
        if ids != list(self._rows):
            cursor = self.cursor_row
            self.clear()
            for bot_id in ids:
                self.add_row(*(cells[bot_id][k] for k in keys), key=str(bot_id))
            if ids:
                self.move_cursor(row=min(max(cursor, 0), len(ids) - 1), animate=False)
        else:
            for bot_id in ids:
                for key in keys:
                    old = self._rows[bot_id].get(key)
                    if old is None or old.plain != cells[bot_id][key].plain or old.style != cells[bot_id][key].style:
                        self.update_cell(str(bot_id), key, cells[bot_id][key])
        self._rows = cells

    @property
    def selected(self) -> int | None:
        if not self.row_count:
            return None
        value = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        return int(value) if value is not None else None


class BotsScreen(OperatorScreen):
    """The bots table, the selected bot's details, `e` to enable or disable it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("e", "toggle_bot", "enable/disable")]
    HINTS = (Hint("e", "enable/disable"), Hint("↑↓", "select"), BACK)

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status").data_bind(OperatorScreen.frame)
        yield WhoLine(id="who").data_bind(OperatorScreen.frame)
        yield BotsTable(id="bots-table", classes="panel")
        yield Static(id="bot-detail", classes="panel detail")
        yield KeyBar(self.HINTS, classes="keys")

    def on_mount(self) -> None:
        self.query_one(BotsTable).focus()
        self.query_one("#bot-detail", Static).border_title = "Selected bot"

    def on_resize(self) -> None:
        self.watch_frame()

    def watch_frame(self) -> None:
        if self.frame is None:
            return
        self.query_one(BotsTable).show_bots(self.frame)
        self._show_detail()

    def on_data_table_row_highlighted(self) -> None:
        self._show_detail()

    @property
    def selected_bot(self) -> BotView | None:
        chosen = self.query_one(BotsTable).selected
        bots = self.frame.snapshot.bots if self.frame is not None else ()
        return next((b for b in bots if b.bot_id == chosen), None)

    def _show_detail(self) -> None:
        if self.frame is not None:
            self.query_one("#bot-detail", Static).update(detail(self.selected_bot, self.frame))

    def action_toggle_bot(self) -> None:
        bot = self.selected_bot
        if bot is None:
            self.app.notify("No bot selected.", title="Bots", severity="warning")
            return
        self.app.run_worker(self._toggle(bot), group="bots", name="enable/disable bot", exit_on_error=False)

    async def _toggle(self, bot: BotView) -> None:
        app = self.app
        if bot.disabled_by == "config":
            app.notify(f"{bot.name} is disabled in config.toml (enabled = false): set it to true there and run "
                       "piyasa-tui init", title="Bots", severity="warning", markup=False)
            return
        enable = bot.state == "disabled"
        if not enable and not await app.push_screen_wait(ConfirmScreen(
                f"Disable {bot.name}",
                f"{bot.name} (@{bot.username}, worker {bot.worker}) stops talking now; a message being typed is "
                "still sent.\nIt stays disabled across restarts and `piyasa-tui init` until you enable it here "
                "(or with POST /bots).", "Disable")):
            return
        result = await app._call(app.source.set_bot_enabled, bot.bot_id, enable)  # type: ignore[attr-defined]
        told = result.get("workers") if isinstance(result, dict) else None
        suffix = f" ({len(told)} workers told)" if isinstance(told, list) and told else ""
        app.notify(f"{bot.name} {'enabled' if enable else 'disabled'}{suffix}", title="Bots", markup=False)
