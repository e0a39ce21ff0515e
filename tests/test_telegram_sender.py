"""Sending through the real python-telegram-bot against the fake Bot API."""

from __future__ import annotations

import io
import logging
from collections import Counter
from typing import Any

from sqlalchemy import select

from piyasa_core.engine.events import ChatDisabled
from piyasa_core.secrets import RedactingFilter
from piyasa_core.store.db import session_scope
from piyasa_core.store.models import Chat, Message
from tests.engine_support import engines, run_until, sent, setup_store
from tests.fakes import telegram_scenarios as tgs
from tests.telegram_support import BOTS, CHAT, TelegramEnv

MEHMET = BOTS["mehmet_trader"][1]


async def test_typing_precedes_each_message_and_replies_carry_ids(tg: TelegramEnv) -> None:
    config, store = setup_store()
    events: list[Any] = []

    def enough() -> bool:  # eight messages, three of them replies to another bot's
        ms = sent(events)
        ids = {m.message_id for m in ms}
        return len(ms) >= 8 and sum(1 for m in ms if m.reply_to_id in ids) >= 3

    await run_until(engines(config, store, 120, events), enough, timeout=60)
    messages = sent(events)
    assert len(messages) >= 8
    for token in (t for _, t in BOTS.values()):
        calls = tg.fake.calls(token)
        for index, call in enumerate(calls):
            if call.method == "sendMessage":
                earlier = [c.method for c in calls[:index] if c.params.get("chat_id") == CHAT]
                assert "sendChatAction" in earlier
    stored = {m.message_id: m for m in messages}
    with session_scope(store.sessions) as session:
        rows = session.scalars(select(Message).where(Message.status == "sent")).all()
        by_id = {r.id: r for r in rows}
        replies = 0
        for row in rows:
            assert row.telegram_message_id is not None
            if row.reply_to_id and by_id.get(row.reply_to_id):
                target_tid = by_id[row.reply_to_id].telegram_message_id
                sent_call = next(c for c in tg.fake.calls(method="sendMessage") if c.params.get("text") == row.text)
                assert sent_call.params["reply_parameters"]["message_id"] == target_tid
                assert sent_call.params["reply_parameters"]["allow_sending_without_reply"] is True
                replies += 1
        assert replies >= 3
    assert set(stored) <= set(by_id)
    store.dispose()


async def test_retry_after_delays_the_message_and_stores_it_once(tg: TelegramEnv) -> None:
    tg.fake.script(MEHMET, "sendMessage", [tgs.retry_after(2)])
    config, store = setup_store()
    events: list[Any] = []
    await run_until(engines(config, store, 60, events), lambda: tg.fake.count(MEHMET, "sendMessage", status=200) > 0)
    calls = tg.fake.calls(MEHMET, "sendMessage")
    assert calls[0].status == 429 and calls[1].status == 200
    assert calls[1].params["text"] == calls[0].params["text"]
    assert calls[1].time - calls[0].time >= 2.0
    with session_scope(store.sessions) as session:
        rows = session.scalars(select(Message).where(Message.text == calls[0].params["text"])).all()
        assert [r.status for r in rows] == ["sent"]
        assert session.scalar(select(Message).where(Message.status == "failed")) is None
    store.dispose()


async def test_bad_request_is_sent_once_and_recorded(tg: TelegramEnv) -> None:
    tg.fake.script(MEHMET, "sendMessage", [tgs.bad_request("Bad Request: message is too long")])
    config, store = setup_store()

    def recorded() -> bool:  # the rejected message is through the engine: its row is failed
        if not tg.fake.count(MEHMET, "sendMessage"):
            return False
        with session_scope(store.sessions) as session:
            return session.scalar(select(Message.id).where(Message.status == "failed")) is not None

    await run_until(engines(config, store, 60, []), recorded)
    first = tg.fake.calls(MEHMET, "sendMessage")[0]
    assert first.status == 400
    assert sum(1 for c in tg.fake.calls(MEHMET, "sendMessage") if c.params["text"] == first.params["text"]) == 1
    with session_scope(store.sessions) as session:
        row = session.scalars(select(Message).where(Message.text == first.params["text"])).one()
        assert row.status == "failed" and "too long" in (row.failure_reason or "").lower()
        assert row.failure_reason.startswith("bad_request")
    store.dispose()


async def test_forbidden_disables_the_chat(tg: TelegramEnv) -> None:
    tg.fake.set_default(MEHMET, "sendMessage", tgs.forbidden())
    config, store = setup_store()
    events: list[Any] = []
    await run_until(engines(config, store, 60, events), lambda: any(isinstance(e, ChatDisabled) for e in events))
    assert any(isinstance(e, ChatDisabled) and e.chat_key == "piyasa-local" for e in events)
    with session_scope(store.sessions) as session:
        assert session.scalar(select(Chat.enabled).where(Chat.telegram_chat_id == CHAT)) is False
        reasons = Counter(session.scalars(select(Message.failure_reason).where(Message.status == "failed")))
        assert any("kicked" in (r or "") for r in reasons)
    assert tg.fake.count(MEHMET, "sendMessage") == 1
    store.dispose()


async def test_tokens_never_reach_logs_or_stored_reasons(tg: TelegramEnv, monkeypatch: Any) -> None:
    bad = "799999999:" + "Z" * 35  # not known to the fake: 401
    monkeypatch.setenv("BOT_ZEYNEP_TOKEN", bad)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        config, store = setup_store()

        def rejected() -> bool:  # Zeynep's first message failed on her token
            with session_scope(store.sessions) as session:
                return any("token was rejected" in (r or "") for r in session.scalars(
                    select(Message.failure_reason).where(Message.status == "failed")))

        await run_until(engines(config, store, 60, []), rejected)
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    output = stream.getvalue()
    assert "sendMessage" in output or "HTTP Request" in output  # httpx/PTB did log requests
    for token in [bad, *(t for _, t in BOTS.values())]:
        assert token not in output and token.split(":")[1] not in output
    with session_scope(store.sessions) as session:
        reasons = [r or "" for r in session.scalars(select(Message.failure_reason).where(Message.status == "failed"))]
        assert reasons and all(bad not in r for r in reasons)
        assert any("token was rejected" in r for r in reasons)
    store.dispose()
