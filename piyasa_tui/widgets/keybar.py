"""The key line at the bottom of the dashboard.

Textual's ``Footer`` recomposes (mounts a fresh widget per key) every time the focus moves, and
each recomposition left ~0.5 MiB behind in this process (measured by bench/tui.py: RSS +78 % over
five minutes of `f`/Escape); this line is drawn once per width from the dashboard's key table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rich.text import Text
from textual.reactive import var

from piyasa_tui.widgets.panel import SnapshotPanel


class KeyHint(Protocol):
    shown: str
    label: str


class KeyBar(SnapshotPanel):
    """` p provider  r restart  … ` — as many keys as fit, in the table's order; a key marked ``fleet``
    only while :attr:`fleet` is set (the dashboard sets it from the snapshot)."""

    fleet: var[bool] = var(False, init=False)

    def __init__(self, keys: Sequence[KeyHint], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.keys = tuple(keys)

    def on_mount(self) -> None:
        self._show()

    def on_resize(self) -> None:
        self._show()

    def watch_fleet(self) -> None:
        self._show()

    def _show(self) -> None:
        width, fleet = self.size.width, self.fleet
        keys = [k for k in self.keys if fleet or not getattr(k, "fleet", False)]
        self.show((width, fleet), lambda: self.build(keys, width))

    @staticmethod
    def build(keys: Sequence[KeyHint], width: int, keep_last: int = 2) -> Text:
        """The keys in order; when they do not fit, the last ``keep_last`` (help, quit) stay and the
        ones before them are dropped from the end."""
        def size(k: KeyHint) -> int:
            return len(k.shown) + len(k.label) + 3

        tail = list(keys[len(keys) - keep_last:]) if keep_last else []
        head = list(keys[: len(keys) - len(tail)])
        room = (width or 10_000) - sum(size(k) for k in tail)
        shown = []
        for key in head:
            if size(key) > room:
                break
            shown.append(key)
            room -= size(key)
        line = Text(no_wrap=True, overflow="crop")
        for key in [*shown, *tail]:
            line.append(f" {key.shown} ", "bold reverse")
            line.append(f"{key.label} ", "dim")
        return line
