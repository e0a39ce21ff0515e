"""A message's outbox row carries the tokens of every call it cost (a promise retry included)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from piyasa_core.engine.clock import SimClock
from piyasa_core.engine.factory import build_engine
from piyasa_core.store.bootstrap import initialise
from piyasa_core.store.models import Message
from tests.engine_support import SIM_START, run_for
from tests.fakes.llm_scenarios import Scenario
from tests.fakes.llm_server import FakeLLMServer
from tests.test_llm_router import make_config


@pytest.fixture
def fake() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(advertised_limits={"rpm": 1_000_000, "tpm": 1_000_000_000}) as server:  # pacing is off
        yield server


async def test_a_promise_retry_adds_the_first_calls_tokens_to_the_row(workdir: Path, fake: FakeLLMServer,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for limit in ("RPM", "TPM", "RPD", "TPD"):  # pacing is off: no budget wait may hold the drain
        monkeypatch.setenv(f"PIYASA_LLM__PROVIDERS__GROQ__{limit}", "0")
    config = make_config(workdir, fake, monkeypatch, active="groq")
    initialise(config)
    fake.script("groq", [Scenario("ok", text="Bu hisse kesin kazandırır, garanti veriyorum.", completion_tokens=30),
                         Scenario("ok", text="GARAN'da acele yok, sabır şart bence.", completion_tokens=12)])
    from piyasa_core.store import open_store

    store = open_store(config)
    engine = build_engine(config, store, worker_id=0, total=4, pacing=False, seed=3,
                          clock=SimClock(60, SIM_START))
    try:
        await run_for([engine], 0.5)
    finally:
        await engine.router.aclose()
        await engine.cache.aclose()
        await engine.transport.aclose()
    with store.engine.connect() as conn:
        first = conn.execute(select(Message.text, Message.tokens_in, Message.tokens_out)
                             .where(Message.status == "sent").order_by(Message.id).limit(1)).one()
    prompts = fake.requests_for("groq")[:2]
    assert engine.counts["retried_promise"] >= 1 and "garanti" not in first.text
    assert first.tokens_out == 30 + 12  # both calls' completions, not only the retry's
    assert first.tokens_in > 0 and len(prompts) == 2
    # the retry sends the rejected draft with the note, not the whole context again: it costs less
    retry_user = next(m["content"] for m in prompts[1].body["messages"] if m["role"] == "user")
    first_user = next(m["content"] for m in prompts[0].body["messages"] if m["role"] == "user")
    assert "Taslağın: Bu hisse kesin kazandırır" in retry_user and "Kazanç vaadi" in retry_user
    assert "Sohbet:" not in retry_user and len(retry_user) < len(first_user) / 2
    store.dispose()


async def test_an_untimely_greeting_from_a_real_llm_is_redrafted(workdir: Path, fake: FakeLLMServer,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """At 10:05 a provider's "iyi akşamlar" (and a goodbye from a bot that stays) is not sent: the
    engine asks again with a note, and the row carries both calls' tokens."""
    for limit in ("RPM", "TPM", "RPD", "TPD"):
        monkeypatch.setenv(f"PIYASA_LLM__PROVIDERS__GROQ__{limit}", "0")
    config = make_config(workdir, fake, monkeypatch, active="groq")
    initialise(config)
    fake.script("groq", [Scenario("ok", text="Herkese iyi akşamlar, GARAN bugün sakin.", completion_tokens=20),
                         Scenario("ok", text="GARAN bugün sakin, hacim düşük.", completion_tokens=10)])
    from piyasa_core.store import open_store

    store = open_store(config)
    engine = build_engine(config, store, worker_id=0, total=4, pacing=False, seed=3,
                          clock=SimClock(60, SIM_START))
    try:
        await run_for([engine], 0.5)
    finally:
        await engine.router.aclose()
        await engine.cache.aclose()
        await engine.transport.aclose()
    with store.engine.connect() as conn:
        first = conn.execute(select(Message.text, Message.tokens_out)
                             .where(Message.status == "sent").order_by(Message.id).limit(1)).one()
    second_prompt = str(fake.requests_for("groq")[1].body)
    assert engine.counts["retried_untimely"] >= 1 and "akşam" not in first.text
    assert first.tokens_out == 20 + 10 and "Saate uymayan selam" in second_prompt
    store.dispose()
