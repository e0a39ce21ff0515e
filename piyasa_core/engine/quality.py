"""Conversation quality report: variety, interaction, topic spread and the personas.md defects.

All rates are over bot messages (human messages count only in ``messages``): humans may write what
they like, the report judges the bots.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from piyasa_core.engine.addressing import addressed, is_question
from piyasa_core.engine.dedup import dedup_key, near_pairs
from piyasa_core.engine.postprocess import EMOJI_RE, artifacts, tr_lower
from piyasa_core.engine.turns import HUMAN_QUIET_S
from piyasa_core.engine.types import BotProfile, HistoryLine
from piyasa_core.engine.prompt import QUOTED_LINES
from piyasa_core.llm.asks import answers, classify, priced_symbol
from piyasa_core.llm.daytime import SIGN_OFF_QUIET_S, is_sign_off, time_phrase_violations

__all__ = ["QualityInput", "QualityReport", "inputs_from_history", "quality_report"]

MAX_EXAMPLES = 5
MAX_ANSWER_EXAMPLES = 12
_HANDLE = re.compile(r"@([A-Za-z][A-Za-z0-9_]{2,31})")


@dataclass(frozen=True)
class QualityInput:
    """One message as the report sees it."""

    text: str
    bot_id: int | None  # None: a human
    chat_id: int
    reply_to_bot_id: int | None = None  # author of the replied-to message, when that was a bot
    reply_to_is_human: bool = False
    topic: str | None = None
    id: int | None = None
    reply_to_id: int | None = None
    created_at: float | None = None  # simulated epoch seconds
    hour: float | None = None  # local hour of day when it was sent (time-of-day phrases are judged by it)
    username: str | None = None  # the bot's (or the person's) handle
    reply_to_username: str | None = None


@dataclass(frozen=True)
class QualityReport:
    """Numbers describing one conversation sample (see ``quality_report``)."""

    messages: int
    bot_messages: int
    bot_to_bot_reply_rate: float
    human_reply_count: int
    distinct_3gram_ratio: float
    topic_spread: dict[str, float] = field(default_factory=dict)
    top_topic_share: float = 0.0
    artifact_count: int = 0
    artifact_examples: tuple[tuple[str, tuple[str, ...]], ...] = ()
    distinct_system_prompts: int = 0
    duplicates: int = 0
    artifact_classes: dict[str, int] = field(default_factory=dict)
    mention_rate: float = 0.0
    self_mentions: int = 0
    mentions_of_reply_author: int = 0
    emoji_rate_by_bot: dict[str, float] = field(default_factory=dict)
    human_questions: int = 0
    human_questions_answered: int = 0
    replies_per_human_question: float = 0.0
    max_bots_per_human_question_10min: int = 0
    time_phrase_violations: int = 0
    time_phrase_examples: tuple[tuple[str, tuple[str, ...]], ...] = ()
    question_replies: int = 0
    answered_question_rate: float = 0.0
    human_questions_with_answer: int = 0
    addressed_human_questions: int = 0
    addressed_answered_first: int = 0
    questions: int = 0
    unanswered_repeats: int = 0
    unanswered_repeat_rate: float = 0.0
    near_duplicates: int = 0
    near_duplicate_rate: float = 0.0
    echoed_prices: int = 0
    echoed_price_rate: float = 0.0
    misdirected_pleasantries: int = 0
    harmony_errors: int = 0
    sign_offs: int = 0
    sign_off_then_spoke: int = 0
    answer_examples: tuple[tuple[str, str, bool], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (examples as ``[text, [artifact, …]]`` lists)."""
        out = asdict(self)
        out["topic_spread"] = dict(self.topic_spread)
        out["artifact_examples"] = [[text, list(names)] for text, names in self.artifact_examples]
        out["time_phrase_examples"] = [[text, list(names)] for text, names in self.time_phrase_examples]
        out["answer_examples"] = [[q, a, ok] for q, a, ok in self.answer_examples]
        return out


def _trigrams(text: str) -> list[tuple[str, ...]]:
    words = re.findall(r"\w+", tr_lower(text))
    return [tuple(words[i:i + 3]) for i in range(len(words) - 2)]


