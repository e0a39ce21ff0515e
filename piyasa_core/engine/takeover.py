"""Fleet mode: a worker's shards move (its host's agent took or lost leases).

Bots of shards lost stop at once (their outbox writes are fenced anyway). Bots of shards gained start
due at once, after the earlier holder's interrupted rows are resolved (never re-sent: it may have
delivered them), with the chats' newest lines in their dedup keys (so they do not repeat what they said
under the earlier holder), and with the reply jobs of people's questions dropped while nobody held
their shard (:mod:`piyasa_core.engine.open_questions`).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from piyasa_core.engine import open_questions, repo
from piyasa_core.engine.dedup import SEEN_KEEP
from piyasa_core.store.db import session_scope

if TYPE_CHECKING:
    from piyasa_core.engine.core import Engine


async def set_shards(engine: Engine, epochs: dict[int, int]) -> None:
    """Run the shards ``epochs`` (shard → lease epoch) from now on."""
    assert engine.fleet is not None
    gained = set(epochs) - set(engine.fleet.epochs)
    engine.fleet.epochs = dict(epochs)
    if gained:
        engine.counts["stale_pending_resolved"] += await asyncio.to_thread(
            repo.resolve_stale_shards, engine.store.sessions, engine.fleet.shards, gained)
        # what the taken bots said under the earlier holder, known before they are due (at once)
        for chat_id, texts in (await asyncio.to_thread(_said, engine, set(engine.chats))).items():
            engine.seen_keys(chat_id).note(texts)
    await engine.reload_bots(stagger=not gained)
    if gained:
        await _recover_owed(engine, gained)


def _said(engine: Engine, chat_ids: set[int]) -> dict[int, list[str]]:
    """The newest lines said in these chats (the dedup keys beyond the history), per chat."""
    with session_scope(engine.store.sessions) as session:
        return {c: repo.recent_texts(session, c, SEEN_KEEP) for c in sorted(chat_ids)}


async def _recover_owed(engine: Engine, gained: set[int]) -> None:
    """People's questions to the bots of shards just taken over, dropped while nobody held them."""
    assert engine.fleet is not None
    taken = {b for b in engine.bots if engine.fleet.shard_of(b) in gained and b not in engine.disabled}
    since = engine.clock.now() - open_questions.window_s(engine.config.settings.fleet.lease_ttl, engine.clock.scale)
    everyone = sorted({b.id: b for members in engine.members.values() for b in members}.values(), key=lambda b: b.id)
    jobs = await asyncio.to_thread(open_questions.owed_jobs, engine.store.sessions, list(engine.chats), everyone,
                                   taken, since, engine.config.settings.engine.timezone)
    for job in jobs:
        engine.counts["jobs_recovered"] += 1
        engine.submit_reply_job(job)
