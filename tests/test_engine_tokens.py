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


async def test_a_network_error_costs_the_provider_a_short_backoff_and_a_person_no_wait(
        workdir: Path, fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Groq unreachable (a closed port: a real network error through the SDK), the offline composer allowed
    as fallback: a person's question is answered at once by the fallback, and Groq is paused for a short
    backoff (≤ 60 s), never an hour."""
    import socket

    from piyasa_core.engine import repo
    from piyasa_core.engine.types import ReplyJob
    from piyasa_core.store.db import session_scope
    from piyasa_core.store.models import Chat
    from tests.engine_support import sent

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    for limit in ("RPM", "TPM", "RPD", "TPD"):
        monkeypatch.setenv(f"PIYASA_LLM__PROVIDERS__GROQ__{limit}", "0")
    config = make_config(workdir, fake, monkeypatch, active="groq", fallback="offline")
    monkeypatch.setenv("GROQ_BASE_URL", f"http://127.0.0.1:{closed}")
    from piyasa_core.config import load_config

    config = load_config()
    initialise(config)
    from piyasa_core.store import open_store

    store = open_store(config)
    events: list = []
    engine = build_engine(config, store, worker_id=3, total=4, pacing=False, seed=3, clock=SimClock(60, SIM_START),
                          emit=events.append)
    await engine.start()
    with session_scope(store.sessions) as session:
        chat_id = session.scalar(select(Chat.id))
        asked_at = engine.clock.now()
        question = repo.store_human_message(session, chat_id=chat_id, text="@ali_ekonomist faiz kararı ne zaman?",
                                            human_name="Deniz", username="deniz_k", created_at=asked_at)
    await engine.cache.bump(f"history:{chat_id}")
    refused = []  # every time no provider could serve (the router would then pause the caller)
    complete = engine.router.complete

    async def counting(request: object) -> object:
        try:
            return await complete(request)  # type: ignore[arg-type]
        except Exception as exc:
            refused.append(exc)
            raise

    engine.router.complete = counting  # type: ignore[method-assign]
    engine.submit_reply_job(ReplyJob(bot_id=3, chat_id=chat_id, message_id=question))
    try:
        await run_for([engine], 1.0)
    finally:
        groq = engine.router.status("groq")
        await engine.router.aclose()
        await engine.cache.aclose()
        await engine.transport.aclose()
    answers = [m for m in sent(events) if m.reply_to_id == question]
    assert answers and answers[0].provider == "offline"
    assert refused == []  # the fallback served every request: nothing was held behind Groq's pause
    assert groq.errors.get("network", 0) >= 1 and groq.state == "down"
    # a networked provider's pauses run on the real clock (the router's), however fast the simulation runs
    assert groq.until is not None and groq.until - engine.router.clock() <= 60
    store.dispose()
