"""The engine end to end: offline provider, console transport, real SQLite/Redis, simulated time."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from piyasa_core.config import load_config
from piyasa_core.engine import repo
from piyasa_core.engine.events import ChatDisabled, EngineMetrics
from piyasa_core.engine.postprocess import artifacts, postprocess, unknown_upper
from piyasa_core.engine.prompt import hints_for
from piyasa_core.engine.quality_db import quality_for_window
from piyasa_core.engine.types import HistoryLine, MarketSnapshot, Quote, ReplyJob, Turn
from piyasa_core.llm.offline import OfflineProvider
from piyasa_core.llm.offline_rules import ALLOWED_UPPER
from piyasa_core.llm.types import ChatRequest, ReplyTarget
from piyasa_core.store.db import session_scope
from piyasa_core.store.models import Chat, Message
from piyasa_core.telegram.base import SendResult
from tests.engine_support import SIM_START, engines, run_for, sent, setup_store


class LoopWatch:
    """The longest the event loop went without running a 20 ms sleeper: a stalled or loaded host."""

    def __init__(self) -> None:
        self.longest = 0.0

    async def run(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.02)
            now = time.monotonic()
            self.longest = max(self.longest, now - last - 0.02)
            last = now


@dataclass
class Link:
    """One slot of a bot's schedule: its due time, when the engine scheduled it (simulated), the mean
    interval the pace had at the slot before it, and the due times of its tries (the slot itself, then
    the retries soon after a skipped draft or a turn that had to wait, which keep the slot)."""

    due: float
    scheduled_at: float
    mean: float
    tries: list[float] = field(default_factory=list)


def record_schedules(engine: Any) -> dict[int, list[Link]]:
    """Each bot's schedule, slot by slot, as the engine sets it: its first due (the engine must be
    started), every next slot, and the retries of each."""
    from piyasa_core.engine.pacing import HOUR

    chains = {b: [Link(engine._anchor[b], engine.started_at, 0.0, [engine._anchor[b]])] for b in engine.bots}
    original = engine._reschedule

    def reschedule(bot_id: int, when: float) -> None:
        chain = chains[bot_id]
        if engine._anchor[bot_id] == when:  # the bot's next slot (a retry leaves the anchor where it was)
            mean = HOUR / engine.pacers[bot_id].target_per_hour(chain[-1].due)
            chain.append(Link(when, engine.clock.now(), mean, [when]))
        else:
            chain[-1].tries.append(when)
        original(bot_id, when)

    engine._reschedule = reschedule
    return chains


@pytest.mark.parametrize("with_redis", [False, True])
async def test_four_bots_time_scaled_run(workdir: Path, monkeypatch: pytest.MonkeyPatch, with_redis: bool,
                                         request: pytest.FixtureRequest) -> None:
    """Each bot keeps its persona's pace. A host that stalls (at ×120 half a real second is a simulated
    minute) makes turns late, and after more than a delay the engine restarts a bot's schedule from now:
    so the pace is read from the schedule the engine kept, the count is bounded above by the plan over
    the simulated span the engines ran, and the schedule must reach the stop but for what the host held up."""
    from piyasa_core.engine.core import SKIP_RETRIES

    if with_redis:
        monkeypatch.setenv("REDIS_URL", request.getfixturevalue("redis_url"))
        monkeypatch.setenv("PIYASA_CACHE__KEY_PREFIX", f"t{random.getrandbits(32):x}")
    monkeypatch.setenv("PIYASA_ENGINE__TIME_SCALE", "120")
    monkeypatch.setenv("PIYASA_ENGINE__HOURLY_MIN", "50")  # the benchmark's seed pace: enough messages to judge
    monkeypatch.setenv("PIYASA_ENGINE__HOURLY_MAX", "100")
    config, store = setup_store()
    jitter = config.settings.engine.delay_jitter
    events: list[Any] = []
    items = engines(config, store, 120, events)
    await asyncio.gather(*(e.start() for e in items))
    chains = {bot: chain for e in items for bot, chain in record_schedules(e).items()}
    watch = LoopWatch()
    watching = asyncio.create_task(watch.run())
    stop = asyncio.Event()
    tasks = [asyncio.create_task(e.run(stop)) for e in items]
    await asyncio.sleep(5.0)  # 10 simulated minutes
    stopped_at = {e.worker_id: e.clock.now() for e in items}
    stop.set()
    await asyncio.gather(*tasks)
    watching.cancel()
    messages = sent(events)
    per_bot = Counter(m.bot_name for m in messages)
    assert set(per_bot) == {"Mehmet Yatırımcı", "Ayşe Scalper", "Ali Hoca", "Zeynep Yeni"}, per_bot
    planned = {p.bot.name: p.planned_messages(SIM_START, SIM_START + 600) for e in items for p in e.pacers.values()}
    lines = []
    for e in items:
        stop_at = stopped_at[e.worker_id]
        for bot_id, pacer in e.pacers.items():
            name, chain = pacer.bot.name, chains[bot_id]
            delivered = sorted(m.sent_at - m.end_to_end_s for m in messages if m.bot_id == bot_id)  # their slots
            # at most the plan over the span the engine ran, with every delay at its shortest: a stall only
            # takes messages away
            span_plan = pacer.planned_messages(e.started_at, stop_at)
            assert len(delivered) <= span_plan / (1 - jitter) + 2, (name, len(delivered), span_plan)
            restarts = 0
            for before, link in zip(chain, chain[1:]):
                gap = link.due - before.due
                if gap <= link.mean * (1 + jitter) + 1e-6:  # the next slot one delay on: the persona's pace
                    assert gap >= link.mean * (1 - jitter) - 1e-6, (name, before, link)
                else:  # only a slot run more than a delay late restarts the schedule, from the moment it ran
                    restarts += 1
                    assert link.scheduled_at - before.due >= 2 * link.mean * (1 - jitter) - 1e-6, (name, before, link)
                    assert link.due <= link.scheduled_at + 1e-6, (name, before, link)
            # every slot that came up was delivered, once (a draft skipped 1 + SKIP_RETRIES times gives one up)
            slots = [next(i for i, link in enumerate(chain) if any(abs(d - t) < 1e-3 for t in link.tries))
                     for d in delivered]
            assert len(slots) == len(set(slots)) and max(slots) < len(chain) - 1, (name, delivered, chain)
            assert len(chain) - 1 - len(slots) <= e.counts["retried_after_skip"] // SKIP_RETRIES, (name, slots, chain)
            # the schedule reached the stop, but for how far the host held the engine up: the longest stall of
            # the loop, and the latest a slot ran and was through
            held_up = watch.longest * e.clock.scale + max(link.scheduled_at - before.due
                                                          for before, link in zip(chain, chain[1:]))
            assert chain[-1].due >= stop_at - held_up - chain[-1].mean * (1 + jitter) - 1e-6, (name, chain, held_up)
            lines.append(f"{name}: {len(delivered)} of {span_plan:.1f} planned over "
                         f"{stop_at - e.started_at:.0f} s, {restarts} restart(s)")
    print(f"\nlongest loop stall {watch.longest:.3f} s; " + "; ".join(lines))
    assert planned["Ayşe Scalper"] > planned["Mehmet Yatırımcı"] > planned["Ali Hoca"]
    assert {m.worker_id for m in messages} == {0, 1, 2, 3}
    assert {m.provider for m in messages} <= {"offline", "local"}  # local: reactions, composed without an LLM
    with session_scope(store.sessions) as session:
        stored = session.scalar(select(func.count()).select_from(Message).where(Message.status == "sent"))
        assert stored == len(messages)
        report = quality_for_window(session, SIM_START, SIM_START + 3600)
    print(f"\n{len(messages)} messages, per bot {dict(per_bot)}, quality {report.to_dict()}")
    assert report.bot_to_bot_reply_rate >= 0.4
    assert report.distinct_3gram_ratio >= 0.6
    assert report.artifact_count == 0 and report.duplicates == 0
    assert len(report.topic_spread) >= 3  # the outbox row keeps its metadata (topic, mode, due time)
    assert report.distinct_system_prompts == 4
    metrics = [e for e in events if isinstance(e, EngineMetrics)]
    assert metrics and {m.worker_id for m in metrics} == {0, 1, 2, 3}
    if with_redis:
        assert sum(m.cache["l2_hits"] + m.cache["l2_misses"] for m in metrics[-4:]) > 0
    store.dispose()


async def test_human_mention_is_answered_first_by_the_owner(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config, store = setup_store()
    events: list[Any] = []
    items = engines(config, store, 60, events)
    ali = next(e for e in items if 3 in e.bots or not e.bots) if False else items[3]
    await asyncio.gather(*(e.start() for e in items))
    assert 3 in ali.bots  # Ali Hoca has id 3 → worker 3
    with session_scope(store.sessions) as session:
        chat_id = session.scalar(select(Chat.id))
        human_id = repo.store_human_message(session, chat_id=chat_id, text="@ali_ekonomist enflasyon ne olur?",
                                            human_name="Deniz", username="deniz_k", created_at=ali.clock.now())
    await ali.cache.bump(f"history:{chat_id}")
    ali.submit_reply_job(ReplyJob(bot_id=3, chat_id=chat_id, message_id=human_id))
    await run_for(items, 1.5)
    ali_msgs = [m for m in sent(events) if m.bot_id == 3]
    assert ali_msgs and ali_msgs[0].reply_to_id == human_id and ali_msgs[0].mode == "human_reply"
    assert "@deniz_k" not in ali_msgs[0].text  # the reply threads to the question: no @mention on top
    with session_scope(store.sessions) as session:
        assert session.get(Message, ali_msgs[0].message_id).reply_to_id == human_id
    store.dispose()


async def test_a_persons_question_is_answered_although_the_first_drafts_are_skipped(workdir: Path) -> None:
    """A reply job whose first two drafts are skipped (duplicates of what was said) is answered by the
    third, a fresh draft each time; the person is not left without an answer."""
    from piyasa_core.engine.core import SKIP_RETRIES

    config, store = setup_store()
    events: list[Any] = []
    ali = engines(config, store, 60, events)[3]
    await ali.start()
    with session_scope(store.sessions) as session:
        chat_id = session.scalar(select(Chat.id))
        human_id = repo.store_human_message(session, chat_id=chat_id, text="@ali_ekonomist enflasyon ne olur?",
                                            human_name="Deniz", username="deniz_k", created_at=ali.clock.now())
    drafts: list[str] = []
    original = ali.pipeline.run

    async def run(bot: Any, chat: Any, turn: Any, *args: Any) -> Any:
        if turn.mode != "human_reply":
            return None  # nothing else is said, so only the job's drafts count
        drafts.append(turn.reply_to.text)
        return None if len(drafts) <= SKIP_RETRIES else await original(bot, chat, turn, *args)

    ali.pipeline.run = run  # type: ignore[method-assign]
    await ali.cache.bump(f"history:{chat_id}")
    ali.submit_reply_job(ReplyJob(bot_id=3, chat_id=chat_id, message_id=human_id))
    await run_for([ali], 1.5)
    answers = [m for m in sent(events) if m.reply_to_id == human_id]
    assert len(drafts) == 1 + SKIP_RETRIES and len(answers) == 1
    store.dispose()


async def test_a_bot_a_person_waits_for_posts_nothing_else_and_answers_once(workdir: Path) -> None:
    """While a person's question waits for a bot's answer (its reply job), the bot's scheduled turns post
    nothing under it (a new topic right under an unanswered question read as ignoring it, seen in a
    benchmark at 08:44); a job whose question the bot has answered already is not answered twice."""
    config, store = setup_store()
    events: list[Any] = []
    ali = engines(config, store, 600, events)[3]  # ×600: Ali's ~4.6-minute interval passes in ~0.5 s
    await ali.start()
    with session_scope(store.sessions) as session:
        chat_id = session.scalar(select(Chat.id))
        human_id = repo.store_human_message(session, chat_id=chat_id, text="Ali Hoca, faiz kararı ne zaman?",
                                            human_name="Deniz", username="deniz_k", created_at=ali.clock.now())
    release = asyncio.Event()
    calls: list[tuple[str, bool]] = []  # (mode, whether the job's draft was still held back)
    original = ali.pipeline.run

    async def run(bot: Any, chat: Any, turn: Any, *args: Any) -> Any:
        calls.append((turn.mode, not release.is_set()))
        if turn.mode == "human_reply":
            await release.wait()  # the answer takes a while to draft
        return await original(bot, chat, turn, *args)

    ali.pipeline.run = run  # type: ignore[method-assign]
    await ali.cache.bump(f"history:{chat_id}")
    job = ReplyJob(bot_id=3, chat_id=chat_id, message_id=human_id)
    ali.submit_reply_job(job)
    stop = asyncio.Event()
    task = asyncio.create_task(ali.run(stop))
    await asyncio.sleep(2.0)  # ~20 simulated minutes: several of Ali's planned slots come due
    assert ali.counts["waited_for_answer"] >= 1
    assert calls == [("human_reply", True)], calls
    release.set()
    for _ in range(100):
        if any(m.reply_to_id == human_id for m in sent(events)):
            break
        await asyncio.sleep(0.05)
    ali.submit_reply_job(job)  # the same question again (a second route, a resend): answered already
    await asyncio.sleep(0.5)
    stop.set()
    await task
    assert [m.mode for m in sent(events) if m.reply_to_id == human_id] == ["human_reply"]
    assert ali.counts["jobs_answered_already"] == 1
    store.dispose()


class RecordingTransport:
    """A stand-in for Telegram: records every delivery; can block or refuse."""

    name = "recording"

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.sent: list[tuple[int, str]] = []
        self.block = asyncio.Event()

    async def send_typing(self, bot: Any, chat: Any) -> None:
        return None

    async def send(self, bot: Any, chat: Any, text: str, *, reply_to_message_id: int | None,
                   outbox_id: int) -> SendResult:
        self.sent.append((outbox_id, text))
        if self.mode == "hang":
            await self.block.wait()  # delivered, but the worker dies before it can record that
        if self.mode == "refuse":
            return SendResult(False, error_class="bad_request", reason="Bad Request: message text is empty")
        if self.mode == "kicked":
            return SendResult(False, error_class="forbidden", reason="Forbidden: bot was kicked from the group",
                              disable_chat=True)
        return SendResult(True, message_id=10_000 + outbox_id)

    async def aclose(self) -> None:
        return None


async def test_crash_between_send_and_commit_never_sends_twice(workdir: Path) -> None:
    config, store = setup_store()
    events: list[Any] = []
    hanging = RecordingTransport("hang")
    first = engines(config, store, 60, events, workers=1, transport_for=lambda w: hanging)[0]
    stop = asyncio.Event()
    task = asyncio.create_task(first.run(stop))
    for _ in range(200):
        await asyncio.sleep(0.05)
        if hanging.sent:
            break
    assert hanging.sent
    task.cancel()  # the worker dies while the transport holds the message
    for inflight in list(first._tasks):
        inflight.cancel()
    await asyncio.gather(task, *first._tasks, return_exceptions=True)
    outbox_id, text = hanging.sent[0]
    with session_scope(store.sessions) as session:
        assert session.get(Message, outbox_id).status == "pending"
    fresh = RecordingTransport("ok")
    restarted = engines(config, store, 60, events, workers=1, transport_for=lambda w: fresh, seed=99)[0]
    await run_for([restarted], 1.0)
    with session_scope(store.sessions) as session:
        row = session.get(Message, outbox_id)
        assert row.status == "failed" and "interrupted" in (row.failure_reason or "")
    assert outbox_id not in [oid for oid, _ in fresh.sent]
    assert restarted.counts["stale_pending_resolved"] >= 1
    store.dispose()


async def test_refused_messages_are_failed_and_a_kicked_bot_disables_the_chat(workdir: Path) -> None:
    config, store = setup_store()
    events: list[Any] = []
    refusing = RecordingTransport("refuse")
    await run_for(engines(config, store, 120, events, workers=1, transport_for=lambda w: refusing), 1.0)
    assert refusing.sent and not sent(events)
    with session_scope(store.sessions) as session:
        statuses = Counter(session.scalars(select(Message.status)))
        assert statuses["failed"] == len(refusing.sent) and statuses["sent"] == 0
        reason = session.scalar(select(Message.failure_reason).limit(1))
        assert reason and reason.startswith("bad_request")
    kicked = RecordingTransport("kicked")
    events.clear()
    await run_for(engines(config, store, 120, events, workers=1, transport_for=lambda w: kicked, seed=5), 1.0)
    assert any(isinstance(e, ChatDisabled) for e in events)
    assert len(kicked.sent) == 1  # the chat is disabled after the first refusal
    with session_scope(store.sessions) as session:
        assert session.scalar(select(Chat.enabled)) is False
    store.dispose()


async def test_thousand_offline_messages_have_no_artifacts(workdir: Path) -> None:
    config = load_config()
    from piyasa_core.engine.prompt import system_prompt
    from piyasa_core.engine.types import BotProfile, Holding, Stance

    bots = [BotProfile(id=i + 1, username=b.username, name=b.name, persona=b.persona, watchlist=tuple(b.watchlist),
                       signature_phrases=tuple(b.signature_phrases), emoji=tuple(b.emoji),
                       stances=tuple(Stance(s.topic, s.view, s.confidence) for s in b.stances),
                       holdings=tuple(Holding(h.symbol, h.avg_price, h.size, h.note) for h in b.holdings))
            for i, b in enumerate(config.settings.bots) if b.enabled]
    provider = OfflineProvider(config.settings.llm.providers["offline"].model_copy(update={"latency_ms": 0,
                                                                                         "latency_jitter_ms": 0}))
    rng = random.Random(4)
    market = MarketSnapshot(0, (Quote("GARAN", 135.4, 1.2), Quote("SISE", 31.0, -0.7), Quote("USDTRY", 42.1, 0.3),
                                Quote("BTCUSDT", 101000, 2.4), Quote("BIST30", 11900, 0.4)))
    problems = []
    kept = 0
    for n in range(1000):
        bot = bots[n % 4]
        mode = ("new", "reply", "reaction", "human_reply")[rng.randrange(4)]
        other = bots[(n + 1) % 4]
        target = HistoryLine(n, 1, f"{rng.choice(other.watchlist)} bugün nasıl?", 0, other.name, other.id,
                             other.username) if mode != "new" else None
        turn = Turn(bot.id, 1, mode, rng.choice(bot.watchlist), reply_to=target,
                    mention=other.username if mode != "new" and rng.random() < 0.4 else None)
        request = ChatRequest(system=system_prompt(bot), user="-", hints=hints_for(bot, turn, market, n),
                              reply_to=ReplyTarget(target.author, target.text, False) if target else None)
        completion = await provider.complete(request)
        result = postprocess(completion.text, bot_name=bot.name, username=bot.username, max_chars=400,
                             rng=rng, casual=0.3)
        if result.rejected:
            continue
        kept += 1
        found = artifacts(result.text) + [f"unknown {w}" for w in unknown_upper(result.text, ALLOWED_UPPER)]
        if found:
            problems.append((result.text, found))
    assert kept >= 990
    assert problems == []


async def test_a_text_said_before_the_history_window_is_still_a_duplicate(workdir: Path) -> None:
    """A short reaction 60 messages back (out of the 50-line history) must not be said again, also by
    a worker that started after it was said."""
    from piyasa_core.engine.dedup import dedup_key

    config, store = setup_store()
    with session_scope(store.sessions) as session:
        chat_id = session.scalar(select(Chat.id).order_by(Chat.id))
        bot_ids = [b.id for b in repo.load_profiles(session)]
    with store.engine.begin() as conn:
        for n, text in enumerate(["Katılıyorum"] + [f"Bugün {n}. kez farklı bir konuya değiniyorum" for n in range(60)]):
            mid = repo.insert_pending(conn, chat_id=chat_id, bot_id=bot_ids[n % len(bot_ids)], text=text,
                                      reply_to_id=None, worker_id=0, provider="offline", model="m", tokens_in=1,
                                      tokens_out=1, tokens_cached=0, generation_seconds=0.0,
                                      created_at=SIM_START - 600 + n, meta={})
            repo.mark_sent(conn, mid, None, SIM_START - 600 + n)
    engine = engines(config, store, 60, [], workers=1)[0]
    await engine.start()
    chat = engine.chats[chat_id]
    history = await engine.history(chat)
    assert len(history) == 50 and "Katılıyorum" not in [line.text for line in history]
    assert dedup_key("Katılıyorum. 📊") in engine.seen_keys(chat_id)
    verdict = engine.pipeline.dedup.check("Katılıyorum. 📊", [line.text for line in history],
                                          engine.seen_keys(chat_id))
    assert verdict.duplicate and verdict.kind == "exact"
    store.dispose()


async def test_a_skipped_draft_is_retried_soon_and_a_stuck_bot_gives_its_slot_up(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A turn whose draft is skipped (a duplicate both times, a rejection) is tried again with a fresh
    turn at most SELF_FOLLOW_UP_RETRY_S (8 s) later, keeping the bot's schedule; a bot whose every draft
    is skipped tries SKIP_RETRIES more times and then waits for its next planned slot. The test reads
    when the engine *schedules* each next try, relative to the try that was skipped: how late a busy
    host dispatches it cannot decide (CI once saw a retry due 8 s later start 31 s later)."""
    from piyasa_core.engine.core import SELF_FOLLOW_UP_RETRY_S, SKIP_RETRIES
    from piyasa_core.engine.pacing import HOUR

    monkeypatch.setenv("PIYASA_ENGINE__HOURLY_MIN", "50")
    monkeypatch.setenv("PIYASA_ENGINE__HOURLY_MAX", "100")
    config, store = setup_store()
    engine = engines(config, store, 60, [], workers=1)[0]
    await engine.start()
    stuck = next(b for b in engine.bots.values() if b.persona == "scalper").id
    # bot → (due of the try, when it ran, when its next try is due)
    tries: dict[int, list[tuple[float, float, float]]] = {}
    pending: dict[int, tuple[float, float]] = {}  # bot → (due, ran at) of the try just through the pipeline
    targets: list[int | None] = []  # the stuck bot's reply targets, try by try
    original_run, original_reschedule = engine.pipeline.run, engine._reschedule

    async def run(bot: Any, chat: Any, turn: Any, *args: Any) -> Any:
        pending[bot.id] = (turn.due_at, engine.clock.now())
        if bot.id == stuck:
            targets.append(turn.reply_to.id if turn.reply_to is not None else None)
        if bot.id == stuck or bot.id not in tries:
            return None  # every draft of the stuck bot, and each other bot's first one, is skipped
        return await original_run(bot, chat, turn, *args)

    def reschedule(bot_id: int, when: float) -> None:
        if bot_id in pending:  # the next try after one that reached the pipeline
            tries.setdefault(bot_id, []).append((*pending.pop(bot_id), when))
        original_reschedule(bot_id, when)

    engine.pipeline.run = run  # type: ignore[method-assign]
    engine._reschedule = reschedule  # type: ignore[method-assign]
    await run_for([engine], 5.0)  # 5 simulated minutes
    assert set(tries) == set(engine.bots), tries
    jitter = config.settings.engine.delay_jitter
    for bot_id, pairs in tries.items():
        mean = HOUR / engine.pacers[bot_id].target_per_hour(pairs[0][0])
        waits = [when - ran for _, ran, when in pairs]
        if bot_id == stuck:  # bursts of 1 + SKIP_RETRIES tries, a slot apart
            assert len(pairs) >= 1 + SKIP_RETRIES, pairs
            assert all(w <= SELF_FOLLOW_UP_RETRY_S for w in waits[:SKIP_RETRIES]), (waits, mean)
            burst_due = pairs[0][0]
            assert pairs[SKIP_RETRIES][2] - burst_due >= mean * (1 - jitter) - 1e-6, (pairs, mean)
        else:
            assert waits[0] <= SELF_FOLLOW_UP_RETRY_S, (engine.bots[bot_id].name, waits, mean)
    assert engine.counts["retried_after_skip"] >= SKIP_RETRIES + len(tries) - 1
    for start in range(0, len(targets), 1 + SKIP_RETRIES):  # a retry never goes back to a skipped target
        burst = [t for t in targets[start:start + 1 + SKIP_RETRIES] if t is not None]
        assert len(burst) == len(set(burst)), targets
    store.dispose()


