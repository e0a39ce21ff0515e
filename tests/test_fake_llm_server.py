"""The fake LLM server speaks well enough for the real openai, groq and google-genai SDKs."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import groq
import httpx
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from tests.fakes.llm_scenarios import Scenario, default_reply_text, fmt_duration, fmt_retry_after
from tests.fakes.llm_server import FakeLLMServer

try:
    import httpx2

    # google-genai uses aiohttp when it is installed (it is: the control API needs it), else httpx2
    TIMEOUTS: tuple[type[BaseException], ...] = (httpx.TimeoutException, httpx2.TimeoutException,
                                                 asyncio.TimeoutError)
except ImportError:  # pragma: no cover - google-genai falls back to httpx
    TIMEOUTS = (httpx.TimeoutException, asyncio.TimeoutError)

REPO = Path(__file__).resolve().parents[1]
MESSAGES = [{"role": "system", "content": "Sen bir yatırımcısın."}, {"role": "user", "content": "Piyasa nasıl?"}]
GROQ_MODEL, OPENAI_MODEL, GEMINI_MODEL = "llama-3.3-70b-versatile", "gpt-4o-mini", "gemini-2.5-flash"
RATE_HEADERS = [
    f"x-ratelimit-{what}-{dim}" for dim in ("requests", "tokens") for what in ("limit", "remaining", "reset")
]


@pytest.fixture
def fake() -> Iterator[FakeLLMServer]:
    with FakeLLMServer() as server:
        yield server


# The clients wait 10 s: a loaded host may take its time to answer. Only the timeout tests use a short
# timeout (SHORT_TIMEOUT), against a server that holds its answer far longer (SLOW_DELAY).
CLIENT_TIMEOUT, SHORT_TIMEOUT, SLOW_DELAY = 10.0, 0.5, 6.0


def oai_client(url: str, timeout: float = CLIENT_TIMEOUT) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(api_key="sk-test", base_url=f"{url}/v1", max_retries=0, timeout=timeout)


def groq_client(url: str, timeout: float = CLIENT_TIMEOUT) -> groq.AsyncGroq:
    return groq.AsyncGroq(api_key="gsk_test", base_url=url, max_retries=0, timeout=timeout)


@pytest.fixture
async def oai(fake: FakeLLMServer) -> AsyncIterator[openai.AsyncOpenAI]:
    client = oai_client(fake.url)
    yield client
    await client.close()


@pytest.fixture
async def grq(fake: FakeLLMServer) -> AsyncIterator[groq.AsyncGroq]:
    client = groq_client(fake.url)
    yield client
    await client.close()


def gemini_client(url: str, version: str = "v1beta", timeout: float = CLIENT_TIMEOUT) -> genai.Client:
    options = genai_types.HttpOptions(base_url=url, api_version=version, timeout=int(timeout * 1000))  # ms
    return genai.Client(api_key="AIza-test", http_options=options)


@pytest.fixture
async def gem(fake: FakeLLMServer) -> AsyncIterator[Any]:
    client = gemini_client(fake.url).aio
    yield client
    await client.aclose()


def chat(client: openai.AsyncOpenAI | groq.AsyncGroq, model: str) -> Any:
    return client.chat.completions.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]


def http(url: str, method: str = "GET", body: Any = None) -> tuple[int, dict[str, str], Any]:
    """A plain urllib request: (status, lower-case headers, JSON body)."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, json.loads(exc.read())


# ------------------------------------------------------------------------------------ ok path


async def test_openai_ok_raw_response(fake: FakeLLMServer, oai: openai.AsyncOpenAI) -> None:
    raw = await oai.chat.completions.with_raw_response.create(
        model=OPENAI_MODEL, messages=MESSAGES  # type: ignore[arg-type]
    )
    assert all(name in raw.headers for name in RATE_HEADERS)
    assert raw.headers["x-ratelimit-limit-requests"] == "30"
    assert raw.headers["x-ratelimit-remaining-requests"] == "29"
    completion = raw.parse()
    assert completion.model == OPENAI_MODEL
    assert completion.choices[0].message.content == default_reply_text(1)
    assert completion.choices[0].finish_reason == "stop"
    usage = completion.usage
    assert usage is not None and usage.completion_tokens == 40
    assert usage.prompt_tokens == 9  # ceil((21 + 13) / 4)
    assert usage.total_tokens == 49
    assert usage.prompt_tokens_details is not None and usage.prompt_tokens_details.cached_tokens == 0
    [record] = fake.requests_for("openai")
    assert (record.method, record.path, record.kind) == ("POST", "/v1/chat/completions", "generate")
    assert record.headers["authorization"] == "Bearer sk-test"
    assert record.body["messages"] == MESSAGES and record.model == OPENAI_MODEL
    assert fake.count("openai") == 1 and fake.count("groq") == 0


