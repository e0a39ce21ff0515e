"""Turn-taking: which chat, reply or new topic, whom to answer, whom to mention, what about."""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from piyasa_core.config.schema import EngineConfig
from piyasa_core.engine.addressing import addressed, answerers, is_question
from piyasa_core.engine.pacing import active_at
from piyasa_core.engine.types import BotProfile, ChatInfo, HistoryLine, Turn
from piyasa_core.llm.asks import classify
from piyasa_core.llm.offline_answer import topic_of

RECENCY_HALF_LIFE_S = 600.0
SCORED_LINES = 20  # only the newest lines are reply candidates
HUMAN_QUIET_S = 600.0
"""For this long after a person wrote, only the bots it addressed (or, for a question to the group,
the one or two its reply jobs chose) answer it; later a bot may join, as an ordinary reply."""
HUMAN_MAX_REPLIES = 2  # a person's message that named nobody gets at most this many bot replies
_WORD = re.compile(r"[\wÇĞİÖŞÜçğıöşü]+")


@lru_cache(maxsize=8192)
def _upper_words(text: str) -> frozenset[str]:
    return frozenset(w.upper() for w in _WORD.findall(text))


@dataclass(frozen=True)
class ScoredTarget:
    line: HistoryLine
    score: float
    reasons: tuple[str, ...]


def mentions_bot(line: HistoryLine, bot: BotProfile, replied_bot: int | None = None) -> bool:
    """The line speaks to the bot: @username, a reply to its message, or its name as a vocative."""
    return replied_bot == bot.id or _mentions(line.text, bot)


@lru_cache(maxsize=16384)  # every turn looks at the same recent lines again
def _mentions(text: str, bot: BotProfile) -> bool:
    return addressed(text, bot)


def score_targets(bot: BotProfile, history: Sequence[HistoryLine], now: float,
                  members: Sequence[BotProfile] = (), tz_name: str | None = None) -> list[ScoredTarget]:
    """Candidate reply targets, best first: humans, questions, mentions of this bot, watchlist
    symbols, recency. Never the bot itself, never a line it already answered, never a "rica ederim"
    (it closes a thread) nor a thank-you meant for someone else. A bot's question to the group
    (``members``: the chat's bots) is answered by the one or two that fit it best, like a person's."""
    answered = {line.reply_to_id for line in history if line.bot_id == bot.id and line.reply_to_id}
    author = {line.id: line.bot_id for line in history}
    replies = Counter(line.reply_to_id for line in history if line.bot_id is not None and line.reply_to_id)
    watch = {s.upper() for s in bot.watchlist}
    scored: list[ScoredTarget] = []
    for line in history[-SCORED_LINES:]:
        if line.bot_id == bot.id or line.id in answered:
            continue
        to_me = mentions_bot(line, bot, author.get(line.reply_to_id) if line.reply_to_id else None)
        if line.is_human and not to_me and not _open_to_others(line, replies[line.id], now):
            continue
        if not to_me and not line.is_human and _asks_another(line, bot, now):
            continue
        chosen = False
        if not to_me and not line.is_human and members:
            if not _mine_to_answer(line, bot, replies[line.id], now, members, tz_name):
                continue
            # a fresh question to the group that this bot was chosen for is its to answer, first
            chosen = is_question(line.text) and not replies[line.id] and now - line.created_at < HUMAN_QUIET_S
        act = classify(line.text).act
        if act == "welcome" or (act == "thanks" and not to_me) or (not line.is_human and _acknowledges(line.text)):
            continue  # "rica ederim", "Anladım" close a thread; a thank-you to another member is not this bot's
        score, reasons = 1.0, []
        if line.is_human:
            score += 3.0
            reasons.append("human")
        if is_question(line.text):
            score += 1.5
            reasons.append("question")
        if to_me:
            score += 4.0
            reasons.append("mention")
        elif chosen:
            score += 3.0
            reasons.append("chosen")
        hits = len(_upper_words(line.text) & watch)
        if hits:
            score += min(2, hits) * 1.0
            reasons.append("watchlist")
        age = max(0.0, now - line.created_at)
        score *= math.pow(0.5, age / RECENCY_HALF_LIFE_S)
        scored.append(ScoredTarget(line, score, tuple(reasons)))
    scored.sort(key=lambda s: (-s.score, -s.line.created_at))
    return scored


