"""Events the engine emits for the supervisor (small, frozen, picklable)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from piyasa_core.engine.types import SentMessage


@dataclass(frozen=True)
class MessageFailed:
    """The transport refused a message (it stays in the outbox as ``failed``)."""

    worker_id: int
    bot_id: int
    chat_id: int
    message_id: int
    error_class: str
    reason: str


@dataclass(frozen=True)
class ChatDisabled:
    """A chat was disabled because the transport said the bot cannot post there."""

    worker_id: int
    chat_id: int
    chat_key: str
    reason: str


@dataclass(frozen=True)
class EngineMetrics:
    """A once-per-second snapshot of one worker's engine."""

    worker_id: int
    at: float  # simulated epoch seconds
    real_at: float  # wall clock
    bots: tuple[int, ...]
    counts: dict[str, int]
    per_bot: dict[int, int]
    cache: dict[str, Any]
    providers: tuple[Any, ...]  # router ProviderStatus views
    active_provider: str
    paused: str
    floor_alarms: tuple[str, ...] = ()
    inflight: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


EngineEvent = SentMessage | MessageFailed | ChatDisabled | EngineMetrics
