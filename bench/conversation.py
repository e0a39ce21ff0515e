"""The conversation measures (engine/quality.py) of any piyasa database: every run chat, or the chats named.

Reads the stored messages of a data dir's database (a benchmark's kept folder, a `bench` out dir's data)
and prints the quality report's reader measures as one JSON line, so that a transcript made by an older
build can be measured with today's definitions (before/after tables).

    .venv/bin/python bench/conversation.py DATABASE_URL [--chat ID ...] [--transcript]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    from sqlalchemy import create_engine, select
    from sqlalchemy.orm import Session

    from piyasa_core.engine.quality_db import quality_for_window
    from piyasa_core.store.models import Chat, Message

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="database URL, e.g. sqlite:////tmp/run/data/piyasa.db")
    parser.add_argument("--chat", type=int, action="append", help="chat id (default: every benchmark run's chats)")
    parser.add_argument("--transcript", action="store_true", help="also print the messages")
    args = parser.parse_args()
    engine = create_engine(args.url)
    with Session(engine) as session:
        chats = args.chat or list(session.scalars(select(Chat.id).where(Chat.run_id.is_not(None))))
        if not chats:
            print(f"bench/conversation.py: no benchmark chats in {args.url}; name one with --chat", file=sys.stderr)
            return 2
        report = quality_for_window(session, 0, 4e9, chats)
        if args.transcript:
            for m in session.scalars(select(Message).where(Message.chat_id.in_(chats)).order_by(Message.id)):
                who = m.human_name and f"[{m.human_name}]" or f"bot {m.bot_id}"
                print(f"{m.id} {m.created_at:%H:%M:%S} {who} ↩{m.reply_to_id or ''}: {m.text}")
    keys = ("bot_messages", "question_replies", "answered_question_rate", "human_questions",
            "human_questions_with_answer", "replies_per_human_question", "max_bots_per_human_question_10min",
            "addressed_human_questions", "addressed_answered_first", "unanswered_repeat_rate", "mention_rate",
            "self_mentions", "emoji_rate_by_bot", "time_phrase_violations", "harmony_errors", "near_duplicate_rate",
            "echoed_price_rate", "misdirected_pleasantries", "bot_to_bot_reply_rate", "artifact_classes")
    print("RESULT " + json.dumps({k: getattr(report, k) for k in keys}, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
