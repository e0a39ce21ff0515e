"""The workers table: one row per worker slot, updated cell by cell; columns drop when narrow.

At 120 columns it shows the design sketch's columns (#, pid, state, up, rst, bots, 1m, 10m, activity,
cpu, rss): cells are separated by one space (Textual's cell padding would spend two per column), and
the last error takes what is left — when that is under 10 cells it moves to the table's border."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.coordinate import Coordinate
from textual.reactive import var
from textual.widgets import DataTable

from piyasa_core.workers.snapshot import WorkerView
from piyasa_tui.widgets.common import (
    STATE_STYLES,
    Frame,
    clip,
    countdown,
    duration,
    one_line,
    sparkline,
)


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    width: int
    priority: int  # 0 = always shown; higher numbers are dropped first when the table is narrow
    right: bool = False


COLUMNS = (
    Column("id", "#", 2, 0, right=True),
    Column("pid", "pid", 7, 5, right=True),
    Column("state", "state", 11, 0),
    Column("up", "up", 6, 4, right=True),
    Column("rst", "rst", 3, 3, right=True),
    Column("bots", "bots", 4, 8, right=True),
    Column("r1", "1m", 4, 1, right=True),
    Column("r10", "10m", 4, 7, right=True),
    Column("spark", "activity", 8, 2),
    Column("cpu", "cpu", 4, 6, right=True),
    Column("rss", "rss", 5, 6, right=True),
    Column("error", "last error", 10, 9),  # what is left (10 at least), else the error goes to the border
)
GAP = 1  # one space after every cell
SPARK, SPARK_WIDE, SPARK_WIDE_AT = 8, 12, 110  # activity bars: 80 s, or 2 min in a table this wide


def spark_width(width: int) -> int:
    return SPARK_WIDE if width >= SPARK_WIDE_AT else SPARK


def fit_columns(width: int) -> tuple[tuple[Column, ...], int]:
    """The columns that fit in ``width`` cells (by priority, order kept) and the error column's width."""
    widths = {c.key: spark_width(width) if c.key == "spark" else c.width for c in COLUMNS}
    chosen = {c.key for c in COLUMNS if c.priority == 0}
    used = sum(widths[k] + GAP for k in chosen)
    for column in sorted((c for c in COLUMNS if c.priority), key=lambda c: c.priority):
        cost = widths[column.key] + GAP
        if used + cost <= width:
            chosen.add(column.key)
            used += cost
    error_width = width - (used - widths["error"] - GAP) - GAP if "error" in chosen else 0
    return tuple(c for c in COLUMNS if c.key in chosen), error_width


def state_cell(w: WorkerView, now: float) -> Text:
    style = STATE_STYLES.get(w.state, "")
    if w.state == "backoff":
        left = countdown((w.backoff_until or now) - now) if w.backoff_until else ""
        return Text(f"backoff {left}".strip(), style=style)
    return Text(w.state, style=style)


RIGHT = {c.key for c in COLUMNS if c.right}


def worker_cells(w: WorkerView, now: float, peak: int, error_width: int, spark: int = SPARK) -> dict[str, Text]:
    """Every cell of one worker's row (all columns; the table shows those that fit). Each column is one
    cell wider than its content: a right-aligned cell starts with the gap, a left-aligned one is given it
    in front (Rich strips trailing spaces when it right-aligns)."""
    alive = w.state in ("starting", "running", "draining")
    rate_style = "" if alive else "dim"
    error = one_line(w.last_error)
    raw: dict[str, Text | str] = {
        "id": Text(str(w.worker_id), style="bold"),
        "pid": str(w.pid) if w.pid else "–",
        "state": state_cell(w, now),
        "up": duration(w.uptime_s) if w.state == "running" else "–",
        "rst": Text(str(w.restarts), style="yellow" if w.restarts else ""),
        "bots": str(len(w.bots)),
        "r1": Text(f"{w.rate_1m:.1f}", style=rate_style),
        "r10": Text(f"{w.rate_10m:.1f}", style=rate_style),
        "spark": Text(sparkline(w.spark[-spark:], peak), style="cyan" if alive else "dim"),
        "cpu": f"{w.cpu_percent:.0f}%" if w.cpu_percent is not None else "–",
        "rss": f"{w.rss_bytes / 1048576:.0f}M" if w.rss_bytes is not None else "–",
        "error": Text(clip(error, max(error_width, 1)), style="red" if error and not alive else "yellow"),
    }
    cells = {}
    for key, value in raw.items():
        text = value if isinstance(value, Text) else Text(value)
        if key in RIGHT:
            text.justify = "right"
        else:
            text = Text(" " * GAP) + text
        cells[key] = text
    return cells


