"""Who talks when: every community bot with its hours, the operator's switch and what its worker
reports (next due time, this hour's messages), folded by the supervisor into ``Snapshot.bots``.

Hours are read on the simulated clock in `[engine] timezone`; a bot's next change (away → active or
active → away) is computed once and kept until the clock reaches it, so a snapshot at 10 Hz costs
one comparison per bot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from piyasa_core.engine.pacing import Window
from piyasa_core.store.models import Bot, Chat, Message
from piyasa_core.timeutil import as_utc
from piyasa_core.workers.snapshot import BotView

LAST_TEXT_CHARS = 400  # the last message's text kept per bot (longer ones end in …; the screen clips further)


def clipped(text: str) -> str:
    return text if len(text) <= LAST_TEXT_CHARS else text[: LAST_TEXT_CHARS - 1] + "…"


@dataclass(frozen=True)
class BotRecord:
    """A bot as the database has it (what does not change while it runs)."""

    bot_id: int
    name: str
    username: str
    enabled: bool  # config.toml's
    operator_disabled: bool
    active_hours: tuple[str, ...]
    prime_hours: tuple[str, ...]
    stances: tuple[str, ...]


def hours_state(windows: list[Window], t: float, zone: ZoneInfo) -> tuple[bool, float | None]:
    """(inside a window at ``t``, the next moment that changes; None: never — no windows, or always in)."""
    if not windows:
        return True, None

    def inside(at: float) -> bool:
        local = datetime.fromtimestamp(at, zone)
        minute = local.hour * 60 + local.minute + local.second / 60
        return any(w.contains(minute) for w in windows)

    now_in = inside(t)
    midnight = datetime.fromtimestamp(t, zone).replace(hour=0, minute=0, second=0, microsecond=0)
    edges = sorted({(midnight + timedelta(days=day, minutes=m)).timestamp()
                    for day in range(3) for w in windows for m in (w.start, w.end)})
    return now_in, next((e for e in edges if e > t and inside(e) != now_in), None)


def last_messages(session: Session) -> dict[int, tuple[float, str]]:
    """Each bot's newest delivered message in the community's chats: (sent at, text)."""
    newest = (select(func.max(Message.id)).join(Chat, Chat.id == Message.chat_id)
              .where(Message.bot_id.is_not(None), Message.status == "sent", Chat.run_id.is_(None))
              .group_by(Message.bot_id))
    rows = session.execute(select(Message.bot_id, Message.sent_at, Message.created_at, Message.text)
                           .where(Message.id.in_(newest))).all()
    return {int(b): (as_utc(sent or created).timestamp(), clipped(text)) for b, sent, created, text in rows}


class Roster:
    """The supervisor's list of bots (not thread-safe: the supervisor holds its lock around calls)."""

    def __init__(self, tz_name: str, workers: int) -> None:
        self.zone = ZoneInfo(tz_name)
        self.workers = workers
        self.records: dict[int, BotRecord] = {}
        self.last: dict[int, tuple[float, str]] = {}
        self._windows: dict[int, list[Window]] = {}
        self._hours: dict[int, tuple[float, bool, float | None]] = {}  # bot → (computed at, active, next change)

    def load(self, session: Session) -> None:
        """Every bot of the database, and its newest message."""
        records = {}
        for row in session.scalars(select(Bot).order_by(Bot.id)):
            stances = tuple(f"{s.topic}: {s.view} ({s.confidence:.1f})" for s in row.stances)
            records[row.id] = BotRecord(row.id, row.name, row.username, bool(row.enabled), bool(row.operator_disabled),
                                        tuple(row.active_hours or ()), tuple(row.prime_hours or ()), stances)
        self.records = records
        self._windows = {b: [Window.parse(w) for w in r.active_hours] for b, r in records.items()}
        self._hours = {}
        self.last = {**self.last, **last_messages(session)}

    def find(self, bot: int | str) -> BotRecord:
        """A bot by id or username; ValueError naming the known ones otherwise."""
        for record in self.records.values():
            if bot == record.bot_id or (isinstance(bot, str) and bot.lstrip("@").lower() == record.username.lower()):
                return record
        known = ", ".join(f"{r.bot_id} ({r.username})" for r in self.records.values()) or "none"
        raise ValueError(f"unknown bot {bot!r}; known: {known}")

    def set_operator_disabled(self, bot_id: int, disabled: bool) -> None:
        record = self.records[bot_id]
        self.records[bot_id] = BotRecord(**{**record.__dict__, "operator_disabled": disabled})

    def note_sent(self, bot_id: int, at: float, text: str) -> None:
        """The bot's newest message as it arrives (also when the simulated clock was set back since)."""
        self.last[bot_id] = (at, clipped(text))

    def _hours_at(self, bot_id: int, t: float) -> tuple[bool, float | None]:
        cached = self._hours.get(bot_id)
        if cached is not None and cached[0] <= t and (cached[2] is None or t < cached[2]):
            return cached[1], cached[2]
        active, change = hours_state(self._windows[bot_id], t, self.zone)
        self._hours[bot_id] = (t, active, change)
        return active, change

    def views(self, sim_now: float, reports: dict[int, tuple[str, Any]],
              pace: tuple[int, int]) -> tuple[BotView, ...]:
        """Every bot now; ``reports``: worker id → (its state, its last EngineMetrics or None);
        ``pace``: the configured (hourly_min, hourly_max) until a worker tells its own."""
        out = []
        for bot_id, r in self.records.items():
            worker = bot_id % self.workers
            worker_state, metrics = reports.get(worker, ("stopped", None))
            extra = metrics.extra if metrics is not None else {}
            mine = (extra.get("bots") or {}).get(bot_id) if worker_state == "running" else None
            low, high = extra.get("pace") or pace
            active, change = self._hours_at(bot_id, sim_now)
            talks = r.enabled and not r.operator_disabled
            last_at, last_text = self.last.get(bot_id, (None, ""))
            out.append(BotView(
                bot_id=bot_id, name=r.name, username=r.username, worker=worker,
                state=("active" if active else "away") if talks else "disabled",
                disabled_by="" if talks else "operator" if r.enabled else "config",
                next_change=change if talks else None,
                next_due=mine.get("due") if mine else None, sent_hour=mine.get("hour") if mine else None,
                plan_per_hour=mine.get("plan") if mine else None, hourly_min=int(low), hourly_max=int(high),
                active_hours=r.active_hours, prime_hours=r.prime_hours, last_at=last_at, last_text=last_text,
                stances=r.stances))
        return tuple(out)


@dataclass(frozen=True)
class WhoTalks:
    """The dashboard's line: who is inside their active hours, who comes next and when."""

    active: tuple[str, ...]  # first names
    next_name: str | None
    next_at: float | None
    enabled: int  # bots that may talk at all


def who_talks(bots: tuple[BotView, ...]) -> WhoTalks:
    """From the snapshot's bots: the active ones, and the away bot whose hours start first."""
    talking = [b for b in bots if b.state != "disabled"]
    active = tuple(first_name(b.name) for b in talking if b.state == "active")
    coming = sorted((b for b in talking if b.state == "away" and b.next_change is not None),
                    key=lambda b: b.next_change or 0.0)
    head = coming[0] if coming else None
    return WhoTalks(active, first_name(head.name) if head else None, head.next_change if head else None,
                    len(talking))


def first_name(name: str) -> str:
    return name.split()[0] if name.split() else name
