"""The update receiver (polling and webhook) with the real PTB against the fake Bot API."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

from piyasa_core.engine.repo import load_profiles
from piyasa_core.engine.types import ReplyJob
from piyasa_core.secrets import Secret
from piyasa_core.store.db import session_scope
from piyasa_core.store.models import Chat, Message
from piyasa_core.store.settings_repo import get_setting
from piyasa_core.telegram.receiver import UpdateReceiver, offset_key
from tests.engine_support import engines, sent, setup_store
from tests.telegram_support import BOTS, CHAT, TelegramEnv

DENIZ = {"id": 5550001, "first_name": "Deniz", "username": "deniz_k", "is_bot": False}


def make_receiver(tg: TelegramEnv, store: Any, jobs: list[ReplyJob], usernames: tuple[str, ...] = tuple(BOTS),
                  route: Any = None) -> UpdateReceiver:
    with session_scope(store.sessions) as session:
        bots = load_profiles(session)
    tokens = {b.id: Secret(BOTS[b.username][1]) for b in bots if b.username in usernames}
    return UpdateReceiver(store, bots, tokens, route=route or jobs.append, base_url=tg.fake.url, poll_timeout=1)


async def wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")


def human_rows(store: Any) -> list[Message]:
    with session_scope(store.sessions) as session:
        return list(session.scalars(select(Message).where(Message.bot_id.is_(None)).order_by(Message.id)))


async def test_a_message_three_bots_receive_is_stored_once_with_one_job(tg: TelegramEnv) -> None:
    config, store = setup_store()
    jobs: list[ReplyJob] = []
    receiver = make_receiver(tg, store, jobs, ("mehmet_trader", "ayse_scalp", "ali_ekonomist"))
    told: list[int] = []
    receiver.on_stored = told.append  # the supervisor's feed hears of it
    stop = asyncio.Event()
    task = asyncio.create_task(receiver.run_polling(stop))
    await asyncio.sleep(0.3)
    message = tg.fake.human_message(CHAT, "@ali_ekonomist enflasyon ne olur? 🤔", from_user=DENIZ)
    await wait_for(lambda: receiver.counts["updates"] >= 3)
    stop.set()
    await task
    rows = human_rows(store)
    assert len(rows) == 1 and rows[0].telegram_message_id == message["message_id"]
    assert rows[0].human_name == "Deniz" and rows[0].meta == {"username": "deniz_k"}
    assert receiver.counts["duplicates"] == 2 and len(jobs) == 1 and jobs[0].bot_id == 3
    assert told == [rows[0].id]  # once, although three bots received it
    for token in (BOTS[u][1] for u in ("mehmet_trader", "ayse_scalp", "ali_ekonomist")):
        assert tg.fake.conflicts(token) == 0 and tg.fake.count(token, "deleteWebhook") == 1
    store.dispose()


async def test_four_workers_and_the_receiver_never_conflict_and_the_owner_answers(tg: TelegramEnv) -> None:
    config, store = setup_store()
    events: list[Any] = []
    workers = engines(config, store, 60, events)
    receiver = make_receiver(tg, store, [], route=lambda job: workers[job.bot_id % 4].submit_reply_job(job))
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in workers] + [asyncio.create_task(receiver.run_polling(stop))]
    await asyncio.sleep(1.0)
    human = tg.fake.human_message(CHAT, "@ali_ekonomist faiz kararı ne olur sence?", from_user=DENIZ)
    await wait_for(lambda: any(m.bot_id == 3 and m.mode == "human_reply" for m in sent(events)), 8)
    await asyncio.sleep(1.0)
    stop.set()
    await asyncio.gather(*tasks)
    answer = next(m for m in sent(events) if m.bot_id == 3 and m.mode == "human_reply")
    assert answer.worker_id == 3 and answer.reply_to_id is not None and "@deniz_k" not in answer.text
    ali = BOTS["ali_ekonomist"][1]
    call = next(c for c in tg.fake.calls(ali, "sendMessage") if c.params["text"] == answer.text)
    assert call.params["reply_parameters"]["message_id"] == human["message_id"]
    for _, token in BOTS.values():
        assert tg.fake.conflicts(token) == 0
        assert tg.fake.max_concurrent_get_updates(token) <= 1
    assert tg.fake.count(method="getUpdates") > 4
    store.dispose()


async def test_restart_does_not_reprocess_old_updates(tg: TelegramEnv) -> None:
    config, store = setup_store()
    jobs: list[ReplyJob] = []
    first = make_receiver(tg, store, jobs, ("mehmet_trader",))
    stop = asyncio.Event()
    task = asyncio.create_task(first.run_polling(stop))
    await asyncio.sleep(0.3)
    for n in range(3):
        tg.fake.human_message(CHAT, f"@mehmet_trader soru {n}?", from_user=DENIZ)
    await wait_for(lambda: first.counts["stored"] == 3)
    stop.set()
    await task
    with session_scope(store.sessions) as session:
        saved = get_setting(session, offset_key(1))
    assert isinstance(saved, int) and saved > 0
    polls_before = len(tg.fake.calls(BOTS["mehmet_trader"][1], "getUpdates"))
    second = make_receiver(tg, store, jobs, ("mehmet_trader",))
    stop = asyncio.Event()
    task = asyncio.create_task(second.run_polling(stop))
    # its second poll: the answer to the first one (1 s long poll) has been handled
    await wait_for(lambda: len(tg.fake.calls(BOTS["mehmet_trader"][1], "getUpdates")) >= polls_before + 2)
    stop.set()
    await task
    assert second.counts["updates"] == 0 and len(human_rows(store)) == 3 and len(jobs) == 3
    offsets = [c.params.get("offset") for c in tg.fake.calls(BOTS["mehmet_trader"][1], "getUpdates")[polls_before:]]
    assert offsets[0] == saved  # the second receiver started from the saved offset
    store.dispose()


async def test_edits_unknown_chats_and_bot_senders(tg: TelegramEnv) -> None:
    config, store = setup_store()
    receiver = make_receiver(tg, store, [], ("mehmet_trader",))
    stop = asyncio.Event()
    task = asyncio.create_task(receiver.run_polling(stop))
    await asyncio.sleep(0.3)
    original = tg.fake.human_message(CHAT, "GARAN bugün nasıl?", from_user=DENIZ)
    await wait_for(lambda: receiver.counts["stored"] == 1)
    tg.fake.edit_human_message(CHAT, original["message_id"], "GARAN bugün nasıl kapattı?")
    tg.fake.add_chat(-1009999, "Başka Grup", members=[BOTS["mehmet_trader"][1]])
    tg.fake.human_message(-1009999, "merhaba", from_user=DENIZ)
    tg.fake.enqueue_update(BOTS["mehmet_trader"][1], "message", {
        "message_id": 77, "date": int(time.time()), "text": "ben bir botum",
        "chat": {"id": CHAT, "type": "supergroup", "title": "Piyasa Sohbet"},
        "from": {"id": 42, "is_bot": True, "first_name": "Other", "username": "other_bot"}})
    await wait_for(lambda: receiver.counts["edits"] == 1 and receiver.counts["registered_chats"] == 1
                   and receiver.counts["ignored_bots"] == 1)
    stop.set()
    await task
    rows = human_rows(store)
    assert rows[0].text == "GARAN bugün nasıl kapattı?"
    assert "ben bir botum" not in [r.text for r in rows]
    with session_scope(store.sessions) as session:
        other = session.scalars(select(Chat).where(Chat.telegram_chat_id == -1009999)).one()
        assert other.enabled is False and other.transport == "telegram" and other.key == "tg1009999"
    store.dispose()


async def test_webhook_registers_and_checks_the_secret(tg: TelegramEnv) -> None:
    config, store = setup_store()
    jobs: list[ReplyJob] = []
    receiver = make_receiver(tg, store, jobs, ("ayse_scalp",))
    secret = Secret("webhook-secret-value-123")
    runner = web.AppRunner(receiver.webhook_app(secret))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        await receiver.register_webhooks(f"http://127.0.0.1:{port}", secret)
        token = BOTS["ayse_scalp"][1]
        hook = tg.fake.webhook(token)
        assert hook and hook["url"].endswith("/telegram/2") and hook["secret_token"] == secret.reveal()
        tg.fake.human_message(CHAT, "@ayse_scalp SISE ne durumda?", from_user=DENIZ)
        assert await tg.fake.adeliver_webhook(token) == [200]
        assert len(human_rows(store)) == 1 and [j.bot_id for j in jobs] == [2]
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{port}/telegram/2", json={"update_id": 1},
                                 headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"}) as response:
                assert response.status == 401
    finally:
        await receiver.aclose()
        await runner.cleanup()
    with session_scope(store.sessions) as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 1
    store.dispose()


async def test_in_a_fleet_one_host_at_a_time_polls_a_token_and_the_next_goes_on_from_its_offset(
        tg: TelegramEnv) -> None:
    """Two hosts' receivers for the same token: each polls only while its lease window is open (the
    holder of the bot's shard, fleet/agent.py receiver_window), a long poll never outlives the window,
    and the next holder starts from the stored offset. No 409 from us, no update stored twice."""
    config, store = setup_store()
    jobs: list[ReplyJob] = []
    owner = {"host": "a"}
    windows = {"a": lambda bot_id: 30.0 if owner["host"] == "a" else 0.0,
               "b": lambda bot_id: 30.0 if owner["host"] == "b" else 0.0}
    receivers = {}
    for host in ("a", "b"):
        receivers[host] = make_receiver(tg, store, jobs, ("ali_ekonomist",))
        receivers[host].may_poll = windows[host]
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run_polling(stop)) for r in receivers.values()]
    token = BOTS["ali_ekonomist"][1]
    tg.fake.human_message(CHAT, "@ali_ekonomist faiz kararı ne zaman?", from_user=DENIZ)
    await wait_for(lambda: receivers["a"].counts["stored"] == 1)
    # the shard moves: a's window closes a second before its lease could end (its 1 s poll returns
    # meanwhile); b gets the lease only once it ended
    owner["host"] = ""
    await asyncio.sleep(1.5)
    owner["host"] = "b"
    tg.fake.human_message(CHAT, "@ali_ekonomist enflasyon verisi ne zaman?", from_user=DENIZ)
    await wait_for(lambda: receivers["b"].counts["stored"] == 1)
    stop.set()
    await asyncio.gather(*tasks)
    assert receivers["a"].counts["stored"] == 1 and receivers["b"].counts["updates"] == 1  # nothing twice
    assert tg.fake.conflicts(token) == 0 and tg.fake.max_concurrent_get_updates(token) == 1
    assert len(human_rows(store)) == 2 and len(jobs) == 2
    store.dispose()
