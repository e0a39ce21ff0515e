"""Scenarios and provider-shaped JSON bodies for the fake LLM server (``llm_server.py``).

Bodies mimic what OpenAI, Groq and the Gemini API (generativelanguage.googleapis.com) really send,
so the real SDKs parse them and raise their real exception classes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Api = Literal["openai", "groq", "gemini"]
Kind = Literal["generate", "models"]
APIS: tuple[Api, ...] = ("openai", "groq", "gemini")

SCENARIOS: frozenset[str] = frozenset(
    {
        "ok",
        "rate_limited",
        "quota_exhausted",
        "auth",
        "model_not_found",
        "too_large",
        "server_error",
        "slow",
        "content_filtered",
    }
)

DEFAULT_RETRY_AFTER = {"rate_limited": 2.0, "quota_exhausted": 432.5}  # 432.5 s == "7m12.5s"
DEFAULT_SLOW_DELAY = 5.0
DEFAULT_MODELS: dict[Api, tuple[str, ...]] = {
    "openai": ("gpt-4o-mini", "gpt-4o"),
    "groq": ("llama-3.3-70b-versatile", "llama-3.1-8b-instant"),
    "gemini": ("gemini-2.5-flash", "gemini-2.0-flash"),
}
_GROQ_ORG = "org_01fakefakefakefakefakefake"
_OPENAI_ORG = "org-fakefakefakefake"
_GROQ_UPGRADE = "Need more {what}? Upgrade to Dev Tier today at https://console.groq.com/settings/billing"
_OPENAI_RL_DOCS = "Visit https://platform.openai.com/account/rate-limits to learn more."
_GEMINI_RL_DOCS = (
    "You exceeded your current quota, please check your plan and billing details. For more information on "
    "this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. To monitor your current usage, "
    "head to: https://ai.dev/usage?tab=rate-limit. "
)
_OPENERS = ("Bugün", "Bu sabah", "Öğleden sonra", "Haftanın başında", "Veri öncesi", "Kapanışa doğru",
            "Açılışta")
_SUBJECTS = ("bankacılık hisseleri", "dolar/TL", "ons altın", "BIST30 endeksi", "Bitcoin", "tahvil faizleri",
             "sanayi hisseleri", "euro/TL")
_VIEWS = ("sakin seyrediyor", "hızlı hareket ediyor", "beklentinin üstünde", "kâr satışıyla geriledi",
          "hacimsiz yükseliyor", "desteğe yaklaştı", "yatay bir bantta", "dirençte zorlanıyor", "toparlanmaya çalışıyor")
_CLOSERS = ("acele etmeye gerek yok.", "stop seviyesini unutmayın.", "temkinli olmak lazım.",
            "ben izlemede kalıyorum.", "akşam haberlere bakarız.")
"""Fragments of the fake's default answers, each pool indexed by the request number modulo its size:
two answers less than 280 requests apart share at most two fragments, so they are not near duplicates."""


@dataclass(frozen=True)
class Scenario:
    """One scripted behaviour; a parameter left as None takes the scenario's default.

    - ``retry_after``: seconds for ``rate_limited`` (2.0) and ``quota_exhausted`` (432.5).
    - ``status``: overrides the HTTP status, e.g. ``Scenario("auth", status=403)`` (Gemini
      PERMISSION_DENIED variant) or ``Scenario("server_error", status=503)``.
    - ``delay``: seconds ``slow`` sleeps before answering ok (5.0).
    - ``text`` / ``completion_tokens`` / ``cached_tokens``: ok-path reply overrides.
    - ``headers``: extra or overriding response headers; ``omit_headers``: names to drop.
    - ``body``: replaces the JSON body entirely.
    """

    name: str = "ok"
    retry_after: float | None = None
    status: int | None = None
    delay: float | None = None
    text: str | None = None
    completion_tokens: int | None = None
    cached_tokens: int | None = None
    headers: Mapping[str, str] | None = None
    omit_headers: tuple[str, ...] = ()
    body: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.name not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.name!r}; known: {sorted(SCENARIOS)}")

    @classmethod
    def coerce(cls, value: str | Scenario | Mapping[str, Any]) -> Scenario:
        """A Scenario from a name, a Scenario, or a JSON-like mapping ``{"name": ..., ...}``."""
        if isinstance(value, Scenario):
            return value
        if isinstance(value, str):
            return cls(value)
        params = dict(value)
        if "omit_headers" in params:
            params["omit_headers"] = tuple(params["omit_headers"])
        return cls(**params)

    @property
    def effective_retry_after(self) -> float:
        """``retry_after`` or this scenario's default."""
        if self.retry_after is not None:
            return float(self.retry_after)
        return DEFAULT_RETRY_AFTER.get(self.name, 2.0)

    @property
    def effective_delay(self) -> float:
        """``delay`` or the slow scenario's default."""
        return DEFAULT_SLOW_DELAY if self.delay is None else float(self.delay)


