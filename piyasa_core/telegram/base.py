"""The transport interface the engine sends through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from piyasa_core.engine.types import BotProfile, ChatInfo


@dataclass(frozen=True)
class SendResult:
    """What the transport did with one message."""

    ok: bool
    message_id: int | None = None  # Telegram's message id, or the console's local id
    error_class: str | None = None  # rate_limited | bad_request | forbidden | not_found | network | server
    reason: str | None = None
    disable_chat: bool = False  # the bot was removed from the chat, or the chat does not exist


class Transport(Protocol):
    """Sends typing indicators and messages for bots into chats."""

    name: str

    async def send_typing(self, bot: BotProfile, chat: ChatInfo) -> None:
        """Show "typing…" (Telegram repeats it while the engine's typing time runs)."""

    async def send(self, bot: BotProfile, chat: ChatInfo, text: str, *, reply_to_message_id: int | None,
                   outbox_id: int) -> SendResult:
        """Deliver ``text``; ``outbox_id`` is the pending row (the console uses it as local id)."""

    async def aclose(self) -> None:
        """Release resources."""
