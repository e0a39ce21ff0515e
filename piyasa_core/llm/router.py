"""The router: ordered fallback over providers, per-provider state, breaker, budgets, pausing."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from piyasa_core.llm.base import Provider
from piyasa_core.llm.budget import Budget, Limits, reserve_within
from piyasa_core.llm.types import ChatRequest, Completion, ErrorClass, ProviderError, RateLimitHeaders
from piyasa_core.llm.usage import UsageLedger

log = logging.getLogger(__name__)

_BREAKER_CLASSES = {ErrorClass.SERVER, ErrorClass.TIMEOUT, ErrorClass.NETWORK}
_REQUEST_ONLY = {ErrorClass.TOO_LARGE, ErrorClass.CONTENT_FILTERED, ErrorClass.BAD_REQUEST}


class State(str, Enum):
    """Provider states shown to the operator (``UNKNOWN`` until a request or a probe has told)."""

    UNKNOWN = "unknown"
    NOT_CONFIGURED = "not_configured"  # no API key: not an error, nothing was tried
    OK = "ok"
    COOLING = "cooling"
    EXHAUSTED = "exhausted"
    AUTH_ERROR = "auth_error"
    MODEL_MISSING = "model_missing"
    DOWN = "down"


@dataclass(frozen=True)
class RouterPolicy:
    """Router knobs (from `[llm]`)."""

    breaker_threshold: int = 3
    breaker_cooldown: float = 10.0
    breaker_cooldown_max: float = 60.0
    default_retry_after: float = 10.0
    max_budget_wait: float = 30.0
    backoff_initial: float = 1.0  # a transient error (network, timeout, 5xx) pauses the provider this long …
    backoff_max: float = 60.0  # … doubling per consecutive error, with jitter, never longer than this


@dataclass
class _Health:
    state: State = State.UNKNOWN
    reason: str = ""
    until: float | None = None
    failures: int = 0
    cooldown: float = 0.0
    probing: bool = False
    headers: RateLimitHeaders = field(default_factory=RateLimitHeaders)
    requests: int = 0
    errors: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class ProviderStatus:
    """An immutable view of one provider for the UI, the control API and `check`."""

    name: str
    model: str
    label: str
    is_llm: bool
    active: bool
    in_chain: bool
    state: str
    reason: str
    until: float | None
    breaker: str
    headers: RateLimitHeaders
    requests: int
    errors: dict[str, int]
    limits: Limits
    requests_today: int
    tokens_today: int
    projected_exhaustion: float | None


class NoProviderAvailable(Exception):
    """Every provider in the chain is unusable right now."""

    def __init__(self, reason: str, retry_at: float | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_at = retry_at


class RequestRejected(Exception):
    """Every provider that was tried refused this particular request (too large, filtered …)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Router:
    """Sends each request to the first usable provider of the chain; never loops or hammers."""

    def __init__(self, providers: dict[str, Provider], active: str, fallback: list[str], budget: Budget,
                 *, limits: dict[str, Limits] | None = None, policy: RouterPolicy | None = None,
                 ledger: UsageLedger | None = None, clock: Callable[[], float] = time.time,
                 on_change: Callable[[ProviderStatus], None] | None = None,
                 real_seconds: Callable[[float], float] = float) -> None:
        self.providers = providers
        self.fallback = [name for name in fallback if name in providers]
        self.budget = budget
        self.limits = limits or {}
        self.policy = policy or RouterPolicy()
        self.ledger = ledger or UsageLedger()
        self.clock = clock
        self.real_seconds = real_seconds  # the clock's seconds in real ones (a time-scaled run's clock)
        self.on_change = on_change
        self.health = {name: _Health(cooldown=self.policy.breaker_cooldown) for name in providers}
        self.active = active
        self.chain: list[str] = []
        self.paused_reason = ""
        self.paused_until: float | None = None
        # the day's plan: each provider's share of what the chain can still afford today; requests go to a
        # provider drawn by these shares first (fallback by remaining daily capacity, not only on error)
        self.shares: dict[str, float] = {}
        self._draw = random.Random(0)
        self._wake = asyncio.Event()
        for name, provider in providers.items():  # a missing key is known without any request
            missing = provider.missing_key_error()
            if missing is not None:
                self.health[name].state, self.health[name].reason = State.NOT_CONFIGURED, missing.reason
            elif not provider.is_llm:
                self.health[name].state = State.OK  # the offline composer needs nothing to work
        self.switch(active)

    # ── chain and switching ────────────────────────────────────────────────────────────────────
    def switch(self, name: str) -> None:
        """Make ``name`` the active provider; the fallback order follows it."""
        if name not in self.providers:
            raise ValueError(f"unknown provider {name!r} (known: {', '.join(self.providers)})")
        self.active = name
        self.chain = [name, *[p for p in self.fallback if p != name]]
        self._wake.set()
        self._emit(name)

    def budgets_changed(self) -> None:
        """Our own budgets were re-split (the day's plan shares the quota anew): a caller paused on a
        full budget looks again now instead of at the time that budget named (midnight, for a day's)."""
        self._wake.set()

    def reset(self, name: str) -> None:
        """Forget a parked state (after the key or model setting changed)."""
        self.health[name] = _Health(cooldown=self.policy.breaker_cooldown)
        self._wake.set()
        self._emit(name)

    # ── state machine ──────────────────────────────────────────────────────────────────────────
    def _usable(self, name: str, now: float) -> tuple[bool, str]:
        health = self.health[name]
        if health.state in (State.AUTH_ERROR, State.MODEL_MISSING, State.NOT_CONFIGURED):
            return False, health.reason
        if health.state in (State.COOLING, State.EXHAUSTED):
            if health.until is not None and now >= health.until:
                self._set(name, State.OK, "")
                return True, ""
            return False, health.reason
        if health.state is State.DOWN:
            if health.until is not None and now >= health.until and not health.probing:
                health.probing = True  # half-open: exactly one real request probes recovery
                return True, "half-open probe"
            return False, health.reason
        return True, ""

    def _set(self, name: str, state: State, reason: str, until: float | None = None) -> None:
        health = self.health[name]
        changed = (health.state, health.reason, health.until) != (state, reason, until)
        health.state, health.reason, health.until = state, reason, until
        if changed:
            log.info("provider %s → %s %s", name, state.value, reason)
            self._emit(name)

    def _on_success(self, name: str, completion: Completion) -> None:
        health = self.health[name]
        health.requests += 1
        health.headers = completion.headers if not completion.headers.empty else health.headers
        health.failures = 0
        health.probing = False
        health.cooldown = self.policy.breaker_cooldown
        now = self.clock()
        h = completion.headers
        if h.remaining_requests == 0 and h.reset_requests_s:
            self._set(name, State.COOLING, "request budget used up (x-ratelimit-remaining-requests: 0)",
                      now + h.reset_requests_s)
        elif h.remaining_tokens == 0 and h.reset_tokens_s:
            self._set(name, State.COOLING, "token budget used up (x-ratelimit-remaining-tokens: 0)",
                      now + h.reset_tokens_s)
        elif self.health[name].state is not State.OK:
            self._set(name, State.OK, "")

    def _on_error(self, name: str, error: ProviderError) -> None:
        health = self.health[name]
        health.requests += 1
        health.errors[error.error_class.value] += 1
        if not error.headers.empty:
            health.headers = error.headers
        now = self.clock()
        cls = error.error_class
        health.probing = False
        if cls is ErrorClass.RATE_LIMITED:
            wait = error.retry_after_s if error.retry_after_s is not None else self.policy.default_retry_after
            self._set(name, State.COOLING, error.reason, now + max(wait, 0.05))
        elif cls is ErrorClass.QUOTA_EXHAUSTED:
            wait = error.retry_after_s if error.retry_after_s is not None else 86400 - (now % 86400)
            self._set(name, State.EXHAUSTED, error.reason, now + max(wait, 1.0))
        elif cls is ErrorClass.AUTH:
            self._set(name, State.AUTH_ERROR, error.reason)
        elif cls is ErrorClass.MODEL_NOT_FOUND:
            self._set(name, State.MODEL_MISSING, error.reason)
        elif cls in _BREAKER_CLASSES:
            # a transient error: pause the provider briefly (capped exponential backoff with jitter), then
            # one half-open probe; the request meanwhile goes to the next provider. The provider's own
            # Retry-After wins when it gave one. Never an hour: the old path waited 3600 s for a network error.
            health.failures += 1
            cap = min(self.policy.backoff_max, self.policy.breaker_cooldown_max)
            if error.retry_after_s is not None:
                wait, why = error.retry_after_s, "the provider asked"
            elif health.failures >= self.policy.breaker_threshold:  # the breaker opens: cooldown, doubling
                opened = health.failures - self.policy.breaker_threshold
                health.cooldown = min(self.policy.breaker_cooldown * 2 ** opened, cap)
                wait, why = health.cooldown, "breaker open"
            else:  # 1, 2 … s, each with jitter, before the breaker opens
                base = min(cap, self.policy.backoff_initial * 2 ** (health.failures - 1))
                wait, why = base * self._draw.uniform(0.5, 1.0), "backing off"
            self._set(name, State.DOWN, f"{error.reason} ({why}, retry in {wait:.1f} s)", now + wait)
        elif health.state is State.UNKNOWN:  # it answered (refusing this request): it is reachable
            self._set(name, State.OK, "")
        else:  # request-only classes leave the provider usable
            self._emit(name)

    # ── generation ─────────────────────────────────────────────────────────────────────────────
    def order(self) -> list[str]:
        """The chain in the order this request tries it: with the day's shares set, a provider drawn by its
        share of the remaining daily capacity comes first, the rest keep their chain order; a provider
        whose share is 0 (its day spent) comes last."""
        weighted = [(name, self.shares.get(name, 0.0)) for name in self.chain]
        if not self.shares or sum(w for _, w in weighted) <= 0:
            return list(self.chain)
        names, weights = zip(*weighted, strict=True)
        first = self._draw.choices(names, weights=weights)[0]
        rest = [n for n, w in weighted if n != first and w > 0] + [n for n, w in weighted if n != first and w <= 0]
        return [first, *rest]

    async def complete(self, request: ChatRequest) -> Completion:
        """Try each usable provider once, in :meth:`order`; raise :class:`NoProviderAvailable`."""
        reasons: list[str] = []
        retry_at: list[float] = []
        rejected = False
        for name in self.order():
            usable, why = self._usable(name, self.clock())
            if not usable:
                reasons.append(f"{name}: {self.health[name].state.value} ({why})")
                if self.health[name].until is not None:
                    retry_at.append(self.health[name].until)  # type: ignore[arg-type]
                continue
            provider = self.providers[name]
            estimate = request.prompt_tokens_estimate() + request.max_tokens
            reservation, wait = await reserve_within(self.budget, name, estimate, self.policy.max_budget_wait,
                                                  self.real_seconds)
            if reservation is None:
                self.health[name].probing = False
                reasons.append(f"{name}: own budget full for {wait:.1f} s")
                retry_at.append(self.clock() + wait)
                continue
            try:
                completion = await provider.complete(request)
            except ProviderError as error:
                await self.budget.release(reservation)
                self.ledger.record(name, provider.model, error=True)
                self._on_error(name, error)
                reasons.append(f"{name}: {error.error_class.value} — {error.reason}")
                if self.health[name].until is not None:
                    retry_at.append(self.health[name].until)  # type: ignore[arg-type]
                rejected |= error.error_class in _REQUEST_ONLY
                continue
            await self.budget.settle(reservation, completion.total_tokens)
            self.ledger.record(name, completion.model, prompt=completion.prompt_tokens,
                               completion=completion.completion_tokens, cached=completion.cached_tokens)
            self._on_success(name, completion)
            return completion
        if rejected and not retry_at:
            raise RequestRejected("; ".join(reasons))
        raise NoProviderAvailable("; ".join(reasons) or "no provider configured",
                                  min(retry_at) if retry_at else None)

    async def generate(self, request: ChatRequest, *, max_pause: float | None = None) -> Completion:
        """Like :meth:`complete`, but pause (without spinning) until a provider recovers.

        Raises :class:`NoProviderAvailable` only when ``max_pause`` seconds pass without one, and
        :class:`RequestRejected` when the request itself was refused (retrying it would not help).
        """
        started = self.clock()
        while True:
            try:
                completion = await self.complete(request)
            except NoProviderAvailable as exc:
                now = self.clock()
                if max_pause is not None and now - started >= max_pause:
                    raise
                self.paused_reason, self.paused_until = exc.reason, exc.retry_at
                # no provider said when: look again soon (a switch or a recovery also wakes the wait)
                delay = (exc.retry_at - now) if exc.retry_at is not None else self.policy.default_retry_after
                if max_pause is not None:
                    delay = min(delay, max_pause - (now - started))
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=max(0.05, self.real_seconds(delay)))
                except asyncio.TimeoutError:
                    pass
                continue
            if self.paused_reason:
                self.paused_reason, self.paused_until = "", None
            return completion

    # ── views ──────────────────────────────────────────────────────────────────────────────────
    def status(self, name: str) -> ProviderStatus:
        """The current view of one provider."""
        provider, health = self.providers[name], self.health[name]
        limits = self.limits.get(name, Limits())
        breaker = "closed"
        if health.state is State.DOWN:
            breaker = "half-open" if health.probing or (health.until or 0) <= self.clock() else "open"
        today = self.ledger.today(name)
        eta = self.ledger.projected_exhaustion(name, int(limits.tpd))
        return ProviderStatus(
            name=name, model=provider.model, label=provider.label, is_llm=provider.is_llm,
            active=name == self.active, in_chain=name in self.chain, state=health.state.value,
            reason=health.reason, until=health.until, breaker=breaker, headers=health.headers,
            requests=health.requests, errors=dict(health.errors), limits=limits,
            requests_today=today.requests, tokens_today=today.tokens,
            projected_exhaustion=eta.timestamp() if eta else None)

    def statuses(self) -> list[ProviderStatus]:
        """Every provider, chain order first."""
        order = self.chain + [n for n in self.providers if n not in self.chain]
        return [self.status(name) for name in order]

    def _emit(self, name: str) -> None:
        if self.on_change is not None:
            self.on_change(self.status(name))

    async def aclose(self) -> None:
        """Close every provider's client."""
        for provider in self.providers.values():
            await provider.aclose()
