"""The live feed: the last 500 messages, newest at the bottom, following unless the user scrolls up.

With the focus on it, ↑/↓ select a line and Enter asks for its details (:class:`FeedLog.Selected`);
`w` wraps long lines instead of cutting them. People's lines (the operator's `/` posts included) are
marked 👤; a line from another day than the snapshot's shows its date.
"""

from __future__ import annotations

from collections import deque
from datetime import date, datetime, tzinfo
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.events import Click
from textual.markup import escape
from textual.message import Message
from textual.reactive import var
from textual.strip import Strip
from textual.widgets import RichLog

from piyasa_core.workers.snapshot import FeedItem
from piyasa_tui.widgets.common import Frame, clock_text, one_line
from piyasa_tui.widgets.feed_filter import FeedFilter

__all__ = ["FEED_LIMIT", "FeedFilter", "FeedLog", "feed_line", "item_key"]

FEED_LIMIT = 500
WORKER_STYLES = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta", "bright_green")
PERSON_MARK = "👤"
FOCUSED_HINT = "↑↓ select · Enter details · w wrap"


def item_key(item: FeedItem) -> tuple[int, int]:
    """A line's identity (the message id is unique in the database; the same line read back from the
    database after a reconnect carries a sent time rounded to microseconds)."""
    return (item.message_id, item.worker_id)


def local_date(at: float, tz: tzinfo | None) -> date:
    return datetime.fromtimestamp(at, tz).date()


def feed_line(item: FeedItem, frame_tz: object, active: str = "", today: date | None = None,
              wrap: bool = False) -> Text:
    """`14:02:09 w1 Mehmet Yatırımcı → piyasa-local ↩ Zeynep: text`; `03-13 14:02:09` on a line from another
    day than ``today``; a person's line `👤 Deniz` in its own colour; a message the offline composer wrote
    while an LLM provider is active (it stood in, where the operator allowed it) is marked "offline"."""
    tz: tzinfo | None = frame_tz  # type: ignore[assignment]
    line = Text(no_wrap=not wrap, overflow="fold" if wrap else "ellipsis")
    if today is not None and local_date(item.at, tz) != today:
        line.append(datetime.fromtimestamp(item.at, tz).strftime("%m-%d "), "dim")
    line.append(clock_text(item.at, tz), "dim")  # type: ignore[arg-type]
    if item.human:
        line.append(f" {PERSON_MARK} ")
        line.append(item.bot_name, "bold yellow")
    else:
        line.append(f" w{item.worker_id} ", WORKER_STYLES[item.worker_id % len(WORKER_STYLES)])
        line.append(item.bot_name, "bold")
    if item.provider == "offline" and active and active != "offline":
        line.append(" [offline]", "yellow")
    line.append(" → ", "dim")
    line.append(item.chat_key, "cyan")
    line.append("  ")
    if item.reply_to_author:
        line.append(f"↩ {item.reply_to_author}: ", "magenta")
    line.append(one_line(item.text), "italic" if item.human else "")
    return line


