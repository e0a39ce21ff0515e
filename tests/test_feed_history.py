"""The community feed from the database and a message's detail (issue 17), on SQLite and the real
PostgreSQL; the supervisor's feed (a person's post joins it, a benchmark run's lines do not); the
pipeline's record of how a message was made; `GET /messages/<id>`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from piyasa_core.control import ControlClient, ControlError, ControlServer
from piyasa_core.engine.types import SentMessage
from piyasa_core.secrets import Secret
from piyasa_core.store import Store
from piyasa_core.store.db import make_engine, session_factory, session_scope
from piyasa_core.store.message_detail import message_detail
from piyasa_core.store.migrate import upgrade
from piyasa_core.store.models import Bot, Chat, Message
from piyasa_core.workers.feed_history import BotNames, day_start, is_run_chat, message_item, recent_feed, sent_item
from tests.engine_support import SIM_START, engines, run_until, sent, setup_store
from tests.test_control import FakeTarget

TZ = "Europe/Istanbul"
NOW = SIM_START  # Wednesday 2026-11-25 10:05 in Istanbul


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield Store(engine, session_factory(engine))
    engine.dispose()


def seed(store: Store) -> dict[str, int]:
    """A day of a chat: yesterday's question, today's question and its answer, a pending draft, a
    benchmark run's line and a line from a clock that ran ahead."""
    with session_scope(store.sessions) as s:
        chat = Chat(key="piyasa-local", title="Piyasa Sohbet", transport="telegram")
        run_chat = Chat(key="piyasa-local@r1", title="Piyasa Sohbet · benchmark r1", transport="console", run_id="r1")
        bot = Bot(username="mehmet_trader", name="Mehmet Yatırımcı", persona="investor", chats=[chat, run_chat])
        s.add_all([chat, run_chat, bot])
        s.flush()
        rows = {
            "yesterday": Message(chat_id=chat.id, human_name="Deniz", text="dün ne oldu?", status="sent",
                                 created_at=NOW - 86400, meta={"username": "deniz_k"}),
            "question": Message(chat_id=chat.id, human_name="Deniz", human_user_id=77, text="GARAN ne olur?",
                                status="sent", created_at=NOW - 600, telegram_message_id=54,
                                meta={"username": "deniz_k"}),
        }
        s.add_all(rows.values())
        s.flush()
        rows["answer"] = Message(
            chat_id=chat.id, bot_id=bot.id, text="@deniz_k sabır şart, GARAN'da acele yok", status="sent",
            reply_to_id=rows["question"].id, worker_id=1, provider="groq", model="llama-3.3-70b-versatile",
            tokens_in=412, tokens_out=38, generation_seconds=0.84, created_at=NOW - 300, sent_at=NOW - 290,
            telegram_message_id=55, meta={"mode": "human_reply", "topic": "GARAN", "postprocess": ["humanize"],
                                          "dedup": {"verdict": "unique"}})
        rows["pending"] = Message(chat_id=chat.id, bot_id=bot.id, text="yazıyor", status="pending",
                                  created_at=NOW - 100)
        rows["bench"] = Message(chat_id=run_chat.id, bot_id=bot.id, text="sabah 10:00 gibi", status="sent",
                                created_at=NOW - 50, sent_at=NOW - 49)
        rows["ahead"] = Message(chat_id=chat.id, bot_id=bot.id, text="akşam oldu", status="sent",
                                created_at=NOW + 3600, sent_at=NOW + 3601)
        s.add_all(rows.values())
        s.flush()
        return {name: row.id for name, row in rows.items()} | {"bot": bot.id}


def test_the_feed_starts_with_todays_lines_or_the_newest_few(store: Store) -> None:
    ids = seed(store)
    today = recent_feed(store, NOW, TZ, minimum=2)
    assert [i.message_id for i in today] == [ids["question"], ids["answer"]]  # no pending, run or future line
    question, answer = today
    assert question.human and question.bot_name == "Deniz" and question.username == "deniz_k"
    assert question.worker_id == -1 and question.mode == "human"
    assert not answer.human and answer.username == "mehmet_trader" and answer.worker_id == 1
    assert answer.reply_to_author == "Deniz" and answer.mode == "human_reply" and answer.at == pytest.approx(NOW - 290)
    few = recent_feed(store, NOW, TZ, minimum=5)  # today has fewer: the newest lines, yesterday's dated on screen
    assert [i.message_id for i in few] == [ids["yesterday"], ids["question"], ids["answer"]]
    assert few[0].at < day_start(NOW, TZ) <= few[1].at
    assert [i.message_id for i in recent_feed(store, NOW, TZ, limit=1, minimum=1)] == [ids["answer"]]
    assert message_item(store, ids["question"]) == question
    assert message_item(store, ids["pending"]) is None and message_item(store, ids["bench"]) is None


def test_a_run_chats_lines_stay_out_and_bots_carry_their_username(store: Store) -> None:
    ids = seed(store)
    assert is_run_chat("piyasa-local@r1") and not is_run_chat("piyasa-local")
    names = BotNames(store)
    event = SentMessage(message_id=99, bot_id=ids["bot"], bot_name="Mehmet Yatırımcı", chat_id=1,
                        chat_key="piyasa-local", worker_id=0, text="x", mode="new", topic="", reply_to_id=None,
                        reply_to_author=None, provider="offline", model="offline", tokens_in=0, tokens_out=0,
                        tokens_cached=0, llm_latency_s=0.0, end_to_end_s=0.0, sent_at=NOW)
    line = sent_item(event, names)
    assert line is not None and line.username == "mehmet_trader" and line.at == NOW
    assert sent_item(SentMessage(**{**event.__dict__, "chat_key": "piyasa-local@r1"}), names) is None
    assert names.username(12345) == ""  # a bot that is gone: asked once


