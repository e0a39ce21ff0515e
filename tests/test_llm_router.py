"""Router behaviour through the real groq/openai/google-genai SDKs against the fake server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from piyasa_core.config import Config, load_config
from piyasa_core.llm.registry import build_router
from piyasa_core.llm.router import NoProviderAvailable, RequestRejected, Router
from piyasa_core.llm.types import ChatRequest, ErrorClass
from piyasa_core.llm.usage import UsageLedger
from tests.engine_support import SIM_START
from tests.fakes.llm_scenarios import Scenario
from tests.fakes.llm_server import FakeLLMServer

KEYS = {"GROQ_API_KEY": "gsk_test_key_0123456789abcdef", "OPENAI_API_KEY": "sk-test-key-0123456789abcdef",
        "GEMINI_API_KEY": "AIza-test-key-0123456789abcdef"}
REQUEST = ChatRequest(system="Sen Mehmet'sin, 20 yıllık yatırımcı.", user="GARAN hakkında kısa bir yorum yaz.",
                      max_tokens=60)


@pytest.fixture
def fake() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


class SimNow:
    """A settable epoch clock: the router's cooldowns and the ledger's day read it, the test advances it."""

    def __init__(self, now: float = SIM_START) -> None:  # 07:05 UTC: the day is never about to change
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_config(workdir: Path, fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, *, active: str,
                fallback: str = "", timeout: float = 10.0, keys: dict[str, str] | None = None) -> Config:
    for name, value in (keys if keys is not None else KEYS).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GROQ_BASE_URL", fake.url)
    monkeypatch.setenv("OPENAI_BASE_URL", fake.url + "/v1")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", fake.url)
    monkeypatch.setenv("LLM_PROVIDER", active)
    monkeypatch.setenv("PIYASA_LLM__FALLBACK", fallback)
    monkeypatch.setenv("PIYASA_LLM__BREAKER_COOLDOWN", "0.3")
    monkeypatch.setenv("PIYASA_LLM__MAX_BUDGET_WAIT", "0")
    for name in ("GROQ", "OPENAI", "GEMINI"):
        monkeypatch.setenv(f"PIYASA_LLM__PROVIDERS__{name}__TIMEOUT", str(timeout))
    return load_config()


def router_for(workdir: Path, fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, **kwargs: object) -> Router:
    """A router on a :class:`SimNow` clock (``router.clock``), its ledger on the same clock."""
    clock = SimNow()
    return build_router(make_config(workdir, fake, monkeypatch, **kwargs),  # type: ignore[arg-type]
                        ledger=UsageLedger(clock), clock=clock)


@pytest.mark.parametrize("name", ["groq", "openai", "gemini"])
async def test_ok_reads_text_usage_and_headers(workdir: Path, fake: FakeLLMServer,
                                               monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    router = router_for(workdir, fake, monkeypatch, active=name)
    fake.script(name, [Scenario("ok", text="GARAN'da acele yok, sabır şart.", completion_tokens=12)])
    completion = await router.complete(REQUEST)
    assert completion.provider == name and completion.text == "GARAN'da acele yok, sabır şart."
    assert completion.completion_tokens == 12 and completion.prompt_tokens > 0
    status = router.status(name)
    assert status.state == "ok" and status.headers.limit_requests == 30 and status.headers.limit_tokens == 6000
    assert status.headers.remaining_requests is not None
    assert router.ledger.today(name).tokens == completion.total_tokens
    body = fake.requests_for(name)[-1].body
    if name == "gemini":  # the system prompt travels as system instruction
        assert "Mehmet" in str(body["systemInstruction"]) and "Mehmet" not in str(body["contents"])
    else:
        assert body["messages"][0] == {"role": "system", "content": REQUEST.system}
    await router.aclose()


@pytest.mark.parametrize("name", ["groq", "openai", "gemini"])
async def test_rate_limit_cools_down_then_recovers(workdir: Path, fake: FakeLLMServer,
                                                   monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    router = router_for(workdir, fake, monkeypatch, active=name)
    clock = router.clock
    fake.script(name, [Scenario("rate_limited", retry_after=1)])
    with pytest.raises(NoProviderAvailable) as info:
        await router.complete(REQUEST)
    status = router.status(name)
    assert status.state == "cooling" and status.until == pytest.approx(clock() + 1.0)  # the provider's retry-after
    assert info.value.retry_at == status.until
    clock.now += 0.99  # type: ignore[attr-defined]
    with pytest.raises(NoProviderAvailable):  # honoured: no request while cooling
        await router.complete(REQUEST)
    assert fake.count(name, "generate") == 1
    clock.now += 0.02  # type: ignore[attr-defined]
    assert (await router.complete(REQUEST)).provider == name
    assert router.status(name).state == "ok"
    await router.aclose()


@pytest.mark.parametrize("name", ["groq", "openai", "gemini"])
async def test_daily_quota_exhausts_and_falls_back_in_the_same_message(
        workdir: Path, fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    other = "openai" if name != "openai" else "groq"
    router = router_for(workdir, fake, monkeypatch, active=name, fallback=other)
    fake.script(name, ["quota_exhausted"])
    completion = await router.complete(REQUEST)
    assert completion.provider == other
    status = router.status(name)
    assert status.state == "exhausted" and "daily quota" in status.reason
    assert status.until is not None and status.until - router.clock() > 60
    assert (await router.complete(REQUEST)).provider == other
    assert fake.count(name, "generate") == 1
    await router.aclose()


@pytest.mark.parametrize("name", ["groq", "openai", "gemini"])
async def test_auth_error_costs_exactly_one_request(workdir: Path, fake: FakeLLMServer,
                                                    monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    router = router_for(workdir, fake, monkeypatch, active=name, fallback="offline")
    fake.set_default(name, Scenario("auth"))
    for _ in range(5):
        completion = await router.complete(REQUEST)
        assert completion.provider == "offline"
    assert fake.count(name, "generate") == 1
    status = router.status(name)
    assert status.state == "auth_error" and "invalid key" in status.reason
    assert "test-key" not in status.reason and "test_key" not in status.reason
    await router.aclose()


async def test_missing_key_is_an_auth_error_without_any_request(workdir: Path, fake: FakeLLMServer,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    router = router_for(workdir, fake, monkeypatch, active="groq", fallback="offline", keys={})
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    router = router_for(workdir, fake, monkeypatch, active="groq", fallback="offline", keys={})
    assert (await router.complete(REQUEST)).provider == "offline"
    assert fake.count("groq") == 0
    assert router.status("groq").reason == "no key: GROQ_API_KEY is not set"
    await router.aclose()


@pytest.mark.parametrize("name", ["groq", "openai", "gemini"])
async def test_model_not_found_names_the_model(workdir: Path, fake: FakeLLMServer,
                                               monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    monkeypatch.setenv(f"PIYASA_LLM__PROVIDERS__{name.upper()}__MODEL", "gemini-1.5-flash")
    router = router_for(workdir, fake, monkeypatch, active=name)
    fake.set_default(name, Scenario("model_not_found"))
    with pytest.raises(NoProviderAvailable) as info:
        await router.complete(REQUEST)
    status = router.status(name)
    assert status.state == "model_missing"
    assert "gemini-1.5-flash" in status.reason and f"[llm.providers.{name}] model" in status.reason
    assert info.value.retry_at is None  # parked until the setting changes
    with pytest.raises(NoProviderAvailable):
        await router.complete(REQUEST)
    assert fake.count(name, "generate") == 1
    await router.aclose()


@pytest.mark.parametrize("name", ["groq", "openai", "gemini"])
async def test_a_transient_error_backs_off_briefly_then_probes_and_the_breaker_caps_at_a_minute(
        workdir: Path, fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """Each transient error (5xx here) pauses the provider: 1 then 2 s (each with jitter, ×0.5–1) before
    the breaker opens at the third, then the breaker cooldown doubling up to 60 s; after each pause
    exactly one half-open probe; a success closes it. Never an hour (the old path waited 3600 s)."""
    from dataclasses import replace

    router = router_for(workdir, fake, monkeypatch, active=name)
    router.policy = replace(router.policy, breaker_cooldown=10.0, breaker_cooldown_max=60.0)  # config.toml's
    clock = router.clock
    fake.script(name, ["server_error", Scenario("server_error", status=503), "server_error",
                       "server_error", "server_error", "server_error", "ok"])
    waits = []
    for attempt in range(6):
        with pytest.raises(NoProviderAvailable) as refused:
            await router.complete(REQUEST)
        status = router.status(name)
        assert status.state == "down" and status.until is not None
        waits.append(status.until - clock())
        assert refused.value.retry_at == pytest.approx(status.until)  # a pause that knows its end
        with pytest.raises(NoProviderAvailable):  # paused: no request until the pause ends
            await router.complete(REQUEST)
        assert fake.count(name, "generate") == attempt + 1
        clock.now += waits[-1]  # type: ignore[attr-defined]
        assert router.status(name).breaker == "half-open"
    assert 0.5 <= waits[0] <= 1.0 and 1.0 <= waits[1] <= 2.0  # backing off, with jitter
    assert waits[2:] == [10, 20, 40, 60]  # the breaker: its cooldown doubling, capped at a minute
    assert "breaker open" in router.status(name).reason
    assert (await router.complete(REQUEST)).provider == name  # the probe succeeds → closed
    assert router.status(name).state == "ok" and router.status(name).breaker == "closed"
    await router.aclose()


@pytest.mark.parametrize("name", ["groq", "openai", "gemini"])
async def test_timeout_is_classified_and_counts_toward_the_breaker(
        workdir: Path, fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    router = router_for(workdir, fake, monkeypatch, active=name, fallback="offline", timeout=0.4)
    fake.script(name, [Scenario("slow", delay=6.0)])  # far beyond the timeout, however slow the host
    completion = await router.complete(REQUEST)
    assert completion.provider == "offline"
    assert router.status(name).errors == {"timeout": 1}
    await router.aclose()


@pytest.mark.parametrize("name", ["groq", "openai", "gemini"])
async def test_too_large_and_filtered_requests_move_on_without_parking(
        workdir: Path, fake: FakeLLMServer, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    router = router_for(workdir, fake, monkeypatch, active=name)
    fake.script(name, ["too_large", "content_filtered"])
    with pytest.raises(RequestRejected):
        await router.complete(REQUEST)
    with pytest.raises(RequestRejected) as info:
        await router.complete(REQUEST)
    errors = router.status(name).errors
    assert sum(errors.values()) == 2 and "content_filtered" in errors
    assert router.status(name).state == "ok"
    assert "content_filtered" in info.value.reason
    await router.aclose()


async def test_all_providers_unavailable_pauses_then_resumes(workdir: Path, fake: FakeLLMServer,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    router = router_for(workdir, fake, monkeypatch, active="groq", fallback="openai,gemini")
    clock = router.clock
    for name in ("groq", "openai", "gemini"):
        fake.script(name, [Scenario("rate_limited", retry_after=1)])
    attempts = 0
    original = router.complete

    async def complete(request: ChatRequest) -> object:
        nonlocal attempts
        attempts += 1
        return await original(request)

    router.complete = complete  # type: ignore[method-assign]
    task = asyncio.create_task(router.generate(REQUEST))
    deadline = time.monotonic() + 30  # the three first answers (SDK imports included on a busy host)
    while router.paused_reason.count("rate_limited") < 3 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    paused_at = time.monotonic()
    assert not task.done() and router.paused_reason.count("rate_limited") == 3
    assert router.paused_until == pytest.approx(clock() + 1.0)  # pauses until the first retry-after ends
    await asyncio.sleep(0.5)  # the simulated clock stands still: the router keeps waiting, without spinning
    # (it looks again once per simulated second it waits, here a real one: a loaded host may add a look)
    assert not task.done() and attempts <= 2 + (time.monotonic() - paused_at), attempts
    clock.now += 1.0  # type: ignore[attr-defined]
    completion = await asyncio.wait_for(task, timeout=30)
    assert router.paused_reason == "" and completion.provider == "groq"
    # one attempt each before the pause, one after: no busy loop
    assert [fake.count(n, "generate") for n in ("groq", "openai", "gemini")] == [2, 1, 1]
    await router.aclose()


async def test_runtime_switch_changes_the_chain(workdir: Path, fake: FakeLLMServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    router = router_for(workdir, fake, monkeypatch, active="groq", fallback="gemini")
    assert router.chain == ["groq", "gemini"]
    router.switch("openai")
    assert router.chain == ["openai", "gemini"] and router.active == "openai"
    assert (await router.complete(REQUEST)).provider == "openai"
    with pytest.raises(ValueError):
        router.switch("nope")
    await router.aclose()


async def test_offline_is_never_a_silent_stand_in(workdir: Path, fake: FakeLLMServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    router = router_for(workdir, fake, monkeypatch, active="groq")
    fake.set_default("groq", Scenario("auth"))
    with pytest.raises(NoProviderAvailable):
        await router.complete(REQUEST)
    assert "offline" not in router.chain
    assert router.status("offline").label == "offline — not an LLM"
    await router.aclose()


def test_error_classes_cover_the_issue() -> None:
    assert {c.value for c in ErrorClass} >= {"rate_limited", "quota_exhausted", "auth", "model_not_found",
                                            "too_large", "server", "timeout", "network", "content_filtered"}


def test_the_days_shares_spread_requests_over_the_chain_by_remaining_capacity() -> None:
    """With the day's plan set (router.shares), the first provider tried is drawn by its share of what the
    chain can still afford; a provider whose share is 0 comes last; no shares: chain order."""
    from collections import Counter

    from piyasa_core.config.schema import ProviderConfig
    from piyasa_core.llm.budget import LocalBudget
    from piyasa_core.llm.offline import OfflineProvider
    from piyasa_core.llm.router import Router

    providers = {name: OfflineProvider(ProviderConfig(model="templates-v1")) for name in ("groq", "gemini", "offline")}
    router = Router(providers, "groq", ["gemini", "offline"], LocalBudget({}))  # type: ignore[arg-type]
    assert router.order() == ["groq", "gemini", "offline"]
    router.shares = {"groq": 60.0, "gemini": 40.0, "offline": 0.0}
    firsts = Counter(router.order()[0] for _ in range(2000))
    assert set(firsts) == {"groq", "gemini"} and 0.55 < firsts["groq"] / 2000 < 0.65
    assert all(router.order()[-1] == "offline" for _ in range(50))


async def test_a_turn_paused_on_its_share_of_the_day_goes_on_when_the_plan_shares_the_rest_again() -> None:
    """The `day` profile: the busiest bot's worker spent its share of the day's quota; its turn paused
    until midnight (the time a day's budget names), holding the bot's lock, so the bot fell silent
    and its people's questions went to others. The next plan re-shares the rest and wakes it."""
    from piyasa_core.config.schema import ProviderConfig
    from piyasa_core.llm.budget import make_budget
    from piyasa_core.llm.offline import OfflineProvider

    clock = SimNow()
    config = ProviderConfig(model="templates-v1", tpd=4000, latency_ms=0, latency_jitter_ms=0)
    budget = make_budget({"offline": config}, workers=4, redis_client=None, margin_s=0)
    budget.clock = clock  # type: ignore[union-attr]
    router = Router({"offline": OfflineProvider(config)}, "offline", [], budget, clock=clock)
    request = ChatRequest(system="Sen Zeynep'sin.", user="Kısa bir yorum yaz.", max_tokens=200)
    spent, _ = budget.try_reserve("offline", 1000)  # type: ignore[union-attr]  # this worker's static quarter
    assert spent is not None
    task = asyncio.create_task(router.generate(request))
    deadline = time.monotonic() + 10
    while "budget full" not in router.paused_reason and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert not task.done() and router.paused_until is not None and router.paused_until - clock() > 3600
    # the others used little: what the provider has left is shared again, and the paused turn goes on
    budget.rebase_daily("offline", used_requests=1, used_tokens=1000)  # type: ignore[union-attr]
    router.budgets_changed()
    completion = await asyncio.wait_for(task, timeout=10)
    assert completion.provider == "offline" and router.paused_reason == ""
    await router.aclose()
