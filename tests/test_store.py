"""Store round-trips on SQLite and the real PostgreSQL; timestamps always aware UTC."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from piyasa_core.store.db import make_engine, session_factory, session_scope
from piyasa_core.store.migrate import upgrade
from piyasa_core.store.models import Bot, Chat, Memory, Message, ProviderUsage, Stance
from piyasa_core.store.settings_repo import all_settings, get_setting, set_setting
from piyasa_core.timeutil import UTC, as_utc


@pytest.fixture
def sessions(db_url: str):  # type: ignore[no-untyped-def]
    engine = make_engine(db_url)
    upgrade(engine)
    yield session_factory(engine)
    engine.dispose()


def _bot_and_chat(session) -> tuple[Bot, Chat]:  # type: ignore[no-untyped-def]
    chat = Chat(key="c1", title="Chat 1", topics=["BIST"], transport="console")
    bot = Bot(username="mehmet_trader", name="Mehmet", persona="investor", emotion={"energy": 0.3},
              watchlist=["GARAN"], active_hours=["09:00-12:00"], chats=[chat])
    session.add_all([chat, bot])
    session.flush()
    return bot, chat


def test_message_round_trip_keeps_every_field_and_aware_utc(sessions) -> None:  # type: ignore[no-untyped-def]
    istanbul = timezone(timedelta(hours=3))
    created = datetime(2026, 1, 2, 15, 4, 5, 123000, tzinfo=istanbul)
    with session_scope(sessions) as session:
        bot, chat = _bot_and_chat(session)
        human = Message(chat_id=chat.id, human_user_id=42, human_name="Deniz", text="GARAN ne olur?",
                        status="sent", telegram_message_id=10, created_at=created)
        session.add(human)
        session.flush()
        session.add(Message(chat_id=chat.id, bot_id=bot.id, text="sabır şart 📊", status="pending",
                            reply_to_id=human.id, worker_id=1, provider="offline", model="templates-v1",
                            tokens_in=120, tokens_out=30, tokens_cached=5, generation_seconds=0.42,
                            created_at="2026-01-02T12:04:06Z", meta={"topic": "GARAN", "mode": "reply"}))
    with session_scope(sessions) as session:
        rows = session.scalars(select(Message).order_by(Message.id)).all()
        human, reply = rows
        assert human.is_human and not reply.is_human
        assert human.created_at == datetime(2026, 1, 2, 12, 4, 5, 123000, tzinfo=UTC)
        assert reply.created_at == datetime(2026, 1, 2, 12, 4, 6, tzinfo=UTC)
        for row in rows:
            assert row.created_at.tzinfo is not None and row.created_at.utcoffset() == timedelta(0)
        assert reply.reply_to.text == "GARAN ne olur?"
        assert (reply.tokens_in, reply.tokens_out, reply.tokens_cached) == (120, 30, 5)
        assert reply.meta == {"topic": "GARAN", "mode": "reply"}
        assert reply.sent_at is None
        reply.status = "sent"
        reply.sent_at = datetime(2026, 1, 2, 12, 4, 8)  # naive input is taken as UTC
        reply.telegram_message_id = 11
    with session_scope(sessions) as session:
        reply = session.scalars(select(Message).where(Message.telegram_message_id == 11)).one()
        assert reply.sent_at == datetime(2026, 1, 2, 12, 4, 8, tzinfo=UTC)
        bot = session.scalars(select(Bot)).one()
        assert bot.created_at.tzinfo is not None and [c.key for c in bot.chats] == ["c1"]
        assert bot.emotion == {"energy": 0.3} and bot.watchlist == ["GARAN"]


def test_raw_sql_timestamps_normalise_to_aware_utc(sessions) -> None:  # type: ignore[no-untyped-def]
    with session_scope(sessions) as session:
        _bot_and_chat(session)
    with session_scope(sessions) as session:
        raw = session.execute(text("select created_at from bots")).scalar_one()
        assert as_utc(raw).tzinfo is UTC


def test_status_and_author_constraints(sessions) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IntegrityError):
        with session_scope(sessions) as session:
            _, chat = _bot_and_chat(session)
            session.add(Message(chat_id=chat.id, text="x", status="delivered"))
    with pytest.raises(IntegrityError):
        with session_scope(sessions) as session:
            bot, chat = _bot_and_chat(session)
            session.add(Message(chat_id=chat.id, bot_id=bot.id, human_name="both", text="x"))


def test_one_telegram_message_is_stored_once_per_chat(sessions) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(IntegrityError):
        with session_scope(sessions) as session:
            _, chat = _bot_and_chat(session)
            session.add_all([Message(chat_id=chat.id, human_name="A", text="x", status="sent",
                                     telegram_message_id=5),
                             Message(chat_id=chat.id, human_name="A", text="x", status="sent",
                                     telegram_message_id=5)])


def test_settings_keep_their_type(sessions) -> None:  # type: ignore[no-untyped-def]
    with session_scope(sessions) as session:
        set_setting(session, "hourly_min", 50)
        set_setting(session, "ratio", 0.25)
        set_setting(session, "simulation_active", True)
        set_setting(session, "provider", "groq")
    with session_scope(sessions) as session:
        values = all_settings(session)
        assert values == {"hourly_min": 50, "ratio": 0.25, "simulation_active": True, "provider": "groq"}
        assert type(values["hourly_min"]) is int and type(values["simulation_active"]) is bool
        raw = session.execute(text("select text_value from settings where key = 'hourly_min'")).scalar()
        assert raw is None  # not a JSON-encoded string
        set_setting(session, "hourly_min", "fifty")
        assert get_setting(session, "hourly_min") == "fifty"
        assert get_setting(session, "missing", 7) == 7
        with pytest.raises(TypeError):
            set_setting(session, "bad", {"min": 50})  # type: ignore[arg-type]


def test_stance_confidence_is_a_bounded_float(sessions) -> None:  # type: ignore[no-untyped-def]
    with session_scope(sessions) as session:
        bot, _ = _bot_and_chat(session)
        session.add(Stance(bot_id=bot.id, topic="GARAN", view="uzun vade", confidence=0.8))
        session.add(Memory(bot_id=bot.id, content="2001 krizi", importance=0.9))
    with session_scope(sessions) as session:
        stance = session.scalars(select(Stance)).one()
        assert isinstance(stance.confidence, float) and stance.confidence == 0.8
    with pytest.raises(IntegrityError):
        with session_scope(sessions) as session:
            session.add(Stance(bot_id=stance.bot_id, topic="BTC", view="?", confidence=1.5))


def test_provider_usage_is_unique_per_day_provider_model(sessions) -> None:  # type: ignore[no-untyped-def]
    with session_scope(sessions) as session:
        session.add(ProviderUsage(day=date(2026, 1, 2), provider="groq", model="m", requests=3,
                                  prompt_tokens=1000, completion_tokens=200))
    with pytest.raises(IntegrityError):
        with session_scope(sessions) as session:
            session.add(ProviderUsage(day=date(2026, 1, 2), provider="groq", model="m"))
    with session_scope(sessions) as session:
        usage = session.scalars(select(ProviderUsage)).one()
        assert usage.day == date(2026, 1, 2) and usage.updated_at.tzinfo is not None


def test_as_utc_accepts_the_forms_the_old_system_tripped_on() -> None:
    aware = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert as_utc("2026-01-01T12:00:00Z") == aware
    assert as_utc("2026-01-01T15:00:00+03:00") == aware
    assert as_utc("2026-01-01 12:00:00") == aware
    assert as_utc(datetime(2026, 1, 1, 12)) == aware
    assert as_utc(aware.timestamp()) == aware
    with pytest.raises(TypeError):
        as_utc(None)  # type: ignore[arg-type]