_TAG = re.compile(r"@(\w+)")


def _asks_another(line: HistoryLine, bot: BotProfile, now: float) -> bool:
    """A bot's question that tags another bot is left to that bot for ``HUMAN_QUIET_S`` (two others
    answering a question put to a third read wrong, and drafted at once on two workers they can
    even be the same sentence)."""
    if now - line.created_at >= HUMAN_QUIET_S or "@" not in line.text:
        return False
    tagged = {name.lower() for name in _TAG.findall(line.text)} - {(line.username or "").lower()}
    return bool(tagged) and bot.username.lower() not in tagged and is_question(line.text)


def _acknowledges(text: str) -> bool:
    """A bot's short acknowledgement or emoji reaction ("Anladım", "Not aldım", "🔥 🚀"): nothing to reply to
    (a short line about something, "SISE alev alev", is not one)."""
    return len(_WORD.findall(text)) <= 3 and not is_question(text) and classify(text).subject is None


def _mine_to_answer(line: HistoryLine, bot: BotProfile, replies: int, now: float,
                    members: Sequence[BotProfile], tz_name: str | None) -> bool:
    """May ``bot`` answer another bot's line? A question to the group belongs to the one or two bots
    that fit it best (``addressing.answerers``, among those around when it was asked): three bots each
    explaining "BIST100, Borsa İstanbul'un en büyük 100 şirketinden oluşan ana endekstir" read as an
    echo. Later, a question nobody answered is open to anyone; an answered one is not answered again
    (a bot may still take up an answer). Any other line is open."""
    if not is_question(line.text):
        return True
    if now - line.created_at >= HUMAN_QUIET_S:
        return replies == 0
    others = [m for m in members if m.id != line.bot_id]
    if tz_name is not None:
        others = [m for m in others if active_at(m, line.created_at, tz_name)] or others
    return bot.id in answerers(line.text, others)


def _open_to_others(line: HistoryLine, replies: int, now: float) -> bool:
    """May a bot the person did not address answer this line now? A question belongs to the bots its
    reply jobs chose: later anyone may answer it only if nobody has; any other line takes at most
    ``HUMAN_MAX_REPLIES`` replies in ``HUMAN_QUIET_S``, then anyone may join."""
    if not is_question(line.text):
        return replies < HUMAN_MAX_REPLIES or now - line.created_at >= HUMAN_QUIET_S
    # a question already answered is not answered again by another bot (it would add nothing new: the
    # offline composer draws on the same facts); one nobody answered is open to anyone after the quiet time
    return replies == 0 and now - line.created_at >= HUMAN_QUIET_S


def choose_chat(bot: BotProfile, chats: Sequence[ChatInfo], rng: random.Random,
                activity: dict[int, float] | None = None) -> ChatInfo | None:
    """A chat the bot belongs to, favouring livelier chats a little (``activity``: chat id → weight)."""
    mine = [c for c in chats if c.enabled and c.id in bot.chat_ids]
    if not mine:
        return None
    weights = [1.0 + (activity or {}).get(c.id, 0.0) for c in mine]
    return rng.choices(mine, weights=weights, k=1)[0]


def choose_topic(bot: BotProfile, chat: ChatInfo, history: Sequence[HistoryLine], rng: random.Random,
                 prefer: str | None = None) -> str:
    """A topic from the bot's watchlist and the chat's topics, weighted down by how often it was
    talked about recently, so that no topic dominates."""
    if prefer:
        return prefer
    candidates = list(dict.fromkeys([*bot.watchlist, *chat.topics])) or ["piyasa"]
    recent = Counter(line.topic for line in history[-20:] if line.topic)
    weights = [1.0 / (1.0 + 2.0 * recent.get(topic, 0)) for topic in candidates]
    return rng.choices(candidates, weights=weights, k=1)[0]


