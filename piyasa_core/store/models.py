"""SQLAlchemy 2 models: bots, chats, membership, messages, settings, persona state, usage."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from piyasa_core.store.types import UTCDateTime
from piyasa_core.timeutil import utcnow

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MESSAGE_STATUSES = ("pending", "sent", "failed")
SETTING_KINDS = ("int", "float", "bool", "str")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow,
                                                 nullable=False)


class Bot(Timestamped, Base):
    """A persona bot (one Telegram Bot API account)."""

    __tablename__ = "bots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    name: Mapped[str] = mapped_column(String(128), nullable=False)
    persona: Mapped[str] = mapped_column(String(64), nullable=False)
    bio: Mapped[str] = mapped_column(Text, default="", nullable=False)
    risk: Mapped[str] = mapped_column(String(64), default="", nullable=False)
    horizon: Mapped[str] = mapped_column(String(64), default="", nullable=False)
    emotion: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)
    speed_profile: Mapped[str] = mapped_column(String(16), default="medium", nullable=False)
    active_hours: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    prime_hours: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    watchlist: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    signature_phrases: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    emoji: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    token_env: Mapped[str | None] = mapped_column(String(128))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)  # config.toml's, synced by init
    # the operator's runtime switch (TUI bots screen, `POST /bots`); init never changes it. A bot talks
    # when enabled and not operator_disabled (migration 0005)
    operator_disabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), nullable=False)

    chats: Mapped[list[Chat]] = relationship(secondary="bot_chats", back_populates="bots",
                                             order_by="Chat.id")
    stances: Mapped[list[Stance]] = relationship(back_populates="bot", cascade="all, delete-orphan",
                                                 order_by="Stance.id")
    holdings: Mapped[list[Holding]] = relationship(back_populates="bot", cascade="all, delete-orphan",
                                                   order_by="Holding.id")


class Chat(Timestamped, Base):
    """A group the bots talk in (a Telegram group or a local console chat), or a benchmark run's chat."""

    __tablename__ = "chats"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    telegram_chat_id: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    title: Mapped[str] = mapped_column(String(256), nullable=False)
    topics: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    transport: Mapped[str] = mapped_column(String(16), default="console", nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    # A benchmark run's own chat: the run's id, and the community chat it mirrors (both NULL for the
    # community's chats). Plain integer, not a foreign key: SQLite could only add one by rebuilding the table.
    run_id: Mapped[str | None] = mapped_column(String(40))
    source_chat_id: Mapped[int | None] = mapped_column(Integer)

    bots: Mapped[list[Bot]] = relationship(secondary="bot_chats", back_populates="chats",
                                           order_by="Bot.id")

    __table_args__ = (CheckConstraint("transport IN ('console', 'telegram')", name="transport"),
                      Index("ix_chats_run_id", "run_id"))


class BotChat(Base):
    """Membership of a bot in a chat."""

    __tablename__ = "bot_chats"

    bot_id: Mapped[int] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), primary_key=True)


class Message(Base):
    """One chat message: a bot's outbox row or a stored human message."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chats.id", ondelete="CASCADE"), nullable=False)
    bot_id: Mapped[int | None] = mapped_column(ForeignKey("bots.id", ondelete="SET NULL"))
    human_user_id: Mapped[int | None] = mapped_column(BigInteger)
    human_name: Mapped[str | None] = mapped_column(String(128))
    text: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), default="pending", nullable=False)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    reply_to_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    worker_id: Mapped[int | None] = mapped_column(Integer)
    provider: Mapped[str | None] = mapped_column(String(32))
    model: Mapped[str | None] = mapped_column(String(128))
    tokens_in: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    tokens_out: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    tokens_cached: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    generation_seconds: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    send_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0", nullable=False)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict, nullable=False)

    reply_to: Mapped[Message | None] = relationship(remote_side="Message.id")

    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        CheckConstraint("(bot_id IS NULL) OR (human_user_id IS NULL AND human_name IS NULL)",
                        name="one_author"),
        UniqueConstraint("chat_id", "telegram_message_id"),
        Index("ix_messages_chat_created", "chat_id", "created_at"),
        Index("ix_messages_bot_created", "bot_id", "created_at"),
        Index("ix_messages_status", "status"),
        Index("ix_messages_chat_status_id", "chat_id", "status", "id"),  # the engine's history read
    )

    @property
    def is_human(self) -> bool:
        """True when a person (not one of our bots) wrote it."""
        return self.bot_id is None


class Setting(Base):
    """A typed runtime setting: exactly one of the value columns is used, per ``kind``."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    int_value: Mapped[int | None] = mapped_column(BigInteger)
    float_value: Mapped[float | None] = mapped_column(Float)
    bool_value: Mapped[bool | None] = mapped_column(Boolean)
    text_value: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow,
                                                 nullable=False)

    __table_args__ = (CheckConstraint("kind IN ('int', 'float', 'bool', 'str')", name="kind"),)


