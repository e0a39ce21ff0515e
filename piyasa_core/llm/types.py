"""Plain data shared by providers, the router and their callers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from piyasa_core.llm.tokens import estimate_chat_tokens


class ErrorClass(str, Enum):
    """Why a provider call failed; decides what the router does next."""

    RATE_LIMITED = "rate_limited"          # per-minute 429: cool down for the wait, then retry
    QUOTA_EXHAUSTED = "quota_exhausted"    # daily quota: park until the quota resets
    AUTH = "auth"                          # 401/403: park until the key changes
    MODEL_NOT_FOUND = "model_not_found"    # 404: park until the model setting changes
    TOO_LARGE = "too_large"                # 413: this request only; try the next provider
    SERVER = "server"                      # 5xx: counts toward the breaker
    TIMEOUT = "timeout"                    # counts toward the breaker
    NETWORK = "network"                    # connection refused/reset: counts toward the breaker
    CONTENT_FILTERED = "content_filtered"  # safety block: this request only
    BAD_REQUEST = "bad_request"            # other 4xx: this request only


@dataclass(frozen=True)
class ReplyTarget:
    """The message a generation answers."""

    author: str
    text: str
    is_human: bool = False


@dataclass(frozen=True)
class ChatRequest:
    """One generation: the rendered prompts plus structured hints.

    Real providers send ``system`` and ``user``; the offline provider composes its text from
    ``hints`` (persona, market, reply target …), so both paths see the same request.
    """

    system: str
    user: str
    max_tokens: int = 220
    temperature: float = 0.9
    hints: Mapping[str, Any] = field(default_factory=dict)
    reply_to: ReplyTarget | None = None
    estimated_prompt_tokens: int = 0
    stop: tuple[str, ...] = ()  # stop sequences (real providers; the offline composer ends by itself)

    def prompt_tokens_estimate(self) -> int:
        """The prompt's size in tokens: the caller's estimate, else ``llm.tokens``' from the texts."""
        if self.estimated_prompt_tokens:
            return self.estimated_prompt_tokens
        return estimate_chat_tokens(self.system, self.user)


@dataclass(frozen=True)
class RateLimitHeaders:
    """What the provider told us about its limits in the last response."""

    limit_requests: int | None = None
    remaining_requests: int | None = None
    reset_requests_s: float | None = None
    limit_tokens: int | None = None
    remaining_tokens: int | None = None
    reset_tokens_s: float | None = None
    retry_after_s: float | None = None

    @property
    def empty(self) -> bool:
        return all(v is None for v in (self.limit_requests, self.remaining_requests, self.limit_tokens,
                                       self.remaining_tokens, self.retry_after_s))


@dataclass(frozen=True)
class Completion:
    """A successful generation."""

    text: str
    provider: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    latency_s: float
    headers: RateLimitHeaders = field(default_factory=RateLimitHeaders)
    finish_reason: str = "stop"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ProviderError(Exception):
    """A classified provider failure; the message is one line and never holds a secret."""

    def __init__(self, provider: str, error_class: ErrorClass, message: str, *,
                 status: int | None = None, retry_after_s: float | None = None,
                 headers: RateLimitHeaders | None = None) -> None:
        super().__init__(f"{provider}: {error_class.value}: {' '.join(message.split())}")
        self.provider = provider
        self.error_class = error_class
        self.reason = " ".join(message.split())
        self.status = status
        self.retry_after_s = retry_after_s
        self.headers = headers or RateLimitHeaders()
