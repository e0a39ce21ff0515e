"""The client side of the control API (`piyasa-tui --attach` and `piyasa-tui status`)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from piyasa_core.control.common import ControlError
from piyasa_core.secrets import Secret, mask_url, redact

HINT_NOT_RUNNING = "(is piyasa-tui --serve running?)"
EVENTS_READ_TIMEOUT_S = 45.0  # three missed heartbeats
BACKOFF_INITIAL_S = 0.5
BACKOFF_MAX_S = 10.0

Event = tuple[str, Any]


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(redact(str(text)).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _refused(exc: aiohttp.ClientConnectorError) -> bool:
    os_error = getattr(exc, "os_error", None)
    return isinstance(os_error, ConnectionRefusedError) or getattr(os_error, "errno", None) == errno.ECONNREFUSED


class ControlClient:
    """Talk to a running ``piyasa-tui --serve``; every failure is a one-line :class:`ControlError`."""

    def __init__(self, url: str, token: Secret, timeout: float = 5) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._timeout = float(timeout)
        self._session: aiohttp.ClientSession | None = None
        self._closed = False
        self._closing: asyncio.Event | None = None
        self._streams: set[aiohttp.ClientResponse] = set()

    async def __aenter__(self) -> ControlClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection; a running :meth:`events` iteration ends."""
        self._closed = True
        if self._closing is not None:
            self._closing.set()
        for response in list(self._streams):
            response.close()
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    # ── plumbing ─────────────────────────────────────────────────────────────────────────────

    @property
    def _where(self) -> str:
        return f"control API at {mask_url(self.url)}"

    def _fail(self, reason: str, status: int | None = None) -> ControlError:
        return ControlError(f"{self._where}: {_one_line(reason)}", status=status)

    def _session_for_use(self) -> aiohttp.ClientSession:
        if self._closed:
            raise self._fail("client is closed")
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                headers={"Authorization": f"Bearer {self._token.reveal()}"},
            )
        return self._session

    def _transport_error(self, exc: BaseException) -> ControlError:
        if isinstance(exc, aiohttp.ClientConnectorError):
            if _refused(exc):
                return self._fail(f"connection refused {HINT_NOT_RUNNING}")
            os_error = getattr(exc, "os_error", None)
            reason = getattr(os_error, "strerror", None) or str(os_error or exc)
            return self._fail(f"cannot connect: {reason} {HINT_NOT_RUNNING}")
        if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
            return self._fail(f"no answer within {self._timeout:g} s")
        if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError)):  # killed mid-stream
            return self._fail("the server closed the connection")
        return self._fail(f"{type(exc).__name__}: {exc}")

    async def _http_error(self, response: aiohttp.ClientResponse) -> ControlError:
        try:
            text = await response.text()
        except (aiohttp.ClientError, asyncio.TimeoutError, UnicodeDecodeError):
            text = ""
        try:
            message = json.loads(text)["error"]
        except (ValueError, TypeError, KeyError):
            message = text.strip().splitlines()[0] if text.strip() else (response.reason or "error")
        return self._fail(f"{response.status}: {message}", status=response.status)

    async def _request(self, method: str, path: str, body: dict[str, Any] | None = None, *,
                       as_text: bool = False) -> Any:
        session = self._session_for_use()
        try:
            async with session.request(method, self.url + path, json=body) as response:
                if response.status != 200:
                    raise await self._http_error(response)
                if as_text:
                    return await response.text()
                try:
                    return await response.json(content_type=None)
                except ValueError:
                    raise self._fail(f"{path} answered with something that is not JSON") from None
        except ControlError:
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise self._transport_error(exc) from None

    # ── commands ─────────────────────────────────────────────────────────────────────────────

    async def status(self) -> dict[str, Any]:
        return await self._request("GET", "/status")

    async def switch_provider(self, name: str) -> dict[str, Any]:
        return await self._request("POST", "/provider", {"name": name})

    async def restart_preview(self) -> dict[str, Any]:
        """What a restart would apply and hold now (values masked), without restarting."""
        return await self._request("GET", "/workers/restart")

    async def restart(self, worker: int | None = None) -> dict[str, Any]:
        return await self._request("POST", "/workers/restart", {} if worker is None else {"worker": worker})

    async def simulation(self, running: bool) -> dict[str, Any]:
        return await self._request("POST", "/simulation", {"running": running})

    async def post_human(self, chat: str, text: str, name: str) -> dict[str, Any]:
        return await self._request("POST", "/human", {"chat": chat, "text": text, "name": name})

    async def benchmark(self, action: str, **options: Any) -> dict[str, Any]:
        return await self._request("POST", "/benchmark", {**options, "action": action})

    async def set_bot_enabled(self, bot: int | str, enabled: bool) -> dict[str, Any]:
        return await self._request("POST", "/bots", {"bot": bot, "enabled": enabled})

    async def drain_host(self) -> dict[str, Any]:
        """Fleet mode: the host hands its shards over to the other hosts, then stops."""
        return await self._request("POST", "/fleet/drain", {})

    async def message(self, message_id: int) -> dict[str, Any]:
        """Everything stored about one message (a 404 ControlError when there is none)."""
        return await self._request("GET", f"/messages/{int(message_id)}")

    async def metrics_text(self) -> str:
        return await self._request("GET", "/metrics", as_text=True)

    # ── events ───────────────────────────────────────────────────────────────────────────────

    async def events(self, *, retries: int | None = None, report_disconnects: bool = True,
                     read_timeout: float = EVENTS_READ_TIMEOUT_S) -> AsyncIterator[Event]:
        """``(type, data)`` from ``/events`` until :meth:`close`, reconnecting with a backoff of
        0.5 s doubling up to 10 s. Each (re)connection starts with a ``snapshot`` event.

        A lost connection yields ``("disconnected", {"error": str, "retry_in": seconds})`` unless
        ``report_disconnects`` is false. HTTP 4xx answers (such as a wrong token) are raised at
        once; other failures are raised after ``retries`` consecutive failed attempts (None:
        retry forever)."""
        if self._closing is None:
            self._closing = asyncio.Event()
            if self._closed:
                self._closing.set()
        delay, failures = BACKOFF_INITIAL_S, 0
        while not self._closed:
            try:
                async with contextlib.aclosing(self._stream(read_timeout)) as stream:
                    async for event in stream:
                        delay, failures = BACKOFF_INITIAL_S, 0
                        yield event
                error = self._fail("the event stream ended")
            except ControlError as exc:
                if exc.status is not None and exc.status < 500:
                    raise
                error = exc
            if self._closed:
                return
            failures += 1
            if retries is not None and failures > retries:
                raise error
            if report_disconnects:
                yield "disconnected", {"error": str(error), "retry_in": delay}
            try:
                await asyncio.wait_for(self._closing.wait(), timeout=delay)
            except asyncio.TimeoutError:
                pass
            delay = min(delay * 2, BACKOFF_MAX_S)

    async def _stream(self, read_timeout: float) -> AsyncIterator[Event]:
        session = self._session_for_use()
        timeout = aiohttp.ClientTimeout(total=None, connect=self._timeout, sock_connect=self._timeout,
                                        sock_read=read_timeout)
        try:
            async with session.get(self.url + "/events", timeout=timeout,
                                   headers={"Accept": "text/event-stream"}) as response:
                if response.status != 200:
                    raise await self._http_error(response)
                self._streams.add(response)
                try:
                    parser = _SSEParser()
                    async for chunk in response.content.iter_any():
                        for event in parser.feed(chunk):
                            yield event
                finally:
                    self._streams.discard(response)
        except ControlError:
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise self._transport_error(exc) from None


