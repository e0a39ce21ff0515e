"""The live feed: the last 500 messages, newest at the bottom, following unless the user scrolls up."""

from __future__ import annotations

import shlex
from collections import deque
from dataclasses import dataclass

from rich.text import Text
from textual.reactive import var
from textual.widgets import RichLog

from piyasa_core.workers.snapshot import FeedItem
from piyasa_tui.widgets.common import Frame, clock_text, one_line

FEED_LIMIT = 500
WORKER_STYLES = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta", "bright_green")


@dataclass(frozen=True)
class FeedFilter:
    """`w2`, `worker:2`, `bot:Ayşe`, `chat:piyasa-local`, plain words (in the text); all must match."""

    workers: frozenset[int] = frozenset()
    bots: tuple[str, ...] = ()
    chats: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    source: str = ""

    @classmethod
    def parse(cls, text: str) -> FeedFilter:
        try:
            tokens = shlex.split(text)
        except ValueError:
            tokens = text.split()
        workers: set[int] = set()
        bots: list[str] = []
        chats: list[str] = []
        words: list[str] = []
        for token in tokens:
            key, sep, value = token.partition(":")
            key = key.casefold()
            if sep and key in ("bot", "b") and value:
                bots.append(value.casefold())
            elif sep and key in ("chat", "c") and value:
                chats.append(value.casefold())
            elif sep and key in ("worker", "w") and value.isdigit():
                workers.add(int(value))
            elif not sep and len(token) > 1 and token[0] in "wW" and token[1:].isdigit():
                workers.add(int(token[1:]))
            else:
                words.append(token.casefold())
        return cls(frozenset(workers), tuple(bots), tuple(chats), tuple(words), " ".join(tokens))

    def __bool__(self) -> bool:
        return bool(self.workers or self.bots or self.chats or self.words)

    def matches(self, item: FeedItem) -> bool:
        if self.workers and item.worker_id not in self.workers:
            return False
        if self.bots and not any(b in item.bot_name.casefold() for b in self.bots):
            return False
        if self.chats and not any(c in item.chat_key.casefold() for c in self.chats):
            return False
        if self.words:
            haystack = f"{item.text} {item.bot_name} {item.chat_key} {item.reply_to_author or ''}".casefold()
            if not all(w in haystack for w in self.words):
                return False
        return True


def item_key(item: FeedItem) -> tuple[int, int, float]:
    return (item.message_id, item.worker_id, item.at)


def feed_line(item: FeedItem, frame_tz: object, active: str = "") -> Text:
    """`14:02:09 w1 Mehmet Yatırımcı → piyasa-local ↩ Zeynep: text`; a message the offline composer wrote
    while an LLM provider is active (it stood in, where the operator allowed it) is marked "offline"."""
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(clock_text(item.at, frame_tz), "dim")  # type: ignore[arg-type]
    line.append(f" w{item.worker_id} ", WORKER_STYLES[item.worker_id % len(WORKER_STYLES)])
    line.append(item.bot_name, "bold")
    if item.provider == "offline" and active and active != "offline":
        line.append(" [offline]", "yellow")
    line.append(" → ", "dim")
    line.append(item.chat_key, "cyan")
    line.append("  ")
    if item.reply_to_author:
        line.append(f"↩ {item.reply_to_author}: ", "magenta")
    line.append(one_line(item.text))
    return line


class FeedLog(RichLog):
    """Follows the newest message; scrolling up pauses (new messages are counted, not drawn) until the
    user scrolls back to the end or presses `F`."""

    frame: var[Frame | None] = var(None, init=False)
    follow: var[bool] = var(True, init=False)
    filter: var[FeedFilter] = var(FeedFilter(), init=False)
    pending: var[int] = var(0, init=False)  # messages that arrived while paused

    def __init__(self, *, limit: int = FEED_LIMIT, **kwargs: object) -> None:
        super().__init__(max_lines=limit, wrap=False, markup=False, highlight=False, auto_scroll=False,
                         **kwargs)  # type: ignore[arg-type]
        self.items: deque[FeedItem] = deque(maxlen=limit)
        self._last_key: tuple[int, int, float] | None = None
        self._paused_by_scroll = False
        self._rebuilding = False
        self._width = 0
        self._tz: object = None
        self._active = ""  # the active provider (an offline stand-in is marked against it)
        self._update_title()

    # ── data ───────────────────────────────────────────────────────────────────────────────────
    def watch_frame(self, frame: Frame | None) -> None:
        if frame is None:
            return
        self._tz = frame.tz
        self._active = next((p.name for p in frame.snapshot.providers if p.active), "")
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
            self.write(feed_line(item, self._tz, self._active), width=width, scroll_end=False)
        if shown:
            self.scroll_end(animate=False, immediate=False, x_axis=False)

    def _new_items(self, feed: tuple[FeedItem, ...]) -> list[FeedItem]:
        """Items after the last one seen (the supervisor's feed is append-only and bounded)."""
        if self._last_key is None:
            return list(feed)
        for index in range(len(feed) - 1, -1, -1):
            if item_key(feed[index]) == self._last_key:
                return list(feed[index + 1:])
        return list(feed)  # everything we saw scrolled out of the snapshot's window

    def _line_width(self) -> int | None:
        """Lines are cut (with …) to the visible width: RichLog would measure them against the console."""
        return self.scrollable_content_region.width or None

    @property
    def shown(self) -> list[FeedItem]:
        """The retained items that pass the filter (what the log shows when following)."""
        return [item for item in self.items if self.filter.matches(item)]

    def rebuild(self) -> None:
        """Redraw from the retained items (after a filter change, a resume or a resize)."""
        self._rebuilding = True
        try:
            self.clear()
            if self._tz is not None:
                width = self._line_width()
                for item in self.shown:
                    self.write(feed_line(item, self._tz, self._active), width=width, scroll_end=False)
            self.pending = 0
        finally:
            self._rebuilding = False
        if self.follow:
            self.scroll_end(animate=False, immediate=False, x_axis=False)

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

    def _update_title(self) -> None:
        mode = "follow" if self.follow else f"paused · {self.pending} new · F follows"
        title = f"Feed ({mode})"
        if self.filter:
            title += f" · filter: {self.filter.source}"
        self.border_title = title
