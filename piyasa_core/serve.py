"""`piyasa-tui --serve`: the supervisor, the update receiver and the control API, with no screen.

Structured logs (one JSON object per line) go to stdout; SIGTERM/SIGINT stop everything cleanly.
Never imports Textual (a test checks it in a subprocess).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys
import time
from typing import Any

from piyasa_core.config import Config
from piyasa_core.secrets import install_log_redaction

log = logging.getLogger("piyasa.serve")
STATUS_EVERY_S = 10.0


class JsonFormatter(logging.Formatter):
    """One JSON object per log line: ts, level, logger, msg (and exc when there is one)."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname.lower(),
                                   "logger": record.name, "msg": record.getMessage()}
        if record.exc_text or record.exc_info:
            payload["exc"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(payload, ensure_ascii=False)


def setup_json_logging(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    install_log_redaction(root)


def active_now(config: Config, now: float | None = None, off: frozenset[str] = frozenset()) -> str:
    """Which enabled bots are inside their active hours now, and when the others start; ``off``: the
    usernames the operator disabled (bots.operator_disabled)."""
    import random
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from piyasa_core.engine.pacing import BotPacer
    from piyasa_core.engine.types import BotProfile

    now = time.time() if now is None else now
    zone = ZoneInfo(config.settings.engine.timezone)
    active, later = [], []
    for bot in config.settings.bots:
        if not bot.enabled or bot.username in off:
            continue
        pacer = BotPacer(BotProfile(0, bot.username, bot.name, bot.persona, active_hours=tuple(bot.active_hours)),
                         config.settings.engine, random.Random(0))
        if pacer.is_active(now):
            active.append(bot.name)
        else:
            starts = datetime.fromtimestamp(pacer.next_active(now), zone).strftime("%H:%M")
            later.append(f"{bot.name} at {starts}")
    zone_name = config.settings.engine.timezone
    text = f"active now ({zone_name}): {', '.join(active) or 'nobody'}"
    return text + (f"; later: {', '.join(later)}" if later else "")


async def serve(config: Config, *, port: int | None = None, ready: asyncio.Event | None = None,
                stop: asyncio.Event | None = None) -> int:
    """Run until SIGTERM/SIGINT (or ``stop``); returns the exit code."""
    from piyasa_core.control import ControlServer, resolve_token
    from piyasa_core.workers.supervisor import Supervisor

    control = config.settings.control
    token = resolve_token(os.environ.get(control.token_env) or config.environ.get(control.token_env),
                          config.data_dir)
    supervisor = Supervisor(config)
    stop = stop or asyncio.Event()
    fleet = config.settings.fleet
    if fleet.enabled:
        from piyasa_core.fleet.agent import default_host_id

        listen = control.port if port is None else port
        host_id = fleet.host_id or default_host_id(listen or os.getpid())
        supervisor.use_fleet(host_id, f"{control.host}:{listen}").on_drained = stop.set
        log.info("fleet mode: host %s, %d shards, lease %.0f s", host_id, fleet.shards, fleet.lease_ttl)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await supervisor.start()
    server = ControlServer(supervisor, token, control.host, control.port if port is None else port,
                           data_dir=config.data_dir)
    bound = await server.start()
    if supervisor.fleet is not None:  # what the other hosts show for this one
        supervisor.fleet.agent.address = f"{control.host}:{bound}"
    log.info("control API on http://%s:%d (bearer token: %s or %s)", control.host, bound, control.token_env,
             config.data_dir / "control.token")
    off = frozenset(r.username for r in supervisor.roster.records.values() if r.operator_disabled)
    log.info(active_now(config, supervisor.sim_now(), off))  # on the simulated clock ([engine] start_at)
    if ready is not None:
        ready.set()
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=STATUS_EVERY_S)
            except asyncio.TimeoutError:
                snap = supervisor.snapshot()
                states = ",".join(f"{w.worker_id}:{w.state}" for w in snap.workers)
                log.info("status sent=%d rate=%.1f/min workers=%s provider=%s%s", snap.sent_total, snap.rate_1m,
                         states, snap.active_provider, f" paused={snap.paused_reason}" if snap.paused_reason else "")
    finally:
        log.info("stopping: draining workers")
        started = time.monotonic()
        await server.stop()
        await supervisor.stop()
        log.info("stopped in %.1f s", time.monotonic() - started)
    return 0