async def test_groq_ok_raw_response(fake: FakeLLMServer, grq: groq.AsyncGroq) -> None:
    raw = await grq.chat.completions.with_raw_response.create(
        model=GROQ_MODEL, messages=MESSAGES  # type: ignore[arg-type]
    )
    assert all(name in raw.headers for name in RATE_HEADERS)
    completion = await raw.parse()  # groq's raw response parses asynchronously; openai's synchronously
    assert completion.model == GROQ_MODEL
    assert completion.choices[0].message.content
    assert completion.usage is not None and completion.usage.prompt_tokens == 9
    assert completion.usage.completion_tokens == 40
    [record] = fake.requests_for("groq")
    assert record.path == "/openai/v1/chat/completions"
    assert record.headers["authorization"] == "Bearer gsk_test"


async def test_replies_vary_and_are_configurable(fake: FakeLLMServer, grq: groq.AsyncGroq) -> None:
    first, second = await chat(grq, GROQ_MODEL), await chat(grq, GROQ_MODEL)
    assert first.choices[0].message.content != second.choices[0].message.content
    fake.script("groq", [Scenario("ok", text="Sabit cevap.", completion_tokens=7, cached_tokens=3)])
    third = await chat(grq, GROQ_MODEL)
    assert third.choices[0].message.content == "Sabit cevap."
    assert third.usage is not None and third.usage.completion_tokens == 7
    assert third.usage.prompt_tokens_details is not None and third.usage.prompt_tokens_details.cached_tokens == 3
    fake.reply = lambda api, body, n: f"{api} {n}"
    fourth = await chat(grq, GROQ_MODEL)
    assert fourth.choices[0].message.content == "groq 4"


async def test_gemini_ok(fake: FakeLLMServer, gem: Any) -> None:
    config = genai_types.GenerateContentConfig(system_instruction="Sen bir yatırımcısın.")
    response = await gem.models.generate_content(model=GEMINI_MODEL, contents="Piyasa nasıl?", config=config)
    assert response.text == default_reply_text(1)
    assert response.model_version == GEMINI_MODEL
    assert response.candidates[0].finish_reason == genai_types.FinishReason.STOP
    usage = response.usage_metadata
    assert (usage.prompt_token_count, usage.candidates_token_count, usage.total_token_count) == (9, 40, 49)
    assert usage.cached_content_token_count == 0
    headers = response.sdk_http_response.headers
    assert all(name in headers for name in RATE_HEADERS)
    [record] = fake.requests_for("gemini")
    assert record.path == f"/v1beta/models/{GEMINI_MODEL}:generateContent"
    assert record.headers["x-goog-api-key"] == "AIza-test"


async def test_models_endpoints(fake: FakeLLMServer, oai: openai.AsyncOpenAI, grq: groq.AsyncGroq, gem: Any) -> None:
    assert [m.id async for m in await oai.models.list()] == ["gpt-4o-mini", "gpt-4o"]
    assert (await oai.models.retrieve("gpt-4o")).id == "gpt-4o"
    assert GROQ_MODEL in [m.id for m in (await grq.models.list()).data]
    assert [m.name async for m in await gem.models.list()] == ["models/gemini-2.5-flash", "models/gemini-2.0-flash"]
    assert (await gem.models.get(model="gemini-x")).name == "models/gemini-x"
    assert fake.count("openai", "models") == 2 and fake.count("gemini", "models") == 2
    assert fake.count("groq", "models") == 1 and fake.count("openai") == 0
    paths = [r.path for r in fake.requests]
    assert paths == [
        "/v1/models", "/v1/models/gpt-4o", "/openai/v1/models", "/v1beta/models", "/v1beta/models/gemini-x"
    ]
    fake.set_default("openai", "auth", kind="models")
    with pytest.raises(openai.AuthenticationError):
        await oai.models.retrieve("gpt-4o")


