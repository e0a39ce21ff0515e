"""Everything stored about one message (the TUI's message detail; `GET /messages/<id>`), JSON-ready."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from piyasa_core.store import Store
from piyasa_core.store.models import Bot, Chat, Message


def _epoch(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _author(session: Session, message: Message) -> dict[str, Any]:
    meta = message.meta if isinstance(message.meta, dict) else {}
    if message.bot_id is None:
        return {"kind": "person", "name": message.human_name or "?", "username": meta.get("username") or "",
                "bot_id": None, "user_id": message.human_user_id}
    bot = session.execute(select(Bot.name, Bot.username).where(Bot.id == message.bot_id)).first()
    return {"kind": "bot", "name": bot.name if bot else f"bot {message.bot_id}",
            "username": bot.username if bot else "", "bot_id": message.bot_id, "user_id": None}


def message_detail(store: Store, message_id: int) -> dict[str, Any]:
    """The message ``message_id`` with its author, chat, reply target and the engine's record of how it
    was made (``meta``: mode, topic, post-processing, retries, dedup). LookupError when there is none."""
    with store.sessions() as session:
        message = session.get(Message, message_id)
        if message is None:
            raise LookupError(f"message {message_id} not found")
        chat = session.execute(select(Chat.key, Chat.title, Chat.transport, Chat.run_id)
                            .where(Chat.id == message.chat_id)).first()
        target = session.get(Message, message.reply_to_id) if message.reply_to_id is not None else None
        reply_to = None if target is None else {"id": target.id, "text": target.text, **_author(session, target)}
        return {
            "id": message.id, "text": message.text, "status": message.status,
            "failure_reason": message.failure_reason,
            "created_at": _epoch(message.created_at), "sent_at": _epoch(message.sent_at),
            "chat": {"key": chat.key, "title": chat.title, "transport": chat.transport, "run_id": chat.run_id}
            if chat else None,
            "author": _author(session, message), "worker_id": message.worker_id, "provider": message.provider,
            "model": message.model, "tokens_in": message.tokens_in, "tokens_out": message.tokens_out,
            "tokens_cached": message.tokens_cached, "llm_latency_s": message.generation_seconds,
            "telegram_message_id": message.telegram_message_id, "send_count": message.send_count,
            "reply_to": reply_to, "meta": dict(message.meta or {}),
        }
