"""The operator's full screens over the dashboard (bots `t`, providers `P`, benchmark runs `H`): the same
header, their own panels and key line; the app hands each the frames it renders; Escape goes back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.binding import Binding, BindingType
from textual.reactive import var
from textual.screen import Screen

from piyasa_tui.widgets.common import Frame


@dataclass(frozen=True)
class Hint:
    """One entry of a screen's key line."""

    shown: str
    label: str


BACK = Hint("esc", "back")


class OperatorScreen(Screen[None]):
    """Built with the dashboard's current frame (None before the first snapshot); updated by the app."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "back", "back", show=False)]
    frame: var[Frame | None] = var(None, init=False)

    def __init__(self, frame: Frame | None = None) -> None:
        super().__init__()
        self._first = frame

    def on_mount(self) -> None:
        if self._first is not None:
            self.frame = self._first

    def action_back(self) -> None:
        self.dismiss(None)
