"""Budgets: sliding minute windows, daily counters, settle/release; one shared budget in Redis."""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.synchronize
import time
import uuid

import pytest
import redis
import redis.asyncio as aioredis

from piyasa_core.config.schema import ProviderConfig
from piyasa_core.llm.budget import Limits, LocalBudget, RedisBudget, make_budget, reserve_within
from piyasa_core.llm.headers import parse_reset, parse_retry_after, read_rate_limit_headers, wait_from_message


def test_header_and_wait_parsing() -> None:
    assert parse_reset("2m59.56s") == pytest.approx(179.56)
    assert parse_reset("7.66s") == pytest.approx(7.66)
    assert parse_reset("1h2m") == 3720
    assert parse_reset("450ms") == pytest.approx(0.45)
    assert parse_reset("soon") is None
    assert parse_retry_after("3") == 3
    assert wait_from_message("on tokens per day (TPD): Limit 100000, Used 99300, Requested 1200. "
                             "Please try again in 7m12.5s. Need more tokens?") == pytest.approx(432.5)
    headers = read_rate_limit_headers({"X-RateLimit-Limit-Requests": "30", "x-ratelimit-remaining-requests": "0",
                                       "x-ratelimit-reset-requests": "1m3s", "x-ratelimit-limit-tokens": "6000",
                                       "x-ratelimit-remaining-tokens": "5800", "x-ratelimit-reset-tokens": "2s",
                                       "retry-after": "4"})
    assert (headers.limit_requests, headers.remaining_requests, headers.reset_requests_s) == (30, 0, 63)
    assert (headers.limit_tokens, headers.remaining_tokens, headers.reset_tokens_s) == (6000, 5800, 2)
    assert headers.retry_after_s == 4


def test_local_sliding_window_requests_and_tokens() -> None:
    budget = LocalBudget({"p": Limits(rpm=3, tpm=1000)}, margin_s=0)
    t0 = 1000.0
    for i in range(3):
        reservation, wait = budget.try_reserve("p", 100, now=t0 + i)
        assert reservation is not None and wait == 0
    reservation, wait = budget.try_reserve("p", 100, now=t0 + 5)
    assert reservation is None and wait == pytest.approx(55)  # the first entry leaves at t0+60
    assert budget.try_reserve("p", 100, now=t0 + 60.01)[0] is not None
    # tokens: 900 reserved by a big request blocks until it leaves the window
    tokens = LocalBudget({"p": Limits(tpm=1000)}, margin_s=0)
    big, _ = tokens.try_reserve("p", 900, now=t0)
    assert big is not None
    assert tokens.try_reserve("p", 200, now=t0 + 1) == (None, pytest.approx(59))
    asyncio.run(tokens.settle(big, 100))  # the answer used far fewer tokens than estimated
    assert tokens.try_reserve("p", 200, now=t0 + 1)[0] is not None


def test_a_settled_request_counts_from_its_answer() -> None:
    """The provider counts a request when it arrives, after our reservation: the window must not end first."""
    budget = LocalBudget({"p": Limits(rpm=1, tpm=1000)}, margin_s=0)
    t0 = 1000.0
    slow, _ = budget.try_reserve("p", 900, now=t0)
    assert slow is not None
    asyncio.run(budget.settle(slow, 900, now=t0 + 10))  # answered 10 s later
    assert budget.try_reserve("p", 200, now=t0 + 61) == (None, pytest.approx(9))
    assert budget.try_reserve("p", 200, now=t0 + 70.01)[0] is not None


def test_local_release_and_daily_budget() -> None:
    budget = LocalBudget({"p": Limits(rpm=1, rpd=2)}, margin_s=0)
    first, _ = budget.try_reserve("p", 10, now=0.0)
    assert first is not None and budget.try_reserve("p", 10, now=1.0)[0] is None
    asyncio.run(budget.release(first))  # a 429 answer: the provider did not count it
    second, _ = budget.try_reserve("p", 10, now=1.0)
    assert second is not None
    assert budget.try_reserve("p", 10, now=100.0)[0] is not None  # 2nd of the day
    reservation, wait = budget.try_reserve("p", 10, now=200.0)
    assert reservation is None and wait == pytest.approx(86400 - 200)


def test_static_split_without_redis() -> None:
    budget = make_budget({"groq": ProviderConfig(rpm=30, tpm=6000)}, workers=4, redis_client=None)
    assert isinstance(budget, LocalBudget)
    assert budget.limits["groq"] == Limits(rpm=7.5, tpm=1500)


ATTEMPTS = 15  # per process: 60 in all, three times the budget of 20


def _hammer(url: str, prefix: str, ready: "multiprocessing.synchronize.Barrier",
            results: "multiprocessing.Queue[int]") -> None:
    async def run() -> int:
        client = aioredis.Redis.from_url(url)
        budget = RedisBudget(client, {"fake": Limits(rpm=20, tpm=100_000)}, prefix=prefix)
        await client.ping()  # connected …
        ready.wait(60)  # … and all four start together, however long each took to spawn
        admitted = 0
        for _ in range(ATTEMPTS):
            reservation, _ = await budget.reserve("fake", 50)
            admitted += reservation is not None
        await client.aclose()
        return admitted

    results.put(asyncio.run(run()))