async def test_gemini_v1_paths_do_not_collide_with_openai(fake: FakeLLMServer, oai: openai.AsyncOpenAI) -> None:
    client = gemini_client(fake.url, "v1").aio
    try:
        assert (await client.models.get(model=GEMINI_MODEL)).name == f"models/{GEMINI_MODEL}"
        assert (await client.models.generate_content(model=GEMINI_MODEL, contents="selam")).text
    finally:
        await client.aclose()
    assert [m.id async for m in await oai.models.list()]
    assert [r.api for r in fake.requests] == ["gemini", "gemini", "openai"]
    assert fake.requests[1].path == f"/v1/models/{GEMINI_MODEL}:generateContent"


# ------------------------------------------------------------------------------------ scenarios

OPENAI_LIKE_ERRORS = [
    ("rate_limited", "RateLimitError", 429, "rate_limit_exceeded"),
    ("quota_exhausted", "RateLimitError", 429, None),
    ("auth", "AuthenticationError", 401, "invalid_api_key"),
    (Scenario("auth", status=403), "PermissionDeniedError", 403, None),
    ("model_not_found", "NotFoundError", 404, "model_not_found"),
    ("too_large", "APIStatusError", 413, "rate_limit_exceeded"),
    ("server_error", "InternalServerError", 500, None),
    (Scenario("server_error", status=503), "InternalServerError", 503, None),
    ("content_filtered", "BadRequestError", 400, "content_filter"),
]


@pytest.mark.parametrize("api", ["openai", "groq"])
@pytest.mark.parametrize(("scenario", "exc_name", "status", "code"), OPENAI_LIKE_ERRORS)
async def test_openai_like_errors(
    api: str, scenario: Any, exc_name: str, status: int, code: str | None,
    fake: FakeLLMServer, oai: openai.AsyncOpenAI, grq: groq.AsyncGroq,
) -> None:  # fmt: skip
    sdk, client, model = (openai, oai, OPENAI_MODEL) if api == "openai" else (groq, grq, GROQ_MODEL)
    fake.script(api, [scenario])  # type: ignore[arg-type]
    with pytest.raises(getattr(sdk, exc_name)) as info:
        await chat(client, model)
    exc = info.value
    assert exc.status_code == status
    assert exc.response.headers["x-ratelimit-limit-requests"] == "30"
    error = exc.body if api == "openai" else exc.body["error"]  # groq keeps the envelope, openai unwraps it
    assert error["message"]
    if code:
        assert error["code"] == code
    if status == 429:
        assert float(exc.response.headers["retry-after"]) > 0
    if Scenario.coerce(scenario).name == "model_not_found":
        assert f"`{model}`" in error["message"]
    assert fake.requests_for(api)[-1].status == status


async def test_quota_messages(fake: FakeLLMServer, oai: openai.AsyncOpenAI, grq: groq.AsyncGroq) -> None:
    fake.script("groq", ["quota_exhausted", "rate_limited"])
    fake.script("openai", ["quota_exhausted"])
    with pytest.raises(groq.RateLimitError) as daily:
        await chat(grq, GROQ_MODEL)
    error = daily.value.body["error"]
    assert "tokens per day (TPD): Limit 100000, Used 99300, Requested 1200" in error["message"]
    assert "Please try again in 7m12.5s" in error["message"]
    assert (error["type"], error["code"]) == ("tokens", "rate_limit_exceeded")
    with pytest.raises(groq.RateLimitError) as minute:
        await chat(grq, GROQ_MODEL)
    assert "requests per minute (RPM): Limit 30, Used 30, Requested 1. Please try again in 2s." in minute.value.body[
        "error"
    ]["message"]
    assert minute.value.response.headers["retry-after"] == "2"
    with pytest.raises(openai.RateLimitError) as quota:
        await chat(oai, OPENAI_MODEL)
    assert quota.value.code == "insufficient_quota"
    assert quota.value.message.endswith(quota.value.body["message"])


async def test_openai_like_timeouts(fake: FakeLLMServer) -> None:
    fake.script("openai", [Scenario("slow", delay=SLOW_DELAY)])
    fake.script("groq", [Scenario("slow", delay=SLOW_DELAY)])
    oai, grq = oai_client(fake.url, SHORT_TIMEOUT), groq_client(fake.url, SHORT_TIMEOUT)
    try:
        results = await asyncio.gather(chat(oai, OPENAI_MODEL), chat(grq, GROQ_MODEL), return_exceptions=True)
    finally:
        await oai.close()
        await grq.close()
    assert isinstance(results[0], openai.APITimeoutError)
    assert isinstance(results[1], groq.APITimeoutError)


