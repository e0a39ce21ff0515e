"""One message, end to end: generate → post-process → dedup → outbox → typing → send → event."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from piyasa_core.engine import repo
from piyasa_core.engine.clock import describe_moment, local_hour
from piyasa_core.engine.dedup import DuplicateChecker
from piyasa_core.engine.pacing import BotPacer
from piyasa_core.engine.postprocess import drop_unfinished, postprocess
from piyasa_core.engine.prompt import (
    build_user_prompt,
    clip,
    hints_for,
    quoted_symbols,
    rewrite_prompt,
    stop_sequences,
)
from piyasa_core.fleet.leases import Fenced
from piyasa_core.engine.types import (
    BotProfile,
    ChatInfo,
    HistoryLine,
    SentMessage,
    Turn,
)
from piyasa_core.llm.asks import classify
from piyasa_core.llm.daytime import is_sign_off, time_phrase_violations
from piyasa_core.llm.offline_text import compose
from piyasa_core.llm.router import RequestRejected
from piyasa_core.llm.tokens import CHAT_OVERHEAD_TOKENS, estimate_tokens
from piyasa_core.llm.types import ChatRequest, Completion, ReplyTarget
from piyasa_core.store.db import session_scope
from piyasa_core.telegram.base import SendResult

if TYPE_CHECKING:
    from piyasa_core.engine.core import Engine

log = logging.getLogger(__name__)
IN_FLIGHT_LINES = 12  # every worker's newest bot lines of a chat (sent or being typed) a draft is checked against

PROMISE_RETRY_NOTE = " Kazanç vaadi ve kesinlik ifadesi yok."
UNTIMELY_NOTE = " Saate uymayan selam, veda yok; sohbettesin."
POINTERS = ("{N}, bunu biraz yukarıda konuştuk, bir göz at 🙂", "{N}, az yukarıda yazıldı, kaydırırsan görürsün.",
            "{N}, bunun cevabı biraz yukarıda var.", "{N}, yukarıda konuşmuştuk, oraya bakabilirsin.")
"""What a person gets who asks what the chat already answered (every draft repeats that answer)."""
LOCAL_PROVIDER = "local"
"""The provider name on messages composed without any LLM call (reactions)."""
PARAPHRASE_NOTE = " Bu söylendi; başka açıdan, başka sözlerle yaz."


def with_tokens_of(completion: Completion, earlier: Completion) -> Completion:
    """``completion`` with the tokens of an ``earlier`` call for the same message added."""
    return replace(completion, prompt_tokens=completion.prompt_tokens + earlier.prompt_tokens,
                   completion_tokens=completion.completion_tokens + earlier.completion_tokens,
                   cached_tokens=completion.cached_tokens + earlier.cached_tokens)


@dataclass(frozen=True)
class Drafted:
    text: str
    completion: Completion
    attempts: int


class MessagePipeline:
    """Runs one turn of one bot; counts every outcome in ``engine.counts``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dedup = DuplicateChecker()

    @property
    def counts(self) -> Counter[str]:
        return self.engine.counts

    async def _draft(self, bot: BotProfile, turn: Turn, history: tuple[HistoryLine, ...], rng: random.Random,
                     note: str = "", seed_offset: int = 0, closing: bool = False, draft: str = "",
                     trace: dict[str, Any] | None = None) -> tuple[str | None, Completion | None, str]:
        """One generation + post-processing. Returns (text, completion, rejection reason). With ``draft`` (a
        retry after a rejected or duplicate draft) the prompt is that draft with ``note``, not the whole
        context again: the model already answered it, it only has to say it otherwise (issue 16: a
        retry costs about half a message, not a whole one). ``trace["postprocess"]`` gets the steps that
        changed the draft (the message's metadata keeps those of the draft that was sent)."""
        engine = self.engine
        cfg = engine.config.settings.engine
        now = engine.clock.now()
        market = await engine.market_snapshot(now, bot.id)
        system = await engine.system_prompt(bot)
        if draft:
            user = rewrite_prompt(turn, draft, note, system_tokens=estimate_tokens(system),
                                  keep_meaning=note != PARAPHRASE_NOTE)
        else:
            user = build_user_prompt(bot, turn, history[-cfg.history_lines:], market, engine.memories.get(bot.id, ()),
                                     token_budget=cfg.prompt_token_budget, system_tokens=estimate_tokens(system),
                                     moment=describe_moment(now, cfg.timezone), closing=closing, note=note)
        seed = rng.getrandbits(31) + seed_offset
        hour = local_hour(now, cfg.timezone)
        hints = hints_for(bot, turn, market, seed, max_chars=cfg.max_message_chars, hour=hour, closing=closing,
                          past=engine.past.get(bot.id, ()),
                          quoted=quoted_symbols([*history, *([turn.reply_to] if turn.reply_to else [])]))
        reply = turn.reply_to
        if turn.mode == "reaction":
            return self._react(bot, turn, hints, cfg.max_message_chars, rng, trace)
        request = ChatRequest(
            system=system, user=user.text,
            max_tokens=engine.provider_max_tokens(bot, turn.mode), temperature=engine.provider_temperature(),
            stop=stop_sequences(bot, history[-cfg.history_lines:]),
            hints=hints, estimated_prompt_tokens=user.system_tokens + user.estimated_tokens + CHAT_OVERHEAD_TOKENS,
            reply_to=ReplyTarget(reply.author, reply.text, reply.is_human) if reply else None)
        try:
            completion = await engine.router.generate(request, max_pause=engine.max_pause)
        except RequestRejected as exc:
            return None, None, f"rejected: {exc.reason}"
        raw = completion.text
        if completion.finish_reason in ("length", "max_tokens"):  # cut at the answer's token cap
            self.counts["cut_at_token_cap"] += 1
            raw = drop_unfinished(raw)
        result = postprocess(raw, bot_name=bot.name, username=bot.username,
                             max_chars=cfg.max_message_chars, rng=rng, casual=0.3)
        steps = list(result.changes)
        if trace is not None:
            trace["postprocess"] = steps
        if result.rejected:
            return None, completion, result.reason or "rejected"
        text = result.text
        if time_phrase_violations(text, hour) or (not closing and is_sign_off(text)):
            return None, completion, "untimely"  # "iyi akşamlar" at 10:00, a goodbye and then more messages
        if turn.mention and f"@{turn.mention}".lower() not in text.lower():
            text = f"@{turn.mention} {text}"
            steps.append("add_mention")
        return text, completion, ""

    def _react(self, bot: BotProfile, turn: Turn, hints: dict[str, Any], max_chars: int, rng: random.Random,
               trace: dict[str, Any] | None = None) -> tuple[str | None, Completion | None, str]:
        """A reaction ("👍", "Aynen, hacim zayıf.") is composed here, without an LLM call: a real model
        spent a whole prompt (~550 Llama 3 tokens) to write two words (issue 16)."""
        reply = turn.reply_to
        started = time.perf_counter()
        text = compose(hints, (reply.author, reply.text, reply.is_human) if reply else None, int(hints["seed"]))
        result = postprocess(text, bot_name=bot.name, username=bot.username, max_chars=max_chars, rng=rng, casual=0.0)
        if trace is not None:
            trace["postprocess"] = list(result.changes)
        if result.rejected:
            return None, None, result.reason or "rejected"
        self.counts["reactions_without_llm"] += 1
        return result.text, Completion(text=result.text, provider=LOCAL_PROVIDER, model="reaction", prompt_tokens=0,
                                       completion_tokens=0, cached_tokens=0,
                                       latency_s=time.perf_counter() - started, finish_reason="stop"), ""

    def _answered(self, bot_id: int, message_id: int) -> bool:
        with session_scope(self.engine.store.sessions) as session:
            return repo.replied_to(session, bot_id, message_id)

    def _pointer(self, bot: BotProfile, turn: Turn, rng: random.Random, recent: list[str], seen: Any) -> str | None:
        """A person asked what the chat has answered already (every draft repeats it): point up instead of
        leaving them unanswered — unless this bot has answered this very message (then nothing more)."""
        target = turn.reply_to
        if turn.mode != "human_reply" or target is None or not target.is_human:
            return None
        with session_scope(self.engine.store.sessions) as session:
            if repo.replied_to(session, bot.id, target.id):
                return None
        name = (target.author or "").split()[0] if target.author else ""
        for template in rng.sample(POINTERS, len(POINTERS)):
            text = template.format(N=name).strip(", ")
            if not self.dedup.check(text, recent, seen).duplicate:
                return text[0].upper() + text[1:]
        return None

    async def run(self, bot: BotProfile, chat: ChatInfo, turn: Turn, history: tuple[HistoryLine, ...],
                  pacer: BotPacer, rng: random.Random) -> SentMessage | None:
        """Generate and deliver one message for ``turn``; None when it was skipped."""
        engine = self.engine
        target = turn.reply_to
        if target is not None and target.is_human and await asyncio.to_thread(self._answered, bot.id, target.id):
            # the database knows better than a history copy (or a job that came twice): a person is answered once
            self.counts["skipped_answered_already"] += 1
            return None
        closing = pacer.closing(engine.clock.now())
        trace: dict[str, Any] = {}  # how the text was made: the message's metadata keeps it
        text, completion, why = await self._draft(bot, turn, history, rng, closing=closing, trace=trace)
        if text is None and why.startswith(("promise", "untimely")):
            self.counts["retried_" + why.split(":")[0].replace(" ", "_")] += 1
            trace["retries"] = [why]
            first = completion
            note = PROMISE_RETRY_NOTE if why.startswith("promise") else UNTIMELY_NOTE
            text, completion, why = await self._draft(bot, turn, history, rng, note, 7919, closing,
                                                      draft=first.text if first is not None else "", trace=trace)
            if completion is not None and first is not None:
                completion = with_tokens_of(completion, first)  # the row carries every call it cost
        if text is None or completion is None:
            self.counts["skipped_" + why.split(":")[0].replace(" ", "_")] += 1
            return None
        recent = [line.text for line in history] + list(engine.recent_texts.get(chat.id, ()))
        # the history may be cached and other workers' messages still being typed are not in it: two bots
        # answered one question with the same definition 17 simulated seconds apart
        recent += await asyncio.to_thread(self._in_flight, chat.id)
        seen = engine.seen_keys(chat.id)
        verdict = self.dedup.check(text, recent, seen)
        trace["dedup"] = {"verdict": "unique"}
        if verdict.duplicate:
            trace["dedup"] = {"verdict": verdict.kind, "score": round(verdict.score, 1),
                              "match": (verdict.match or "")[:200]}
            self.counts[f"duplicate_{verdict.kind}"] += 1
            log.debug("bot %s %s draft is a %s duplicate of %r: %r", bot.username, turn.mode, verdict.kind,
                      verdict.match, text)
            text, completion2, why = await self._draft(bot, turn, history, rng, PARAPHRASE_NOTE, 104729, closing,
                                                       draft=text, trace=trace)
            if text is None or completion2 is None or self.dedup.check(text, recent, seen).duplicate:
                text = self._pointer(bot, turn, rng, recent, seen)
                if text is None:
                    self.counts["skipped_duplicate"] += 1
                    return None
                self.counts["pointed_to_earlier_answer"] += 1
                trace["dedup"]["outcome"], trace["postprocess"] = "pointed to the earlier answer", []
            else:
                completion = with_tokens_of(completion2, completion)
                self.counts["paraphrased"] += 1
                trace["dedup"]["outcome"] = "paraphrased"
        sent = await self._deliver(bot, chat, turn, text, completion, pacer, trace)
        target = turn.reply_to
        if sent is not None and target is not None and turn.mode != "reaction" and classify(target.text).is_question:
            about = f" {turn.topic}" if turn.topic else ""
            who = "bir grup üyesi" if target.is_human else target.author
            engine.remember(bot, f"{who}{about} sordu, sen yanıtladın: {clip(text, 90)}")
        return sent

    def _in_flight(self, chat_id: int) -> list[str]:
        with session_scope(self.engine.store.sessions) as session:
            return repo.texts_in_flight(session, chat_id, IN_FLIGHT_LINES)

    async def _deliver(self, bot: BotProfile, chat: ChatInfo, turn: Turn, text: str, completion: Completion,
                       pacer: BotPacer, trace: dict[str, Any] | None = None) -> SentMessage | None:
        engine = self.engine
        created = engine.clock.now()
        typing = pacer.typing_seconds(text)
        # typing_s: the planned part of due → sent (the benchmark's lateness leaves it out)
        # trace: post-processing steps, rejected drafts retried, the dedup verdict (the TUI's message detail)
        meta = {"topic": turn.topic, "mode": turn.mode, "due_at": turn.due_at, "mention": turn.mention,
                "typing_s": round(typing, 3), **(trace or {})}
        fence = engine.fleet.fence(bot.id) if engine.fleet is not None else None
        if engine.fleet is not None:
            if fence is None:  # the shard moved to another host while this message was drafted
                self.counts["fenced"] += 1
                return None
            meta["fleet"] = {"host": fence[1], "lease": fence[0], "epoch": fence[2]}
        try:
            message_id = await engine.outbox.add_pending(
                chat_id=chat.id, bot_id=bot.id, text=text, reply_to_id=turn.reply_to.id if turn.reply_to else None,
                worker_id=engine.worker_id, provider=completion.provider, model=completion.model,
                tokens_in=completion.prompt_tokens, tokens_out=completion.completion_tokens,
                tokens_cached=completion.cached_tokens, generation_seconds=completion.latency_s, created_at=created,
                meta=meta, fence=fence)
        except Fenced:  # the shard moved to another host while this message was drafted
            self.counts["fenced"] += 1
            return None
        if typing > 0:
            await engine.transport.send_typing(bot, chat)
            await engine.typing_pause(typing)
        reply_tid = turn.reply_to.telegram_message_id if turn.reply_to else None
        current = engine.chats.get(chat.id, chat)
        if not current.enabled:  # disabled while this message was being typed: do not send it
            result = SendResult(False, error_class="chat_disabled", reason="the chat was disabled before sending")
        elif engine.fleet is not None and engine.fleet.fence(bot.id) != fence:
            result = SendResult(False, error_class="fenced", reason="the shard's lease moved while this was typed")
        else:
            result = await engine.transport.send(bot, chat, text, reply_to_message_id=reply_tid,
                                                 outbox_id=message_id)
        sent_at = engine.clock.now()
        if result.ok:
            try:
                await engine.outbox.mark_sent(message_id, result.message_id, sent_at, fence=fence)
            except Fenced:  # another host took the shard over and resolved this row: it is not ours to count
                self.counts["fenced"] += 1
                return None
        else:
            # the chat is disabled in memory before the write is awaited: a turn that finishes typing
            # meanwhile must not send to a chat the bot was removed from
            if result.error_class == "fenced":
                self.counts["fenced"] += 1
            elif result.error_class != "chat_disabled":
                engine.on_send_failed(bot, chat, message_id, result)
            await engine.outbox.mark_failed(message_id, f"{result.error_class}: {result.reason}",
                                            disable_chat_id=chat.id if result.disable_chat else None)
            return None
        pacer.record_send(sent_at)
        line = HistoryLine(id=message_id, chat_id=chat.id, text=text, created_at=sent_at, author=bot.name,
                           bot_id=bot.id, username=bot.username,
                           reply_to_id=turn.reply_to.id if turn.reply_to else None, topic=turn.topic or None,
                           telegram_message_id=result.message_id)
        await engine.remember_sent(chat, line)
        return SentMessage(
            message_id=message_id, bot_id=bot.id, bot_name=bot.name, chat_id=chat.id, chat_key=chat.key,
            worker_id=engine.worker_id, text=text, mode=turn.mode, topic=turn.topic,
            reply_to_id=turn.reply_to.id if turn.reply_to else None,
            reply_to_author=turn.reply_to.author if turn.reply_to else None,
            provider=completion.provider, model=completion.model, tokens_in=completion.prompt_tokens,
            tokens_out=completion.completion_tokens, tokens_cached=completion.cached_tokens,
            llm_latency_s=completion.latency_s, end_to_end_s=max(0.0, sent_at - turn.due_at), sent_at=sent_at,
            transport_message_id=result.message_id, extra={"real_sent_at": time.time()})
