"""The feed (issue 17): people's lines, dates, the filter's keys, the wrap key, and the message detail
(Enter on a line), driven with Pilot over a ScriptedSource."""

from __future__ import annotations

import dataclasses
from zoneinfo import ZoneInfo

import pytest

from piyasa_core.workers.snapshot import FeedItem
from piyasa_tui.screens.message import MessageDetailScreen, detail_table
from piyasa_tui.source import ScriptedSource, sample_snapshot
from piyasa_tui.widgets.feed import FeedFilter, FeedLog, feed_line
from tests.test_tui import NOW, SIZE, make_app, messages, screen_text, wait_for

TZ = ZoneInfo("Europe/Istanbul")
PERSON = FeedItem(message_id=2000, at=NOW - 1, worker_id=-1, bot_id=-1, bot_name="Operatör", chat_key="piyasa-local",
                  text="@mehmet_trader GARAN ne olur sence?", mode="human", reply_to_author=None, provider="",
                  model="", human=True)

DETAIL = {
    "id": 1023, "text": "BIST100 10 bin direnci kırılmadan ben yokum, hacim de zayıf zaten.", "status": "sent",
    "failure_reason": None, "created_at": NOW - 9, "sent_at": NOW - 5,
    "chat": {"key": "piyasa-local", "title": "Piyasa Sohbet", "transport": "telegram", "run_id": None},
    "author": {"kind": "bot", "name": "Can Teknik", "username": "can_chartist", "bot_id": 4, "user_id": None},
    "worker_id": 3, "provider": "groq", "model": "llama-3.3-70b-versatile", "tokens_in": 412, "tokens_out": 38,
    "tokens_cached": 0, "llm_latency_s": 0.84, "telegram_message_id": 5678, "send_count": 1,
    "reply_to": {"id": 1019, "text": "BIST100 bugün 10 bini görür mü?", "kind": "person", "name": "Deniz",
                 "username": "deniz_k", "bot_id": None, "user_id": 777},
    "meta": {"mode": "reply", "topic": "BIST100", "mention": None, "typing_s": 2.31,
             "postprocess": ["strip_ai_traces", "humanize"], "retries": ["promise: kesin kazanç"],
             "dedup": {"verdict": "near", "score": 91.5, "match": "BIST100 10 bin direnci kırılmadan almam",
                       "outcome": "paraphrased"}},
}


def with_person(now: float = NOW):  # type: ignore[no-untyped-def]
    snap = sample_snapshot(now)
    return dataclasses.replace(snap, feed=(*snap.feed, PERSON))


# ── lines ──────────────────────────────────────────────────────────────────────────────────────
def test_a_person_is_marked_and_other_days_show_their_date() -> None:
    today = feed_line(PERSON, TZ, today=None).plain
    assert "👤 Operatör → piyasa-local" in today and " w-1 " not in today
    assert "👤" not in feed_line(sample_snapshot(NOW).feed[0], TZ).plain
    yesterday = dataclasses.replace(PERSON, at=PERSON.at - 86400)
    from piyasa_tui.widgets.feed import local_date

    assert feed_line(yesterday, TZ, today=local_date(NOW, TZ)).plain.startswith("03-13 14:02:10 ")
    assert feed_line(PERSON, TZ, today=local_date(NOW, TZ)).plain.startswith("14:02:10 ")


def test_the_filter_matches_username_or_name_and_refuses_unknown_keys() -> None:
    mehmet = sample_snapshot(NOW).feed[0]
    assert mehmet.bot_name == "Mehmet Yatırımcı" and mehmet.username == "mehmet_trader"
    for text in ("bot:mehmet_trader", "bot:Mehmet", "bot:@mehmet_trader", "b:TRADER", "mehmet_trader"):
        assert FeedFilter.parse(text).matches(mehmet), text
    assert not FeedFilter.parse("bot:zeynep").matches(mehmet)
    assert not FeedFilter.parse("w0").matches(PERSON) and FeedFilter.parse("bot:operatör").matches(PERSON)
    with pytest.raises(ValueError) as refused:
        FeedFilter.parse("foo:bar")
    assert str(refused.value).count("\n") == 0 and "'foo'" in str(refused.value)
    assert all(k in str(refused.value) for k in ("bot:", "chat:", "worker:"))
    for bad in ("worker:x", "bot:"):
        with pytest.raises(ValueError):
            FeedFilter.parse(bad)
    assert FeedFilter.parse('saat 10:30 "foo:bar"').words == ("saat", "10:30", "foo:bar")


async def test_an_unknown_filter_key_is_refused_and_the_line_stays_open() -> None:
    app = make_app(ScriptedSource(sample_snapshot(NOW)))
    async with app.run_test(size=SIZE) as pilot:
        feed = app.query_one(FeedLog)
        await pilot.press("f", *"w2", "enter")
        await wait_for(pilot, lambda: feed.filter.source == "w2")
        await pilot.press("f")
        bar = app.dashboard.filter_bar
        await wait_for(pilot, lambda: bar.is_open)
        bar.value = ""
        await pilot.press(*"foo:bar", "enter")
        await wait_for(pilot, lambda: any("Filter not applied" in m for m in messages(app)))
        assert feed.filter.source == "w2" and bar.is_open and bar.value == "foo:bar"
        assert any("unknown filter key 'foo'" in m for m in messages(app))
        await pilot.press("escape")  # back to the filter in force
        await wait_for(pilot, lambda: not bar.is_open)
        assert bar.value == "w2" and feed.filter.source == "w2"
        await pilot.press("f")
        await wait_for(pilot, lambda: bar.is_open)
        bar.value = ""
        await pilot.press(*"bot:ayse_scalp", "enter")
        await wait_for(pilot, lambda: feed.filter.source == "bot:ayse_scalp")
        assert len(feed.lines) == 6 and all("Ayşe Scalper" in line.text for line in feed.lines)


