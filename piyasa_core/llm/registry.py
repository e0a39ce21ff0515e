"""Build providers and the router from configuration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from piyasa_core.config import Config
from piyasa_core.llm.base import Provider
from piyasa_core.llm.budget import Limits, LocalBudget, make_budget
from piyasa_core.llm.gemini import GeminiProvider
from piyasa_core.llm.offline import OfflineProvider
from piyasa_core.llm.openai_like import GroqProvider, OpenAIProvider
from piyasa_core.llm.router import Router, RouterPolicy
from piyasa_core.llm.usage import UsageLedger

PROVIDER_CLASSES: dict[str, type[Provider]] = {
    "groq": GroqProvider,
    "openai": OpenAIProvider,
    "gemini": GeminiProvider,
    "offline": OfflineProvider,
}


def build_providers(config: Config) -> dict[str, Provider]:
    """Every provider of `[llm.providers]`, each with its key from the environment/.env."""
    providers: dict[str, Provider] = {}
    for name, provider_config in config.settings.llm.providers.items():
        key = config.secret(provider_config.api_key_env) if provider_config.api_key_env else None
        providers[name] = PROVIDER_CLASSES[name](provider_config, key)
    return providers


def router_policy(config: Config) -> RouterPolicy:
    llm = config.settings.llm
    return RouterPolicy(breaker_threshold=llm.breaker_threshold, breaker_cooldown=llm.breaker_cooldown,
                        breaker_cooldown_max=llm.breaker_cooldown_max,
                        default_retry_after=llm.default_retry_after, max_budget_wait=llm.max_budget_wait)


def build_router(config: Config, *, redis_client: Any | None = None, ledger: UsageLedger | None = None,
                 providers: dict[str, Provider] | None = None, budget_clock: Callable[[], float] | None = None,
                 **kwargs: Any) -> Router:
    """The router of one worker: shared budgets through Redis when given, else a 1/N share (on
    ``budget_clock`` when given: epoch seconds, by default the real clock; Redis uses its own)."""
    llm = config.settings.llm
    workers = config.settings.supervisor.workers
    budget = make_budget(llm.providers, workers=workers, redis_client=redis_client,
                         prefix=config.settings.cache.key_prefix, margin_s=llm.budget_margin)
    if budget_clock is not None and isinstance(budget, LocalBudget):
        budget.clock = budget_clock
    limits = {name: Limits.from_config(cfg) for name, cfg in llm.providers.items()}
    if ledger is not None and isinstance(budget, LocalBudget):
        for name in llm.providers:  # this worker's share of what today already used
            used = ledger.today(name)
            budget.preload_daily(name, used.requests // max(1, workers), used.tokens // max(1, workers))
    return Router(providers or build_providers(config), llm.active, list(llm.fallback), budget,
                  limits=limits, policy=router_policy(config), ledger=ledger, **kwargs)
