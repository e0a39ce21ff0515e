"""Gemini through the google-genai SDK (not the deprecated google-generativeai)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from piyasa_core.config.schema import ProviderConfig
from piyasa_core.llm.base import ProbeResult, Provider
from piyasa_core.llm.headers import parse_reset, read_rate_limit_headers, wait_from_message
from piyasa_core.llm.tokens import estimate_tokens
from piyasa_core.llm.types import ChatRequest, Completion, ErrorClass, ProviderError
from piyasa_core.secrets import Secret, redact

if TYPE_CHECKING:
    from google import genai


def _sdk() -> tuple[Any, Any, Any]:
    """google-genai, imported on first use (~0.4 s: not paid by workers that never call Gemini)."""
    from google import genai
    from google.genai import errors, types

    return genai, errors, types


class GeminiProvider(Provider):
    """``generateContent`` with the system prompt as system instruction."""

    name = "gemini"

    def __init__(self, config: ProviderConfig, api_key: Secret | None) -> None:
        super().__init__(config, api_key)
        self._client: "genai.Client | None" = None

    @property
    def client(self) -> "genai.Client":
        if self._client is None:
            genai, _errors, genai_types = _sdk()
            options = genai_types.HttpOptions(
                api_version=self.config.api_version or None,
                base_url=self.config.base_url or None,
                timeout=int(self.config.timeout * 1000),
                retry_options=genai_types.HttpRetryOptions(attempts=1),
            )
            key = self.api_key.reveal() if self.api_key else "unset"
            self._client = genai.Client(api_key=key, http_options=options)
        return self._client

    async def _generate(self, request: ChatRequest, started: float) -> Completion:
        _genai, _errors, genai_types = _sdk()
        config = genai_types.GenerateContentConfig(
            system_instruction=request.system,
            max_output_tokens=request.max_tokens,
            temperature=request.temperature,
            stop_sequences=list(request.stop[:5]) or None,
            thinking_config=genai_types.ThinkingConfig(thinking_budget=0) if "2.5" in self.model else None,
        )
        response = await self.client.aio.models.generate_content(model=self.model, contents=request.user,
                                                                 config=config)
        raw_headers = getattr(getattr(response, "sdk_http_response", None), "headers", None)
        headers = read_rate_limit_headers(raw_headers)
        feedback = getattr(response, "prompt_feedback", None)
        if feedback is not None and getattr(feedback, "block_reason", None):
            raise ProviderError(self.name, ErrorClass.CONTENT_FILTERED,
                                f"prompt blocked: {_enum_name(feedback.block_reason)}", headers=headers)
        candidate = response.candidates[0] if response.candidates else None
        finish = _enum_name(getattr(candidate, "finish_reason", None)) if candidate else "EMPTY"
        if finish in ("SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII"):
            raise ProviderError(self.name, ErrorClass.CONTENT_FILTERED, f"answer blocked: {finish}",
                                headers=headers)
        text = response.text or ""
        usage = response.usage_metadata
        return Completion(
            text=text.strip(),
            provider=self.name,
            model=getattr(response, "model_version", None) or self.model,
            prompt_tokens=(usage.prompt_token_count or 0) if usage else request.prompt_tokens_estimate(),
            completion_tokens=(usage.candidates_token_count or 0) if usage else estimate_tokens(text),
            cached_tokens=(usage.cached_content_token_count or 0) if usage else 0,
            latency_s=time.perf_counter() - started,
            headers=headers,
            finish_reason=finish.lower(),
        )

    def classify(self, exc: Exception) -> ProviderError:
        # google-genai does not wrap transport errors, and may use httpx or httpx2: match by name
        kind = type(exc).__name__
        if "Timeout" in kind:
            return ProviderError(self.name, ErrorClass.TIMEOUT, f"no answer within {self.config.timeout:g} s")
        if any(word in kind for word in ("Connect", "Network", "Protocol")) or isinstance(exc, OSError):
            return ProviderError(self.name, ErrorClass.NETWORK, f"cannot connect: {redact(str(exc))[:200]}")
        _genai, genai_errors, _types = _sdk()
        if not isinstance(exc, genai_errors.APIError):
            return self._unknown(exc)
        code = int(exc.code or 0)
        status = str(exc.status or "")
        message = redact(" ".join(str(exc.message or "").split()))
        details = _details(exc)
        response = getattr(exc, "response", None)
        headers = read_rate_limit_headers(getattr(response, "headers", None))
        key_invalid = any(d.get("reason") == "API_KEY_INVALID" for d in details) or "api key not valid" in message.lower()
        if code in (401, 403) or key_invalid:
            env = self.config.api_key_env or "API key"
            return ProviderError(self.name, ErrorClass.AUTH, f"{code} invalid key ({env})", status=code,
                                 headers=headers)
        if code == 404:
            return ProviderError(self.name, ErrorClass.MODEL_NOT_FOUND,
                                 f"404 model {self.model} not found for {self.config.api_version or 'the API'} "
                                 f"({self.model_hint()})", status=code, headers=headers)
        if code == 413:
            return ProviderError(self.name, ErrorClass.TOO_LARGE, f"413 request too large: {message[:160]}",
                                 status=code, headers=headers)
        if code == 429 or status == "RESOURCE_EXHAUSTED":
            wait = headers.retry_after_s or _retry_delay(details) or wait_from_message(message)
            quota_ids = " ".join(str(v.get("quotaId", "")) for d in details for v in d.get("violations", []))
            if "PerDay" in quota_ids or "per day" in message.lower():
                return ProviderError(self.name, ErrorClass.QUOTA_EXHAUSTED, f"429 daily quota: {message[:200]}",
                                     status=code, retry_after_s=wait, headers=headers)
            return ProviderError(self.name, ErrorClass.RATE_LIMITED, f"429 rate limited: {message[:160]}",
                                 status=code, retry_after_s=wait, headers=headers)
        if code >= 500:
            return ProviderError(self.name, ErrorClass.SERVER, f"{code} server error", status=code, headers=headers)
        return ProviderError(self.name, ErrorClass.BAD_REQUEST, f"{code} {message[:200]}", status=code,
                             headers=headers)

    async def probe(self) -> ProbeResult:
        missing = self.missing_key_error()
        if missing:
            return ProbeResult(False, missing.reason, missing)
        try:
            model = await self.client.aio.models.get(model=self.model)
        except Exception as exc:  # classified like a generation failure
            error = self.classify(exc)
            return ProbeResult(False, error.reason, error)
        return ProbeResult(True, f"key accepted, model {getattr(model, 'name', self.model)} found")

    async def aclose(self) -> None:
        if self._client is not None:
            try:
                await self._client.aio.aclose()
            except AttributeError:  # older SDKs have no explicit close
                pass
            self._client = None


def _enum_name(value: Any) -> str:
    return str(getattr(value, "name", value) or "")


def _details(exc: Any) -> list[dict[str, Any]]:
    body = exc.details if isinstance(exc.details, dict) else {}
    error = body.get("error", body)
    details = error.get("details", []) if isinstance(error, dict) else []
    return [d for d in details if isinstance(d, dict)]


def _retry_delay(details: list[dict[str, Any]]) -> float | None:
    for detail in details:
        if "retryDelay" in detail:
            return parse_reset(str(detail["retryDelay"]))
    return None
