"""Helpers for engine tests: an initialised store and engines on a simulated clock."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from piyasa_core.config import Config, load_config
from piyasa_core.engine.clock import SimClock
from piyasa_core.engine.core import Engine
from piyasa_core.engine.factory import build_engine
from piyasa_core.engine.types import SentMessage
from piyasa_core.store import Store, open_store
from piyasa_core.store.bootstrap import initialise

# A Wednesday, 10:05 in Istanbul: every default persona is inside its active hours. Tests that need bots
# to speak start their simulated clock here, never at the wall clock (which may be night or a Sunday).
SIM_START_AT = "2026-11-25T10:05"  # the same moment as [engine] start_at, for spawned processes
SIM_START = datetime(2026, 11, 25, 10, 5, tzinfo=ZoneInfo("Europe/Istanbul")).timestamp()


def setup_store(**env: str) -> tuple[Config, Store]:
    """Config and an initialised store in the current directory, which must be a test's own (the
    ``workdir`` fixture): a test in the repository would share data/piyasa.db with every earlier run."""
    from pathlib import Path

    from tests.conftest import REPO

    assert Path.cwd().resolve() != REPO.resolve(), "use the workdir fixture: this would write the repository's data/"
    config = load_config()
    initialise(config)
    return config, open_store(config)


def engines(config: Config, store: Store, scale: float, events: list[Any], *, workers: int = 4,
            transport_for: Callable[[int], Any] | None = None, seed: int = 11) -> list[Engine]:
    return [build_engine(config, store, worker_id=w, total=workers, emit=events.append,
                         clock=SimClock(scale, SIM_START), seed=seed + w,
                         transport=transport_for(w) if transport_for else None)
            for w in range(workers)]


async def run_for(items: list[Engine], seconds: float) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(e.run(stop)) for e in items]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)


def sent(events: list[Any]) -> list[SentMessage]:
    return [e for e in events if isinstance(e, SentMessage)]
