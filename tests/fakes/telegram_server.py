"""A fake Telegram Bot API server on 127.0.0.1 for tests and benchmarks (stdlib only).

The real python-telegram-bot talks to it unchanged: ``telegram.Bot(token, base_url=f"{fake.url}/bot")``
(or ``ExtBot`` / ``ApplicationBuilder().base_url(...)``). Routes are ``GET|POST /bot<TOKEN>/<method>``;
parameters are read from the query string and from an ``application/x-www-form-urlencoded`` (what PTB
22 sends), ``multipart/form-data`` (PTB, when uploading files) or ``application/json`` body. Object
fields that form encodings carry as JSON strings (``reply_parameters``, ``entities``, ``allowed_updates``,
``reply_markup``...) are decoded, and known numeric / boolean fields are converted, before recording.

Implemented: getMe, sendChatAction, sendMessage, getUpdates (long polling, offsets, 409 conflicts),
setWebhook, deleteWebhook, getWebhookInfo, getChat; more with ``add_method``. An unknown token gets
401 ``Unauthorized``, an unknown method 404 ``Not Found`` (as Telegram answers). Incoming traffic is
injected with ``add_chat`` / ``human_message`` / ``edit_human_message``; every (token, method) plays a
FIFO script of ``Failure``s (see ``telegram_scenarios``) falling back to a sticky default.
Run standalone with ``python -m tests.fakes.telegram_server --bot 123:ABC=my_bot --chat=-1001=Piyasa``.
"""

from __future__ import annotations

import asyncio
import copy
import json
import re
import select
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from typing import Any, Literal
from urllib.parse import parse_qs, parse_qsl

from .http_base import Answer, FakeHandlerBase, FakeHTTPServerBase, main_parser, serve_until_signalled
from .telegram_scenarios import (
    CHAT_NOT_FOUND,
    NOT_FOUND,
    POLL_CONFLICT,
    UNAUTHORIZED,
    WEBHOOK_CONFLICT,
    ApiError,
    Failure,
    detect_entities,
    entity_text,
    error_body,
    parse_html,
    utf16_len,
)

__all__ = ["ChatMessage", "FakeTelegramServer", "Failure", "RecordedCall", "UploadedFile", "main"]

FailureLike = str | Failure | Mapping[str, Any]
MethodFn = Callable[[dict[str, Any], dict[str, Any]], Any]
ConflictMode = Literal["reject_new", "terminate_old"]

_PATH = re.compile(r"/bot(?P<token>[^/]+)/(?P<method>[A-Za-z_][A-Za-z0-9_]*)/?")
_JSON_FIELDS = frozenset(
    {
        "reply_parameters", "allowed_updates", "entities", "caption_entities", "reply_markup",
        "link_preview_options", "media", "commands", "scope", "reaction", "options", "results",
    }
)  # fmt: skip
_INT_FIELDS = frozenset(
    {
        "chat_id", "message_id", "offset", "limit", "reply_to_message_id", "message_thread_id", "user_id",
        "from_chat_id", "max_connections", "until_date",
    }
)  # fmt: skip
_BOOL_FIELDS = frozenset(
    {
        "disable_notification", "protect_content", "allow_sending_without_reply", "drop_pending_updates",
        "disable_web_page_preview", "allow_paid_broadcast", "has_spoiler", "disable_content_type_detection",
        "show_caption_above_media", "is_big",
    }
)  # fmt: skip
_CHAT_ACTIONS = frozenset(
    {
        "typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice",
        "upload_document", "choose_sticker", "find_location", "record_video_note", "upload_video_note",
    }
)  # fmt: skip
_DEFAULT_UPDATE_TYPES_EXCLUDED = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")
MAX_MESSAGE_LENGTH = 4096
_POLL_SLICE = 0.1  # seconds between checks that a long-polling client is still connected


class _ClientGone(Exception):
    """The client of a waiting getUpdates closed its connection (e.g. PTB cancelled the poll)."""


@dataclass(eq=False)
class _Poll:
    """One getUpdates request in progress."""

    gone: Callable[[], bool]
    superseded: bool = False
    abandoned: bool = False


@dataclass
class UploadedFile:
    """A file part of a multipart request."""

    filename: str
    content_type: str
    data: bytes = field(repr=False)

    @property
    def size(self) -> int:
        """Bytes received."""
        return len(self.data)


@dataclass
class RecordedCall:
    """One request the fake received (``time`` / ``finished`` are the server clock, monotonic by default).

    ``bot`` is the bot's username (None for an unknown token); the token itself is kept out of the repr.
    """

    token: str | None = field(repr=False)
    method: str
    params: dict[str, Any]
    time: float
    status: int | None = None
    bot: str | None = None
    description: str | None = None
    failure: str | None = None
    http_method: str = "POST"
    content_type: str = ""
    finished: float | None = None
    result: Any = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """True when answered with ``{"ok": true}``."""
        return self.status == 200


@dataclass(frozen=True)
class ChatMessage:
    """One message of a chat's log: ``username`` is the bot's username (or the human's username/first name)."""

    username: str
    text: str
    reply_to_message_id: int | None
    time: float
    message_id: int
    is_bot: bool = True
    token: str | None = field(default=None, repr=False)


