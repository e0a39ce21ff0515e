"""People in a benchmark run: a group member asks a question every ``human_every`` simulated seconds.

The questions are what members of a BIST, FX and crypto group ask (dividends, stop-loss, a ticker's
price, the data calendar, …). Every other one addresses a bot that is active at that moment, in turn
by first name as a vocative ("Ayşe, …"), by @username, or inline ("Mehmet sence …"); the rest ask the
group. They are stored and routed exactly as the operator's `/` post is (``telegram.inbound``), so
the engine's own addressing decides who answers; the report judges how they were answered.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

from sqlalchemy.engine import Engine

from piyasa_core.config.schema import EngineConfig
from piyasa_core.engine.pacing import BotPacer
from piyasa_core.engine.types import BotProfile, ReplyJob
from piyasa_core.telegram.inbound import post_as_human

__all__ = ["ASKERS", "QUESTIONS", "AskedQuestion", "HumanAsker", "address"]

QUESTIONS: tuple[tuple[str, str], ...] = (
    ("vocative", "temettü ne zaman hesaba yatıyor?"),
    ("none", "Stop loss nasıl koyulur, yeni başlayan biri için?"),
    ("at", "THYAO şu an kaç TL?"),
    ("none", "Enflasyon verisi ne zaman açıklanıyor?"),
    ("inline", "ASELS niye düştü bugün?"),
    ("none", "BIST30 nedir, BIST100'den farkı ne?"),
    ("vocative", "faiz kararı borsayı nasıl etkiler?"),
    ("none", "Dolar bu hafta nereye gider sizce?"),
    ("at", "bedelsiz ne demek?"),
    ("none", "Bitcoin neden bu kadar oynak?"),
    ("vocative", "RSI nasıl okunur?"),
    ("none", "Gram altın bugün kaç TL?"),
)
"""(how the question addresses a bot, its words); a question is posted in this order, round and round."""

ASKERS = ("Burak", "Elif", "Serkan", "Deniz")
"""The people asking (no bot has these first names, so no name is taken for a vocative)."""


def first_name(bot: BotProfile) -> str:
    return bot.name.split()[0]


def address(mode: str, text: str, bot: BotProfile | None) -> str:
    """The question's words addressed to ``bot`` as ``mode`` says (as asked of the group without a bot)."""
    if bot is None or mode == "none":
        return text[0].upper() + text[1:]
    if mode == "vocative":
        return f"{first_name(bot)}, {text}"
    if mode == "at":
        return f"@{bot.username} {text}"
    head = text.split()[0]
    words = text if head.isupper() else text[0].lower() + text[1:]  # a ticker keeps its capitals
    return f"{first_name(bot)} sence {words}"  # inline: "Mehmet sence ASELS niye …"


@dataclass(frozen=True)
class AskedQuestion:
    """One question posted during the run (the report lists them)."""

    at: float  # simulated epoch seconds
    chat: str
    asker: str
    text: str
    addressed: str | None  # the bot's username the words address, None: the group
    message_id: int | None
    answering: tuple[str, ...]  # usernames the engine gave a reply job

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


class HumanAsker:
    """Posts the run's questions into its chats in turn; ``due(now)`` says whether one is due."""

    def __init__(self, engine: Engine, bots: Sequence[BotProfile], chats: dict[int, str], config: EngineConfig,
                 every: float, begin: float, end: float, route: Callable[[ReplyJob], None]) -> None:
        self.engine = engine
        self.bots = list(bots)
        self.chats = chats  # chat id → key, the run's chats
        self.pacers = {b.id: BotPacer(b, config, random.Random(0)) for b in self.bots}
        self.every = every
        self.next_at = begin + every / 2
        self.last_at = end - min(every, 120.0)  # a question needs time to be answered inside the window
        self.route = route
        self.tz_name = config.timezone
        self.asked: list[AskedQuestion] = []
        self._turn = 0  # which bot an addressed question goes to next

    def due(self, now: float) -> bool:
        return now >= self.next_at and self.next_at <= self.last_at

    def ask(self, now: float) -> AskedQuestion:
        """Post the next question now, into the next chat, and route its reply jobs."""
        n = len(self.asked)
        mode, words = QUESTIONS[n % len(QUESTIONS)]
        chat_ids = sorted(self.chats)
        chat_id = chat_ids[n % len(chat_ids)]
        here = [b for b in self.bots if chat_id in b.chat_ids and self.pacers[b.id].is_active(now)]
        bot = None
        if mode != "none" and here:
            bot = here[self._turn % len(here)]
            self._turn += 1
        text = address(mode, words, bot)
        asker = ASKERS[n % len(ASKERS)]
        with self.engine.begin() as conn:
            stored = post_as_human(conn, chat_id=chat_id, text=text, human_name=asker, created_at=now, bots=self.bots,
                                   tz_name=self.tz_name)
        names = {b.id: b.username for b in self.bots}
        for job in stored.jobs:
            self.route(job)
        asked = AskedQuestion(now, self.chats[chat_id], asker, text, bot.username if bot else None,
                              stored.message_id, tuple(names.get(j.bot_id, str(j.bot_id)) for j in stored.jobs))
        self.asked.append(asked)
        self.next_at += self.every
        return asked


def replies_to(engine: Engine, message_ids: Sequence[int], end: float) -> dict[int, list[tuple[str, float, str]]]:
    """Bot replies sent before ``end`` to each of ``message_ids``: (username, sent at, text), in order."""
    from datetime import datetime, timezone

    from sqlalchemy import select

    from piyasa_core.store.models import Bot, Message
    from piyasa_core.timeutil import as_utc

    out: dict[int, list[tuple[str, float, str]]] = {}
    if not message_ids:
        return out
    with engine.connect() as conn:
        rows = conn.execute(
            select(Message.reply_to_id, Bot.username, Message.sent_at, Message.text)
            .join(Bot, Bot.id == Message.bot_id)
            .where(Message.reply_to_id.in_(list(message_ids)), Message.status == "sent",
                   Message.sent_at < datetime.fromtimestamp(end, timezone.utc))
            .order_by(Message.sent_at, Message.id)).all()
    for target, username, sent_at, text in rows:
        out.setdefault(int(target), []).append((username, as_utc(sent_at).timestamp(), text))
    return out
