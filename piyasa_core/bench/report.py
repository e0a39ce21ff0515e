"""The report of a run (schema ``piyasa.bench/1``, documented in docs/benchmark.md) and writing it:
one directory per run with the chosen formats, plus the timeline of every run."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from piyasa_core.bench.options import BenchOptions
from piyasa_core.secrets import mask_url, redact

if TYPE_CHECKING:
    from piyasa_core.bench.runner import BenchmarkRun

SCHEMA = "piyasa.bench/1"


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


def config_summary(config: Any) -> dict[str, Any]:
    """What shaped the run, secrets masked (URLs lose their passwords; keys are never included)."""
    s = config.settings
    llm = s.llm
    return {
        "database": mask_url(config.database_url),
        "redis": mask_url(s.cache.redis_url) if s.cache.redis_url else None,
        "transport": s.telegram.transport,
        "engine": {"timezone": s.engine.timezone, "hourly_min": s.engine.hourly_min,
                   "hourly_max": s.engine.hourly_max, "history_lines": s.engine.history_lines,
                   "seed": s.engine.seed},
        "llm": {"active": llm.active, "fallback": list(llm.fallback),
                "models": {name: p.model for name, p in llm.providers.items()}},
        "bots_enabled": sum(1 for b in s.bots if getattr(b, "enabled", True)),
        "chats": len(s.chats),
    }


def build_report(run: BenchmarkRun, final: dict[str, Any]) -> dict[str, Any]:
    """The whole report as plain JSON data."""
    from piyasa_core.engine.quality_db import quality_for_window
    from piyasa_core.store.db import session_scope

    host, opts = run.host, run.options
    counted = final["tally"]
    elapsed = final["elapsed_sim"]
    begin = run.sim_begin or 0.0
    with session_scope(host.store.sessions) as session:
        quality = quality_for_window(session, begin, begin + elapsed + 1).to_dict()
    cache = final["cache"]
    l1 = cache["l1_hits"] + cache["l1_misses"]
    l2 = cache["l2_hits"] + cache["l2_misses"]
    snap = host.snapshot()
    last = run.samples[-1] if run.samples else {}
    provider_errors = {name: p.get("errors", {}) for name, p in (last.get("providers") or {}).items()}
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
            "providers": {"active": snap.active_provider, "states": {p.name: p.state for p in snap.providers}},
            "config": config_summary(host.config),
        },
        "totals": {
            "sent": counted.sent, "failed": counted.failed, "pending": counted.pending,
            "throughput_per_min": counted.sent / (elapsed / 60) if elapsed > 0 else None,
            "per_worker": counted.per_worker, "per_bot": counted.per_bot, "per_chat": counted.per_chat,
        },
        "latency": {"llm_s": counted.llm_latency_s, "end_to_end_sim_s": counted.e2e_latency_sim_s},
        "tokens": counted.tokens,
        "cache": {
            "l1": {"hits": cache["l1_hits"], "misses": cache["l1_misses"],
                   "hit_rate": cache["l1_hits"] / l1 if l1 else None},
            "l2": {"configured": host.l2_configured, "hits": cache["l2_hits"], "misses": cache["l2_misses"],
                   "errors": cache["l2_errors"], "hit_rate": cache["l2_hits"] / l2 if l2 else None},
        },
        "errors": {"provider": provider_errors, "telegram": counted.telegram_errors},
        "restarts": {"crash_restarts": last.get("restarts", 0), "crashed_workers": run.crashed_workers},
        "duplicates": {"same_text": counted.duplicate_texts, "sent_twice": counted.resent_rows,
                       "examples": counted.duplicate_examples},
        "quality": quality,
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