def _same(a: Text | None, b: Text) -> bool:
    return a is not None and (a.plain, str(a.style), a.justify) == (b.plain, str(b.style), b.justify)


class WorkersTable(DataTable[Text]):
    """Rows keyed by worker id; the cursor row is the worker `R` restarts."""

    frame: var[Frame | None] = var(None, init=False)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, cell_padding=0, **kwargs)  # type: ignore[arg-type]
        self.border_title = "Workers"
        self._columns_fit: tuple[tuple[str, ...], int] = ((), 0)
        self._cells: dict[int, dict[str, Text]] = {}
        self._restore: int | None = None
        self._spark = SPARK

    @property
    def selected_worker(self) -> int | None:
        """The worker id of the cursor row (None when the table is empty)."""
        if not self.row_count:
            return None
        row_key = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key
        return int(row_key.value) if row_key.value is not None else None

    def on_resize(self) -> None:
        self._render_rows()

    def watch_frame(self) -> None:
        self._render_rows()

    def _render_rows(self) -> None:
        frame = self.frame
        width = self.scrollable_content_region.width or self.size.width
        if not width:
            return
        columns, error_width = fit_columns(width)
        spark = self._spark = spark_width(width)
        fit = (tuple(c.key for c in columns), error_width)
        if fit != self._columns_fit:
            self._rebuild_columns(columns, error_width)
            self._columns_fit = fit
        if frame is None:
            return
        workers = sorted(frame.snapshot.workers, key=lambda w: w.worker_id)
        peak = max((max(w.spark[-spark:], default=0) for w in workers), default=0)
        ids = [w.worker_id for w in workers]
        if ids != list(self._cells):
            self._rebuild_rows(workers, frame.now, peak, error_width)
            return
        keys = fit[0]
        for w in workers:
            cells = worker_cells(w, frame.now, peak, error_width, spark)
            old = self._cells[w.worker_id]
            for key in keys:
                if not _same(old.get(key), cells[key]):
                    self.update_cell(str(w.worker_id), key, cells[key])
            self._cells[w.worker_id] = cells
        self.border_subtitle = self._trouble(workers, frame.now)

    def _trouble(self, workers: list[WorkerView], now: float) -> str:
        """Crashed/backoff workers in the border, so their errors show even when the column is narrow;
        without the error column, a running worker's last error too."""
        bad = [w for w in workers if w.state in ("crashed", "backoff")]
        if not bad and "error" not in self._columns_fit[0]:
            bad = [w for w in workers if w.last_error]
        if not bad:
            return ""
        w = bad[0]
        more = f" (+{len(bad) - 1})" if len(bad) > 1 else ""
        return clip(f"w{w.worker_id}: {one_line(w.last_error) or w.state}{more}", max(10, self.size.width - 6))

    def _rebuild_columns(self, columns: tuple[Column, ...], error_width: int) -> None:
        cursor = self.cursor_row
        self.clear(columns=True)
        spark = spark_width(self.scrollable_content_region.width or self.size.width)
        for c in columns:
            label = Text(c.label if c.right else " " * GAP + c.label, style="bold", justify="right" if c.right else "left")
            width = error_width if c.key == "error" else spark if c.key == "spark" else c.width
            self.add_column(label, width=width + GAP, key=c.key)
        self._cells = {}
        self._restore = cursor

    def _rebuild_rows(self, workers: list[WorkerView], now: float, peak: int, error_width: int) -> None:
        cursor = self._restore if self._restore is not None else self.cursor_row
        self._restore = None
        self.clear()
        keys = [c.key for c in self.ordered_columns]
        self._cells = {}
        for w in workers:
            cells = worker_cells(w, now, peak, error_width, self._spark)
            self.add_row(*(cells[key] for key in keys), key=str(w.worker_id))
            self._cells[w.worker_id] = cells
        if workers:
            self.move_cursor(row=min(max(cursor, 0), len(workers) - 1), animate=False)
        self.border_subtitle = self._trouble(workers, now)