@dataclass(eq=False)
class _Bot:
    token: str = field(repr=False)
    user: dict[str, Any]
    privacy: bool
    next_update_id: int
    updates: deque[dict[str, Any]] = field(default_factory=deque)
    webhook: dict[str, Any] | None = None
    allowed_updates: list[str] | None = None
    polls: list[_Poll] = field(default_factory=list)
    max_polls: int = 0
    conflicts: int = 0
    poll_generation: int = 0

    @property
    def username(self) -> str:
        return str(self.user["username"])

    @property
    def public_user(self) -> dict[str, Any]:
        """The ``from`` of its messages (getMe minus the capability flags)."""
        return {k: self.user[k] for k in ("id", "is_bot", "first_name", "username")}


@dataclass(eq=False)
class _Chat:
    id: int
    title: str
    type: str
    username: str | None
    members: dict[str, None] = field(default_factory=dict, repr=False)  # tokens, insertion ordered
    kicked: set[str] = field(default_factory=set, repr=False)
    next_message_id: int = 1
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    log: list[ChatMessage] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            chat["first_name"] = self.title
        else:
            chat["title"] = self.title
        if self.username:
            chat["username"] = self.username
        return chat


@dataclass
class _Reply:
    status: int
    body: Any


@dataclass
class _Result:
    """A handler result with Telegram's optional top-level ``description`` (setWebhook does this)."""

    value: Any
    description: str | None = None


def _to_bool(value: Any) -> Any:
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    return value


def _to_number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value
    return value


def normalise_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Decode JSON-string object fields and convert known int / bool fields (unknown ones stay as sent)."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key in _JSON_FIELDS and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        elif key in _INT_FIELDS or key == "timeout":
            value = _to_number(value)
        elif key in _BOOL_FIELDS:
            value = _to_bool(value)
        out[key] = value
    return out


def parse_request_params(query_text: str, content_type: str, raw: bytes) -> dict[str, Any]:
    """Query string plus the body (form, multipart or JSON), normalised; ValueError on an unreadable body."""
    params: dict[str, Any] = dict(parse_qsl(query_text, keep_blank_values=True))
    main_type = content_type.split(";", 1)[0].strip().lower()
    if raw:
        if main_type == "application/json":
            body = json.loads(raw)
            if not isinstance(body, dict):
                raise ValueError("JSON body is not an object")
            params.update(body)
        elif main_type == "multipart/form-data":
            params.update(_parse_multipart(content_type, raw))
        else:  # x-www-form-urlencoded (or a client that forgot the header)
            params.update(parse_qsl(raw.decode("utf-8"), keep_blank_values=True, strict_parsing=False))
    return normalise_params(params)


def _parse_multipart(content_type: str, raw: bytes) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise ValueError("multipart body without parts")
    out: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            out[str(name)] = UploadedFile(filename, part.get_content_type(), payload)
        else:
            out[str(name)] = payload.decode(part.get_content_charset() or "utf-8")
    return out


