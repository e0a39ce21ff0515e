"""The supervisor: owns the worker processes and is the single source of their state.

Workers are spawned (``multiprocess``, spawn context) with a snapshot of the environment. A reader
thread folds their events into state; ``snapshot()`` returns an immutable view. A monitor task
detects crashes (exit code, missed heartbeats) and restarts with capped exponential backoff plus
jitter, reset after a stable uptime. Stop = drain → SIGTERM → SIGKILL. Restart re-reads `.env`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import multiprocess as mp

from piyasa_core.bench.control import BenchController
from piyasa_core.bench.scope import RunScope
from piyasa_core.config import Config
from piyasa_core.engine.clock import start_epoch
from piyasa_core.engine.events import ChatDisabled, EngineMetrics, MessageFailed
from piyasa_core.engine.repo import load_chats, load_profiles
from piyasa_core.engine.types import ReplyJob, SentMessage
from piyasa_core.errors import ConfigError
from piyasa_core.store import open_store
from piyasa_core.store.db import session_scope
from piyasa_core.telegram.inbound import post_as_human
from piyasa_core.workers.messages import (
    CommandApplied,
    Drain,
    Heartbeat,
    SetBotEnabled,
    SetShards,
    SetRunning,
    SubmitJob,
    SwitchProvider,
    WorkerLog,
    WorkerSpec,
    WorkerStarted,
    WorkerStopped,
)
from piyasa_core.workers.provider_log import ProviderErrors
from piyasa_core.workers.roster import Roster
from piyasa_core.workers.reload import plan_reload
from piyasa_core.workers.slots import Slot, merge_providers, sampler
from piyasa_core.store.message_detail import message_detail
from piyasa_core.workers.feed_history import BotNames, message_item, recent_feed, sent_item
from piyasa_core.workers.snapshot import Snapshot, cache_totals
from piyasa_core.workers.worker_main import worker_main

log = logging.getLogger(__name__)
START_TIMEOUT_S = 60.0
SNAPSHOT_PUSH_S = 0.5  # snapshots pushed to `/events` subscribers (attached TUIs) twice a second


class Supervisor:
    """Starts, watches, restarts and stops the workers; answers the TUI and the control API."""

    def __init__(self, config: Config, *, workers: int | None = None, time_scale: float | None = None,
                 sim_start: float | None = None, log_dir: Path | None = None, feed_size: int = 500,
                 on_change: Callable[[str, Any], None] | None = None, scope: RunScope | None = None) -> None:
        """``sim_start`` (epoch seconds) overrides `[engine] start_at`; ``scope``: a benchmark run's
        chats and settings the workers start in (the one-shot `bench` command)."""
        self.config = config
        self.total = workers or config.settings.supervisor.workers
        self.time_scale = time_scale or config.settings.engine.time_scale
        self.sim_anchor = time.monotonic()
        engine = config.settings.engine
        self.sim_start = sim_start if sim_start is not None else start_epoch(engine.start_at, engine.timezone)
        self.scope = scope
        self.log_dir = log_dir or config.data_dir / "logs"
        self.ctx = mp.get_context("spawn")
        self.events: Any = self.ctx.Queue()
        self.slots = {i: Slot(i) for i in range(self.total)}
        self.lock = threading.RLock()
        self.feed: deque[FeedItem] = deque(maxlen=feed_size)
        self.notices: deque[tuple[float, str, str]] = deque(maxlen=100)
        self.running = True
        self.active_provider = config.settings.llm.active
        self.held_overrides: dict[Any, Any] = {}  # settings a restart could not apply: the workers keep these
        self.started_at = time.time()
        self.on_change = on_change
        self._closing = threading.Event()
        self._threads: list[threading.Thread] = []
        self._monitor: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._subscribers: list[asyncio.Queue[dict[str, Any]]] = []
        self.store = open_store(config)
        self.roster = Roster(config.settings.engine.timezone, self.total)  # every bot, for the bots screen
        self.provider_errors = ProviderErrors()
        self.bot_names = BotNames(self.store)  # usernames on feed lines (the filter matches them)
        self.chat_keys: tuple[str, ...] = ()
        self.metrics_dir: Path | None = None
        self.receiver: Any = None
        self._receiver_task: asyncio.Task[None] | None = None
        self._receiver_stop = asyncio.Event()
        self._webhook_runner: Any = None
        self.l2_configured = bool(config.settings.cache.redis_url)
        self.bench = BenchController(self)
        self.fleet: Any = None  # fleet mode (use_fleet): a fleet.host.FleetHost, else None

    # ── time ───────────────────────────────────────────────────────────────────────────────────
    def sim_now(self) -> float:
        return self.sim_start + (time.monotonic() - self.sim_anchor) * self.time_scale

    # ── lifecycle ──────────────────────────────────────────────────────────────────────────────
    async def start(self) -> None:
        """Spawn every worker and start watching them."""
        self._loop = asyncio.get_running_loop()
        from piyasa_core.metrics import prepare_multiproc_dir

        if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            self.metrics_dir = prepare_multiproc_dir(self.config.data_dir)
        else:
            self.metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])
        with session_scope(self.store.sessions) as session:
            self.chat_keys = tuple(c.key for c in load_chats(session) if c.enabled)
            self.roster.load(session)
        # the feed starts with today's conversation from the database (bots' and people's lines)
        self.feed.extend(recent_feed(self.store, self.sim_now(), self.config.settings.engine.timezone,
                                     self.feed.maxlen or 500))
        if self.fleet is not None:  # the first round registers the host and takes its shards: workers start with them
            await self.fleet.first_round()
        for slot in self.slots.values():
            self._spawn(slot)
        for target, name in ((self._read_events, "events"), (self._sample, "psutil")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        self._monitor = asyncio.create_task(self._watch())
        if self.fleet is not None:
            self.fleet.start()
        self._receiver_task = await self._start_receiver()

    def use_fleet(self, host_id: str, address: str) -> Any:
        """Fleet mode (``[fleet] enabled``): this supervisor runs the shards its leases give it."""
        from piyasa_core.fleet.host import FleetHost

        self.fleet = FleetHost(self, host_id, address)
        return self.fleet

    def apply_shards(self, worker_id: int, epochs: dict[int, int]) -> None:
        """Fleet mode: tell a worker the shards (→ lease epochs) it runs now."""
        with self.lock:
            self._send(self.slots[worker_id], SetShards(epochs))

    def submit_to(self, worker_id: int, job: ReplyJob) -> None:
        with self.lock:
            self._submit(self.slots[worker_id], job)

    def _submit(self, slot: Slot, job: ReplyJob) -> None:
        """Hand a person's reply job to a worker; one that is down (crashed, in backoff, restarting) gets it
        when it starts again."""
        if self._send(slot, SubmitJob(job)):
            return
        if self._closing.is_set():
            self.notice("warning", f"reply job for bot {job.bot_id} dropped: piyasa is stopping")
            return
        slot.held_jobs.append(job)
        self.notice("info", f"reply job for bot {job.bot_id} held: worker {slot.worker_id} is {slot.state}; "
                            "it gets it when it starts again")

    async def drain_host(self) -> dict[str, Any]:
        """Fleet mode: hand this host's shards over to the others, then stop (the serve exits)."""
        if self.fleet is None:
            raise ValueError("drain needs fleet mode ([fleet] enabled = true)")
        return self.fleet.drain()

    async def _start_receiver(self) -> asyncio.Task[None] | None:
        """The single Telegram update receiver (polling or webhook), when a chat uses Telegram."""
        from piyasa_core.engine.factory import tokens_for
        from piyasa_core.telegram.receiver import UpdateReceiver

        with session_scope(self.store.sessions) as session:
            uses_telegram = any(c.transport == "telegram" and c.enabled for c in load_chats(session))
            bots = load_profiles(session)
        if not uses_telegram:
            return None
        tg = self.config.settings.telegram
        tokens = tokens_for(self.config, [(b.id, b.username, b.token_env) for b in bots])
        receiver = UpdateReceiver(self.store, bots, tokens, route=self.route_job, base_url=tg.api_base_url,
                                  poll_timeout=tg.poll_timeout, tz_name=self.config.settings.engine.timezone,
                                  on_stored=self._show_person,
                                  may_poll=self.fleet.agent.receiver_window if self.fleet is not None else None)
        self.receiver = receiver
        if tg.mode == "webhook":
            secret = self.config.secret(tg.webhook_secret_env)
            if secret is None:
                self.notice("error", f"webhook mode needs {tg.webhook_secret_env}; no updates are received")
                return None
            from aiohttp import web

            await receiver.register_webhooks(tg.webhook_url, secret)
            runner = web.AppRunner(receiver.webhook_app(secret))
            await runner.setup()
            await web.TCPSite(runner, tg.webhook_listen, tg.webhook_port).start()
            self._webhook_runner = runner
            self.notice("info", f"telegram webhook listening on {tg.webhook_listen}:{tg.webhook_port}")
            return None
        self._receiver_stop = asyncio.Event()
        self.notice("info", f"telegram receiver: long polling for {len(tokens)} bot token(s)")
        return asyncio.create_task(receiver.run_polling(self._receiver_stop))

    def _spawn(self, slot: Slot, *, after_crash: bool = False) -> None:
        slot.generation += 1
        scope = self.scope
        overrides = {**self.config.overrides, **self.held_overrides, **(scope.overrides if scope else {})}
        if self.active_provider != self.config.settings.llm.active:  # switched at runtime: a new process keeps it
            overrides[("llm", "active")] = self.active_provider
        spec = WorkerSpec(
            worker_id=slot.worker_id, total=self.total, generation=slot.generation,
            config_path=str(self.config.config_path.resolve()),
            env_path=str(self.config.env_path.resolve()) if self.config.env_path else None,
            overrides=overrides, environ=self._worker_environ(),
            log_path=str(self.log_dir / f"worker-{slot.worker_id}.log"), parent_pid=os.getpid(),
            time_scale=self.time_scale, sim_start=self.sim_start, sim_anchor=self.sim_anchor,
            after_crash=after_crash, run_id=scope.run_id if scope else None,
            **(self.fleet.spec(slot.worker_id) if self.fleet is not None else {}))
        slot.commands = self.ctx.Queue()
        while slot.held_jobs:  # people's questions that came while it was down: answered first
            slot.commands.put(SubmitJob(slot.held_jobs.popleft()))
        slot.process = self.ctx.Process(target=worker_main, args=(spec, self.events, slot.commands),
                                        name=f"piyasa-worker-{slot.worker_id}", daemon=True)
        slot.process.start()
        slot.set_state("starting")
        slot.pid = slot.process.pid
        slot.started_at = time.time()
        slot.last_heartbeat = None

    def _worker_environ(self) -> dict[str, str]:
        environ = self.config.environ.to_dict()
        if self.metrics_dir is not None:
            environ["PROMETHEUS_MULTIPROC_DIR"] = str(self.metrics_dir)
        return environ

    def _send(self, slot: Slot, command: Any) -> bool:
        if slot.commands is None or slot.state not in ("starting", "running"):
            return False
        try:
            slot.commands.put(command)
            return True
        except (OSError, ValueError):
            return False

    async def _watch(self) -> None:
        last_sync = last_push = 0.0
        while not self._closing.is_set():
            now = time.time()
            policy = self.config.settings.supervisor
            with self.lock:
                for slot in self.slots.values():
                    self._check(slot, now, policy)
            if now - last_sync >= 1.0:
                self._sync_metrics()
                last_sync = now
            if self._subscribers and now - last_push >= SNAPSHOT_PUSH_S:
                self._publish({"type": "snapshot", "data": self.snapshot_dict()})
                last_push = now
            await asyncio.sleep(0.1)

    def _check(self, slot: Slot, now: float, policy: Any) -> None:
        proc = slot.process
        if slot.state in ("starting", "running") and proc is not None and proc.exitcode is not None:
            reason = slot.exit_reason or f"exited with code {proc.exitcode}"
            self._crashed(slot, reason, now, policy)
        elif slot.state == "running" and slot.last_heartbeat is not None and \
                now - slot.last_heartbeat > policy.heartbeat_timeout:
            self._kill(slot)
            self._crashed(slot, f"no heartbeat for {now - slot.last_heartbeat:.1f} s (killed)", now, policy)
        elif slot.state == "starting" and now - slot.started_at > START_TIMEOUT_S:
            self._kill(slot)
            self._crashed(slot, f"did not start within {START_TIMEOUT_S:.0f} s (killed)", now, policy)
        elif slot.state == "backoff" and slot.backoff_until is not None and now >= slot.backoff_until:
            self._spawn(slot, after_crash=True)
        elif slot.state == "running" and slot.backoff_level and now - slot.started_at >= policy.backoff_reset_after:
            slot.backoff_level = 0  # stable again: the next crash restarts quickly

    def _crashed(self, slot: Slot, reason: str, now: float, policy: Any) -> None:
        slot.restarts += 1
        slot.last_error = reason
        delay = min(policy.backoff_max, policy.backoff_initial * 2 ** slot.backoff_level)
        delay *= random.uniform(0.8, 1.2)
        slot.backoff_level += 1
        slot.backoff_until = now + delay
        slot.set_state("backoff")
        self.notice("error", f"worker {slot.worker_id} {reason}; restart {slot.restarts} in {delay:.1f} s")
        if slot.pid:
            self._metrics_dead(slot.pid)

    def _kill(self, slot: Slot) -> None:
        if slot.process is not None and slot.process.exitcode is None:
            slot.process.kill()
            slot.process.join(timeout=2)

    def _metrics_dead(self, pid: int) -> None:
        if self.metrics_dir is None:
            return
        from piyasa_core.metrics import mark_dead

        try:
            mark_dead(pid)
        except OSError:  # already removed
            pass

    def _sync_metrics(self) -> None:
        """Supervisor-side gauges: worker up/down, provider states (called by the monitor)."""
        if self.metrics_dir is None:
            return
        from piyasa_core.metrics import get_metrics
        from piyasa_core.workers.slots import STATE_RANK

        metrics = get_metrics()
        with self.lock:
            for slot in self.slots.values():
                metrics.worker_up(slot.worker_id, slot.state == "running")
                if slot.restarts > slot.restarts_reported:
                    for _ in range(slot.restarts - slot.restarts_reported):
                        metrics.worker_restarted(slot.worker_id)
                    slot.restarts_reported = slot.restarts
        snap = self.snapshot()
        for view in snap.providers:
            metrics.provider_state(view.name, view.state, STATE_RANK)
        if snap.day_plan:
            metrics.day_plan(snap.day_plan)

    def metrics(self) -> tuple[bytes, str]:
        """The merged Prometheus exposition of every process (for `/metrics`)."""
        from piyasa_core.metrics import render_latest

        self._sync_metrics()
        return render_latest()

    async def _stop_slots(self, slots: list[Slot]) -> None:
        """Drain → SIGTERM → SIGKILL, each step waiting ``stop_timeout``."""
        timeout = self.config.settings.supervisor.stop_timeout
        with self.lock:
            for slot in slots:
                self._send(slot, Drain())
                slot.set_state("draining")
        for step in ("drain", "term", "kill"):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and any(s.process and s.process.exitcode is None for s in slots):
                await asyncio.sleep(0.05)
            alive = [s for s in slots if s.process and s.process.exitcode is None]
            if not alive:
                break
            for slot in alive:
                if step == "drain":
                    slot.process.terminate()  # type: ignore[union-attr]
                elif step == "term":
                    slot.process.kill()  # type: ignore[union-attr]
        with self.lock:
            for slot in slots:
                slot.set_state("stopped")
                if slot.pid:
                    self._metrics_dead(slot.pid)

    async def stop(self) -> None:
        """Stop every worker cleanly (no orphans) and the supervisor's threads."""
        await self.bench.aclose()
        if self.fleet is not None:
            await self.fleet.stop()
        if self._receiver_task is not None:
            self._receiver_stop.set()
            await asyncio.gather(self._receiver_task, return_exceptions=True)
        if self._webhook_runner is not None:
            await self._webhook_runner.cleanup()
        await self._stop_slots(list(self.slots.values()))
        if self.fleet is not None:  # the workers drained: the others may take every shard at once
            await self.fleet.leave()
        self._closing.set()
        if self._monitor:
            self._monitor.cancel()
        for thread in self._threads:
            thread.join(timeout=2)
        self.store.dispose()

    # ── operator actions ───────────────────────────────────────────────────────────────────────
    async def preview_restart(self) -> dict[str, Any]:
        """What a restart would change now (values masked): applied and held keys, or the config's error."""
        try:
            fresh, changes = await asyncio.to_thread(self.config.reload)
        except ConfigError as exc:
            return {"ok": False, "changes": [], "held": [], "error": str(exc)}
        return {"ok": True, **plan_reload(self.config, fresh, changes).to_dict(), "error": None}

    async def restart_workers(self, worker_id: int | None = None) -> dict[str, Any]:
        """Re-read config, `.env` and the environment; restart all workers (or one) with them, applying every
        key it reports: the time scale and start re-anchor the simulated clock, the provider is switched.
        Settings only a restart of piyasa can change are held at their old values and reported as held.
        An invalid configuration keeps the running workers and reports the error."""
        try:
            fresh, changes = await asyncio.to_thread(self.config.reload)
        except ConfigError as exc:
            self.notice("error", f"restart refused, workers keep running: {exc}")
            return {"ok": False, "changes": [], "held": [], "error": str(exc)}
        plan = plan_reload(self.config, fresh, changes)
        if fresh.settings.llm.active != self.config.settings.llm.active:  # the operator edited it: it wins
            self.active_provider = fresh.settings.llm.active
        self._apply_clock(self.config.settings.engine, fresh.settings.engine)
        self.held_overrides = {**self.held_overrides, **plan.overrides}
        self.config = fresh
        targets = [self.slots[worker_id]] if worker_id is not None else list(self.slots.values())
        await self._stop_slots(targets)
        with self.lock:
            for slot in targets:
                slot.backoff_level = 0
                self._spawn(slot)
        shown = plan.to_dict()
        which = f"worker {worker_id}" if worker_id is not None else "all workers"
        self.notice("info", f"restarted {which}; " + (f"changed: {'; '.join(shown['changes'])}" if shown["changes"]
                                                       else "no changes"))
        for line in shown["held"]:
            self.notice("warning", line)
        return {"ok": True, **shown, "error": None}

    def _apply_clock(self, old: Any, new: Any) -> None:
        """A reloaded time scale or start moves the simulated clock (not while a benchmark owns it): the
        timeline goes on from now at the new scale, or restarts at the new start."""
        if self.scope is not None or (old.time_scale, old.start_at) == (new.time_scale, new.start_at):
            return
        start = start_epoch(new.start_at, new.timezone) if new.start_at != old.start_at else self.sim_now()
        self.time_scale, self.sim_start, self.sim_anchor = new.time_scale, start, time.monotonic()

    async def switch_provider(self, name: str) -> dict[str, Any]:
        """Make ``name`` the active provider in every worker (commands arrive within milliseconds)."""
        if name not in self.config.settings.llm.providers:
            raise ValueError(f"unknown provider {name!r}; known: {', '.join(self.config.settings.llm.providers)}")
        with self.lock:
            self.active_provider = name
            reached = [s.worker_id for s in self.slots.values() if self._send(s, SwitchProvider(name))]
        self.notice("info", f"active provider → {name}")
        return {"ok": True, "provider": name, "workers": reached}

    async def set_simulation(self, running: bool) -> dict[str, Any]:
        """Pause or resume every worker."""
        with self.lock:
            self.running = running
            for slot in self.slots.values():
                self._send(slot, SetRunning(running))
        self.notice("info", "simulation resumed" if running else "simulation paused")
        return {"ok": True, "running": running}

    async def set_bot_enabled(self, bot: int | str, enabled: bool) -> dict[str, Any]:
        """Turn a bot (id or username) on or off at runtime. Written to the database first (it stays so
        across restarts; `init` leaves it), then every worker re-reads who talks: the owner starts or
        stops the bot (a message in flight is still sent), the others stop counting it as a member."""
        with self.lock:
            record = self.roster.find(bot)
        if enabled and not record.enabled:
            raise ValueError(f"bot {record.username} is disabled in config.toml (enabled = false): set it to true "
                             "there and run piyasa-tui init")
        await asyncio.to_thread(self._write_bot_switch, record.bot_id, not enabled)
        reached = self.bot_switched(record.bot_id, enabled)
        if self.fleet is not None:
            self.fleet.relay_bot_switch(record.bot_id, enabled)
        owner = record.bot_id % self.total
        self.notice("info", f"bot {record.name} {'enabled' if enabled else 'disabled'} by the operator (worker {owner})")
        return {"ok": True, "bot": record.bot_id, "username": record.username, "enabled": enabled,
                "worker": owner, "workers": reached}

    def bot_switched(self, bot_id: int, enabled: bool) -> list[int]:
        """A bot was turned on or off (here, or on another host of the fleet): every local worker re-reads
        who talks; returns the workers reached."""
        with self.lock:
            if bot_id in self.roster.records:
                self.roster.set_operator_disabled(bot_id, not enabled)
            return [s.worker_id for s in self.slots.values() if self._send(s, SetBotEnabled(bot_id, enabled))]

    def _write_bot_switch(self, bot_id: int, disabled: bool) -> None:
        from piyasa_core.engine.repo import set_operator_disabled

        with session_scope(self.store.sessions) as session:
            set_operator_disabled(session, bot_id, disabled)

    def route_job(self, job: ReplyJob) -> None:
        """Hand a reply job to the worker that owns the bot (``bot_id % workers``; in a fleet, the worker
        of the bot's shard when this host holds it)."""
        with self.lock:
            if self.fleet is not None:
                worker = self.fleet.local_worker(job.bot_id)
                if worker is None:  # another host holds the bot's shard: it answers
                    if not self.fleet.relay_job(job, self._loop):
                        self.notice("warning", f"reply job for bot {job.bot_id} dropped: its shard is on another host")
                    return
                slot = self.slots[worker]
            else:
                slot = self.slots[job.bot_id % self.total]
            self._submit(slot, job)

    async def post_human(self, chat: str, text: str, name: str = "Operatör") -> dict[str, Any]:
        """Post into a chat as a person; the bots it mentions answer (through their workers)."""
        stored = await asyncio.to_thread(self._store_human, chat, text, name)
        await asyncio.to_thread(self._show_person, stored.message_id)
        for job in stored.jobs:
            self.route_job(job)
        return {"ok": True, "message_id": stored.message_id, "answering": [j.bot_id for j in stored.jobs]}

    def _store_human(self, chat: str, text: str, name: str) -> Any:
        with session_scope(self.store.sessions) as session:
            chats = {c.key: c for c in load_chats(session)}
            bots = load_profiles(session)
        if chat not in chats:
            raise ValueError(f"unknown chat {chat!r}; known: {', '.join(chats)}")
        with self.store.engine.begin() as conn:
            return post_as_human(conn, chat_id=chats[chat].id, text=text, human_name=name,
                                 created_at=self.sim_now(), bots=bots, tz_name=self.config.settings.engine.timezone)

    # ── events ─────────────────────────────────────────────────────────────────────────────────
    def notice(self, level: str, text: str) -> None:
        with self.lock:
            self.notices.append((time.time(), level, text))
        getattr(log, level if level in ("info", "warning", "error") else "info")(text)
        self._publish({"type": "notice", "data": {"level": level, "text": text}})

    def _read_events(self) -> None:
        while not self._closing.is_set():
            try:
                event = self.events.get(timeout=0.2)
            except queue.Empty:
                continue
            except (EOFError, OSError):
                return
            try:
                self._fold(event)
            except Exception:  # noqa: BLE001 - a bad event must not stop the reader
                log.exception("could not fold event %r", type(event).__name__)

    def _fold(self, event: Any) -> None:
        line = sent_item(event, self.bot_names) if isinstance(event, SentMessage) else None  # not a run's chats
        with self.lock:
            slot = self.slots.get(getattr(event, "worker_id", -1))
            if slot is None:
                return
            if isinstance(event, Heartbeat):
                if event.generation == slot.generation:
                    slot.last_heartbeat = time.time()
            elif isinstance(event, SentMessage):
                slot.record_sent(event.sent_at)
                if self.scope is None:  # a benchmark run's chats are not the community's
                    self.roster.note_sent(event.bot_id, event.sent_at, event.text)
                if line is not None:
                    self.feed.append(line)
            elif isinstance(event, EngineMetrics):
                slot.metrics = event
                self.provider_errors.note(event)
                if event.bots != slot.bots and all(b in self.roster.records for b in event.bots):
                    slot.bots = event.bots  # the operator turned a bot on or off
                    slot.bot_names = tuple(self.roster.records[b].name for b in event.bots)
            elif isinstance(event, CommandApplied):
                slot.applied[event.command] = (event.value, event.at)
            elif isinstance(event, WorkerStarted):
                if event.generation == slot.generation:
                    if slot.state == "starting":  # not when it is already being drained again
                        slot.set_state("running")
                    slot.pid = event.pid
                    slot.bots = event.bots
                    slot.bot_names = tuple(event.bot_names[b] for b in event.bots)
                    slot.last_heartbeat = time.time()
                    slot.exit_reason = ""
            elif isinstance(event, WorkerStopped):
                if event.generation == slot.generation and event.reason != "drained":
                    slot.exit_reason = event.reason
            elif isinstance(event, WorkerLog):
                if event.level in ("ERROR", "CRITICAL"):
                    slot.last_error = event.text
                self.notices.append((event.at, event.level.lower(), f"w{event.worker_id}: {event.text}"))
            elif isinstance(event, (MessageFailed, ChatDisabled)):
                text = f"w{event.worker_id}: chat {event.chat_key} disabled: {event.reason}" \
                    if isinstance(event, ChatDisabled) else f"w{event.worker_id}: message {event.message_id} failed: {event.reason}"
                self.notices.append((time.time(), "warning", text))
        if line is not None:
            self._publish({"type": "message", "data": line.__dict__})

    def _show_person(self, message_id: int | None) -> None:
        """A person's message (the operator's `/` post or a Telegram member's) joins the feed."""
        line = message_item(self.store, message_id) if message_id is not None else None
        if line is None:
            return
        with self.lock:
            self.feed.append(line)
        self._publish({"type": "message", "data": line.__dict__})

    async def message_detail(self, message_id: int) -> dict[str, Any]:
        """Everything stored about one message (LookupError when there is none)."""
        return await asyncio.to_thread(message_detail, self.store, message_id)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        """A queue of events for the control API's `/events` (bounded; old items dropped)."""
        q: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=1000)
        self._subscribers.append(q)
        return q

    def unsubscribe(self, q: asyncio.Queue[dict[str, Any]]) -> None:
        if q in self._subscribers:
            self._subscribers.remove(q)

    def _publish(self, item: dict[str, Any]) -> None:
        if self.on_change is not None:
            self.on_change(item["type"], item["data"])
        if not self._subscribers or self._loop is None:
            return

        def put() -> None:
            for q in list(self._subscribers):
                if q.full():
                    q.get_nowait()
                q.put_nowait(item)

        try:
            self._loop.call_soon_threadsafe(put)
        except RuntimeError:  # loop closed
            pass

    def _sample(self) -> None:
        sampler(self, self._closing)

    # ── view ───────────────────────────────────────────────────────────────────────────────────
    def snapshot(self) -> Snapshot:
        """The immutable state of everything, now."""
        now, sim_now = time.time(), self.sim_now()
        with self.lock:
            views = tuple(slot.view(now, sim_now) for slot in self.slots.values())
            metrics = [s.metrics for s in self.slots.values() if s.metrics is not None]
            providers = self.provider_errors.decorate(merge_providers(metrics, self.active_provider, self.config),
                                                      self.config)
            engine = self.config.settings.engine
            bots = self.roster.views(sim_now, {s.worker_id: (s.state, s.metrics) for s in self.slots.values()},
                                     (engine.hourly_min, engine.hourly_max))
            paused = next((m.paused for m in metrics if m.paused and m.paused != "paused by operator"), "")
            plans = [m.extra["plan"] for m in metrics if m.extra.get("plan")]  # every worker plans alike
            day_plan = max(plans, key=lambda p: p["at"]) if plans else None
            feed = tuple(self.feed)
            notices = tuple(self.notices)
        return Snapshot(
            at=now, sim_at=sim_now, started_at=self.started_at, workers=views, feed=feed, providers=providers,
            active_provider=self.active_provider, running=self.running, paused_reason=paused,
            sent_total=sum(v.sent_total for v in views), rate_1m=sum(v.rate_1m for v in views),
            rate_10m=sum(v.rate_10m for v in views), cache_totals=cache_totals(views),
            l2_configured=self.l2_configured, notices=notices, chats=self.chat_keys, time_scale=self.time_scale,
            benchmark=self.bench.status(), day_plan=day_plan, bots=bots,
            fleet=self.fleet.view() if self.fleet is not None else None)

    def snapshot_dict(self) -> dict[str, Any]:
        return self.snapshot().to_dict()

    async def benchmark(self, action: str, options: dict[str, Any]) -> dict[str, Any]:
        """Start (`options`: duration, time_scale, sample_every, out, formats, start_at), cancel or ask
        about the benchmark; see :mod:`piyasa_core.bench`."""
        trigger = str(options.pop("trigger", "api")) if isinstance(options, dict) else "api"
        if action == "history":  # past runs of the output directory (the benchmarks screen)
            from piyasa_core.bench.history import bench_history, bench_out_dir

            return await asyncio.to_thread(bench_history, bench_out_dir(self.config))
        return await self.bench.handle(action, dict(options), trigger=trigger)

    def clock_state(self) -> tuple[float, float, float, RunScope | None]:
        """(time scale, simulated start, its monotonic anchor, scope): what :meth:`set_clock` puts back."""
        with self.lock:
            return self.time_scale, self.sim_start, self.sim_anchor, self.scope

    async def set_clock(self, time_scale: float, sim_start: float, scope: RunScope | None,
                        anchor: float | None = None) -> None:
        """Re-anchor the simulated clock (scale and start; ``anchor`` continues an earlier timeline)
        and restart every worker on it, inside ``scope`` (a benchmark run) or the community's chats."""
        with self.lock:
            self.time_scale = time_scale
            self.sim_start = sim_start
            self.sim_anchor = time.monotonic() if anchor is None else anchor
            self.scope = scope
        targets = list(self.slots.values())
        await self._stop_slots(targets)
        with self.lock:
            for slot in targets:
                slot.backoff_level = 0
                self._spawn(slot)
        now = datetime.fromtimestamp(self.sim_now(), ZoneInfo(self.config.settings.engine.timezone))
        where = f"in benchmark {scope.run_id}'s chats" if scope else "in the community's chats"
        self.notice("info", f"simulated clock set: ×{time_scale:g}, now {now:%H:%M}; workers restarted {where}")
