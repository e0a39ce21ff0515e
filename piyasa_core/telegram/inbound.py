"""Messages written by people: stored once, and turned into reply jobs for the bots they address.

Used by the Telegram update receiver and by the console's "post as a human" alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from piyasa_core.engine.types import BotProfile, ReplyJob
from piyasa_core.store.models import Chat, Message

_MENTION = re.compile(r"@([A-Za-z][A-Za-z0-9_]{2,31})")


@dataclass(frozen=True)
class Inbound:
    """A human message as it arrived."""

    chat_id: int  # our chat id
    text: str
    human_name: str
    created_at: float
    username: str | None = None
    human_user_id: int | None = None
    telegram_message_id: int | None = None
    reply_to_telegram_id: int | None = None
    reply_to_id: int | None = None  # our message id (console)
    mentioned_usernames: tuple[str, ...] = ()  # from Telegram entities, in addition to the text
    mentioned_user_ids: tuple[int, ...] = ()  # text_mention entities


@dataclass(frozen=True)
class Stored:
    """The outcome: the row id (None when this message was already stored) and the jobs to route."""

    message_id: int | None
    jobs: tuple[ReplyJob, ...]


def addressed_bots(item: Inbound, bots: Sequence[BotProfile], reply_to_bot_id: int | None,
                   bot_user_ids: dict[int, int] | None = None) -> list[int]:
    """Bots the message mentions (@username, text mention) or replies to, that belong to the chat."""
    names = {m.lower() for m in _MENTION.findall(item.text)} | {u.lower() for u in item.mentioned_usernames}
    by_user = {user_id: bot_id for bot_id, user_id in (bot_user_ids or {}).items()}
    wanted: list[int] = []
    for bot in bots:
        if item.chat_id not in bot.chat_ids:
            continue
        if bot.username.lower() in names or bot.id == reply_to_bot_id or \
                any(by_user.get(uid) == bot.id for uid in item.mentioned_user_ids):
            wanted.append(bot.id)
    return wanted


def store_inbound(conn: Connection, item: Inbound, bots: Sequence[BotProfile],
                  bot_user_ids: dict[int, int] | None = None) -> Stored:
    """Insert the message unless this (chat, Telegram message id) is already stored; jobs only for
    the insert that won, so a message several bot tokens received is answered once."""
    reply_to_id, reply_to_bot = item.reply_to_id, None
    if reply_to_id is None and item.reply_to_telegram_id is not None:
        row = conn.execute(select(Message.id, Message.bot_id).where(
            Message.chat_id == item.chat_id, Message.telegram_message_id == item.reply_to_telegram_id)).first()
        if row:
            reply_to_id, reply_to_bot = row
    elif reply_to_id is not None:
        reply_to_bot = conn.execute(select(Message.bot_id).where(Message.id == reply_to_id)).scalar()
    values = {"chat_id": item.chat_id, "human_name": item.human_name[:128], "human_user_id": item.human_user_id,
              "text": item.text, "status": "sent", "telegram_message_id": item.telegram_message_id,
              "reply_to_id": reply_to_id, "created_at": item.created_at, "sent_at": item.created_at,
              "meta": {"username": item.username} if item.username else {}}
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    stmt = insert(Message).values(**values)
    if item.telegram_message_id is not None:
        stmt = stmt.on_conflict_do_nothing(index_elements=["chat_id", "telegram_message_id"])
    message_id = conn.execute(stmt.returning(Message.id)).scalar()
    if message_id is None:
        return Stored(None, ())
    jobs = tuple(ReplyJob(bot_id, item.chat_id, int(message_id))
                 for bot_id in addressed_bots(item, bots, reply_to_bot, bot_user_ids))
    return Stored(int(message_id), jobs)


def apply_edit(conn: Connection, chat_id: int, telegram_message_id: int, text: str) -> bool:
    """An edited human message replaces the stored text; True when a row was updated."""
    result = conn.execute(update(Message).where(
        Message.chat_id == chat_id, Message.telegram_message_id == telegram_message_id, Message.bot_id.is_(None)
    ).values(text=text))
    return bool(result.rowcount)


def register_unknown_chat(conn: Connection, telegram_chat_id: int, title: str) -> int:
    """A group we were not configured for: stored disabled, for the operator to enable."""
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    key = f"tg{abs(telegram_chat_id)}"
    conn.execute(insert(Chat).values(key=key, title=title[:256] or key, telegram_chat_id=telegram_chat_id,
                                     topics=[], transport="telegram", enabled=False)
                 .on_conflict_do_nothing(index_elements=["telegram_chat_id"]))
    return int(conn.execute(select(Chat.id).where(Chat.telegram_chat_id == telegram_chat_id)).scalar_one())


def chat_ids_by_telegram(conn: Connection) -> dict[int, tuple[int, bool]]:
    """Telegram chat id → (our chat id, enabled)."""
    return {int(tg): (cid, bool(enabled)) for cid, tg, enabled in conn.execute(
        select(Chat.id, Chat.telegram_chat_id, Chat.enabled).where(Chat.telegram_chat_id.is_not(None)))}


def mentioned_in(entities: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """Usernames of ``mention`` entities given as (type, text) pairs."""
    return tuple(text.lstrip("@") for kind, text in entities if kind == "mention")


def post_as_human(conn: Connection, *, chat_id: int, text: str, human_name: str, created_at: float,
                  bots: Sequence[BotProfile], username: str | None = None,
                  reply_to_id: int | None = None) -> Stored:
    """The operator writes into a chat as a person (console path: no Telegram at all)."""
    if not text.strip():
        raise ValueError("the message is empty")
    return store_inbound(conn, Inbound(chat_id=chat_id, text=text.strip(), human_name=human_name,
                                       created_at=created_at, username=username, reply_to_id=reply_to_id), bots)
