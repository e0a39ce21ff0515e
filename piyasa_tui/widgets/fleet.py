"""The dashboard's fleet line (fleet mode only): every host of the fleet with its state, the shards it
holds against its target and its throughput, the attached host marked —
` fleet: h1 (here) ● 4/4 shards 3.1/min · h2 ● 4/4 shards 2.8/min · h3 ✕ gone 41 s   12 shards · all held`.
Hidden when the snapshot has no ``fleet``. It is written shorter, level by level, until it fits; the
right part (unheld shards, the agent's error) is never the part cut off."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from piyasa_tui.fleet import DRAINING, GONE, STYLE, FleetSummary, HostRow, age_text, read_fleet
from piyasa_tui.widgets.common import clip
from piyasa_tui.widgets.panel import FrameLine

LEVELS = 6  # ways of writing a host, each shorter than the one before
STYLE_GONE = STYLE[GONE]


def host_part(host: HostRow, level: int) -> Text:
    """One host at ``level`` (0 the longest): name, (here), symbol, shards held/target, msg/min.
    Level by level: the word `shards`, the gone host's age and `/min` go, `(here)` becomes `▸`, the
    rate goes, then everything but the name and the symbol."""
    text = Text(no_wrap=True)
    if host.here and level >= 3:
        text.append("▸", "bold")
    text.append(host.host_id, "bold" if host.here else "")
    if host.here and level < 3:
        text.append(" (here)", "dim")
    text.append(" ")
    text.append(host.symbol, host.style)
    if host.state == GONE:
        if level < 5:
            text.append(" gone", host.style)
            if level < 2 and host.heartbeat_age_s is not None:
                text.append(f" {age_text(host.heartbeat_age_s)}", "dim")
            if host.held:  # its leases have not run out yet
                text.append(f" holds {host.held}" if level < 3 else f" {host.held}", "red")
        return text
    if level >= 5:
        return text
    if host.state == DRAINING:
        text.append(" draining", host.style)
    text.append(f" {host.held}/{host.target}" + (" shards" if level == 0 else ""),
                "yellow" if host.held != host.target else "")
    if level < 4 and host.rate_1m is not None:
        text.append(f" {host.rate_1m:.1f}" + ("/min" if level < 2 else ""))
    return text


def hosts_part(fleet: FleetSummary, level: int, *, fold: bool = False) -> Text:
    """` fleet: ` and every host at ``level``; with ``fold`` the gone hosts that hold nothing are one
    `✕ 3 gone` at the end."""
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(" fleet: ", "dim")
    folded = [h for h in fleet.hosts if h.state == GONE and not h.held and not h.here] if fold else []
    if len(folded) < 2:  # one is written as short as its fold would be
        folded = []
    shown = [h for h in fleet.hosts if h not in folded]
    for i, host in enumerate(shown):
        if i:
            text.append(" · ", "dim")
        text.append_text(host_part(host, level))
    if folded:
        text.append(" · " if shown else "", "dim")
        text.append(f"✕ {len(folded)} gone", STYLE_GONE)
    if not fleet.hosts:
        text.append("no host seen yet", "dim")
    return text


def summary_part(fleet: FleetSummary, *, short: bool = False) -> Text:
    """`12 shards · all held`, `12 shards · 3 unheld` (without the count when ``short``) or the agent's
    last error."""
    text = Text(no_wrap=True)
    if fleet.error:
        text.append(f"fleet round failed: {clip(fleet.error, 24 if short else 40)} ", "bold red")
        return text
    unheld = len(fleet.unheld)
    if not short:
        text.append(f"{fleet.shards} shards · ", "dim")
    text.append(f"{unheld} unheld " if unheld else "all held ", "bold red" if unheld else "green")
    return text


def fleet_line(fleet: FleetSummary, width: int, *, stale: bool = False) -> tuple[Text, Text]:
    """(hosts, summary) for ``width`` cells: the longest way of writing the hosts that fits beside the
    summary (whose shard count goes first; gone hosts holding nothing are folded before a level goes)."""
    width = width or 10_000
    full, short = summary_part(fleet), summary_part(fleet, short=True)
    tries = [(level, summary, fold) for level in range(LEVELS)
             for summary in ([full] if level < 2 else []) + ([short] if level >= 1 else []) for fold in (False, True)]
    left, right = hosts_part(fleet, LEVELS - 1, fold=True), short
    for level, summary, fold in tries:
        hosts = hosts_part(fleet, level, fold=fold)
        if hosts.cell_len + summary.cell_len + 1 <= width:
            left, right = hosts, summary
            break
    if stale:  # the last known state, greyed (as the header)
        left = Text(left.plain, style="grey50", no_wrap=True, overflow="ellipsis")
        right = Text(right.plain, style="grey50", no_wrap=True)
    return left, right


class FleetLine(FrameLine):
    """One line under the header in fleet mode (class ``-on``; hidden otherwise)."""

    def _show(self) -> None:
        frame = self.frame
        fleet = read_fleet(frame.snapshot.fleet) if frame is not None else None
        self.set_class(fleet is not None, "-on")
        if fleet is None or frame is None:
            return
        left, right = fleet_line(fleet, self.size.width, stale=frame.stale)
        self.show((left, right), lambda: self._grid(left, right))

    @staticmethod
    def _grid(left: Text, right: Text) -> RenderableType:
        grid = Table.grid(expand=True)
        grid.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        grid.add_column(justify="right", no_wrap=True)
        grid.add_row(left, right)
        return grid
