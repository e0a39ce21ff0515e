"""Turns a worker's engine events into Prometheus samples (multiprocess mode)."""

from __future__ import annotations

from typing import Any

from piyasa_core.engine.events import EngineMetrics, MessageFailed
from piyasa_core.engine.types import SentMessage
from piyasa_core.metrics import Metrics

_SKIP_PREFIXES = ("skipped_", "duplicate_")


class WorkerRecorder:
    """Records each event once; cumulative counters in the per-second snapshots become deltas."""

    def __init__(self, metrics: Metrics, worker_id: int) -> None:
        self.metrics = metrics
        self.worker = worker_id
        self._seen_counts: dict[str, int] = {}
        self._seen_llm: dict[tuple[str, str], int] = {}

    def record(self, event: Any) -> None:
        m, w = self.metrics, self.worker
        if isinstance(event, SentMessage):
            m.message_sent(w, event.bot_name, event.chat_key, event.llm_latency_s, event.provider, event.end_to_end_s,
                           event.tokens_in, event.tokens_out, event.tokens_cached)
        elif isinstance(event, MessageFailed):
            m.message_failed(w, event.error_class)
        elif isinstance(event, EngineMetrics):
            m.cache_stats(w, event.cache)
            for key, value in event.counts.items():
                if key.startswith(_SKIP_PREFIXES):
                    delta = value - self._seen_counts.get(key, 0)
                    if delta > 0:
                        m.message_skipped(w, key.split("_", 1)[1], delta)
                    self._seen_counts[key] = value
            for status in event.providers:
                outcomes = {"ok": status.requests - sum(status.errors.values()), **status.errors}
                for outcome, total in outcomes.items():
                    delta = total - self._seen_llm.get((status.name, outcome), 0)
                    for _ in range(max(0, delta)):
                        m.llm_request(w, status.name, outcome)
                    self._seen_llm[(status.name, outcome)] = total
                headers = status.headers
                if headers.remaining_requests is not None or headers.remaining_tokens is not None:
                    m.ratelimit(w, status.name, headers.remaining_requests, headers.remaining_tokens)
