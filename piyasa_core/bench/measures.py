"""What the benchmark measures, read from the database (only rows the transport accepted count) and
from the supervisor's snapshots (cache counters, provider state, restarts)."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select

from piyasa_core.engine.dedup import dedup_key, near_pairs
from piyasa_core.store.models import Bot, Chat, Message

PERCENTILES = (50, 90, 95, 99)


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    """p50/p90/p95/p99 (nearest rank), max and count; None when there is nothing to measure."""
    ordered = sorted(values)
    out: dict[str, float | int | None] = {"count": len(ordered)}
    for p in PERCENTILES:
        out[f"p{p}"] = ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] if ordered else None
    out["max"] = ordered[-1] if ordered else None
    return out


def coefficient_of_variation(counts: list[int]) -> float | None:
    """Population standard deviation over the mean; None without counts or with a zero mean."""
    if not counts:
        return None
    mean = sum(counts) / len(counts)
    if mean == 0:
        return None
    return math.sqrt(sum((c - mean) ** 2 for c in counts) / len(counts)) / mean


@dataclass(frozen=True)
class Window:
    """The run's messages: bot rows in the run's own chats (``chat_ids``, see bench/scope.py) sent
    (simulated ``sent_at``) in ``[begin, end)``; nothing outside those chats is ever read."""

    chat_ids: tuple[int, ...]
    workers: int
    begin: float
    end: float = float("inf")

    def sent_in(self) -> Any:
        from datetime import datetime, timezone

        clauses = [Message.chat_id.in_(self.chat_ids), Message.status == "sent", Message.bot_id.is_not(None),
                   Message.sent_at >= datetime.fromtimestamp(self.begin, timezone.utc)]
        if self.end != float("inf"):
            clauses.append(Message.sent_at < datetime.fromtimestamp(self.end, timezone.utc))
        return clauses


def is_answer_to_person(meta: dict[str, Any] | None) -> bool:
    """A message the engine sent for a person's post (a reply job), outside the bot's schedule."""
    return bool(meta) and meta.get("mode") == "human_reply"  # type: ignore[union-attr]


def answers_per_bot(engine: Engine, window: Window) -> dict[int, int]:
    """Each bot's answers to people so far (a live sample)."""
    counts: Counter[int] = Counter()
    with engine.connect() as conn:
        for bot_id, meta in conn.execute(select(Message.bot_id, Message.meta).where(*window.sent_in())):
            if is_answer_to_person(meta):
                counts[int(bot_id)] += 1
    return dict(counts)


def sent_per_worker(engine: Engine, window: Window) -> list[int]:
    """Messages the transport accepted, per worker id 0..workers-1 (a sample: one cheap query)."""
    counts = [0] * window.workers
    with engine.connect() as conn:
        rows = conn.execute(select(Message.worker_id, func.count()).where(*window.sent_in())
                            .group_by(Message.worker_id)).all()
    for worker_id, n in rows:
        if worker_id is not None and 0 <= worker_id < window.workers:
            counts[worker_id] = int(n)
    return counts


@dataclass
class Tally:
    """Everything counted over the run's rows at the end."""

    sent: int = 0
    failed: int = 0
    pending: int = 0
    per_worker: list[int] = field(default_factory=list)
    per_bot: dict[str, int] = field(default_factory=dict)
    per_bot_id: dict[int, int] = field(default_factory=dict)
    answers_per_bot_id: dict[int, int] = field(default_factory=dict)  # replies to a person's post (reply jobs)
    per_chat: dict[str, int] = field(default_factory=dict)
    llm_latency_s: dict[str, Any] = field(default_factory=dict)
    llm_latency_by_provider: dict[str, dict[str, Any]] = field(default_factory=dict)
    e2e_latency_sim_s: dict[str, Any] = field(default_factory=dict)
    lateness_sim_s: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, dict[str, int]] = field(default_factory=dict)
    telegram_errors: dict[str, int] = field(default_factory=dict)
    duplicate_texts: int = 0
    resent_rows: int = 0
    duplicate_examples: list[dict[str, Any]] = field(default_factory=list)
    near_duplicates: int = 0
    near_examples: list[dict[str, Any]] = field(default_factory=list)
    first_sent_at: float | None = None
    last_sent_at: float | None = None

    @property
    def duplicates(self) -> int:
        """Exact duplicates (the criterion): same normalised text in a chat, or a row sent twice."""
        return self.duplicate_texts + self.resent_rows


def _lateness(sent: float, meta: dict[str, Any]) -> float | None:
    """Simulated seconds a message reached the transport after its plan: due time plus its typing
    time (typing is part of the plan; generation, queueing and waiting for the provider are not)."""
    due = meta.get("due_at")
    if not isinstance(due, (int, float)):
        return None
    typing = meta.get("typing_s")
    return max(0.0, sent - float(due) - (float(typing) if isinstance(typing, (int, float)) else 0.0))


