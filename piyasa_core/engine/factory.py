"""Assemble an engine (router, cache, market, transport) for one worker from configuration."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis.asyncio as aioredis

from piyasa_core.cache import Cache
from piyasa_core.config import Config
from piyasa_core.engine.clock import SimClock
from piyasa_core.engine.core import Engine
from piyasa_core.engine.market import HeadlineFeed, MarketContext, PriceTape, priced_symbols
from piyasa_core.llm.registry import build_router
from piyasa_core.llm.usage import UsageLedger
from piyasa_core.secrets import Secret
from piyasa_core.store import Store
from piyasa_core.telegram.base import Transport
from piyasa_core.telegram.console import ConsoleTransport


def build_market(config: Config) -> MarketContext:
    """The simulated tape over every bot's watchlist (same seed → same prices in every worker)."""
    settings = config.settings
    names = [item for bot in settings.bots for item in bot.watchlist]
    names += [topic for chat in settings.chats for topic in chat.topics]
    tape = PriceTape(priced_symbols(names), seed=settings.engine.market_seed)
    feed = HeadlineFeed(settings.engine.rss_feeds, refresh_seconds=settings.engine.rss_refresh) \
        if settings.engine.rss_feeds else None
    return MarketContext(tape, feed)


def redis_client(config: Config, health_check_interval: float = 0) -> Any | None:
    """An asyncio Redis client when `[cache] redis_url` is set; ``health_check_interval``: a connection
    idle that long is PINGed before use (a subscriber otherwise never notices a connection that died)."""
    url = config.settings.cache.redis_url
    return aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2,
                                   health_check_interval=health_check_interval) if url else None


def build_cache(config: Config, client: Any | None, run_id: str | None = None) -> Cache:
    """The worker's cache; a benchmark run's keys live under a prefix of their own."""
    from piyasa_core.bench.scope import run_cache_prefix

    cache = config.settings.cache
    prefix = cache.key_prefix if run_id is None else run_cache_prefix(cache.key_prefix, run_id)
    return Cache(l1_max_items=cache.l1_max_items, l1_ttl=cache.l1_ttl, l2=client, l2_ttl=cache.l2_ttl,
                 prefix=prefix)


def tokens_for(config: Config, bots: list[tuple[int, str, str | None]]) -> dict[int, Secret]:
    """Tokens of (bot id, username, token_env) triples, read from the environment/.env snapshot."""
    tokens: dict[int, Secret] = {}
    for bot_id, _username, token_env in bots:
        secret = config.secret(token_env) if token_env else None
        if secret:
            tokens[bot_id] = secret
    return tokens


def build_transport(config: Config, store: Store) -> Transport:
    """Console for console chats; Telegram (one ExtBot per token) when any chat uses Telegram."""
    from piyasa_core.engine.repo import load_chats, load_profiles
    from piyasa_core.store.db import session_scope

    with session_scope(store.sessions) as session:
        uses_telegram = any(c.transport == "telegram" and c.enabled for c in load_chats(session))
        bots = [(b.id, b.username, b.token_env) for b in load_profiles(session)]
    if not uses_telegram:
        return ConsoleTransport()
    from piyasa_core.telegram.sender import RoutingTransport, TelegramTransport  # PTB only when needed

    tg = config.settings.telegram
    telegram = TelegramTransport(tokens_for(config, bots), base_url=tg.api_base_url,
                                 group_per_minute=tg.group_messages_per_minute, per_second=tg.messages_per_second)
    return RoutingTransport(ConsoleTransport(), telegram)


def build_engine(config: Config, store: Store, *, worker_id: int = 0, total: int | None = None,
                 emit: Callable[[Any], None] | None = None, clock: SimClock | None = None,
                 transport: Transport | None = None, pacing: bool = True, seed: int | None = None,
                 run_id: str | None = None, **kwargs: Any) -> Engine:
    """An engine wired to the configured providers, cache and console/Telegram transport; with
    ``run_id``, inside that benchmark run's chats and cache prefix."""
    client = redis_client(config)
    clock = clock or SimClock(config.settings.engine.time_scale)
    # usage is counted on the engine's (simulated) day: the day the quota plan reads. The per-minute
    # budgets stay on the real clock, as a real provider's limits do.
    router = build_router(config, redis_client=client, ledger=UsageLedger(clock.now))
    for provider in router.providers.values():
        if hasattr(provider, "time_scale"):
            # emulated latency passes in simulated time: the clock's scale (a supervisor or a
            # benchmark may run the workers at another scale than the config's)
            provider.time_scale = clock.scale
    return Engine(config, store, router=router, transport=transport or build_transport(config, store),
                  cache=build_cache(config, client, run_id), clock=clock,
                  market=build_market(config), worker_id=worker_id,
                  total=total or config.settings.supervisor.workers, emit=emit, pacing=pacing, seed=seed,
                  run_id=run_id, **kwargs)
