"""Database reads and writes of the engine, returning plain data (never ORM objects)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.orm import Session, aliased

from piyasa_core.engine.types import BotProfile, ChatInfo, HistoryLine, Holding, Stance
from piyasa_core.store.db import session_scope
from piyasa_core.store.models import Bot, Chat, Message
from piyasa_core.timeutil import as_utc


def _profile(row: Bot) -> BotProfile:
    return BotProfile(
        id=row.id, username=row.username, name=row.name, persona=row.persona, bio=row.bio, risk=row.risk,
        horizon=row.horizon, emotion=tuple(sorted((row.emotion or {}).items())), speed=row.speed_profile,
        active_hours=tuple(row.active_hours or ()), prime_hours=tuple(row.prime_hours or ()),
        watchlist=tuple(row.watchlist or ()), signature_phrases=tuple(row.signature_phrases or ()),
        emoji=tuple(row.emoji or ()),
        stances=tuple(Stance(s.topic, s.view, float(s.confidence)) for s in row.stances),
        holdings=tuple(Holding(h.symbol, float(h.avg_price), float(h.size), h.note) for h in row.holdings),
        chat_ids=tuple(c.id for c in row.chats if c.enabled), token_env=row.token_env)


def load_profiles(session: Session, bot_ids: Iterable[int] | None = None, *,
                  enabled_only: bool = True) -> list[BotProfile]:
    """Bot profiles (optionally only some ids), in id order; ``enabled_only``: the bots that talk
    (enabled in config.toml and not disabled by the operator)."""
    query = select(Bot).order_by(Bot.id)
    if enabled_only:
        query = query.where(Bot.enabled.is_(True), Bot.operator_disabled.is_(False))
    if bot_ids is not None:
        query = query.where(Bot.id.in_(list(bot_ids)))
    return [_profile(row) for row in session.scalars(query)]


def load_chats(session: Session, run_id: str | None = None) -> list[ChatInfo]:
    """The community's chats (``run_id`` None), or a benchmark run's own chats; in id order."""
    scope = Chat.run_id.is_(None) if run_id is None else Chat.run_id == run_id
    return [ChatInfo(c.id, c.key, c.title, tuple(c.topics or ()), c.transport, c.telegram_chat_id, c.enabled)
            for c in session.scalars(select(Chat).where(scope).order_by(Chat.id))]


def recent_history(session: Session, chat_id: int, limit: int) -> tuple[HistoryLine, ...]:
    """The chat's newest ``limit`` delivered messages, oldest first."""
    author = aliased(Bot)
    rows = session.execute(
        select(Message, author.name, author.username)
        .outerjoin(author, Message.bot_id == author.id)
        .where(Message.chat_id == chat_id, Message.status == "sent")
        .order_by(Message.id.desc()).limit(limit)
    ).all()
    lines = []
    for message, bot_name, bot_username in reversed(rows):
        meta = message.meta or {}
        lines.append(HistoryLine(
            id=message.id, chat_id=chat_id, text=message.text,
            created_at=as_utc(message.sent_at or message.created_at).timestamp(),
            author=bot_name or message.human_name or "?", bot_id=message.bot_id,
            username=bot_username or meta.get("username"), reply_to_id=message.reply_to_id,
            topic=meta.get("topic"), telegram_message_id=message.telegram_message_id))
    return tuple(lines)


# Built once: constructing a statement and its cache key per message cost ~40 % of the outbox's time.
_INSERT_PENDING = insert(Message).returning(Message.id)
_MARK_SENT = (update(Message).where(Message.id == bindparam("message_id"))
              .values(status="sent", telegram_message_id=bindparam("transport_id"), sent_at=bindparam("sent_at"),
                      send_count=Message.send_count + 1))
_MARK_FAILED = (update(Message).where(Message.id == bindparam("message_id"), Message.status == "pending")
                .values(status="failed", failure_reason=bindparam("reason")))


def replied_to(session: Session, bot_id: int, message_id: int) -> bool:
    """The bot has a reply to ``message_id`` (sent, or still being sent)."""
    return session.scalar(select(Message.id).where(
        Message.bot_id == bot_id, Message.reply_to_id == message_id, Message.status != "failed").limit(1)) is not None