@dataclass
class Reply:
    """An HTTP answer: status, JSON body, headers."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Ctx:
    """Everything a body builder needs about the request being answered."""

    api: Api
    model: str
    n: int = 0
    prompt_tokens: int = 1
    completion_tokens: int = 40
    cached_tokens: int = 0
    text: str = ""
    api_version: str = "v1beta"
    rpm: int = 30
    tpm: int = 6000
    api_key: str = ""
    created: int = 0


# --------------------------------------------------------------------------- formatting helpers


def _num(value: float) -> str:
    """``2`` for 2.0, ``1.3`` for 1.3, at most 3 decimals."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def fmt_duration(seconds: float) -> str:
    """OpenAI/Groq reset style: ``"2.5s"``, ``"1m3.2s"``, ``"0s"``."""
    seconds = max(0.0, round(seconds, 3))
    minutes, rest = divmod(seconds, 60.0)
    if minutes >= 1:
        return f"{int(minutes)}m{_num(rest)}s"
    return f"{_num(rest)}s"


def fmt_retry_after(seconds: float) -> str:
    """``retry-after`` value: integer seconds when whole, else one decimal (``"2"``, ``"1.3"``)."""
    if float(seconds).is_integer():
        return str(int(seconds))
    return f"{seconds:.1f}"


def round_up_tenth(seconds: float) -> float:
    """Round up to 0.1 s (at least 0.1)."""
    return max(0.1, math.ceil(round(seconds * 10, 6)) / 10)


def default_reply_text(n: int) -> str:
    """A short Turkish sentence that differs per request number (2,520 before one repeats)."""
    return (f"{_OPENERS[n % len(_OPENERS)]} {_SUBJECTS[n % len(_SUBJECTS)]} {_VIEWS[n % len(_VIEWS)]}, "
            f"{_CLOSERS[n % len(_CLOSERS)]}")


