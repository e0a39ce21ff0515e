"""The quality report over a time window of stored messages (used by the benchmark)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from piyasa_core.engine.clock import local_hour
from piyasa_core.engine.prompt import system_prompt
from piyasa_core.engine.quality import QualityInput, QualityReport, quality_report
from piyasa_core.engine.repo import load_profiles
from piyasa_core.store.models import Message
from piyasa_core.timeutil import as_utc


def quality_for_window(session: Session, start: float, end: float,
                       chat_ids: Sequence[int] | None = None, tz_name: str = "Europe/Istanbul") -> QualityReport:
    """Quality of the delivered messages sent in ``[start, end)`` (simulated epoch seconds), in the
    given chats (a benchmark run's own) or in every chat; hours of day in ``tz_name``."""
    target = aliased(Message)
    clauses = [Message.status == "sent", Message.sent_at >= as_utc(start), Message.sent_at < as_utc(end)]
    if chat_ids is not None:
        clauses.append(Message.chat_id.in_(list(chat_ids)))
    rows = session.execute(
        select(Message, target.bot_id, target.id, target.meta)
        .outerjoin(target, Message.reply_to_id == target.id)
        .where(*clauses)
        .order_by(Message.id)
    ).all()
    profiles = load_profiles(session, None, enabled_only=False)  # addressed bots may not have spoken
    handles = {bot.id: bot.username for bot in profiles}

    def handle(bot_id: int | None, meta: dict | None) -> str | None:
        return handles.get(bot_id) if bot_id is not None else (meta or {}).get("username")

    inputs = []
    for m, target_bot, target_id, target_meta in rows:
        sent = as_utc(m.sent_at or m.created_at).timestamp()
        inputs.append(QualityInput(
            text=m.text, bot_id=m.bot_id, chat_id=m.chat_id, reply_to_bot_id=target_bot,
            reply_to_is_human=target_id is not None and target_bot is None, topic=(m.meta or {}).get("topic"),
            id=m.id, reply_to_id=m.reply_to_id, created_at=sent, hour=local_hour(sent, tz_name),
            username=handle(m.bot_id, m.meta), reply_to_username=handle(target_bot, target_meta) if target_id else None))
    prompts = {bot.id: system_prompt(bot) for bot in profiles if any(i.bot_id == bot.id for i in inputs)}
    return quality_report(inputs, prompts, profiles)
