"""Sending through the Telegram Bot API with python-telegram-bot: one ExtBot per bot token.

Flood control is PTB's ``AIORateLimiter`` (per bot: ~20 messages/min per group, 30/s overall).
``RetryAfter`` delays the message and tries again (never drops it); 5xx and connection errors are
retried with bounded exponential backoff (tenacity); 400/403/404 are never retried — the reason is
recorded, and a chat the bot cannot post to (kicked, blocked, not found) is disabled. A timeout while
*sending* is not retried: Telegram may already have the message, and sending it twice is worse.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import ReplyParameters
from telegram.error import BadRequest, ChatMigrated, Forbidden, InvalidToken, NetworkError, RetryAfter, TimedOut
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import HTTPXRequest
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from piyasa_core.engine.types import BotProfile, ChatInfo
from piyasa_core.secrets import Secret, redact
from piyasa_core.telegram.base import SendResult

log = logging.getLogger(__name__)

TYPING_REPEAT_S = 4.5  # Telegram shows "typing…" for ~5 s per chat action
MAX_ATTEMPTS = 6
_DISABLING = ("chat not found", "bot was kicked", "bot is not a member", "have no rights to send",
              "bot was blocked", "group chat was upgraded", "chat_write_forbidden", "need administrator rights")
DEFAULT_BASE_URL = "https://api.telegram.org"


def retry_after_seconds(exc: RetryAfter) -> float:
    """The wait of a ``RetryAfter`` (PTB ≥ 22.2 keeps a timedelta; reading ``retry_after`` as an int
    is deprecated there, so the stored value is read when present)."""
    value: Any = getattr(exc, "_retry_after", None)
    if value is None:
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def make_bot(token: Secret, base_url: str = "", *, rate_limited: bool = True,
             group_per_minute: int = 20, per_second: int = 30, poll_timeout: float = 25.0) -> ExtBot[Any]:
    """An ExtBot for one token; ``base_url`` is the API root (``TELEGRAM_API_BASE_URL``)."""
    root = (base_url or DEFAULT_BASE_URL).rstrip("/")
    limiter = AIORateLimiter(overall_max_rate=per_second, overall_time_period=1,
                             group_max_rate=group_per_minute, group_time_period=60, max_retries=0) \
        if rate_limited else None
    return ExtBot(token.reveal(), base_url=f"{root}/bot", base_file_url=f"{root}/file/bot",
                  request=HTTPXRequest(connection_pool_size=16, read_timeout=10, write_timeout=10,
                                       connect_timeout=5),
                  get_updates_request=HTTPXRequest(connection_pool_size=1, read_timeout=poll_timeout + 10),
                  rate_limiter=limiter)


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, RetryAfter):
        return True
    return isinstance(exc, NetworkError) and not isinstance(exc, (BadRequest, TimedOut))


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, RetryAfter):
        return retry_after_seconds(exc) + 0.05
    return min(8.0, 0.5 * 2 ** (state.attempt_number - 1))


def classify(exc: Exception) -> SendResult:
    """A PTB exception as a failed :class:`SendResult` (secret-free reason)."""
    text = redact(str(exc))
    lowered = text.lower()
    disable = any(marker in lowered for marker in _DISABLING)
    if isinstance(exc, Forbidden):
        return SendResult(False, error_class="forbidden", reason=text, disable_chat=True)
    if isinstance(exc, ChatMigrated):
        return SendResult(False, error_class="chat_migrated",
                          reason=f"the group became a supergroup with id {exc.new_chat_id}; update "
                                 "telegram_chat_id in config.toml", disable_chat=True)
    if isinstance(exc, InvalidToken):
        return SendResult(False, error_class="unauthorized", reason="the bot token was rejected (401)")
    if isinstance(exc, RetryAfter):
        return SendResult(False, error_class="rate_limited", reason=f"still flood-limited after {MAX_ATTEMPTS} tries")
    if isinstance(exc, TimedOut):
        return SendResult(False, error_class="timeout", reason="timed out; Telegram may or may not have the "
                                                                "message, so it is not sent again")
    if isinstance(exc, BadRequest):
        return SendResult(False, error_class="not_found" if "not found" in lowered else "bad_request",
                          reason=text, disable_chat=disable)
    if isinstance(exc, NetworkError):
        return SendResult(False, error_class="network", reason=text)
    return SendResult(False, error_class="error", reason=f"{type(exc).__name__}: {text}")


@dataclass
class _BotHandle:
    profile: BotProfile
    bot: ExtBot[Any]
    user_id: int | None = None


class TelegramTransport:
    """The engine's transport for chats on Telegram."""

    name = "telegram"

    def __init__(self, tokens: dict[int, Secret], *, base_url: str = "", group_per_minute: int = 20,
                 per_second: int = 30) -> None:
        self._tokens = tokens
        self._base_url = base_url
        self._limits = (group_per_minute, per_second)
        self._bots: dict[int, _BotHandle] = {}
        self._typing: dict[tuple[int, int], asyncio.Task[None]] = {}
        self.retries = 0

    async def handle(self, profile: BotProfile) -> _BotHandle:
        """The started ExtBot of a bot (``getMe`` on first use; warns when the username differs)."""
        handle = self._bots.get(profile.id)
        if handle is not None:
            return handle
        token = self._tokens.get(profile.id)
        if token is None:
            raise InvalidToken(f"no token for @{profile.username} ({profile.token_env or 'token_env'} is not set)")
        bot = make_bot(token, self._base_url, group_per_minute=self._limits[0], per_second=self._limits[1])
        await bot.initialize()  # getMe
        me = bot.bot
        if me.username and me.username.lower() != profile.username.lower():
            log.warning("bot %s: token belongs to @%s, config says @%s", profile.name, me.username,
                        profile.username)
        handle = _BotHandle(profile, bot, me.id)
        self._bots[profile.id] = handle
        return handle

    async def send_typing(self, bot: BotProfile, chat: ChatInfo) -> None:
        """One chat action now (so "typing…" always precedes the message), then one every 4.5 s
        until :meth:`send` is called for this bot and chat."""
        self._stop_typing(bot.id, chat.id)
        if chat.telegram_chat_id is None:
            return
        try:
            handle = await self.handle(bot)
            await handle.bot.send_chat_action(chat_id=chat.telegram_chat_id, action="typing")
        except Exception as exc:  # noqa: BLE001 - typing is cosmetic; send() reports real problems
            log.debug("typing for %s failed: %s", bot.username, redact(str(exc)))
            return
        self._typing[(bot.id, chat.id)] = asyncio.create_task(self._typing_loop(handle, chat))

    async def _typing_loop(self, handle: _BotHandle, chat: ChatInfo) -> None:
        try:
            while True:
                await asyncio.sleep(TYPING_REPEAT_S)
                try:
                    await handle.bot.send_chat_action(chat_id=chat.telegram_chat_id, action="typing")
                except (RetryAfter, NetworkError) as exc:
                    log.debug("typing for %s failed: %s", handle.profile.username, redact(str(exc)))
        except asyncio.CancelledError:
            pass

    def _stop_typing(self, bot_id: int, chat_id: int) -> None:
        task = self._typing.pop((bot_id, chat_id), None)
        if task:
            task.cancel()

    async def send(self, bot: BotProfile, chat: ChatInfo, text: str, *, reply_to_message_id: int | None,
                   outbox_id: int) -> SendResult:
        self._stop_typing(bot.id, chat.id)
        if chat.telegram_chat_id is None:
            return SendResult(False, error_class="bad_request", reason=f"chat {chat.key} has no telegram_chat_id")
        try:
            handle = await self.handle(bot)
            reply = ReplyParameters(message_id=reply_to_message_id, allow_sending_without_reply=True) \
                if reply_to_message_id else None
            async for attempt in AsyncRetrying(retry=retry_if_exception(_retryable), wait=_wait,
                                               stop=stop_after_attempt(MAX_ATTEMPTS), reraise=True):
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        self.retries += 1
                    message = await handle.bot.send_message(chat_id=chat.telegram_chat_id, text=text,
                                                            reply_parameters=reply)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a recorded reason
            result = classify(exc)
            log.warning("send by @%s to %s failed: %s", bot.username, chat.key, result.reason)
            return result
        return SendResult(True, message_id=message.message_id)

    async def aclose(self) -> None:
        for task in self._typing.values():
            task.cancel()
        self._typing.clear()
        for handle in self._bots.values():
            try:
                await handle.bot.shutdown()
            except Exception:  # noqa: BLE001 - closing is best effort
                pass
        self._bots.clear()


class RoutingTransport:
    """Console chats go to the console transport, Telegram chats to Telegram."""

    name = "routing"

    def __init__(self, console: Any, telegram: Any | None) -> None:
        self.console = console
        self.telegram = telegram

    def _for(self, chat: ChatInfo) -> Any:
        if chat.transport == "telegram":
            if self.telegram is None:
                raise RuntimeError(f"chat {chat.key} uses telegram but no bot tokens are configured")
            return self.telegram
        return self.console

    async def send_typing(self, bot: BotProfile, chat: ChatInfo) -> None:
        await self._for(chat).send_typing(bot, chat)

    async def send(self, bot: BotProfile, chat: ChatInfo, text: str, *, reply_to_message_id: int | None,
                   outbox_id: int) -> SendResult:
        return await self._for(chat).send(bot, chat, text, reply_to_message_id=reply_to_message_id,
                                          outbox_id=outbox_id)

    async def aclose(self) -> None:
        await self.console.aclose()
        if self.telegram is not None:
            await self.telegram.aclose()
