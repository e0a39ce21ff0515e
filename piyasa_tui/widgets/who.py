"""The dashboard's who-talks-when line: `active now: Ayşe, Mehmet · next: Ali at 21:00`, and at night
`nobody active until 08:00 (Zeynep)` — why a running simulation shows 0.0 msg/min and an empty feed."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text

from piyasa_core.workers.roster import WhoTalks, who_talks
from piyasa_tui.widgets.common import Frame, hhmm
from piyasa_tui.widgets.panel import FrameLine

DAY = 86400.0


def when(at: float, frame: Frame) -> str:
    """`21:00`, or `Thu 08:00` more than a day ahead of the simulated clock."""
    if at - frame.snapshot.sim_at >= DAY:
        return datetime.fromtimestamp(at, frame.tz).strftime("%a %H:%M")
    return hhmm(at, frame.tz)


def who_line(frame: Frame, width: int = 0) -> Text:
    """The line for ``frame`` (empty when the snapshot carries no bots: an older `--serve`)."""
    bots = frame.snapshot.bots
    text = Text(no_wrap=True, overflow="ellipsis")
    if not bots:
        return text
    who = who_talks(bots)
    if not who.enabled:
        text.append(" no bot is enabled", "bold red")
        text.append(" · t shows them", "dim")
        return text
    tail = Text(no_wrap=True)
    if who.next_name is not None and who.next_at is not None:
        if who.active:
            tail.append(" · next: ", "dim")
            tail.append(f"{who.next_name} at {when(who.next_at, frame)}")
    if not who.active:
        text.append(" nobody active", "bold yellow")
        if who.next_at is not None:
            text.append(f" until {when(who.next_at, frame)}", "bold yellow")
            text.append(f" ({who.next_name})", "dim")
        return text
    text.append(" active now: ", "dim")
    text.append_text(names(who, (width or 10_000) - len(" active now: ") - tail.cell_len))
    text.append_text(tail)
    return text


def names(who: WhoTalks, room: int) -> Text:
    """The active names that fit in ``room`` cells, then `+N`."""
    shown: list[str] = []
    for i, name in enumerate(who.active):
        rest = len(who.active) - i - 1
        candidate = ", ".join([*shown, name]) + (f" +{rest}" if rest else "")
        if shown and len(candidate) > room:
            break
        shown.append(name)
    more = len(who.active) - len(shown)
    return Text(", ".join(shown) + (f" +{more}" if more else ""), "green")


class WhoLine(FrameLine):
    """One line under the header; redrawn when the names, the next change or the width change."""

    def _show(self) -> None:
        frame = self.frame
        if frame is None:
            return
        width = self.size.width
        bots = frame.snapshot.bots
        key = (tuple((b.name, b.state, b.next_change) for b in bots), width, frame.tz)
        self.show(key, lambda: who_line(frame, width))
