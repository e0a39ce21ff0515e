"""The supervisor's immutable view of everything: what the TUI and the control API render."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

WORKER_STATES = ("starting", "running", "draining", "stopped", "crashed", "backoff")


@dataclass(frozen=True)
class WorkerView:
    worker_id: int
    pid: int | None
    state: str
    state_since: float
    uptime_s: float
    restarts: int
    backoff_until: float | None
    bots: tuple[int, ...]
    bot_names: tuple[str, ...]
    sent_total: int
    rate_1m: float  # messages per simulated minute over the last simulated minute
    rate_10m: float
    spark: tuple[int, ...]  # messages per 10 simulated seconds, oldest first
    cache: dict[str, Any]
    cpu_percent: float | None
    rss_bytes: int | None
    last_error: str
    last_heartbeat: float | None
    floor_alarms: tuple[str, ...] = ()
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedItem:
    message_id: int
    at: float  # simulated time of sending
    worker_id: int
    bot_id: int
    bot_name: str
    chat_key: str
    text: str
    mode: str
    reply_to_author: str | None
    provider: str
    model: str
    human: bool = False  # a person wrote it (worker_id is -1); the operator's `/` posts included
    username: str = ""  # the bot's (or the person's Telegram) username, for the feed filter


@dataclass(frozen=True)
class ProviderView:
    name: str
    model: str
    label: str
    is_llm: bool
    active: bool
    in_chain: bool
    state: str
    reason: str
    until: float | None
    breaker: str
    remaining_requests: int | None
    limit_requests: int | None
    remaining_tokens: int | None
    limit_tokens: int | None
    reset_s: float | None
    requests_today: int
    tokens_today: int
    tpd: int
    projected_exhaustion: float | None
    errors: dict[str, int]
    budgets: dict[str, int] = field(default_factory=dict)  # ours (config): rpm, tpm, rpd, tpd; 0 = none
    last_error: str = ""  # the class of the newest error a worker reported (workers/provider_log.py)
    last_error_at: float | None = None  # when (simulated)


@dataclass(frozen=True)
class BotView:
    """One bot for the operator (workers/roster.py): its hours on the simulated clock, the operator's
    switch, and what its worker reports (None while the worker is not running)."""

    bot_id: int
    name: str
    username: str
    worker: int  # bot_id % workers
    state: str  # active | away | disabled
    disabled_by: str  # "" | "operator" | "config"
    next_change: float | None  # simulated time its hours turn it away/active (None: never, or disabled)
    next_due: float | None  # its next scheduled turn (simulated)
    sent_hour: int | None  # messages in the rolling hour
    plan_per_hour: float | None  # the pace planned now
    hourly_min: int
    hourly_max: int
    active_hours: tuple[str, ...]
    prime_hours: tuple[str, ...]
    last_at: float | None  # its newest message (simulated time) and text
    last_text: str
    stances: tuple[str, ...]


@dataclass(frozen=True)
class Snapshot:
    at: float
    sim_at: float
    started_at: float
    workers: tuple[WorkerView, ...]
    feed: tuple[FeedItem, ...]
    providers: tuple[ProviderView, ...]
    active_provider: str
    running: bool
    paused_reason: str
    sent_total: int
    rate_1m: float
    rate_10m: float
    cache_totals: dict[str, Any]
    l2_configured: bool
    notices: tuple[tuple[float, str, str], ...]  # (time, level, text), newest last
    chats: tuple[str, ...] = ()
    benchmark: dict[str, Any] | None = None
    time_scale: float = 1.0
    day_plan: dict[str, Any] | None = None  # the day's LLM plan (llm/quota_plan.py DayPlan.to_dict)
    bots: tuple[BotView, ...] = ()  # every bot of the database, in id order
    fleet: dict[str, Any] | None = None  # fleet mode: hosts, their shards and throughput (fleet/agent.py FleetView)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the control API's `/status`)."""
        return dataclasses.asdict(self)


def cache_totals(views: tuple[WorkerView, ...]) -> dict[str, Any]:
    """Hits/misses summed over workers, with hit rates (None before any lookup)."""
    keys = ("l1_hits", "l1_misses", "l2_hits", "l2_misses", "l2_errors")
    totals: dict[str, Any] = {k: sum(int(v.cache.get(k, 0) or 0) for v in views) for k in keys}
    for layer in ("l1", "l2"):
        lookups = totals[f"{layer}_hits"] + totals[f"{layer}_misses"]
        totals[f"{layer}_hit_rate"] = totals[f"{layer}_hits"] / lookups if lookups else None
    return totals


def snapshot_from_dict(data: dict[str, Any]) -> Snapshot:
    """Rebuild a :class:`Snapshot` from its JSON form (what `--attach` receives)."""
    fields = dict(data)
    fields["workers"] = tuple(WorkerView(**{**w, "bots": tuple(w["bots"]), "bot_names": tuple(w["bot_names"]),
                                            "spark": tuple(w["spark"]), "floor_alarms": tuple(w.get("floor_alarms", ()))})
                              for w in data["workers"])
    fields["feed"] = tuple(FeedItem(**item) for item in data["feed"])
    fields["providers"] = tuple(ProviderView(**p) for p in data["providers"])
    fields["notices"] = tuple(tuple(n) for n in data["notices"])  # type: ignore[misc]
    fields["chats"] = tuple(data.get("chats", ()))
    fields["bots"] = tuple(BotView(**{**b, **{k: tuple(b[k]) for k in ("active_hours", "prime_hours", "stances")}})
                           for b in data.get("bots", ()))
    return Snapshot(**fields)
