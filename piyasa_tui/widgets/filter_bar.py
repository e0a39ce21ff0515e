"""The feed filter: one line under the feed, always there, so `f` only moves the focus into it (no
layout pass, no screen to mount: a modal took 100–200 ms to appear while the feed flooded)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Static

from piyasa_tui.widgets.panel import SnapshotPanel

FILTER_PLACEHOLDER = "w2 · bot:Ayşe or bot:ayse_scalp · chat:piyasa-local · words"
IDLE_HINT = "f edits"
EDIT_HINT = "Enter applies · Esc cancels"


class FilterInput(Input):
    """The text field; Escape gives the focus back without applying."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel", show=False)]

    class Cancelled(Message):
        """Escape: leave the filter as it was."""

    def action_cancel(self) -> None:
        self.post_message(self.Cancelled())


class FilterBar(Horizontal):
    """`filter › [text] ……… hint`; :meth:`open` focuses it, Enter posts :class:`FilterBar.Applied`."""

    class Applied(Message):
        """The operator submitted a filter (possibly empty: clears it)."""

        def __init__(self, value: str) -> None:
            super().__init__()
            self.value = value

    def __init__(self, *, cursor_blink: bool = True, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.cursor_blink = cursor_blink
        self.applied = ""
        self._return_focus: object = None

    def compose(self) -> ComposeResult:
        yield Static(" filter › ", id="filter-label")
        field = FilterInput(placeholder=FILTER_PLACEHOLDER, id="filter-input", compact=True)
        field.cursor_blink = self.cursor_blink
        yield field
        yield SnapshotPanel(id="filter-hint")

    def on_mount(self) -> None:
        self._hint(IDLE_HINT)

    @property
    def input(self) -> FilterInput:
        return self.query_one(FilterInput)

    @property
    def value(self) -> str:
        return self.input.value

    @value.setter
    def value(self, text: str) -> None:
        self.input.value = text

    @property
    def is_open(self) -> bool:
        """Being edited (the text field has the focus)."""
        return self.input.has_focus

    def open(self, current: str, keep: str | None = None) -> None:
        """Put ``current`` in the field and take the focus (given back on Enter or Escape); Escape
        restores ``keep`` (default: ``current``), the filter in force when a refused one is being fixed."""
        focused = self.screen.focused
        if focused is not self.input and focused is not None:
            self._return_focus = focused
        self.applied = current if keep is None else keep
        self.input.value = current
        self.input.cursor_position = len(current)
        self.input.focus()
        self._hint(EDIT_HINT)

    def _hint(self, text: str) -> None:
        self.query_one("#filter-hint", SnapshotPanel).show(text, lambda: text)

    def _close(self) -> None:
        self._hint(IDLE_HINT)
        target, self._return_focus = self._return_focus, None
        if target is not None and getattr(target, "is_mounted", False):
            target.focus()  # type: ignore[attr-defined]
        else:
            self.screen.set_focus(None)

    def on_filter_input_cancelled(self, event: FilterInput.Cancelled) -> None:
        event.stop()
        self.input.value = self.applied
        self._close()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.applied = event.value.strip()
        self._close()
        self.post_message(self.Applied(self.applied))

    def on_descendant_blur(self) -> None:
        if not self.input.has_focus:
            self._hint(IDLE_HINT)
