"""The supervisor's control API: an aiohttp app on loopback, every route behind a bearer token."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from piyasa_core.control.common import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    ControlError,
    control_url,
    loopback_host,
    remove_state,
    write_state,
)
from piyasa_core.secrets import Secret, redact

log = logging.getLogger(__name__)

UNAUTHORIZED = "missing or wrong bearer token"
HEARTBEAT_S = 15.0
DISCONNECT_POLL_S = 0.25  # how often an idle event stream checks for a gone client or a stop
MAX_BODY = 64 * 1024
BENCHMARK_ACTIONS = ("start", "cancel", "status", "history")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ControlTarget(Protocol):
    """What the control API drives: implemented by the supervisor."""

    def snapshot_dict(self) -> dict[str, Any]: ...

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]: ...

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None: ...

    async def switch_provider(self, name: str) -> dict[str, Any]: ...

    async def restart_workers(self, worker_id: int | None) -> dict[str, Any]: ...

    async def preview_restart(self) -> dict[str, Any]: ...

    async def set_simulation(self, running: bool) -> dict[str, Any]: ...

    async def post_human(self, chat: str, text: str, name: str) -> dict[str, Any]: ...

    async def benchmark(self, action: str, options: dict[str, Any]) -> dict[str, Any]: ...

    async def set_bot_enabled(self, bot: int | str, enabled: bool) -> dict[str, Any]: ...

    async def message_detail(self, message_id: int) -> dict[str, Any]: ...

    async def drain_host(self) -> dict[str, Any]: ...

    def metrics(self) -> tuple[bytes, str]: ...


class BadRequest(Exception):
    """A 400 whose message is shown to the client as is."""


class Conflict(Exception):
    """A 409: the request is valid but the state does not allow it (a benchmark already running)."""


def one_line(text: str, limit: int = 500) -> str:
    line = " ".join(redact(str(text)).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": one_line(message)}, status=status, headers=headers, dumps=dumps)


def sse_frame(event_type: str, data: Any) -> bytes:
    kind = " ".join(str(event_type).split()) or "message"
    return f"event: {kind}\ndata: {dumps(data)}\n\n".encode()


# ── request body helpers ─────────────────────────────────────────────────────────────────────

async def json_body(request: web.Request, *, allow_empty: bool = False) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        if allow_empty:
            return {}
        raise BadRequest("request body must be a JSON object")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON ({exc})") from None
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body


def string_field(body: dict[str, Any], name: str, *, default: str | None = None) -> str:
    value = body.get(name, default)
    if value is None:
        raise BadRequest(f'field "{name}" is required')
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f'field "{name}" must be a non-empty string')
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ── the server ───────────────────────────────────────────────────────────────────────────────

class ControlServer:
    """Serve the control API for ``target`` on a loopback address."""

    def __init__(self, target: ControlTarget, token: Secret, host: str = DEFAULT_HOST,
                 port: int = DEFAULT_PORT, *, data_dir: Path | None = None,
                 heartbeat: float = HEARTBEAT_S) -> None:
        if not isinstance(token, Secret) or not token:
            raise ValueError("the control API needs a non-empty bearer token")
        self._host = loopback_host(host)
        self._target = target
        self._token = token.reveal().encode()
        self._port = port
        self._data_dir = data_dir
        self._heartbeat = heartbeat
        self._runner: web.AppRunner | None = None
        self._stopping = asyncio.Event()
        self._streams = 0
        self.url: str | None = None

    @property
    def open_streams(self) -> int:
        """How many /events clients are connected."""
        return self._streams

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=MAX_BODY)
        app.router.add_get("/status", self._status)
        app.router.add_get("/events", self._events)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/messages/{message_id}", self._message)
        app.router.add_post("/provider", self._provider)
        app.router.add_post("/workers/restart", self._restart)
        app.router.add_get("/workers/restart", self._restart_preview)
        app.router.add_post("/simulation", self._simulation)
        app.router.add_post("/human", self._human)
        app.router.add_post("/benchmark", self._benchmark)
        app.router.add_post("/bots", self._bots)
        app.router.add_post("/fleet/drain", self._drain)
        return app

    async def start(self) -> int:
        """Listen; return the bound port (``port=0`` picks a free one)."""
        if self._runner is not None:
            raise RuntimeError("control server already started")
        self._stopping = asyncio.Event()
        runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=5.0)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            where = control_url(self._host, self._port)
            reason = exc.strerror or str(exc)
            raise ControlError(f"control API cannot listen on {where}: {reason} "
                               "(is another piyasa-tui --serve running?)") from None
        self._runner = runner
        port = int(runner.addresses[0][1])
        self.url = control_url(self._host, port)
        if self._data_dir is not None:
            write_state(self._data_dir, self.url)
        log.info("control API listening on %s", self.url)
        return port

    async def stop(self) -> None:
        """Close open event streams, stop listening and remove ``control.json``."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stopping.set()
        if self._data_dir is not None and self.url is not None:
            remove_state(self._data_dir, self.url)
        await runner.cleanup()
        log.info("control API stopped")

    # ── middleware ───────────────────────────────────────────────────────────────────────────

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(given.strip().encode("utf-8", "replace"), self._token)

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not self._authorized(request):
            return error_response(401, UNAUTHORIZED, {"WWW-Authenticate": "Bearer"})
        try:
            return await handler(request)
        except BadRequest as exc:
            return error_response(400, str(exc))
        except Conflict as exc:
            return error_response(409, str(exc))
        except NotImplementedError as exc:
            return error_response(501, str(exc) or f"{request.path} is not implemented")
        except web.HTTPException as exc:
            return error_response(exc.status, f"{exc.reason}: {request.method} {request.path}",
                                  {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            message = one_line(f"{type(exc).__name__}: {exc}")
            log.error("control API %s %s failed: %s", request.method, request.path, message)
            return error_response(500, f"internal error: {message}")

    async def _call(self, awaitable: Awaitable[dict[str, Any]]) -> web.Response:
        try:
            result = await awaitable
        except ValueError as exc:
            raise BadRequest(one_line(str(exc)) or "rejected") from None
        except LookupError as exc:
            raise Conflict(one_line(str(exc).strip("'\"")) or "conflict") from None
        return web.json_response(result, dumps=dumps)

    # ── routes ───────────────────────────────────────────────────────────────────────────────

    async def _status(self, request: web.Request) -> web.Response:
        return web.json_response(self._target.snapshot_dict(), dumps=dumps)

    async def _metrics(self, request: web.Request) -> web.Response:
        body, content_type = self._target.metrics()
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def _provider(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        return await self._call(self._target.switch_provider(string_field(body, "name")))

    async def _restart(self, request: web.Request) -> web.Response:
        body = await json_body(request, allow_empty=True)
        worker = body.get("worker")
        if worker is not None and (not isinstance(worker, int) or isinstance(worker, bool)):
            raise BadRequest('field "worker" must be an integer worker id (or absent for all)')
        return await self._call(self._target.restart_workers(worker))

    async def _restart_preview(self, request: web.Request) -> web.Response:
        return await self._call(self._target.preview_restart())

    async def _simulation(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        running = body.get("running")
        if not isinstance(running, bool):
            raise BadRequest('field "running" must be true or false')
        return await self._call(self._target.set_simulation(running))

    async def _human(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        chat = string_field(body, "chat")
        text = body.get("text")
        if not isinstance(text, str):
            raise BadRequest('field "text" must be a string')
        name = string_field(body, "name", default="Operatör")
        return await self._call(self._target.post_human(chat, text, name))

    async def _message(self, request: web.Request) -> web.Response:
        raw = request.match_info["message_id"]
        if not raw.isdigit():
            raise BadRequest(f"message id must be a number, not {raw!r}")
        try:
            detail = await self._target.message_detail(int(raw))
        except LookupError as exc:
            return error_response(404, str(exc).strip("'\"") or f"message {raw} not found")
        return web.json_response(detail, dumps=dumps)

    async def _benchmark(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        action = body.pop("action", None)
        if action not in BENCHMARK_ACTIONS:
            raise BadRequest('field "action" must be "start", "cancel", "status" or "history"')
        if "duration" in body and not isinstance(body["duration"], str):
            raise BadRequest('field "duration" must be a string such as "10m"')
        if "time_scale" in body and not (_is_number(body["time_scale"]) and body["time_scale"] > 0):
            raise BadRequest('field "time_scale" must be a positive number')
        return await self._call(self._target.benchmark(action, body))

    async def _bots(self, request: web.Request) -> web.Response:
        body = await json_body(request)
        bot, enabled = body.get("bot"), body.get("enabled")
        if isinstance(bot, bool) or not (isinstance(bot, int) or (isinstance(bot, str) and bot.strip())):
            raise BadRequest('field "bot" must be a bot id or a username')
        if not isinstance(enabled, bool):
            raise BadRequest('field "enabled" must be true or false')
        return await self._call(self._target.set_bot_enabled(bot, enabled))

    async def _drain(self, request: web.Request) -> web.Response:
        """Fleet mode: this host hands its shards over, then stops."""
        return await self._call(self._target.drain_host())

    async def _events(self, request: web.Request) -> web.StreamResponse:
        queue = self._target.subscribe()
        self._streams += 1
        getter: asyncio.Task[dict[str, Any]] | None = None
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        })
        try:
            await response.prepare(request)
            await response.write(sse_frame("snapshot", self._target.snapshot_dict()))
            loop = asyncio.get_running_loop()
            next_ping = loop.time() + self._heartbeat
            while not self._stopping.is_set():
                if getter is None:
                    getter = asyncio.ensure_future(queue.get())
                wait = max(0.0, min(DISCONNECT_POLL_S, next_ping - loop.time()))
                done, _ = await asyncio.wait({getter}, timeout=wait)
                if done:
                    event, getter = getter.result(), None
                    if isinstance(event, dict) and "type" in event:
                        await response.write(sse_frame(event["type"], event.get("data")))
                    continue
                transport = request.transport
                if transport is None or transport.is_closing():
                    break
                if loop.time() >= next_ping:
                    await response.write(b": ping\n\n")
                    next_ping = loop.time() + self._heartbeat
        except ConnectionError:
            pass  # the client went away
        except Exception as exc:  # a bad event must not leak the subscription
            log.error("control API event stream failed: %s", one_line(f"{type(exc).__name__}: {exc}"))
        finally:
            if getter is not None:
                getter.cancel()
            self._streams -= 1
            with contextlib.suppress(Exception):
                self._target.unsubscribe(queue)
        return response
