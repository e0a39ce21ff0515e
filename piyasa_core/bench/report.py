"""The report of a run (schema ``piyasa.bench/1``, documented in docs/benchmark.md) and writing it:
one directory per run with the chosen formats, plus the timeline of every run."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from piyasa_core.bench.options import BenchOptions
from piyasa_core.bench.plan import PHASE_SLACK, expected, per_hour
from piyasa_core.bench.scope import run_cache_prefix
from piyasa_core.secrets import mask_url, redact

if TYPE_CHECKING:
    from piyasa_core.bench.runner import BenchmarkRun

SCHEMA = "piyasa.bench/2"


def iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("piyasa")
    except PackageNotFoundError:
        return "unknown"


def git_revision() -> str | None:
    """The checkout's commit (with ``+dirty`` when it has changes), or None outside a git checkout."""
    root = Path(__file__).resolve().parents[2]
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{rev}+dirty" if dirty else rev or None


def config_summary(config: Any, opts: BenchOptions) -> dict[str, Any]:
    """What shaped the run, secrets masked (URLs lose their passwords; keys are never included)."""
    s = config.settings
    llm = s.llm
    return {
        "database": mask_url(config.database_url),
        "redis": mask_url(s.cache.redis_url) if s.cache.redis_url else None,
        "transport": s.telegram.transport,
        "engine": {"timezone": s.engine.timezone, "hourly_min": opts.profile.hourly_min,
                   "hourly_max": opts.profile.hourly_max, "history_lines": s.engine.history_lines,
                   "seed": s.engine.seed},
        "llm": {"active": llm.active, "fallback": list(llm.fallback),
                "models": {name: p.model for name, p in llm.providers.items()}},
        "bots_enabled": sum(1 for b in s.bots if getattr(b, "enabled", True)),
        "chats": len(s.chats),
    }


def llm_summary(config: Any, opts: BenchOptions) -> dict[str, Any]:
    """Which provider generated, and whether the clock was scaled (only the offline provider, whose
    latency is emulated on the scaled clock, may run scaled)."""
    cfg = config.settings.llm.providers[opts.provider]
    offline = opts.provider == "offline"
    return {"provider": opts.provider, "model": cfg.model, "networked": not offline,
            "time_scaled": opts.time_scale != 1,
            "emulated_latency_ms": cfg.latency_ms if offline else None,
            "emulated_latency_jitter_ms": cfg.latency_jitter_ms if offline else None}


def pace_section(run: BenchmarkRun, counted: Any, elapsed: float) -> dict[str, Any]:
    """Per bot and per worker: the persona's pace, planned and delivered messages (and per hour)."""
    bots = []
    for plan in run.plans:
        delivered = counted.per_bot_id.get(plan.bot_id, 0)
        answers = counted.answers_per_bot_id.get(plan.bot_id, 0)
        want = expected(plan, answers, run.options.profile.hourly_max)
        bots.append({
            "bot": plan.name, "username": plan.username, "persona": plan.persona, "speed": plan.speed,
            "worker": plan.worker, "base_per_hour": round(plan.base_per_hour, 2),
            "planned": round(plan.planned, 2), "delivered": delivered,
            "planned_per_hour": _rate(plan.planned, plan.active_s), "delivered_per_hour": _rate(delivered, plan.active_s),
            "active_s": round(plan.active_s, 1), "answers_to_people": answers,
            "expected": round(want, 2),
            "deviation": None if want <= 0 else round((delivered - want) / want, 4)})
    workers = []
    for w in range(run.host.total):
        planned = sum(expected(p, counted.answers_per_bot_id.get(p.bot_id, 0), run.options.profile.hourly_max)
                      for p in run.plans if p.worker == w)
        delivered = sum(counted.per_bot_id.get(p.bot_id, 0) for p in run.plans if p.worker == w)
        workers.append({"worker": w, "bots": sorted(p.name for p in run.plans if p.worker == w),
                        "planned": round(planned, 2), "delivered": delivered,
                        "deviation": None if planned <= 0 else round((delivered - planned) / planned, 4)})
    profile = run.options.profile
    return {"profile": profile.name, "hourly_min": profile.hourly_min, "hourly_max": profile.hourly_max,
            "window_s": round(elapsed, 3), "slack_messages": PHASE_SLACK, "bots": bots, "workers": workers}


def people_section(run: BenchmarkRun, end: float) -> dict[str, Any]:
    """The people's questions the run posted, each with the bots' replies to it (who, how soon, what)."""
    from piyasa_core.bench.humans import replies_to

    asked = run.asker.asked if run.asker is not None else []
    every = run.options.profile.human_every
    replies = replies_to(run.host.store.engine, [q.message_id for q in asked if q.message_id is not None], end)
    return {"every_s": every, "asked": len(asked),
            "questions": [{**q.to_dict(), "at": iso(q.at),
                           "replies": [{"bot": who, "after_s": round(at - q.at, 1), "text": text}
                                       for who, at, text in replies.get(q.message_id or -1, [])]}
                          for q in asked]}


def _rate(count: float, seconds: float) -> float | None:
    value = per_hour(count, seconds)
    return None if value is None else round(value, 2)


