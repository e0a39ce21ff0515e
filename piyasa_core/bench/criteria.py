"""The pass/fail criteria of a run (thresholds from `[benchmark]` and the run's profile; the seed's five
criteria, each judged against what the configuration expects rather than a fixed shape)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from piyasa_core.bench.plan import PHASE_SLACK, PaceRow

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
    """What a run is judged against; the throughput ones come from its profile (None: the profile
    sets none, and the criterion shows "not configured")."""

    min_throughput_per_min: float | None = 4.0
    target_throughput_per_min: float | None = 6.0
    max_pace_deviation: float = 0.15
    workers_required: int = 4
    max_lateness_p95: float = 30.0
    max_duplicates: int = 0
    min_l2_hit_rate: float = 0.20
    max_bots_per_human_question: int = 2

    @classmethod
    def from_config(cls, bench: Any, profile: Any) -> Thresholds:
        return cls(profile.min_throughput_per_min, profile.target_throughput_per_min, bench.max_pace_deviation,
                   bench.workers_required, bench.max_lateness_p95, bench.max_duplicates, bench.min_l2_hit_rate,
                   bench.max_bots_per_human_question)


@dataclass(frozen=True)
class Observed:
    """What the criteria look at (final, or so far while the run is live)."""

    throughput_per_min: float | None
    per_worker: list[int]
    duplicates: int | None  # None while live: computed from the database at the end
    l2_configured: bool
    l2_hits: int  # the warm part: lookups after the measured window opened
    l2_misses: int
    crashes: int
    crashed_workers: list[int]
    bot_pace: list[PaceRow] = field(default_factory=list)
    worker_pace: list[PaceRow] = field(default_factory=list)
    lateness_p95: float | None = None
    lateness_count: int = 0
    people: dict[str, int] | None = None  # people's questions (asked, answered, addressed, addressed_first,
    # most_bots_10min) when the run posted some; None: no person asked (the criterion is not configured)


def _at_least(value: float | None, threshold: float) -> Status:
    return "pending" if value is None else "pass" if value >= threshold else "fail"


def _throughput(o: Observed, t: Thresholds) -> list[Criterion]:
    rate = o.throughput_per_min
    rate_text = "–" if rate is None else f"{rate:.2f} msg/min"
    out = []
    for cid, name, threshold, required, label in (
            ("throughput_min", "Throughput (minimum)", t.min_throughput_per_min, True, "minimum"),
            ("throughput_target", "Throughput (target)", t.target_throughput_per_min, False, "target")):
        if threshold is None:
            out.append(Criterion(cid, name, "not_configured", rate, None, ">=",
                                 f"{rate_text}; this profile sets no {label} (pace against plan judges the run)",
                                 required))
            continue
        note = "" if required else "; reported, the minimum decides"
        out.append(Criterion(cid, name, _at_least(rate, threshold), rate, threshold, ">=",
                             f"{rate_text} ({label} {threshold:g}{note})", required))
    return out


def _pace(cid: str, name: str, rows: list[PaceRow], t: Thresholds) -> Criterion:
    planned = [r for r in rows if r.planned > 0 or r.delivered > 0]
    if not planned:
        return Criterion(cid, name, "pending", None, t.max_pace_deviation, "<=", "nothing was planned or delivered")
    worst = max(planned, key=lambda r: (r.excess, abs(r.delivered - r.planned)))
    status: Status = "pass" if worst.excess <= t.max_pace_deviation else "fail"
    dev = worst.deviation
    shown = "–" if dev is None else f"{dev * 100:+.0f} %"
    detail = (f"worst {worst.label}: {worst.delivered} delivered of {worst.planned:.1f} planned ({shown}; "
              f"{worst.excess * 100:.0f} % beyond {PHASE_SLACK:g} message of slack); "
              + ", ".join(f"{r.label} {r.delivered}/{r.planned:.1f}" for r in planned))
    return Criterion(cid, name, status, round(worst.excess, 4), t.max_pace_deviation, "<=", detail)


def resting_workers(o: Observed) -> list[int]:
    """Workers whose bots planned less than one message for the window (all off their active hours, or
    alone in their chats): they are not expected to produce. Without a plan (a hand-built Observed) none."""
    ids = [(int(row.label[1:]), row) for row in o.worker_pace if row.label[1:].isdigit()]  # rows are "w<id>"
    return sorted(i for i, row in ids if i < len(o.per_worker) and row.planned < 1.0)


def _people(o: Observed, t: Thresholds, final: bool) -> Criterion:
    name = "People's questions answered"
    if o.people is None:
        return Criterion("human_questions", name, "not_configured", None, t.max_bots_per_human_question, "<=",
                         "no person asked anything (the profile's human_every, --human-every)")
    p = o.people
    asked, answered, addressed, first = p["asked"], p["answered"], p["addressed"], p["addressed_first"]
    most = p["most_bots_10min"]
    ok = asked > 0 and answered == asked and first == addressed and most <= t.max_bots_per_human_question
    status: Status = "pass" if ok else "fail" if final else "pending"
    return Criterion("human_questions", name, status, most, t.max_bots_per_human_question, "<=",
                     f"{answered} of {asked} answered ({p.get('answered_well', 0)} with an answer of the asked "
                     f"type and subject); the addressed bot first in {first} of {addressed}; at most "
                     f"{most} bot(s) answered one within 10 simulated minutes (at most "
                     f"{t.max_bots_per_human_question}, [benchmark] max_bots_per_human_question)")


def evaluate(o: Observed, t: Thresholds, *, final: bool) -> list[Criterion]:
    """Every criterion; while live (``final`` false) those that can still change read ``pending`` when
    they would fail, so the progress screen does not shout about a run that has just begun."""
    out = _throughput(o, t)
    out.append(_pace("bot_pace", "Each bot on its planned pace", o.bot_pace, t))
    out.append(_pace("worker_pace", "Each worker on its planned pace", o.worker_pace, t))
    producing = [i for i, n in enumerate(o.per_worker) if n > 0]
    resting = resting_workers(o)
    required = max(1, t.workers_required - len(resting))
    why = (f"; worker(s) {', '.join(map(str, resting))} had nothing planned (their bots' active hours), so "
           f"{required} must" if resting else "")
    out.append(Criterion(
        "parallel_workers", "Workers producing in parallel",
        "pass" if len(producing) >= required else "fail" if final else "pending",
        len(producing), required, ">=",
        f"{len(producing)} of {len(o.per_worker)} workers produced; the benchmark requires {t.workers_required} "
        f"side by side ([benchmark] workers_required){why}"))
    late = o.lateness_p95
    out.append(Criterion(
        "lateness_p95", "Lateness p95 (due → sent)",
        "pending" if late is None else "pass" if late <= t.max_lateness_p95 else "fail", late, t.max_lateness_p95, "<=",
        "nothing measured" if late is None else
        f"p95 {late:.2f} s simulated over {o.lateness_count} messages (typing time excluded; at most "
        f"{t.max_lateness_p95:g} s)"))
    dup = o.duplicates
    out.append(Criterion("duplicates", "Duplicates", "pending" if dup is None else
                         "pass" if dup <= t.max_duplicates else "fail", dup, t.max_duplicates, "<=",
                         "counted from the database at the end" if dup is None else
                         f"{dup} exact duplicate message(s): same normalised text in a chat, or a row sent twice "
                         "(near duplicates are reported beside them)"))
    lookups = o.l2_hits + o.l2_misses
    if not o.l2_configured:
        out.append(Criterion("l2_hit_rate", "L2 cache hit rate (warm)", "not_configured", None, t.min_l2_hit_rate,
                             ">", "not configured: no Redis ([cache] redis_url / REDIS_URL), so not measured"))
    else:
        l2 = o.l2_hits / lookups if lookups else None
        status: Status = "pending" if l2 is None else "pass" if l2 > t.min_l2_hit_rate else "fail"
        out.append(Criterion("l2_hit_rate", "L2 cache hit rate (warm)", status, l2, t.min_l2_hit_rate, ">",
                             f"{'–' if l2 is None else f'{l2 * 100:.1f} %'} of {lookups} L2 lookups after the "
                             f"warm-up (must exceed {t.min_l2_hit_rate * 100:g} %)"))
    idle = [i for i, n in enumerate(o.per_worker) if n == 0 and i not in resting]
    expected = len(o.per_worker) - len(resting)
    out.append(Criterion("all_workers_produced", "Every worker produced",
                         "pass" if o.per_worker and not idle else "fail" if final or not o.per_worker else "pending",
                         expected - len(idle), expected, ">=",
                         ("all produced" if not idle else f"no message from worker(s) {', '.join(map(str, idle))}")
                         + (f" (worker(s) {', '.join(map(str, resting))} had nothing planned)" if resting else "")))
    out.append(Criterion("no_crash", "No worker crashed", "pass" if o.crashes == 0 else "fail", o.crashes, 0, "<=",
                         "no crash" if o.crashes == 0 else
                         f"{o.crashes} crash(es) of worker(s) {', '.join(map(str, o.crashed_workers))}"))
    out.append(_people(o, t, final))
    if not final:
        out = [c if c.status != "fail" or c.id in ("no_crash", "duplicates") else
               Criterion(c.id, c.name, "pending", c.value, c.threshold, c.op, c.detail, c.required) for c in out]
    return out


def passed(criteria: list[Criterion]) -> bool:
    """A run passes when no required criterion failed ("not configured" is shown as such, and the
    throughput target is reported as met or not; neither decides the outcome)."""
    return all(c.status in ("pass", "not_configured") for c in criteria if c.required)
