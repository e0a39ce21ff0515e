"""Helpers for supervisor tests: a supervisor on the embedded default at a simulated 10:05."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from piyasa_core.config import load_config
from piyasa_core.store.bootstrap import initialise
from piyasa_core.workers.supervisor import Supervisor
from tests.engine_support import SIM_START


@asynccontextmanager
async def running_supervisor(scale: float = 60, **kwargs: Any) -> AsyncIterator[Supervisor]:
    config = load_config()
    initialise(config)
    supervisor = Supervisor(config, time_scale=scale, sim_start=SIM_START, **kwargs)
    await supervisor.start()
    try:
        yield supervisor
    finally:
        await supervisor.stop()


async def until(predicate: Callable[[], bool], timeout: float, step: float = 0.05) -> float:
    """Wait until ``predicate()``; returns the seconds it took (AssertionError on timeout)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        await asyncio.sleep(step)
    raise AssertionError(f"not reached within {timeout} s")


def all_running(supervisor: Supervisor) -> bool:
    return all(w.state == "running" for w in supervisor.snapshot().workers)
