"""`check` calls getMe per bot; the console "post as a human" path gets an answer with no Telegram."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from piyasa_core.engine.repo import load_profiles
from piyasa_core.store.db import session_scope
from piyasa_core.store.models import Chat
from piyasa_core.telegram.inbound import post_as_human
from tests.engine_support import engines, run_for, sent, setup_store, started_community
from tests.telegram_support import BOTS, TelegramEnv
from tests.test_cli import run_cli


def test_check_calls_get_me_and_names_bad_tokens(tg: TelegramEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    env = {name: token for name, token in BOTS.values()}
    env["TELEGRAM_API_BASE_URL"] = tg.fake.url
    env["BOT_ALI_TOKEN"] = "700000999:" + "Q" * 35  # unknown to the fake → 401
    tg.fake.set_privacy(BOTS["ayse_scalp"][1], True)
    result = run_cli("check", cwd=tg.workdir, env={**env, "COLUMNS": "220"})
    out = result.stdout + result.stderr
    assert result.returncode == 1  # a failed check (bad input would be 2)
    assert "telegram @mehmet_trader" in out and "getMe ok" in out
    assert "privacy mode on" in out
    assert "telegram @ali_ekonomist" in out and "token rejected by Telegram (401) — check BOT_ALI_TOKEN" in out
    for token in env.values():
        if ":" in token:
            assert token not in out
    assert tg.fake.count(method="sendMessage") == 0


def test_check_without_telegram_chats_says_so(workdir: Any) -> None:
    result = run_cli("check", cwd=workdir, env={"COLUMNS": "200"})
    assert "not used: every enabled chat is on the console transport" in result.stdout


async def test_posting_as_a_human_on_the_console_gets_the_mentioned_bot_to_answer(workdir: Any) -> None:
    _config, store, events, workers, chat_id, bots = await started_community()
    with store.engine.begin() as conn:
        result = post_as_human(conn, chat_id=chat_id, text="@zeynep_newbie fon nasıl alınır?", human_name="Operatör",
                               created_at=workers[0].clock.now(), bots=bots)
    assert result.message_id and [j.bot_id for j in result.jobs] == [4]
    for job in result.jobs:
        workers[job.bot_id % 4].submit_reply_job(job)
    await run_for(workers, 1.5)
    answers = [m for m in sent(events) if m.reply_to_id == result.message_id]
    assert answers and answers[0].bot_id == 4 and answers[0].worker_id == 0 and answers[0].mode == "human_reply"
    with pytest.raises(ValueError):
        with store.engine.begin() as conn:
            post_as_human(conn, chat_id=chat_id, text="  ", human_name="x", created_at=0, bots=bots)
    store.dispose()


async def test_human_questions_get_the_addressed_bot_or_at_most_two_within_ten_minutes(workdir: Any) -> None:
    """Four engines at ×120 until both questions are answered and 6 simulated minutes more: a question naming Ayşe as a vocative
    is answered by her alone first; a question to the group by one or two bots, none of them the
    newcomer; nobody else joins within ten simulated minutes."""
    config, store = setup_store()
    events: list[Any] = []
    workers = engines(config, store, 120, events)
    await asyncio.gather(*(w.start() for w in workers))
    with session_scope(store.sessions) as session:
        chat_id = session.scalar(select(Chat.id))
        bots = load_profiles(session)
    asked: dict[int, tuple[float, list[int]]] = {}
    for text in ("Ayşe, SISE'de stop nereye konur?", "Enflasyon verisi ne zaman açıklanıyor?"):
        with store.engine.begin() as conn:
            now = workers[0].clock.now()
            result = post_as_human(conn, chat_id=chat_id, text=text, human_name="Deniz", created_at=now, bots=bots)
        asked[int(result.message_id)] = (now, [j.bot_id for j in result.jobs])
        for job in result.jobs:
            await workers[0].cache.bump(f"history:{chat_id}")
            workers[job.bot_id % 4].submit_reply_job(job)
    # wait until both are answered (the host's speed sets how long that takes, not the assertions)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers]
    for _ in range(900):  # up to 90 real s on a loaded host
        await asyncio.sleep(0.1)
        if all(any(m.reply_to_id == q for m in sent(events)) for q in asked):
            break
    await asyncio.sleep(3.0)  # 6 more simulated minutes: room for a swarm, if there were one
    stop.set()
    await asyncio.gather(*tasks)
    (vocative, (t0, jobs0)), (group, (t1, jobs1)) = asked.items()
    assert jobs0 == [2] and 1 <= len(jobs1) <= 2 and 4 not in jobs1 and 3 in jobs1
    for message_id, (at, jobs) in asked.items():
        answers = sorted((m for m in sent(events) if m.reply_to_id == message_id), key=lambda m: m.sent_at)
        within = [m for m in answers if m.sent_at - at <= 600]
        assert answers and answers[0].bot_id == jobs[0], (message_id, jobs, [(m.bot_name, m.text) for m in answers],
                                                          [dict(w.counts) for w in workers])
        assert len({m.bot_id for m in within}) <= 2 and {m.bot_id for m in within} <= set(jobs)
        assert all("@" not in m.text.split()[0] for m in within)  # threaded replies, no @mention on top
    store.dispose()
