"""Issue 16's parts on the real paths: the fake's daily quotas as the SDKs see them, the router on a
simulated clock, reactions without an LLM call, answer caps and stop sequences on the wire, and the
people's reserve from the measured demand."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from piyasa_core.engine.clock import SimClock
from piyasa_core.engine.factory import build_engine
from piyasa_core.llm.quota_plan import ProviderDay, plan_day
from piyasa_core.llm.registry import build_router
from piyasa_core.llm.router import NoProviderAvailable
from piyasa_core.llm.types import ChatRequest
from piyasa_core.store.bootstrap import initialise
from piyasa_core.store.models import Message
from tests.engine_support import SIM_START, run_until
from tests.fakes.llm_server import FakeLLMServer
from tests.test_llm_router import make_config


class SimNow:
    """A settable epoch clock (the fake's and the router's)."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def fake() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(advertised_limits={"rpm": 1_000_000, "tpm": 1_000_000_000}) as server:
        yield server


@pytest.mark.parametrize("name", ["groq", "gemini"])
async def test_a_daily_quota_is_answered_as_the_provider_does_and_parks_it_until_utc_midnight(
        workdir: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    clock = SimNow(SIM_START)  # 10:05 Istanbul = 07:05 UTC
    with FakeLLMServer(limits={name: {"rpm": 1000, "tpm": 1_000_000, "rpd": 2}}, clock=clock) as limited:
        for limit in ("RPM", "TPM", "RPD", "TPD"):  # no budget of ours: the provider's 429 must be read
            monkeypatch.setenv(f"PIYASA_LLM__PROVIDERS__{name.upper()}__{limit}", "0")
        router = build_router(make_config(workdir, limited, monkeypatch, active=name), clock=clock)
        request = ChatRequest(system="Sen bir yatırımcısın.", user="GARAN hakkında kısa yaz.", max_tokens=40)
        try:
            await router.complete(request)
            await router.complete(request)
            with pytest.raises(NoProviderAvailable) as refused:
                await router.complete(request)
        finally:
            await router.aclose()
        status = router.status(name)
        assert status.state == "exhausted" and "daily" in status.reason, status
        assert limited.stats()["by_api"][name]["rejected_daily"] == 1
        assert refused.value.retry_at is not None
        assert abs(refused.value.retry_at - (SIM_START - SIM_START % 86400 + 86400)) < 2  # the next UTC day
        clock.now = SIM_START + 86400  # the next day the quota is fresh again
        assert limited._daily_check(name, clock.now, 10, {"rpd": 2}) is None


async def test_a_reaction_costs_no_llm_call_and_answers_carry_a_cap_and_stop_sequences(
        workdir: Path, fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for limit in ("RPM", "TPM", "RPD", "TPD"):
        monkeypatch.setenv(f"PIYASA_LLM__PROVIDERS__GROQ__{limit}", "0")
    monkeypatch.setenv("PIYASA_ENGINE__REACTION_PROBABILITY", "0.5")
    config = make_config(workdir, fake, monkeypatch, active="groq")
    initialise(config)
    from piyasa_core.store import open_store

    store = open_store(config)
    engine = build_engine(config, store, worker_id=0, total=1, pacing=False, seed=5, clock=SimClock(60, SIM_START))

    def seen_both() -> bool:  # a reaction was sent, and an answer asked the provider with a speaker label stop
        labelled = any(s.startswith("\n") and s.endswith(":")
                       for r in fake.requests_for("groq") for s in r.body.get("stop", [])[1:])
        if not labelled:
            return False
        with store.engine.connect() as conn:
            return conn.execute(select(Message.id).where(Message.status == "sent", Message.provider == "local")
                                .limit(1)).first() is not None

    try:
        await run_until([engine], seen_both, timeout=60)
    finally:
        await engine.router.aclose()
        await engine.cache.aclose()
        await engine.transport.aclose()
    with store.engine.connect() as conn:
        rows = conn.execute(select(Message.provider, Message.tokens_in, Message.text)
                            .where(Message.status == "sent", Message.bot_id.is_not(None))).all()
    store.dispose()
    local = [r for r in rows if r.provider == "local"]
    assert local and all(r.tokens_in == 0 and r.text for r in local), rows
    assert engine.counts["reactions_without_llm"] >= len(local)  # composed; a duplicate one is not sent
    bodies = [r.body for r in fake.requests_for("groq")]
    assert all("Görev: yalnızca çok kısa bir tepki" not in str(b) for b in bodies)  # no reaction prompt was sent
    caps = {b["max_tokens"] for b in bodies}
    assert caps and max(caps) <= 130 < config.settings.llm.providers["groq"].max_output_tokens
    assert all(b["stop"][0] == "\n\n" and len(b["stop"]) <= 4 for b in bodies)
    assert any(s.startswith("\n") and s.endswith(":") for b in bodies for s in b["stop"][1:])


def test_the_people_reserve_follows_the_measured_demand() -> None:
    chain = [ProviderDay("groq", tpd=100_000)]
    quiet = plan_day(chain, at=0, day_end=36_000, demand=400, demand_at_minimum=100, tokens_per_message=500,
                     reserve_share=0.1)
    late = plan_day(chain, at=0, day_end=36_000, demand=400, demand_at_minimum=100, tokens_per_message=500,
                    reserve_share=0.0, people_demand=0.4)
    assert late.reserve == 2  # 0.4 expected: one answer, and one spare for a question the rate missed
    busy = plan_day(chain, at=0, day_end=36_000, demand=400, demand_at_minimum=100, tokens_per_message=500,
                    reserve_share=0.1, people_demand=60)
    swamped = plan_day(chain, at=0, day_end=36_000, demand=400, demand_at_minimum=100, tokens_per_message=500,
                       reserve_share=0.1, people_demand=500)
    assert (quiet.reserve, quiet.affordable) == (20, 180)  # 200 affordable: the 10 % share
    assert (busy.reserve, busy.affordable) == (61, 139) and busy.scale < quiet.scale  # 60 expected, one spare
    assert (swamped.reserve, swamped.affordable, swamped.scale) == (200, 0, 0)
    assert swamped.warning
