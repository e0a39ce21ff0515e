"""Prometheus metrics for the supervisor and its worker processes (multiprocess mode).

Ordering matters: prometheus_client decides at *its* import time whether values live in
per-process mmap files, so ``PROMETHEUS_MULTIPROC_DIR`` must be in the environment before
prometheus_client is imported in any process.  Hence:

1. the supervisor calls :func:`prepare_multiproc_dir` first (before starting workers and
   before anything imports prometheus_client); spawned workers inherit the variable;
2. every process then calls :func:`get_metrics` (this module only imports prometheus_client
   inside functions, so importing ``piyasa_core.metrics`` itself is always safe);
3. the supervisor serves :func:`render_latest` on ``/metrics`` and calls :func:`mark_dead`
   with a worker's pid once it has exited.

See docs/metrics.md for the metric catalogue and the gauge multiprocess modes.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path
from typing import Any, Iterable

__all__ = ["METRIC_NAMES", "ENV_VAR", "Metrics", "get_metrics", "prepare_multiproc_dir",
           "render_latest", "mark_dead", "multiprocess_enabled"]

ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"

METRIC_NAMES: tuple[str, ...] = (
    "piyasa_messages_sent_total",
    "piyasa_messages_failed_total",
    "piyasa_messages_skipped_total",
    "piyasa_generation_seconds",
    "piyasa_end_to_end_seconds",
    "piyasa_llm_requests_total",
    "piyasa_llm_tokens_total",
    "piyasa_ratelimit_remaining",
    "piyasa_cache_requests_total",
    "piyasa_telegram_requests_total",
    "piyasa_worker_up",
    "piyasa_worker_restarts_total",
    "piyasa_provider_state",
    "piyasa_plan_scale",
    "piyasa_plan_affordable_messages",
    "piyasa_plan_messages_per_hour",
)

GENERATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0, 15.0,
                      20.0, 30.0)
END_TO_END_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0,
                      90.0, 120.0)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def prepare_multiproc_dir(data_dir: Path) -> Path:
    """Create a fresh ``<data_dir>/metrics/<run-id>``, export it as ``PROMETHEUS_MULTIPROC_DIR``
    and remove the directories of earlier runs (except those of a still-running owner pid).

    Call in the supervisor before any worker starts and before prometheus_client is imported.
    """
    root = Path(data_dir).expanduser().resolve() / "metrics"
    root.mkdir(parents=True, exist_ok=True)
    run_dir = root / f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}"
    for old in root.iterdir():
        if old == run_dir or not old.is_dir():
            continue
        owner = old.name.rsplit("-", 1)[-1]
        if owner.isdigit() and int(owner) != os.getpid() and _pid_alive(int(owner)):
            continue  # another live supervisor's run: leave it alone
        shutil.rmtree(old, ignore_errors=True)
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir()
    os.environ[ENV_VAR] = str(run_dir)
    return run_dir


def multiprocess_enabled() -> bool:
    """True when the multiprocess directory is configured and exists."""
    path = os.environ.get(ENV_VAR)
    return bool(path) and os.path.isdir(path)  # type: ignore[arg-type]


def _gauge_mode(preferred: str, fallback: str) -> str:
    from prometheus_client import Gauge
    return preferred if preferred in Gauge._MULTIPROC_MODES else fallback


class Metrics:
    """All piyasa metrics of this process plus small recording helpers.

    Metrics are created with ``registry=None``: in multiprocess mode values go to the mmap
    files regardless, and the exposition is built from those files by :func:`render_latest`.
    """

    def __init__(self) -> None:
        from prometheus_client import Counter, Gauge, Histogram, values

        if os.environ.get(ENV_VAR) and not getattr(values.ValueClass, "_multiprocess", False):
            raise RuntimeError(
                f"prometheus_client was imported before {ENV_VAR} was set; call "
                "prepare_multiproc_dir() before anything imports prometheus_client")
        c: Any = lambda name, doc, labels: Counter(name, doc, labels, registry=None)  # noqa: E731
        # Counter() wants the name without "_total"; it adds the suffix itself.
        self.messages_sent = c("piyasa_messages_sent", "Messages delivered to Telegram.",
                               ("worker", "bot", "chat"))
        self.messages_failed = c("piyasa_messages_failed", "Messages that failed (by error class).",
                                 ("worker", "reason"))
        self.messages_skipped = c("piyasa_messages_skipped",
                                  "Messages skipped (duplicate, promise, rejected, ...).",
                                  ("worker", "reason"))
        self.generation = Histogram("piyasa_generation_seconds", "LLM generation latency.",
                                    ("worker", "provider"), buckets=GENERATION_BUCKETS,
                                    registry=None)
        self.end_to_end = Histogram("piyasa_end_to_end_seconds",
                                    "Due time to sent time (simulated seconds).", ("worker",),
                                    buckets=END_TO_END_BUCKETS, registry=None)
        self.llm_requests = c("piyasa_llm_requests", "LLM requests by outcome (ok or error class).",
                              ("worker", "provider", "outcome"))
        self.llm_tokens = c("piyasa_llm_tokens", "LLM tokens (prompt, completion, cached).",
                            ("worker", "provider", "kind"))
        self.ratelimit_mode = _gauge_mode("livemostrecent", "liveall")
        self.ratelimit_remaining = Gauge(
            "piyasa_ratelimit_remaining", "Provider rate-limit remaining (requests, tokens).",
            ("worker", "provider", "kind"), multiprocess_mode=self.ratelimit_mode, registry=None)
        self.cache_requests = c("piyasa_cache_requests", "Cache lookups by layer and result.",
                                ("worker", "layer", "result"))
        self.telegram_requests = c("piyasa_telegram_requests", "Telegram Bot API requests.",
                                   ("worker", "method", "outcome"))
        self.worker_up_gauge = Gauge("piyasa_worker_up", "1 while the worker process runs.",
                                     ("worker",), multiprocess_mode="max", registry=None)
        self.worker_restarts = c("piyasa_worker_restarts", "Worker restarts by the supervisor.",
                                 ("worker",))
        self.provider_state_gauge = Gauge(
            "piyasa_provider_state", "1 for the provider's current state, 0 for the others.",
            ("provider", "state"), multiprocess_mode="max", registry=None)
        g: Any = lambda name, doc, labels: Gauge(name, doc, labels, multiprocess_mode="mostrecent"  # noqa: E731
                                                 if "mostrecent" in Gauge._MULTIPROC_MODES else "max", registry=None)
        self.plan_scale = g("piyasa_plan_scale", "The day's LLM plan: every bot's pace × this (1: not held back), "
                            "by the chain's first provider.", ("provider",))
        self.plan_affordable = g("piyasa_plan_affordable_messages",
                                 "Messages a provider's daily quotas still afford today (absent: no quota).",
                                 ("provider",))
        self.plan_per_hour = g("piyasa_plan_messages_per_hour", "The plan's bot messages per hour on a provider.",
                               ("provider",))
        self._cache_seen: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- worker side
    def message_sent(self, worker: Any, bot: Any, chat: Any, generation_s: float | None,
                     provider: str | None, e2e_s: float | None, tokens_in: int = 0,
                     tokens_out: int = 0, tokens_cached: int = 0) -> None:
        w, p = str(worker), provider or "none"
        self.messages_sent.labels(w, str(bot), str(chat)).inc()
        if generation_s is not None:
            self.generation.labels(w, p).observe(max(0.0, generation_s))
        if e2e_s is not None:
            self.end_to_end.labels(w).observe(max(0.0, e2e_s))
        for kind, n in (("prompt", tokens_in), ("completion", tokens_out),
                        ("cached", tokens_cached)):
            if n and n > 0:
                self.llm_tokens.labels(w, p, kind).inc(n)

    def message_failed(self, worker: Any, reason: str) -> None:
        self.messages_failed.labels(str(worker), reason).inc()

    def message_skipped(self, worker: Any, reason: str, n: int = 1) -> None:
        if n > 0:
            self.messages_skipped.labels(str(worker), reason).inc(n)

    def llm_request(self, worker: Any, provider: str, outcome: str = "ok") -> None:
        self.llm_requests.labels(str(worker), provider, outcome).inc()

    def ratelimit(self, worker: Any, provider: str, requests: float | None,
                  tokens: float | None) -> None:
        for kind, value in (("requests", requests), ("tokens", tokens)):
            if value is not None:
                self.ratelimit_remaining.labels(str(worker), provider, kind).set(value)

    def cache_delta(self, worker: Any, layer: str, hits: int, misses: int,
                    errors: int = 0) -> None:
        """Feed cumulative per-process cache counters; increments by the change since the
        last call (a value below the last one means the counters were reset)."""
        w = str(worker)
        with self._lock:
            for result, total in (("hit", hits), ("miss", misses), ("error", errors)):
                key = (w, layer, result)
                last = self._cache_seen.get(key, 0)
                delta = total - last if total >= last else total
                self._cache_seen[key] = total
                if delta > 0:
                    self.cache_requests.labels(w, layer, result).inc(delta)

    def cache_stats(self, worker: Any, stats: dict[str, Any]) -> None:
        """Convenience: feed a ``CacheStats.as_dict()`` snapshot."""
        self.cache_delta(worker, "l1", int(stats.get("l1_hits") or 0),
                         int(stats.get("l1_misses") or 0), 0)
        self.cache_delta(worker, "l2", int(stats.get("l2_hits") or 0),
                         int(stats.get("l2_misses") or 0), int(stats.get("l2_errors") or 0))

    def telegram_request(self, worker: Any, method: str, outcome: str = "ok") -> None:
        self.telegram_requests.labels(str(worker), method, outcome).inc()

    # ------------------------------------------------------------- supervisor side
    def worker_up(self, worker: Any, up: bool) -> None:
        self.worker_up_gauge.labels(str(worker)).set(1 if up else 0)

    def worker_restarted(self, worker: Any) -> None:
        self.worker_restarts.labels(str(worker)).inc()

    def day_plan(self, plan: dict[str, Any]) -> None:
        """The day's LLM plan (``DayPlan.to_dict``): scale, and per provider what is affordable and planned."""
        self.plan_scale.labels(str(plan.get("chain") or "")).set(float(plan["scale"]))
        for p in plan["providers"]:
            if p["affordable_left"] is not None:
                self.plan_affordable.labels(p["name"]).set(float(p["affordable_left"]))
            if p["planned_per_hour"] is not None:
                self.plan_per_hour.labels(p["name"]).set(float(p["planned_per_hour"]))

    def provider_state(self, provider: str, state: str, all_states: Iterable[str]) -> None:
        states = set(all_states) | {state}
        for s in sorted(states):
            self.provider_state_gauge.labels(provider, s).set(1 if s == state else 0)


_metrics: Metrics | None = None
_metrics_lock = threading.Lock()


def get_metrics() -> Metrics:
    """This process's :class:`Metrics` (created on first use; set the env var first)."""
    global _metrics
    with _metrics_lock:
        if _metrics is None:
            _metrics = Metrics()
        return _metrics


def render_latest(path: str | os.PathLike[str] | None = None) -> tuple[bytes, str]:
    """The merged exposition of all processes' files and its content type (for ``/metrics``)."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(path) if path is not None else None)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def mark_dead(pid: int, path: str | os.PathLike[str] | None = None) -> None:
    """Drop a dead process's live-gauge files (its counters and histograms are kept)."""
    from prometheus_client.multiprocess import mark_process_dead

    mark_process_dead(pid, str(path) if path is not None else None)
