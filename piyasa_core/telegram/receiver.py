"""The update receiver: exactly one consumer per bot token, in the supervisor — never in workers.

Long polling (``deleteWebhook`` first, the offset persisted so a restart does not reprocess) or a
webhook with ``secret_token`` that the receiver registers itself. Each human message is stored once
even when several bots of a group receive it; edits update the stored row; bots' own messages are
ignored; unknown chats are registered disabled. Mentions and replies to a bot become reply jobs
routed (``route``) to the worker that owns that bot.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web
from telegram import Message as TgMessage
from telegram import Update
from telegram.error import Conflict, InvalidToken, NetworkError, RetryAfter, TelegramError

from piyasa_core.engine.types import BotProfile, ReplyJob
from piyasa_core.secrets import Secret, redact
from piyasa_core.store import Store
from piyasa_core.store.db import session_scope
from piyasa_core.store.settings_repo import get_setting, set_setting
from piyasa_core.telegram.inbound import (
    Inbound,
    apply_edit,
    chat_ids_by_telegram,
    register_unknown_chat,
    store_inbound,
)
from piyasa_core.telegram.sender import make_bot, retry_after_seconds

log = logging.getLogger(__name__)
ALLOWED_UPDATES = ["message", "edited_message"]


def offset_key(bot_id: int) -> str:
    return f"telegram.offset.{bot_id}"


class UpdateReceiver:
    """Receives updates for every bot token; ``route(job)`` hands reply jobs to the supervisor,
    ``on_stored(message_id)`` hears of every person's message stored (the supervisor's feed shows it)."""

    def __init__(self, store: Store, bots: Sequence[BotProfile], tokens: dict[int, Secret], *,
                 route: Callable[[ReplyJob], None], base_url: str = "", poll_timeout: float = 25.0,
                 clock: Callable[[], float] = time.time, tz_name: str | None = None,
                 on_stored: Callable[[int], None] | None = None,
                 may_poll: Callable[[int], float] | None = None) -> None:
        self.store = store
        self.on_stored = on_stored
        # fleet mode: seconds this host may still poll a bot's token (0: another host's turn; fleet/agent.py)
        self.may_poll = may_poll
        self.tz_name = tz_name  # the group's questions go to bots inside their active hours
        self.bots = [b for b in bots if b.id in tokens]
        self.tokens = tokens
        self.route = route
        self.base_url = base_url
        self.poll_timeout = poll_timeout
        self.clock = clock
        self._tg = {b.id: make_bot(tokens[b.id], base_url, rate_limited=False, poll_timeout=poll_timeout)
                    for b in self.bots}
        self.bot_user_ids: dict[int, int] = {}
        self.counts: dict[str, int] = {"updates": 0, "stored": 0, "duplicates": 0, "edits": 0, "jobs": 0,
                                       "ignored_bots": 0, "registered_chats": 0, "conflicts": 0, "errors": 0}
        self._chats: dict[int, tuple[int, bool]] = {}

    async def start(self) -> None:
        """``getMe`` for every token (user ids let text mentions resolve to bots)."""
        for bot in self.bots:
            tg = self._tg[bot.id]
            await tg.initialize()
            self.bot_user_ids[bot.id] = tg.bot.id
        self._reload_chats()

    def _reload_chats(self) -> None:
        with self.store.engine.connect() as conn:
            self._chats = chat_ids_by_telegram(conn)

    # ── polling ────────────────────────────────────────────────────────────────────────────────
    async def run_polling(self, stop: asyncio.Event) -> None:
        """One long-poll loop per token until ``stop`` is set."""
        await self.start()
        loops = [asyncio.create_task(self._poll(bot, stop)) for bot in self.bots]
        await stop.wait()
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        await self.aclose()

    async def _poll(self, bot: BotProfile, stop: asyncio.Event) -> None:
        tg = self._tg[bot.id]
        await tg.delete_webhook(drop_pending_updates=False)
        offset, resumed = 0, False
        backoff = 1.0
        while not stop.is_set():
            timeout = int(self.poll_timeout)
            if self.may_poll is not None:
                window = self.may_poll(bot.id)
                if window < 2.0:  # another host receives this token: never two long polls at once
                    resumed = False
                    await asyncio.sleep(0.5)
                    continue
                timeout = min(timeout, int(window) - 1)  # the long poll ends before the lease could
            if not resumed:  # where the last receiver of this token stopped (maybe another host)
                with session_scope(self.store.sessions) as session:
                    offset = int(get_setting(session, offset_key(bot.id), 0) or 0)
                resumed = True
            try:
                updates = await tg.get_updates(offset=offset or None, timeout=timeout,
                                               allowed_updates=ALLOWED_UPDATES)
                backoff = 1.0
            except RetryAfter as exc:
                await asyncio.sleep(retry_after_seconds(exc))
                continue
            except Conflict as exc:
                # Another process polls this token (we never do so twice ourselves).
                self.counts["conflicts"] += 1
                log.error("@%s: %s — is another piyasa or bot instance running?", bot.username, redact(str(exc)))
                await asyncio.sleep(min(30.0, backoff := backoff * 2))
                continue
            except InvalidToken:
                log.error("@%s: the token was rejected; the receiver stops for this bot", bot.username)
                return
            except (NetworkError, TelegramError) as exc:
                log.warning("@%s: getUpdates failed: %s", bot.username, redact(str(exc)))
                await asyncio.sleep(min(30.0, backoff := backoff * 2))
                continue
            for update in updates:
                self.handle(update, bot)
                offset = update.update_id + 1
            if updates:
                with session_scope(self.store.sessions) as session:
                    set_setting(session, offset_key(bot.id), offset)

    # ── one update ─────────────────────────────────────────────────────────────────────────────
    def handle(self, update: Update, via: BotProfile) -> None:
        """Store/route one update received through bot ``via``."""
        self.counts["updates"] += 1
        try:
            if update.edited_message is not None:
                self._edit(update.edited_message)
            elif update.message is not None:
                self._message(update.message)
        except Exception:  # one odd update must not stop the receiver
            self.counts["errors"] += 1
            log.exception("update %s via @%s could not be handled", update.update_id, via.username)

    def _chat_id(self, message: TgMessage) -> tuple[int, bool]:
        known = self._chats.get(message.chat.id)
        if known is None:
            with self.store.engine.begin() as conn:
                chat_id = register_unknown_chat(conn, message.chat.id, message.chat.title or message.chat.full_name or "")
            self.counts["registered_chats"] += 1
            log.warning("message from unknown chat %s (%s) — registered disabled; enable it to let bots talk there",
                        message.chat.id, message.chat.title)
            self._reload_chats()
            return chat_id, False
        return known

    def _message(self, message: TgMessage) -> None:
        sender = message.from_user
        if sender is None or sender.is_bot:
            self.counts["ignored_bots"] += 1
            return
        text = message.text or message.caption or ""
        if not text:
            return
        chat_id, _enabled = self._chat_id(message)
        entities = message.parse_entities() if message.text else message.parse_caption_entities()
        item = Inbound(
            chat_id=chat_id, text=text, human_name=sender.full_name, created_at=message.date.timestamp(),
            username=sender.username, human_user_id=sender.id, telegram_message_id=message.message_id,
            reply_to_telegram_id=message.reply_to_message.message_id if message.reply_to_message else None,
            mentioned_usernames=tuple(t.lstrip("@") for e, t in entities.items() if e.type == "mention"),
            mentioned_user_ids=tuple(e.user.id for e in entities if e.type == "text_mention" and e.user))
        with self.store.engine.begin() as conn:
            stored = store_inbound(conn, item, self.bots, self.bot_user_ids, self.tz_name)
        if stored.message_id is None:
            self.counts["duplicates"] += 1
            return
        self.counts["stored"] += 1
        for job in stored.jobs:
            self.counts["jobs"] += 1
            self.route(job)
        if self.on_stored is not None:
            self.on_stored(stored.message_id)

    def _edit(self, message: TgMessage) -> None:
        known = self._chats.get(message.chat.id)
        if known is None or not (message.text or message.caption):
            return
        with self.store.engine.begin() as conn:
            if apply_edit(conn, known[0], message.message_id, message.text or message.caption or ""):
                self.counts["edits"] += 1

    # ── webhook ────────────────────────────────────────────────────────────────────────────────
    def webhook_app(self, secret: Secret) -> web.Application:
        """An aiohttp app taking ``POST /telegram/{bot_id}`` with Telegram's secret-token header."""
        async def receive(request: web.Request) -> web.Response:
            given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
            if not hmac.compare_digest(given, secret.reveal()):
                return web.Response(status=401)
            bot = next((b for b in self.bots if str(b.id) == request.match_info["bot_id"]), None)
            if bot is None:
                return web.Response(status=404)
            data: Any = await request.json()
            self.handle(Update.de_json(data, self._tg[bot.id]), bot)
            return web.Response(status=200)

        app = web.Application()
        app.router.add_post("/telegram/{bot_id}", receive)
        return app

    async def register_webhooks(self, public_url: str, secret: Secret) -> None:
        """``setWebhook`` for every token (replacing any long-poll consumer)."""
        await self.start()
        for bot in self.bots:
            await self._tg[bot.id].set_webhook(url=f"{public_url.rstrip('/')}/telegram/{bot.id}",
                                               secret_token=secret.reveal(), allowed_updates=ALLOWED_UPDATES)

    async def aclose(self) -> None:
        for tg in self._tg.values():
            try:
                await tg.shutdown()
            except Exception:  # noqa: BLE001 - best effort
                pass