class _Handler(FakeHandlerBase):
    def _client_gone(self) -> bool:
        """True when the client closed the connection while waiting for the answer."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def answer(self, raw: bytes) -> Answer | None:
        fake: FakeTelegramServer = self.server.fake
        reply = fake.handle(self.command, self.path, dict(self.headers.items()), raw, self._client_gone)
        return None if reply.body is None else (reply.status, reply.body, {})

    def bug_body(self, trace: str) -> Any:
        return {"ok": False, "error_code": 500, "description": "fake server bug", "trace": trace}


class FakeTelegramServer(FakeHTTPServerBase):
    """Threaded fake of the Telegram Bot API; a context manager. Give PTB ``base_url=f"{fake.url}/bot"``.

    ``conflict_mode`` decides who loses when a second getUpdates of a token arrives while one is
    waiting: ``"reject_new"`` (default) answers the newcomer 409, ``"terminate_old"`` answers the
    waiting one 409 and lets the newcomer poll. ``max_poll_timeout`` caps getUpdates' ``timeout``.
    ``auto_chats`` creates an unknown chat (with the sending bot as member) instead of answering
    ``chat not found``.
    """

    handler_class = _Handler
    thread_name = "fake-telegram-server"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        conflict_mode: ConflictMode = "reject_new",
        max_poll_timeout: float = 30.0,
        auto_chats: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if conflict_mode not in ("reject_new", "terminate_old"):
            raise ValueError(f"unknown conflict_mode {conflict_mode!r}")
        super().__init__(host, port)
        self.conflict_mode = conflict_mode
        self.max_poll_timeout = max_poll_timeout
        self.auto_chats = auto_chats
        self.clock = clock
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._bots: dict[str, _Bot] = {}
        self._chats: dict[int, _Chat] = {}
        self._records: list[RecordedCall] = []
        self._scripts: dict[tuple[str | None, str], deque[Failure]] = {}
        self._defaults: dict[tuple[str | None, str], Failure] = {}
        self._extra: dict[str, tuple[str, MethodFn]] = {}
        self._human_ids: dict[str, int] = {}
        self._local = threading.local()  # the handler thread's "has my client left?" check
        self._methods: dict[str, tuple[str, Callable[[_Bot, dict[str, Any]], Any]]] = {
            name.lower(): (name, fn)
            for name, fn in (
                ("getMe", self._get_me),
                ("sendChatAction", self._send_chat_action),
                ("sendMessage", self._send_message),
                ("getUpdates", self._get_updates),
                ("setWebhook", self._set_webhook),
                ("deleteWebhook", self._delete_webhook),
                ("getWebhookInfo", self._get_webhook_info),
                ("getChat", self._get_chat),
            )
        }

    # ------------------------------------------------------------------ lifecycle

    def _on_stop(self) -> None:
        """Waiting getUpdates answer ``[]``."""
        with self._cond:
            self._cond.notify_all()

    # ------------------------------------------------------------------ bots and chats

    def add_bot(
        self,
        token: str,
        user_id: int | None = None,
        username: str | None = None,
        first_name: str | None = None,
        *,
        privacy: bool = False,
        first_update_id: int | None = None,
    ) -> dict[str, Any]:
        """Register a bot; returns its getMe User. ``user_id`` defaults to the token's numeric prefix
        (as on Telegram); update ids start at ``first_update_id`` (default: 100000 x registration order + 1)."""
        if user_id is None:
            prefix = token.split(":", 1)[0]
            if not prefix.isdigit():
                raise ValueError("user_id is required when the token has no numeric prefix")
            user_id = int(prefix)
        username = username or f"bot{user_id}_bot"
        with self._lock:
            if first_update_id is None:
                first_update_id = 100_000 * (len(self._bots) + 1) + 1
            user = {
                "id": int(user_id), "is_bot": True, "first_name": first_name or username, "username": username,
                "can_join_groups": True, "can_read_all_group_messages": not privacy,
                "supports_inline_queries": False, "can_connect_to_business": False, "has_main_web_app": False,
            }  # fmt: skip
            self._bots[token] = _Bot(token, user, privacy, first_update_id)
            return dict(user)

    def set_privacy(self, token: str, enabled: bool = True) -> None:
        """Simulate privacy mode: in groups the bot then only gets messages that @mention it, reply to
        one of its messages, or start with a /command (``/cmd@other_bot`` goes to that bot only)."""
        with self._lock:
            bot = self._bot(token)
            bot.privacy = enabled
            bot.user["can_read_all_group_messages"] = not enabled

    def add_chat(
        self,
        chat_id: int,
        title: str = "Piyasa Sohbet",
        members: Iterable[str] = (),
        *,
        type: str = "supergroup",  # noqa: A002 - Telegram's field name
        username: str | None = None,
    ) -> dict[str, Any]:
        """Create (or update) a chat whose member bots are ``members`` (tokens); returns its Chat object."""
        with self._lock:
            chat = self._chats.get(int(chat_id))
            if chat is None:
                chat = self._chats[int(chat_id)] = _Chat(int(chat_id), title, type, username)
            else:
                chat.title, chat.type, chat.username = title, type, username
            for token in members:
                self.add_member(chat.id, token)
            return chat.public()

    def add_member(self, chat_id: int, token: str) -> None:
        """Add a bot to a chat."""
        with self._lock:
            chat = self._chat(chat_id)
            self._bot(token)
            chat.members[token] = None
            chat.kicked.discard(token)

    def remove_member(self, chat_id: int, token: str, *, kicked: bool = True) -> None:
        """Remove a bot (sendMessage then answers 403 "bot was kicked" or "bot is not a member")."""
        with self._lock:
            chat = self._chat(chat_id)
            chat.members.pop(token, None)
            if kicked:
                chat.kicked.add(token)

    def human_message(
        self,
        chat_id: int,
        text: str,
        from_user: Mapping[str, Any] | None = None,
        reply_to_message_id: int | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """A person writes in the chat: ONE Message, delivered as an Update to every member bot that
        can see it (privacy mode). Mention / command / hashtag / cashtag entities are detected (UTF-16
        offsets) unless ``entities`` is given. A reply to an unknown message id is sent as no reply."""
        with self._cond:
            chat = self._chat(chat_id)
            sender = self._human(from_user)
            target = chat.messages.get(int(reply_to_message_id)) if reply_to_message_id is not None else None
            ents = detect_entities(text) if entities is None else [dict(e) for e in entities]
            message = self._new_message(chat, sender, text, ents, target)
            name = str(sender.get("username") or sender.get("first_name"))
            chat.log.append(ChatMessage(name, text, target and target["message_id"], self.clock(),
                                        message["message_id"], is_bot=False))  # fmt: skip
            self._fan_out(chat, "message", message)
            return copy.deepcopy(message)

    def edit_human_message(
        self, chat_id: int, message_id: int, new_text: str, entities: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Edit a human message: ``edited_message`` updates go to the member bots that can see it."""
        with self._cond:
            chat = self._chat(chat_id)
            message = chat.messages.get(int(message_id))
            if message is None or message["from"].get("is_bot"):
                raise KeyError(f"no human message {message_id} in chat {chat_id}")
            message["text"] = new_text
            message["edit_date"] = int(time.time())
            ents = detect_entities(new_text) if entities is None else [dict(e) for e in entities]
            message.pop("entities", None)
            if ents:
                message["entities"] = ents
            self._fan_out(chat, "edited_message", message)
            return copy.deepcopy(message)

    def enqueue_update(self, token: str, kind: str, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        """Queue a raw update ``{"update_id": n, kind: payload}`` for one bot (None when its
        allowed_updates exclude ``kind``)."""
        with self._cond:
            return self._enqueue(self._bot(token), kind, dict(payload))

    def add_method(self, name: str, fn: MethodFn) -> None:
        """Implement another method: ``fn(params, bot_user) -> result``; raise ``ApiError`` to fail."""
        with self._lock:
            self._extra[name.lower()] = (name, fn)

    # ------------------------------------------------------------------ scripting

    def script(self, token: str | None, method: str, items: Iterable[FailureLike]) -> None:
        """Append failures to the FIFO script of (token, method); token None scripts every bot."""
        failures = [Failure.coerce(item) for item in items]
        with self._lock:
            self._scripts.setdefault((token, method.lower()), deque()).extend(failures)

    def set_default(self, token: str | None, method: str, failure: FailureLike | None) -> None:
        """Sticky behaviour of (token, method) once its script is empty; None clears it."""
        with self._lock:
            key = (token, method.lower())
            if failure is None:
                self._defaults.pop(key, None)
            else:
                self._defaults[key] = Failure.coerce(failure)

    def clear_scripts(self) -> None:
        """Forget all scripts and defaults."""
        with self._lock:
            self._scripts.clear()
            self._defaults.clear()

    def pending_failures(self, token: str | None, method: str) -> int:
        """Scripted failures still queued for (token, method)."""
        with self._lock:
            return len(self._scripts.get((token, method.lower()), ()))

    # ------------------------------------------------------------------ inspection

    def calls(self, token: str | None = None, method: str | None = None) -> list[RecordedCall]:
        """Recorded requests (of one token and/or method, case-insensitive), in arrival order."""
        with self._lock:
            return [
                r for r in self._records
                if (token is None or r.token == token) and (method is None or r.method.lower() == method.lower())
            ]  # fmt: skip

    def count(self, token: str | None = None, method: str | None = None, status: int | None = None) -> int:
        """Number of recorded requests matching token, method and answered status."""
        return sum(1 for r in self.calls(token, method) if status is None or r.status == status)

    def conflicts(self, token: str) -> int:
        """getUpdates requests of ``token`` answered 409 because another one was in progress."""
        with self._lock:
            return self._bot(token).conflicts

    def max_concurrent_get_updates(self, token: str) -> int:
        """Most getUpdates requests of ``token`` ever in progress at once (rejected ones included)."""
        with self._lock:
            return self._bot(token).max_polls

    def messages(self, chat_id: int, *, humans: bool = False) -> list[ChatMessage]:
        """The chat's log of messages sent by bots (and by people when ``humans``), oldest first."""
        with self._lock:
            return [m for m in self._chat(chat_id).log if humans or m.is_bot]

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """A message of the chat as the fake stores it."""
        with self._lock:
            found = self._chat(chat_id).messages.get(int(message_id))
            return copy.deepcopy(found) if found else None

    def chat(self, chat_id: int) -> dict[str, Any]:
        """The chat's Chat object."""
        with self._lock:
            return self._chat(chat_id).public()

    def pending_updates(self, token: str) -> list[dict[str, Any]]:
        """Updates queued for the bot and not confirmed yet."""
        with self._lock:
            return copy.deepcopy(list(self._bot(token).updates))

    def webhook(self, token: str) -> dict[str, Any] | None:
        """The webhook set for the bot (url, secret_token, allowed_updates, max_connections...) or None."""
        with self._lock:
            hook = self._bot(token).webhook
            return dict(hook) if hook else None

    def bot_user(self, token: str) -> dict[str, Any]:
        """The bot's getMe User."""
        with self._lock:
            return dict(self._bot(token).user)

    def stats(self) -> dict[str, Any]:
        """Counters per bot username: requests per method and status, conflicts, pending updates."""
        with self._lock:
            by_bot: dict[str, Any] = {}
            for bot in self._bots.values():
                calls = [r for r in self._records if r.token == bot.token]
                methods: dict[str, int] = {}
                statuses: dict[str, int] = {}
                for r in calls:
                    methods[r.method] = methods.get(r.method, 0) + 1
                    statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
                by_bot[bot.username] = {
                    "requests": len(calls), "methods": methods, "statuses": statuses, "conflicts": bot.conflicts,
                    "max_concurrent_get_updates": bot.max_polls, "pending_updates": len(bot.updates),
                }  # fmt: skip
            unknown = sum(1 for r in self._records if r.bot is None)
            return {"requests": len(self._records), "unknown_token_or_path": unknown, "bots": by_bot}

    def reset(self, scripts: bool = True) -> None:
        """Clear recorded requests and conflict counters (and scripts/defaults unless ``scripts=False``);
        bots, chats and queued updates stay."""
        with self._lock:
            self._records.clear()
            for bot in self._bots.values():
                bot.conflicts = bot.max_polls = 0
            if scripts:
                self.clear_scripts()

    # ------------------------------------------------------------------ webhook delivery

    def deliver_webhook(self, token: str, timeout: float = 5.0) -> list[int]:
        """POST the bot's pending updates, one per request and in order, to its webhook URL (with
        ``X-Telegram-Bot-Api-Secret-Token``) from a worker thread; returns the HTTP statuses (0 when
        the connection failed). A 2xx confirms the update; the first failure stops the round and is
        reported by getWebhookInfo. From async code use ``await fake.adeliver_webhook(token)``."""
        with self._lock:
            bot = self._bot(token)
            if bot.webhook is None:
                raise RuntimeError(f"no webhook is set for @{bot.username}")
        statuses: list[int] = []
        worker = threading.Thread(target=self._deliver, args=(bot, timeout, statuses), daemon=True)
        worker.start()
        worker.join()
        return statuses

    async def adeliver_webhook(self, token: str, timeout: float = 5.0) -> list[int]:
        """``deliver_webhook`` without blocking the event loop (the receiver may live on it)."""
        return await asyncio.to_thread(self.deliver_webhook, token, timeout)

    def _deliver(self, bot: _Bot, timeout: float, statuses: list[int]) -> None:
        while True:
            with self._lock:
                hook = bot.webhook
                if hook is None or not bot.updates:
                    return
                update = copy.deepcopy(bot.updates[0])
            headers = {"Content-Type": "application/json"}
            if hook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
            request = urllib.request.Request(hook["url"], json.dumps(update).encode("utf-8"), headers, method="POST")
            error: str | None = None
            try:
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    status = int(response.status)
                    response.read()
            except urllib.error.HTTPError as exc:
                status, error = exc.code, f"Wrong response from the webhook: {exc.code} {exc.reason}"
            except (urllib.error.URLError, OSError) as exc:
                status, error = 0, f"Connection failed: {getattr(exc, 'reason', exc)}"
            statuses.append(status)
            with self._lock:
                if error is None:
                    if bot.updates and bot.updates[0]["update_id"] == update["update_id"]:
                        bot.updates.popleft()
                    continue
                if bot.webhook is not None:
                    bot.webhook["last_error_date"] = int(time.time())
                    bot.webhook["last_error_message"] = error
                return

    # ------------------------------------------------------------------ request handling

    def handle(
        self,
        http_method: str,
        raw_path: str,
        headers: Mapping[str, str],
        raw: bytes,
        client_gone: Callable[[], bool] | None = None,
    ) -> _Reply:
        """Answer one request; ``client_gone()`` tells whether the client hung up (for long polls)."""
        self._local.client_gone = client_gone or (lambda: False)
        path, _, query_text = raw_path.partition("?")
        lower = {k.lower(): v for k, v in headers.items()}
        content_type = lower.get("content-type", "")
        if path.startswith("/_"):
            return self._control(http_method, path, query_text, raw)
        now = self.clock()
        match = _PATH.fullmatch(path)
        if match is None:
            record = RecordedCall(None, path, {}, now, http_method=http_method, content_type=content_type)
            return self._finish(record, _Reply(404, error_body(404, NOT_FOUND)))
        token, name = match["token"], match["method"]
        try:
            params = parse_request_params(query_text, content_type, raw)
            unreadable = None
        except (ValueError, UnicodeDecodeError) as exc:
            params, unreadable = {}, exc
        with self._lock:
            bot = self._bots.get(token)
            known = self._methods.get(name.lower()) or self._extra.get(name.lower())
            record = RecordedCall(
                token, known[0] if known else name, params, now, bot=bot.username if bot else None,
                http_method=http_method, content_type=content_type,
            )  # fmt: skip
            self._records.append(record)
            if bot is None:
                return self._finish(record, _Reply(401, error_body(401, UNAUTHORIZED)))
            failure = self._take_failure(token, name)
        if unreadable is not None:
            return self._finish(record, _Reply(400, error_body(400, "Bad Request: can't parse request body")))
        if failure is not None:
            record.failure = failure.name
            if failure.delay and self._stopping.wait(failure.delay):
                return self._finish(record, None)
            if failure.is_error:
                return self._finish(record, _Reply(failure.status or 500, failure.error().body()))
        if known is None:
            return self._finish(record, _Reply(404, error_body(404, NOT_FOUND)))
        try:
            if name.lower() in self._methods:
                result = self._methods[name.lower()][1](bot, params)
            else:
                result = known[1](params, dict(bot.user))
        except ApiError as exc:
            return self._finish(record, _Reply(exc.status, exc.body()))
        except _ClientGone:
            return self._finish(record, None, "client disconnected")
        except Exception:
            self._finish(record, _Reply(500, error_body(500, "fake server bug")))
            raise
        body: dict[str, Any] = {"ok": True, "result": result.value if isinstance(result, _Result) else result}
        if isinstance(result, _Result) and result.description:
            body["description"] = result.description
        record.result = copy.deepcopy(body["result"])
        return self._finish(record, _Reply(200, body))

    def _finish(self, record: RecordedCall, reply: _Reply | None, why: str = "server stopping") -> _Reply:
        """Complete the record; None means "drop the connection" (status None, ``description`` says why)."""
        with self._lock:
            record.finished = self.clock()
            if reply is None:
                record.status, record.description = None, f"dropped: {why}"
                return _Reply(0, None)
            record.status = reply.status
            if isinstance(reply.body, dict) and not reply.body.get("ok", True):
                record.description = reply.body.get("description")
        return reply

    def _take_failure(self, token: str, method: str) -> Failure | None:
        """Pop the next scripted failure (token-specific first, then every-bot), else the sticky default."""
        for key in ((token, method.lower()), (None, method.lower())):
            queue = self._scripts.get(key)
            if queue:
                return queue.popleft()
        return self._defaults.get((token, method.lower())) or self._defaults.get((None, method.lower()))

    # ------------------------------------------------------------------ state helpers (lock held)

    def _bot(self, token: str) -> _Bot:
        bot = self._bots.get(token)
        if bot is None:
            raise KeyError("unknown bot token (register it with add_bot)")
        return bot

    def _chat(self, chat_id: int) -> _Chat:
        chat = self._chats.get(int(chat_id))
        if chat is None:
            raise KeyError(f"unknown chat {chat_id} (create it with add_chat)")
        return chat

    def _human(self, from_user: Mapping[str, Any] | None) -> dict[str, Any]:
        """A person's User: ``is_bot`` false, and a stable id per username/first name when none is given."""
        user = {"is_bot": False, **dict(from_user or {"first_name": "Ayşe", "username": "ayse_yatirimci"})}
        user.setdefault("first_name", str(user.get("username") or "User"))
        if "id" not in user:
            key = str(user.get("username") or user["first_name"])
            user["id"] = self._human_ids.setdefault(key, 5_000_001 + len(self._human_ids))
        return user

    def _new_message(
        self,
        chat: _Chat,
        sender: Mapping[str, Any],
        text: str,
        entities: list[dict[str, Any]],
        reply_to: Mapping[str, Any] | None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": chat.next_message_id, "from": dict(sender), "chat": chat.public(),
            "date": int(time.time()), "text": text,
        }  # fmt: skip
        chat.next_message_id += 1
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = {k: copy.deepcopy(v) for k, v in reply_to.items() if k != "reply_to_message"}
        chat.messages[message["message_id"]] = message
        return message

    def _fan_out(self, chat: _Chat, kind: str, message: dict[str, Any]) -> None:
        for token in chat.members:
            bot = self._bots[token]
            if self._sees(bot, message):
                self._enqueue(bot, kind, copy.deepcopy(message))

    def _enqueue(self, bot: _Bot, kind: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        allowed = bot.allowed_updates
        if allowed and kind not in allowed or not allowed and kind in _DEFAULT_UPDATE_TYPES_EXCLUDED:
            return None  # Telegram does not even create updates of types the bot did not ask for
        update = {"update_id": bot.next_update_id, kind: payload}
        bot.next_update_id += 1
        bot.updates.append(update)
        self._cond.notify_all()
        return copy.deepcopy(update)

    @staticmethod
    def _sees(bot: _Bot, message: Mapping[str, Any]) -> bool:
        """Telegram's privacy-mode rule for group messages."""
        if not bot.privacy:
            return True
        text = str(message.get("text") or "")
        name = bot.username.lower()
        command = re.match(r"/[A-Za-z0-9_]{1,64}(?:@(?P<target>\w+))?", text)
        if command:
            return command["target"] is None or command["target"].lower() == name
        replied = message.get("reply_to_message") or {}
        if replied.get("from", {}).get("id") == bot.user["id"]:
            return True
        for entity in message.get("entities") or ():
            if entity.get("type") == "mention" and entity_text(text, entity)[1:].lower() == name:
                return True
            if entity.get("type") == "text_mention" and entity.get("user", {}).get("id") == bot.user["id"]:
                return True
        return re.search(rf"(?<![\w@])@{re.escape(name)}(?![A-Za-z0-9_])", text, re.IGNORECASE) is not None

    def _chat_for(self, bot: _Bot, params: Mapping[str, Any]) -> _Chat:
        """The target chat of a send; 400 chat not found / 403 not a member like Telegram."""
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        chat: _Chat | None = None
        if isinstance(chat_id, int):
            chat = self._chats.get(chat_id)
        elif isinstance(chat_id, str) and chat_id.startswith("@"):
            chat = next((c for c in self._chats.values() if c.username and f"@{c.username}" == chat_id), None)
        if chat is None:
            if not (self.auto_chats and isinstance(chat_id, int)):
                raise ApiError(400, CHAT_NOT_FOUND)
            chat = self._chats[chat_id] = _Chat(chat_id, f"Chat {chat_id}", "supergroup", None)
            chat.members[bot.token] = None
        if bot.token not in chat.members:
            if bot.token in chat.kicked:
                raise ApiError(403, f"Forbidden: bot was kicked from the {chat.type} chat")
            raise ApiError(403, f"Forbidden: bot is not a member of the {chat.type} chat")
        return chat

    # ------------------------------------------------------------------ methods

    def _get_me(self, bot: _Bot, params: dict[str, Any]) -> Any:
        with self._lock:
            return dict(bot.user)

    def _send_chat_action(self, bot: _Bot, params: dict[str, Any]) -> Any:
        with self._lock:
            self._chat_for(bot, params)
            if params.get("action") not in _CHAT_ACTIONS:
                raise ApiError(400, "Bad Request: wrong parameter action in request")
            return True

    def _send_message(self, bot: _Bot, params: dict[str, Any]) -> Any:
        with self._cond:
            chat = self._chat_for(bot, params)
            text = params.get("text")
            if text is None or not str(text).strip():
                raise ApiError(400, "Bad Request: message text is empty")
            text = str(text)
            parse_mode = str(params.get("parse_mode") or "").lower()
            given = params.get("entities")
            if parse_mode == "html" and not given:
                text, entities = parse_html(text)
                if not text.strip():
                    raise ApiError(400, "Bad Request: message text is empty")
            else:  # Markdown / MarkdownV2 are kept verbatim (not parsed)
                entities = [dict(e) for e in given] if isinstance(given, list) else []
            if utf16_len(text) > MAX_MESSAGE_LENGTH:
                raise ApiError(400, "Bad Request: message is too long")
            spans = [(e["offset"], e["offset"] + e["length"]) for e in entities]
            for auto in detect_entities(text):
                start, end = auto["offset"], auto["offset"] + auto["length"]
                if not any(start < e and s < end for s, e in spans):
                    entities.append(auto)
            entities.sort(key=lambda e: (e["offset"], -e["length"]))
            reply_id, allow = self._reply_request(params)
            target = None
            if reply_id is not None:
                target = chat.messages.get(reply_id)
                if target is None and not allow:
                    raise ApiError(400, "Bad Request: message to be replied not found")
            message = self._new_message(chat, bot.public_user, text, entities, target)
            chat.log.append(ChatMessage(bot.username, text, target and target["message_id"], self.clock(),
                                        message["message_id"], is_bot=True, token=bot.token))  # fmt: skip
            return copy.deepcopy(message)

    @staticmethod
    def _reply_request(params: Mapping[str, Any]) -> tuple[int | None, bool]:
        """(message id to reply to, allow_sending_without_reply) from reply_parameters or the legacy fields."""
        reply = params.get("reply_parameters")
        if isinstance(reply, Mapping) and reply.get("message_id") is not None:
            return int(reply["message_id"]), bool(_to_bool(reply.get("allow_sending_without_reply", False)))
        legacy = params.get("reply_to_message_id")
        if legacy is not None and legacy != "":
            return int(legacy), bool(params.get("allow_sending_without_reply", False))
        return None, False

    def _get_updates(self, bot: _Bot, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, min(float(params.get("timeout") or 0), self.max_poll_timeout))
        deadline = time.monotonic() + timeout
        poll = _Poll(self._local.client_gone)
        with self._cond:
            # A poll whose client already hung up (PTB cancels its poll on stop, then confirms the
            # offset with a quick getUpdates) is over, not a competitor.
            live = [p for p in bot.polls if not p.gone()]
            for gone in (p for p in bot.polls if p not in live):
                gone.abandoned = True
            bot.polls = [*live, poll]
            bot.max_polls = max(bot.max_polls, len(bot.polls))
            try:
                if bot.webhook is not None:
                    raise ApiError(409, WEBHOOK_CONFLICT)
                if live:
                    if self.conflict_mode == "reject_new":
                        bot.conflicts += 1
                        raise ApiError(409, POLL_CONFLICT)
                    for other in live:  # terminate_old: the waiting polls lose
                        other.superseded = True
                    self._cond.notify_all()
                allowed = params.get("allowed_updates")
                if isinstance(allowed, list):
                    bot.allowed_updates = [str(a) for a in allowed] or None
                self._confirm(bot, offset)
                while True:
                    if poll.superseded:
                        bot.conflicts += 1
                        raise ApiError(409, POLL_CONFLICT)
                    if poll.abandoned:
                        raise _ClientGone
                    if bot.webhook is not None:
                        raise ApiError(409, WEBHOOK_CONFLICT)
                    if bot.updates or self._stopping.is_set():
                        return copy.deepcopy(list(bot.updates)[:limit])
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return []
                    self._cond.wait(min(remaining, _POLL_SLICE))
                    if poll.gone():
                        raise _ClientGone
            finally:
                if poll in bot.polls:
                    bot.polls.remove(poll)

    @staticmethod
    def _confirm(bot: _Bot, offset: int) -> None:
        """Forget confirmed updates: ids below a positive offset; all but the last -offset for a negative one."""
        if offset > 0:
            while bot.updates and bot.updates[0]["update_id"] < offset:
                bot.updates.popleft()
        elif offset < 0:
            while len(bot.updates) > -offset:
                bot.updates.popleft()

    def _set_webhook(self, bot: _Bot, params: dict[str, Any]) -> Any:
        with self._cond:
            url = str(params.get("url") or "")
            if not url:
                return self._delete_webhook(bot, params)
            secret = params.get("secret_token")
            if secret not in (None, "") and not _SECRET.fullmatch(str(secret)):
                raise ApiError(400, "Bad Request: secret token contains unallowed characters")
            allowed = params.get("allowed_updates")
            if isinstance(allowed, list):
                bot.allowed_updates = [str(a) for a in allowed] or None
            if params.get("drop_pending_updates"):
                bot.updates.clear()
            already = bot.webhook is not None and bot.webhook["url"] == url
            bot.webhook = {
                "url": url, "secret_token": str(secret) if secret else None,
                "allowed_updates": bot.allowed_updates, "max_connections": int(params.get("max_connections") or 40),
                "ip_address": params.get("ip_address") or "127.0.0.1",
            }  # fmt: skip
            self._cond.notify_all()  # a waiting getUpdates is terminated
            return _Result(True, "Webhook is already set" if already else "Webhook was set")

    def _delete_webhook(self, bot: _Bot, params: dict[str, Any]) -> Any:
        with self._lock:
            had = bot.webhook is not None
            bot.webhook = None
            if params.get("drop_pending_updates"):
                bot.updates.clear()
            return _Result(True, "Webhook was deleted" if had else "Webhook is already deleted")

    def _get_webhook_info(self, bot: _Bot, params: dict[str, Any]) -> Any:
        with self._lock:
            info: dict[str, Any] = {"url": "", "has_custom_certificate": False}
            info["pending_update_count"] = len(bot.updates)
            hook = bot.webhook
            if hook is not None:
                info["url"] = hook["url"]
                info["max_connections"] = hook["max_connections"]
                info["ip_address"] = hook["ip_address"]
                if hook.get("allowed_updates"):
                    info["allowed_updates"] = list(hook["allowed_updates"])
                for key in ("last_error_date", "last_error_message"):
                    if key in hook:
                        info[key] = hook[key]
            return info

    def _get_chat(self, bot: _Bot, params: dict[str, Any]) -> Any:
        with self._lock:
            try:
                chat = self._chat_for(bot, params)
            except ApiError as exc:
                if exc.status == 403:  # Telegram hides chats the bot is not in
                    raise ApiError(400, CHAT_NOT_FOUND) from None
                raise
            return {
                **chat.public(), "accent_color_id": 0, "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                    "premium_subscription": False, "gifts_from_channels": False,
                },
            }  # fmt: skip

    # ------------------------------------------------------------------ control endpoints

    def _control(self, http_method: str, path: str, query_text: str, raw: bytes) -> _Reply:
        """``GET /_stats``, ``GET /_messages?chat_id=``, ``POST /_reset|_bot|_chat|_human_message|_script|_default``."""
        try:
            body = json.loads(raw) if raw else {}
            query = {k: v[-1] for k, v in parse_qs(query_text).items()}
            if path == "/_stats" and http_method == "GET":
                return _Reply(200, self.stats())
            if path == "/_messages" and http_method == "GET":
                log = self.messages(int(query["chat_id"]), humans=query.get("humans") in ("1", "true"))
                rows = [{"username": m.username, "text": m.text, "reply_to_message_id": m.reply_to_message_id,
                         "message_id": m.message_id, "is_bot": m.is_bot, "time": m.time} for m in log]  # fmt: skip
                return _Reply(200, rows)
            if http_method != "POST":
                return _Reply(404, {"error": f"unknown control endpoint {http_method} {path}"})
            if path == "/_reset":
                self.reset()
                return _Reply(200, {"ok": True})
            if path == "/_bot":
                user = self.add_bot(
                    body["token"], body.get("user_id"), body.get("username"), body.get("first_name"),
                    privacy=bool(body.get("privacy", False)),
                )  # fmt: skip
                return _Reply(200, user)
            if path == "/_chat":
                members = body.get("members")
                with self._lock:
                    members = list(self._bots) if members is None else members
                return _Reply(200, self.add_chat(int(body["chat_id"]), body.get("title", "Piyasa Sohbet"), members))
            if path == "/_human_message":
                message = self.human_message(
                    int(body["chat_id"]), body["text"], body.get("from_user"), body.get("reply_to_message_id"),
                    body.get("entities"),
                )  # fmt: skip
                return _Reply(200, message)
            if path == "/_script":
                self.script(body.get("token"), body["method"], body["failures"])
                return _Reply(200, {"ok": True})
            if path == "/_default":
                self.set_default(body.get("token"), body["method"], body.get("failure"))
                return _Reply(200, {"ok": True})
        except (KeyError, TypeError, ValueError) as exc:
            return _Reply(400, {"error": f"bad control request: {type(exc).__name__}: {exc}"})
        return _Reply(404, {"error": f"unknown control endpoint {http_method} {path}"})


def main(argv: list[str] | None = None) -> int:
    """Run the fake until SIGTERM/SIGINT, printing its URL on stdout."""
    parser = main_parser("python -m tests.fakes.telegram_server", __doc__)
    parser.add_argument("--bot", action="append", default=[], metavar="TOKEN=USERNAME",
                        help="register a bot (its id is the token's numeric prefix); repeatable")  # fmt: skip
    parser.add_argument("--chat", action="append", default=[], metavar="CHAT_ID[=TITLE]",
                        help="a supergroup with every --bot as member (--chat=-100123=Title); repeatable")  # fmt: skip
    parser.add_argument("--privacy", action="store_true", help="enable privacy mode for every --bot")
    args = parser.parse_args(argv)
    server = FakeTelegramServer(args.host, args.port)
    tokens = []
    for spec in args.bot:
        token, _, username = spec.partition("=")
        server.add_bot(token, None, username or None, privacy=args.privacy)
        tokens.append(token)
    for spec in args.chat:
        chat_id, _, title = spec.partition("=")
        server.add_chat(int(chat_id), title or "Piyasa Sohbet", tokens)
    return serve_until_signalled(server)


if __name__ == "__main__":
    sys.exit(main())