def build_report(run: BenchmarkRun, final: dict[str, Any]) -> dict[str, Any]:
    """The whole report as plain JSON data."""
    from piyasa_core.bench.capacity import cache_figures, cpu_used, headroom
    from piyasa_core.bench.measures import coefficient_of_variation
    host, opts = run.host, run.options
    counted = final["tally"]
    elapsed = final["elapsed_sim"]
    begin = run.sim_begin or 0.0
    scope = run.scope
    assert scope is not None
    quality = final["quality"]
    warm = run.warm_cache()
    cold = run.cache_at_open
    total = run.cache.totals()
    l1 = int(total.get("l1_hits", 0) + total.get("l1_misses", 0))
    l2 = int(total.get("l2_hits", 0) + total.get("l2_misses", 0))
    snap = host.snapshot()
    last = run.samples[-1] if run.samples else {}
    provider_errors = {name: p.get("errors", {}) for name, p in (last.get("providers") or {}).items()}
    counts = {k: int(v - run.counts_at_open.get(k, 0)) for k, v in sorted(run.counts.totals().items())}
    real_s = elapsed / opts.time_scale
    cpu = cpu_used(run.cpu_at_open, run.cpu_at_end)
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "run": {
            "id": run.id, "state": "cancelled" if run.cancelled else "completed", "trigger": opts.trigger,
            "started_at": iso(run.wall_started), "finished_at": iso(datetime.now(timezone.utc).timestamp()),
            "real_seconds": round(last.get("t_real", 0.0), 3),
            "sim_started_at": iso(run.sim_begin), "duration_s": opts.duration, "elapsed_sim_s": round(elapsed, 3),
            "time_scale": opts.time_scale, "sample_every_s": opts.sample_every, "start_at": opts.start_at,
            "warmup_s": opts.warmup,
            "version": _version(), "git_revision": git_revision(),
            "host": {"name": platform.node(), "platform": platform.platform(), "python": platform.python_version(),
                     "cpus": os.cpu_count()},
            "workers": host.total,
            "profile": opts.profile.to_dict(),
            "llm": llm_summary(host.config, opts),
            "scope": {"chats": list(scope.chat_keys),
                      "cache_prefix": run_cache_prefix(host.config.settings.cache.key_prefix, run.id)},
            "thresholds": asdict(run.thresholds),
            "providers": {"active": snap.active_provider, "states": {p.name: p.state for p in snap.providers}},
            # the day's LLM plan as the run ended (llm/quota_plan.py): per provider used/quota today, messages
            # left, planned msg/h, "lasts until"; null for an unlimited chain that planned nothing
            "day_plan": snap.day_plan,
            "config": config_summary(host.config, opts),
        },
        "totals": {
            "sent": counted.sent, "failed": counted.failed, "pending": counted.pending,
            "throughput_per_min": counted.sent / (elapsed / 60) if elapsed > 0 else None,
            "per_worker": counted.per_worker, "per_bot": counted.per_bot, "per_chat": counted.per_chat,
            "worker_cv": coefficient_of_variation(counted.per_worker),
        },
        "pace": pace_section(run, counted, elapsed),
        "latency": {"llm_s": counted.llm_latency_s, "llm_s_by_provider": counted.llm_latency_by_provider,
                    "end_to_end_sim_s": counted.e2e_latency_sim_s, "lateness_sim_s": counted.lateness_sim_s},
        "capacity": {"headroom": headroom(cpu, real_s, counted.sent, run.requests_since(), counted.tokens,
                                          host.config.settings.llm.providers)},
        "tokens": counted.tokens,
        "cache": {
            "l1": {"hits": int(total.get("l1_hits", 0)), "misses": int(total.get("l1_misses", 0)),
                   "hit_rate": total.get("l1_hits", 0) / l1 if l1 else None},
            "l2": {"configured": host.l2_configured, "hits": int(total.get("l2_hits", 0)),
                   "misses": int(total.get("l2_misses", 0)), "errors": int(total.get("l2_errors", 0)),
                   "hit_rate": total.get("l2_hits", 0) / l2 if l2 else None},
            **{k: v for k, v in cache_figures(cold, warm, counted.sent, host.l2_configured).items()
               if k != "l2_configured"},
        },
        "errors": {"provider": provider_errors, "telegram": counted.telegram_errors, "engine": counts},
        "restarts": {"crash_restarts": last.get("restarts", 0), "crashed_workers": run.crashed_workers},
        "duplicates": {"same_text": counted.duplicate_texts, "sent_twice": counted.resent_rows,
                       "examples": counted.duplicate_examples, "near": counted.near_duplicates,
                       "near_examples": counted.near_examples},
        "quality": quality,
        "people": people_section(run, begin + elapsed),
        "criteria": [c.to_dict() for c in final["criteria"]],
        "passed": bool(final["passed"]),
        "samples": run.samples,
    }
    return scrub(json.loads(json.dumps(report, default=str)))  # plain JSON, no secret in any text


def scrub(value: Any) -> Any:
    """Redact every string in a JSON structure (values and keys; numbers and the shape untouched)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [scrub(v) for v in value]
    if isinstance(value, dict):
        return {redact(str(k)): scrub(v) for k, v in value.items()}
    return value


def atomic_write(path: Path, text: str) -> None:
    """Write via a temporary file and rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_run(report: dict[str, Any], opts: BenchOptions) -> tuple[Path, list[str]]:
    """Write the run's directory (the chosen formats) and add the run to the timeline."""
    from piyasa_core.bench.html import render_html
    from piyasa_core.bench.timeline import append_run
    from piyasa_core.bench.writers import render_csv, render_json, render_markdown

    run_dir = opts.out_dir / report["run"]["id"]
    renderers = {"json": ("report.json", render_json), "md": ("report.md", render_markdown),
                 "html": ("report.html", render_html), "csv": ("timeseries.csv", render_csv)}
    files = []
    for fmt in opts.formats:
        name, render = renderers[fmt]
        atomic_write(run_dir / name, render(report))
        files.append(name)
    append_run(opts.out_dir, report, run_dir)
    return run_dir, files
