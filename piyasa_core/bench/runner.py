"""One benchmark run against a running supervisor: the same code for `piyasa-tui bench`, the TUI's
`b` key and `POST /benchmark`.

The run owns the simulation while it lasts: it opens its own chats (bench/scope.py), sets the
simulated clock (time scale, start) and the profile's pace, restarts the workers inside its scope,
waits until every worker runs, lets them warm up, samples every ``sample_every`` simulated seconds,
then measures its own rows in the database, judges the criteria and writes the reports. The previous
clock and scope are put back afterwards (the workers restart in the community's chats)."""

from __future__ import annotations

import asyncio
import bisect
import logging
import math
import secrets
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Protocol

from piyasa_core.bench.capacity import DeltaTally, worker_cpu
from piyasa_core.bench.criteria import Criterion, Observed, Thresholds, evaluate, passed
from piyasa_core.bench.humans import HumanAsker
from piyasa_core.bench.measures import Tally, Window, answers_per_bot, sent_per_worker, tally
from piyasa_core.bench.options import BenchOptions
from piyasa_core.bench.plan import BotPlan, PaceRow, pace_rows, plan_bots
from piyasa_core.bench.scope import RunScope, close_scope, drop_cache_keys, open_scope, run_cache_prefix
from piyasa_core.engine.clock import start_epoch
from piyasa_core.workers.snapshot import Snapshot

log = logging.getLogger(__name__)
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
    active_provider: str
    scope: RunScope | None

    def snapshot(self) -> Snapshot: ...
    def sim_now(self) -> float: ...
    def clock_state(self) -> tuple[float, float, float, RunScope | None]: ...
    async def set_clock(self, time_scale: float, sim_start: float, scope: RunScope | None,
                        anchor: float | None = None) -> None: ...
    async def set_simulation(self, running: bool) -> dict[str, Any]: ...
    def notice(self, level: str, text: str) -> None: ...
    def route_job(self, job: Any) -> None: ...


def sim_start_for(start_at: str, tz_name: str, now: float | None = None) -> float:
    """Epoch seconds of a run's simulated start (see :func:`piyasa_core.engine.clock.start_epoch`)."""
    return start_epoch(start_at, tz_name, now)


def new_run_id(now: float | None = None) -> str:
    stamp = datetime.fromtimestamp(time.time() if now is None else now, timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(2)}"


def cache_counters(snapshot: Snapshot) -> dict[int, dict[str, float]]:
    """Each worker's cumulative cache counters (numbers only; hit rates are derived, not summed)."""
    return {w.worker_id: {k: v for k, v in w.cache.items() if isinstance(v, (int, float)) and not k.endswith("_rate")}
            for w in snapshot.workers}


