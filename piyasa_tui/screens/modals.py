"""Small modal screens: confirm, message, provider picker, feed filter, post as a human, error."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Select, Static
from textual.widgets.option_list import Option

from piyasa_core.workers.snapshot import ProviderView, WorkerView
from piyasa_tui.widgets.common import (
    STATE_STYLES,
    Frame,
    clock_text,
    countdown,
    duration,
    hit_rate,
    one_line,
    percent,
    provider_title,
)


class ConfirmScreen(ModalScreen[bool]):
    """Yes/no; Enter or `y` confirms, Escape or `n` cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,n", "answer(False)", "cancel"), Binding("y", "answer(True)", "confirm")]

    def __init__(self, title: str, question: str, confirm: str = "Confirm") -> None:
        super().__init__(classes="modal")
        self.title_text, self.question, self.confirm = title, question, confirm

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.question, classes="dialog-body")
            with Horizontal(classes="buttons"):
                yield Button(self.confirm, variant="warning", id="confirm")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#confirm", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class MessageScreen(ModalScreen[None]):
    """A titled message (lines), closed with Enter or Escape."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,q", "close", "close")]

    def __init__(self, title: str, lines: Iterable[str], *, error: bool = False) -> None:
        super().__init__(classes="modal")
        self.title_text, self.lines, self.error = title, list(lines), error

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog -error" if self.error else "dialog"):
            yield Label(self.title_text, classes="dialog-title")
            with VerticalScroll(classes="dialog-scroll"):
                yield Static(Text("\n".join(self.lines)), classes="dialog-body", id="message-body")
            with Horizontal(classes="buttons"):
                yield Button("OK", variant="primary", id="ok")

    def on_mount(self) -> None:
        self.query_one("#ok", Button).focus()

    def on_button_pressed(self) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class ProviderPicker(ModalScreen[str | None]):
    """Each provider with its state; Enter makes the highlighted one active."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, providers: Iterable[ProviderView]) -> None:
        super().__init__(classes="modal")
        self.providers = tuple(providers)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Switch provider", classes="dialog-title")
            options = []
            for p in self.providers:
                prompt = Text()
                prompt.append("● " if p.active else "  ", "bold green")
                prompt.append(provider_title(p), "bold")
                prompt.append("  ")
                prompt.append(p.state, STATE_STYLES.get(p.state, ""))
                if p.reason:
                    prompt.append(f" — {one_line(p.reason)}", "dim")
                options.append(Option(prompt, id=p.name))
            yield OptionList(*options, id="provider-list")
            yield Static("Enter switches · Escape cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        active = next((i for i, p in enumerate(self.providers) if p.active), 0)
        if self.providers:
            options.highlighted = active
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PostScreen(ModalScreen["tuple[str, str, str] | None"]):
    """Post into a chat as a person: chat, name, text. Enter in the text field posts."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, chats: Iterable[str], *, chat: str | None = None, name: str = "Operatör",
                 cursor_blink: bool = True) -> None:
        super().__init__(classes="modal")
        self.chats = tuple(chats)
        self.chat = chat if chat in self.chats else (self.chats[0] if self.chats else None)
        self.name_value, self.cursor_blink = name, cursor_blink

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Post as a human", classes="dialog-title")
            yield Select([(c, c) for c in self.chats], value=self.chat if self.chat else Select.NULL,
                         allow_blank=False, id="post-chat", prompt="chat")
            name = Input(self.name_value, placeholder="your name", id="post-name")
            text = Input(placeholder="message (mention a bot with @username to get an answer)", id="post-text")
            for field in (name, text):
                field.cursor_blink = self.cursor_blink
            yield name
            yield text
            yield Static("Enter posts · Tab moves · Escape cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#post-text", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        chat = self.query_one("#post-chat", Select).value
        name = self.query_one("#post-name", Input).value.strip() or "Operatör"
        text = self.query_one("#post-text", Input).value.strip()
        if not text:
            self.query_one("#post-text", Input).focus()
            self.notify("Write a message first.", severity="warning")
            return
        if not isinstance(chat, str):
            self.notify("Choose a chat first.", severity="warning")
            return
        self.dismiss((chat, text, name))

    def action_cancel(self) -> None:
        self.dismiss(None)


def worker_details(w: WorkerView, frame: Frame) -> list[str]:
    """The lines of the worker detail modal (Enter on a row)."""
    state = w.state
    if w.state == "backoff" and w.backoff_until:
        state += f" (restart in {countdown(w.backoff_until - frame.now)})"
    lines = [
        f"state       {state} since {clock_text(w.state_since, frame.tz)}",
        (f"pid         {w.pid or '–'}    uptime {duration(w.uptime_s) if w.state == 'running' else '–'}"
         f"    restarts {w.restarts}"),
        f"bots        {', '.join(w.bot_names) or '–'}",
        f"sent        {w.sent_total} total · {w.rate_1m:.1f}/min (1m) · {w.rate_10m:.1f}/min (10m)",
        f"cache       L1 {percent(hit_rate(w.cache, 'l1'))} · L2 {percent(hit_rate(w.cache, 'l2'))}",
        (f"cpu / rss   {'–' if w.cpu_percent is None else f'{w.cpu_percent:.0f}%'} / "
         f"{'–' if w.rss_bytes is None else f'{w.rss_bytes / 1048576:.0f} MB'}"),
        f"heartbeat   {clock_text(w.last_heartbeat, frame.tz) if w.last_heartbeat else '–'}",
    ]
    if w.floor_alarms:
        lines.append(f"alarms      {'; '.join(w.floor_alarms)}")
    if w.counts:
        lines.append("counts      " + ", ".join(f"{k} {v}" for k, v in sorted(w.counts.items())))
    lines += ["", "last error", w.last_error or "–"]
    return lines
