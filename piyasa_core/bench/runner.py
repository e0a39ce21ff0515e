"""One benchmark run against a running supervisor: the same code for `piyasa-tui bench`, the TUI's
`b` key and `POST /benchmark`.

The run owns the simulation while it lasts: it sets the simulated clock (time scale, start time of
day) and restarts the workers when the clock differs, waits until every worker runs, samples every
``sample_every`` simulated seconds, then measures the run's rows in the database, judges the
criteria and writes the reports. The previous clock is put back afterwards (the workers restart)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from piyasa_core.bench.criteria import Criterion, Observed, Thresholds, evaluate, passed
from piyasa_core.bench.measures import Window, coefficient_of_variation, highest_message_id, sent_per_worker, tally
from piyasa_core.bench.options import BenchOptions
from piyasa_core.workers.snapshot import Snapshot

log = logging.getLogger(__name__)
CACHE_KEYS = ("l1_hits", "l1_misses", "l2_hits", "l2_misses", "l2_errors")
READY_TIMEOUT = 60.0  # real seconds for every worker to run after the clock is set


class BenchCancelled(RuntimeError):
    """The run was cancelled before its window opened: there is nothing to report."""


class BenchHost(Protocol):
    """What the runner needs from the supervisor."""

    config: Any
    total: int
    time_scale: float
    store: Any
    l2_configured: bool

    def snapshot(self) -> Snapshot: ...
    def sim_now(self) -> float: ...
    async def set_clock(self, time_scale: float, sim_start: float) -> None: ...
    async def set_simulation(self, running: bool) -> dict[str, Any]: ...
    def notice(self, level: str, text: str) -> None: ...


def sim_start_for(start_at: str, tz_name: str, now: float | None = None) -> float:
    """Epoch seconds of today's ``HH:MM`` in ``tz_name`` ("" → now)."""
    now = time.time() if now is None else now
    if not start_at:
        return now
    tz = ZoneInfo(tz_name)
    hour, minute = (int(p) for p in start_at.split(":"))
    day = datetime.fromtimestamp(now, tz)
    return day.replace(hour=hour, minute=minute, second=0, microsecond=0).timestamp()


def new_run_id(now: float | None = None) -> str:
    stamp = datetime.fromtimestamp(time.time() if now is None else now, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(2)}"


class CacheTally:
    """Per-worker cache counters summed over the run; a restarted worker's counters start again at 0."""

    def __init__(self) -> None:
        self.last: dict[int, dict[str, int]] = {}
        self.total: dict[int, dict[str, int]] = {}

    def baseline(self, snapshot: Snapshot) -> None:
        for w in snapshot.workers:
            self.last[w.worker_id] = {k: int(w.cache.get(k, 0) or 0) for k in CACHE_KEYS}
            self.total[w.worker_id] = dict.fromkeys(CACHE_KEYS, 0)

    def update(self, snapshot: Snapshot) -> None:
        for w in snapshot.workers:
            now = {k: int(w.cache.get(k, 0) or 0) for k in CACHE_KEYS}
            last = self.last.get(w.worker_id, dict.fromkeys(CACHE_KEYS, 0))
            total = self.total.setdefault(w.worker_id, dict.fromkeys(CACHE_KEYS, 0))
            for k in CACHE_KEYS:
                total[k] += now[k] - last[k] if now[k] >= last[k] else now[k]
            self.last[w.worker_id] = now

    def totals(self) -> dict[str, int]:
        return {k: sum(t[k] for t in self.total.values()) for k in CACHE_KEYS}


@dataclass
class RunResult:
    """The finished run: the report (also written to disk) and where it went."""

    report: dict[str, Any]
    passed: bool
    run_dir: Any
    files: list[str] = field(default_factory=list)