def _names(text: str, m: QualityInput) -> bool:
    """``text`` calls the author of ``m`` by @username."""
    return bool(m.username) and f"@{m.username}".lower() in text.lower()


def _answer_measures(messages: Sequence[QualityInput], bots: Sequence[BotProfile]) -> dict[str, Any]:
    """Answered questions, addressed-first, unanswered repeats and near duplicates (see
    ``quality_report``)."""
    by_id = {m.id: m for m in messages if m.id is not None}
    asked = {m.id: m for m in messages if m.id is not None and classify(m.text).is_question}
    pairs = [(asked[m.reply_to_id], m) for m in messages
             if m.bot_id is not None and m.reply_to_id in asked]
    verdicts = [(q, r, answers(q.text, r.text)) for q, r in pairs]
    answered_ids = {q.id for q, _, ok in verdicts if ok}
    human_q = [q for q in asked.values() if q.bot_id is None]
    first_reply: dict[int, QualityInput] = {}
    for q, r in pairs:
        first_reply.setdefault(q.id, r)  # type: ignore[arg-type]
    addressed_q = first_ok = 0
    for q in human_q:
        target = by_id.get(q.reply_to_id) if q.reply_to_id is not None else None
        called = [b.id for b in bots if addressed(q.text, b, reply_to_bot_id=target.bot_id if target else None)]
        if called:
            addressed_q += 1
            first_ok += first_reply.get(q.id) is not None and first_reply[q.id].bot_id in called  # type: ignore[index]
    repeats, earlier = 0, defaultdict(list)
    for q in sorted(asked.values(), key=lambda m: (m.created_at or 0.0, m.id or 0)):
        ask = classify(q.text)
        who = (q.chat_id, q.bot_id if q.bot_id is not None else q.username)
        key = (ask.qtype, ask.subject)
        repeats += any(k == key and qid not in answered_ids for k, qid in earlier[who])
        earlier[who].append((key, q.id))
    near = 0
    per_chat: dict[int, list[str]] = defaultdict(list)
    for m in messages:
        if m.bot_id is not None:
            per_chat[m.chat_id].append(m.text)
    for texts in per_chat.values():
        near += len(near_pairs(texts))
    n_bots = sum(1 for m in messages if m.bot_id is not None)
    echoed = 0
    recent: dict[int, list[QualityInput]] = defaultdict(list)
    for m in messages:
        window = recent[m.chat_id]
        if m.bot_id is not None and (said := priced_symbol(m.text)) and any(priced_symbol(o.text) == said for o in window):
            echoed += 1
        window.append(m)
        del window[:-QUOTED_LINES]
    misdirected = 0
    for m in messages:
        target = by_id.get(m.reply_to_id) if m.bot_id is not None and m.reply_to_id is not None else None
        if target is None or target.bot_id == m.bot_id:
            continue
        act = classify(target.text).act
        thanked = by_id.get(target.reply_to_id) if target.reply_to_id is not None else None
        if act == "welcome" or (act == "thanks" and thanked is not None and thanked.bot_id != m.bot_id
                                and not _names(target.text, m)):
            misdirected += 1
    return {
        "question_replies": len(pairs),
        "answered_question_rate": sum(ok for *_, ok in verdicts) / len(pairs) if pairs else 0.0,
        "human_questions_with_answer": sum(1 for q in human_q if q.id in answered_ids),
        "addressed_human_questions": addressed_q, "addressed_answered_first": first_ok,
        "questions": len(asked), "unanswered_repeats": repeats,
        "unanswered_repeat_rate": repeats / len(asked) if asked else 0.0,
        "near_duplicates": near, "near_duplicate_rate": near / n_bots if n_bots else 0.0,
        "echoed_prices": echoed, "echoed_price_rate": echoed / n_bots if n_bots else 0.0,
        "misdirected_pleasantries": misdirected,
        "answer_examples": tuple((q.text, r.text, ok) for q, r, ok in verdicts[:MAX_ANSWER_EXAMPLES]),
    }


