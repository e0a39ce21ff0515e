"""`?`: the keys (the same table drives the footer, this screen and the command palette)."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from piyasa_tui.screens.dashboard import KEYS


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,question_mark,q,enter", "close", "close")]

    def __init__(self, *, fleet: bool = False) -> None:
        super().__init__(classes="modal")
        self.fleet = fleet  # show the fleet mode's keys

    def compose(self) -> ComposeResult:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key in KEYS:
            if key.fleet and not self.fleet:
                continue
            table.add_row(key.shown, f"{key.title} — {key.help}")
        table.add_row("ctrl+p", "Command palette — every action above, searchable")
        table.add_row("↑ ↓", "Select a worker row (for R) · select a feed line (moving up pauses the feed)")
        table.add_row("enter", "Details — of the selected worker (its full last error), or of the selected "
                               "feed line (text, reply target, provider, tokens, post-processing, dedup)")
        table.add_row("tab", "Move between the workers table and the feed")
        notes = Text("● active provider · ○ fallback chain · 👤 a person's message · times in Europe/Istanbul "
                     "(TRT) · attached: each panel says how old its data is; stale data is greyed", style="dim")
        with Vertical(classes="dialog -wide", id="help"):
            yield Label("piyasa — keys", classes="dialog-title")
            yield Static(table, id="help-keys")
            yield Static(notes, classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(None)
