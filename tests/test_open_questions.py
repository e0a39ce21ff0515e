"""A takeover re-derives the reply jobs dropped while nobody held a shard (piyasa_core.engine.open_questions):
people's recent messages to the taken bots that those bots have not answered, on a real store."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select, update

from piyasa_core.engine.open_questions import owed_jobs, window_s
from piyasa_core.engine.repo import load_profiles
from piyasa_core.store.db import session_scope
from piyasa_core.store.models import Chat, Message
from piyasa_core.telegram.inbound import post_as_human
from tests.engine_support import SIM_START, setup_store

TZ = "Europe/Istanbul"


def test_owed_jobs_are_the_unanswered_recent_questions_of_the_taken_bots(workdir: Any) -> None:
    config, store = setup_store()
    with session_scope(store.sessions) as session:
        chat_id = session.scalar(select(Chat.id))
        bots = load_profiles(session)
    ids = {b.username: b.id for b in bots}

    def post(text: str, at: float) -> int:
        with store.engine.begin() as conn:
            stored = post_as_human(conn, chat_id=chat_id, text=text, human_name="Okur", created_at=at, bots=bots,
                                   tz_name=TZ)
        assert stored.message_id is not None
        return stored.message_id

    def answer(question: int, bot: str, status: str = "sent") -> int:
        with store.engine.begin() as conn:
            return int(conn.execute(insert(Message).values(
                chat_id=chat_id, bot_id=ids[bot], text=f"cevap {question} {bot}", status=status,
                reply_to_id=question, created_at=SIM_START + 60, meta={}).returning(Message.id)).scalar_one())

    def owed(taken: set[str], since: float = SIM_START - 1) -> list[tuple[str, int, bool]]:
        names = {v: k for k, v in ids.items()}
        return [(names[j.bot_id], j.message_id, j.addressed)
                for j in owed_jobs(store.sessions, [chat_id], bots, {ids[b] for b in taken}, since, TZ)]

    old = post("@zeynep_newbie fon nasıl alınır?", SIM_START - 3600)  # an hour before the window
    to_zeynep = post("@zeynep_newbie sen hangi fonu aldın?", SIM_START)
    to_both = post("@ayse_scalp @mehmet_trader bugün BIST nereye kapanır?", SIM_START + 5)
    group = post("altın mı dolar mı, ne dersiniz?", SIM_START + 10)
    post("günaydın herkese", SIM_START + 15)  # no question, nobody addressed: owed to nobody

    assert owed({"zeynep_newbie"}) == [("zeynep_newbie", to_zeynep, True)]
    assert owed({"zeynep_newbie"}, since=SIM_START - 7200) == [("zeynep_newbie", old, True),
                                                                 ("zeynep_newbie", to_zeynep, True)]
    assert [j for j in owed({"ayse_scalp"}) if j[1] != group] == [("ayse_scalp", to_both, True)]
    group_bots = {b for b in ids if any(j[1] == group for j in owed({b}))}
    assert 1 <= len(group_bots) <= 2  # the one or two who fit it best, as when it was posted

    answer(to_both, "ayse_scalp")
    assert [j for j in owed({"ayse_scalp", "mehmet_trader"}) if j[1] == to_both] == [("mehmet_trader", to_both, True)]
    pending = answer(to_zeynep, "zeynep_newbie", "pending")  # being sent by the new holder: not owed twice
    assert owed({"zeynep_newbie"}) == []
    with store.engine.begin() as conn:  # the old holder's reply was fenced or interrupted: owed again
        conn.execute(update(Message).where(Message.id == pending).values(status="failed"))
    assert owed({"zeynep_newbie"}) == [("zeynep_newbie", to_zeynep, True)]

    other = next(b for b in ids if b not in group_bots)
    answer(group, other)  # the group's question got an answer from anyone: nobody owes it any more
    assert not [j for b in group_bots for j in owed({b}) if j[1] == group]
    store.dispose()


def test_the_window_covers_three_lease_timeouts_of_a_scaled_clock() -> None:
    assert window_s(10, 1) == 600  # ten simulated minutes at least
    assert window_s(10, 60) == 1800  # a 10 s lease at ×60 is 600 simulated seconds: three of them


async def test_a_takeover_knows_what_the_taken_bots_said_and_answers_what_they_were_asked(workdir: Any) -> None:
    """Engine.set_shards with a shard gained: the dedup keys of what its bot said under the earlier
    holder are known before it is due, and its unanswered question becomes a reply job."""
    from piyasa_core.engine.clock import SimClock
    from piyasa_core.engine.dedup import dedup_key
    from piyasa_core.engine.factory import build_engine
    from piyasa_core.fleet.share import FleetShare

    config, store = setup_store()
    with session_scope(store.sessions) as session:
        chat_id = session.scalar(select(Chat.id))
        bots = load_profiles(session)
    zeynep = next(b.id for b in bots if b.username == "zeynep_newbie")
    share = FleetShare(host="h1", shards=4)
    engine = build_engine(config, store, worker_id=0, total=1, clock=SimClock(1, SIM_START), fleet=share)
    await engine.start()
    assert zeynep not in engine.bots  # no shard held yet
    said = "Ben de ilk fonumu geçen hafta aldım, yavaş yavaş öğreniyorum."
    with store.engine.begin() as conn:  # under the earlier holder: a line of hers, then a question to her
        conn.execute(insert(Message).values(chat_id=chat_id, bot_id=zeynep, text=said, status="sent",
                                            created_at=SIM_START - 30, meta={}))
        asked = post_as_human(conn, chat_id=chat_id, text="@zeynep_newbie hangi fonu aldın?", human_name="Okur",
                              created_at=SIM_START - 10, bots=bots, tz_name=TZ)
    assert dedup_key(said) not in engine.seen_keys(chat_id)
    await engine.set_shards({zeynep % 4: 7})
    assert zeynep in engine.bots and dedup_key(said) in engine.seen_keys(chat_id)
    assert engine.counts["jobs_recovered"] == 1 and engine._jobs.get_nowait().message_id == asked.message_id
    await engine.set_shards({zeynep % 4: 7})  # nothing gained: nothing recovered again
    assert engine.counts["jobs_recovered"] == 1
    store.dispose()


async def test_a_person_is_answered_once_even_when_the_job_comes_twice(workdir: Any) -> None:
    """The database decides whether a bot answered a person's message, not its history copy: with its
    answer still being sent (pending, not in the history yet), a second job for the message sends nothing."""
    from tests.engine_support import run_for, sent, started_community

    _config, store, events, workers, chat_id, bots = await started_community()
    zeynep = next(b.id for b in bots if b.username == "zeynep_newbie")
    with store.engine.begin() as conn:
        asked = post_as_human(conn, chat_id=chat_id, text="@zeynep_newbie fon nasıl alınır?", human_name="Okur",
                              created_at=workers[0].clock.now(), bots=bots, tz_name=TZ)
        conn.execute(insert(Message).values(chat_id=chat_id, bot_id=zeynep, text="Ben de yeni öğreniyorum, şöyle:",
                                            status="pending", reply_to_id=asked.message_id,
                                            created_at=workers[0].clock.now(), meta={}))
    owner = workers[zeynep % 4]
    for job in asked.jobs:
        owner.submit_reply_job(job)
    await run_for(workers, 1.5)
    assert not [m for m in sent(events) if m.reply_to_id == asked.message_id and m.bot_id == zeynep]
    assert owner.pipeline.counts["skipped_answered_already"] >= 1
    store.dispose()
