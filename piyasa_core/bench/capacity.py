"""Capacity figures of a run: counters summed across worker restarts, CPU the workers used, the
headroom derived from it and from the providers' limits, and what the cache saved."""

from __future__ import annotations

import os
from typing import Any

import psutil

from piyasa_core.workers.snapshot import Snapshot


class DeltaTally:
    """Per-worker cumulative counters summed over a run; a restarted worker's counters start again at
    0, which is told apart from progress by a counter going down."""

    def __init__(self) -> None:
        self.last: dict[int, dict[str, float]] = {}
        self.total: dict[int, dict[str, float]] = {}

    def baseline(self, counters: dict[int, dict[str, float]]) -> None:
        self.last = {w: dict(c) for w, c in counters.items()}
        self.total = {w: {} for w in counters}

    def update(self, counters: dict[int, dict[str, float]]) -> None:
        for worker, now in counters.items():
            last = self.last.get(worker, {})
            total = self.total.setdefault(worker, {})
            restarted = any(now.get(k, 0) < v for k, v in last.items())
            for key, value in now.items():
                step = value if restarted else value - last.get(key, 0)
                total[key] = total.get(key, 0) + step
            self.last[worker] = dict(now)

    def totals(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for counters in self.total.values():
            for key, value in counters.items():
                out[key] = out.get(key, 0) + value
        return out


def worker_cpu(snapshot: Snapshot) -> dict[int, tuple[int, float]]:
    """Each live worker's (pid, CPU seconds used so far: user + system)."""
    out = {}
    for w in snapshot.workers:
        if not w.pid:
            continue
        try:
            times = psutil.Process(w.pid).cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        out[w.worker_id] = (w.pid, times.user + times.system)
    return out


def cpu_used(before: dict[int, tuple[int, float]], after: dict[int, tuple[int, float]]) -> dict[int, float]:
    """CPU seconds per worker between two readings (a worker restarted in between counts from 0)."""
    used = {}
    for worker, (pid, seconds) in after.items():
        start = before.get(worker)
        used[worker] = seconds - start[1] if start is not None and start[0] == pid else seconds
    return used


def headroom(cpu: dict[int, float], real_s: float, sent: int, requests: dict[str, int],
             tokens: dict[str, dict[str, int]], providers: dict[str, Any]) -> dict[str, Any]:
    """How many times the run's load the system could carry before it falls behind: derived, not
    measured. Bounds: the host's CPUs (all workers together) and one CPU per worker (each worker is
    one event loop), from the CPU the workers used over the window's real time; and each provider's
    per-minute request and token limits, from what the run asked of them. The database and the
    supervisor are not in it (P1 in docs/performance.md measures the engine's ceiling)."""
    bounds: dict[str, float] = {}
    minutes = real_s / 60
    total = sum(cpu.values())
    if real_s > 0 and total > 0:
        bounds["cpu (host)"] = (os.cpu_count() or 1) * real_s / total
        busiest = max(cpu, key=lambda w: cpu[w])
        bounds[f"cpu (worker {busiest})"] = real_s / cpu[busiest] if cpu[busiest] > 0 else float("inf")
    for name, count in requests.items():
        cfg = providers.get(name)
        if cfg is None or minutes <= 0 or count <= 0:
            continue
        if cfg.rpm:
            bounds[f"{name} requests/min"] = cfg.rpm / (count / minutes)
        used = tokens.get(name, {})
        spent = used.get("in", 0) + used.get("out", 0)
        if cfg.tpm and spent:
            bounds[f"{name} tokens/min"] = cfg.tpm / (spent / minutes)
    finite = {k: round(v, 2) for k, v in bounds.items() if v != float("inf")}
    bound = min(finite, key=lambda k: finite[k]) if finite else None
    return {"method": "derived", "value": finite[bound] if bound else None, "bound": bound, "bounds": finite,
            "cpu_seconds": round(total, 3), "cpu_ms_per_message": round(total * 1000 / sent, 3) if sent else None,
            "real_seconds": round(real_s, 3)}


def _layer(c: dict[str, float], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for layer in ("l1", "l2"):
        hits, misses = int(c.get(f"{prefix}{layer}_hits", 0)), int(c.get(f"{prefix}{layer}_misses", 0))
        out[layer] = {"hits": hits, "misses": misses, "hit_rate": hits / (hits + misses) if hits + misses else None}
    return out


def cache_figures(cold: dict[str, float], warm: dict[str, float], sent: int, l2_configured: bool) -> dict[str, Any]:
    """Cold (warm-up) and warm (measured window) hit rates, and per kind of entry what the cache held
    and saved over the window: loads avoided (for history: database reads) and the time that saved
    net of the Redis round trips, per sent message. A load's cost is its mean over the whole run (an
    entry loaded once in the warm-up and then always hit still saved a load per hit)."""
    kinds: dict[str, Any] = {}
    saved_total = 0.0
    for name in sorted({k.split(".", 1)[0] for k in warm if "." in k}):
        g = {f: warm.get(f"{name}.{f}", 0) for f in ("l1_hits", "l1_misses", "l2_hits", "l2_misses", "loads",
                                                     "load_seconds", "l2_seconds")}
        lookups = int(g["l1_hits"] + g["l1_misses"])
        loads = int(g["loads"])
        all_loads = loads + cold.get(f"{name}.loads", 0)
        all_seconds = g["load_seconds"] + cold.get(f"{name}.load_seconds", 0.0)
        mean_load = all_seconds / all_loads if all_loads else None
        avoided = max(0, lookups - loads)
        saved = avoided * mean_load - g["l2_seconds"] if mean_load is not None else None
        saved_total += saved or 0.0
        kinds[name] = {"lookups": lookups, "l1_hits": int(g["l1_hits"]), "l2_hits": int(g["l2_hits"]), "loads": loads,
                       "loads_avoided": avoided, "mean_load_ms": None if mean_load is None else round(mean_load * 1000, 4),
                       "l2_ms": round(g["l2_seconds"] * 1000, 3), "saved_ms": None if saved is None else round(saved * 1000, 3)}
    history = kinds.get("history", {})
    return {
        "cold": _layer(cold), "warm": _layer(warm), "kinds": kinds,
        "saved": {"database_reads_avoided": history.get("loads_avoided", 0),
                  "ms_total": round(saved_total * 1000, 3),
                  "ms_per_message": round(saved_total * 1000 / sent, 4) if sent else None},
        "l2_configured": l2_configured,
    }
