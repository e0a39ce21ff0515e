"""`L` (fleet mode): every host of the fleet — state, heartbeat age, shards held against the even
spread's target and which, its workers' states, messages sent and msg/min — then the shard map (who
holds each shard, unheld ones in red) and the lease. `d` drains the host this dashboard runs on or is
attached to (after a confirmation): it hands its shards to the other hosts, then stops."""

from __future__ import annotations

from datetime import tzinfo
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType

from piyasa_tui.fleet import GONE, FleetSummary, HostRow, age_text, rate_text, read_fleet, shard_ranges, workers_text
from piyasa_tui.screens.operator import BACK, Hint, OperatorScreen
from piyasa_tui.widgets.common import Frame, clock_text
from piyasa_tui.widgets.keybar import KeyBar
from piyasa_tui.widgets.panel import SnapshotPanel
from piyasa_tui.widgets.status import StatusLine

COLUMNS = ("host", "state", "heartbeat", "shards", "which", "workers", "sent", "msg/min", "10m", "since", "address")
DROP_ORDER = ("address", "since", "10m", "which", "sent", "workers", "heartbeat")  # first to go when narrow
RIGHT = {"heartbeat", "sent", "msg/min", "10m"}


def host_cells(h: HostRow, tz: tzinfo) -> dict[str, Text]:
    """One host's cells, by column."""
    state = Text(f"{h.symbol} {h.state}", h.style)
    if h.here:
        state.append(" (here)", "bold")
    shards = Text(f"{h.held}/{h.target}", "yellow" if h.held != h.target and h.state != GONE else
                  "red" if h.held and h.state == GONE else "")
    last = "dim" if h.state == GONE else ""  # a gone host's figures are its last heartbeat's
    return {"host": Text(h.host_id, "bold" if h.here else ""), "state": state,
            "heartbeat": Text(age_text(h.heartbeat_age_s), "red" if h.state == GONE else "dim"), "shards": shards,
            "which": Text(shard_ranges(h.shards)), "workers": Text(workers_text(h.worker_states), last),
            "sent": Text("–" if h.sent_total is None else str(h.sent_total), last),
            "msg/min": Text(rate_text(h.rate_1m), last), "10m": Text(rate_text(h.rate_10m), last),
            "since": Text(clock_text(h.started_at, tz) if h.started_at else "–", "dim"),
            "address": Text(h.address or "(no control API)", "dim")}


def fit_columns(rows: list[dict[str, Text]], width: int) -> list[str]:
    """The columns whose widest cell (or header) fits in ``width``, dropping DROP_ORDER first."""
    natural = {c: max([len(c), *(r[c].cell_len for r in rows)]) + 2 for c in COLUMNS}
    keys = list(COLUMNS)
    for victim in (None, *DROP_ORDER):
        if victim is not None:
            keys.remove(victim)
        if sum(natural[k] for k in keys) <= width:
            break
    return keys


def hosts_table(fleet: FleetSummary, width: int, tz: tzinfo) -> Table:
    """One row per host, the attached one marked `(here)`; the columns that fit ``width``."""
    rows = [host_cells(h, tz) for h in fleet.hosts]
    keys = fit_columns(rows, width)
    table = Table(box=None, padding=(0, 1), expand=False, show_edge=False, header_style="bold")
    for key in keys:
        table.add_column(key, no_wrap=True, justify="right" if key in RIGHT else "left", overflow="ellipsis")
    for row in rows:
        table.add_row(*(row[k] for k in keys))
    return table


def shard_map(fleet: FleetSummary, width: int) -> Text:
    """`  0 h1   1 h1   2 h2 …` — each shard and its holder, as many to a line as fit; an unheld shard
    is `–` in red."""
    name = max([len(h) for h in fleet.holders.values() if h] + [1])
    cell = 3 + 1 + name + 2
    per_line = max(1, (width or 80) // cell)
    text = Text()
    for shard in range(fleet.shards):
        if shard and shard % per_line == 0:
            text.append("\n")
        holder = fleet.holders.get(shard)
        text.append(f"{shard:>3} ", "dim")
        style = "bold" if holder == fleet.host_id else "" if holder else "bold red"
        text.append(f"{(holder or '–'):<{name}}", style)
        text.append("  ")
    return text


def fleet_detail(fleet: FleetSummary, width: int) -> RenderableType:
    """The shard map, the lease line, this host's moves and the agent's last error."""
    lines: list[RenderableType] = [shard_map(fleet, width), Text()]
    summary = Text(fleet.shards_line(), "bold red" if fleet.unheld else "")
    summary.append(f" · moves by this host: {fleet.moves}", "dim")
    lines.append(summary)
    if fleet.draining:
        lines.append(Text(f"{fleet.host_id} is draining: it hands its shards over, then stops", "bold yellow"))
    if fleet.error:
        lines.append(Text(f"the last round failed: {fleet.error}", "bold red"))
    lines.append(Text("As of this host's last round (every lease_ttl / 3); heartbeats by PostgreSQL's clock; "
                      "msg/min on each host's own simulated clock.", "dim"))
    return Group(*lines)


class FleetPanel(SnapshotPanel):
    """A panel redrawn when the fleet's data or the width changed."""

    def show_fleet(self, frame: Frame, build: str) -> None:
        fleet = read_fleet(frame.snapshot.fleet)
        width = self.content_region.width or self.size.width
        key = (repr(frame.snapshot.fleet), width, frame.stale, build)
        if fleet is None:
            self.show(key, lambda: Text("not in fleet mode ([fleet] enabled = false on this host)", "dim"))
        elif build == "hosts":
            self.show(key, lambda: hosts_table(fleet, width, frame.tz))
        else:
            self.show(key, lambda: fleet_detail(fleet, width))


class FleetScreen(OperatorScreen):
    """The hosts table, the shard map, `d` to drain this host."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("d", "app.drain_host", "drain this host")]
    HINTS = (Hint("d", "drain this host"), BACK)

    def compose(self) -> ComposeResult:
        yield StatusLine(id="status").data_bind(OperatorScreen.frame)
        yield FleetPanel(id="fleet-hosts", classes="panel")
        yield FleetPanel(id="fleet-shards", classes="panel detail")
        yield KeyBar(self.HINTS, classes="keys")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#fleet-hosts", FleetPanel).border_title = "Fleet hosts"
        self.query_one("#fleet-shards", FleetPanel).border_title = "Shards"

    def on_resize(self) -> None:
        self.watch_frame()

    def watch_frame(self) -> None:
        frame = self.frame
        if frame is None:
            return
        self.query_one("#fleet-hosts", FleetPanel).show_fleet(frame, "hosts")
        self.query_one("#fleet-shards", FleetPanel).show_fleet(frame, "shards")