def recent_texts(session: Session, chat_id: int, limit: int) -> list[str]:
    """The texts of the chat's newest ``limit`` delivered messages, oldest first."""
    rows = session.scalars(select(Message.text).where(Message.chat_id == chat_id, Message.status == "sent")
                           .order_by(Message.id.desc()).limit(limit)).all()
    return list(reversed(rows))


def texts_in_flight(session: Session, chat_id: int, limit: int) -> list[str]:
    """The chat's newest ``limit`` bot texts sent or still being sent (any worker's), oldest first."""
    rows = session.scalars(select(Message.text).where(Message.chat_id == chat_id, Message.bot_id.is_not(None),
                                                      Message.status != "failed")
                           .order_by(Message.id.desc()).limit(limit)).all()
    return list(reversed(rows))


def insert_pending(conn: Connection, *, chat_id: int, bot_id: int, text: str, reply_to_id: int | None,
                   worker_id: int, provider: str, model: str, tokens_in: int, tokens_out: int,
                   tokens_cached: int, generation_seconds: float, created_at: float,
                   meta: dict[str, Any]) -> int:
    """The outbox row of a message about to be sent (status ``pending``); returns its id.

    Core statements on a plain connection (no ORM session): this runs once per message on the hot path.
    """
    return int(conn.execute(
        _INSERT_PENDING,
        [{"chat_id": chat_id, "bot_id": bot_id, "text": text, "status": "pending", "reply_to_id": reply_to_id,
          "worker_id": worker_id, "provider": provider, "model": model, "tokens_in": tokens_in,
          "tokens_out": tokens_out, "tokens_cached": tokens_cached, "generation_seconds": generation_seconds,
          "created_at": created_at, "metadata": meta}],  # the column key (attribute: meta)
    ).scalar_one())


def mark_sent(conn: Connection, message_id: int, transport_message_id: int | None, sent_at: float) -> None:
    """The transport accepted the message. Every acceptance is counted: a row accepted twice (a
    resend) shows as ``send_count > 1``, which the benchmark reports as a duplicate."""
    conn.execute(_MARK_SENT, {"message_id": message_id, "transport_id": transport_message_id, "sent_at": sent_at})


def mark_failed(conn: Connection, message_id: int, reason: str) -> None:
    """The transport refused the message (or the worker died before it could tell)."""
    conn.execute(_MARK_FAILED, {"message_id": message_id, "reason": reason[:500]})


def resolve_stale_pending(session: Session, bot_ids: Sequence[int]) -> int:
    """On start: pending rows of these bots were interrupted between insert and the transport's
    answer. They are marked failed and never re-sent, so a restart cannot send a message twice."""
    if not bot_ids:
        return 0
    result = session.execute(
        update(Message).where(Message.bot_id.in_(list(bot_ids)), Message.status == "pending")
        .values(status="failed", failure_reason="interrupted: the worker stopped before the transport answered"))
    return int(result.rowcount or 0)


def resolve_stale_shards(sessions: Any, shards: int, gained: set[int]) -> int:
    """Fleet mode, on taking shards over: the earlier holder's pending rows of their bots are marked
    failed (never re-sent: that host may have delivered them before it stopped)."""
    with session_scope(sessions) as session:
        ids = [b.id for b in session.scalars(select(Bot)) if b.id % shards in gained]
        return resolve_stale_pending(session, ids)


def store_human_message(session: Session, *, chat_id: int, text: str, human_name: str,
                        human_user_id: int | None = None, telegram_message_id: int | None = None,
                        reply_to_id: int | None = None, created_at: float, username: str | None = None) -> int:
    """A message written by a person (the console's "post as a human" or a Telegram update)."""
    row = Message(chat_id=chat_id, human_name=human_name, human_user_id=human_user_id, text=text,
                  status="sent", telegram_message_id=telegram_message_id, reply_to_id=reply_to_id,
                  created_at=created_at, sent_at=created_at,
                  meta={"username": username} if username else {})
    session.add(row)
    session.flush()
    return row.id


def set_chat_enabled(conn: Connection | Session, chat_id: int, enabled: bool) -> None:
    conn.execute(update(Chat).where(Chat.id == chat_id).values(enabled=enabled))


def set_operator_disabled(session: Session, bot_id: int, disabled: bool) -> None:
    """The operator's runtime switch of one bot (kept across restarts; `init` leaves it alone)."""
    session.execute(update(Bot).where(Bot.id == bot_id).values(operator_disabled=disabled))