async def test_the_operators_post_shows_in_the_feed_marked() -> None:
    source = ScriptedSource(sample_snapshot(NOW))
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        feed = app.query_one(FeedLog)
        await pilot.pause()
        source.show(with_person())
        await wait_for(pilot, lambda: feed.items[-1].human)
        await wait_for(pilot, lambda: "👤 Operatör → piyasa-local  @mehmet_trader GARAN" in screen_text(app))


async def test_w_wraps_long_lines() -> None:
    long_text = "uzun bir mesaj " * 20
    snap = sample_snapshot(NOW)
    snap = dataclasses.replace(snap, feed=(*snap.feed[:-1], dataclasses.replace(snap.feed[-1], text=long_text)))
    app = make_app(ScriptedSource(snap))
    async with app.run_test(size=SIZE) as pilot:
        feed = app.query_one(FeedLog)
        await wait_for(pilot, lambda: len(feed.lines) == 24)
        assert feed.lines[-1].text.rstrip().endswith("…")
        await pilot.press("w")
        await wait_for(pilot, lambda: len(feed.lines) > 24)
        assert "wrap" in str(feed.border_title) and "uzun bir mesaj" in feed.lines[-1].text
        assert all(line.cell_length <= feed.scrollable_content_region.width for line in feed.lines)
        await pilot.press("w")
        await wait_for(pilot, lambda: len(feed.lines) == 24)
        assert "wrap" not in str(feed.border_title)


# ── the message detail ─────────────────────────────────────────────────────────────────────────
def test_the_detail_names_everything_stored() -> None:
    from rich.console import Console

    console = Console(width=110, record=True)
    console.print(detail_table(DETAIL, TZ))
    text = console.export_text()
    for expected in ("BIST100 10 bin direnci", "#1019 👤 Deniz (@deniz_k)", "BIST100 bugün 10 bini görür mü?",
                     "Can Teknik (@can_chartist) · bot 4", "piyasa-local — Piyasa Sohbet (telegram)", "w3",
                     "groq · llama-3.3-70b-versatile", "412 in · 38 out", "0.84 s", "strip_ai_traces, humanize",
                     "promise: kesin kazanç → written again", "near duplicate (score 91.5)", "→ paraphrased",
                     "5678", "2025-03-14 14:02:06", "reply · topic BIST100"):
        assert expected in text, expected
    person = {**DETAIL, "author": {"kind": "person", "name": "Operatör", "username": "", "bot_id": None,
                                   "user_id": None}, "reply_to": None, "telegram_message_id": None}
    console = Console(width=110, record=True)
    console.print(detail_table(person, TZ))
    text = console.export_text()
    assert "👤 Operatör · a person · posted from the console" in text and "tokens" not in text


async def test_enter_on_a_feed_line_opens_its_details() -> None:
    source = ScriptedSource(sample_snapshot(NOW), results={"message_detail": DETAIL})
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        feed = app.query_one(FeedLog)
        await wait_for(pilot, lambda: len(feed.lines) == 24)
        await pilot.press("tab")
        await wait_for(pilot, lambda: feed.has_focus and feed.selected is not None)
        assert feed.selected is feed.items[-1]  # the newest line in view
        assert "Enter details" in str(feed.border_subtitle)
        await pilot.press("up", "up")
        assert feed.selected is feed.items[-3]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageDetailScreen))
        await wait_for(pilot, lambda: app.screen.detail is not None)
        assert source.called("message_detail") == [(feed.items[-3].message_id,)]
        text = screen_text(app)
        assert "Message #1021" in text and "paraphrased" in text and "412 in · 38 out" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, MessageDetailScreen))
        assert feed.has_focus and feed.selected is feed.items[-3]


async def test_a_detail_that_cannot_be_loaded_says_why_in_one_line() -> None:
    source = ScriptedSource(sample_snapshot(NOW), errors={"message_detail": LookupError("message 1023 not found")})
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("tab", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MessageDetailScreen) and app.screen.error != "")
        assert app.screen.error == "LookupError: message 1023 not found"
        assert "could not be loaded: LookupError: message 1023 not found" in screen_text(app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(app.screen, MessageDetailScreen))


async def test_a_restarted_server_brings_its_feed_anew() -> None:
    """Attached to a serve that restarted (its clock may start the simulated morning again): the feed
    is the new server's, not the old lines followed by earlier times."""
    first = sample_snapshot(NOW)
    source = ScriptedSource(first)
    app = make_app(source)
    async with app.run_test(size=SIZE) as pilot:
        feed = app.query_one(FeedLog)
        await wait_for(pilot, lambda: len(feed.lines) == 24)
        restarted = sample_snapshot(NOW - 3600, feed_size=5)
        source.show(dataclasses.replace(restarted, started_at=first.started_at + 60))
        await wait_for(pilot, lambda: len(feed.items) == 5)
        assert len(feed.lines) == 5 and [i.at for i in feed.items] == [i.at for i in restarted.feed]
