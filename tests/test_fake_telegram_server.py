"""The fake Telegram Bot API speaks well enough for the real python-telegram-bot (22.x)."""

from __future__ import annotations

import asyncio
import datetime as dtm
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import telegram
from telegram import ReplyParameters
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import AIORateLimiter, ApplicationBuilder, ContextTypes, ExtBot, MessageHandler, filters
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from tests.fakes import telegram_scenarios as tg
from tests.fakes.telegram_scenarios import Failure, detect_entities, parse_html, utf16_len
from tests.fakes.telegram_server import FakeTelegramServer, UploadedFile

REPO = Path(__file__).resolve().parents[1]
CHAT = -1001234567890
ANALIST, BORSACI, KRIPTO = (
    "7000000001:AAFakeTokenAnalistAnalistAnalist00",
    "7000000002:AAFakeTokenBorsaciBorsaciBorsaci00",
    "7000000003:" + "AAFakeTokenKriptoKriptoKriptoKrip00",
)
USERNAMES = {ANALIST: "analist_bot", BORSACI: "borsaci_bot", KRIPTO: "kripto_bot"}
HUMAN = {"id": 4242, "first_name": "Ayşe", "username": "ayse"}


@pytest.fixture
def fake() -> Iterator[FakeTelegramServer]:
    with FakeTelegramServer() as server:
        for token, username in USERNAMES.items():
            server.add_bot(token, None, username, username.split("_")[0].title())
        server.add_chat(CHAT, "Piyasa Sohbet", members=list(USERNAMES))
        yield server


def make_bot(fake: FakeTelegramServer, token: str) -> telegram.Bot:
    return telegram.Bot(token, base_url=f"{fake.url}/bot")


@pytest.fixture
async def analist(fake: FakeTelegramServer) -> AsyncIterator[telegram.Bot]:
    async with make_bot(fake, ANALIST) as bot:
        yield bot


