"""Token accounting persists per provider/model/day on both backends; `check` lists providers."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from piyasa_core.config import load_config
from piyasa_core.llm.budget import LocalBudget
from piyasa_core.llm.registry import build_router
from piyasa_core.llm.types import ChatRequest
from piyasa_core.llm.usage import UsageLedger
from piyasa_core.store.db import make_engine, session_factory, session_scope
from piyasa_core.store.migrate import upgrade
from piyasa_core.store.models import ProviderUsage
from tests.engine_support import SIM_START
from tests.fakes.llm_scenarios import Scenario
from tests.fakes.llm_server import FakeLLMServer
from tests.test_cli import run_cli
from tests.test_llm_router import SimNow

# the ledgers count on a clock of the test's (07:05 UTC): a run near midnight must not split "today"
TO_MIDNIGHT = 86400 - SIM_START % 86400


def test_ledger_flush_adds_deltas_and_load_survives_restart(db_url: str) -> None:
    engine = make_engine(db_url)
    upgrade(engine)
    sessions = session_factory(engine)
    clock = SimNow()
    first = UsageLedger(clock)
    first.record("groq", "llama", prompt=100, completion=20, cached=5)
    first.record("groq", "llama", error=True)
    second = UsageLedger(clock)  # another worker
    second.record("groq", "llama", prompt=50, completion=10)
    with session_scope(sessions) as session:
        first.flush(session)
        second.flush(session)
    first.record("groq", "llama", prompt=1, completion=1)
    with session_scope(sessions) as session:
        first.flush(session)
        assert first.flush(session) == 0  # nothing new: no write
    with session_scope(sessions) as session:
        row = session.scalars(select(ProviderUsage)).one()
        assert (row.requests, row.errors, row.prompt_tokens, row.completion_tokens, row.cached_tokens) == \
            (4, 1, 151, 31, 5)
    restarted = UsageLedger(clock)
    with session_scope(sessions) as session:
        restarted.load(session)
    assert restarted.today("groq").tokens == 182 and restarted.today("groq").requests == 4
    clock.now += TO_MIDNIGHT  # the next UTC day starts from nothing
    tomorrow = UsageLedger(clock)
    with session_scope(sessions) as session:
        tomorrow.load(session)
    assert tomorrow.today("groq").tokens == 0 and restarted.today("groq").requests == 0
    engine.dispose()


def test_projection_of_quota_exhaustion() -> None:
    clock = SimNow()
    ledger = UsageLedger(clock)
    assert ledger.projected_exhaustion("groq", 100_000) is None  # no traffic, no projection
    ledger.record("groq", "m", prompt=99_000, completion=500)
    eta = ledger.projected_exhaustion("groq", 100_000)
    assert eta is not None  # 500 tokens left at 99,500 tokens a minute (the rate's 60 s floor)
    assert eta.timestamp() == pytest.approx(SIM_START + 500 / (99_500 / 60))
    ledger.record("groq", "m", prompt=1000)
    assert ledger.projected_exhaustion("groq", 100_000).timestamp() == SIM_START  # type: ignore[union-attr]
    late = UsageLedger(SimNow(SIM_START + TO_MIDNIGHT - 0.1))  # 1,000 tokens left, 0.6 s at this rate
    late.record("groq", "m", prompt=99_000)
    assert late.projected_exhaustion("groq", 100_000) is None  # not before today ends
    assert ledger.projected_exhaustion("groq", 0) is None


def test_restart_keeps_the_daily_budget_of_a_static_share(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIYASA_LLM__PROVIDERS__OFFLINE__TPD", "4000")
    config = load_config()
    clock = SimNow()
    ledger = UsageLedger(clock)
    ledger.record("offline", "templates-v1", prompt=3000, completion=990)
    router = build_router(config, ledger=ledger, clock=clock, budget_clock=clock)
    assert isinstance(router.budget, LocalBudget)
    reservation, wait = router.budget.try_reserve("offline", 100)
    assert reservation is None and wait == TO_MIDNIGHT  # 997 of this worker's 1,000 tokens were used today
    assert router.budget.try_reserve("offline", 3)[0] is not None  # the last 3 are still there


async def test_headers_reporting_an_empty_budget_cool_the_provider(workdir: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeLLMServer() as fake:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0000000000000000")
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url + "/v1")
        monkeypatch.setenv("LLM_PROVIDER", "openai")
        router = build_router(load_config())
        fake.script("openai", [Scenario("ok", headers={"x-ratelimit-remaining-requests": "0",
                                                       "x-ratelimit-reset-requests": "1.5s"})])
        await router.complete(ChatRequest(system="s", user="u"))
        status = router.status("openai")
        assert status.state == "cooling" and "remaining-requests: 0" in status.reason
        assert status.headers.remaining_requests == 0
        await router.aclose()


def test_check_lists_providers_with_state_and_reason(workdir: Path) -> None:
    with FakeLLMServer() as fake:
        fake.set_default("groq", Scenario("auth"), kind="models")
        fake.set_default("gemini", Scenario("model_not_found"), kind="models")
        env = {"GROQ_API_KEY": "gsk_test_00000000000000000000", "GROQ_BASE_URL": fake.url,
               "OPENAI_API_KEY": "sk-test-000000000000000000000", "OPENAI_BASE_URL": fake.url + "/v1",
               "PIYASA_LLM__PROVIDERS__OPENAI__MODEL": "gpt-4o-mini",
               "GEMINI_API_KEY": "AIza-test-0000000000000000000", "GOOGLE_GEMINI_BASE_URL": fake.url,
               "COLUMNS": "200"}
        result = run_cli("check", cwd=workdir, env=env)
        out = result.stdout
        assert result.returncode == 0, out + result.stderr  # failing providers are not in the chain
        assert "llm groq" in out and "auth" in out and "invalid key (GROQ_API_KEY)" in out
        assert "gsk_test" not in out
        assert "model gemini-2.5-flash not found" in out
        assert "offline — not an LLM · active · ok" in out
        assert fake.count("groq", "generate") == fake.count("gemini", "generate") == 0  # no generation
        failing = run_cli("check", cwd=workdir, env={**env, "LLM_PROVIDER": "groq"})
        assert failing.returncode == 1 and "invalid key (GROQ_API_KEY)" in failing.stderr  # a failed check