GEMINI_ERRORS = [
    ("rate_limited", genai_errors.ClientError, 429, "RESOURCE_EXHAUSTED"),
    ("quota_exhausted", genai_errors.ClientError, 429, "RESOURCE_EXHAUSTED"),
    ("auth", genai_errors.ClientError, 400, "INVALID_ARGUMENT"),
    (Scenario("auth", status=403), genai_errors.ClientError, 403, "PERMISSION_DENIED"),
    ("model_not_found", genai_errors.ClientError, 404, "NOT_FOUND"),
    ("too_large", genai_errors.ClientError, 400, "INVALID_ARGUMENT"),
    ("server_error", genai_errors.ServerError, 500, "INTERNAL"),
    (Scenario("server_error", status=503), genai_errors.ServerError, 503, "UNAVAILABLE"),
]


@pytest.mark.parametrize(("scenario", "exc_type", "code", "status"), GEMINI_ERRORS)
async def test_gemini_errors(
    scenario: Any, exc_type: type[genai_errors.APIError], code: int, status: str, fake: FakeLLMServer, gem: Any
) -> None:
    fake.script("gemini", [scenario])
    with pytest.raises(exc_type) as info:
        await gem.models.generate_content(model=GEMINI_MODEL, contents="selam")
    exc = info.value
    assert (exc.code, exc.status) == (code, status)
    assert exc.message and exc.details["error"]["code"] == code  # .details is the whole JSON body
    assert exc.response.headers["x-ratelimit-limit-tokens"] == "6000"
    details = {d["@type"].rsplit(".", 1)[-1]: d for d in exc.details["error"].get("details", [])}
    quota_id = details.get("QuotaFailure", {}).get("violations", [{}])[0].get("quotaId")
    name = Scenario.coerce(scenario).name
    if name == "rate_limited":
        assert details["RetryInfo"]["retryDelay"] == "2s"
        assert quota_id == "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
        assert exc.response.headers["retry-after"] == "2"
    if name == "quota_exhausted":
        assert quota_id == "GenerateRequestsPerDayPerProjectPerModel-FreeTier"
        assert "RetryInfo" in details
    if name == "auth" and code == 400:
        assert details["ErrorInfo"]["reason"] == "API_KEY_INVALID"
        assert exc.message == "API key not valid. Please pass a valid API key."
    if name == "model_not_found":
        assert exc.message.startswith(f"models/{GEMINI_MODEL} is not found for API version v1beta")


async def test_gemini_content_filtered_and_timeout(fake: FakeLLMServer, gem: Any) -> None:
    fake.script("gemini", ["content_filtered", Scenario("slow", delay=SLOW_DELAY)])
    response = await gem.models.generate_content(model=GEMINI_MODEL, contents="selam")
    assert response.prompt_feedback.block_reason == genai_types.BlockedReason.SAFETY
    assert not response.candidates and response.text is None
    impatient = gemini_client(fake.url, timeout=SHORT_TIMEOUT).aio
    try:
        with pytest.raises(TIMEOUTS):  # google-genai does not wrap transport timeouts
            await impatient.models.generate_content(model=GEMINI_MODEL, contents="selam")
    finally:
        await impatient.aclose()


async def test_script_then_sticky_default(fake: FakeLLMServer, grq: groq.AsyncGroq) -> None:
    fake.script("groq", ["rate_limited", "ok"])
    fake.set_default("groq", Scenario("auth"))
    with pytest.raises(groq.RateLimitError):
        await chat(grq, GROQ_MODEL)
    assert (await chat(grq, GROQ_MODEL)).choices[0].message.content
    for _ in range(2):
        with pytest.raises(groq.AuthenticationError):
            await chat(grq, GROQ_MODEL)
    assert [r.scenario for r in fake.requests_for("groq")] == ["rate_limited", "ok", "auth", "auth"]
    fake.clear_scripts("groq")
    assert (await chat(grq, GROQ_MODEL)).choices


