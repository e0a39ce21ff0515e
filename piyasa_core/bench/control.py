"""Starting, cancelling and reporting the one benchmark a supervisor runs at a time (the TUI key and
`POST /benchmark` both come here)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from piyasa_core.bench.options import BenchInputError, resolve_options
from piyasa_core.bench.runner import BenchHost, BenchmarkRun

log = logging.getLogger(__name__)


class BenchBusy(LookupError):
    """A start while a run is going, or a cancel with none (the control API answers 409)."""


class BenchController:
    """At most one run at a time; the last finished run stays visible in :meth:`status`."""

    def __init__(self, host: BenchHost) -> None:
        self.host = host
        self.run: BenchmarkRun | None = None
        self.task: asyncio.Task[Any] | None = None

    @property
    def active(self) -> bool:
        return self.run is not None and not self.run.finished

    def status(self) -> dict[str, Any] | None:
        return self.run.progress() if self.run is not None else None

    async def handle(self, action: str, options: dict[str, Any], *, trigger: str) -> dict[str, Any]:
        """``start`` (options: duration, time_scale, sample_every, out, formats, start_at), ``cancel``
        or ``status``; bad input raises :class:`BenchInputError` (ValueError-like, one line)."""
        if action == "start":
            return self.start(options, trigger=trigger)
        if action == "cancel":
            if not self.active:
                raise BenchBusy("no benchmark is running")
            assert self.run is not None
            self.run.cancel()
            return {"ok": True, "id": self.run.id, "state": "cancelling"}
        if action == "status":
            return {"ok": True, "benchmark": self.status()}
        raise BenchInputError(f"benchmark action: {action!r} is not one of start, cancel, status")

    def start(self, options: dict[str, Any], *, trigger: str) -> dict[str, Any]:
        if self.active:
            assert self.run is not None
            raise BenchBusy(f"benchmark {self.run.id} is already running; cancel it first")
        given = {k: v for k, v in options.items() if k != "action"}
        opts = resolve_options(self.host.config, given, trigger=trigger, provider=self.host.active_provider)
        run = BenchmarkRun(self.host, opts)
        self.run = run
        self.task = asyncio.create_task(self._run(run))
        return {"ok": True, "id": run.id, "duration_s": opts.duration, "time_scale": opts.time_scale,
                "real_seconds": round(opts.real_seconds, 1), "out_dir": str(opts.out_dir)}

    async def _run(self, run: BenchmarkRun) -> None:
        try:
            await run.run()
        except Exception:  # noqa: BLE001 - the run reports itself (state failed + a notice)
            log.exception("benchmark %s failed", run.id)

    async def aclose(self) -> None:
        if self.active and self.run is not None:
            self.run.cancel()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)
