"""Groq and OpenAI(-compatible) providers: the two SDKs share one shape (Stainless clients)."""

from __future__ import annotations

import importlib
import inspect
import time
from types import ModuleType
from typing import Any

from piyasa_core.config.schema import ProviderConfig
from piyasa_core.llm.base import ProbeResult, Provider
from piyasa_core.llm.headers import read_rate_limit_headers, wait_from_message
from piyasa_core.llm.tokens import estimate_tokens
from piyasa_core.llm.types import ChatRequest, Completion, ErrorClass, ProviderError
from piyasa_core.secrets import Secret, redact

_DAILY_MARKERS = ("per day", "(tpd)", "(rpd)", "daily", "insufficient_quota", "exceeded your current quota")


class OpenAILikeProvider(Provider):
    """Chat completions through an SDK module with the OpenAI client shape.

    The SDK is imported on first use: a worker that never calls this provider does not pay for it
    (openai and groq together take ~0.4 s to import, which would slow every worker restart)."""

    sdk_name = "openai"

    @property
    def sdk(self) -> ModuleType:
        return importlib.import_module(self.sdk_name)

    def __init__(self, config: ProviderConfig, api_key: Secret | None) -> None:
        super().__init__(config, api_key)
        self._client: Any = None

    client_class = "AsyncOpenAI"

    def _make_client(self) -> Any:
        key = self.api_key.reveal() if self.api_key else "unset"
        kwargs: dict[str, Any] = {"api_key": key, "max_retries": 0, "timeout": self.config.timeout}
        if self.config.base_url:
            kwargs["base_url"] = self.config.base_url
        return getattr(self.sdk, self.client_class)(**kwargs)

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._make_client()
        return self._client

    async def _generate(self, request: ChatRequest, started: float) -> Completion:
        raw = await self.client.chat.completions.with_raw_response.create(
            model=self.model,
            messages=[{"role": "system", "content": request.system},
                      {"role": "user", "content": request.user}],
            max_tokens=request.max_tokens,
            temperature=request.temperature,
            **({"stop": list(request.stop[:4])} if request.stop else {}),
        )
        headers = read_rate_limit_headers(raw.headers)
        response = raw.parse()
        if inspect.isawaitable(response):  # groq's raw response parses asynchronously, openai's not
            response = await response
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content or "") if choice else ""
        finish = (choice.finish_reason or "stop") if choice else "empty"
        if finish == "content_filter":
            raise ProviderError(self.name, ErrorClass.CONTENT_FILTERED, "the answer was blocked by the "
                                "provider's content filter", headers=headers)
        usage = response.usage
        cached = 0
        if usage is not None and getattr(usage, "prompt_tokens_details", None) is not None:
            cached = usage.prompt_tokens_details.cached_tokens or 0
        return Completion(
            text=text.strip(),
            provider=self.name,
            model=response.model or self.model,
            prompt_tokens=usage.prompt_tokens if usage else request.prompt_tokens_estimate(),
            completion_tokens=usage.completion_tokens if usage else estimate_tokens(text),
            cached_tokens=cached,
            latency_s=time.perf_counter() - started,
            headers=headers,
            finish_reason=finish,
        )

    def classify(self, exc: Exception) -> ProviderError:
        sdk = self.sdk
        if isinstance(exc, sdk.APITimeoutError) or "Timeout" in type(exc).__name__:
            return ProviderError(self.name, ErrorClass.TIMEOUT, f"no answer within {self.config.timeout:g} s")
        if isinstance(exc, sdk.APIConnectionError):
            return ProviderError(self.name, ErrorClass.NETWORK, f"cannot connect: {redact(str(exc))[:200]}")
        if not isinstance(exc, sdk.APIStatusError):
            return self._unknown(exc)
        status = exc.status_code
        headers = read_rate_limit_headers(exc.response.headers)
        message, code = _error_message(exc)
        lowered = f"{message} {code}".lower()
        if status in (401, 403):
            env = self.config.api_key_env or "API key"
            return ProviderError(self.name, ErrorClass.AUTH, f"{status} invalid key ({env})", status=status,
                                 headers=headers)
        if status == 404:
            return ProviderError(self.name, ErrorClass.MODEL_NOT_FOUND,
                                 f"404 model {self.model} not found ({self.model_hint()})", status=status,
                                 headers=headers)
        if status == 413:
            return ProviderError(self.name, ErrorClass.TOO_LARGE, f"413 request too large: {message[:160]}",
                                 status=status, headers=headers)
        if status == 429:
            wait = headers.retry_after_s or wait_from_message(message)
            if any(marker in lowered for marker in _DAILY_MARKERS):
                return ProviderError(self.name, ErrorClass.QUOTA_EXHAUSTED, f"429 daily quota: {message[:200]}",
                                     status=status, retry_after_s=wait, headers=headers)
            return ProviderError(self.name, ErrorClass.RATE_LIMITED, f"429 rate limited: {message[:160]}",
                                 status=status, retry_after_s=wait, headers=headers)
        if status >= 500:
            return ProviderError(self.name, ErrorClass.SERVER, f"{status} server error", status=status,
                                 headers=headers)
        if "content_filter" in lowered or "content management policy" in lowered:
            return ProviderError(self.name, ErrorClass.CONTENT_FILTERED, f"{status} {message[:160]}",
                                 status=status, headers=headers)
        return ProviderError(self.name, ErrorClass.BAD_REQUEST, f"{status} {message[:200]}", status=status,
                             headers=headers)

    async def probe(self) -> ProbeResult:
        missing = self.missing_key_error()
        if missing:
            return ProbeResult(False, missing.reason, missing)
        try:
            page = await self.client.models.list()
            names = [m.id for m in page.data]
        except Exception as exc:  # classified like a generation failure
            error = self.classify(exc)
            return ProbeResult(False, error.reason, error)
        if names and self.model not in names:
            error = ProviderError(self.name, ErrorClass.MODEL_NOT_FOUND,
                                  f"model {self.model} not offered ({self.model_hint()})")
            return ProbeResult(False, error.reason, error)
        return ProbeResult(True, f"key accepted, model {self.model} listed" if names else "key accepted")

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _error_message(exc: Any) -> tuple[str, str]:
    body = exc.body if isinstance(getattr(exc, "body", None), dict) else {}
    error = body.get("error", body) if isinstance(body, dict) else {}
    if isinstance(error, dict):
        message = str(error.get("message") or exc.message or "")
        code = str(error.get("code") or error.get("type") or "")
    else:
        message, code = str(exc.message or ""), ""
    # providers echo a partly masked key in 401 texts; never pass any of it on
    return redact(" ".join(message.split())), code


class OpenAIProvider(OpenAILikeProvider):
    """OpenAI or any OpenAI-compatible server (Ollama, llama.cpp, vLLM, proxies)."""

    name = "openai"
    sdk_name = "openai"

    @property
    def needs_key(self) -> bool:  # type: ignore[override]
        # local OpenAI-compatible servers (Ollama, llama.cpp, vLLM) accept any key
        base = self.config.base_url
        return not base or "api.openai.com" in base


class GroqProvider(OpenAILikeProvider):
    """Groq's OpenAI-shaped API through the groq SDK."""

    name = "groq"
    sdk_name = "groq"
    client_class = "AsyncGroq"