def tally(engine: Engine, window: Window) -> Tally:
    """Count the run's bot messages: per worker/bot/chat, latencies, tokens, failures, duplicates."""
    out = Tally(per_worker=[0] * window.workers)
    per_bot: Counter[str] = Counter()
    per_bot_id: Counter[int] = Counter()
    answers: Counter[int] = Counter()
    per_chat: Counter[str] = Counter()
    llm: list[float] = []
    llm_by: dict[str, list[float]] = defaultdict(list)
    e2e: list[float] = []
    late: list[float] = []
    tokens: dict[str, dict[str, int]] = defaultdict(lambda: {"in": 0, "out": 0, "cached": 0, "messages": 0})
    errors: Counter[str] = Counter()
    texts: dict[tuple[int, str], list[int]] = defaultdict(list)
    by_chat: dict[int, list[tuple[int, str]]] = defaultdict(list)
    with engine.connect() as conn:
        rows = conn.execute(
            select(Message.id, Message.status, Message.worker_id, Message.text, Message.chat_id, Chat.key,
                   Bot.id, Bot.name, Message.provider, Message.tokens_in, Message.tokens_out, Message.tokens_cached,
                   Message.generation_seconds, Message.sent_at, Message.created_at, Message.meta,
                   Message.failure_reason, Message.send_count)
            .join(Chat, Chat.id == Message.chat_id).join(Bot, Bot.id == Message.bot_id)
            .where(Message.chat_id.in_(window.chat_ids)).order_by(Message.id)).all()
    for (mid, status, worker_id, text, chat_id, chat_key, bot_id, bot_name, provider, t_in, t_out, t_cached,
         gen_s, sent_at, created_at, meta, reason, send_count) in rows:
        sent = sent_at.timestamp() if sent_at is not None else None
        if status == "sent" and (sent is None or not window.begin <= sent < window.end):
            continue  # sent before the window opened (warm-up) or after it closed
        if status != "sent" and not window.begin <= created_at.timestamp() < window.end:
            continue
        if status == "failed":
            out.failed += 1
            errors[(reason or "error").split(":", 1)[0].strip() or "error"] += 1
            continue
        if status != "sent":
            out.pending += 1
            continue
        out.sent += 1
        if worker_id is not None and 0 <= worker_id < window.workers:
            out.per_worker[worker_id] += 1
        per_bot[bot_name] += 1
        per_bot_id[bot_id] += 1
        per_chat[chat_key] += 1
        if gen_s is not None:
            llm.append(float(gen_s))
            llm_by[provider or "unknown"].append(float(gen_s))
        meta = meta or {}
        if is_answer_to_person(meta):
            answers[bot_id] += 1
        due = meta.get("due_at")
        if sent is not None and isinstance(due, (int, float)):
            e2e.append(max(0.0, sent - float(due)))
            lateness = _lateness(sent, meta)
            if lateness is not None:
                late.append(lateness)
        if sent is not None:
            out.first_sent_at = sent if out.first_sent_at is None else min(out.first_sent_at, sent)
            out.last_sent_at = sent if out.last_sent_at is None else max(out.last_sent_at, sent)
        bucket = tokens[provider or "unknown"]
        bucket["in"] += int(t_in or 0)
        bucket["out"] += int(t_out or 0)
        bucket["cached"] += int(t_cached or 0)
        bucket["messages"] += 1
        if (send_count or 0) > 1:
            out.resent_rows += 1
            if len(out.duplicate_examples) < 10:
                out.duplicate_examples.append({"kind": "sent twice", "message_id": mid, "chat": chat_key,
                                               "sends": int(send_count)})
        texts[(chat_id, dedup_key(text))].append(mid)  # the engine's own key: "🚀" and "🔥" differ
        by_chat[chat_id].append((mid, text))
    for (_chat_id, _norm), ids in texts.items():
        if len(ids) > 1:
            out.duplicate_texts += len(ids) - 1
            if len(out.duplicate_examples) < 10:
                out.duplicate_examples.append({"kind": "same text", "message_ids": ids})
    for messages in by_chat.values():
        for earlier, later, score in near_pairs([t for _, t in messages]):
            out.near_duplicates += 1
            if len(out.near_examples) < 10:
                out.near_examples.append({"message_ids": [messages[earlier][0], messages[later][0]],
                                          "score": round(score, 1),
                                          "texts": [messages[earlier][1], messages[later][1]]})
    out.per_bot = dict(sorted(per_bot.items()))
    out.per_bot_id = dict(sorted(per_bot_id.items()))
    out.answers_per_bot_id = dict(sorted(answers.items()))
    out.per_chat = dict(sorted(per_chat.items()))
    out.llm_latency_s = percentiles(llm)
    out.llm_latency_by_provider = {name: percentiles(values) for name, values in sorted(llm_by.items())}
    out.e2e_latency_sim_s = percentiles(e2e)
    out.lateness_sim_s = percentiles(late)
    out.tokens = {k: dict(v) for k, v in sorted(tokens.items())}
    out.telegram_errors = dict(sorted(errors.items()))
    return out
