"""`piyasa-tui check`: validate configuration and reach what is configured, one row per item."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

import redis

from piyasa_core.config import Config
from piyasa_core.errors import StoreUnavailable
from piyasa_core.llm.registry import build_providers
from piyasa_core.secrets import mask_url, redact
from piyasa_core.store import open_store
from piyasa_core.store.db import check_reachable
from piyasa_core.store.migrate import current_revision, head_revision

Status = Literal["ok", "warn", "fail", "off"]


@dataclass(frozen=True)
class CheckRow:
    """One line of the check table."""

    item: str
    status: Status
    detail: str


def check_config(config: Config) -> list[CheckRow]:
    """The configuration itself (it already validated when it loaded)."""
    s = config.settings
    env = f", {config.env_path}" if config.env_path else ", no .env"
    rows = [CheckRow("config", "ok", f"{config.config_path}{env}")]
    enabled = [b for b in s.bots if b.enabled]
    rows.append(CheckRow("bots", "ok" if enabled else "warn",
                         f"{len(enabled)} enabled of {len(s.bots)}: "
                         + ", ".join(b.username for b in enabled)))
    chats = [c for c in s.chats if c.enabled]
    rows.append(CheckRow("chats", "ok" if chats else "warn",
                         ", ".join(f"{c.key} ({s.chat_transport(c)})" for c in chats) or "none enabled"))
    rows.append(CheckRow("workers", "ok", f"{s.supervisor.workers} (bots sharded by bot_id % {s.supervisor.workers})"))
    chain = [s.llm.active, *[p for p in s.llm.fallback if p != s.llm.active]]
    rows.append(CheckRow("llm", "ok", "chain " + " → ".join(chain)))
    return rows


def check_database(config: Config) -> CheckRow:
    """Reach the database and compare its schema revision with this version's."""
    try:
        store = open_store(config)
        try:
            version = check_reachable(store.engine)
            current = current_revision(store.engine)
        finally:
            store.dispose()
    except StoreUnavailable as exc:
        return CheckRow("database", "fail", str(exc))
    head = head_revision()
    if current == head:
        schema = f"schema {current} (current)"
        status: Status = "ok"
    elif current is None:
        schema = "empty: run `piyasa-tui init`"
        status = "warn"
    else:
        schema = f"schema {current}, this version needs {head}: run `piyasa-tui init`"
        status = "warn"
    return CheckRow("database", status, f"{store.url} · {version} · {schema}")


def check_redis(config: Config) -> CheckRow:
    """Ping Redis when the L2 cache is configured."""
    url = config.settings.cache.redis_url
    if not url:
        return CheckRow("redis (L2 cache)", "off", "not configured (set [cache] redis_url or REDIS_URL)")
    shown = mask_url(url)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            client.ping()
            version = client.info("server").get("redis_version", "?")
        finally:
            client.close()
    except (redis.RedisError, ValueError) as exc:
        return CheckRow("redis (L2 cache)", "fail", f"cannot reach {shown}: {redact(str(exc))}")
    return CheckRow("redis (L2 cache)", "ok", f"{shown} · Redis {version}")


def _limits_text(rpm: int, tpm: int, rpd: int, tpd: int) -> str:
    parts = [f"{v:,} {k}" for k, v in (("rpm", rpm), ("tpm", tpm), ("rpd", rpd), ("tpd", tpd)) if v]
    return "budget " + ", ".join(parts) if parts else "no budget"


async def check_providers(config: Config) -> list[CheckRow]:
    """Probe every configured provider without generating (a models lookup)."""
    llm = config.settings.llm
    chain = [llm.active, *[p for p in llm.fallback if p != llm.active]]
    providers = build_providers(config)

    async def one(name: str) -> CheckRow:
        provider = providers[name]
        cfg = provider.config
        try:
            result = await asyncio.wait_for(provider.probe(), timeout=cfg.timeout + 2)
            ok, detail = result.ok, result.detail
            state = "ok" if ok else (result.error.error_class.value if result.error else "error")
        except asyncio.TimeoutError:
            ok, detail, state = False, f"no answer within {cfg.timeout:g} s", "timeout"
        finally:
            await provider.aclose()
        role = "active" if name == llm.active else ("fallback" if name in chain else "not in chain")
        status: Status = "ok" if ok else ("fail" if name in chain else "warn")
        where = f" · {cfg.base_url}" if cfg.base_url else ""
        text = (f"{provider.label} · {role} · {state}: {detail} · "
                f"{_limits_text(cfg.rpm, cfg.tpm, cfg.rpd, cfg.tpd)}{where}")
        return CheckRow(f"llm {name}", status, text)

    return list(await asyncio.gather(*(one(name) for name in providers)))


async def check_telegram(config: Config) -> list[CheckRow]:
    """``getMe`` for every enabled bot that posts to a Telegram chat (tokens are never shown)."""
    from telegram.error import InvalidToken, TelegramError

    from piyasa_core.telegram.sender import make_bot

    settings = config.settings
    bots = [b for b in settings.bots if b.enabled and any(
        c.enabled and settings.chat_transport(c) == "telegram" for c in settings.bot_chats(b))]
    if not bots:
        return [CheckRow("telegram", "off", "not used: every enabled chat is on the console transport")]

    async def one(bot_cfg) -> CheckRow:  # type: ignore[no-untyped-def]
        label = f"telegram @{bot_cfg.username}"
        token = config.secret(bot_cfg.token_env) if bot_cfg.token_env else None
        if token is None:
            return CheckRow(label, "fail", f"token missing: {bot_cfg.token_env or 'token_env'} is not set")
        bot = make_bot(token, settings.telegram.api_base_url, rate_limited=False)
        try:
            me = await asyncio.wait_for(bot.get_me(), timeout=15)
        except InvalidToken:
            return CheckRow(label, "fail", f"token rejected by Telegram (401) — check {bot_cfg.token_env}")
        except (TelegramError, asyncio.TimeoutError, OSError) as exc:
            return CheckRow(label, "fail", f"getMe failed: {redact(str(exc)) or type(exc).__name__}")
        finally:
            try:
                await bot.shutdown()
            except Exception:  # noqa: BLE001 - best effort
                pass
        if (me.username or "").lower() != bot_cfg.username.lower():
            return CheckRow(label, "warn", f"the token belongs to @{me.username}, config says @{bot_cfg.username}")
        privacy = "reads all group messages" if me.can_read_all_group_messages else \
            "privacy mode on: sees only mentions, replies and commands"
        return CheckRow(label, "ok", f"getMe ok (id {me.id}) · {privacy}")

    return list(await asyncio.gather(*(one(b) for b in bots)))


def run_checks(config: Config) -> list[CheckRow]:
    """Every check, in display order."""
    rows = [*check_config(config), check_database(config), check_redis(config)]

    async def remote() -> list[CheckRow]:
        providers, telegram = await asyncio.gather(check_providers(config), check_telegram(config))
        return [*providers, *telegram]

    return rows + asyncio.run(remote())
