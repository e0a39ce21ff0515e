"""A fake OpenAI / Groq / Gemini HTTP server on 127.0.0.1 for tests and benchmarks (stdlib only).

The real SDKs talk to it unchanged:

- ``openai.AsyncOpenAI(base_url=f"{url}/v1")``: ``POST /v1/chat/completions``, ``GET /v1/models[/{model}]``
- ``groq.AsyncGroq(base_url=url)``: ``POST /openai/v1/chat/completions``, ``GET /openai/v1/models[/{model}]``
- ``genai.Client(http_options=HttpOptions(base_url=url, api_version="v1beta")).aio``:
  ``POST /v1beta/models/{model}:generateContent``, ``GET /v1beta/models[/{model}]``

Each api plays a FIFO script of scenarios (see ``llm_scenarios.Scenario``), falling back to a sticky
default (``ok`` unless set). Optional enforced limits reject with 429 on a sliding 60 s window.
Run standalone with ``python -m tests.fakes.llm_server --port N --rpm 30 --tpm 6000``.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Literal
from urllib.parse import parse_qs

from .http_base import Answer, FakeHandlerBase, FakeHTTPServerBase, main_parser, serve_until_signalled
from .llm_scenarios import (
    APIS,
    DEFAULT_MODELS,
    Api,
    Ctx,
    Kind,
    Reply,
    Scenario,
    content_filtered_reply,
    daily_limit_reply,
    default_reply_text,
    error_reply,
    estimate_prompt_tokens,
    fmt_duration,
    model_body,
    models_list_body,
    ok_body,
    rate_limit_reply,
    round_up_tenth,
    too_large_reply,
)

__all__ = ["FakeLLMServer", "RecordedRequest", "Scenario", "SlidingWindow", "main"]

ReplyFn = Callable[[Api, Any, int], str]
ScenarioLike = str | Scenario | Mapping[str, Any]

_GROQ = re.compile(r"/openai/v1/(?:(?P<chat>chat/completions)|models(?:/(?P<model>[^/]+))?)")
_OPENAI = re.compile(r"/v1/(?:(?P<chat>chat/completions)|models(?:/(?P<model>[^/:]+))?)")
_GEMINI = re.compile(r"/(?P<version>v1beta|v1alpha|v1)/models(?:/(?P<model>[^/:]+)(?::(?P<method>\w+))?)?")
_SUCCESS_LIKE = frozenset({"ok", "slow", "content_filtered"})


@dataclass
class RecordedRequest:
    """One request the fake received (``time`` is the server clock, monotonic by default)."""

    api: Api
    kind: Kind
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    time: float
    model: str = ""
    status: int | None = None
    scenario: str | None = None


class SlidingWindow:
    """Admitted (time, tokens) entries of the last ``span`` seconds."""

    def __init__(self, span: float = 60.0) -> None:
        self.span = span
        self.entries: deque[tuple[float, int]] = deque()
        self.tokens = 0

    def prune(self, now: float) -> None:
        """Drop entries that left the window."""
        while self.entries and self.entries[0][0] <= now - self.span:
            self.tokens -= self.entries.popleft()[1]

    def wait_for(self, now: float, tokens: int, rpm: int | None, tpm: int | None) -> float:
        """Seconds until a request of ``tokens`` fits (0 = now, inf = never)."""
        self.prune(now)
        wait = 0.0
        if rpm is not None and len(self.entries) + 1 > rpm:
            if rpm <= 0:
                return float("inf")
            wait = self.entries[len(self.entries) - rpm][0] + self.span - now
        if tpm is not None and self.tokens + tokens > tpm:
            if tokens > tpm:
                return float("inf")
            excess = self.tokens + tokens - tpm
            for t, n in self.entries:
                excess -= n
                if excess <= 0:
                    wait = max(wait, t + self.span - now)
                    break
        return wait

    def add(self, now: float, tokens: int) -> None:
        """Admit an entry."""
        self.entries.append((now, tokens))
        self.tokens += tokens

    def reset_in(self, now: float) -> float:
        """Seconds until the oldest entry leaves (0 when empty)."""
        self.prune(now)
        return max(0.0, self.entries[0][0] + self.span - now) if self.entries else 0.0


@dataclass
class _Counters:
    admitted: int = 0
    rejected_429: int = 0
    rejected_too_large: int = 0
    rejected_daily: int = 0
    tokens_admitted: int = 0


def _normalise_limits(limits: Mapping[str, Any] | None) -> dict[Api, dict[str, int]]:
    """``{"rpm":..,"tpm":..}`` (every api) or ``{"groq": {...}, ...}`` (per api)."""
    if not limits:
        return {}
    if any(key in APIS for key in limits):
        return {api: dict(value) for api, value in limits.items() if api in APIS and value}  # type: ignore[misc]
    return {api: dict(limits) for api in APIS}


class _Handler(FakeHandlerBase):
    content_type = "application/json; charset=utf-8"

    do_PUT = do_DELETE = do_PATCH = FakeHandlerBase.do_GET  # noqa: N815

    def answer(self, raw: bytes) -> Answer | None:
        fake: FakeLLMServer = self.server.fake
        reply, delay = fake.handle(self.command, self.path, dict(self.headers.items()), raw)
        if not fake._sleep(delay):
            return None
        return reply.status, reply.body, reply.headers


class FakeLLMServer(FakeHTTPServerBase):
    """Threaded fake of the OpenAI, Groq and Gemini HTTP APIs; a context manager. ``url`` has no ``/v1``.

    ``limits`` enables enforcement (``{"rpm": 30, "tpm": 6000}`` or per api; ``rpd``/``tpd`` count per UTC day
    of ``clock``, which must then be epoch seconds, and answer the provider's daily 429); ``advertised_limits``
    only feed the ``x-ratelimit-*`` headers when nothing is enforced. ``reply`` is a fixed text or
    ``fn(api, request_json, n) -> str``.
    """

    handler_class = _Handler
    thread_name = "fake-llm-server"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        limits: Mapping[str, Any] | None = None,
        advertised_limits: Mapping[str, int] | None = None,
        latency_ms: float = 0.0,
        completion_tokens: int = 40,
        cached_tokens: int = 0,
        reply: str | ReplyFn | None = None,
        models: Mapping[Api, Iterable[str]] | None = None,
        rate_limit_headers: bool = True,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        count_prompt_tokens: Callable[[Api, Any], int] = estimate_prompt_tokens,
    ) -> None:
        super().__init__(host, port)
        self.count_prompt_tokens = count_prompt_tokens
        self.limits = _normalise_limits(limits)
        self.advertised_limits = dict(advertised_limits or {"rpm": 30, "tpm": 6000})
        self.latency_ms = latency_ms
        self.completion_tokens = completion_tokens
        self.cached_tokens = cached_tokens
        self.reply = reply
        self.models = {api: tuple((models or {}).get(api, DEFAULT_MODELS[api])) for api in APIS}
        self.rate_limit_headers = rate_limit_headers
        self.window_seconds = window_seconds
        self.clock = clock
        self._lock = threading.RLock()
        self._scripts: dict[tuple[Api, Kind], deque[Scenario]] = {}
        self._defaults: dict[tuple[Api, Kind], Scenario] = {}
        self._reset_state()

    # ------------------------------------------------------------------ scripting

    def script(self, api: Api, items: Iterable[ScenarioLike], kind: Kind = "generate") -> None:
        """Append scenarios to ``api``'s FIFO script for ``kind`` requests."""
        self._check_api(api)
        scenarios = [Scenario.coerce(item) for item in items]
        with self._lock:
            self._scripts.setdefault((api, kind), deque()).extend(scenarios)

    def set_default(self, api: Api, scenario: ScenarioLike, kind: Kind | None = None) -> None:
        """Sticky behaviour when the script is empty (both kinds unless ``kind`` is given)."""
        self._check_api(api)
        sc = Scenario.coerce(scenario)
        with self._lock:
            for k in (kind,) if kind else ("generate", "models"):
                self._defaults[(api, k)] = sc  # type: ignore[index]

    def clear_scripts(self, api: Api | None = None) -> None:
        """Forget scripts and defaults (of one api or all)."""
        with self._lock:
            for store in (self._scripts, self._defaults):
                for key in [k for k in store if api is None or k[0] == api]:
                    del store[key]

    def pending(self, api: Api, kind: Kind = "generate") -> int:
        """Scenarios still queued."""
        with self._lock:
            return len(self._scripts.get((api, kind), ()))

    # ------------------------------------------------------------------ inspection

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every recorded request, in arrival order."""
        with self._lock:
            return list(self._records)

    def requests_for(self, api: Api) -> list[RecordedRequest]:
        """Recorded requests of one api."""
        with self._lock:
            return [r for r in self._records if r.api == api]

    def count(self, api: Api, kind: Kind | None = "generate") -> int:
        """Number of recorded ``kind`` requests (None: all) of ``api``."""
        with self._lock:
            return sum(1 for r in self._records if r.api == api and (kind is None or r.kind == kind))

    def stats(self) -> dict[str, Any]:
        """Counters: admitted, rejected_429, rejected_too_large, tokens_admitted (total and per api)."""
        with self._lock:
            per_api = {api: asdict(c) for api, c in self._counters.items()}
            total = {key: sum(c[key] for c in per_api.values()) for key in asdict(_Counters())}
            return {**total, "requests": len(self._records), "by_api": per_api, "limits": self.limits}

    def reset(self, scripts: bool = True) -> None:
        """Clear records, counters and windows (and scripts/defaults unless ``scripts=False``)."""
        with self._lock:
            self._reset_state()
            if scripts:
                self.clear_scripts()

    def _reset_state(self) -> None:
        with self._lock:
            self._records: list[RecordedRequest] = []
            self._counters = {api: _Counters() for api in APIS}
            self._windows = {api: SlidingWindow(self.window_seconds) for api in APIS}
            self._daily: dict[Api, tuple[str, int, int]] = {}  # api → (UTC day of the clock, requests, tokens)
            self._n = 0

    @staticmethod
    def _check_api(api: str) -> None:
        if api not in APIS:
            raise ValueError(f"unknown api {api!r}; known: {APIS}")

    # ------------------------------------------------------------------ request handling

    def handle(self, method: str, raw_path: str, headers: Mapping[str, str], raw: bytes) -> tuple[Reply, float]:
        """Answer one request: the reply and how long to wait before sending it."""
        path, _, query_text = raw_path.partition("?")
        query = parse_qs(query_text)
        lower = {k.lower(): v for k, v in headers.items()}
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            return Reply(400, {"error": {"message": "body is not JSON", "type": "invalid_request_error"}}), 0.0
        if path.startswith("/_"):
            return self._control(method, path, body), 0.0
        route = self._route(method, path, lower, query)
        if route is None:
            error = {"message": f"Unknown request URL: {method} {path}.", "type": "invalid_request_error"}
            return Reply(404, {"error": {**error, "code": "unknown_url"}}), 0.0
        api, kind, model, version = route
        if kind == "generate" and api != "gemini":
            model = str((body or {}).get("model", "")) if isinstance(body, dict) else ""
        now = self.clock()
        record = RecordedRequest(api, kind, method, path, query, lower, body, now, model)
        with self._lock:
            self._records.append(record)
            if kind == "generate":
                reply, delay, name = self._generate(api, model, version, body, lower, query, now)
            else:
                reply, delay, name = self._models(api, model, version, lower, query, now)
            record.status, record.scenario = reply.status, name
        return reply, delay

    def _route(
        self, method: str, path: str, headers: Mapping[str, str], query: Mapping[str, Any]
    ) -> tuple[Api, Kind, str, str] | None:
        """(api, kind, model, api version) for a known endpoint, else None."""
        path = path.rstrip("/")
        if m := _GROQ.fullmatch(path):
            if m["chat"]:
                return ("groq", "generate", "", "v1") if method == "POST" else None
            return ("groq", "models", m["model"] or "", "v1") if method == "GET" else None
        gem = _GEMINI.fullmatch(path)
        if gem and gem["method"]:
            ok = method == "POST" and gem["method"] == "generateContent"
            return ("gemini", "generate", gem["model"], gem["version"]) if ok else None
        looks_google = "x-goog-api-key" in headers or "x-goog-api-client" in headers or "key" in query
        if gem and method == "GET" and (gem["version"] != "v1" or looks_google):
            return "gemini", "models", gem["model"] or "", gem["version"]
        if m := _OPENAI.fullmatch(path):
            if m["chat"]:
                return ("openai", "generate", "", "v1") if method == "POST" else None
            return ("openai", "models", m["model"] or "", "v1") if method == "GET" else None
        return None

    def _next_scenario(self, api: Api, kind: Kind, pop: bool) -> Scenario:
        queue = self._scripts.get((api, kind))
        if queue:
            return queue.popleft() if pop else queue[0]
        return self._defaults.get((api, kind), Scenario("ok"))

    def _ctx(
        self, api: Api, model: str, version: str, headers: Mapping[str, str], query: Mapping[str, Any], **kw: Any
    ) -> Ctx:
        """Body-builder context; the api key comes from x-goog-api-key, ?key= or the bearer token."""
        limits = self._header_limits(api)
        key = headers.get("x-goog-api-key") or (query.get("key") or [""])[0]
        auth = headers.get("authorization", "")
        key = key or (auth[7:] if auth.lower().startswith("bearer ") else auth)
        return Ctx(
            api=api, model=model, api_version=version, rpm=limits["rpm"], tpm=limits["tpm"],
            api_key=key, created=int(time.time()), **kw,
        )  # fmt: skip

    def _generate(
        self, api: Api, model: str, version: str, body: Any, headers: Mapping[str, str],
        query: Mapping[str, Any], now: float,
    ) -> tuple[Reply, float, str]:  # fmt: skip
        """Decide a generate request (lock held)."""
        self._n += 1
        n = self._n
        sc = self._next_scenario(api, "generate", pop=False)
        prompt = self.count_prompt_tokens(api, body)
        completion = self.completion_tokens if sc.completion_tokens is None else sc.completion_tokens
        cached = self.cached_tokens if sc.cached_tokens is None else sc.cached_tokens
        counters, window = self._counters[api], self._windows[api]
        if sc.name in _SUCCESS_LIKE:
            tokens = prompt + completion
            enforced = self.limits.get(api)
            daily = self._daily_check(api, now, tokens, enforced or {})
            if daily is not None:
                counters.rejected_daily += 1
                dim, limit, used, retry = daily
                ctx = self._ctx(api, model, version, headers, query, prompt_tokens=prompt)
                reply = daily_limit_reply(ctx, retry, dimension=dim, limit=limit, used=used,
                                          requested=1 if dim == "requests" else tokens)
                return self._customise(api, now, reply, None), 0.0, "enforced_daily"
            if enforced:
                wait = window.wait_for(now, tokens, enforced.get("rpm"), enforced.get("tpm"))
                if wait == float("inf"):
                    counters.rejected_too_large += 1
                    ctx = self._ctx(api, model, version, headers, query, prompt_tokens=prompt)
                    reply = self._customise(api, now, too_large_reply(ctx, requested=tokens), None)
                    return reply, 0.0, "enforced_too_large"
                if wait > 0:
                    counters.rejected_429 += 1
                    ctx = self._ctx(api, model, version, headers, query, prompt_tokens=prompt)
                    rpm_full = enforced.get("rpm") is not None and len(window.entries) >= enforced["rpm"]
                    dim = "requests" if rpm_full else "tokens"
                    used = len(window.entries) if rpm_full else window.tokens
                    reply = rate_limit_reply(ctx, round_up_tenth(wait), dimension=dim, used=used,
                                             requested=1 if rpm_full else tokens)  # fmt: skip
                    return self._customise(api, now, reply, None), 0.0, "enforced_rate_limited"
            window.add(now, tokens)
            if enforced and ("rpd" in enforced or "tpd" in enforced):
                day, requests, used_tokens = self._daily[api]
                self._daily[api] = (day, requests + 1, used_tokens + tokens)
            counters.admitted += 1
            counters.tokens_admitted += tokens
        self._next_scenario(api, "generate", pop=True)
        text = sc.text
        if text is None:
            text = self.reply(api, body, n) if callable(self.reply) else self.reply
        ctx = self._ctx(
            api, model, version, headers, query, n=n, prompt_tokens=prompt, completion_tokens=completion,
            cached_tokens=cached, text=text if text is not None else default_reply_text(n),
        )  # fmt: skip
        latency = self.latency_ms / 1000.0
        if sc.name == "ok":
            reply, delay = Reply(200, ok_body(ctx)), latency
        elif sc.name == "slow":
            reply, delay = Reply(200, ok_body(ctx)), sc.effective_delay
        elif sc.name == "content_filtered":
            reply, delay = content_filtered_reply(ctx), latency
        else:
            reply, delay = error_reply(sc, ctx), 0.0
        return self._customise(api, now, reply, sc), delay, sc.name

    def _daily_check(self, api: Api, now: float, tokens: int,
                     enforced: Mapping[str, int]) -> tuple[Literal["requests", "tokens"], int, int, float] | None:
        """(dimension, limit, used, seconds to the UTC midnight of the clock) when a daily limit refuses."""
        if "rpd" not in enforced and "tpd" not in enforced:
            return None
        day = datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%d")
        if self._daily.get(api, ("",))[0] != day:
            self._daily[api] = (day, 0, 0)
        _, requests, used = self._daily[api]
        retry = 86400.0 - now % 86400.0
        if "rpd" in enforced and requests + 1 > enforced["rpd"]:
            return "requests", enforced["rpd"], requests, retry
        if "tpd" in enforced and used + tokens > enforced["tpd"]:
            return "tokens", enforced["tpd"], used, retry
        return None

    def _models(
        self, api: Api, model: str, version: str, headers: Mapping[str, str], query: Mapping[str, Any], now: float
    ) -> tuple[Reply, float, str]:
        """Decide a models list/get request (lock held)."""
        sc = self._next_scenario(api, "models", pop=True)
        ctx = self._ctx(api, model, version, headers, query)
        created = int(time.time())
        ok = Reply(200, model_body(api, model, created) if model else models_list_body(api, self.models[api], created))
        if sc.name in ("ok", "slow", "content_filtered", "too_large") or (sc.name == "model_not_found" and not model):
            reply, delay = ok, sc.effective_delay if sc.name == "slow" else 0.0
        else:
            reply, delay = error_reply(sc, ctx), 0.0
        return self._customise(api, now, reply, sc), delay, sc.name

    def _customise(self, api: Api, now: float, reply: Reply, sc: Scenario | None) -> Reply:
        """Add the rate-limit headers, then the scenario's extra headers, minus its omitted ones."""
        reply.headers = {**self._rate_headers(api, now), **reply.headers}
        if sc is not None:
            reply.headers.update({k.lower(): v for k, v in (sc.headers or {}).items()})
            for name in sc.omit_headers:
                reply.headers.pop(name.lower(), None)
        return reply

    def _header_limits(self, api: Api) -> dict[str, int]:
        return {**self.advertised_limits, **self.limits.get(api, {})}

    def _rate_headers(self, api: Api, now: float) -> dict[str, str]:
        """OpenAI/Groq ``x-ratelimit-*`` headers from the api's window (lock held)."""
        if not self.rate_limit_headers:
            return {}
        limits, window = self._header_limits(api), self._windows[api]
        reset = fmt_duration(window.reset_in(now))
        rpm, tpm = limits["rpm"], limits["tpm"]
        return {
            "x-ratelimit-limit-requests": str(rpm),
            "x-ratelimit-remaining-requests": str(max(0, rpm - len(window.entries))),
            "x-ratelimit-reset-requests": reset,
            "x-ratelimit-limit-tokens": str(tpm),
            "x-ratelimit-remaining-tokens": str(max(0, tpm - window.tokens)),
            "x-ratelimit-reset-tokens": reset,
        }

    def _control(self, method: str, path: str, body: Any) -> Reply:
        """``GET /_stats``, ``POST /_reset``, ``POST /_script``, ``POST /_default``."""
        try:
            if path == "/_stats" and method == "GET":
                return Reply(200, self.stats())
            if path == "/_reset" and method == "POST":
                self.reset()
                return Reply(200, {"ok": True})
            if path == "/_script" and method == "POST":
                self.script(body["api"], body["items"], body.get("kind", "generate"))
                return Reply(200, {"ok": True})
            if path == "/_default" and method == "POST":
                self.set_default(body["api"], body["scenario"], body.get("kind"))
                return Reply(200, {"ok": True})
        except (KeyError, TypeError, ValueError) as exc:
            return Reply(400, {"error": {"message": f"bad control request: {exc!r}"}})
        return Reply(404, {"error": {"message": f"unknown control endpoint {method} {path}"}})

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless stopping; False when the server is shutting down."""
        return not self._stopping.wait(seconds) if seconds > 0 else True


def main(argv: list[str] | None = None) -> int:
    """Run the fake until SIGTERM/SIGINT, printing its URL on stdout."""
    parser = main_parser("python -m tests.fakes.llm_server", __doc__)
    parser.add_argument("--rpm", type=int, default=None, help="enforced requests per minute")
    parser.add_argument("--tpm", type=int, default=None, help="enforced tokens per minute")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay of every ok answer")
    parser.add_argument("--completion-tokens", type=int, default=40)
    args = parser.parse_args(argv)
    limits = {k: v for k, v in (("rpm", args.rpm), ("tpm", args.tpm)) if v is not None}
    server = FakeLLMServer(
        args.host, args.port, limits=limits or None, latency_ms=args.latency_ms,
        completion_tokens=args.completion_tokens,
    )  # fmt: skip
    return serve_until_signalled(server)


if __name__ == "__main__":
    sys.exit(main())