def quality_report(messages: Sequence[QualityInput],
                   system_prompts: Mapping[int, str] | None = None,
                   profiles: Sequence[BotProfile] = ()) -> QualityReport:
    """Report on ``messages`` (oldest first).

    - ``bot_to_bot_reply_rate``: bot messages replying to another bot (not itself) / bot messages;
    - ``human_reply_count``: bot messages replying to a human;
    - ``distinct_3gram_ratio``: distinct / total word trigrams (words = ``\\w+`` of the Turkish
      lower-cased text, trigrams within one message) over bot messages; 1.0 when there are none;
    - ``topic_spread``: topic → share of the bot messages that carry a topic; ``top_topic_share`` its max;
    - ``artifact_count``: total ``postprocess.artifacts`` entries over bot messages, with up to
      ``MAX_EXAMPLES`` examples;
    - ``distinct_system_prompts``: distinct texts among ``system_prompts`` (bot id → prompt);
    - ``duplicates``: bot messages whose ``dedup_key`` equals an earlier bot message's in the same chat;
    - ``artifact_classes``: artifact name → count (``harmony``, ``doubled-word``, ``midsentence-caps``, …);
    - ``mention_rate``: bot messages with an @mention / bot messages; ``self_mentions``: bot messages
      that @mention their own author; ``mentions_of_reply_author``: replies that also @mention the
      author they reply to (the reply addresses them already);
    - ``emoji_rate_by_bot``: per bot username, the share of its messages with at least one emoji;
    - ``human_questions``: messages by people that ask something (``addressing.is_question``);
      ``human_questions_answered``: those with at least one bot reply in the sample;
      ``replies_per_human_question``: bot replies per such question; ``max_bots_per_human_question_10min``:
      the most distinct bots that replied to one question within 10 simulated minutes;
    - ``time_phrase_violations``: bot messages with a time-of-day phrase that is false at their hour
      (``llm.daytime``), with up to ``MAX_EXAMPLES`` examples; ``harmony_errors``: vowel-harmony
      artifacts ("veriler da");
    - ``question_replies``: bot replies to a message that asks (``llm.asks.classify``, any author);
      ``answered_question_rate``: of those, the share that answer it (``llm.asks.answers``: the
      question's subject and an answer of the asked type); ``human_questions_with_answer``: people's
      questions with at least one such answer; ``answer_examples``: the first question → reply pairs
      with the verdict;
    - ``addressed_human_questions``: people's questions that addressed a bot of ``profiles`` (@username,
      a reply to it, its name as a vocative); ``addressed_answered_first``: of which the first bot
      reply came from an addressed bot;
    - ``questions``: messages that ask (bots' and people's); ``unanswered_repeats``: questions that
      ask again what the same author asked earlier in the chat (same question type and subject) and
      got no answer; ``unanswered_repeat_rate`` their share of ``questions``;
    - ``sign_offs``: bot messages that say goodbye (``llm.daytime.is_sign_off``); ``sign_off_then_spoke``:
      of those, the ones whose bot wrote again in the chat within ``SIGN_OFF_QUIET_S`` (an hour);
    - ``near_duplicates``: bot messages that nearly repeat one of the messages before them in the chat
      (``dedup.near_pairs``, the engine's rule); ``near_duplicate_rate``: per bot message;
    - ``echoed_prices``: bot messages that state the price of an instrument whose price one of the
      ``QUOTED_LINES`` messages before them in the chat stated (three bots answering "EREGL … 31,43 TL"
      with "EREGL şu an 31,43 TL"); ``echoed_price_rate``: per bot message;
    - ``misdirected_pleasantries``: bot replies to a "rica ederim" (it closes a thread) or to a
      thank-you that thanked another member (it replied to someone else's message and does not
      @mention the replier).
    """
    bots = [m for m in messages if m.bot_id is not None]
    n_bots = len(bots)
    to_bot = sum(1 for m in bots if m.reply_to_bot_id is not None and m.reply_to_bot_id != m.bot_id)
    grams = [g for m in bots for g in _trigrams(m.text)]
    topics = Counter(m.topic for m in bots if m.topic)
    tagged = sum(topics.values())
    spread = {t: c / tagged for t, c in topics.most_common()} if tagged else {}
    artifact_count, examples = 0, []
    seen: dict[int, set[str]] = defaultdict(set)
    duplicates = 0
    for m in bots:
        found = artifacts(m.text)
        artifact_count += len(found)
        if found and len(examples) < MAX_EXAMPLES:
            examples.append((m.text, tuple(found)))
        key = dedup_key(m.text)
        if key in seen[m.chat_id]:
            duplicates += 1
        seen[m.chat_id].add(key)
    classes: Counter[str] = Counter()
    mentioned = self_mentions = of_author = 0
    emoji_msgs: Counter[str] = Counter()
    per_author: Counter[str] = Counter()
    late, late_examples = 0, []
    for m in bots:
        classes.update(artifacts(m.text))
        handles = {h.lower() for h in _HANDLE.findall(m.text)}
        mentioned += bool(handles)
        self_mentions += bool(m.username and m.username.lower() in handles)
        of_author += bool(m.reply_to_username and m.reply_to_username.lower() in handles)
        who = m.username or str(m.bot_id)
        per_author[who] += 1
        emoji_msgs[who] += bool(EMOJI_RE.search(m.text))
        if m.hour is not None and (wrong := time_phrase_violations(m.text, m.hour)):
            late += 1
            if len(late_examples) < MAX_EXAMPLES:
                late_examples.append((m.text, tuple(wrong)))
    questions = {m.id: m for m in messages if m.bot_id is None and m.id is not None and is_question(m.text)}
    replies: dict[int, list[QualityInput]] = defaultdict(list)
    for m in bots:
        if m.reply_to_id in questions:
            replies[m.reply_to_id].append(m)  # type: ignore[index]
    soon = [len({r.bot_id for r in rs if r.created_at is not None and questions[q].created_at is not None
                 and r.created_at - questions[q].created_at <= HUMAN_QUIET_S}) for q, rs in replies.items()]
    offs = [m for m in bots if m.created_at is not None and is_sign_off(m.text)]
    spoke_again = sum(1 for m in offs if any(
        o.bot_id == m.bot_id and o.chat_id == m.chat_id and o.created_at is not None
        and 0 < o.created_at - m.created_at < SIGN_OFF_QUIET_S for o in bots))  # type: ignore[operator]
    return QualityReport(
        **_answer_measures(messages, profiles), harmony_errors=classes.get("harmony", 0),
        sign_offs=len(offs), sign_off_then_spoke=spoke_again,
        artifact_classes=dict(classes.most_common()),
        mention_rate=mentioned / n_bots if n_bots else 0.0, self_mentions=self_mentions,
        mentions_of_reply_author=of_author,
        emoji_rate_by_bot={who: emoji_msgs[who] / n for who, n in sorted(per_author.items())},
        human_questions=len(questions), human_questions_answered=len(replies),
        replies_per_human_question=sum(map(len, replies.values())) / len(questions) if questions else 0.0,
        max_bots_per_human_question_10min=max(soon, default=0),
        time_phrase_violations=late, time_phrase_examples=tuple(late_examples),
        messages=len(messages), bot_messages=n_bots,
        bot_to_bot_reply_rate=to_bot / n_bots if n_bots else 0.0,
        human_reply_count=sum(1 for m in bots if m.reply_to_is_human),
        distinct_3gram_ratio=len(set(grams)) / len(grams) if grams else 1.0,
        topic_spread=spread, top_topic_share=max(spread.values(), default=0.0),
        artifact_count=artifact_count, artifact_examples=tuple(examples),
        distinct_system_prompts=len(set(system_prompts.values())) if system_prompts else 0,
        duplicates=duplicates)


def inputs_from_history(lines: Sequence[HistoryLine]) -> list[QualityInput]:
    """``QualityInput`` rows for history lines; replies are resolved within ``lines`` (a reply whose
    target is not among them counts as no reply)."""
    by_id = {line.id: line for line in lines}
    out: list[QualityInput] = []
    for line in lines:
        target = by_id.get(line.reply_to_id) if line.reply_to_id is not None else None
        out.append(QualityInput(
            text=line.text, bot_id=line.bot_id, chat_id=line.chat_id,
            reply_to_bot_id=target.bot_id if target is not None else None,
            reply_to_is_human=target is not None and target.is_human, topic=line.topic,
            id=line.id, reply_to_id=line.reply_to_id, created_at=line.created_at, username=line.username,
            reply_to_username=target.username if target is not None else None))
    return out