async def test_memories_are_seeded_from_config_shown_and_grown_from_answers(workdir: Path) -> None:
    """`init` seeds each bot's configured memories; the engine loads them, the prompt shows them, and an
    answered question becomes one more (kept across a re-sync, which only touches the seeded ones)."""
    from piyasa_core.store.models import Memory
    from piyasa_core.store.seed import SEED_MEMORY, sync_from_config

    config, store = setup_store()
    with session_scope(store.sessions) as session:
        seeded = {(m.bot_id, m.content) for m in session.scalars(select(Memory).where(Memory.kind == SEED_MEMORY))}
    ali_cfg = next(b for b in config.settings.bots if b.username == "ali_ekonomist")
    assert ali_cfg.memories and all((3, text) in seeded for text in ali_cfg.memories)
    events: list[Any] = []
    ali = engines(config, store, 60, events)[3]
    await ali.start()
    assert ali.memories[3][0] == ali_cfg.memories[0]
    with session_scope(store.sessions) as session:
        chat_id = session.scalar(select(Chat.id))
        human_id = repo.store_human_message(session, chat_id=chat_id, text="@ali_ekonomist enflasyon ne zaman?",
                                            human_name="Deniz", username="deniz_k", created_at=ali.clock.now())
    ali.submit_reply_job(ReplyJob(bot_id=3, chat_id=chat_id, message_id=human_id))
    await run_for([ali], 1.5)
    assert any(m.reply_to_id == human_id for m in sent(events))
    grown = ali.memories[3][0]
    assert grown.startswith("bir grup üyesi enflasyon sordu, sen yanıtladın: "), ali.memories[3]
    with session_scope(store.sessions) as session:
        kinds = sorted(m.kind for m in session.scalars(select(Memory).where(Memory.bot_id == 3)))
        report = sync_from_config(session, config.settings)
    assert kinds == ["conversation", SEED_MEMORY] and not report.changed
    store.dispose()


