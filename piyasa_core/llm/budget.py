"""Proactive request/token budgets per provider, shared by all workers.

Per-minute budgets (rpm, tpm) are sliding 60-second logs — "at most N in any 60 s", which is what
a provider's per-minute limit means — and daily budgets (rpd, tpd) are UTC-day counters. A request
reserves one request and its estimated tokens in every budget at once (all or nothing); when any
budget is full the caller learns how long to wait instead of sending. After the answer the token
reservation is settled to the real usage, or released if the provider rejected the request.

A settled request counts from the moment of its answer, not of its reservation: the provider
counted it when the request arrived, which can be well after the reservation (a worker's first
request imports the SDK; on two busy cores that took over a second), and a window started at the
reservation ran out before the provider's did — the next burst was answered 429 (16–25 % of the
requests with 4 workers). The answer is always later than the provider's count, so the window is
never shorter than the provider's.

With Redis the logs live in Redis and one Lua script checks and reserves atomically, using the
server's clock, so every worker process shares one budget. Without Redis each of N workers gets
an even 1/N static share of the per-minute budgets in process; the day's quota is shared through
the database instead (``LocalBudget.rebase_daily``): a static quarter of it starved the one worker whose
bot talks all day while the others' quarters went unused. We wrote this (~150 lines) instead of using a rate-limit
library because we need all-or-nothing reservation across four windows, the exact wait, and
settling a reservation to the real token count afterwards — none of the maintained libraries
offer the last two.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from piyasa_core.config.schema import ProviderConfig

MINUTE = 60.0


@dataclass(frozen=True)
class Limits:
    """Budgets of one provider (0 = no budget of ours)."""

    rpm: float = 0
    tpm: float = 0
    rpd: float = 0
    tpd: float = 0

    @classmethod
    def from_config(cls, config: ProviderConfig, share: float = 1.0) -> Limits:
        return cls(config.rpm * share, config.tpm * share, config.rpd * share, config.tpd * share)

    @property
    def any(self) -> bool:
        return any((self.rpm, self.tpm, self.rpd, self.tpd))


@dataclass(frozen=True)
class Reservation:
    """What one request holds in the budget until settled."""

    provider: str
    token_id: str
    tokens: int
    day: str


def _utc_day(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d")


def _seconds_to_midnight(epoch: float) -> float:
    return 86400.0 - (epoch % 86400.0)


class LocalBudget:
    """In-process budgets (a worker's static share when Redis is not configured)."""

    def __init__(self, limits: dict[str, Limits], margin_s: float = 0.5,
                 full: dict[str, Limits] | None = None, workers: int = 1) -> None:
        self.limits = limits
        self.full = full or limits  # the providers' own limits (``limits`` may be this worker's share)
        self.workers = max(1, workers)
        self._allowance: dict[tuple[str, str], tuple[float, float]] = {}  # (provider, day) → (requests, tokens)
        self.window = MINUTE + margin_s
        self.clock: Callable[[], float] = time.time  # a time-scaled run sets its simulated clock
        self._requests: dict[str, list[float]] = {}
        self._tokens: dict[str, dict[str, tuple[float, int]]] = {}
        self._daily: dict[tuple[str, str], list[int]] = {}
        self._ids = itertools.count()

    def _prune(self, provider: str, now: float) -> None:
        cutoff = now - self.window
        requests = self._requests.setdefault(provider, [])
        while requests and requests[0] <= cutoff:
            requests.pop(0)
        tokens = self._tokens.setdefault(provider, {})
        for key in [k for k, (ts, _) in tokens.items() if ts <= cutoff]:
            del tokens[key]

    def try_reserve(self, provider: str, tokens: int, now: float | None = None) -> tuple[Reservation | None, float]:
        """Reserve now, or return (None, seconds to wait)."""
        now = self.clock() if now is None else now
        limits = self.limits.get(provider, Limits())
        day = _utc_day(now)
        if not limits.any:  # no budget of ours: nothing to count against
            return Reservation(provider, "", tokens, day), 0.0
        self._prune(provider, now)
        wait = 0.0
        requests = self._requests[provider]
        if limits.rpm and len(requests) + 1 > limits.rpm:
            excess = len(requests) + 1 - int(limits.rpm)
            wait = max(wait, requests[excess - 1] + self.window - now)
        token_log = sorted(self._tokens[provider].values())
        used = sum(cost for _, cost in token_log)
        if limits.tpm and used + tokens > limits.tpm:
            if tokens > limits.tpm:
                wait = max(wait, self.window)
            else:
                freed = 0
                for ts, cost in token_log:
                    freed += cost
                    if used - freed + tokens <= limits.tpm:
                        wait = max(wait, ts + self.window - now)
                        break
        daily = self._daily.setdefault((provider, day), [0, 0])
        rpd, tpd = self._allowance.get((provider, day), (limits.rpd, limits.tpd))
        if (limits.rpd and daily[0] + 1 > rpd) or (limits.tpd and daily[1] + tokens > tpd):  # an allowance may be 0
            wait = max(wait, _seconds_to_midnight(now))
        if wait > 0:
            return None, wait
        token_id = str(next(self._ids))
        requests.append(now)
        self._tokens[provider][token_id] = (now, tokens)
        daily[0] += 1
        daily[1] += tokens
        return Reservation(provider, token_id, tokens, day), 0.0

    async def reserve(self, provider: str, tokens: int) -> tuple[Reservation | None, float]:
        return self.try_reserve(provider, tokens)

    def preload_daily(self, provider: str, requests: int, tokens: int, now: float | None = None) -> None:
        """Start today's counters from stored usage (a restart must not reset the daily budget)."""
        daily = self._daily.setdefault((provider, _utc_day(self.clock() if now is None else now)), [0, 0])
        daily[0], daily[1] = max(daily[0], requests), max(daily[1], tokens)

    def rebase_daily(self, provider: str, used_requests: int, used_tokens: int, *, worker: int = 0, turn: int = 0,
                     request_tokens: float = 0.0) -> None:
        """Share the day's quota through the database: ``used_*`` is what every worker used today (the
        stored usage, this worker's flushed first). This worker may use, on top of its own count, a
        1/N share of what the provider has left; called at every plan (each simulated minute), so
        what a quiet worker leaves is shared again and a busy one is never held to a fixed quarter.
        What is too little to share (under one request, or under ``request_tokens`` tokens a worker)
        goes whole to one worker, a different one at each ``turn``: the last request of the day is
        neither stranded in four quarters nor sent four times. Other workers' use within a minute is
        not seen until the next plan: shares of the rest, not the rest, keep the sum within the quota."""
        full = self.full.get(provider)
        if full is None or not (full.rpd or full.tpd):
            return
        day = _utc_day(self.clock())
        own = self._daily.setdefault((provider, day), [0, 0])
        mine = (turn + worker) % self.workers == 0

        def share(limit: float, used: int, unit: float) -> float:
            left = max(0.0, limit - used)
            return left / self.workers if left / self.workers >= unit else (left if mine else 0.0)

        self._allowance = {key: value for key, value in self._allowance.items() if key[1] == day}
        self._allowance[(provider, day)] = (own[0] + share(full.rpd, used_requests, 1.0) if full.rpd else 0.0,
                                            own[1] + share(full.tpd, used_tokens, max(1.0, request_tokens))
                                            if full.tpd else 0.0)

    async def settle(self, reservation: Reservation, actual_tokens: int, now: float | None = None) -> None:
        """Replace the estimate by the real token count, counted from now (see the module's notes)."""
        if not reservation.token_id:
            return
        now = self.clock() if now is None else now
        entry = self._tokens.get(reservation.provider, {}).get(reservation.token_id)
        if entry is not None:
            self._tokens[reservation.provider][reservation.token_id] = (now, actual_tokens)
            requests = self._requests.get(reservation.provider, [])
            if entry[0] in requests:
                requests.remove(entry[0])
                bisect.insort(requests, now)
        daily = self._daily.get((reservation.provider, reservation.day))
        if daily is not None:
            daily[1] += actual_tokens - reservation.tokens

    async def release(self, reservation: Reservation) -> None:
        """Give a reservation back (the provider did not take the request)."""
        if not reservation.token_id:
            return
        tokens = self._tokens.get(reservation.provider, {})
        entry = tokens.pop(reservation.token_id, None)
        requests = self._requests.get(reservation.provider, [])
        if entry is not None and entry[0] in requests:
            requests.remove(entry[0])
        daily = self._daily.get((reservation.provider, reservation.day))
        if daily is not None:
            daily[0] -= 1
            daily[1] -= reservation.tokens


# KEYS: 1 request log (zset), 2 token log (zset member "id:cost"), 3 day counters (hash)
# ARGV: 1 rpm 2 tpm 3 rpd 4 tpd 5 cost 6 id 7 window 8 seconds to midnight override (-1 = compute)
_RESERVE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local rpm, tpm, rpd, tpd = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local cost, id, window = tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local cutoff = now - window
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', cutoff)
local wait = 0
if rpm > 0 then
  local n = redis.call('ZCARD', KEYS[1])
  if n + 1 > rpm then
    local excess = n + 1 - math.floor(rpm)
    local e = redis.call('ZRANGE', KEYS[1], excess - 1, excess - 1, 'WITHSCORES')
    wait = math.max(wait, tonumber(e[2]) + window - now)
  end
end
if tpm > 0 then
  local entries = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  local used = 0
  for i = 1, #entries, 2 do
    used = used + tonumber(string.match(entries[i], ':(%d+)$'))
  end
  if used + cost > tpm then
    if cost > tpm then
      wait = math.max(wait, window)
    else
      local freed = 0
      for i = 1, #entries, 2 do
        freed = freed + tonumber(string.match(entries[i], ':(%d+)$'))
        if used - freed + cost <= tpm then
          wait = math.max(wait, tonumber(entries[i + 1]) + window - now)
          break
        end
      end
    end
  end
end
local day_req = tonumber(redis.call('HGET', KEYS[3], 'requests') or '0')
local day_tok = tonumber(redis.call('HGET', KEYS[3], 'tokens') or '0')
if (rpd > 0 and day_req + 1 > rpd) or (tpd > 0 and day_tok + cost > tpd) then
  wait = math.max(wait, 86400 - (now % 86400))
end
if wait > 0 then
  return {0, tostring(wait)}
end
redis.call('ZADD', KEYS[1], now, id)
redis.call('ZADD', KEYS[2], now, id .. ':' .. cost)
redis.call('HINCRBY', KEYS[3], 'requests', 1)
redis.call('HINCRBY', KEYS[3], 'tokens', cost)
redis.call('EXPIRE', KEYS[1], math.ceil(window) + 5)
redis.call('EXPIRE', KEYS[2], math.ceil(window) + 5)
redis.call('EXPIRE', KEYS[3], 172800)
return {1, tostring(now)}
"""

# KEYS: 1 request log, 2 token log, 3 day counters; ARGV: 1 id 2 old cost 3 new cost (-1 = release) 4 window
_SETTLE_LUA = """
local id, old, new = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local score = redis.call('ZSCORE', KEYS[2], id .. ':' .. old)
redis.call('ZREM', KEYS[2], id .. ':' .. old)
if new < 0 then
  redis.call('ZREM', KEYS[1], id)
  redis.call('HINCRBY', KEYS[3], 'requests', -1)
  redis.call('HINCRBY', KEYS[3], 'tokens', -old)
  return 1
end
if score then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
  redis.call('ZADD', KEYS[2], now, id .. ':' .. new)
  if redis.call('ZSCORE', KEYS[1], id) then
    redis.call('ZADD', KEYS[1], now, id)
  end
  redis.call('EXPIRE', KEYS[1], math.ceil(tonumber(ARGV[4])) + 5)
  redis.call('EXPIRE', KEYS[2], math.ceil(tonumber(ARGV[4])) + 5)
end
redis.call('HINCRBY', KEYS[3], 'tokens', new - old)
return 1
"""


class RedisBudget:
    """Budgets shared by every worker through Redis (atomic Lua, server clock)."""

    def __init__(self, client: Any, limits: dict[str, Limits], prefix: str = "piyasa",
                 margin_s: float = 0.5) -> None:
        self.client = client
        self.limits = limits
        self.prefix = prefix
        self.window = MINUTE + margin_s
        self._reserve = client.register_script(_RESERVE_LUA)
        self._settle = client.register_script(_SETTLE_LUA)

    def _keys(self, provider: str, day: str) -> list[str]:
        base = f"{self.prefix}:budget:{provider}"
        return [f"{base}:req", f"{base}:tok", f"{base}:day:{day}"]

    async def reserve(self, provider: str, tokens: int) -> tuple[Reservation | None, float]:
        limits = self.limits.get(provider, Limits())
        day = _utc_day(time.time())
        if not limits.any:  # no budget of ours: no Redis round trip
            return Reservation(provider, "", int(tokens), day), 0.0
        token_id = uuid.uuid4().hex[:12]
        ok, value = await self._reserve(keys=self._keys(provider, day),
                                        args=[limits.rpm, limits.tpm, limits.rpd, limits.tpd, int(tokens),
                                              token_id, self.window])
        if int(ok) == 1:
            return Reservation(provider, token_id, int(tokens), day), 0.0
        return None, float(value)

    async def settle(self, reservation: Reservation, actual_tokens: int) -> None:
        if not reservation.token_id:
            return
        await self._settle(keys=self._keys(reservation.provider, reservation.day),
                           args=[reservation.token_id, reservation.tokens, int(actual_tokens), self.window])

    async def release(self, reservation: Reservation) -> None:
        if not reservation.token_id:
            return
        await self._settle(keys=self._keys(reservation.provider, reservation.day),
                           args=[reservation.token_id, reservation.tokens, -1, self.window])


Budget = LocalBudget | RedisBudget


def make_budget(providers: dict[str, ProviderConfig], *, workers: int, redis_client: Any | None,
                prefix: str = "piyasa", margin_s: float = 0.5) -> Budget:
    """Redis-shared budgets when a client is given, else this worker's 1/N static share (the day's
    quota: until the first ``rebase_daily``)."""
    if redis_client is not None:
        return RedisBudget(redis_client, {n: Limits.from_config(c) for n, c in providers.items()},
                           prefix, margin_s)
    share = 1.0 / max(1, workers)
    return LocalBudget({n: Limits.from_config(c, share) for n, c in providers.items()}, margin_s,
                       full={n: Limits.from_config(c) for n, c in providers.items()}, workers=workers)


async def reserve_within(budget: Budget, provider: str, tokens: int, max_wait: float,
                         real_seconds: Callable[[float], float] = float) -> tuple[Reservation | None, float]:
    """Reserve, sleeping while the wait is at most ``max_wait`` seconds in total (``real_seconds``: the
    budget clock's seconds in real ones, for a time-scaled run)."""
    waited = 0.0
    while True:
        reservation, wait = await budget.reserve(provider, tokens)
        if reservation is not None:
            return reservation, 0.0
        if not math.isfinite(wait) or waited + wait > max_wait:
            return None, wait
        step = min(wait + 0.01, max_wait - waited + 0.01)
        await asyncio.sleep(real_seconds(step))
        waited += step
