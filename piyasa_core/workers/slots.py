"""Per-worker mutable state inside the supervisor, and the pieces that turn it into views."""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import psutil

from piyasa_core.config import Config
from piyasa_core.engine.events import EngineMetrics
from piyasa_core.workers.snapshot import ProviderView, WorkerView

if TYPE_CHECKING:
    from piyasa_core.workers.supervisor import Supervisor

SPARK_BUCKET_S = 10.0
SPARK_BUCKETS = 12
STATE_RANK = {"unknown": -1, "ok": 0, "cooling": 1, "down": 2, "exhausted": 3, "model_missing": 4, "auth_error": 5,
              "not_configured": 6}
"""How bad a provider state is; the worst a worker reports is shown (unknown loses to any known one)."""


HELD_JOBS = 200
"""Reply jobs kept for a worker between a crash and its restart (the oldest go first beyond it)."""


class Slot:
    """One worker position (0..N-1) across its restarts."""

    def __init__(self, worker_id: int) -> None:
        self.worker_id = worker_id
        self.process: Any = None
        self.commands: Any = None
        self.pid: int | None = None
        self.generation = 0
        self.state = "stopped"
        self.state_since = time.time()
        self.started_at = 0.0
        self.restarts = 0
        self.restarts_reported = 0
        self.backoff_level = 0
        self.backoff_until: float | None = None
        self.last_heartbeat: float | None = None
        self.last_error = ""
        self.exit_reason = ""
        self.bots: tuple[int, ...] = ()
        self.bot_names: tuple[str, ...] = ()
        self.sent_total = 0
        self.sends: deque[float] = deque()  # simulated send times of the last ten minutes
        self.counting_since: float | None = None  # simulated time the rates started counting
        self.metrics: EngineMetrics | None = None
        self.applied: dict[str, tuple[str, float]] = {}  # command → (value, when the worker applied it)
        self.cpu_percent: float | None = None
        self.rss_bytes: int | None = None
        self.held_jobs: deque[Any] = deque(maxlen=HELD_JOBS)  # people's reply jobs waiting for a restart

    def set_state(self, state: str) -> None:
        if state != self.state:
            self.state = state
            self.state_since = time.time()
        if state != "backoff":
            self.backoff_until = None

    def record_sent(self, sim_at: float) -> None:
        self.sent_total += 1
        self.sends.append(sim_at)

    def view(self, now: float, sim_now: float) -> WorkerView:
        if self.counting_since is None or (self.sends and self.sends[-1] > sim_now + 1):
            # the first look, or the simulated clock went back (a benchmark ran on its own): count afresh
            self.sends.clear()
            self.counting_since = sim_now
        while self.sends and self.sends[0] < sim_now - 600:
            self.sends.popleft()
        # the ten-minute rate over the minutes counted so far (at least one): not divided by ten at the start
        minutes = min(10.0, max(1.0, (sim_now - self.counting_since) / 60))
        last_1m = sum(1 for t in self.sends if t >= sim_now - 60)
        spark = [0] * SPARK_BUCKETS
        for t in self.sends:
            age = sim_now - t
            index = SPARK_BUCKETS - 1 - int(age // SPARK_BUCKET_S)
            if 0 <= index < SPARK_BUCKETS:
                spark[index] += 1
        metrics = self.metrics
        alive = self.state in ("starting", "running", "draining")
        return WorkerView(
            worker_id=self.worker_id, pid=self.pid if alive else None, state=self.state,
            state_since=self.state_since, uptime_s=(now - self.started_at) if self.state == "running" else 0.0,
            restarts=self.restarts, backoff_until=self.backoff_until, bots=self.bots, bot_names=self.bot_names,
            sent_total=self.sent_total, rate_1m=float(last_1m), rate_10m=len(self.sends) / minutes,
            spark=tuple(spark), cache=dict(metrics.cache) if metrics else {},
            cpu_percent=self.cpu_percent if alive else None, rss_bytes=self.rss_bytes if alive else None,
            last_error=self.last_error, last_heartbeat=self.last_heartbeat,
            floor_alarms=metrics.floor_alarms if metrics else (), counts=dict(metrics.counts) if metrics else {})


def merge_providers(metrics: list[EngineMetrics], active: str, config: Config) -> tuple[ProviderView, ...]:
    """One view per provider over every worker's router: the worst state wins (with its reason),
    usage is summed; providers no worker reported yet show their configuration."""
    by_name: dict[str, list[Any]] = {}
    for m in metrics:
        for status in m.providers:
            by_name.setdefault(status.name, []).append(status)
    views = []
    chain = [active, *[p for p in config.settings.llm.fallback if p != active]]
    for name, cfg in config.settings.llm.providers.items():
        reports = by_name.get(name, [])
        worst = max(reports, key=lambda s: STATE_RANK.get(s.state, 0)) if reports else None
        headers = max(reports, key=lambda s: s.requests).headers if reports else None
        errors: dict[str, int] = {}
        for status in reports:
            for key, value in status.errors.items():
                errors[key] = errors.get(key, 0) + value
        eta = min((s.projected_exhaustion for s in reports if s.projected_exhaustion), default=None)
        views.append(ProviderView(
            name=name, model=cfg.model, label=worst.label if worst else name, is_llm=name != "offline",
            active=name == active, in_chain=name in chain, state=worst.state if worst else "ok",
            reason=worst.reason if worst else "", until=worst.until if worst else None,
            breaker=worst.breaker if worst else "closed",
            remaining_requests=headers.remaining_requests if headers else None,
            limit_requests=headers.limit_requests if headers else None,
            remaining_tokens=headers.remaining_tokens if headers else None,
            limit_tokens=headers.limit_tokens if headers else None,
            reset_s=(headers.reset_requests_s or headers.reset_tokens_s) if headers else None,
            requests_today=sum(s.requests_today for s in reports), tokens_today=sum(s.tokens_today for s in reports),
            tpd=cfg.tpd, projected_exhaustion=eta, errors=errors))
    return tuple(views)


def sampler(supervisor: Supervisor, closing: threading.Event, interval: float = 1.0) -> None:
    """CPU % and RSS of every live worker, at most once a second, off any UI thread."""
    processes: dict[int, psutil.Process] = {}
    while not closing.wait(interval):
        with supervisor.lock:
            pids = {s.worker_id: s.pid for s in supervisor.slots.values() if s.pid and s.state == "running"}
        readings: dict[int, tuple[float | None, int | None]] = {}
        for worker_id, pid in pids.items():
            try:
                proc = processes.get(pid)
                if proc is None:
                    proc = processes[pid] = psutil.Process(pid)
                    proc.cpu_percent(None)  # the first reading primes the counter
                    readings[worker_id] = (None, proc.memory_info().rss)
                else:
                    readings[worker_id] = (proc.cpu_percent(None), proc.memory_info().rss)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                processes.pop(pid, None)
        live = set(pids.values())
        for pid in [p for p in processes if p not in live]:
            processes.pop(pid)
        with supervisor.lock:
            for worker_id, (cpu, rss) in readings.items():
                slot = supervisor.slots[worker_id]
                slot.cpu_percent, slot.rss_bytes = cpu, rss
