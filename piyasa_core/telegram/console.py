"""The console transport: messages go to the database and the feed only, never to Telegram."""

from __future__ import annotations

from piyasa_core.engine.types import BotProfile, ChatInfo
from piyasa_core.telegram.base import SendResult


class ConsoleTransport:
    """Accepts every message; its local message id is the outbox row id (unique across workers)."""

    name = "console"

    def __init__(self) -> None:
        self.typing_calls = 0
        self.sent = 0

    async def send_typing(self, bot: BotProfile, chat: ChatInfo) -> None:
        self.typing_calls += 1

    async def send(self, bot: BotProfile, chat: ChatInfo, text: str, *, reply_to_message_id: int | None,
                   outbox_id: int) -> SendResult:
        self.sent += 1
        return SendResult(ok=True, message_id=outbox_id)

    async def aclose(self) -> None:
        return None
