"""The quality report over a time window of stored messages (used by the benchmark)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from piyasa_core.engine.prompt import system_prompt
from piyasa_core.engine.quality import QualityInput, QualityReport, quality_report
from piyasa_core.engine.repo import load_profiles
from piyasa_core.store.models import Message
from piyasa_core.timeutil import as_utc


def quality_for_window(session: Session, start: float, end: float,
                       chat_ids: Sequence[int] | None = None) -> QualityReport:
    """Quality of the delivered messages sent in ``[start, end)`` (simulated epoch seconds), in the
    given chats (a benchmark run's own) or in every chat."""
    target = aliased(Message)
    clauses = [Message.status == "sent", Message.sent_at >= as_utc(start), Message.sent_at < as_utc(end)]
    if chat_ids is not None:
        clauses.append(Message.chat_id.in_(list(chat_ids)))
    rows = session.execute(
        select(Message, target.bot_id, target.id)
        .outerjoin(target, Message.reply_to_id == target.id)
        .where(*clauses)
        .order_by(Message.id)
    ).all()
    inputs = [QualityInput(text=m.text, bot_id=m.bot_id, chat_id=m.chat_id, reply_to_bot_id=target_bot,
                           reply_to_is_human=target_id is not None and target_bot is None,
                           topic=(m.meta or {}).get("topic"))
              for m, target_bot, target_id in rows]
    bot_ids = {i.bot_id for i in inputs if i.bot_id is not None}
    prompts = {bot.id: system_prompt(bot) for bot in load_profiles(session, bot_ids, enabled_only=False)}
    return quality_report(inputs, prompts)
