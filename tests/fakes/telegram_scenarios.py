"""Scripted failures, Telegram-shaped bodies and text entities for the fake Bot API (``telegram_server.py``).

Error bodies are what api.telegram.org really answers (``{"ok": false, "error_code": N, "description": ...}``),
so python-telegram-bot raises its real exception classes:

====================  ======  ==============================================================
constructor            status  python-telegram-bot 22.8 raises
====================  ======  ==============================================================
``retry_after(n)``     429     ``RetryAfter`` (from ``parameters.retry_after``, whatever the status)
``bad_request()``      400     ``BadRequest``
``chat_not_found()``   400     ``BadRequest``
``forbidden()``        403     ``Forbidden``
``unauthorized()``     401     ``InvalidToken``
``not_found()``        404     ``InvalidToken`` (PTB maps 404 like 401)
``conflict()``         409     ``Conflict``
``server_error()``     5xx     ``NetworkError``
``slow(s)``            --      nothing: the request is answered normally after ``s`` seconds
====================  ======  ==============================================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http import HTTPStatus
from typing import Any

__all__ = [
    "ApiError",
    "Failure",
    "bad_request",
    "chat_not_found",
    "conflict",
    "detect_entities",
    "error_body",
    "forbidden",
    "not_found",
    "ok",
    "parse_html",
    "retry_after",
    "server_error",
    "slow",
    "unauthorized",
    "utf16_len",
]

UNAUTHORIZED = "Unauthorized"
NOT_FOUND = "Not Found"
CHAT_NOT_FOUND = "Bad Request: chat not found"
POLL_CONFLICT = "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running"
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first"
)


class ApiError(Exception):
    """Raised inside a method handler to answer ``{"ok": false, ...}`` with ``status``."""

    def __init__(self, status: int, description: str, parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__(f"{status} {description}")
        self.status, self.description = status, description
        self.parameters = dict(parameters) if parameters else None

    def body(self) -> dict[str, Any]:
        """The JSON body Telegram sends for this error."""
        return error_body(self.status, self.description, self.parameters)


def error_body(status: int, description: str, parameters: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``{"ok": false, "error_code": status, "description": ..., ["parameters": ...]}``."""
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = dict(parameters)
    return body


@dataclass(frozen=True)
class Failure:
    """One scripted behaviour of a (token, method): an error answer, a delay, or both.

    ``status`` None means "answer normally" (after ``delay`` seconds). ``parameters`` become the
    error's ``parameters`` object (``retry_after``, ``migrate_to_chat_id``).
    """

    name: str
    status: int | None = None
    description: str = ""
    parameters: Mapping[str, Any] | None = field(default=None, hash=False)
    delay: float = 0.0

    @property
    def is_error(self) -> bool:
        """True when the request is answered with an error."""
        return self.status is not None

    def error(self) -> ApiError:
        """The error this failure answers with (only when ``is_error``)."""
        assert self.status is not None
        return ApiError(self.status, self.description, self.parameters)

    @classmethod
    def coerce(cls, value: str | Failure | Mapping[str, Any]) -> Failure:
        """A Failure from itself, a constructor name (``"chat_not_found"``) or a JSON-like mapping
        ``{"name": "retry_after", "seconds": 3}`` (the other keys are the constructor's arguments)."""
        if isinstance(value, Failure):
            return value
        if isinstance(value, str):
            name, kwargs = value, {}
        else:
            kwargs = dict(value)
            name = str(kwargs.pop("name"))
        maker = _CONSTRUCTORS.get(name)
        if maker is None:
            raise ValueError(f"unknown failure {name!r}; known: {sorted(_CONSTRUCTORS)}")
        return maker(**kwargs)


def ok() -> Failure:
    """A script placeholder: answer this request normally."""
    return Failure("ok")


def slow(seconds: float) -> Failure:
    """Answer normally, ``seconds`` later."""
    return Failure("slow", delay=float(seconds))


def retry_after(seconds: int) -> Failure:
    """429 flood control: ``Too Many Requests: retry after N`` with ``parameters.retry_after``.

    Telegram always sends a whole number of seconds >= 1 (PTB ignores ``retry_after: 0``).
    """
    seconds = int(seconds)
    return Failure(
        "retry_after", 429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds}
    )


def bad_request(description: str = "Bad Request: message text is empty") -> Failure:
    """400 with a Telegram-style description (keep the ``Bad Request: `` prefix)."""
    return Failure("bad_request", 400, description)


def chat_not_found() -> Failure:
    """400 ``Bad Request: chat not found``."""
    return Failure("chat_not_found", 400, CHAT_NOT_FOUND)


def forbidden(description: str = "Forbidden: bot was kicked from the supergroup chat") -> Failure:
    """403 (kicked, blocked by the user, not a member...)."""
    return Failure("forbidden", 403, description)


def unauthorized() -> Failure:
    """401 ``Unauthorized`` (a revoked token)."""
    return Failure("unauthorized", 401, UNAUTHORIZED)


def not_found() -> Failure:
    """404 ``Not Found`` (an unknown method or a malformed token)."""
    return Failure("not_found", 404, NOT_FOUND)