def engine_counts(snapshot: Snapshot) -> dict[int, dict[str, float]]:
    return {w.worker_id: dict(w.counts) for w in snapshot.workers}


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
        """``own_clock`` false: the host was started on the run's clock and inside its scope already
        (the one-shot CLI calls :meth:`prepare` before starting it), so the run neither restarts the
        workers first nor puts a previous clock back."""
        self.host = host
        self.options = options
        self.own_clock = own_clock
        self.id = run_id or new_run_id()
        bench = host.config.settings.benchmark
        self.thresholds = Thresholds.from_config(bench, options.profile)
        self.state = "starting"
        self.error = ""
        self.samples: list[dict[str, Any]] = []
        self.live: list[Criterion] = []
        self.result: RunResult | None = None
        self.started_real: float | None = None
        self.sim_begin: float | None = None
        self.sim_end: float | None = None
        self.real_begin: float | None = None
        self.scope: RunScope | None = None
        self._closed = False
        self.plans: list[BotPlan] = []
        self._sample_times: list[float] = []  # samples' t_sim, for the plan scale's look-up
        self._live_planned_at = -math.inf
        self._cancel = asyncio.Event()
        self.cache = DeltaTally()  # cache counters since the workers started on the run's clock
        self.counts = DeltaTally()  # engine outcome counters, likewise
        self.cache_at_open: dict[str, float] = {}
        self.counts_at_open: dict[str, float] = {}
        self.cpu_at_open: dict[int, tuple[int, float]] = {}
        self.cpu_at_end: dict[int, tuple[int, float]] = {}
        self._restarts0: dict[int, int] = {}
        self._errors0: dict[str, dict[str, int]] = {}
        self._requests0: dict[str, int] = {}
        self._crashed: set[int] = set()
        self._window: Window | None = None
        self.asker: HumanAsker | None = None
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
            "profile": self.options.profile.name, "duration_s": self.options.duration,
            "time_scale": self.options.time_scale,
            "elapsed_sim_s": round(elapsed, 1), "progress": round(elapsed / self.options.duration, 4),
            "sent": last["sent"] if last else 0,
            "throughput_per_min": last["throughput_per_min"] if last else None,
            "criteria": [c.to_dict() for c in self.live], "error": self.error,
        }
        if self.result is not None:
            out.update(passed=self.result.passed, run_dir=str(self.result.run_dir), files=self.result.files)
        return out

    # ── the run ────────────────────────────────────────────────────────────────────────────────
    def prepare(self) -> RunScope:
        """Open the run's chats (idempotent); the scope the workers must run in."""
        if self.scope is None:
            self.scope = open_scope(self.host.store, self.id, self.options.profile.overrides)
        return self.scope

    def sim_start(self) -> float:
        return sim_start_for(self.options.start_at, self.host.config.settings.engine.timezone)

    async def run(self) -> RunResult:
        from piyasa_core.bench.report import build_report, write_run

        host, opts = self.host, self.options
        previous = host.clock_state()
        clock_changed = False
        self.started_real = time.monotonic()
        try:
            scope = await asyncio.to_thread(self.prepare)
            if self.own_clock:
                clock_changed = True
                await host.set_clock(opts.time_scale, self.sim_start(), scope)
            elif host.scope is None or host.scope.run_id != self.id:
                raise RuntimeError("the workers were not started inside this run's scope (call prepare() first)")
            # crashes count from the run's own workers on, the warm-up and start-up included
            self._restarts0 = {w.worker_id: w.restarts for w in host.snapshot().workers}
            await host.set_simulation(True)
            await self._until_ready()
            snap = host.snapshot()
            self.cache.baseline(cache_counters(snap))
            self.counts.baseline(engine_counts(snap))
            if opts.warmup > 0:  # cold start (staggered first turns, empty caches) kept out of the window
                self.state = "warming up"
                try:
                    await asyncio.wait_for(self._cancel.wait(), opts.warmup / opts.time_scale)
                except asyncio.TimeoutError:
                    pass
            self._open_window()
            self.state = "running"
            host.notice("info", f"benchmark {self.id} running: {opts.duration / 60:g} simulated min at "
                                f"×{opts.time_scale:g}, profile {opts.profile.name}, in chats "
                                f"{', '.join(scope.chat_keys)}")
            await self._sample_loop()
            self.sim_end = min(host.sim_now(), self.sim_begin + opts.duration)  # type: ignore[operator]
            self.cpu_at_end = await asyncio.to_thread(worker_cpu, host.snapshot())
            self.state = "writing"
            final = await asyncio.to_thread(self._observe, final=True)
            report = await asyncio.to_thread(build_report, self, final)
            run_dir, files = await asyncio.to_thread(write_run, report, opts)
            self.result = RunResult(report, bool(report["passed"]), run_dir, files)
            if clock_changed:  # back on the community's clock and chats before the run says it is done
                clock_changed = False
                await self._restore(previous)
            await self._close_scope()
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
                await self._restore(previous)
            await self._close_scope()

    async def _restore(self, previous: tuple[float, float, float, RunScope | None]) -> None:
        """The previous timeline continues where it would have been, in the previous scope."""
        try:
            await self.host.set_clock(previous[0], previous[1], previous[3], anchor=previous[2])
        except Exception as exc:  # noqa: BLE001 - reported; the run's result stands
            self.host.notice("error", f"benchmark: restoring the clock failed: {exc}")

    async def _close_scope(self) -> None:
        if self.scope is None or self._closed:
            return
        self._closed = True
        try:
            await asyncio.to_thread(close_scope, self.host.store, self.scope)
            cache = self.host.config.settings.cache
            if cache.redis_url:
                await drop_cache_keys(cache.redis_url, run_cache_prefix(cache.key_prefix, self.id))
        except Exception as exc:  # noqa: BLE001 - the report stands; say what was left behind
            self.host.notice("warning", f"benchmark {self.id}: cleaning up its chats or cache keys failed: {exc}")

    def _open_window(self) -> None:
        host = self.host
        assert self.scope is not None
        self.sim_begin = host.sim_now()
        self.real_begin = time.monotonic()
        self._window = Window(self.scope.chat_ids, host.total, self.sim_begin)
        snap = host.snapshot()
        self.cache.update(cache_counters(snap))
        self.counts.update(engine_counts(snap))
        self.cache_at_open = self.cache.totals()
        self.counts_at_open = self.counts.totals()
        self.cpu_at_open = worker_cpu(snap)
        self._errors0 = {p.name: dict(p.errors) for p in snap.providers}
        self._requests0 = {p.name: p.requests_today for p in snap.providers}
        self.plans = self._plan(self.sim_begin + self.options.duration)
        self.asker = self._asker() if self.options.profile.human_every else None

    def _plan(self, end: float) -> list[BotPlan]:
        """Each bot's planned messages from the window's start to ``end`` (the profile's pace)."""
        from piyasa_core.engine.repo import load_profiles
        from piyasa_core.store.db import session_scope

        assert self.sim_begin is not None
        profile = self.options.profile
        engine = self.host.config.settings.engine.model_copy(
            update={"hourly_min": profile.hourly_min, "hourly_max": profile.hourly_max, "rhythm": profile.rhythm})
        with session_scope(self.host.store.sessions) as session:
            bots = [b for b in load_profiles(session) if set(b.chat_ids) & set(self.scope.chat_ids)]  # type: ignore[union-attr]
        people = [q.at for q in self.asker.asked] if self.asker is not None else []
        return plan_bots(bots, engine, self.host.total, self.sim_begin, end, people, self._scale_at)

    def _scale_at(self, t: float) -> float:
        """The day's LLM plan's scale at simulated ``t`` (the last sample at or before it; 1 before any):
        the workers ran every bot at this share of its pace, so the run is held against the same."""
        assert self.sim_begin is not None
        i = bisect.bisect_right(self._sample_times, t - self.sim_begin)
        return float(self.samples[i - 1].get("plan_scale", 1.0)) if i else 1.0

    def _asker(self) -> HumanAsker:
        from piyasa_core.engine.repo import load_profiles
        from piyasa_core.store.db import session_scope

        assert self.sim_begin is not None and self.scope is not None and self.options.profile.human_every
        with session_scope(self.host.store.sessions) as session:
            bots = [b for b in load_profiles(session) if set(b.chat_ids) & set(self.scope.chat_ids)]
        chats = dict(zip(self.scope.chat_ids, self.scope.chat_keys))
        return HumanAsker(self.host.store.engine, bots, chats, self.host.config.settings.engine,
                          self.options.profile.human_every, self.sim_begin, self.sim_begin + self.options.duration,
                          self.host.route_job)

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
            asker = self.asker
            while asker is not None and asker.next_at <= min(target, asker.last_at) and not self.cancelled:
                await self._wait_until(asker.next_at)  # a person's question falls between two samples
                if not self.cancelled:
                    await asyncio.to_thread(self._ask)
            await self._wait_until(target)
            if self.cancelled:
                break
            await asyncio.to_thread(self._take_sample)
            if target >= self.sim_begin + opts.duration:
                break
            k += 1
        if self.cancelled:
            await asyncio.to_thread(self._take_sample)

    async def _wait_until(self, sim_t: float) -> None:
        wait = (sim_t - self.host.sim_now()) / self.options.time_scale
        if wait > 0:
            try:
                await asyncio.wait_for(self._cancel.wait(), wait)
            except asyncio.TimeoutError:
                pass

    def _ask(self) -> None:
        assert self.asker is not None
        try:
            asked = self.asker.ask(self.host.sim_now())
        except Exception as exc:  # noqa: BLE001 - a question that could not be posted is reported, not fatal
            self.asker.next_at += self.asker.every
            self.host.notice("warning", f"benchmark {self.id}: posting a person's question failed: {exc}")
            return
        log.info("benchmark %s: %s asked in %s: %s (answering: %s)", self.id, asked.asker, asked.chat, asked.text,
                 ", ".join(asked.answering) or "the engine's choice")

    def _take_sample(self) -> None:
        assert self._window is not None and self.sim_begin is not None
        snap = self.host.snapshot()
        self.cache.update(cache_counters(snap))
        self.counts.update(engine_counts(snap))
        for w in snap.workers:
            if w.restarts > self._restarts0.get(w.worker_id, 0) or w.state in ("crashed", "backoff"):
                self._crashed.add(w.worker_id)
        per_worker = sent_per_worker(self.host.store.engine, self._window)
        elapsed = min(self.host.sim_now() - self.sim_begin, self.options.duration)
        cache = self.cache.totals()
        sample = {
            "t_sim": round(elapsed, 3),
            "t_real": round(time.monotonic() - (self.started_real or time.monotonic()), 3),
            "sent": sum(per_worker), "sent_per_worker": per_worker,
            "throughput_per_min": sum(per_worker) / (elapsed / 60) if elapsed > 0 else None,
            "cache": {k: int(cache.get(k, 0)) for k in ("l1_hits", "l1_misses", "l2_hits", "l2_misses", "l2_errors")},
            "restarts": self._crash_restarts(snap),
            "worker_states": [w.state for w in snap.workers],
            "plan_scale": float((snap.day_plan or {}).get("scale", 1.0)),
            "providers": {p.name: {"state": p.state, "remaining_requests": p.remaining_requests,
                                   "limit_requests": p.limit_requests, "remaining_tokens": p.remaining_tokens,
                                   "limit_tokens": p.limit_tokens, "tokens_today": p.tokens_today, "tpd": p.tpd,
                                   "errors": self._errors_since(p.name, p.errors)}
                          for p in snap.providers},
        }
        self.samples.append(sample)
        self._sample_times.append(sample["t_sim"])
        # the live view's plan so far: a plan over the whole window costs more the longer the run, so a long
        # run (a day profile) re-plans at most ~120 times, not at every sample
        if elapsed < self.options.duration and elapsed - self._live_planned_at < self.options.duration / 120:
            return
        self._live_planned_at = elapsed
        partial = self._plan(self.sim_begin + elapsed)
        answers = answers_per_bot(self.host.store.engine, self._window) if self.asker is not None else {}
        bots, workers = pace_rows(partial, self._delivered_per_bot(), self.host.total, answers,
                                  self.options.profile.hourly_max)
        self.live = evaluate(self._observed(per_worker, elapsed, None, bots, workers, None), self.thresholds,
                             final=False)

    def _delivered_per_bot(self) -> dict[int, int]:
        from sqlalchemy import func, select

        from piyasa_core.store.models import Message

        assert self._window is not None
        with self.host.store.engine.connect() as conn:
            rows = conn.execute(select(Message.bot_id, func.count()).where(*self._window.sent_in())
                                .group_by(Message.bot_id)).all()
        return {int(b): int(n) for b, n in rows}

    def _crash_restarts(self, snap: Snapshot) -> int:
        return sum(max(0, w.restarts - self._restarts0.get(w.worker_id, 0)) for w in snap.workers)

    def _errors_since(self, name: str, errors: dict[str, int]) -> dict[str, int]:
        base = self._errors0.get(name, {})
        return {k: max(0, int(v) - int(base.get(k, 0))) for k, v in sorted(errors.items())
                if int(v) - int(base.get(k, 0)) > 0}

    def requests_since(self) -> dict[str, int]:
        """Requests each provider answered during the window (its daily ledger's delta)."""
        return {p.name: max(0, p.requests_today - self._requests0.get(p.name, 0)) for p in self.host.snapshot().providers}

    def warm_cache(self) -> dict[str, float]:
        """Cache counters of the measured window alone."""
        total = self.cache.totals()
        return {k: v - self.cache_at_open.get(k, 0) for k, v in total.items()}

    def _observed(self, per_worker: list[int], elapsed: float, duplicates: int | None, bots: list[PaceRow],
                  workers: list[PaceRow], counted: Tally | None, quality: dict[str, Any] | None = None) -> Observed:
        warm = self.warm_cache()
        late = counted.lateness_sim_s if counted is not None else {}
        return Observed(
            throughput_per_min=sum(per_worker) / (elapsed / 60) if elapsed > 0 else None,
            per_worker=per_worker, duplicates=duplicates, l2_configured=self.host.l2_configured,
            l2_hits=int(warm.get("l2_hits", 0)), l2_misses=int(warm.get("l2_misses", 0)),
            crashes=max(len(self._crashed), self._crash_restarts(self.host.snapshot())),
            crashed_workers=sorted(self._crashed), bot_pace=bots, worker_pace=workers,
            lateness_p95=late.get("p95"), lateness_count=int(late.get("count") or 0),
            people=self._people(quality))

    def _people(self, quality: dict[str, Any] | None) -> dict[str, int] | None:
        if self.asker is None or not self.asker.asked:
            return None
        q = quality or {}
        return {"asked": len(self.asker.asked), "answered": int(q.get("human_questions_answered", 0)),
                "answered_well": int(q.get("human_questions_with_answer", 0)),
                "addressed": int(q.get("addressed_human_questions", 0)),
                "addressed_first": int(q.get("addressed_answered_first", 0)),
                "most_bots_10min": int(q.get("max_bots_per_human_question_10min", 0))}

    def _observe(self, *, final: bool) -> dict[str, Any]:
        """The final measures: the run's rows counted in the database, criteria judged."""
        assert self._window is not None and self.sim_end is not None and self.sim_begin is not None
        counted = tally(self.host.store.engine, replace(self._window, end=self.sim_end))
        elapsed = self.elapsed_sim()
        self.plans = self._plan(self.sim_begin + elapsed)  # a cancelled run is judged on what it ran
        bots, workers = pace_rows(self.plans, counted.per_bot_id, self.host.total, counted.answers_per_bot_id,
                                  self.options.profile.hourly_max)
        quality = self._quality(elapsed)
        criteria = evaluate(self._observed(counted.per_worker, elapsed, counted.duplicates, bots, workers, counted,
                                           quality), self.thresholds, final=final)
        self.live = criteria
        return {"tally": counted, "criteria": criteria, "passed": passed(criteria) and not self.cancelled,
                "elapsed_sim": elapsed, "bot_pace": bots, "worker_pace": workers, "quality": quality}

    def _quality(self, elapsed: float) -> dict[str, Any]:
        """The quality report over the tally's window, in the run's chats."""
        from piyasa_core.engine.quality_db import quality_for_window
        from piyasa_core.store.db import session_scope

        assert self.sim_begin is not None and self.scope is not None
        with session_scope(self.host.store.sessions) as session:
            return quality_for_window(session, self.sim_begin, self.sim_begin + elapsed, self.scope.chat_ids,
                                      self.host.config.settings.engine.timezone).to_dict()
