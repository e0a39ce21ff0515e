"""Messages written by people: stored once, and turned into reply jobs for the bots they address.

Used by the Telegram update receiver and by the console's "post as a human" alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from piyasa_core.engine.addressing import addressed, answerers, is_question
from piyasa_core.engine.pacing import active_at
from piyasa_core.engine.types import BotProfile, ReplyJob
from piyasa_core.store.models import Chat, Message


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
    """Bots of the chat the message speaks to: @username (text or entity), text mention, a reply to
    the bot, or the bot's first or display name used as a vocative ("Ayşe, …")."""
    by_user = {user_id: bot_id for bot_id, user_id in (bot_user_ids or {}).items()}
    return [bot.id for bot in bots if item.chat_id in bot.chat_ids and (
        addressed(item.text, bot, reply_to_bot_id=reply_to_bot_id, usernames=item.mentioned_usernames)
        or any(by_user.get(uid) == bot.id for uid in item.mentioned_user_ids))]


def reply_jobs(item: Inbound, message_id: int, bots: Sequence[BotProfile], reply_to_bot_id: int | None,
               bot_user_ids: dict[int, int] | None = None, tz_name: str | None = None) -> tuple[ReplyJob, ...]:
    """The addressed bots answer; a question that addressed nobody goes to the one or two bots whose
    persona and watchlist fit it best among those inside their active hours (``tz_name`` given; all of
    them when nobody is around), the others may join later, on their own turns."""
    wanted = addressed_bots(item, bots, reply_to_bot_id, bot_user_ids)
    if wanted:
        return tuple(ReplyJob(bot_id, item.chat_id, message_id) for bot_id in wanted)
    if not is_question(item.text):
        return ()
    members = [bot for bot in bots if item.chat_id in bot.chat_ids]
    if tz_name is not None:  # the group's question goes to those around now, when anyone is
        members = [b for b in members if active_at(b, item.created_at, tz_name)] or members
    return tuple(ReplyJob(bot_id, item.chat_id, message_id, addressed=False)
                 for bot_id in answerers(item.text, members))


def store_inbound(conn: Connection, item: Inbound, bots: Sequence[BotProfile],
                  bot_user_ids: dict[int, int] | None = None, tz_name: str | None = None) -> Stored:
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
    return Stored(int(message_id), reply_jobs(item, int(message_id), bots, reply_to_bot, bot_user_ids, tz_name))


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
                  reply_to_id: int | None = None, tz_name: str | None = None) -> Stored:
    """The operator writes into a chat as a person (console path: no Telegram at all)."""
    if not text.strip():
        raise ValueError("the message is empty")
    return store_inbound(conn, Inbound(chat_id=chat_id, text=text.strip(), human_name=human_name,
                                       created_at=created_at, username=username, reply_to_id=reply_to_id), bots,
                         tz_name=tz_name)
