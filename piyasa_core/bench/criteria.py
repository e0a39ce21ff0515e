"""The pass/fail criteria of a run (thresholds from `[benchmark]`, defaults from the seed notes)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Status = Literal["pass", "fail", "not_configured", "pending"]


@dataclass(frozen=True)
class Criterion:
    """One criterion: ``value`` compared with ``threshold`` by ``op``; ``status`` says how it ended."""

    id: str
    name: str
    status: Status
    value: float | int | None
    threshold: float | int | None
    op: str
    detail: str
    required: bool = True  # False: reported (met / not met) but does not fail the run

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Thresholds:
    min_throughput_per_min: float = 4.0
    target_throughput_per_min: float = 6.0
    max_worker_cv: float = 0.15
    max_duplicates: int = 0
    min_l2_hit_rate: float = 0.20

    @classmethod
    def from_config(cls, bench: Any) -> Thresholds:
        return cls(bench.min_throughput_per_min, bench.target_throughput_per_min, bench.max_worker_cv,
                   bench.max_duplicates, bench.min_l2_hit_rate)


@dataclass(frozen=True)
class Observed:
    """What the criteria look at (final, or so far while the run is live)."""

    throughput_per_min: float | None
    per_worker: list[int]
    worker_cv: float | None
    duplicates: int | None  # None while live: computed from the database at the end
    l2_configured: bool
    l2_hits: int
    l2_misses: int
    crashes: int
    crashed_workers: list[int]


def _at_least(value: float | None, threshold: float) -> Status:
    return "pending" if value is None else "pass" if value >= threshold else "fail"


def evaluate(o: Observed, t: Thresholds, *, final: bool) -> list[Criterion]:
    """Every criterion; while live (``final`` false) those that can still change read ``pending`` when
    they would fail, so the progress screen does not shout about a run that has just begun."""
    rate = o.throughput_per_min
    rate_text = "–" if rate is None else f"{rate:.2f} msg/min"
    out = [
        Criterion("throughput_min", "Throughput (minimum)", _at_least(rate, t.min_throughput_per_min), rate,
                  t.min_throughput_per_min, ">=", f"{rate_text} (minimum {t.min_throughput_per_min:g})"),
        Criterion("throughput_target", "Throughput (target)", _at_least(rate, t.target_throughput_per_min), rate,
                  t.target_throughput_per_min, ">=", f"{rate_text} (target {t.target_throughput_per_min:g}; "
                  "reported, the minimum decides)", required=False),
    ]
    cv = o.worker_cv
    counts = ", ".join(f"w{i} {n}" for i, n in enumerate(o.per_worker))
    out.append(Criterion("worker_balance", "Worker balance (CV)",
                         "pending" if cv is None else "pass" if cv <= t.max_worker_cv else "fail", cv,
                         t.max_worker_cv, "<=",
                         f"CV {'–' if cv is None else f'{cv:.3f}'} of per-worker counts ({counts})"))
    dup = o.duplicates
    out.append(Criterion("duplicates", "Duplicates", "pending" if dup is None else
                         "pass" if dup <= t.max_duplicates else "fail", dup, t.max_duplicates, "<=",
                         "counted from the database at the end" if dup is None else
                         f"{dup} duplicate message(s): same normalised text in a chat, or a row sent twice"))
    lookups = o.l2_hits + o.l2_misses
    if not o.l2_configured:
        out.append(Criterion("l2_hit_rate", "L2 cache hit rate", "not_configured", None, t.min_l2_hit_rate, ">",
                             "not configured: no Redis ([cache] redis_url / REDIS_URL), so not measured"))
    else:
        l2 = o.l2_hits / lookups if lookups else None
        status: Status = "pending" if l2 is None else "pass" if l2 > t.min_l2_hit_rate else "fail"
        out.append(Criterion("l2_hit_rate", "L2 cache hit rate", status, l2, t.min_l2_hit_rate, ">",
                             f"{'–' if l2 is None else f'{l2 * 100:.1f} %'} of {lookups} L2 lookups "
                             f"(must exceed {t.min_l2_hit_rate * 100:g} %)"))
    idle = [i for i, n in enumerate(o.per_worker) if n == 0]
    out.append(Criterion("all_workers_produced", "Every worker produced",
                         "pass" if o.per_worker and not idle else "fail" if final or not o.per_worker else "pending",
                         len(o.per_worker) - len(idle), len(o.per_worker), ">=",
                         "all produced" if not idle else f"no message from worker(s) {', '.join(map(str, idle))}"))
    out.append(Criterion("no_crash", "No worker crashed", "pass" if o.crashes == 0 else "fail", o.crashes, 0, "<=",
                         "no crash" if o.crashes == 0 else
                         f"{o.crashes} crash(es) of worker(s) {', '.join(map(str, o.crashed_workers))}"))
    if not final:
        out = [c if c.status != "fail" or c.id in ("no_crash", "duplicates") else
               Criterion(c.id, c.name, "pending", c.value, c.threshold, c.op, c.detail, c.required) for c in out]
    return out


def passed(criteria: list[Criterion]) -> bool:
    """A run passes when no required criterion failed ("not configured" is shown as such, and the
    throughput target is reported as met or not; neither decides the outcome)."""
    return all(c.status in ("pass", "not_configured") for c in criteria if c.required)