def _topic_in(line: HistoryLine, bot: BotProfile, chat: ChatInfo) -> str | None:
    """What the line is about: a watched symbol or chat topic it names, else the subject it asks or
    talks about (``llm.asks``), else the topic it was written on."""
    words = _upper_words(line.text)
    for topic in [*bot.watchlist, *chat.topics]:
        if topic.upper() in words:
            return topic
    return topic_of(classify(line.text)) or line.topic


def quiet_after_own(bot_id: int, history: Sequence[HistoryLine], now: float, interval: float, company: bool) -> bool:
    """The bot's own message is the chat's newest and nobody answered it for one of its own pacing
    intervals (``interval`` seconds), while another member is around (``company``): a person then
    brings something new up rather than wait for ever. In a chat held back by the day's LLM plan the
    newcomer lost a third of her messages waiting. Alone in the chat it still waits: nobody talks to
    an empty room."""
    return bool(history) and history[-1].bot_id == bot_id and now - history[-1].created_at >= interval and company


def decide_turn(bot: BotProfile, chat: ChatInfo, history: Sequence[HistoryLine], config: EngineConfig,
                rng: random.Random, now: float, usernames: dict[int, str], *,
                allow_self_follow_up: bool = False, members: Sequence[BotProfile] = ()) -> Turn | None:
    """What the bot does now; None when it would follow up on its own message (wait instead).
    ``members``: the chat's bots (who else may answer a bot's question to the group)."""
    if history and history[-1].bot_id == bot.id and not allow_self_follow_up:
        return None  # no immediate self-follow-up
    targets = score_targets(bot, history, now, members, config.timezone)
    direct = [t for t in targets if "mention" in t.reasons or "chosen" in t.reasons]
    if direct and (direct[0].line.is_human or rng.random() < 0.7):
        # a line that speaks to this bot is answered first (a human's always)
        target = direct[0].line
        mode = "human_reply" if target.is_human else "reply"
        return _reply_turn(bot, chat, target, mode, config, rng, now, usernames, addressed=True)
    roll = rng.random()
    calm = [t for t in targets if not classify(t.line.text).is_question]  # a question is answered, not reacted to
    if calm and roll < config.reaction_probability:
        target = calm[0].line
        return Turn(bot.id, chat.id, "reaction", _topic_in(target, bot, chat) or choose_topic(bot, chat, history, rng),
                    reply_to=target, due_at=now)
    if targets and roll < config.reaction_probability + config.reply_probability:
        weights = [t.score for t in targets[:8]]
        target = rng.choices([t.line for t in targets[:8]], weights=weights, k=1)[0]
        return _reply_turn(bot, chat, target, "reply", config, rng, now, usernames, addressed=False)
    topic = choose_topic(bot, chat, history, rng)
    mention = None
    others = [name for bot_id, name in usernames.items() if bot_id != bot.id]
    if others and rng.random() < config.mention_probability / 3:
        mention = rng.choice(sorted(others))  # ask another persona directly
    return Turn(bot.id, chat.id, "new", topic, mention=mention, due_at=now)


def _reply_turn(bot: BotProfile, chat: ChatInfo, target: HistoryLine, mode: str, config: EngineConfig,
                rng: random.Random, now: float, usernames: dict[int, str], *, addressed: bool) -> Turn:
    """A reply keeps its target's subject (never a random one); it threads to the target, so it never
    @mentions its author as well (that was most of the chat's mentions)."""
    return Turn(bot.id, chat.id, mode, _topic_in(target, bot, chat) or "", reply_to=target,
                due_at=now, addressed=addressed)  # "": a thank-you or a greeting has no topic to add


def held_turn(turn: Turn) -> Turn | None:
    """The turn a bot takes when the day's LLM budget is kept for people: a short reaction to its reply
    target (composed without an LLM), or None (a new post or an answer to a question waits)."""
    if turn.reply_to is None or turn.mode == "human_reply" or classify(turn.reply_to.text).is_question:
        return None
    return replace(turn, mode="reaction", mention=None)