class BenchmarkRun:
    """``await run.run()`` once; ``run.cancel()`` from anywhere in the loop; ``run.progress()`` for the
    TUI and the control API (plain JSON)."""

    def __init__(self, host: BenchHost, options: BenchOptions, *, own_clock: bool = True,
                 run_id: str | None = None) -> None:
        """``own_clock`` false: the host was started on the run's clock already (the one-shot CLI), so
        the run neither restarts the workers first nor puts a previous clock back."""
        self.host = host
        self.options = options
        self.own_clock = own_clock
        self.id = run_id or new_run_id()
        self.thresholds = Thresholds.from_config(host.config.settings.benchmark)
        self.state = "starting"
        self.error = ""
        self.samples: list[dict[str, Any]] = []
        self.live: list[Criterion] = []
        self.result: RunResult | None = None
        self.started_real: float | None = None
        self.sim_begin: float | None = None
        self.sim_end: float | None = None
        self._cancel = asyncio.Event()
        self._cache = CacheTally()
        self._restarts0: dict[int, int] = {}
        self._errors0: dict[str, dict[str, int]] = {}
        self._crashed: set[int] = set()
        self._window: Window | None = None
        self.wall_started = time.time()

    # ── control ────────────────────────────────────────────────────────────────────────────────
    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def crashed_workers(self) -> list[int]:
        """Workers that crashed (restarted by the supervisor, or down) during the run."""
        return sorted(self._crashed)

    @property
    def finished(self) -> bool:
        return self.state in ("completed", "cancelled", "failed")  # else starting, warming up, running, writing

    def elapsed_sim(self) -> float:
        if self.sim_begin is None:
            return 0.0
        end = self.sim_end if self.sim_end is not None else self.host.sim_now()
        return max(0.0, min(end - self.sim_begin, self.options.duration))

    def progress(self) -> dict[str, Any]:
        """Where the run is (plain JSON: the snapshot carries it to the TUI and `/status`)."""
        elapsed = self.elapsed_sim()
        last = self.samples[-1] if self.samples else None
        out: dict[str, Any] = {
            "id": self.id, "state": self.state, "trigger": self.options.trigger,
            "duration_s": self.options.duration, "time_scale": self.options.time_scale,
            "elapsed_sim_s": round(elapsed, 1), "progress": round(elapsed / self.options.duration, 4),
            "sent": last["sent"] if last else 0,
            "throughput_per_min": last["throughput_per_min"] if last else None,
            "criteria": [c.to_dict() for c in self.live], "error": self.error,
        }
        if self.result is not None:
            out.update(passed=self.result.passed, run_dir=str(self.result.run_dir), files=self.result.files)
        return out

    # ── the run ────────────────────────────────────────────────────────────────────────────────
    async def run(self) -> RunResult:
        from piyasa_core.bench.report import build_report, write_run

        host, opts = self.host, self.options
        previous_scale = host.time_scale
        clock_changed = False
        self.started_real = time.monotonic()
        try:
            if self.own_clock:
                tz = host.config.settings.engine.timezone
                clock_changed = True
                await host.set_clock(opts.time_scale, sim_start_for(opts.start_at, tz))
            await host.set_simulation(True)
            await self._until_ready()
            after_id = highest_message_id(host.store.engine)
            if opts.warmup > 0:  # cold start (staggered first turns) kept out of the window
                self.state = "warming up"
                try:
                    await asyncio.wait_for(self._cancel.wait(), opts.warmup / opts.time_scale)
                except asyncio.TimeoutError:
                    pass
            self.sim_begin = host.sim_now()
            self._window = Window(after_id, host.total, self.sim_begin)
            snap = host.snapshot()
            self._cache.baseline(snap)
            self._restarts0 = {w.worker_id: w.restarts for w in snap.workers}
            self._errors0 = {p.name: dict(p.errors) for p in snap.providers}
            self.state = "running"
            host.notice("info", f"benchmark {self.id} running: {opts.duration / 60:g} simulated min "
                                f"at ×{opts.time_scale:g}")
            await self._sample_loop()
            self.sim_end = min(host.sim_now(), self.sim_begin + opts.duration)
            self.state = "writing"
            final = self._observe(final=True)
            report = await asyncio.to_thread(build_report, self, final)
            run_dir, files = await asyncio.to_thread(write_run, report, opts)
            self.result = RunResult(report, bool(report["passed"]), run_dir, files)
            self.state = "cancelled" if self.cancelled else "completed"
            verdict = "cancelled (partial report)" if self.cancelled else "passed" if self.result.passed else "FAILED"
            host.notice("info" if self.result.passed and not self.cancelled else "warning",
                        f"benchmark {self.id} {verdict}: {run_dir}")
            return self.result
        except BenchCancelled as exc:
            self.state, self.error = "cancelled", str(exc)
            host.notice("warning", f"benchmark {self.id} {exc}")
            raise
        except Exception as exc:
            self.state = "failed"
            self.error = f"{type(exc).__name__}: {exc}"
            host.notice("error", f"benchmark {self.id} failed: {self.error}")
            raise
        finally:
            if clock_changed:
                try:
                    await host.set_clock(previous_scale, time.time())
                except Exception as exc:  # noqa: BLE001 - reported; the run's result stands
                    host.notice("error", f"benchmark: restoring the clock failed: {exc}")

    async def _until_ready(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            snap = self.host.snapshot()
            if snap.workers and all(w.state == "running" for w in snap.workers):
                return
            if self.cancelled:
                raise BenchCancelled("cancelled before the workers were running: nothing was measured")
            if time.monotonic() > deadline:
                states = ", ".join(f"w{w.worker_id} {w.state}" for w in snap.workers)
                raise TimeoutError(f"the workers were not all running after {READY_TIMEOUT:g} s ({states})")
            await asyncio.sleep(0.05)

    async def _sample_loop(self) -> None:
        opts = self.options
        assert self.sim_begin is not None
        k = 1
        while not self.cancelled:
            target = self.sim_begin + min(k * opts.sample_every, opts.duration)
            wait = (target - self.host.sim_now()) / opts.time_scale
            if wait > 0:
                try:
                    await asyncio.wait_for(self._cancel.wait(), wait)
                except asyncio.TimeoutError:
                    pass
            if self.cancelled:
                break
            self._take_sample()
            if target >= self.sim_begin + opts.duration:
                break
            k += 1
        if self.cancelled:
            self._take_sample()

    def _take_sample(self) -> None:
        assert self._window is not None and self.sim_begin is not None
        snap = self.host.snapshot()
        self._cache.update(snap)
        for w in snap.workers:
            if w.restarts > self._restarts0.get(w.worker_id, 0) or w.state in ("crashed", "backoff"):
                self._crashed.add(w.worker_id)
        per_worker = sent_per_worker(self.host.store.engine, self._window)
        elapsed = min(self.host.sim_now() - self.sim_begin, self.options.duration)
        cache = self._cache.totals()
        sample = {
            "t_sim": round(elapsed, 3),
            "t_real": round(time.monotonic() - (self.started_real or time.monotonic()), 3),
            "sent": sum(per_worker), "sent_per_worker": per_worker,
            "throughput_per_min": sum(per_worker) / (elapsed / 60) if elapsed > 0 else None,
            "cache": cache,
            "restarts": self._crash_restarts(snap),
            "worker_states": [w.state for w in snap.workers],
            "providers": {p.name: {"state": p.state, "remaining_requests": p.remaining_requests,
                                   "limit_requests": p.limit_requests, "remaining_tokens": p.remaining_tokens,
                                   "limit_tokens": p.limit_tokens, "tokens_today": p.tokens_today, "tpd": p.tpd,
                                   "errors": self._errors_since(p.name, p.errors)}
                          for p in snap.providers},
        }
        self.samples.append(sample)
        self.live = evaluate(self._observed(per_worker, elapsed, cache, None), self.thresholds, final=False)

    def _crash_restarts(self, snap: Snapshot) -> int:
        return sum(max(0, w.restarts - self._restarts0.get(w.worker_id, 0)) for w in snap.workers)

    def _errors_since(self, name: str, errors: dict[str, int]) -> dict[str, int]:
        base = self._errors0.get(name, {})
        return {k: max(0, int(v) - int(base.get(k, 0))) for k, v in sorted(errors.items())
                if int(v) - int(base.get(k, 0)) > 0}

    def _observed(self, per_worker: list[int], elapsed: float, cache: dict[str, int],
                  duplicates: int | None) -> Observed:
        return Observed(
            throughput_per_min=sum(per_worker) / (elapsed / 60) if elapsed > 0 else None,
            per_worker=per_worker, worker_cv=coefficient_of_variation(per_worker), duplicates=duplicates,
            l2_configured=self.host.l2_configured, l2_hits=cache["l2_hits"], l2_misses=cache["l2_misses"],
            crashes=max(len(self._crashed), self._crash_restarts(self.host.snapshot())),
            crashed_workers=sorted(self._crashed))

    def _observe(self, *, final: bool) -> dict[str, Any]:
        """The final measures: the run's rows counted in the database, criteria judged."""
        assert self._window is not None and self.sim_end is not None
        counted = tally(self.host.store.engine, replace(self._window, end=self.sim_end))
        elapsed = self.elapsed_sim()
        cache = self._cache.totals()
        criteria = evaluate(self._observed(counted.per_worker, elapsed, cache, counted.duplicates),
                            self.thresholds, final=final)
        self.live = criteria
        return {"tally": counted, "criteria": criteria, "passed": passed(criteria) and not self.cancelled,
                "cache": cache, "elapsed_sim": elapsed}


def sim_window(run: BenchmarkRun) -> tuple[float, float]:
    """The simulated [begin, end) of the run (for the quality report)."""
    begin = run.sim_begin or 0.0
    return begin, (run.sim_end or begin) + timedelta(seconds=1).total_seconds()