class FeedLog(RichLog):
    """Follows the newest message; scrolling up pauses (new messages are counted, not drawn) until the
    user scrolls back to the end or presses `F`."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"feed-log--cursor"}
    DEFAULT_CSS = """
    FeedLog > .feed-log--cursor {
        background: $accent 35%;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "previous line", show=False),
        Binding("down", "cursor(1)", "next line", show=False),
        Binding("home", "cursor_to(0)", "first line", show=False),
        Binding("end", "cursor_to(-1)", "last line", show=False),
        Binding("enter", "open", "details", show=False),
    ]

    class Selected(Message):
        """Enter on a line: the operator wants its details."""

        def __init__(self, item: FeedItem) -> None:
            super().__init__()
            self.item = item

    frame: var[Frame | None] = var(None, init=False)
    follow: var[bool] = var(True, init=False)
    filter: var[FeedFilter] = var(FeedFilter(), init=False)
    pending: var[int] = var(0, init=False)  # messages that arrived while paused
    freshness: var[str] = var("", init=False)  # an attached TUI's data age (markup), set by the dashboard

    def __init__(self, *, limit: int = FEED_LIMIT, **kwargs: object) -> None:
        super().__init__(max_lines=limit, wrap=False, markup=False, highlight=False, auto_scroll=False,
                         **kwargs)  # type: ignore[arg-type]
        self.items: deque[FeedItem] = deque(maxlen=limit)
        self.selected: FeedItem | None = None
        self._owners: list[FeedItem] = []  # the item each of `self.lines` belongs to (several when wrapped)
        self._last_key: tuple[int, int] | None = None
        self._paused_by_scroll = False
        self._rebuilding = False
        self._width = 0
        self._tz: object = None
        self._today: date | None = None
        self._started_at: float | None = None  # the server's start: another one means another feed
        self._active = ""  # the active provider (an offline stand-in is marked against it)
        self._update_title()

    # ── data ───────────────────────────────────────────────────────────────────────────────────
    def watch_frame(self, frame: Frame | None) -> None:
        if frame is None:
            return
        self._tz = frame.tz
        self._active = next((p.name for p in frame.snapshot.providers if p.active), "")
        today = local_date(frame.snapshot.sim_at, frame.tz)
        if today != self._today:
            first, self._today = self._today is None, today
            if not first:
                self.rebuild()  # yesterday's lines now show their date
        if frame.snapshot.started_at != self._started_at:  # a restarted server (attached): its feed anew
            if self._started_at is not None:
                self.items.clear()
                self._last_key = None
                self.rebuild()
            self._started_at = frame.snapshot.started_at
        new = self._new_items(frame.snapshot.feed)
        if not new:
            return
        self.items.extend(new)
        self._last_key = item_key(new[-1])
        shown = [item for item in new if self.filter.matches(item)]
        if not self.follow:
            self.pending += len(shown)
            return
        width = self._line_width()
        for item in shown:
            self._write_item(item, width)
        if shown:
            self.scroll_end(animate=False, immediate=False, x_axis=False)
            if self.has_focus and self.selected is None:
                self.selected = self._visible_last()

    def _new_items(self, feed: tuple[FeedItem, ...]) -> list[FeedItem]:
        """Items after the last one seen (the supervisor's feed is append-only and bounded)."""
        if self._last_key is None:
            return list(feed)
        for index in range(len(feed) - 1, -1, -1):
            if item_key(feed[index]) == self._last_key:
                return list(feed[index + 1:])
        # everything we saw scrolled out of the snapshot's window, or a restarted server sent its feed anew
        seen = {item_key(item) for item in self.items}
        return [item for item in feed if item_key(item) not in seen]

    def _line_width(self) -> int | None:
        """Lines are cut (with …) or wrapped to the visible width: RichLog would measure them against
        the console."""
        return self.scrollable_content_region.width or None

    def _write_item(self, item: FeedItem, width: int | None) -> None:
        if not self._size_known:
            return  # the first resize rebuilds from the retained items
        before = self._start_line + len(self.lines)
        self.write(feed_line(item, self._tz, self._active, self._today, self.wrap), width=width, scroll_end=False)
        self._owners.extend([item] * (self._start_line + len(self.lines) - before))
        if len(self._owners) > len(self.lines):
            del self._owners[: len(self._owners) - len(self.lines)]

    @property
    def shown(self) -> list[FeedItem]:
        """The retained items that pass the filter (what the log shows when following)."""
        return [item for item in self.items if self.filter.matches(item)]

    def rebuild(self) -> None:
        """Redraw from the retained items (after a filter change, a resume, a resize or a wrap toggle)."""
        self._rebuilding = True
        try:
            self.clear()
            self._owners = []
            if self._tz is not None:
                width = self._line_width()
                for item in self.shown:
                    self._write_item(item, width)
            self.pending = 0
        finally:
            self._rebuilding = False
        if self.follow:
            self.scroll_end(animate=False, immediate=False, x_axis=False)

    def toggle_wrap(self) -> None:
        """Wrap long lines / cut them at the edge with …"""
        self.wrap = not self.wrap
        self.rebuild()
        self._update_title()

    # ── the selected line ──────────────────────────────────────────────────────────────────────
    def _rows_of(self, item: FeedItem | None) -> list[int]:
        key = item_key(item) if item is not None else None
        return [i for i, owner in enumerate(self._owners) if item_key(owner) == key] if key else []

    def _select(self, item: FeedItem | None) -> None:
        self.selected = item
        rows = self._rows_of(item)
        if rows:
            top, bottom, height = int(self.scroll_y), rows[-1], self.scrollable_content_region.height
            if rows[0] < top:
                self.scroll_to(y=rows[0], animate=False, immediate=True)
            elif height and bottom >= top + height:
                self.scroll_to(y=bottom - height + 1, animate=False, immediate=True)
        self.refresh()

    def _visible_last(self) -> FeedItem | None:
        """The newest line in view (where the selection starts)."""
        if not self._owners:
            return None
        if self.follow:
            return self._owners[-1]
        bottom = int(self.scroll_y) + max(1, self.scrollable_content_region.height) - 1
        return self._owners[min(bottom, len(self._owners) - 1)]

    def action_cursor(self, step: int) -> None:
        rows = self._rows_of(self.selected)
        if not rows:
            self._select(self._visible_last())
            return
        target = rows[0] - 1 if step < 0 else rows[-1] + 1
        if 0 <= target < len(self._owners):
            self._select(self._owners[target])

    def action_cursor_to(self, where: int) -> None:
        if self._owners:
            self._select(self._owners[where])

    def action_open(self) -> None:
        if self.selected is None or not self._rows_of(self.selected):
            self._select(self._visible_last())
        if self.selected is not None:
            self.post_message(self.Selected(self.selected))

    def on_click(self, event: Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        row = int(self.scroll_y) + offset.y
        if 0 <= row < len(self._owners):
            if event.chain > 1 and self.selected is self._owners[row]:
                self.action_open()  # a double click opens it
            else:
                self._select(self._owners[row])

    def render_line(self, y: int) -> Strip:
        strip = super().render_line(y)
        if self.selected is not None and self.has_focus:
            row = int(self.scroll_y) + y
            if 0 <= row < len(self._owners) and item_key(self._owners[row]) == item_key(self.selected):
                style: Style = self.get_component_rich_style("feed-log--cursor")
                strip = strip.apply_style(style)
        return strip

    def on_focus(self) -> None:
        if not self._rows_of(self.selected):
            self.selected = self._visible_last()
        self.border_subtitle = FOCUSED_HINT
        self.refresh()

    def on_blur(self) -> None:
        self.border_subtitle = ""
        self.refresh()

    # ── follow / pause ─────────────────────────────────────────────────────────────────────────
    def watch_follow(self, follow: bool) -> None:
        if follow:
            self._paused_by_scroll = False
            self.rebuild()
        self._update_title()

    def watch_filter(self) -> None:
        self.rebuild()
        self._update_title()

    def watch_pending(self) -> None:
        self._update_title()

    def watch_freshness(self) -> None:
        self._update_title()

    def action_toggle_follow(self) -> None:
        self._paused_by_scroll = False
        self.follow = not self.follow

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._rebuilding or not self.is_mounted:
            return
        at_end = new_value >= self.max_scroll_y
        if self.follow and new_value < old_value and not at_end:
            self._paused_by_scroll = True
            self.follow = False
        elif not self.follow and self._paused_by_scroll and at_end and new_value > old_value:
            self.follow = True

    def on_resize(self) -> None:
        if self.size.width != self._width:
            self._width = self.size.width
            if self.items:
                self.call_after_refresh(self.rebuild)
        elif self.follow:  # shorter or taller: the newest line stays in view
            self.call_after_refresh(self.scroll_end, animate=False, immediate=False, x_axis=False)

    def _update_title(self) -> None:
        mode = "follow" if self.follow else f"paused · {self.pending} new · F follows"
        title = f"Feed ({mode})"
        if self.wrap:
            title += " · wrap"
        if self.filter:
            title += f" · filter: {escape(self.filter.source)}"
        self.border_title = title + (f" {self.freshness}" if self.freshness else "")