class _SSEParser:
    """Incremental ``text/event-stream`` parser yielding ``(event type, JSON-decoded data)``."""

    def __init__(self) -> None:
        self._buffer = b""
        self._type = ""
        self._data: list[str] = []

    def feed(self, chunk: bytes) -> list[Event]:
        self._buffer += chunk
        events: list[Event] = []
        while True:
            cut = self._buffer.find(b"\n")
            if cut < 0:
                return events
            raw, self._buffer = self._buffer[:cut], self._buffer[cut + 1:]
            line = raw.rstrip(b"\r").decode("utf-8", errors="replace")
            if not line:
                if self._data:
                    text = "\n".join(self._data)
                    try:
                        data: Any = json.loads(text)
                    except ValueError:
                        data = text
                    events.append((self._type or "message", data))
                self._type, self._data = "", []
                continue
            if line.startswith(":"):
                continue  # comment / heartbeat
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                self._type = value
            elif field == "data":
                self._data.append(value)


def fetch_status(url: str, token: Secret, timeout: float = 5) -> dict[str, Any]:
    """``GET /status`` synchronously (for the ``status`` command; not from inside an event loop)."""

    async def run() -> dict[str, Any]:
        async with ControlClient(url, token, timeout) as client:
            return await client.status()

    return asyncio.run(run())
