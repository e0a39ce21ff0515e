"""People's recent messages still owed an answer by bots a worker has just taken over.

A reply job travels once, from the host that stored the person's message to the host holding the
bot's shard (a Redis channel in a fleet). When that holder died before its lease ran out, nobody held
the shard while the job passed and it was dropped: the question went unanswered for good. The new
holder therefore re-derives the jobs of the recent people's messages its new bots were asked and
have not answered (sent or being sent); the reply path itself skips any it answered meanwhile.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import aliased

from piyasa_core.engine.types import BotProfile, ReplyJob
from piyasa_core.store.db import session_scope
from piyasa_core.store.models import Message
from piyasa_core.telegram.inbound import Inbound, reply_jobs
from piyasa_core.timeutil import as_utc

RECOVERY_WINDOW_S = 600.0
"""Simulated seconds back a takeover looks for people's messages (at least; see :func:`window_s`)."""


def window_s(lease_ttl: float, time_scale: float) -> float:
    """How far back (simulated seconds) to look: ten minutes, or three lease timeouts of a scaled clock."""
    return max(RECOVERY_WINDOW_S, 3 * lease_ttl * time_scale)


def owed_jobs(sessions: object, chat_ids: Collection[int], everyone: Sequence[BotProfile], taken: Collection[int],
              since: float, tz_name: str | None) -> list[ReplyJob]:
    """Reply jobs of people's messages in ``chat_ids`` created at or after ``since`` that fall to a bot
    of ``taken`` and that bot has not answered; a question nobody was addressed in is owed only while no
    bot at all answered it."""
    if not chat_ids or not taken:
        return []
    replied_to = aliased(Message)
    with session_scope(sessions) as session:  # type: ignore[arg-type]
        people = session.execute(
            select(Message.id, Message.chat_id, Message.text, Message.human_name, Message.created_at,
                   Message.reply_to_id, Message.meta, replied_to.bot_id)
            .outerjoin(replied_to, replied_to.id == Message.reply_to_id)
            .where(Message.bot_id.is_(None), Message.chat_id.in_(list(chat_ids)), Message.created_at >= since)
            .order_by(Message.id)).all()
        if not people:
            return []
        answers = session.execute(
            select(Message.reply_to_id, Message.bot_id)
            .where(Message.reply_to_id.in_([p.id for p in people]), Message.bot_id.is_not(None),
                   Message.status.in_(("sent", "pending")))).all()
    answered: dict[int, set[int]] = {}
    for question, bot_id in answers:
        answered.setdefault(int(question), set()).add(int(bot_id))
    jobs: list[ReplyJob] = []
    for row in people:
        item = Inbound(chat_id=row.chat_id, text=row.text, human_name=row.human_name or "",
                       created_at=as_utc(row.created_at).timestamp(), username=(row.meta or {}).get("username"),
                       reply_to_id=row.reply_to_id)
        done = answered.get(row.id, set())
        for job in reply_jobs(item, row.id, everyone, row.bot_id, tz_name=tz_name):
            if job.bot_id in taken and job.bot_id not in done and (job.addressed or not done):
                jobs.append(job)
    return jobs
