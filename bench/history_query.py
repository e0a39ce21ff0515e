"""The engine's history read on a big messages table, with and without its index (SQLite and PostgreSQL).

Fills a fresh database (migrated to head) with ``--rows`` sent messages spread over ``--chats``
chats, one of them quiet (1 message in 1,000), then times ``repo.recent_history`` for a busy and
for the quiet chat, first with ``ix_messages_chat_status_id`` and then after dropping it.

    .venv/bin/python bench/history_query.py [--rows 300000] [--chats 50] [--only sqlite]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

INDEX = "ix_messages_chat_status_id"


def fill(engine: object, rows: int, chats: int) -> tuple[int, int]:
    """``rows`` sent messages; returns (a busy chat id, the quiet chat id)."""
    from sqlalchemy import insert

    from piyasa_core.store.db import session_factory, session_scope
    from piyasa_core.store.models import Bot, Chat, Message

    with session_scope(session_factory(engine)) as session:  # type: ignore[arg-type]
        chat_rows = [Chat(key=f"c{i}", title=f"Chat {i}", topics=[], transport="console") for i in range(chats)]
        bot = Bot(username="bench_bot", name="Bench Bot", persona="investor", chats=chat_rows)
        session.add_all([*chat_rows, bot])
        session.flush()
        chat_ids, bot_id = [c.id for c in chat_rows], bot.id
    quiet, busy = chat_ids[0], chat_ids[1:]
    batch: list[dict[str, object]] = []
    with engine.begin() as conn:  # type: ignore[attr-defined]
        for n in range(rows):
            chat = quiet if n % 1000 == 0 else busy[n % len(busy)]
            batch.append({"chat_id": chat, "bot_id": bot_id, "text": f"mesaj {n}", "status": "sent",
                          "created_at": 1.7e9 + n, "sent_at": 1.7e9 + n, "metadata": {}})
            if len(batch) == 10_000:
                conn.execute(insert(Message), batch)
                batch.clear()
        if batch:
            conn.execute(insert(Message), batch)
    return busy[0], quiet


def time_reads(engine: object, chat_id: int, repeat: int) -> float:
    """Median milliseconds of one ``recent_history`` read of 50 lines."""
    from piyasa_core.engine.repo import recent_history
    from piyasa_core.store.db import session_factory, session_scope

    factory = session_factory(engine)  # type: ignore[arg-type]
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        with session_scope(factory) as session:
            recent_history(session, chat_id, 50)
        samples.append(1000 * (time.perf_counter() - started))
    return statistics.median(samples)


def run(url: str, rows: int, chats: int, repeat: int) -> dict[str, float]:
    from sqlalchemy import text

    from piyasa_core.store.db import make_engine
    from piyasa_core.store.migrate import upgrade

    engine = make_engine(url)
    upgrade(engine)
    busy, quiet = fill(engine, rows, chats)
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    out = {"busy_indexed_ms": time_reads(engine, busy, repeat), "quiet_indexed_ms": time_reads(engine, quiet, repeat)}
    with engine.begin() as conn:
        conn.execute(text(f"DROP INDEX {INDEX}"))
        conn.execute(text("ANALYZE"))
    out |= {"busy_unindexed_ms": time_reads(engine, busy, repeat),
            "quiet_unindexed_ms": time_reads(engine, quiet, repeat)}
    engine.dispose()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--chats", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    parser.add_argument("--pg", default="postgresql://127.0.0.1:5432/test", help="admin URL (creates a database)")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    for backend in [args.only] if args.only else ["sqlite", "postgresql"]:
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                results[backend] = run(f"sqlite:///{tmp}/history.db", args.rows, args.chats, args.repeat)
        else:
            import psycopg

            name = f"piyasa_hist_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.pg, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            try:
                url = args.pg.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + "/" + name
                results[backend] = run(url, args.rows, args.chats, args.repeat)
            finally:
                with psycopg.connect(args.pg, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        r = results[backend]
        print(f"{backend:10} {args.rows:,} rows, {args.chats} chats: busy chat {r['busy_indexed_ms']:.2f} ms with the "
              f"index, {r['busy_unindexed_ms']:.2f} ms without; quiet chat {r['quiet_indexed_ms']:.2f} ms with, "
              f"{r['quiet_unindexed_ms']:.2f} ms without (median of {args.repeat})", flush=True)
    print("RESULT " + json.dumps({"measure": "history_query", "rows": args.rows, "chats": args.chats,
                                  "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