def test_scenario_validation_and_formatting() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        Scenario("nope")
    assert Scenario.coerce({"name": "slow", "delay": 1}).effective_delay == 1.0
    assert Scenario("quota_exhausted").effective_retry_after == 432.5
    assert [fmt_duration(s) for s in (0, 2, 2.5, 63.2, 432.5)] == ["0s", "2s", "2.5s", "1m3.2s", "7m12.5s"]
    assert [fmt_retry_after(s) for s in (2, 1.3)] == ["2", "1.3"]


def test_headers_override_and_omit(fake: FakeLLMServer) -> None:
    fake.script("openai", [Scenario("ok", headers={"X-Extra": "1"}, omit_headers=("x-ratelimit-reset-tokens",))])
    status, headers, _ = http(f"{fake.url}/v1/chat/completions", "POST", {"model": "m", "messages": []})
    assert status == 200 and headers["x-extra"] == "1" and "x-ratelimit-reset-tokens" not in headers


# ------------------------------------------------------------------------------------ enforced limits


class FakeClock:
    """A settable clock for sliding-window tests."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_enforced_rpm_rejects_the_31st() -> None:
    clock = FakeClock()  # the 31 calls arrive at one moment, however long a loaded host takes over them
    with FakeLLMServer(limits={"rpm": 30, "tpm": 100_000}, clock=clock) as limited:
        client = groq.AsyncGroq(api_key="gsk", base_url=limited.url, max_retries=0)
        try:
            results = await asyncio.gather(*(chat(client, GROQ_MODEL) for _ in range(31)), return_exceptions=True)
        finally:
            await client.close()
        rejected = [r for r in results if isinstance(r, BaseException)]
        assert len(rejected) == 1 and isinstance(rejected[0], groq.RateLimitError)
        headers = rejected[0].response.headers
        assert headers["retry-after"] == "60"  # the first of the 30 leaves the window a minute after it came
        assert headers["x-ratelimit-remaining-requests"] == "0"
        assert "on requests per minute (RPM): Limit 30, Used 30" in rejected[0].body["error"]["message"]
        stats = limited.stats()
        assert (stats["admitted"], stats["rejected_429"]) == (30, 1)
        assert stats["tokens_admitted"] == 30 * 49
        assert stats["by_api"]["groq"]["admitted"] == 30


def test_enforced_tpm_sliding_window() -> None:
    clock = FakeClock()
    body = {"model": "m", "messages": [{"role": "user", "content": "x" * 36}]}  # 9 + 40 = 49 tokens
    with FakeLLMServer(limits={"openai": {"rpm": 100, "tpm": 100}}, clock=clock) as limited:
        url = f"{limited.url}/v1/chat/completions"
        assert http(url, "POST", body)[0] == 200
        clock.now += 10
        status, headers, _ = http(url, "POST", body)
        assert status == 200 and headers["x-ratelimit-remaining-tokens"] == "2"
        assert headers["x-ratelimit-reset-tokens"] == "50s"
        clock.now += 0.25
        status, headers, reply = http(url, "POST", body)
        assert status == 429 and headers["retry-after"] == "49.8"  # 60 - 10.25 = 49.75, rounded up to 0.1 s
        assert reply["error"]["type"] == "tokens"
        clock.now += 49.75  # the first entry leaves the window
        assert http(url, "POST", body)[0] == 200
        too_big = {"model": "m", "messages": [{"role": "user", "content": "x" * 400}]}
        assert http(url, "POST", too_big)[0] == 413
        stats = limited.stats()
        assert (stats["admitted"], stats["rejected_429"], stats["rejected_too_large"]) == (3, 1, 1)
        assert stats["tokens_admitted"] == 3 * 49
        assert http(f"{limited.url}/v1beta/models/g:generateContent", "POST", {"contents": []})[0] == 200  # not limited
        assert http(f"{limited.url}/_reset", "POST", {})[0] == 200
        assert http(f"{limited.url}/_stats")[2]["admitted"] == 0
        assert limited.requests == []


def test_cli_process_enforces_and_reports() -> None:
    cmd = [sys.executable, "-m", "tests.fakes.llm_server", "--port", "0", "--rpm", "2", "--tpm", "6000"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        body = {"model": GROQ_MODEL, "messages": [{"role": "user", "content": "selam"}]}
        statuses = [http(f"{url}/openai/v1/chat/completions", "POST", body)[0] for _ in range(3)]
        assert statuses == [200, 200, 429]
        stats = http(f"{url}/_stats")[2]
        assert (stats["admitted"], stats["rejected_429"]) == (2, 1)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
