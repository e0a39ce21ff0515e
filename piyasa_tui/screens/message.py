"""Enter on a feed line: everything stored about that message (`source.message_detail`, attached too)."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any, ClassVar

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from piyasa_core.secrets import redact
from piyasa_core.workers.snapshot import FeedItem
from piyasa_tui.widgets.common import one_line

NONE = "–"


def _when(at: float | None, tz: tzinfo) -> str:
    return NONE if at is None else datetime.fromtimestamp(at, tz).strftime("%Y-%m-%d %H:%M:%S")


def _who(author: dict[str, Any] | None) -> str:
    if not author:
        return NONE
    name = str(author.get("name") or "?")
    username = author.get("username")
    text = f"{name} (@{username})" if username else name
    if author.get("kind") == "person":
        user = author.get("user_id")
        return f"👤 {text} · a person" + (f" · Telegram user {user}" if user else " · posted from the console")
    return text + (f" · bot {author['bot_id']}" if author.get("bot_id") is not None else "")


def _steps(meta: dict[str, Any]) -> str:
    steps = meta.get("postprocess")
    if steps is None:
        return "not recorded (sent before this was kept)"
    return ", ".join(str(s) for s in steps) or "none changed the text"


def _dedup(meta: dict[str, Any]) -> str:
    dedup = meta.get("dedup")
    if not isinstance(dedup, dict):
        return "not recorded (sent before this was kept)"
    if dedup.get("verdict") == "unique":
        return "unique: no recent message of the chat like it"
    match = one_line(str(dedup.get("match") or ""))
    outcome = dedup.get("outcome") or "sent"
    return f"{dedup.get('verdict')} duplicate (score {dedup.get('score')}) of “{match}” → {outcome}"


def detail_table(detail: dict[str, Any], tz: tzinfo) -> Table:
    """The detail's rows: label, value (the values wrap)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold cyan", no_wrap=True)
    grid.add_column(ratio=1, overflow="fold")
    meta = detail.get("meta") if isinstance(detail.get("meta"), dict) else {}
    author = detail.get("author") or {}
    person = author.get("kind") == "person"
    chat = detail.get("chat") or {}

    def row(label: str, value: RenderableType | str | None) -> None:
        grid.add_row(label, value if value not in (None, "") else NONE)

    row("text", Text(str(detail.get("text", "")), style="bold"))
    target = detail.get("reply_to")
    if target:
        head = f"#{target['id']} {_who(target)}" if target.get("id") is not None else _who(target)
        row("reply to", Text.assemble((head, "magenta"), "\n", str(target.get("text") or "")))
    else:
        row("reply to", "– (a new message)" if not person else NONE)
    row("author", _who(author))
    title = chat.get("title")
    chat_text = f"{chat.get('key', '?')}" + (f" — {title}" if title and title != chat.get("key") else "")
    run = f" · benchmark {chat['run_id']}" if chat.get("run_id") else ""
    row("chat", f"{chat_text} ({chat.get('transport', '?')}){run}")
    status = str(detail.get("status", "?"))
    if detail.get("failure_reason"):
        status += f": {detail['failure_reason']}"
    row("status", status + (f" · {detail['send_count']} send attempts" if (detail.get("send_count") or 0) > 1 else ""))
    row("sent", _when(detail.get("sent_at"), tz) + f" · created {_when(detail.get('created_at'), tz)}")
    tid = detail.get("telegram_message_id")
    if tid is None:
        row("telegram id", "– (not sent through Telegram)")
    else:
        row("telegram id", str(tid) if chat.get("transport") == "telegram" else f"– (the console transport's id {tid})")
    if person:
        return grid
    row("worker", f"w{detail['worker_id']}" if detail.get("worker_id") is not None else NONE)
    mode = [str(meta.get("mode") or "?")]
    if meta.get("topic"):
        mode.append(f"topic {meta['topic']}")
    if meta.get("mention"):
        mode.append(f"mention @{meta['mention']}")
    row("mode", " · ".join(mode))
    row("provider", f"{detail.get('provider') or '?'} · {detail.get('model') or '?'}")
    row("tokens", f"{detail.get('tokens_in', 0)} in · {detail.get('tokens_out', 0)} out · "
                  f"{detail.get('tokens_cached', 0)} cached")
    latency = detail.get("llm_latency_s")
    row("LLM latency", f"{latency:.2f} s" if isinstance(latency, (int, float)) else NONE)
    row("post-process", _steps(meta))
    retries = meta.get("retries")
    row("retries", "; ".join(f"{r} → written again" for r in retries) if retries else "none")
    row("dedup", _dedup(meta))
    if meta.get("typing_s") is not None:
        row("typing", f"{meta['typing_s']:.1f} s")
    return grid


class MessageDetailScreen(ModalScreen[None]):
    """The feed line at once, the stored details as soon as the source answers; Escape/Enter/q close."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,enter,q", "close", "close")]

    def __init__(self, item: FeedItem, tz: tzinfo) -> None:
        super().__init__(classes="modal")
        self.item, self.tz = item, tz
        self.detail: dict[str, Any] | None = None
        self.error = ""

    def compose(self) -> ComposeResult:
        who = f"👤 {self.item.bot_name}" if self.item.human else self.item.bot_name
        with Vertical(classes="dialog -wide", id="message-detail"):
            yield Label(f"Message #{self.item.message_id} · {who} → {self.item.chat_key}", classes="dialog-title")
            with VerticalScroll(classes="dialog-scroll"):
                yield Static(Text(f"{one_line(self.item.text)}\n\nloading the details…"), classes="dialog-body",
                             id="message-body")
            with Horizontal(classes="buttons"):
                yield Button("OK", variant="primary", id="ok")

    def on_mount(self) -> None:
        self.query_one("#ok", Button).focus()
        self.load()

    @work(exclusive=True, exit_on_error=False, group="message-detail")
    async def load(self) -> None:
        body = self.query_one("#message-body", Static)
        try:
            self.detail = await self.app.message_detail(self.item.message_id)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - shown in the dialog, one line
            self.error = one_line(redact(f"{type(exc).__name__}: {exc}"))
            body.update(Text.assemble((one_line(self.item.text), "bold"), "\n\n",
                                      (f"The details could not be loaded: {self.error}", "red")))
            return
        body.update(detail_table(self.detail, self.tz))

    def on_button_pressed(self) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
