"""The supervisor's feed lines from the database: what the feed starts with, a person's line, usernames.

The feed shows the community's conversation: bots' sent messages and people's messages (the operator's
`/` posts included) in the community's chats. A benchmark run talks in chats of its own on a clock of its
own (``piyasa_core/bench/scope.py``); its lines never enter this feed, so its simulated morning cannot
put the community's times out of order.
"""

from __future__ import annotations

import threading
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, select
from sqlalchemy.orm import aliased

from piyasa_core.engine.types import SentMessage
from piyasa_core.store import Store
from piyasa_core.store.models import Bot, Chat, Message
from piyasa_core.timeutil import as_utc
from piyasa_core.workers.snapshot import FeedItem

PERSON_WORKER = -1
"""The worker id of a person's line (no worker wrote it)."""
BACKFILL_MIN = 20
"""When today has fewer lines, the feed starts with the newest this many (older ones show their date)."""
RUN_CHAT_MARK = "@"  # a run's chat key is `<community key>@<run id>`; community keys never hold an "@"


def is_run_chat(chat_key: str) -> bool:
    """Whether ``chat_key`` is a benchmark run's chat (see ``bench.scope.run_chat_key``)."""
    return RUN_CHAT_MARK in chat_key


def day_start(now: float, tz_name: str) -> float:
    """Epoch seconds of the local midnight that starts ``now``'s day in ``tz_name``."""
    zone = ZoneInfo(tz_name)
    day = datetime.fromtimestamp(now, zone).date()
    return datetime.combine(day, time(), zone).timestamp()


def _query() -> Any:
    target, target_bot = aliased(Message), aliased(Bot)
    return (select(Message.id, Message.bot_id, Message.worker_id, Message.text, Message.provider, Message.model,
                   Message.created_at, Message.sent_at, Message.human_name, Message.meta.label("meta"), Chat.key,
                   Bot.name, Bot.username, target.human_name.label("target_human"), target_bot.name.label("target_bot"))
            .join(Chat, Chat.id == Message.chat_id)
            .outerjoin(Bot, Bot.id == Message.bot_id)
            .outerjoin(target, target.id == Message.reply_to_id)
            .outerjoin(target_bot, target_bot.id == target.bot_id)
            .where(Message.status == "sent", Chat.run_id.is_(None)))


def _item(row: Row[Any]) -> FeedItem:
    meta = row.meta if isinstance(row.meta, dict) else {}
    at = as_utc(row.sent_at or row.created_at).timestamp()
    author = row.target_bot or row.target_human
    if row.bot_id is None:
        return FeedItem(message_id=row.id, at=at, worker_id=PERSON_WORKER, bot_id=PERSON_WORKER,
                        bot_name=row.human_name or "?", chat_key=row.key, text=row.text, mode="human",
                        reply_to_author=author, provider="", model="", human=True,
                        username=str(meta.get("username") or ""))
    return FeedItem(message_id=row.id, at=at, worker_id=PERSON_WORKER if row.worker_id is None else row.worker_id,
                    bot_id=row.bot_id, bot_name=row.name or f"bot {row.bot_id}", chat_key=row.key, text=row.text,
                    mode=str(meta.get("mode") or "new"), reply_to_author=author, provider=row.provider or "",
                    model=row.model or "", username=row.username or "")


def recent_feed(store: Store, now: float, tz_name: str, limit: int = 500,
                minimum: int = BACKFILL_MIN) -> list[FeedItem]:
    """The community's lines of ``now``'s day (at most ``limit``, oldest first), or the newest
    ``minimum`` when the day has fewer; lines after ``now`` (an earlier run's clock ran ahead) are left out."""
    when = Message.created_at
    with store.engine.connect() as conn:
        rows = conn.execute(_query().where(when <= as_utc(now)).order_by(when.desc(), Message.id.desc())
                            .limit(max(limit, minimum))).all()
    start = day_start(now, tz_name)
    items = [_item(row) for row in rows]
    today = [item for item in items if item.at >= start]
    keep = today if len(today) >= minimum else items[:minimum]
    return sorted(keep[:limit], key=lambda item: (item.at, item.message_id))


def message_item(store: Store, message_id: int) -> FeedItem | None:
    """The feed line of one stored message (a person's, just posted), None when it is not a sent
    message of a community chat."""
    with store.engine.connect() as conn:
        row = conn.execute(_query().where(Message.id == message_id)).first()
    return None if row is None else _item(row)


class BotNames:
    """Bot id → username, read once and again when an unknown bot speaks (thread-safe)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._names: dict[int, str] = {}
        self._lock = threading.Lock()

    def username(self, bot_id: int) -> str:
        with self._lock:
            if bot_id not in self._names:
                with self.store.engine.connect() as conn:
                    self._names = {int(i): str(u) for i, u in conn.execute(select(Bot.id, Bot.username))}
                self._names.setdefault(bot_id, "")  # a bot that is gone is not looked up again
            return self._names.get(bot_id, "")


def sent_item(event: SentMessage, names: BotNames) -> FeedItem | None:
    """The feed line of a bot's sent message; None for a benchmark run's chat."""
    if is_run_chat(event.chat_key):
        return None
    return FeedItem(event.message_id, event.sent_at, event.worker_id, event.bot_id, event.bot_name, event.chat_key,
                    event.text, event.mode, event.reply_to_author, event.provider, event.model,
                    username=names.username(event.bot_id))
