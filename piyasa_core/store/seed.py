"""Sync bots and chats from `config.toml` into the database, idempotently."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from piyasa_core.config.schema import BotConfig, ChatConfig, Settings
from piyasa_core.store.models import Bot, Chat, Holding, Memory, Stance


@dataclass
class SyncReport:
    """What a sync did; a second run on the same config reports only ``unchanged``."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)  # enabled in config, kept disabled by the operator

    @property
    def changed(self) -> bool:
        return bool(self.created or self.updated or self.disabled)


def _bot_fields(bot: BotConfig) -> dict[str, Any]:
    return {
        "name": bot.name,
        "persona": bot.persona,
        "bio": bot.bio,
        "risk": bot.risk,
        "horizon": bot.horizon,
        "emotion": bot.emotion.model_dump(),
        "speed_profile": bot.speed,
        "active_hours": list(bot.active_hours),
        "prime_hours": list(bot.prime_hours),
        "watchlist": list(bot.watchlist),
        "signature_phrases": list(bot.signature_phrases),
        "emoji": list(bot.emoji),
        "token_env": bot.token_env or None,
        "enabled": bot.enabled,
    }


def _chat_fields(chat: ChatConfig, settings: Settings) -> dict[str, Any]:
    return {
        "title": chat.title,
        "telegram_chat_id": chat.telegram_chat_id,
        "topics": list(chat.topics),
        "transport": settings.chat_transport(chat),
        "enabled": chat.enabled,
    }


def _apply(row: Any, values: dict[str, Any]) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def sync_from_config(session: Session, settings: Settings) -> SyncReport:
    """Create or update every configured bot and chat; disable rows no longer configured.

    Rows are matched by bot username and chat key, so ids (and the ``bot_id % workers``
    sharding built on them) stay stable across runs. Nothing is deleted: messages keep
    pointing at their authors. ``bots.enabled`` follows config.toml; ``bots.operator_disabled``
    (the operator's runtime switch) is never changed here, so a sync cannot re-enable a bot the
    operator turned off: it is listed in ``held`` instead.
    """
    report = SyncReport()
    chats = {c.key: c for c in session.scalars(select(Chat).where(Chat.run_id.is_(None)))}  # not runs' chats
    for chat_cfg in settings.chats:
        label = f"chat {chat_cfg.key}"
        values = _chat_fields(chat_cfg, settings)
        row = chats.get(chat_cfg.key)
        if row is None:
            row = Chat(key=chat_cfg.key, **values)
            session.add(row)
            chats[chat_cfg.key] = row
            report.created.append(label)
        elif _apply(row, values):
            report.updated.append(label)
        else:
            report.unchanged.append(label)
    configured_chats = {c.key for c in settings.chats}
    for key, row in chats.items():
        if key not in configured_chats and row.enabled:
            row.enabled = False
            report.disabled.append(f"chat {key}")
    session.flush()

    bots = {b.username: b for b in session.scalars(select(Bot))}
    for bot_cfg in settings.bots:
        label = f"bot {bot_cfg.username}"
        row = bots.get(bot_cfg.username)
        created = row is None
        if row is None:
            row = Bot(username=bot_cfg.username, **_bot_fields(bot_cfg))
            session.add(row)
            session.flush()
            bots[bot_cfg.username] = row
            changed = True
        else:
            changed = _apply(row, _bot_fields(bot_cfg))
        wanted_chats = [chats[c.key] for c in settings.bot_chats(bot_cfg)]
        runs = [c for c in row.chats if c.run_id is not None]  # benchmark runs' chats are not config's
        if [c.id for c in row.chats if c.run_id is None] != sorted(c.id for c in wanted_chats):
            row.chats = sorted([*wanted_chats, *runs], key=lambda c: c.id)
            changed = True
        changed |= _sync_stances(row, bot_cfg)
        changed |= _sync_holdings(row, bot_cfg)
        changed |= _sync_memories(session, row, bot_cfg)
        if row.operator_disabled and row.enabled:
            report.held.append(label)
        if created:
            report.created.append(label)
        elif changed:
            report.updated.append(label)
        else:
            report.unchanged.append(label)
    configured_bots = {b.username for b in settings.bots}
    for username, row in bots.items():
        if username not in configured_bots and row.enabled:
            row.enabled = False
            report.disabled.append(f"bot {username}")
    session.flush()
    return report


def _sync_children(rows: list[Any], wanted: dict[str, dict[str, Any]], key: str, make: Any) -> bool:
    """Make ``rows`` (a bot's stances or holdings, keyed by ``key``) match ``wanted``; True if changed."""
    changed = False
    for row in list(rows):
        if getattr(row, key) not in wanted:
            rows.remove(row)
            changed = True
    existing = {getattr(row, key): row for row in rows}
    for name, values in wanted.items():
        if name in existing:
            changed |= _apply(existing[name], values)
        else:
            rows.append(make(**{key: name}, **values))
            changed = True
    return changed


def _sync_stances(row: Bot, bot_cfg: BotConfig) -> bool:
    wanted = {s.topic: {"view": s.view, "confidence": float(s.confidence)} for s in bot_cfg.stances}
    return _sync_children(row.stances, wanted, "topic", Stance)


def _sync_holdings(row: Bot, bot_cfg: BotConfig) -> bool:
    wanted = {h.symbol: {"avg_price": float(h.avg_price), "size": float(h.size), "note": h.note}
              for h in bot_cfg.holdings}
    return _sync_children(row.holdings, wanted, "symbol", Holding)


SEED_MEMORY = "seed"
"""Memories from config.toml (``memories``); those the engine keeps as it talks are ``conversation``."""


def _sync_memories(session: Session, row: Bot, bot_cfg: BotConfig) -> bool:
    """Make the bot's seeded memories match its ``memories`` list; what it remembered since stays."""
    have = {m.content: m for m in session.scalars(
        select(Memory).where(Memory.bot_id == row.id, Memory.kind == SEED_MEMORY))}
    changed = False
    for content, memory in have.items():
        if content not in bot_cfg.memories:
            session.delete(memory)
            changed = True
    for content in bot_cfg.memories:
        if content not in have:
            session.add(Memory(bot_id=row.id, kind=SEED_MEMORY, content=content, importance=0.9))
            changed = True
    return changed
