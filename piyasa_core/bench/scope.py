"""A benchmark run's own world: chats of its own and a cache key prefix of its own.

A run starts on a simulated clock (10:00 by default) and compresses time; writing its messages into a
chat people read would put a simulated morning into a real night's conversation, and measuring in the
community's chats would mix in whatever was said before. So every run gets one chat per enabled
community chat (same title, topics and members, always the console transport, ``chats.run_id`` = the
run's id, ``chats.source_chat_id`` = the chat it mirrors), and the workers talk only there while the run
lasts; the community's chats stay as they were. Its cache keys live under ``<prefix>:run:<id>`` so no
earlier run's or the community's entries count as hits. Afterwards the run's chats are disabled (their
messages stay, for the report and for inspection) and its Redis keys are deleted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update

from piyasa_core.store import Store
from piyasa_core.store.models import BotChat, Chat

log = logging.getLogger(__name__)
KEY_LENGTH = 64  # chats.key


def run_cache_prefix(base: str, run_id: str) -> str:
    """The Redis key prefix of a run's cache entries (the LLM budgets keep the base prefix: the
    provider's quota is one, whoever spends it)."""
    return f"{base}:run:{run_id}"


def run_chat_key(source_key: str, source_id: int, run_id: str) -> str:
    """``<chat key>@<run id>``, shortened (with the source id, so it stays unique) when too long."""
    suffix = f"@{run_id}"
    key = f"{source_key}{suffix}"
    if len(key) <= KEY_LENGTH:
        return key
    tail = f"~{source_id}{suffix}"
    return f"{source_key[:KEY_LENGTH - len(tail)]}{tail}"


@dataclass(frozen=True)
class RunScope:
    """Where a run's workers talk (its chats) and what they are configured with (``overrides``, the
    profile's pace, applied on top of the configuration in every worker)."""

    run_id: str
    chat_ids: tuple[int, ...]
    chat_keys: tuple[str, ...]
    overrides: dict[tuple[str | int, ...], Any] = field(default_factory=dict)


def open_scope(store: Store, run_id: str, overrides: dict[tuple[str | int, ...], Any] | None = None) -> RunScope:
    """Create the run's chats (one per enabled community chat, with the same members)."""
    ids: list[int] = []
    keys: list[str] = []
    with store.engine.begin() as conn:
        sources = conn.execute(select(Chat.id, Chat.key, Chat.title, Chat.topics)
                               .where(Chat.run_id.is_(None), Chat.enabled.is_(True)).order_by(Chat.id)).all()
        for source_id, key, title, topics in sources:
            chat_key = run_chat_key(key, source_id, run_id)
            chat_id = conn.execute(insert(Chat).returning(Chat.id), [{
                "key": chat_key, "title": f"{title} · benchmark {run_id}", "topics": list(topics or ()),
                "transport": "console", "enabled": True, "run_id": run_id, "source_chat_id": source_id}]).scalar_one()
            members = conn.execute(select(BotChat.bot_id).where(BotChat.chat_id == source_id)).scalars().all()
            if members:
                conn.execute(insert(BotChat), [{"bot_id": b, "chat_id": chat_id} for b in members])
            ids.append(int(chat_id))
            keys.append(chat_key)
    return RunScope(run_id, tuple(ids), tuple(keys), dict(overrides or {}))


def close_scope(store: Store, scope: RunScope) -> None:
    """Disable the run's chats: nobody talks there again; the rows stay."""
    with store.engine.begin() as conn:
        conn.execute(update(Chat).where(Chat.run_id == scope.run_id).values(enabled=False))


async def drop_cache_keys(redis_url: str, prefix: str) -> int:
    """Delete every Redis key under ``prefix:`` (the run's cache entries and version counters)."""
    import redis.asyncio as aioredis

    client = aioredis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
    deleted = 0
    try:
        batch: list[Any] = []
        async for key in client.scan_iter(match=f"{prefix}:*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                deleted += int(await client.unlink(*batch))
                batch = []
        if batch:
            deleted += int(await client.unlink(*batch))
    finally:
        await client.aclose()
    return deleted