async def test_a_person_asking_what_the_chat_answered_already_is_pointed_to_it(workdir: Path) -> None:
    """Every answer Ali's composer could give Deniz is in the chat already (said by Mehmet, earlier):
    each draft and its paraphrase are duplicates, and Deniz is pointed to the answer rather than
    left without one; had Ali answered this message himself, nothing more would be sent."""
    from piyasa_core.engine.dedup import dedup_key
    from piyasa_core.llm.offline_text import compose

    config, store = setup_store()
    events: list[Any] = []
    ali = engines(config, store, 60, events)[3]
    question = "@ali_ekonomist enflasyon verisi ne zaman açıklanıyor?"
    hints = {"persona": "economist", "mode": "human_reply", "bot_name": "Ali Hoca", "username": "ali_ekonomist",
             "watchlist": ["USDTRY"], "hour": 10.1}
    variants = {dedup_key(compose(hints, ("Deniz", question, True), seed)): compose(hints, ("Deniz", question, True),
                                                                                  seed) for seed in range(400)}
    with session_scope(store.sessions) as session:
        chat_id = session.scalar(select(Chat.id))
        for text in variants.values():
            session.add(Message(chat_id=chat_id, bot_id=1, text=text, status="sent", worker_id=1,
                                created_at=repo.as_utc(SIM_START - 3600), sent_at=repo.as_utc(SIM_START - 3600)))
    await ali.start()
    with session_scope(store.sessions) as session:
        human_id = repo.store_human_message(session, chat_id=chat_id, text=question, human_name="Deniz",
                                            username="deniz_k", created_at=ali.clock.now())
    ali.submit_reply_job(ReplyJob(bot_id=3, chat_id=chat_id, message_id=human_id))
    await run_for([ali], 2.0)
    answers = [m for m in sent(events) if m.reply_to_id == human_id]
    assert answers and ali.counts["pointed_to_earlier_answer"] == 1, (dict(ali.counts), [m.text for m in answers])
    assert len(answers) == 1 and "yukarıda" in answers[0].text and answers[0].text.startswith("Deniz, ")
    with session_scope(store.sessions) as session:
        assert repo.replied_to(session, 3, human_id)  # a second job would now add nothing
    store.dispose()