class Stance(Base):
    """A bot's view on a topic with a numeric confidence."""

    __tablename__ = "stances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bot_id: Mapped[int] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), nullable=False)
    topic: Mapped[str] = mapped_column(String(128), nullable=False)
    view: Mapped[str] = mapped_column(Text, nullable=False)
    confidence: Mapped[float] = mapped_column(Float, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow,
                                                 nullable=False)

    bot: Mapped[Bot] = relationship(back_populates="stances")

    __table_args__ = (
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence_range"),
        UniqueConstraint("bot_id", "topic"),
    )


class Holding(Base):
    """A position a bot talks about holding."""

    __tablename__ = "holdings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bot_id: Mapped[int] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), nullable=False)
    symbol: Mapped[str] = mapped_column(String(32), nullable=False)
    avg_price: Mapped[float] = mapped_column(Float, nullable=False)
    size: Mapped[float] = mapped_column(Float, nullable=False)
    note: Mapped[str] = mapped_column(Text, default="", nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow,
                                                 nullable=False)

    bot: Mapped[Bot] = relationship(back_populates="holdings")

    __table_args__ = (UniqueConstraint("bot_id", "symbol"),)


class Memory(Base):
    """Something a bot remembers (a past exchange, an opinion formed)."""

    __tablename__ = "memories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bot_id: Mapped[int] = mapped_column(ForeignKey("bots.id", ondelete="CASCADE"), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), default="note", nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    importance: Mapped[float] = mapped_column(Float, default=0.5, nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, nullable=False)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("importance >= 0 AND importance <= 1", name="importance_range"),
        Index("ix_memories_bot_importance", "bot_id", "importance"),
    )


class ProviderUsage(Base):
    """Requests and tokens per provider, model and UTC day (survives restarts)."""

    __tablename__ = "provider_usage"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    provider: Mapped[str] = mapped_column(String(32), nullable=False)
    model: Mapped[str] = mapped_column(String(128), nullable=False)
    requests: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    errors: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    prompt_tokens: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    completion_tokens: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    cached_tokens: Mapped[int] = mapped_column(BigInteger, default=0, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow,
                                                 nullable=False)

    __table_args__ = (UniqueConstraint("day", "provider", "model"),)


class FleetHost(Base):
    """A supervisor of the fleet (``[fleet]``): who it is, its heartbeat and what it shows the others."""

    __tablename__ = "fleet_hosts"

    host_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(255), default="", nullable=False)
    workers: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    version: Mapped[str] = mapped_column(String(32), default="", nullable=False)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    draining: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false(), nullable=False)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, nullable=False)


class FleetLease(Base):
    """A lease with expiry on a shard (``shard:<n>``; its holder also receives the updates of its bots'
    tokens). ``epoch`` grows with every new holder: it is the fencing token the
    outbox's writes are checked against (PostgreSQL's clock decides expiry, not the hosts')."""

    __tablename__ = "fleet_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(64))
    epoch: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0", nullable=False)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
