"""The engine of one worker: a heap of due times for its bots inside one asyncio loop."""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import logging
import math
import os
import random
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from piyasa_core.cache import Cache
from piyasa_core.cache_codec import check_value
from piyasa_core.config import Config
from piyasa_core.config.schema import EngineConfig
from piyasa_core.engine import repo, takeover
from piyasa_core.engine.clock import SimClock
from piyasa_core.engine.dedup import SEEN_KEEP, SeenKeys
from piyasa_core.engine.events import ChatDisabled, EngineMetrics, MessageFailed
from piyasa_core.engine.market import MarketContext
from piyasa_core.engine.outbox import Outbox
from piyasa_core.engine.pacing import BotPacer
from piyasa_core.engine.pipeline import MessagePipeline
from piyasa_core.engine.prompt import reply_tokens, system_prompt
from piyasa_core.engine.quota import QuotaPlanner
from piyasa_core.engine.sharding import owns
from piyasa_core.engine.turns import choose_chat, choose_topic, decide_turn, held_turn, quiet_after_own
from piyasa_core.llm.budget import LocalBudget
from piyasa_core.fleet.share import FleetShare
from piyasa_core.engine.types import (
    BotProfile,
    ChatInfo,
    HistoryLine,
    MarketSnapshot,
    ReplyJob,
    SentMessage,
    Turn,
)
from piyasa_core.llm.asks import classify
from piyasa_core.llm.offline_answer import topic_of
from piyasa_core.llm.router import Router
from piyasa_core.store import Store
from piyasa_core.store.db import session_scope
from piyasa_core.store.models import Memory
from piyasa_core.store.seed import SEED_MEMORY
from piyasa_core.telegram.base import SendResult, Transport

log = logging.getLogger(__name__)

HISTORY_KEEP = 50  # lines kept per chat in the cache (dedup looks this far back; prompts use fewer)
SELF_FOLLOW_UP_RETRY_S = 8.0
DEGRADED_REACTIONS = 0.25  # reaction share added at a plan scale of 0 (in proportion above it)
DEGRADED_REACTIONS_MAX = 0.3
DEGRADED_REPLIES = 0.5  # bot-to-bot replies fall to half at a plan scale of 0
SKIP_RETRIES = 2  # fresh turns tried after a skipped draft before the bot's slot is given up