def conflict(description: str = POLL_CONFLICT) -> Failure:
    """409 Conflict (another poller, or an active webhook)."""
    return Failure("conflict", 409, description)


def server_error(status: int = 502) -> Failure:
    """5xx with the status phrase as description (502 -> ``Bad Gateway``)."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Server Error"
    return Failure("server_error", status, phrase)


_CONSTRUCTORS: dict[str, Any] = {
    f.__name__: f
    for f in (ok, slow, retry_after, bad_request, chat_not_found, forbidden, unauthorized, not_found, conflict,
              server_error)
}  # fmt: skip


# ---------------------------------------------------------------------- text and entities


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units (what Telegram's entity offsets count)."""
    return len(text.encode("utf-16-le")) // 2


_ENTITY_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # Usernames: a letter then 2..31 of [A-Za-z0-9_]; not preceded by a word char or "@" (emails).
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z][A-Za-z0-9_]{2,31}(?![A-Za-z0-9_])")),
    ("bot_command", re.compile(r"(?<![\w/@])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z][A-Za-z0-9_]{2,31})?(?![\w/])")),
    ("hashtag", re.compile(r"(?<![\w#])#(?=\w*[^\W\d])\w{1,256}")),
    ("cashtag", re.compile(r"(?<![\w$])\$[A-Z]{3,8}(?![\w])")),
)


def detect_entities(text: str) -> list[dict[str, Any]]:
    """Entities Telegram detects by itself (mention, bot_command, hashtag, cashtag), sorted by offset.

    Offsets and lengths are in UTF-16 code units, so an emoji before a mention counts 2.
    """
    found: list[tuple[int, int, str]] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _ENTITY_PATTERNS:
        for m in pattern.finditer(text):
            if any(m.start() < end and start < m.end() for start, end in taken):
                continue
            taken.append((m.start(), m.end()))
            found.append((m.start(), m.end(), kind))
    found.sort()
    return [
        {"offset": utf16_len(text[:start]), "length": utf16_len(text[start:end]), "type": kind}
        for start, end, kind in found
    ]


def entity_text(text: str, entity: Mapping[str, Any]) -> str:
    """The substring an entity covers (offsets in UTF-16 code units)."""
    raw = text.encode("utf-16-le")
    start, length = int(entity["offset"]) * 2, int(entity["length"]) * 2
    return raw[start : start + length].decode("utf-16-le")


_HTML_TAGS = {
    "b": "bold", "strong": "bold", "i": "italic", "em": "italic", "u": "underline", "ins": "underline",
    "s": "strikethrough", "strike": "strikethrough", "del": "strikethrough", "code": "code", "pre": "pre",
    "a": "text_link", "tg-spoiler": "spoiler", "blockquote": "blockquote", "span": "spoiler",
    "tg-emoji": "custom_emoji",
}  # fmt: skip


class _TelegramHTML(HTMLParser):
    """Telegram's HTML parse mode: a few tags become entities, anything else is an error."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.out: list[str] = []
        self.open: list[tuple[str, int, dict[str, Any]]] = []
        self.entities: list[dict[str, Any]] = []
        self.error: str | None = None

    def _pos(self) -> int:
        line, col = self.getpos()
        lines = self.source.split("\n")
        index = sum(len(x) + 1 for x in lines[: line - 1]) + col
        return len(self.source[:index].encode("utf-8"))

    def _offset(self) -> int:
        return utf16_len("".join(self.out))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.error:
            return
        values = dict(attrs)
        if tag not in _HTML_TAGS or (tag == "span" and values.get("class") != "tg-spoiler"):
            self.error = f'Unsupported start tag "{tag}" at byte offset {self._pos()}'
            return
        extra: dict[str, Any] = {}
        if tag == "a":
            extra["url"] = values.get("href") or ""
        elif tag == "tg-emoji":
            extra["custom_emoji_id"] = values.get("emoji-id") or ""
        elif tag == "blockquote" and "expandable" in values:
            extra["type"] = "expandable_blockquote"
        self.open.append((tag, self._offset(), extra))

    def handle_endtag(self, tag: str) -> None:
        if self.error:
            return
        if not self.open or self.open[-1][0] != tag:
            expected = self.open[-1][0] if self.open else ""
            self.error = f'Unmatched end tag at byte offset {self._pos()}, expected "</{expected}>", found "</{tag}>"'
            return
        _, start, extra = self.open.pop()
        length = self._offset() - start
        if length > 0:
            entity = {"offset": start, "length": length, "type": _HTML_TAGS[tag], **extra}
            self.entities.append(entity)

    def handle_data(self, data: str) -> None:
        if not self.error:
            self.out.append(data)


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities of an HTML-formatted message; ApiError 400 like Telegram on bad markup."""
    parser = _TelegramHTML(text)
    parser.feed(text)
    parser.close()
    if parser.error is None and parser.open:
        parser.error = f'Can\'t find end tag corresponding to start tag "{parser.open[-1][0]}"'
    if parser.error:
        raise ApiError(400, f"Bad Request: can't parse entities: {parser.error}")
    parser.entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(parser.out), parser.entities