def test_a_messages_detail_names_everything_stored(store: Store) -> None:
    ids = seed(store)
    detail = message_detail(store, ids["answer"])
    assert detail["author"] == {"kind": "bot", "name": "Mehmet Yatırımcı", "username": "mehmet_trader",
                                "bot_id": ids["bot"], "user_id": None}
    assert detail["reply_to"]["id"] == ids["question"] and detail["reply_to"]["text"] == "GARAN ne olur?"
    assert detail["reply_to"]["kind"] == "person" and detail["reply_to"]["user_id"] == 77
    assert detail["chat"] == {"key": "piyasa-local", "title": "Piyasa Sohbet", "transport": "telegram", "run_id": None}
    assert (detail["worker_id"], detail["provider"], detail["tokens_in"], detail["tokens_out"]) == (1, "groq", 412, 38)
    assert detail["llm_latency_s"] == pytest.approx(0.84) and detail["telegram_message_id"] == 55
    assert detail["sent_at"] == pytest.approx(NOW - 290) and detail["meta"]["postprocess"] == ["humanize"]
    with pytest.raises(LookupError, match="message 987654 not found"):
        message_detail(store, 987654)


# ── the supervisor's feed ────────────────────────────────────────────────────────────────────────
async def test_a_post_joins_the_supervisors_feed_and_a_runs_lines_do_not(workdir: Path) -> None:
    from piyasa_core.workers.supervisor import Supervisor

    config, store = setup_store()
    store.dispose()
    supervisor = Supervisor(config, workers=1, sim_start=SIM_START)  # not started: no worker is needed
    try:
        posted = await supervisor.post_human("piyasa-local", "@zeynep_newbie altın alınır mı?", "Deniz")
        line = supervisor.snapshot().feed[-1]
        assert line.human and line.message_id == posted["message_id"] and line.bot_name == "Deniz"
        assert line.text == "@zeynep_newbie altın alınır mı?" and line.chat_key == "piyasa-local"
        detail = await supervisor.message_detail(posted["message_id"])
        assert detail["author"]["kind"] == "person" and detail["author"]["name"] == "Deniz"
        base = dict(message_id=posted["message_id"] + 1, bot_id=1, bot_name="Mehmet Yatırımcı", chat_id=1,
                    chat_key="piyasa-local@bench1", worker_id=0, text="benchmark", mode="new", topic="",
                    reply_to_id=None, reply_to_author=None, provider="offline", model="offline", tokens_in=0,
                    tokens_out=0, tokens_cached=0, llm_latency_s=0.0, end_to_end_s=0.0, sent_at=SIM_START - 9000)
        supervisor._fold(SentMessage(**base))  # a benchmark run's clock: its line stays out
        assert supervisor.snapshot().feed[-1] == line
        supervisor._fold(SentMessage(**{**base, "chat_key": "piyasa-local", "sent_at": SIM_START + 5}))
        assert supervisor.snapshot().feed[-1].username == "mehmet_trader"
        assert supervisor.slots[0].view(SIM_START, SIM_START).sent_total == 2  # both counted for the worker
    finally:
        supervisor.store.dispose()


async def test_the_pipeline_records_how_a_message_was_made(workdir: Path) -> None:
    config, store = setup_store()
    events: list[Any] = []
    items = engines(config, store, 60.0, events, workers=1)
    await run_until(items, lambda: len(sent(events)) >= 2, timeout=60)
    with store.engine.connect() as conn:
        metas = [m for (m,) in conn.execute(select(Message.meta).where(Message.status == "sent",
                                                                      Message.bot_id.is_not(None)))]
    assert metas and all(isinstance(m.get("postprocess"), list) and m["dedup"]["verdict"] in ("unique", "exact", "near")
                         for m in metas), metas
    store.dispose()


# ── GET /messages/<id> ───────────────────────────────────────────────────────────────────────────
class DetailTarget(FakeTarget):
    async def message_detail(self, message_id: int) -> dict[str, Any]:
        if message_id != 7:
            raise LookupError(f"message {message_id} not found")
        return {"id": 7, "text": "Selam", "meta": {"dedup": {"verdict": "unique"}}}


async def test_the_control_api_serves_a_messages_detail(tmp_path: Path) -> None:
    token = Secret("ctl-detail-token")
    server = ControlServer(DetailTarget(), token, "127.0.0.1", 0, data_dir=tmp_path)
    await server.start()
    try:
        assert server.url is not None
        async with ControlClient(server.url, token, timeout=5) as client:
            assert (await client.message(7))["meta"]["dedup"] == {"verdict": "unique"}
            with pytest.raises(ControlError) as missing:
                await client.message(8)
            assert missing.value.status == 404 and "message 8 not found" in str(missing.value)
            with pytest.raises(ControlError) as bad:
                await client._request("GET", "/messages/x")
            assert bad.value.status == 400 and "message id must be a number" in str(bad.value)
        async with ControlClient(server.url, Secret("wrong"), timeout=5) as client:
            with pytest.raises(ControlError) as refused:
                await client.message(7)
            assert refused.value.status == 401
    finally:
        await server.stop()


def test_day_start_is_local_midnight() -> None:
    assert datetime.fromtimestamp(day_start(NOW, TZ), ZoneInfo(TZ)).strftime("%Y-%m-%d %H:%M") == "2026-11-25 00:00"