def http(url: str, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    hdrs = {"Content-Type": "application/json"} if body is not None and not isinstance(body, bytes) else {}
    request = urllib.request.Request(url, data=data, method=method, headers={**hdrs, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


# ---------------------------------------------------------------------- basics


async def test_get_me(fake: FakeTelegramServer, analist: telegram.Bot) -> None:
    me = await analist.get_me()
    assert (me.id, me.username, me.is_bot, me.first_name) == (7000000001, "analist_bot", True, "Analist")
    assert me.can_join_groups is True and me.can_read_all_group_messages is True
    assert me.supports_inline_queries is False
    assert analist.username == "analist_bot"  # initialize() already called getMe
    calls = fake.calls(ANALIST, "getMe")
    assert len(calls) == 2 and all(c.status == 200 and c.bot == "analist_bot" for c in calls)
    assert ANALIST not in repr(calls[0])  # tokens stay out of reprs


async def test_chat_action_then_reply(fake: FakeTelegramServer, analist: telegram.Bot) -> None:
    question = fake.human_message(CHAT, "Dolar nereye gider?", from_user=HUMAN)
    assert await analist.send_chat_action(CHAT, "typing") is True
    sent = await analist.send_message(
        CHAT, "Bence 40'ı test eder.",
        reply_parameters=ReplyParameters(question["message_id"], allow_sending_without_reply=True),
    )  # fmt: skip
    assert sent.message_id == question["message_id"] + 1  # one message_id sequence per chat
    assert sent.chat.id == CHAT and sent.chat.type == "supergroup" and sent.chat.title == "Piyasa Sohbet"
    assert sent.from_user is not None and sent.from_user.username == "analist_bot"
    assert sent.reply_to_message is not None and sent.reply_to_message.text == "Dolar nereye gider?"
    assert abs(sent.date.timestamp() - time.time()) < 5

    action, message = fake.calls(ANALIST, "sendChatAction")[0], fake.calls(ANALIST, "sendMessage")[0]
    assert action.params == {"chat_id": CHAT, "action": "typing"}
    # PTB 22.8 posts application/x-www-form-urlencoded; nested objects are JSON strings, decoded here.
    assert message.content_type == "application/x-www-form-urlencoded"
    assert message.params["reply_parameters"] == {
        "message_id": question["message_id"], "allow_sending_without_reply": True
    }
    log = fake.messages(CHAT)
    assert [(m.username, m.text, m.reply_to_message_id) for m in log] == [
        ("analist_bot", "Bence 40'ı test eder.", question["message_id"])
    ]
    assert log[0].token == ANALIST and len(fake.messages(CHAT, humans=True)) == 2

    # Replying to an unknown message: allowed -> sent without reply; not allowed -> 400 like Telegram.
    unknown = ReplyParameters(999, allow_sending_without_reply=True)
    loose = await analist.send_message(CHAT, "x", reply_parameters=unknown)
    assert loose.reply_to_message is None and fake.messages(CHAT)[-1].reply_to_message_id is None
    with pytest.raises(BadRequest, match="Message to be replied not found"):
        await analist.send_message(CHAT, "x", reply_parameters=ReplyParameters(999))
    # The legacy arguments are turned into reply_parameters by PTB itself.
    await analist.send_message(CHAT, "y", reply_to_message_id=question["message_id"], allow_sending_without_reply=True)
    assert fake.calls(ANALIST, "sendMessage")[-1].params["reply_parameters"]["message_id"] == question["message_id"]
    # Bots never see each other's messages.
    assert all(u["message"]["from"]["is_bot"] is False for t in USERNAMES for u in fake.pending_updates(t))


async def test_html_parse_mode_and_validation(fake: FakeTelegramServer, analist: telegram.Bot) -> None:
    sent = await analist.send_message(CHAT, "<b>BIST</b> &amp; $USD", parse_mode="HTML")
    assert sent.text == "BIST & $USD"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [("bold", 0, 4), ("cashtag", 7, 4)]
    with pytest.raises(BadRequest, match="Can't parse entities: unsupported start tag \"x\""):
        await analist.send_message(CHAT, "a <x>b</x>", parse_mode="HTML")
    with pytest.raises(BadRequest, match="Message text is empty"):
        await analist.send_message(CHAT, " ")
    with pytest.raises(BadRequest, match="Message is too long"):
        await analist.send_message(CHAT, "ş" * 4097)
    with pytest.raises(BadRequest, match="Chat not found"):
        await analist.send_message(-100999, "x")
    fake.remove_member(CHAT, ANALIST)
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await analist.send_chat_action(CHAT, "typing")


# ---------------------------------------------------------------------- scripted failures


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_retry_after(fake: FakeTelegramServer, analist: telegram.Bot, monkeypatch: pytest.MonkeyPatch) -> None:
    fake.script(ANALIST, "sendMessage", [tg.retry_after(7), tg.retry_after(3)])
    with pytest.raises(RetryAfter) as first:
        await analist.send_message(CHAT, "a")
    # PTB 22.8 stores a timedelta; the property returns int seconds (with a PTBDeprecationWarning)
    # unless PTB_TIMEDELTA=true, then the timedelta itself.
    with pytest.warns(PTBDeprecationWarning):
        assert first.value.retry_after == 7
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    with pytest.raises(RetryAfter) as second:
        await analist.send_message(CHAT, "b")
    assert second.value.retry_after == dtm.timedelta(seconds=3)
    assert (await analist.send_message(CHAT, "c")).text == "c"  # script exhausted -> normal
    calls = fake.calls(ANALIST, "sendMessage")
    assert [(c.status, c.failure) for c in calls] == [(429, "retry_after"), (429, "retry_after"), (200, None)]
    assert calls[0].description == "Too Many Requests: retry after 7"
    assert [m.text for m in fake.messages(CHAT)] == ["c"]  # failed sends leave no message


async def test_error_classes(fake: FakeTelegramServer, analist: telegram.Bot) -> None:
    fake.script(ANALIST, "sendMessage", [tg.bad_request(), tg.forbidden(), tg.chat_not_found(), tg.server_error(502)])
    with pytest.raises(BadRequest, match="^Message text is empty$"):
        await analist.send_message(CHAT, "a")
    with pytest.raises(Forbidden, match="bot was kicked from the supergroup chat"):
        await analist.send_message(CHAT, "a")
    with pytest.raises(BadRequest, match="Chat not found"):
        await analist.send_message(CHAT, "a")
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await analist.send_message(CHAT, "a")
    assert fake.count(ANALIST, "sendMessage", status=200) == 0
    # Sticky default for every bot (token None), then cleared.
    fake.set_default(None, "sendChatAction", "forbidden")
    with pytest.raises(Forbidden):
        await analist.send_chat_action(CHAT, "typing")
    fake.set_default(None, "sendChatAction", None)
    assert await analist.send_chat_action(CHAT, "typing") is True
    # slow: answered normally, later.
    fake.script(ANALIST, "sendChatAction", [tg.slow(0.3)])
    started = time.monotonic()
    assert await analist.send_chat_action(CHAT, "typing") is True
    assert time.monotonic() - started >= 0.3
    assert Failure.coerce({"name": "retry_after", "seconds": 2}) == tg.retry_after(2)


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # RetryAfter.retry_after as int
async def test_ext_bot_rate_limiter_retries_and_own_overlapping_polls(fake: FakeTelegramServer) -> None:
    bot = ExtBot(
        KRIPTO, base_url=f"{fake.url}/bot", rate_limiter=AIORateLimiter(max_retries=1),
        get_updates_request=HTTPXRequest(connection_pool_size=2),  # lets ONE bot overlap its own polls
    )  # fmt: skip
    async with bot:
        fake.script(KRIPTO, "sendMessage", [tg.retry_after(1)])
        started = time.monotonic()
        assert (await bot.send_message(CHAT, "BTC 100k!")).text == "BTC 100k!"  # the limiter waited and retried
        assert time.monotonic() - started >= 1.0
        assert [c.status for c in fake.calls(KRIPTO, "sendMessage")] == [429, 200]
        first = asyncio.create_task(bot.get_updates(timeout=1))
        while fake.max_concurrent_get_updates(KRIPTO) < 1:
            await asyncio.sleep(0.01)
        with pytest.raises(Conflict):
            await bot.get_updates(timeout=1)
        fake.human_message(CHAT, "selam", from_user=HUMAN)
        assert len(await first) == 1
    assert fake.conflicts(KRIPTO) == 1


async def test_unknown_token_and_method(fake: FakeTelegramServer, analist: telegram.Bot) -> None:
    stranger = make_bot(fake, "123456:not-registered")
    try:
        with pytest.raises(InvalidToken, match="was rejected by the server") as rejected:
            await stranger.initialize()
        assert str(rejected.value.__cause__) == "Unauthorized"  # initialize() re-raises the 401
        with pytest.raises(InvalidToken, match="^Unauthorized$"):
            await stranger.get_me()
    finally:
        await stranger.shutdown()
    assert [(c.status, c.bot) for c in fake.calls("123456:not-registered")] == [(401, None)] * 2
    status, body = http(f"{fake.url}/bot123456:not-registered/getMe")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    with pytest.raises(EndPointNotFound):
        await analist.do_api_request("sendHologram", api_kwargs={"chat_id": CHAT})
    assert fake.calls(ANALIST, "sendHologram")[0].status == 404
    assert http(f"{fake.url}/bot{ANALIST}/sendHologram", "POST", {})[1]["description"] == "Not Found"


async def test_request_encodings(fake: FakeTelegramServer, analist: telegram.Bot) -> None:
    # multipart (PTB uploads files that way); sendPhoto is not implemented -> 404 -> PTB InvalidToken
    with pytest.raises(InvalidToken):
        await analist.send_photo(CHAT, b"\x89PNG\r\n\x1a\nfake\r\n--bytes", caption="grafik")
    photo = fake.calls(ANALIST, "sendPhoto")[0]
    assert photo.content_type.startswith("multipart/form-data")
    assert photo.params["chat_id"] == CHAT and photo.params["caption"] == "grafik"
    assert isinstance(photo.params["photo"], UploadedFile)
    assert photo.params["photo"].data == b"\x89PNG\r\n\x1a\nfake\r\n--bytes"
    # JSON body with nested objects, and GET with a query string
    body = {"chat_id": CHAT, "text": "json", "reply_parameters": {"message_id": 1, "allow_sending_without_reply": True}}
    status, answer = http(f"{fake.url}/bot{ANALIST}/sendMessage", "POST", body)
    assert status == 200 and answer["ok"] and answer["result"]["text"] == "json"
    assert fake.calls(ANALIST, "sendMessage")[-1].params == body
    status, answer = http(f"{fake.url}/bot{ANALIST}/sendMessage?chat_id={CHAT}&text=get")
    assert status == 200 and answer["result"]["text"] == "get"
    status, answer = http(f"{fake.url}/bot{ANALIST}/getme")  # method names are case-insensitive
    assert status == 200 and fake.calls(ANALIST)[-1].method == "getMe"


async def test_get_chat_extra_methods_and_reset(fake: FakeTelegramServer, analist: telegram.Bot) -> None:
    chat = await analist.get_chat(CHAT)
    assert (chat.id, chat.title, chat.type) == (CHAT, "Piyasa Sohbet", "supergroup")
    with pytest.raises(BadRequest, match="Chat not found"):
        await analist.get_chat(-100777)
    fake.remove_member(CHAT, ANALIST, kicked=False)
    with pytest.raises(BadRequest, match="Chat not found"):  # chats a bot is not in are hidden
        await analist.get_chat(CHAT)
    with pytest.raises(Forbidden, match="bot is not a member of the supergroup chat"):
        await analist.send_message(CHAT, "x")
    fake.add_member(CHAT, ANALIST)

    deleted: list[dict[str, Any]] = []

    def delete_message(params: dict[str, Any], bot_user: dict[str, Any]) -> bool:
        if params["message_id"] == 404:
            raise tg.ApiError(400, "Bad Request: message to delete not found")
        deleted.append(params)
        return True

    fake.add_method("deleteMessage", delete_message)
    assert await analist.delete_message(CHAT, 7) is True
    assert deleted == [{"chat_id": CHAT, "message_id": 7}]
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await analist.delete_message(CHAT, 404)
    fake.script(ANALIST, "deleteMessage", ["forbidden"])
    assert fake.pending_failures(ANALIST, "deleteMessage") == 1
    fake.reset()
    assert fake.calls() == [] and fake.pending_failures(ANALIST, "deleteMessage") == 0
    assert await analist.delete_message(CHAT, 8) is True


# ---------------------------------------------------------------------- updates


async def test_long_poll_delivers_one_message_to_every_member(fake: FakeTelegramServer) -> None:
    bots = [make_bot(fake, t) for t in USERNAMES]
    for bot in bots:
        await bot.initialize()
    try:
        started = time.monotonic()
        polls = asyncio.gather(*(bot.get_updates(timeout=30) for bot in bots))
        await asyncio.sleep(0.2)
        message = fake.human_message(CHAT, "Altın rekor kırdı! @borsaci_bot ne diyorsun?", from_user=HUMAN)
        results = await polls
        assert time.monotonic() - started < 15  # answered when the message came, not at the 30 s timeout
        assert [len(r) for r in results] == [1, 1, 1]
        updates = [r[0] for r in results]
        assert {u.message.message_id for u in updates} == {message["message_id"]}
        assert len({u.update_id for u in updates}) == 3  # each bot has its own update_id sequence
        assert all(u.message.text == message["text"] and u.message.from_user.id == 4242 for u in updates)
        # Without an offset the same update comes again; offset=update_id+1 confirms and drops it.
        again = await bots[0].get_updates(timeout=0)
        assert [u.update_id for u in again] == [updates[0].update_id]
        assert await bots[0].get_updates(offset=updates[0].update_id + 1, timeout=0) == ()
        assert fake.pending_updates(ANALIST) == [] and len(fake.pending_updates(BORSACI)) == 1
        # Nothing pending: waits for the timeout, then [].
        started = time.monotonic()
        assert await bots[0].get_updates(offset=updates[0].update_id + 1, timeout=0.5) == ()
        assert 0.4 < time.monotonic() - started < 10  # at the timeout, not at once and not never
        # Edits come as edited_message.
        fake.edit_human_message(CHAT, message["message_id"], "Altın geri çekildi.")
        edited = await bots[0].get_updates(offset=updates[0].update_id + 1, timeout=0)
        assert edited[0].edited_message.text == "Altın geri çekildi." and edited[0].edited_message.edit_date
        assert fake.max_concurrent_get_updates(ANALIST) == 1 and fake.conflicts(ANALIST) == 0
    finally:
        for bot in bots:
            await bot.shutdown()


@pytest.mark.parametrize("mode", ["reject_new", "terminate_old"])
async def test_concurrent_get_updates_conflict(mode: str) -> None:
    with FakeTelegramServer(conflict_mode=mode) as fake:  # type: ignore[arg-type]
        fake.add_bot(ANALIST, None, "analist_bot")
        fake.add_chat(CHAT, "Piyasa Sohbet", [ANALIST])
        # One Bot cannot overlap its own polls (PTB's getUpdates pool has 1 connection): two instances can.
        async with make_bot(fake, ANALIST) as first, make_bot(fake, ANALIST) as second:
            polling = asyncio.create_task(first.get_updates(timeout=1))
            while fake.max_concurrent_get_updates(ANALIST) < 1:  # the first poll is waiting
                await asyncio.sleep(0.01)
            if mode == "reject_new":
                with pytest.raises(Conflict, match="terminated by other getUpdates request"):
                    await second.get_updates(timeout=1)
                fake.human_message(CHAT, "selam", from_user=HUMAN)
                assert len(await polling) == 1
            else:
                newer = asyncio.create_task(second.get_updates(timeout=1))
                with pytest.raises(Conflict, match="make sure that only one bot instance is running"):
                    await polling
                fake.human_message(CHAT, "selam", from_user=HUMAN)
                assert len(await newer) == 1
        assert fake.conflicts(ANALIST) == 1
        assert fake.max_concurrent_get_updates(ANALIST) == 2
        assert sorted(c.status for c in fake.calls(ANALIST, "getUpdates")) == [200, 409]


async def test_application_polling_and_graceful_stop(fake: FakeTelegramServer) -> None:
    app = ApplicationBuilder().token(ANALIST).base_url(f"{fake.url}/bot").build()
    answered = asyncio.Event()

    async def on_text(update: telegram.Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.message is not None
        await update.message.reply_text(f"Aldım: {update.message.text}")
        answered.set()

    app.add_handler(MessageHandler(filters.TEXT, on_text))
    async with app:
        await app.start()
        assert app.updater is not None
        await app.updater.start_polling(timeout=1, poll_interval=0, drop_pending_updates=True)
        await asyncio.sleep(0.05)
        question = fake.human_message(CHAT, "Faiz kararı ne olur?", from_user=HUMAN)
        await asyncio.wait_for(answered.wait(), 3)
        await app.updater.stop()
        await app.stop()
    log = fake.messages(CHAT)
    assert [(m.username, m.text, m.reply_to_message_id) for m in log] == [
        ("analist_bot", "Aldım: Faiz kararı ne olur?", question["message_id"])
    ]
    # PTB cancels its waiting poll on stop and confirms the offset with getUpdates(timeout=0): the
    # fake notices the hang-up, so that is not a conflict.
    assert fake.conflicts(ANALIST) == 0 and fake.max_concurrent_get_updates(ANALIST) == 1
    assert fake.pending_updates(ANALIST) == []
    assert [c.method for c in fake.calls(ANALIST)][:2] == ["getMe", "deleteWebhook"]
    deadline = time.monotonic() + 2
    while fake.calls(ANALIST, "getUpdates")[-2].finished is None and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    cancelled = fake.calls(ANALIST, "getUpdates")[-2]
    assert (cancelled.status, cancelled.description) == (None, "dropped: client disconnected")


async def test_privacy_mode(fake: FakeTelegramServer) -> None:
    fake.set_privacy(BORSACI, True)
    async with make_bot(fake, BORSACI) as borsaci:
        assert (await borsaci.get_me()).can_read_all_group_messages is False
        plain = fake.human_message(CHAT, "Bugün piyasa sakin.", from_user=HUMAN)
        mention = fake.human_message(CHAT, "@Borsaci_bot sen ne düşünüyorsun?", from_user=HUMAN)
        own = await borsaci.send_message(CHAT, "Bence alım fırsatı.")
        reply = fake.human_message(CHAT, "Emin misin?", from_user=HUMAN, reply_to_message_id=own.message_id)
        command = fake.human_message(CHAT, "/fiyat THYAO", from_user=HUMAN)
        other_command = fake.human_message(CHAT, "/fiyat@kripto_bot BTC", from_user=HUMAN)
        mine_command = fake.human_message(CHAT, "/fiyat@borsaci_bot ASELS", from_user=HUMAN)
        updates = await borsaci.get_updates(timeout=0)
    seen = [u.message.message_id for u in updates]
    assert seen == [mention["message_id"], reply["message_id"], command["message_id"], mine_command["message_id"]]
    assert updates[1].message.reply_to_message.message_id == own.message_id
    everyone = [plain, mention, reply, command, other_command, mine_command]
    assert [u["message"]["message_id"] for u in fake.pending_updates(ANALIST)] == [m["message_id"] for m in everyone]
    assert command["entities"] == [{"offset": 0, "length": 6, "type": "bot_command"}]


async def test_webhook_blocks_polling_and_delivers(fake: FakeTelegramServer, analist: telegram.Bot) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((self.headers.get("X-Telegram-Bot-Api-Secret-Token"), body))
            self.send_response(200 if len(received) < 2 else 500)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True).start()
    hook_url = f"http://127.0.0.1:{receiver.server_address[1]}/tg"
    try:
        assert await analist.set_webhook(hook_url, secret_token="gizli-123", allowed_updates=["message"]) is True
        assert fake.webhook(ANALIST)["url"] == hook_url and fake.webhook(ANALIST)["secret_token"] == "gizli-123"
        with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
            await analist.get_updates(timeout=1)
        first = fake.human_message(CHAT, "bir", from_user=HUMAN)
        fake.human_message(CHAT, "iki", from_user=HUMAN)
        fake.human_message(CHAT, "üç", from_user=HUMAN)
        statuses = await fake.adeliver_webhook(ANALIST)
        assert statuses == [200, 500]  # the receiver fails the 2nd: delivery stops, it stays pending
        delivered = [(secret, body["message"]["text"]) for secret, body in received]
        assert delivered == [("gizli-123", "bir"), ("gizli-123", "iki")]
        assert received[0][1]["message"]["message_id"] == first["message_id"]
        info = await analist.get_webhook_info()
        assert info.url == hook_url and info.pending_update_count == 2 and info.allowed_updates == ("message",)
        assert "500" in (info.last_error_message or "")
        assert await analist.delete_webhook(drop_pending_updates=True) is True
        assert fake.webhook(ANALIST) is None and fake.pending_updates(ANALIST) == []
        assert await analist.get_updates(timeout=0) == ()
    finally:
        receiver.shutdown()
        receiver.server_close()


async def test_mention_entities_count_utf16(fake: FakeTelegramServer) -> None:
    text = "Güzel yükseliş 📈🚀 şimdi @kripto_bot ne düşünüyorsun? #altın $USD"
    message = fake.human_message(CHAT, text, from_user=HUMAN)
    prefix = "Güzel yükseliş 📈🚀 şimdi "
    assert len(prefix) == 24 and utf16_len(prefix) == 26  # two astral emoji count 2 units each
    mention = message["entities"][0]
    assert mention == {"offset": 26, "length": 11, "type": "mention"}
    assert [e["type"] for e in message["entities"]] == ["mention", "hashtag", "cashtag"]
    async with make_bot(fake, KRIPTO) as kripto:
        (update,) = await kripto.get_updates(timeout=0)
    parsed = update.message.parse_entities()
    assert list(parsed.values()) == ["@kripto_bot", "#altın", "$USD"]
    assert detect_entities("mail: a@b_bot.com @ab") == []  # emails and too-short names are no mentions
    assert parse_html("<i>ş</i> 😀 <a href='https://x.y'>z</a>")[1] == [
        {"offset": 0, "length": 1, "type": "italic"},
        {"offset": 5, "length": 1, "type": "text_link", "url": "https://x.y"},
    ]  # fmt: skip


def test_cli_process_and_control_endpoints() -> None:
    cmd = [sys.executable, "-m", "tests.fakes.telegram_server", f"--bot={ANALIST}=analist_bot", f"--chat={CHAT}=Piyasa"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:")
        assert http(f"{url}/_human_message", "POST", {"chat_id": CHAT, "text": "merhaba"})[0] == 200
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        status, body = http(f"{url}/bot{ANALIST}/getUpdates", "POST", b"timeout=1", form)
        assert status == 200 and body["result"][0]["message"]["text"] == "merhaba"
        script = {"method": "sendMessage", "failures": [{"name": "retry_after", "seconds": 5}]}
        assert http(f"{url}/_script", "POST", script)[0] == 200
        status, body = http(f"{url}/bot{ANALIST}/sendMessage", "POST", {"chat_id": CHAT, "text": "x"})
        assert (status, body["parameters"]) == (429, {"retry_after": 5})
        stats = http(f"{url}/_stats")[1]
        assert stats["bots"]["analist_bot"]["statuses"] == {"200": 1, "429": 1}
        assert ANALIST not in json.dumps(stats)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
        assert proc.stdout is not None
        proc.stdout.close()
