"""The batched outbox on SQLite and the real PostgreSQL: one transaction per loop turn, a bad write
fails alone, a connection the server dropped is replaced without losing the batch."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError

from piyasa_core.engine.outbox import Outbox
from piyasa_core.store.db import make_engine, session_factory, session_scope
from piyasa_core.store.migrate import upgrade
from piyasa_core.store.models import Bot, Chat, Message


@pytest.fixture
def db(db_url: str) -> Iterator[tuple[Engine, int, int]]:
    """A migrated database holding one bot in one chat: (engine, bot id, chat id)."""
    engine = make_engine(db_url)
    upgrade(engine)
    with session_scope(session_factory(engine)) as session:
        chat = Chat(key="c1", title="Chat 1", topics=["BIST"], transport="console")
        bot = Bot(username="ayse_yatirim", name="Ayşe", persona="investor", chats=[chat])
        session.add_all([chat, bot])
        session.flush()
        ids = (bot.id, chat.id)
    yield engine, *ids
    engine.dispose()


def _row(bot_id: int, chat_id: int, text_: str) -> dict[str, Any]:
    return {"chat_id": chat_id, "bot_id": bot_id, "text": text_, "reply_to_id": None, "worker_id": 0,
            "provider": "offline", "model": "offline-1", "tokens_in": 10, "tokens_out": 5, "tokens_cached": 0,
            "generation_seconds": 0.01, "created_at": 1_764_000_000.0, "meta": {"topic": "BIST"}}


def _statuses(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {t: s for t, s in conn.execute(select(Message.text, Message.status))}


async def test_writes_of_one_loop_turn_share_one_transaction(db: tuple[Engine, int, int]) -> None:
    engine, bot_id, chat_id = db
    outbox = Outbox(engine)
    ids = await asyncio.gather(*(outbox.add_pending(**_row(bot_id, chat_id, f"mesaj {i}")) for i in range(8)))
    assert len(set(ids)) == 8 and (outbox.batches, outbox.writes) == (1, 8)
    assert set(_statuses(engine).values()) == {"pending"}  # committed before anyone was told the id
    await asyncio.gather(*(outbox.mark_sent(mid, 100 + n, 1_764_000_001.0) for n, mid in enumerate(ids)))
    assert (outbox.batches, outbox.writes) == (2, 16)
    with engine.connect() as conn:
        rows = conn.execute(select(Message.id, Message.status, Message.send_count, Message.meta)).all()
    assert {(r.status, r.send_count) for r in rows} == {("sent", 1)} and rows[0][3] == {"topic": "BIST"}
    outbox.close()


async def test_a_bad_write_fails_alone_and_the_rest_of_its_batch_is_kept(db: tuple[Engine, int, int]) -> None:
    engine, bot_id, chat_id = db
    outbox = Outbox(engine)
    first, second, third = await asyncio.gather(*(outbox.add_pending(**_row(bot_id, chat_id, t))
                                                   for t in ("bir", "iki", "üç")))
    # the transport "accepted" two messages under one message id: the database refuses the second
    results = await asyncio.gather(outbox.mark_sent(first, 7, 1.0), outbox.mark_sent(second, 7, 1.0),
                                   outbox.mark_failed(third, "bad_request: chat not found",
                                                      disable_chat_id=chat_id),
                                   return_exceptions=True)
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], IntegrityError)
    assert _statuses(engine) == {"bir": "sent", "iki": "pending", "üç": "failed"}
    with engine.connect() as conn:
        assert conn.scalar(select(Chat.enabled)) is False
    fourth = await outbox.add_pending(**_row(bot_id, chat_id, "dört"))  # the outbox still works
    assert fourth > third
    outbox.close()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_a_connection_the_server_dropped_is_replaced_and_nothing_is_lost(db: tuple[Engine, int, int]) -> None:
    engine, bot_id, chat_id = db
    outbox = Outbox(engine)
    await outbox.add_pending(**_row(bot_id, chat_id, "önce"))
    with engine.connect() as admin:  # a server restart, as far as the outbox's connection can tell
        killed = admin.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
        admin.commit()
    assert killed >= 1
    await outbox.add_pending(**_row(bot_id, chat_id, "sonra"))  # alone in its batch: no fallback hides it
    after = await asyncio.gather(*(outbox.add_pending(**_row(bot_id, chat_id, f"sonra {i}")) for i in range(3)))
    assert len(set(after)) == 3
    assert sorted(_statuses(engine)) == ["sonra", "sonra 0", "sonra 1", "sonra 2", "önce"]
    outbox.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
async def test_a_failed_commit_fails_its_whole_batch_and_runs_nothing_again(db: tuple[Engine, int, int]) -> None:
    """After a failed commit nobody knows what was written: no write of the batch is run again."""
    from sqlalchemy import event

    from piyasa_core.engine.outbox import CommitFailed

    engine, bot_id, chat_id = db
    # foreign keys checked at COMMIT: a row naming a bot that does not exist fails the commit itself
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON"))
    outbox = Outbox(engine)
    results = await asyncio.gather(outbox.add_pending(**_row(bot_id, chat_id, "iyi")),
                                   outbox.add_pending(**_row(bot_id + 999, chat_id, "kötü")),
                                   return_exceptions=True)
    assert [type(r) for r in results] == [CommitFailed, CommitFailed]
    assert _statuses(engine) == {}  # the good row was not written again on its own
    assert await outbox.add_pending(**_row(bot_id, chat_id, "sonra")) > 0  # the outbox goes on
    outbox.close()