def _text_of(content: Any) -> str:
    """Text of an OpenAI message content (string or list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def estimate_prompt_tokens(api: Api, body: Any) -> int:
    """Deterministic estimate: ceil(characters of all message texts / 4), at least 1."""
    chars = 0
    if isinstance(body, dict):
        if api == "gemini":
            blocks = list(body.get("contents") or [])
            if isinstance(body.get("systemInstruction"), dict):
                blocks.append(body["systemInstruction"])
            for block in blocks:
                for part in (block or {}).get("parts") or []:
                    chars += len(part.get("text") or "") if isinstance(part, dict) else 0
        else:
            for message in body.get("messages") or []:
                chars += len(_text_of(message.get("content"))) if isinstance(message, dict) else 0
    return max(1, math.ceil(chars / 4))


# --------------------------------------------------------------------------- success bodies


def ok_body(ctx: Ctx) -> dict[str, Any]:
    """A successful chat completion (OpenAI/Groq) or generateContent (Gemini) body."""
    total = ctx.prompt_tokens + ctx.completion_tokens
    if ctx.api == "gemini":
        return {
            "candidates": [
                {
                    "content": {"parts": [{"text": ctx.text}], "role": "model"},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {
                "promptTokenCount": ctx.prompt_tokens,
                "candidatesTokenCount": ctx.completion_tokens,
                "totalTokenCount": total,
                "cachedContentTokenCount": ctx.cached_tokens,
                "promptTokensDetails": [{"modality": "TEXT", "tokenCount": ctx.prompt_tokens}],
            },
            "modelVersion": ctx.model,
            "responseId": f"fake-{ctx.n:06d}",
        }
    usage: dict[str, Any] = {
        "prompt_tokens": ctx.prompt_tokens,
        "completion_tokens": ctx.completion_tokens,
        "total_tokens": total,
        "prompt_tokens_details": {"cached_tokens": ctx.cached_tokens},
    }
    body: dict[str, Any] = {
        "id": f"chatcmpl-fake{ctx.n:06d}",
        "object": "chat.completion",
        "created": ctx.created,
        "model": ctx.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": ctx.text},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": usage,
        "system_fingerprint": "fp_fake",
    }
    if ctx.api == "groq":
        usage.update(queue_time=0.01, prompt_time=0.002, completion_time=0.05, total_time=0.052)
        body["x_groq"] = {"id": f"req_fake{ctx.n:06d}"}
    else:
        usage["completion_tokens_details"] = {"reasoning_tokens": 0}
    return body


def content_filtered_reply(ctx: Ctx) -> Reply:
    """Gemini: 200 with a SAFETY block and no candidates; OpenAI/Groq: 400 content_filter."""
    if ctx.api == "gemini":
        return Reply(
            200,
            {
                "promptFeedback": {
                    "blockReason": "SAFETY",
                    "safetyRatings": [
                        {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": True}
                    ],
                },
                "usageMetadata": {"promptTokenCount": ctx.prompt_tokens, "totalTokenCount": ctx.prompt_tokens},
                "modelVersion": ctx.model,
            },
        )
    message = (
        "The response was filtered due to the prompt triggering the content management policy. "
        "Please modify your prompt and retry."
    )
    return Reply(400, _oai_error(ctx, message, "invalid_request_error", "content_filter", param="prompt"))


def models_list_body(api: Api, models: tuple[str, ...], created: int) -> dict[str, Any]:
    """``GET /models`` body."""
    if api == "gemini":
        return {"models": [model_body(api, m, created) for m in models]}
    return {"object": "list", "data": [model_body(api, m, created) for m in models]}


def model_body(api: Api, model: str, created: int) -> dict[str, Any]:
    """``GET /models/{model}`` body."""
    if api == "gemini":
        return {
            "name": f"models/{model}",
            "version": "001",
            "displayName": model,
            "description": f"Fake {model}",
            "inputTokenLimit": 1048576,
            "outputTokenLimit": 65536,
            "supportedGenerationMethods": ["generateContent", "countTokens"],
            "temperature": 1.0,
            "topP": 0.95,
            "topK": 64,
        }
    body: dict[str, Any] = {"id": model, "object": "model", "created": created, "owned_by": "system"}
    if api == "groq":
        body.update(owned_by="Meta", active=True, context_window=131072, max_completion_tokens=32768)
    return body


# --------------------------------------------------------------------------- error bodies


def _oai_error(ctx: Ctx, message: str, type_: str | None, code: str | None, param: str | None = None) -> dict:
    """OpenAI/Groq error envelope (Groq omits ``param``)."""
    error: dict[str, Any] = {"message": message, "type": type_}
    if ctx.api == "openai":
        error["param"] = param
    error["code"] = code
    return {"error": error}


def _gemini_error(code: int, message: str, status: str, details: list[dict] | None = None) -> dict:
    """Google RPC error envelope."""
    error: dict[str, Any] = {"code": code, "message": message, "status": status}
    if details is not None:
        error["details"] = details
    return {"error": error}


def _quota_failure(ctx: Ctx, quota_id: str, metric: str, value: int) -> dict[str, Any]:
    return {
        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
        "violations": [
            {
                "quotaMetric": f"generativelanguage.googleapis.com/{metric}",
                "quotaId": quota_id,
                "quotaDimensions": {"location": "global", "model": ctx.model},
                "quotaValue": str(value),
            }
        ],
    }


def _retry_info(seconds: float) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{_num(seconds)}s"}


_GEMINI_HELP = {
    "@type": "type.googleapis.com/google.rpc.Help",
    "links": [
        {"description": "Learn more about Gemini API quotas", "url": "https://ai.google.dev/gemini-api/docs/rate-limits"}
    ],
}


def rate_limit_reply(
    ctx: Ctx,
    retry_after: float,
    *,
    dimension: Literal["requests", "tokens"] = "requests",
    used: int | None = None,
    requested: int = 1,
) -> Reply:
    """429 for a per-minute limit (requests or tokens), with ``retry-after``."""
    limit = ctx.rpm if dimension == "requests" else ctx.tpm
    used = limit if used is None else used
    wait = fmt_duration(retry_after)
    if ctx.api == "gemini":
        if dimension == "requests":
            quota_id = "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"
            metric = "generate_content_free_tier_requests"
        else:
            quota_id = "GenerateContentInputTokensPerModelPerMinute-FreeTier"
            metric = "generate_content_free_tier_input_token_count"
        message = (
            f"{_GEMINI_RL_DOCS}\n* Quota exceeded for metric: generativelanguage.googleapis.com/{metric}, "
            f"limit: {limit}, model: {ctx.model}\nPlease retry in {_num(retry_after)}s."
        )
        details = [_quota_failure(ctx, quota_id, metric, limit), _GEMINI_HELP, _retry_info(retry_after)]
        body = _gemini_error(429, message, "RESOURCE_EXHAUSTED", details)
    else:
        short, abbr = ("requests", "RPM") if dimension == "requests" else ("tokens", "TPM")
        if ctx.api == "groq":
            message = (
                f"Rate limit reached for model `{ctx.model}` in organization `{_GROQ_ORG}` service tier `on_demand` "
                f"on {short} per minute ({abbr}): Limit {limit}, Used {used}, Requested {requested}. "
                f"Please try again in {wait}. {_GROQ_UPGRADE.format(what=short)}"
            )
        else:
            message = (
                f"Rate limit reached for {ctx.model} in organization {_OPENAI_ORG} on {short} per min ({abbr}): "
                f"Limit {limit}, Used {used}, Requested {requested}. Please try again in {wait}. {_OPENAI_RL_DOCS}"
            )
        body = _oai_error(ctx, message, short, "rate_limit_exceeded")
    return Reply(429, body, {"retry-after": fmt_retry_after(retry_after)})


def too_large_reply(ctx: Ctx, requested: int | None = None) -> Reply:
    """413 request-too-large (OpenAI/Groq); Gemini answers 400 INVALID_ARGUMENT."""
    requested = requested if requested is not None else ctx.tpm + 3000
    if ctx.api == "gemini":
        message = f"The input token count ({requested}) exceeds the maximum number of tokens allowed ({ctx.tpm})."
        return Reply(400, _gemini_error(400, message, "INVALID_ARGUMENT"))
    if ctx.api == "groq":
        message = (
            f"Request too large for model `{ctx.model}` in organization `{_GROQ_ORG}` service tier `on_demand` on "
            f"tokens per minute (TPM): Limit {ctx.tpm}, Requested {requested}, please reduce your message size and "
            f"try again. {_GROQ_UPGRADE.format(what='tokens')}"
        )
    else:
        message = (
            f"Request too large for {ctx.model} in organization {_OPENAI_ORG} on tokens per min (TPM): "
            f"Limit {ctx.tpm}, Requested {requested}. The input or output tokens must be reduced in order to run "
            f"successfully. {_OPENAI_RL_DOCS}"
        )
    return Reply(413, _oai_error(ctx, message, "tokens", "rate_limit_exceeded"))


def daily_limit_reply(ctx: Ctx, retry_after: float, *, dimension: Literal["requests", "tokens"], limit: int,
                      used: int, requested: int) -> Reply:
    """429 for an enforced daily limit (RPD or TPD), worded as each provider words it, with ``retry-after``."""
    if ctx.api == "gemini":
        what = "requests" if dimension == "requests" else "input_token_count"
        metric = f"generate_content_free_tier_{what}"
        quota_id = "GenerateRequestsPerDayPerProjectPerModel-FreeTier" if dimension == "requests" else \
            "GenerateContentInputTokensPerModelPerDay-FreeTier"
        message = (f"{_GEMINI_RL_DOCS}\n* Quota exceeded for metric: generativelanguage.googleapis.com/{metric}, "
                   f"limit: {limit}, model: {ctx.model}\nPlease retry in {_num(retry_after)}s.")
        body = _gemini_error(429, message, "RESOURCE_EXHAUSTED",
                             [_quota_failure(ctx, quota_id, metric, limit), _GEMINI_HELP, _retry_info(retry_after)])
    else:
        short, abbr = ("requests", "RPD") if dimension == "requests" else ("tokens", "TPD")
        message = (f"Rate limit reached for model `{ctx.model}` in organization `{_GROQ_ORG}` service tier `on_demand` "
                   f"on {short} per day ({abbr}): Limit {limit}, Used {used}, Requested {requested}. Please try "
                   f"again in {fmt_duration(retry_after)}. {_GROQ_UPGRADE.format(what=short)}")
        body = _oai_error(ctx, message, short, "rate_limit_exceeded")
    return Reply(429, body, {"retry-after": fmt_retry_after(retry_after)})


def _quota_exhausted(ctx: Ctx, sc: Scenario) -> Reply:
    retry_after = sc.effective_retry_after
    if ctx.api == "gemini":
        metric = "generate_content_free_tier_requests"
        message = (
            f"{_GEMINI_RL_DOCS}\n* Quota exceeded for metric: generativelanguage.googleapis.com/{metric}, "
            f"limit: 250, model: {ctx.model}\nPlease retry in {_num(retry_after)}s."
        )
        details = [
            _quota_failure(ctx, "GenerateRequestsPerDayPerProjectPerModel-FreeTier", metric, 250),
            _GEMINI_HELP,
            _retry_info(retry_after),
        ]
        body = _gemini_error(429, message, "RESOURCE_EXHAUSTED", details)
    elif ctx.api == "groq":
        message = (
            f"Rate limit reached for model `{ctx.model}` in organization `{_GROQ_ORG}` service tier `on_demand` on "
            f"tokens per day (TPD): Limit 100000, Used 99300, Requested 1200. Please try again in "
            f"{fmt_duration(retry_after)}. {_GROQ_UPGRADE.format(what='tokens')}"
        )
        body = _oai_error(ctx, message, "tokens", "rate_limit_exceeded")
    else:
        message = (
            "You exceeded your current quota, please check your plan and billing details. For more information "
            "on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors."
        )
        body = _oai_error(ctx, message, "insufficient_quota", "insufficient_quota")
    return Reply(429, body, {"retry-after": fmt_retry_after(retry_after)})


def _auth(ctx: Ctx, status: int) -> Reply:
    if ctx.api == "gemini":
        if status == 403:
            message = f"Permission denied: Consumer 'api_key:{ctx.api_key[:4]}***' has been suspended."
            details = [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "CONSUMER_SUSPENDED",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com", "consumer": "projects/0"},
                }
            ]
            return Reply(403, _gemini_error(403, message, "PERMISSION_DENIED", details))
        message = "API key not valid. Please pass a valid API key."
        details = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {"@type": "type.googleapis.com/google.rpc.LocalizedMessage", "locale": "en-US", "message": message},
        ]
        return Reply(status, _gemini_error(status, message, "INVALID_ARGUMENT", details))
    if status == 403:
        body = _oai_error(ctx, "Permission denied.", "permission_denied", "permission_denied")
        return Reply(403, body)
    if ctx.api == "groq":
        return Reply(status, _oai_error(ctx, "Invalid API Key", "invalid_request_error", "invalid_api_key"))
    masked = (ctx.api_key[:3] or "sk-") + "***"
    message = (
        f"Incorrect API key provided: {masked}. You can find your API key at "
        "https://platform.openai.com/account/api-keys."
    )
    return Reply(status, _oai_error(ctx, message, "invalid_request_error", "invalid_api_key"))


def _model_not_found(ctx: Ctx) -> Reply:
    if ctx.api == "gemini":
        message = (
            f"models/{ctx.model} is not found for API version {ctx.api_version}, or is not supported for "
            "generateContent. Call ListModels to see the list of available models and their supported methods."
        )
        return Reply(404, _gemini_error(404, message, "NOT_FOUND"))
    message = f"The model `{ctx.model}` does not exist or you do not have access to it."
    return Reply(404, _oai_error(ctx, message, "invalid_request_error", "model_not_found"))


def _server_error(ctx: Ctx, status: int) -> Reply:
    if ctx.api == "gemini":
        if status == 503:
            return Reply(503, _gemini_error(503, "The model is overloaded. Please try again later.", "UNAVAILABLE"))
        message = (
            "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting"
        )
        return Reply(status, _gemini_error(status, message, "INTERNAL"))
    if ctx.api == "groq":
        message = "Service Unavailable" if status == 503 else "Internal Server Error"
        return Reply(status, _oai_error(ctx, message, "internal_server_error", None))
    if status == 503:
        message = "The server is overloaded or not ready yet."
    else:
        message = "The server had an error while processing your request. Sorry about that!"
    return Reply(status, _oai_error(ctx, message, "server_error", None))


def error_reply(sc: Scenario, ctx: Ctx) -> Reply:
    """The reply for an error scenario (anything but ok/slow), honouring ``status``/``body`` overrides."""
    name = sc.name
    if name == "rate_limited":
        reply = rate_limit_reply(ctx, sc.effective_retry_after)
    elif name == "quota_exhausted":
        reply = _quota_exhausted(ctx, sc)
    elif name == "auth":
        reply = _auth(ctx, sc.status or (400 if ctx.api == "gemini" else 401))
    elif name == "model_not_found":
        reply = _model_not_found(ctx)
    elif name == "too_large":
        reply = too_large_reply(ctx)
    elif name == "server_error":
        reply = _server_error(ctx, sc.status or 500)
    elif name == "content_filtered":
        reply = content_filtered_reply(ctx)
    else:
        raise ValueError(f"{name!r} is not an error scenario")
    if sc.status is not None:
        reply.status = sc.status
        if ctx.api == "gemini" and isinstance(reply.body, dict) and "error" in reply.body:
            reply.body["error"]["code"] = sc.status
    if sc.body is not None:
        reply.body = dict(sc.body)
    return reply
