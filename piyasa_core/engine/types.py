"""Plain immutable data the engine works with (never ORM objects: safe to cache and to pickle)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Stance:
    topic: str
    view: str
    confidence: float


@dataclass(frozen=True)
class Holding:
    symbol: str
    avg_price: float
    size: float
    note: str = ""


@dataclass(frozen=True)
class BotProfile:
    """Everything the engine needs to know about one bot."""

    id: int
    username: str
    name: str
    persona: str
    bio: str = ""
    risk: str = ""
    horizon: str = ""
    emotion: tuple[tuple[str, Any], ...] = ()
    speed: str = "medium"
    active_hours: tuple[str, ...] = ()
    prime_hours: tuple[str, ...] = ()
    watchlist: tuple[str, ...] = ()
    signature_phrases: tuple[str, ...] = ()
    emoji: tuple[str, ...] = ()
    stances: tuple[Stance, ...] = ()
    holdings: tuple[Holding, ...] = ()
    chat_ids: tuple[int, ...] = ()
    token_env: str | None = None

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name else self.username

    def emotion_dict(self) -> dict[str, Any]:
        return dict(self.emotion)


@dataclass(frozen=True)
class ChatInfo:
    """A chat as the engine sees it."""

    id: int
    key: str
    title: str
    topics: tuple[str, ...] = ()
    transport: str = "console"
    telegram_chat_id: int | None = None
    enabled: bool = True


@dataclass(frozen=True)
class HistoryLine:
    """One earlier message of a chat, newest last in every list the engine builds."""

    id: int
    chat_id: int
    text: str
    created_at: float  # epoch seconds (simulated clock)
    author: str  # display name
    bot_id: int | None = None  # None: a human
    username: str | None = None  # bot username or the human's @handle if known
    reply_to_id: int | None = None
    topic: str | None = None
    telegram_message_id: int | None = None

    @property
    def is_human(self) -> bool:
        return self.bot_id is None


@dataclass(frozen=True)
class Quote:
    symbol: str
    price: float
    change_pct: float


@dataclass(frozen=True)
class MarketSnapshot:
    """Prices (and optional headlines) at one moment; identical in every worker for that moment."""

    at: float
    quotes: tuple[Quote, ...] = ()
    headlines: tuple[str, ...] = ()

    def quote(self, symbol: str) -> Quote | None:
        for quote in self.quotes:
            if quote.symbol == symbol:
                return quote
        return None

    def as_hints(self) -> dict[str, dict[str, float]]:
        return {q.symbol: {"price": q.price, "change_pct": q.change_pct} for q in self.quotes}


@dataclass(frozen=True)
class Turn:
    """What a bot decided to say: where, in which mode, about what, to whom."""

    bot_id: int
    chat_id: int
    mode: str  # new | reply | reaction | human_reply
    topic: str
    reply_to: HistoryLine | None = None
    mention: str | None = None
    due_at: float = 0.0
    job_id: str | None = None  # set for reply jobs routed from a human message
    addressed: bool = False  # the target spoke to this bot (@username, a reply to it, its name as a vocative)


@dataclass(frozen=True)
class ReplyJob:
    """A human wrote to a bot (``addressed``), or asked the group a question this bot fits best:
    its worker answers this first."""

    bot_id: int
    chat_id: int
    message_id: int
    addressed: bool = True


@dataclass(frozen=True)
class SentMessage:
    """Event payload: one message the transport accepted."""

    message_id: int
    bot_id: int
    bot_name: str
    chat_id: int
    chat_key: str
    worker_id: int
    text: str
    mode: str
    topic: str
    reply_to_id: int | None
    reply_to_author: str | None
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    tokens_cached: int
    llm_latency_s: float
    end_to_end_s: float  # due → sent (simulated seconds)
    sent_at: float
    transport_message_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)
