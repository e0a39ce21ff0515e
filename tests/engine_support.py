"""Helpers for engine tests: an initialised store and engines on a simulated clock."""

from __future__ import annotations

import asyncio
import time
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


async def run_until(items: list[Engine], done: Callable[[], bool], timeout: float = 30.0, step: float = 0.05) -> float:
    """Run the engines until ``done()`` holds, then stop them (and let them drain); returns the real
    seconds it took. AssertionError when it does not hold within ``timeout`` real seconds, or when an
    engine stopped by itself. For tests waiting for something to happen: how soon is the host's speed."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(e.run(stop)) for e in items]
    started = time.monotonic()
    try:
        while not done():
            if any(t.done() for t in tasks):
                break  # the gather below raises its exception
            if time.monotonic() - started > timeout:
                raise AssertionError(f"not reached within {timeout:g} s")
            await asyncio.sleep(step)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert done(), "an engine stopped before the condition held"
    return time.monotonic() - started


def sent(events: list[Any]) -> list[SentMessage]:
    return [e for e in events if isinstance(e, SentMessage)]


async def started_community(scale: float = 60) -> tuple[Config, Store, list[Any], list[Engine], int, list[Any]]:
    """Four started engines on a fresh store: (config, store, events, engines, the chat's id, bot profiles)."""
    from sqlalchemy import select

    from piyasa_core.engine.repo import load_profiles
    from piyasa_core.store.db import session_scope
    from piyasa_core.store.models import Chat

    config, store = setup_store()
    events: list[Any] = []
    workers = engines(config, store, scale, events)
    await asyncio.gather(*(w.start() for w in workers))
    with session_scope(store.sessions) as session:
        chat_id = int(session.scalar(select(Chat.id)))
        bots = load_profiles(session)
    return config, store, events, workers, chat_id, bots
