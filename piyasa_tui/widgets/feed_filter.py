"""The feed filter's grammar: `w2`, `worker:2`, `bot:Ayşe` / `bot:ayse_scalp`, `chat:piyasa-local`, words."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from piyasa_core.workers.snapshot import FeedItem

KEYS = {"bot": "bot", "b": "bot", "chat": "chat", "c": "chat", "worker": "worker", "w": "worker"}
KNOWN = "bot:NAME (display name or username), chat:KEY, worker:N or wN"
_QUOTED = re.compile(r'"([^"]*)"|\'([^\']*)\'')
_KEY = re.compile(r"^[^\W\d_]+$")  # letters only: `10:30` is a word, `foo:bar` an unknown key


@dataclass(frozen=True)
class FeedFilter:
    """All parts must match: workers, bots (display name or username, either part of it), chats, and plain
    words anywhere in the line. A person's line has no worker; ``bot:`` matches people's names too."""

    workers: frozenset[int] = frozenset()
    bots: tuple[str, ...] = ()
    chats: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    source: str = ""

    @classmethod
    def parse(cls, text: str) -> FeedFilter:
        """The filter ``text`` describes; ValueError (one line, naming the part and the known keys) for
        an unknown key or a key without a usable value. A quoted word may hold a colon (`"x:y"`)."""
        try:
            tokens = shlex.split(text)
        except ValueError:
            tokens = text.split()
        quoted = {a or b for a, b in _QUOTED.findall(text)}
        workers: set[int] = set()
        bots: list[str] = []
        chats: list[str] = []
        words: list[str] = []
        for token in tokens:
            key, sep, value = token.partition(":")
            if not sep or token in quoted or not _KEY.match(key):
                if len(token) > 1 and token[0] in "wW" and token[1:].isdigit() and token not in quoted:
                    workers.add(int(token[1:]))
                else:
                    words.append(token.casefold())
                continue
            kind = KEYS.get(key.casefold())
            if kind is None:
                raise ValueError(f"unknown filter key {key!r} in {token!r}; known: {KNOWN}; "
                                 f'quote a word with a colon ("{token}")')
            if not value.strip():
                raise ValueError(f"{token!r} needs a value after the colon; known: {KNOWN}")
            if kind == "worker":
                if not value.isdigit():
                    raise ValueError(f"{token!r}: a worker is a number, such as worker:2 or w2")
                workers.add(int(value))
            elif kind == "bot":
                bots.append(value.removeprefix("@").casefold())
            else:
                chats.append(value.casefold())
        return cls(frozenset(workers), tuple(bots), tuple(chats), tuple(words), " ".join(tokens))

    def __bool__(self) -> bool:
        return bool(self.workers or self.bots or self.chats or self.words)

    def matches(self, item: FeedItem) -> bool:
        if self.workers and (item.human or item.worker_id not in self.workers):
            return False
        if self.bots:
            name, username = item.bot_name.casefold(), item.username.casefold()
            if not any(b in name or (username and b in username) for b in self.bots):
                return False
        if self.chats and not any(c in item.chat_key.casefold() for c in self.chats):
            return False
        if self.words:
            haystack = f"{item.text} {item.bot_name} {item.username} {item.chat_key} {item.reply_to_author or ''}"
            haystack = haystack.casefold()
            if not all(w in haystack for w in self.words):
                return False
        return True
