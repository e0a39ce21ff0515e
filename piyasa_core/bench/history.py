"""Past benchmark runs for the operator (the TUI's benchmarks screen, `POST /benchmark
{"action": "history"}`): the timeline of the output directory with each run's verdict, its change
against the previous run of its profile and where its reports are."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from piyasa_core.bench.timeline import TIMELINE, compare, load_timeline, throughput_delta
from piyasa_core.config import Config

HISTORY_LIMIT = 200  # newest runs returned


def bench_out_dir(config: Config) -> Path:
    """Where runs go unless a run names another directory (`[benchmark] out_dir`, else <data_dir>/bench)."""
    configured = config.settings.benchmark.out_dir
    return Path(configured).expanduser() if configured else config.data_dir / "bench"


def verdict(row: dict[str, Any]) -> str:
    """passed | failed | cancelled | could not run (a run that ended in an error)."""
    state = row.get("state")
    if state == "cancelled":
        return "cancelled"
    if state == "failed":
        return "could not run"
    return "passed" if row.get("passed") else "failed"


def bench_history(out_dir: Path, limit: int = HISTORY_LIMIT) -> dict[str, Any]:
    """The newest ``limit`` runs of ``out_dir``'s timeline, newest first, each with ``verdict``,
    ``vs_previous`` (msg/min against the previous run of its profile), ``run_path``, ``exists`` and ``files``."""
    out_dir = Path(out_dir)
    rows = load_timeline(out_dir)
    runs = []
    for item in compare(list(rows))[-limit:]:
        row = dict(item["row"])
        where = Path(str(row.get("run_dir") or row["id"]))
        path = where if where.is_absolute() else out_dir / where
        files = sorted(p.name for p in path.iterdir() if p.is_file()) if path.is_dir() else []
        runs.append({**row, "verdict": verdict(row), "vs_previous": throughput_delta(row, item["prev"]),
                     "record": bool(item["record"]), "run_path": str(path), "exists": path.is_dir(), "files": files})
    runs.reverse()
    return {"ok": True, "out_dir": str(out_dir), "timeline": str(out_dir / TIMELINE), "runs": runs,
            "total": len(rows), "skipped": list(rows.skipped)}
