"""The offline provider: persona templates, no network — "offline — not an LLM"."""

from __future__ import annotations

import asyncio
import random
import time
import zlib

from piyasa_core.config.schema import ProviderConfig
from piyasa_core.llm.base import ProbeResult, Provider
from piyasa_core.llm.budget import Limits, LocalBudget
from piyasa_core.llm.offline_text import compose
from piyasa_core.llm.tokens import estimate_tokens
from piyasa_core.llm.types import ChatRequest, Completion, ErrorClass, ProviderError, RateLimitHeaders
from piyasa_core.secrets import Secret

OFFLINE_LABEL = "offline — not an LLM"


class OfflineProvider(Provider):
    """Composes Turkish market talk from the request's hints.

    Deterministic for a given seed (``[llm.providers.offline] seed`` plus the request's
    ``hints["seed"]``). Latency follows ``latency_ms`` ± ``latency_jitter_ms``; optional emulated
    limits (rpm, tpm, rpd, tpd) answer like a real provider's 429 so every router path can be
    exercised without keys.
    """

    name = "offline"
    needs_key = False
    is_llm = False

    def __init__(self, config: ProviderConfig, api_key: Secret | None = None) -> None:
        super().__init__(config, None)
        limits = Limits(config.rpm, config.tpm, config.rpd, config.tpd)
        self._emulated = LocalBudget({self.name: limits}, margin_s=0.0) if limits.any else None
        self._latency_rng = random.Random(config.seed)
        self.time_scale = 1.0  # the engine sets its time scale: emulated latency is simulated time

    @property
    def label(self) -> str:
        return OFFLINE_LABEL

    def _seed(self, request: ChatRequest) -> int:
        extra = request.hints.get("seed")
        if extra is None:
            extra = zlib.crc32(request.user.encode("utf-8"))
        return (self.config.seed * 1_000_003 + int(extra)) & 0x7FFFFFFF

    async def _generate(self, request: ChatRequest, started: float) -> Completion:
        prompt_tokens = request.prompt_tokens_estimate()
        reply = None
        if request.reply_to is not None:
            reply = (request.reply_to.author, request.reply_to.text, request.reply_to.is_human)
        text = compose(dict(request.hints), reply, self._seed(request))
        completion_tokens = estimate_tokens(text)
        if self._emulated is not None:
            reservation, wait = self._emulated.try_reserve(self.name, prompt_tokens + completion_tokens)
            if reservation is None:
                limits = self._emulated.limits[self.name]
                daily = wait > 120
                cls = ErrorClass.QUOTA_EXHAUSTED if daily else ErrorClass.RATE_LIMITED
                what = "daily quota (emulated rpd/tpd)" if daily else "per-minute limit (emulated rpm/tpm)"
                raise ProviderError(self.name, cls, f"429 {what}: try again in {wait:.1f}s", status=429,
                                    retry_after_s=wait,
                                    headers=RateLimitHeaders(limit_requests=int(limits.rpm) or None,
                                                             remaining_requests=0, retry_after_s=wait))
        mean, jitter = self.config.latency_ms, self.config.latency_jitter_ms
        if mean or jitter:
            delay = max(0.0, self._latency_rng.uniform(mean - jitter, mean + jitter)) / 1000
            await asyncio.sleep(delay / self.time_scale)
        return Completion(text=text, provider=self.name, model=self.model, prompt_tokens=prompt_tokens,
                          completion_tokens=completion_tokens, cached_tokens=0,
                          latency_s=time.perf_counter() - started, finish_reason="stop")

    def classify(self, exc: Exception) -> ProviderError:
        return self._unknown(exc)

    async def probe(self) -> ProbeResult:
        return ProbeResult(True, "templates ready (no network)")