def test_redis_budget_is_shared_by_four_processes(redis_url: str) -> None:
    prefix = f"piyasa-test-{uuid.uuid4().hex[:8]}"
    ctx = multiprocessing.get_context("spawn")
    results: multiprocessing.Queue[int] = ctx.Queue()
    ready = ctx.Barrier(4)
    procs = [ctx.Process(target=_hammer, args=(redis_url, prefix, ready, results)) for _ in range(4)]
    for proc in procs:
        proc.start()
    counts = [results.get(timeout=90) for _ in procs]
    for proc in procs:
        proc.join(timeout=10)
    # exactly the shared per-minute budget, never more (the 60 attempts end well within the minute)
    assert sum(counts) == 20, counts
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)
    client.close()


async def test_redis_settle_and_release(redis_url: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    prefix = f"piyasa-test-{uuid.uuid4().hex[:8]}"
    budget = RedisBudget(client, {"p": Limits(rpm=2, tpm=1000)}, prefix=prefix)
    requests_log = f"{prefix}:budget:p:req"
    try:
        # the Lua script reads Redis's clock: the waits are bracketed by the time measured around the calls
        began = time.monotonic()
        a, _ = await budget.reserve("p", 900)
        assert a is not None
        reserved_at = await client.zscore(requests_log, a.token_id)
        none, wait = await budget.reserve("p", 200)
        assert none is None and 60.5 - (time.monotonic() - began) - 0.01 <= wait <= 60.5  # a's tokens leave
        await asyncio.sleep(1.0)
        settling = time.monotonic()
        await budget.settle(a, 100)
        # both logs now count a from its answer, at least a second after its reservation
        assert await client.zscore(requests_log, a.token_id) >= reserved_at + 1.0
        assert await client.zscore(f"{prefix}:budget:p:tok", f"{a.token_id}:100") >= reserved_at + 1.0
        b, _ = await budget.reserve("p", 200)
        none, wait = await budget.reserve("p", 10)  # 2 per minute: waits for a's answer to leave the window
        assert none is None and 60.5 - (time.monotonic() - settling) - 0.01 <= wait <= 60.5
        assert b is not None
        await budget.release(b)
        assert (await budget.reserve("p", 10))[0] is not None
        # reserve_within gives up when the wait exceeds the allowance
        assert (await reserve_within(budget, "p", 10, max_wait=0.1))[0] is None
    finally:
        async for key in client.scan_iter(f"{prefix}:*"):
            await client.delete(key)
        await client.aclose()


def test_without_redis_the_days_quota_is_shared_through_the_stored_usage() -> None:
    """A static quarter of the day's quota held the worker of the bot that talks all day at 25 % while
    the other quarters went unused (the `day` profile: Zeynep silent from 20:20). Each plan re-splits
    what the provider has left: a busy worker gets on, and the sum never passes the quota."""
    budget = make_budget({"p": ProviderConfig(tpd=1000, rpd=100)}, workers=4, redis_client=None)
    assert isinstance(budget, LocalBudget)
    budget.clock = lambda: 1000.0
    for _ in range(2):  # the static share: 250 tokens
        assert budget.try_reserve("p", 100)[0] is not None
    assert budget.try_reserve("p", 100)[0] is None
    # the database says the fleet used 400 (this worker's 200 among them): 600 left, 150 for this worker
    budget.rebase_daily("p", used_requests=4, used_tokens=400)
    assert budget.try_reserve("p", 100)[0] is not None
    assert budget.try_reserve("p", 100)[0] is None  # 200 own + 100 + 100 > 200 + 150
    # the other workers stayed quiet: the next plan shares what is left again
    budget.rebase_daily("p", used_requests=5, used_tokens=500)
    assert budget.try_reserve("p", 100)[0] is not None
    # the whole quota is used: nothing more today, however the shares fell
    budget.rebase_daily("p", used_requests=10, used_tokens=1000)
    reservation, wait = budget.try_reserve("p", 1)
    assert reservation is None and wait == pytest.approx(86400 - 1000)


def test_what_is_too_little_to_share_goes_whole_to_one_worker_in_turn() -> None:
    """The day's last request: a quarter of it is no request at all (it was stranded, and a person's
    question waited for midnight), and the old static shares let four workers send it four times."""
    def fleet() -> list[LocalBudget]:
        out = []
        for _ in range(4):
            budget = make_budget({"p": ProviderConfig(rpd=100)}, workers=4, redis_client=None)
            assert isinstance(budget, LocalBudget)
            budget.clock = lambda: 1000.0
            out.append(budget)
        return out

    for turn in range(4):
        allowed = []
        for worker, budget in enumerate(fleet()):
            budget.rebase_daily("p", used_requests=99, used_tokens=0, worker=worker, turn=turn)
            allowed.append(budget.try_reserve("p", 1)[0] is not None)
        assert allowed.count(True) == 1 and allowed.index(True) == (-turn) % 4  # one worker, another each turn
    # enough to share: every worker gets its part
    for worker, budget in enumerate(fleet()):
        budget.rebase_daily("p", used_requests=80, used_tokens=0, worker=worker, turn=0)
        assert sum(budget.try_reserve("p", 1)[0] is not None for _ in range(6)) == 5