class Engine:
    """Runs the bots of one worker. ``pacing=False`` is the max-rate mode of the engine benchmark."""

    def __init__(self, config: Config, store: Store, *, router: Router, transport: Transport, cache: Cache,
                 clock: SimClock, market: MarketContext, worker_id: int = 0, total: int = 1,
                 emit: Callable[[Any], None] | None = None, pacing: bool = True, max_inflight: int = 64,
                 seed: int | None = None, max_pause: float | None = None,
                 bot_ids: list[int] | None = None, stagger: bool = True, run_id: str | None = None,
                 fleet: FleetShare | None = None) -> None:
        self.config = config
        self.store = store
        self.router = router
        self.transport = transport
        self.cache = cache
        self.clock = clock
        self.market = market
        self.worker_id = worker_id
        self.total = total
        self.emit = emit or (lambda event: None)
        self.pacing = pacing
        self.max_pause = max_pause
        self.only_bots = bot_ids
        self.stagger = stagger  # False after a crash restart: the bots were already due
        self.run_id = run_id  # a benchmark run's id: talk only in its chats (bench/scope.py)
        self.fleet = fleet  # fleet mode: the shards this worker runs under their leases (else bot_id % total)
        cfg_seed = config.settings.engine.seed
        self.seed = seed if seed is not None else (cfg_seed or int.from_bytes(os.urandom(4), "big"))
        self.counts: Counter[str] = Counter()
        self.per_bot: Counter[int] = Counter()
        self.bots: dict[int, BotProfile] = {}
        self.chats: dict[int, ChatInfo] = {}
        self.pacers: dict[int, BotPacer] = {}
        self.rngs: dict[int, random.Random] = {}
        self.memories: dict[int, tuple[str, ...]] = {}
        self.past: dict[int, tuple[str, ...]] = {}  # config.toml's memories: the offline composer tells of them
        self.recent_texts: dict[int, deque[str]] = {}
        self.seen: dict[int, SeenKeys] = {}  # per chat: dedup keys further back than the history
        self.usernames: dict[int, str] = {}
        self.members: dict[int, tuple[BotProfile, ...]] = {}  # chat → its bots (every worker's)
        self._heap: list[tuple[float, int]] = []
        self.disabled: set[int] = set()  # bots the operator turned off while running: their turns stop
        self._anchor: dict[int, float] = {}
        self._skips: Counter[int] = Counter()
        self._avoid: defaultdict[int, set[int]] = defaultdict(set)  # reply targets whose drafts were skipped
        self._locks: dict[int, asyncio.Lock] = {}
        self._inflight = asyncio.Semaphore(max_inflight)
        self._busy = 0
        self._wakeup = asyncio.Event()
        self._draining = asyncio.Event()
        self._running = asyncio.Event()
        self._running.set()
        self._jobs: asyncio.Queue[ReplyJob] = asyncio.Queue()
        self._member_pacers: dict[int, BotPacer] = {}  # other workers' bots: whether they are around
        self._owed: Counter[int] = Counter()  # bot → people's messages it was asked to answer, not yet served
        self._tasks: set[asyncio.Task[Any]] = set()
        self.started_at = 0.0
        self.pipeline = MessagePipeline(self)
        self.quota: QuotaPlanner | None = None  # set at start (it needs every bot's profile)
        self._plan_warning = ""
        self._plan_warned_at = -math.inf
        self._degraded: tuple[float, EngineConfig] | None = None
        self.outbox = Outbox(store.engine)

    # ── start-up ───────────────────────────────────────────────────────────────────────────────
    async def start(self) -> None:
        """Load this worker's bots and chats, resolve interrupted outbox rows, schedule every bot."""
        with session_scope(self.store.sessions) as session:
            everyone = repo.load_profiles(session)
            self.chats = {c.id: c for c in repo.load_chats(session, self.run_id)}
            mine = self._mine(everyone)
            stale = repo.resolve_stale_pending(session, [b.id for b in mine])
            self.router.ledger.load(session)
            for chat_id in sorted({c for bot in mine for c in bot.chat_ids}):  # said before this start
                self.seen_keys(chat_id).note(repo.recent_texts(session, chat_id, SEEN_KEEP))
            for bot in mine:
                self.memories[bot.id], self.past[bot.id] = _memories(session, bot.id)
        if stale:
            log.warning("worker %d: %d interrupted outbox rows marked failed (never re-sent)", self.worker_id, stale)
            self.counts["stale_pending_resolved"] += stale
        self.usernames = {b.id: b.username for b in everyone}
        self.members = {c: tuple(b for b in everyone if c in b.chat_ids) for c in self.chats}
        settings = self.config.settings
        self.quota = QuotaPlanner([b for b in everyone if not self.run_id or set(b.chat_ids) & set(self.chats)],
                                  settings.engine, settings.llm, settings.llm.people_reserve)
        now = self.clock.now()
        self.started_at = now
        for bot in mine:
            self._add_bot(bot, now, stagger=self.stagger)
        await self.cache.start()

    def _add_bot(self, bot: BotProfile, now: float, *, stagger: bool) -> None:
        """Schedule one of this worker's bots (at start, or when the operator enables it)."""
        self.bots[bot.id] = bot
        self.rngs[bot.id] = random.Random(f"{self.seed}:{bot.id}")
        self.pacers[bot.id] = BotPacer(bot, self.config.settings.engine, self.rngs[bot.id], pacing=self.pacing)
        self._locks[bot.id] = asyncio.Lock()
        due = self.pacers[bot.id].first_due(now) if stagger else now
        self._anchor[bot.id] = due
        heapq.heappush(self._heap, (due, bot.id))

    def _mine(self, everyone: list[BotProfile]) -> list[BotProfile]:
        """This worker's share of ``everyone``, each in this engine's chats only."""
        return [replace(b, chat_ids=tuple(c for c in b.chat_ids if c in self.chats)) for b in everyone
                if (self.fleet.holds(b.id) if self.fleet is not None else owns(b.id, self.worker_id, self.total))
                and (self.only_bots is None or b.id in self.only_bots)]

    async def set_shards(self, epochs: dict[int, int]) -> None:
        """Fleet mode: the host's agent moved leases (see :func:`piyasa_core.engine.takeover.set_shards`)."""
        await takeover.set_shards(self, epochs)

    async def reload_bots(self, stagger: bool = True) -> None:
        """The operator enabled or disabled a bot: read who talks from the database. This worker's bots
        turned off stop (a message in flight is still sent), those turned on start speaking; every
        worker forgets a silent bot as a chat member (nobody waits for its answer)."""
        def read() -> tuple[list[BotProfile], dict[int, tuple[tuple[str, ...], tuple[str, ...]]]]:
            with session_scope(self.store.sessions) as session:
                everyone = repo.load_profiles(session)
                new = [b.id for b in self._mine(everyone) if b.id not in self.bots]
                return everyone, {b: _memories(session, b) for b in new}

        everyone, memories = await asyncio.to_thread(read)
        talking, now = {b.id for b in everyone}, self.clock.now()
        self.members = {c: tuple(b for b in everyone if c in b.chat_ids) for c in self.chats}
        if self.quota is not None:
            plan, settings = self.quota.plan, self.config.settings
            self.quota = QuotaPlanner([b for b in everyone if not self.run_id or set(b.chat_ids) & set(self.chats)],
                                      settings.engine, settings.llm, settings.llm.people_reserve)
            self.quota.plan = plan
        mine = {b.id for b in self._mine(everyone)}
        for bot_id in [b for b in self.bots if (b not in talking or b not in mine) and b not in self.disabled]:
            self.disabled.add(bot_id)
            self._heap = [entry for entry in self._heap if entry[1] != bot_id]
            heapq.heapify(self._heap)
        for bot in self._mine(everyone):
            if bot.id in self.disabled:
                self.disabled.discard(bot.id)
                self._anchor[bot.id] = self.pacers[bot.id].first_due(now)
                self._reschedule(bot.id, self._anchor[bot.id])
            elif bot.id not in self.bots:
                self.memories[bot.id], self.past[bot.id] = memories[bot.id]
                self._add_bot(bot, now, stagger=stagger)  # a shard taken over: its bots were silent, due now
                self._wakeup.set()

    # ── cached reads ───────────────────────────────────────────────────────────────────────────
    async def history(self, chat: ChatInfo) -> tuple[HistoryLine, ...]:
        """The chat's recent delivered lines (cached; invalidated across workers on every send)."""
        async def read() -> tuple[HistoryLine, ...]:  # the database read a cache hit saves
            with session_scope(self.store.sessions) as session:
                return repo.recent_history(session, chat.id, HISTORY_KEEP)

        lines: tuple[HistoryLine, ...] = await self.cache.get_or_load_versioned(
            f"history:{chat.id}", "lines", read, ttl=self._history_ttl)
        self.seen_keys(chat.id).note_history(lines)
        return lines

    def seen_keys(self, chat_id: int) -> SeenKeys:
        """The dedup keys of the chat's messages this worker has seen (also those out of the history)."""
        if chat_id not in self.seen:
            self.seen[chat_id] = SeenKeys()
        return self.seen[chat_id]

    @property
    def _history_ttl(self) -> float | None:
        # Without Redis no other worker can invalidate this copy: keep it for at most ~2 simulated
        # seconds (one real second at most), so other workers' messages are seen promptly.
        return None if self.cache.l2_configured else min(1.0, 2.0 / self.clock.scale)

    async def remember_sent(self, chat: ChatInfo, line: HistoryLine) -> None:
        """After a send: new history version for every worker, this worker's copy written through."""
        current = await self.history(chat)
        check_value(line)  # the cached part was checked when it was stored
        await self.cache.bump(f"history:{chat.id}")
        await self.cache.set_versioned(f"history:{chat.id}", "lines", (*current, line)[-HISTORY_KEEP:],
                                       ttl=self._history_ttl, checked=True)
        self.recent_texts.setdefault(chat.id, deque(maxlen=HISTORY_KEEP)).append(line.text)
        self.seen_keys(chat.id).note([line.text])

    async def system_prompt(self, bot: BotProfile) -> str:
        """The bot's rendered system prompt (cached)."""
        async def load() -> str:
            return system_prompt(bot)
        # a stable digest (not hash(): salted per process) so every worker shares one L2 entry
        digest = hashlib.blake2b(repr(bot).encode(), digest_size=6).hexdigest()
        return await self.cache.get_or_load(f"system-prompt:{bot.id}:{digest}", load)  # type: ignore[no-any-return]

    async def market_snapshot(self, now: float, bot_id: int) -> MarketSnapshot:
        """The market at ``now`` (cached per tape step; per bot only when headlines differ per bot)."""
        step = int(now // self.market.tape.step_seconds)
        key = f"market:{step}:{bot_id if self.market.feed is not None else '*'}"

        async def load() -> MarketSnapshot:
            return self.market.snapshot(now, bot_id)
        return await self.cache.get_or_load(key, load)  # type: ignore[no-any-return]

    def provider_max_tokens(self, bot: BotProfile, mode: str) -> int:
        """The answer's token cap: the persona's message length (prompt.reply_tokens), within the provider's."""
        cfg = self.config.settings.llm.providers[self.router.active]
        return min(cfg.max_output_tokens, reply_tokens(bot, mode))

    def provider_temperature(self) -> float:
        return self.config.settings.llm.providers[self.router.active].temperature

    # ── control ────────────────────────────────────────────────────────────────────────────────
    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()
        self._wakeup.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def submit_reply_job(self, job: ReplyJob) -> None:
        """Queue a reply to a human; it is served before scheduled turns."""
        self._owed[job.bot_id] += 1
        self._jobs.put_nowait(job)
        self._wakeup.set()

    def on_send_failed(self, bot: BotProfile, chat: ChatInfo, message_id: int, result: SendResult) -> None:
        self.counts["failed"] += 1
        self.emit(MessageFailed(self.worker_id, bot.id, chat.id, message_id, result.error_class or "error",
                                result.reason or ""))
        if result.disable_chat:
            self.chats[chat.id] = replace(chat, enabled=False)
            self.emit(ChatDisabled(self.worker_id, chat.id, chat.key, result.reason or ""))

    # ── loops ──────────────────────────────────────────────────────────────────────────────────
    async def run(self, stop: asyncio.Event) -> None:
        """Run until ``stop`` is set; then wait for messages in flight (drain)."""
        if not self.bots and not self.started_at:
            await self.start()
        loops = [asyncio.create_task(self._dispatch(stop)), asyncio.create_task(self._serve_jobs(stop)),
                 asyncio.create_task(self._tick(stop))]
        await stop.wait()
        self._draining.set()
        self._wakeup.set()
        for task in loops:
            task.cancel()
        await asyncio.gather(*loops, return_exceptions=True)
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        self.outbox.close()
        self.flush_usage()
        self.emit(self.metrics())

    async def _dispatch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self._running.wait()
            if not self._heap:
                self._wakeup.clear()
                await self._wait_wakeup(1.0)
                continue
            due, bot_id = self._heap[0]
            now = self.clock.now()
            if due > now:
                self._wakeup.clear()
                await self._wait_wakeup(self.clock.real_seconds(due - now))
                continue
            heapq.heappop(self._heap)
            await self._inflight.acquire()
            self._spawn(self._scheduled_turn(bot_id, due))

    async def typing_pause(self, sim_seconds: float) -> None:
        """The simulated typing delay before a send; cut short when the worker drains, so a stop
        sends the message in flight at once instead of waiting out its typing time."""
        if self._draining.is_set():
            return
        try:
            await asyncio.wait_for(self._draining.wait(), self.clock.real_seconds(sim_seconds))
        except asyncio.TimeoutError:
            pass

    async def _wait_wakeup(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self._wakeup.wait(), timeout=max(0.0, timeout))
        except asyncio.TimeoutError:
            pass

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _reschedule(self, bot_id: int, when: float) -> None:
        heapq.heappush(self._heap, (when, bot_id))
        self._wakeup.set()

    async def _scheduled_turn(self, bot_id: int, due: float) -> None:
        if bot_id in self.disabled:  # turned off by the operator after this turn was scheduled
            self._inflight.release()
            return
        bot, pacer, rng = self.bots[bot_id], self.pacers[bot_id], self.rngs[bot_id]
        anchor = self._anchor.get(bot_id, due)
        if self._owed[bot_id]:
            # a person waits for this bot's answer: its next message is that answer (the reply job, which
            # may hold the bot's lock while it drafts), not a new topic posted under the question
            self.counts["waited_for_answer"] += 1
            now = self.clock.now()
            self._reschedule(bot_id, now + min(SELF_FOLLOW_UP_RETRY_S, pacer.delay(now) / 4))
            self._inflight.release()
            return
        try:
            async with self._locks[bot_id]:
                self._busy += 1
                now = self.clock.now()
                if self.pacing and (not pacer.is_active(now) or pacer.cap_reached(now)):
                    self.counts["waited_hours_or_cap"] += 1
                    self._anchor[bot_id] = pacer.next_due(now, now)
                    self._reschedule(bot_id, self._anchor[bot_id])
                    return
                chat = choose_chat(bot, list(self.chats.values()), rng)
                if chat is None:
                    self.counts["no_chat"] += 1
                    self._reschedule(bot_id, now + 3600)
                    return
                history = await self.history(chat)
                if self._avoid[bot_id]:  # a retry after a skipped draft: not the same target again
                    history = tuple(line for line in history if line.id not in self._avoid[bot_id])
                quiet = self.pacing and self._quiet_after_own(bot, chat, history, now)
                turn = decide_turn(bot, chat, history, self.turn_config(), rng, now, self.usernames,
                                   allow_self_follow_up=not self.pacing or quiet, members=self.members.get(chat.id, ()))
                if quiet and turn is not None and turn.mode in ("reply", "reaction"):
                    # after a silence it brings something new up: not a reply to what was said before it
                    turn = Turn(bot.id, chat.id, "new", choose_topic(bot, chat, history, rng), due_at=now)
                    self.counts["new_after_quiet"] += 1
                if turn is None:
                    self.counts["waited_self_follow_up"] += 1
                    self._reschedule(bot_id, now + min(SELF_FOLLOW_UP_RETRY_S, pacer.delay(now) / 4))  # the anchor stays: the rate does not drift
                    return
                if turn.mode != "reaction" and self.kept_for_people():
                    turn = held_turn(turn)
                    if turn is None:  # nothing to react to: the slot passes, the reserve stays for people
                        self.counts["held_for_people"] += 1
                        self._anchor[bot_id] = pacer.next_due(anchor, self.clock.now())
                        self._reschedule(bot_id, self._anchor[bot_id])
                        return
                    self.counts["reacted_for_people"] += 1
                sent = await self._deliver(bot, chat, replace(turn, due_at=due), history)
                if not sent and self._skips[bot_id] < SKIP_RETRIES:
                    # a skipped draft (duplicate, rejected) would lose the planned message: try another turn
                    # soon with the anchor kept, a bounded number of times so a stuck bot cannot loop
                    self._skips[bot_id] += 1
                    if turn.reply_to is not None:
                        self._avoid[bot_id].add(turn.reply_to.id)
                    self.counts["retried_after_skip"] += 1
                    self._reschedule(bot_id, now + min(SELF_FOLLOW_UP_RETRY_S, pacer.delay(now) / 4))
                    return
                self._skips[bot_id] = 0
                self._avoid[bot_id].clear()
                self._anchor[bot_id] = pacer.next_due(anchor, self.clock.now())
                self._reschedule(bot_id, self._anchor[bot_id])
        except Exception:  # one bad message must never stop the worker
            log.exception("worker %d: turn of bot %s failed", self.worker_id, bot.username)
            self.counts["errors"] += 1
            self._anchor[bot_id] = pacer.next_due(anchor, self.clock.now())
            self._reschedule(bot_id, self._anchor[bot_id])
        finally:
            self._busy -= 1
            self._inflight.release()

    def _quiet_after_own(self, bot: BotProfile, chat: ChatInfo, history: tuple[HistoryLine, ...], now: float) -> bool:
        others = [self._pacer_of(o) for o in self.members.get(chat.id, ()) if o.id != bot.id]
        return quiet_after_own(bot.id, history, now, 3600.0 / self.pacers[bot.id].target_per_hour(now),
                               any(o.is_active(now) for o in others))

    def _pacer_of(self, bot: BotProfile) -> BotPacer:
        """A pacer for any chat member (another worker's bots too): only its hours are read."""
        pacer = self.pacers.get(bot.id) or self._member_pacers.get(bot.id)
        if pacer is None:
            pacer = self._member_pacers[bot.id] = BotPacer(bot, self.config.settings.engine, random.Random(0))
        return pacer

    async def _deliver(self, bot: BotProfile, chat: ChatInfo, turn: Turn, history: tuple[HistoryLine, ...]) -> bool:
        """Run one turn through the pipeline; False when nothing was sent (skipped or failed)."""
        sent = await self.pipeline.run(bot, chat, turn, history, self.pacers[bot.id], self.rngs[bot.id])
        if sent is not None:
            self._count_sent(sent)
        return sent is not None

    def _count_sent(self, sent: SentMessage) -> None:
        self.counts["sent"] += 1
        self.per_bot[sent.bot_id] += 1
        self.emit(sent)

    async def _serve_jobs(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            job = await self._jobs.get()
            self._spawn(self._reply_job(job))

    async def _reply_job(self, job: ReplyJob) -> None:
        try:
            await self._answer(job)
        finally:
            self._owed[job.bot_id] -= 1

    async def _answer(self, job: ReplyJob) -> None:
        bot = self.bots.get(job.bot_id)
        chat = self.chats.get(job.chat_id)
        if bot is None or chat is None or not chat.enabled or bot.id in self.disabled:
            self.counts["jobs_ignored"] += 1
            return
        try:
            async with self._locks[bot.id]:
                await self._running.wait()
                history = await self.history(chat)
                target = next((line for line in history if line.id == job.message_id), None)
                if target is None:  # our cached copy predates the human's message: read the database
                    with session_scope(self.store.sessions) as session:
                        history = repo.recent_history(session, chat.id, HISTORY_KEEP)
                    target = next((line for line in history if line.id == job.message_id), None)
                if target is None:
                    self.counts["jobs_missing_message"] += 1
                    return
                if any(line.bot_id == bot.id and line.reply_to_id == target.id for line in history):
                    self.counts["jobs_answered_already"] += 1  # a scheduled turn answered it first
                    return
                rng = self.rngs[bot.id]
                if rng.random() >= self.config.settings.engine.human_reply_probability:
                    self.counts["jobs_declined"] += 1
                    return
                # a reply threads to the question already: no @mention of its author on top
                turn = Turn(bot.id, chat.id, "human_reply", topic_of(classify(target.text)) or target.topic or "",
                            reply_to=target, due_at=self.clock.now(), job_id=str(job.message_id),
                            addressed=job.addressed)
                self.counts["jobs"] += 1
                for attempt in range(1 + SKIP_RETRIES):  # a person's question must not go unanswered for a
                    if attempt:                          # skipped draft: try fresh drafts, a bounded number
                        self.counts["retried_after_skip"] += 1
                    if await self._deliver(bot, chat, turn, history):
                        break
        except Exception:
            log.exception("worker %d: reply job %s failed", self.worker_id, job)
            self.counts["errors"] += 1

    def remember(self, bot: BotProfile, content: str) -> None:
        """Keep something the bot said or was asked (the prompt shows its newest memories)."""
        with session_scope(self.store.sessions) as session:
            session.add(Memory(bot_id=bot.id, kind="conversation", content=content, importance=0.6,
                               created_at=self.clock.now()))
        self.memories[bot.id] = (content, *self.memories.get(bot.id, ()))[:3]

    async def _tick(self, stop: asyncio.Event) -> None:
        last_flush, last_flush_sim = time.monotonic(), self.clock.now()
        planned_at, planned_states = -math.inf, {}
        while not stop.is_set():
            # at least twice a simulated minute: the plan is recomputed every simulated minute, also when
            # a benchmark runs the clock at ×300
            await asyncio.sleep(min(1.0, self.clock.real_seconds(30.0)))
            now = self.clock.now()
            states = {p.name: p.state for p in self.router.statuses()}
            if self.pacing and self.quota is not None and (now - planned_at >= 60 or states != planned_states):
                planned_at, planned_states = now, states  # once a simulated minute, and on a provider's change
                await asyncio.to_thread(self.replan, now, states)
                self.router.budgets_changed()  # a turn paused on this worker's share of the day looks again
            self.emit(self.metrics())
            # every 10 s, and every simulated minute: the plan reads every worker's usage from the database
            if time.monotonic() - last_flush >= 10 or now - last_flush_sim >= 60:
                self.flush_usage()
                last_flush, last_flush_sim = time.monotonic(), now

    def turn_config(self) -> EngineConfig:
        """The turn mix, degraded as the day's plan holds the bots back (scale < 1): more reactions, which
        cost no LLM call, and fewer bot-to-bot replies; people's questions are served as always."""
        base = self.config.settings.engine
        scale = self.quota.plan.scale if self.quota is not None and self.quota.plan is not None else 1.0
        if scale >= 1.0:
            return base
        short = 1.0 - scale
        key = round(scale, 2)
        if self._degraded is None or self._degraded[0] != key:
            self._degraded = (key, base.model_copy(update={
                "reaction_probability": min(DEGRADED_REACTIONS_MAX, base.reaction_probability + DEGRADED_REACTIONS * short),
                "reply_probability": base.reply_probability * (1.0 - DEGRADED_REPLIES * short)}))
        return self._degraded[1]

    def replan(self, now: float, states: dict[str, str]) -> None:
        """Recompute the day's LLM plan and pace this worker's bots by it."""
        assert self.quota is not None
        try:
            with session_scope(self.store.sessions) as session:
                self.router.ledger.flush(session)  # the plan and the shared day's quota count this worker too
                plan = self.quota.compute(session, now, self.router.active, states)
        except Exception:
            log.exception("worker %d: could not plan the day's LLM budget", self.worker_id)
            return
        if isinstance(self.router.budget, LocalBudget):  # no Redis: the day's quota is shared through the database
            for provider in plan.providers:
                self.router.budget.rebase_daily(provider.name, provider.used_requests, provider.used_tokens,
                                                worker=self.worker_id, turn=int(now // 60),
                                                request_tokens=plan.tokens_per_message)
        for pacer in self.pacers.values():
            pacer.budget_scale = plan.scale
        # requests spread over the chain by what each provider can still afford today (an unlimited
        # chain keeps its order: the active provider first)
        self.router.shares = ({} if plan.affordable is None else
                              {p.name: p.affordable_left or 0.0 for p in plan.providers if p.planned_per_hour is not None})
        # the warning's figures move by a message or two every minute: say it when it starts, then hourly
        if plan.warning and (not self._plan_warning or now - self._plan_warned_at >= 3600):
            log.warning("worker %d: %s", self.worker_id, plan.warning)
            self._plan_warned_at = now
        self._plan_warning = plan.warning

    def kept_for_people(self) -> bool:
        """True when what the chain still affords today is the people's reserve only: a bot's own turn
        then costs no LLM call (a reaction, or nothing), and people's questions keep the rest."""
        plan = self.quota.plan if self.quota is not None else None
        if not (self.pacing and plan is not None and plan.affordable is not None):
            return False
        if plan.affordable / self.total >= 1.0:
            return False
        # the bots' last affordable messages of the day: one worker a minute spends them (as the budget
        # shares what is too little to split), else four workers spent the people's reserve at once
        return plan.affordable < 1.0 or (int(self.clock.now() // 60) + self.worker_id) % self.total != 0

    def flush_usage(self) -> None:
        """Persist token counts (deltas) so a restart keeps today's usage."""
        try:
            with session_scope(self.store.sessions) as session:
                self.router.ledger.flush(session)
        except Exception:
            log.exception("worker %d: could not save token usage", self.worker_id)

    def metrics(self) -> EngineMetrics:
        """This worker's counters now."""
        now = self.clock.now()
        alarms = tuple(self.bots[b].username for b, p in self.pacers.items()
                       if self.pacing and b not in self.disabled and p.below_floor(now, self.started_at))
        talking = tuple(sorted(b for b in self.bots if b not in self.disabled))
        extra: dict[str, Any] = {"bots": self._bot_states(now, talking),
                                 "pace": (self.config.settings.engine.hourly_min, self.config.settings.engine.hourly_max)}
        if self.quota is not None and self.quota.plan:
            extra["plan"] = self.quota.plan.to_dict()
        return EngineMetrics(
            worker_id=self.worker_id, at=now, real_at=time.time(), bots=talking,
            counts=dict(self.counts), per_bot=dict(self.per_bot), cache=self.cache.stats.as_dict(),
            providers=tuple(self.router.statuses()), active_provider=self.router.active,
            paused="paused by operator" if self.paused else self.router.paused_reason,
            floor_alarms=alarms, inflight=self._busy, extra=extra)

    def _bot_states(self, now: float, bots: tuple[int, ...]) -> dict[int, dict[str, Any]]:
        """Per talking bot: its next due time (None while its turn runs), messages in the rolling hour
        and the planned rate now (the operator's bots screen)."""
        dues: dict[int, float] = {}
        for due, bot_id in self._heap:
            dues[bot_id] = min(due, dues.get(bot_id, due))
        return {b: {"due": dues.get(b), "hour": self.pacers[b].sent_last_hour(now),
                    "plan": round(self.pacers[b].target_per_hour(now), 1)} for b in bots}


def _memories(session: Any, bot_id: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A bot's memories for the prompt (the three most important) and config.toml's, which the
    offline composer tells of."""
    rows = session.query(Memory).filter(Memory.bot_id == bot_id).order_by(
        Memory.importance.desc(), Memory.id.desc()).limit(20).all()
    return tuple(m.content for m in rows)[:3], tuple(m.content for m in rows if m.kind == SEED_MEMORY)
