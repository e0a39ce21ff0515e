"""A benchmark run's own chats and cache keys, on SQLite, the real PostgreSQL and the real Redis."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from piyasa_core.bench.scope import close_scope, drop_cache_keys, open_scope, run_cache_prefix, run_chat_key
from piyasa_core.config import load_config
from piyasa_core.engine.repo import load_chats, load_profiles
from piyasa_core.store import open_store
from piyasa_core.store.bootstrap import initialise
from piyasa_core.store.db import session_scope
from piyasa_core.store.seed import sync_from_config


def test_run_chats_mirror_the_community_and_stay_out_of_it(workdir: Path, db_url: str,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    config = load_config()
    initialise(config)
    store = open_store(config)
    try:
        scope = open_scope(store, "20261203T100000Z-ab12", {("engine", "hourly_min"): 50})
        assert scope.chat_keys == ("piyasa-local@20261203T100000Z-ab12",)
        with session_scope(store.sessions) as session:
            community = load_chats(session)
            run = load_chats(session, scope.run_id)
            bots = load_profiles(session)
        assert [c.key for c in community] == ["piyasa-local"]
        assert [c.id for c in run] == list(scope.chat_ids) and run[0].transport == "console"
        assert run[0].topics == community[0].topics
        assert all(scope.chat_ids[0] in b.chat_ids and community[0].id in b.chat_ids for b in bots)
        with session_scope(store.sessions) as session:  # `init` again: the run's chat is not config's to touch
            report = sync_from_config(session, config.settings)
        assert not report.changed, report
        result = initialise(config)
        assert all(row.chats == ("piyasa-local",) for row in result.bots if row.enabled)
        close_scope(store, scope)
        with session_scope(store.sessions) as session:
            assert [c.enabled for c in load_chats(session, scope.run_id)] == [False]
            assert all(b.chat_ids == (community[0].id,) for b in load_profiles(session))
    finally:
        store.dispose()


def test_run_chat_keys_fit_the_column() -> None:
    assert run_chat_key("piyasa-local", 1, "20261203T100000Z-ab12") == "piyasa-local@20261203T100000Z-ab12"
    long_a, long_b = run_chat_key("x" * 60, 7, "20261203T100000Z-ab12"), run_chat_key("x" * 61, 8, "20261203T100000Z-ab12")
    assert len(long_a) == len(long_b) == 64 and long_a != long_b and long_a.endswith("~7@20261203T100000Z-ab12")


async def test_a_runs_cache_keys_are_dropped_and_nothing_else(redis_url: str) -> None:
    import redis

    base = f"s{random.getrandbits(32):x}"
    prefix = run_cache_prefix(base, "r1")
    client = redis.Redis.from_url(redis_url)
    try:
        client.set(f"{prefix}:c:history:1@5:lines", "x")
        client.set(f"{prefix}:ver:history:1", 5)
        client.set(f"{base}:budget:groq:rpm", 1)  # the LLM budget keeps the base prefix: not the run's
        client.set(f"{run_cache_prefix(base, 'r10')}:c:market:1", "y")  # another run whose id starts alike
        assert await drop_cache_keys(redis_url, prefix) == 2
        assert sorted(k.decode() for k in client.scan_iter(match=f"{base}:*")) == [
            f"{base}:budget:groq:rpm", f"{base}:run:r10:c:market:1"]
    finally:
        for key in client.scan_iter(match=f"{base}:*"):
            client.delete(key)
        client.close()
