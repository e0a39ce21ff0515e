"""The control API over real HTTP: a real aiohttp server on 127.0.0.1:0 and the real client."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from piyasa_core.control import (
    ControlClient,
    ControlError,
    ControlServer,
    ControlTarget,
    control_url,
    discover,
    fetch_status,
    loopback_host,
    resolve_token,
)
from piyasa_core.errors import ConfigError, PiyasaError
from piyasa_core.secrets import Secret

PROVIDERS = ("groq", "openai", "gemini")
CHATS = ("piyasa-local",)
METRICS = b"# HELP piyasa_worker_up Worker is up\n# TYPE piyasa_worker_up gauge\npiyasa_worker_up{worker=\"1\"} 1.0\n"
METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class FakeTarget:
    """Stands in for the supervisor: records calls and pushes events to subscribers."""

    def __init__(self) -> None:
        self.provider = "groq"
        self.running = True
        self.queues: list[asyncio.Queue[dict[str, Any]]] = []
        self.calls: list[tuple[Any, ...]] = []
        self.fail_with: BaseException | None = None

    def snapshot_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "running": self.running, "chats": list(CHATS),
                "workers": [{"worker_id": 1, "state": "running", "bot_names": ["Ayşe Hanım"]},
                            {"worker_id": 2, "state": "backoff", "bot_names": ["Kemal Bey"]}],
                "notices": [[1.5, "info", "başladı"]]}

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.queues.append(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self.queues.remove(queue)

    def push(self, event: dict[str, Any]) -> None:
        for queue in self.queues:
            queue.put_nowait(event)

    async def switch_provider(self, name: str) -> dict[str, Any]:
        self.calls.append(("provider", name))
        if name not in PROVIDERS:
            raise ValueError(f"unknown provider {name!r}; known: {', '.join(PROVIDERS)}")
        self.provider = name
        return {"ok": True, "provider": name}

    async def restart_workers(self, worker_id: int | None) -> dict[str, Any]:
        self.calls.append(("restart", worker_id))
        if worker_id is not None and worker_id not in (1, 2):
            raise ValueError(f"no worker {worker_id}")
        return {"ok": True, "changes": [f"worker {w} restarted" for w in ([worker_id] if worker_id else [1, 2])],
                "error": None}

    async def preview_restart(self) -> dict[str, Any]:
        self.calls.append(("preview", None))
        return {"ok": True, "changes": ["engine.time_scale: 1.0 → 3.0"], "held": [], "error": None}

    async def set_simulation(self, running: bool) -> dict[str, Any]:
        self.calls.append(("simulation", running))
        if self.fail_with is not None:
            raise self.fail_with
        self.running = running
        return {"ok": True, "running": running}

    async def post_human(self, chat: str, text: str, name: str) -> dict[str, Any]:
        self.calls.append(("human", chat, text, name))
        if chat not in CHATS:
            raise ValueError(f"unknown chat {chat!r}")
        if not text.strip():
            raise ValueError("text is empty")
        return {"ok": True, "message_id": 7}

    async def benchmark(self, action: str, options: dict[str, Any]) -> dict[str, Any]:
        self.calls.append(("benchmark", action, options))
        raise NotImplementedError("benchmark mode is not available in this build")

    def metrics(self) -> tuple[bytes, str]:
        return METRICS, METRICS_TYPE


def _satisfies_protocol(target: ControlTarget) -> ControlTarget:
    return target


ROUTES = [
    ("GET", "/status", None),
    ("GET", "/events", None),
    ("GET", "/metrics", None),
    ("POST", "/provider", {"name": "openai"}),
    ("POST", "/workers/restart", {}),
    ("GET", "/workers/restart", None),
    ("POST", "/simulation", {"running": False}),
    ("POST", "/human", {"chat": "piyasa-local", "text": "Selam", "name": "Operatör"}),
    ("POST", "/benchmark", {"action": "start", "duration": "10m", "time_scale": 60}),
]
OK_STATUS = {"/benchmark": 501}


@pytest.fixture
def token() -> Secret:
    return Secret("ctl-" + secrets.token_urlsafe(24))


@pytest.fixture
def target() -> FakeTarget:
    return _satisfies_protocol(FakeTarget())  # type: ignore[return-value]


@pytest.fixture
async def server(target: FakeTarget, token: Secret, tmp_path: Path) -> AsyncIterator[ControlServer]:
    srv = ControlServer(target, token, "127.0.0.1", 0, data_dir=tmp_path, heartbeat=0.2)
    await srv.start()
    yield srv
    await srv.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        yield session


@pytest.fixture
async def client(server: ControlServer, token: Secret) -> AsyncIterator[ControlClient]:
    assert server.url is not None
    async with ControlClient(server.url, token, timeout=2) as ctl:
        yield ctl


def auth(token: Secret) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.reveal()}"}


async def call(http: aiohttp.ClientSession, server: ControlServer, method: str, path: str,
               body: Any = None, headers: dict[str, str] | None = None,
               data: bytes | None = None) -> tuple[int, Any, aiohttp.ClientResponse]:
    kwargs: dict[str, Any] = {"headers": headers or {}}
    if data is not None:
        kwargs["data"] = data
    elif body is not None:
        kwargs["json"] = body
    async with http.request(method, f"{server.url}{path}", **kwargs) as response:
        if response.content_type == "text/event-stream":
            first = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 2)
            return response.status, first.decode(), response
        text = await response.text()
        try:
            return response.status, json.loads(text), response
        except ValueError:
            return response.status, text, response


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_until(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return bool(predicate())


# ── authentication ───────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("method,path,body", ROUTES)
@pytest.mark.parametrize("header", [None, "Bearer wrong-token", "Basic dXNlcjpwYXNz", "Bearer", "ctl-x"])
async def test_every_route_needs_the_token(http: aiohttp.ClientSession, server: ControlServer,
                                           target: FakeTarget, token: Secret, method: str, path: str,
                                           body: Any, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    status, payload, response = await call(http, server, method, path, body, headers)
    assert status == 401
    assert payload == {"error": "missing or wrong bearer token"}
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert target.calls == [] and target.queues == []


async def test_token_itself_without_scheme_and_unknown_routes_are_401(
        http: aiohttp.ClientSession, server: ControlServer, token: Secret) -> None:
    status, _, _ = await call(http, server, "GET", "/status", headers={"Authorization": token.reveal()})
    assert status == 401
    status, _, _ = await call(http, server, "GET", "/nope")
    assert status == 401  # unauthenticated callers cannot probe for routes
    status, payload, _ = await call(http, server, "GET", "/nope", headers=auth(token))
    assert status == 404 and "GET /nope" in payload["error"]
    status, payload, response = await call(http, server, "GET", "/provider", headers=auth(token))
    assert status == 405 and "POST" in response.headers["Allow"]


@pytest.mark.parametrize("method,path,body", ROUTES)
async def test_every_route_accepts_the_token(http: aiohttp.ClientSession, server: ControlServer,
                                             token: Secret, method: str, path: str, body: Any) -> None:
    status, _, _ = await call(http, server, method, path, body, auth(token))
    assert status == OK_STATUS.get(path, 200)
    lower = {"Authorization": f"bearer {token.reveal()}"}
    status, _, _ = await call(http, server, method, path, body, lower)
    assert status == OK_STATUS.get(path, 200)


# ── routes ───────────────────────────────────────────────────────────────────────────────────

async def test_status_round_trip(client: ControlClient, target: FakeTarget) -> None:
    assert await client.status() == target.snapshot_dict()


async def test_switch_provider(client: ControlClient, target: FakeTarget) -> None:
    assert await client.switch_provider("gemini") == {"ok": True, "provider": "gemini"}
    assert target.calls == [("provider", "gemini")] and target.provider == "gemini"
    with pytest.raises(ControlError) as err:
        await client.switch_provider("mistral")
    assert err.value.status == 400
    assert str(err.value).endswith("400: unknown provider 'mistral'; known: groq, openai, gemini")


async def test_restart_all_and_one(client: ControlClient, target: FakeTarget) -> None:
    result = await client.restart()
    assert result == {"ok": True, "changes": ["worker 1 restarted", "worker 2 restarted"], "error": None}
    assert (await client.restart(2))["changes"] == ["worker 2 restarted"]
    assert target.calls == [("restart", None), ("restart", 2)]
    with pytest.raises(ControlError, match="400: no worker 9"):
        await client.restart(9)
    preview = await client.restart_preview()  # GET: what a restart would apply, nothing restarted
    assert preview["changes"] == ["engine.time_scale: 1.0 → 3.0"] and target.calls[-1] == ("preview", None)


async def test_restart_accepts_an_empty_body(http: aiohttp.ClientSession, server: ControlServer,
                                             target: FakeTarget, token: Secret) -> None:
    status, _, _ = await call(http, server, "POST", "/workers/restart", headers=auth(token), data=b"")
    assert status == 200 and target.calls == [("restart", None)]


async def test_simulation(client: ControlClient, target: FakeTarget) -> None:
    assert await client.simulation(False) == {"ok": True, "running": False}
    assert await client.simulation(True) == {"ok": True, "running": True}
    assert target.calls == [("simulation", False), ("simulation", True)]


async def test_human(client: ControlClient, target: FakeTarget) -> None:
    assert await client.post_human("piyasa-local", "Dolar ne olur?", "Operatör") == {"ok": True, "message_id": 7}
    assert target.calls[-1] == ("human", "piyasa-local", "Dolar ne olur?", "Operatör")
    with pytest.raises(ControlError, match="400: unknown chat 'yok'") as err:
        await client.post_human("yok", "Selam", "Operatör")
    assert err.value.status == 400
    with pytest.raises(ControlError, match="400: text is empty"):
        await client.post_human("piyasa-local", "  ", "Operatör")


async def test_benchmark_not_implemented_is_501(client: ControlClient, target: FakeTarget) -> None:
    with pytest.raises(ControlError) as err:
        await client.benchmark("start", duration="10m", time_scale=60)
    assert err.value.status == 501
    assert str(err.value).endswith("501: benchmark mode is not available in this build")
    assert target.calls == [("benchmark", "start", {"duration": "10m", "time_scale": 60})]


async def test_metrics_needs_token_and_keeps_the_content_type(
        http: aiohttp.ClientSession, server: ControlServer, client: ControlClient, token: Secret) -> None:
    assert await client.metrics_text() == METRICS.decode()
    status, _, response = await call(http, server, "GET", "/metrics", headers=auth(token))
    assert status == 200 and response.headers["Content-Type"] == METRICS_TYPE


@pytest.mark.parametrize("path,data,field", [
    ("/provider", b"{not json", "JSON"),
    ("/provider", b"[1, 2]", "JSON object"),
    ("/provider", b"", "JSON object"),
    ("/provider", b"{}", '"name"'),
    ("/provider", b'{"name": 3}', '"name"'),
    ("/workers/restart", b'{"worker": "2"}', '"worker"'),
    ("/workers/restart", b'{"worker": true}', '"worker"'),
    ("/simulation", b"{}", '"running"'),
    ("/simulation", b'{"running": "no"}', '"running"'),
    ("/human", b'{"text": "x"}', '"chat"'),
    ("/human", b'{"chat": "piyasa-local", "text": 5}', '"text"'),
    ("/human", b'{"chat": "piyasa-local", "text": "x", "name": ""}', '"name"'),
    ("/benchmark", b'{"action": "explode"}', '"action"'),
    ("/benchmark", b'{"action": "start", "duration": 600}', '"duration"'),
    ("/benchmark", b'{"action": "start", "time_scale": -1}', '"time_scale"'),
])
async def test_bad_bodies_are_400_naming_the_field(http: aiohttp.ClientSession, server: ControlServer,
                                                   target: FakeTarget, token: Secret, path: str,
                                                   data: bytes, field: str) -> None:
    headers = {**auth(token), "Content-Type": "application/json"}
    status, payload, _ = await call(http, server, "POST", path, headers=headers, data=data)
    assert status == 400
    assert field in payload["error"] and "\n" not in payload["error"]
    assert target.calls == []


async def test_unexpected_errors_are_500_without_secrets(http: aiohttp.ClientSession, server: ControlServer,
                                                         target: FakeTarget, token: Secret,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    target.fail_with = RuntimeError(f"worker pipe broke\nwhile using {token.reveal()}")
    status, payload, _ = await call(http, server, "POST", "/simulation", {"running": False}, auth(token))
    assert status == 500
    assert payload["error"].startswith("internal error: RuntimeError: worker pipe broke")
    assert token.reveal() not in payload["error"] and "\n" not in payload["error"]
    assert token.reveal() not in caplog.text


# ── events ───────────────────────────────────────────────────────────────────────────────────

async def test_events_snapshot_then_pushed_message_then_unsubscribe(
        server: ControlServer, target: FakeTarget, token: Secret) -> None:
    assert server.url is not None
    ctl = ControlClient(server.url, token, timeout=10)
    stream = ctl.events()
    kind, data = await asyncio.wait_for(stream.__anext__(), 10)
    assert (kind, data) == ("snapshot", target.snapshot_dict())
    assert len(target.queues) == 1 and server.open_streams == 1

    message = {"message_id": 3, "bot": "Ayşe Hanım", "text": "BIST güne artıyla başladı\nikinci satır"}
    started = time.monotonic()
    target.push({"type": "message", "data": message})
    kind, data = await asyncio.wait_for(stream.__anext__(), 5)
    assert (kind, data) == ("message", message)
    print(f"\npushed message arrived after {(time.monotonic() - started) * 1000:.1f} ms")

    target.push({"type": "notice", "data": {"level": "warning", "text": "groq 429"}})
    assert await asyncio.wait_for(stream.__anext__(), 5) == ("notice", {"level": "warning", "text": "groq 429"})

    await ctl.close()
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(stream.__anext__(), 10)
    assert await wait_until(lambda: target.queues == [] and server.open_streams == 0)


async def test_events_raw_format_and_heartbeat(http: aiohttp.ClientSession, server: ControlServer,
                                               target: FakeTarget, token: Secret) -> None:
    async with http.get(f"{server.url}/events", headers=auth(token)) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        first = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5)
        assert first.startswith(b"event: snapshot\ndata: {")
        assert json.loads(first.split(b"data: ", 1)[1]) == target.snapshot_dict()
        ping = await asyncio.wait_for(response.content.readuntil(b"\n\n"), 5)  # heartbeat=0.2 s
        assert ping == b": ping\n\n"
    assert await wait_until(lambda: target.queues == [])


async def test_events_reconnect_after_server_restart(target: FakeTarget, token: Secret) -> None:
    first = ControlServer(target, token, port=0)
    port = await first.start()
    ctl = ControlClient(control_url("127.0.0.1", port), token, timeout=1)
    stream = ctl.events()
    try:
        assert (await asyncio.wait_for(stream.__anext__(), 2))[0] == "snapshot"
        started = time.monotonic()
        await first.stop()
        assert time.monotonic() - started < 2  # open streams do not hold up a stop
        kind, data = await asyncio.wait_for(stream.__anext__(), 2)
        assert kind == "disconnected" and data["retry_in"] == 0.5
        assert token.reveal() not in data["error"]
        second = ControlServer(target, token, port=port)
        await second.start()
        try:
            while True:
                kind, _ = await asyncio.wait_for(stream.__anext__(), 5)
                if kind == "snapshot":
                    break
                assert kind == "disconnected"
        finally:
            await ctl.close()
            await second.stop()
    finally:
        await ctl.close()
        await stream.aclose()


async def test_events_with_wrong_token_raise_at_once(server: ControlServer, token: Secret) -> None:
    assert server.url is not None
    async with ControlClient(server.url, Secret("not-the-token"), timeout=1) as ctl:
        with pytest.raises(ControlError, match="401: missing or wrong bearer token"):
            await asyncio.wait_for(ctl.events().__anext__(), 2)


async def test_events_give_up_after_retries_on_a_closed_port(token: Secret) -> None:
    async with ControlClient(control_url("127.0.0.1", free_port()), token, timeout=1) as ctl:
        seen = []
        with pytest.raises(ControlError, match="connection refused"):
            async for kind, _ in ctl.events(retries=1):
                seen.append(kind)
        assert seen == ["disconnected"]


# ── hosts and urls ───────────────────────────────────────────────────────────────────────────

@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "10.0.0.1", "example.com",
                                  "::ffff:127.0.0.1", ""])
def test_non_loopback_host_refused(target: FakeTarget, token: Secret, host: str) -> None:
    with pytest.raises(ValueError, match="only 127.0.0.0/8 or ::1"):
        ControlServer(target, token, host=host)


@pytest.mark.parametrize("host,expected", [("127.0.0.1", "127.0.0.1"), ("127.8.9.10", "127.8.9.10"),
                                           ("::1", "::1"), ("[::1]", "::1"), ("localhost", "127.0.0.1")])
def test_loopback_hosts_accepted(host: str, expected: str) -> None:
    assert loopback_host(host) == expected


def test_control_url() -> None:
    assert control_url("127.0.0.1", 8765) == "http://127.0.0.1:8765"
    assert control_url("::1", 9000) == "http://[::1]:9000"


async def test_port_in_use_is_a_one_line_error(server: ControlServer, target: FakeTarget,
                                               token: Secret) -> None:
    assert server.url is not None
    port = int(server.url.rsplit(":", 1)[1])
    with pytest.raises(ControlError, match="cannot listen on http://127.0.0.1:") as err:
        await ControlServer(target, token, port=port).start()
    assert "\n" not in str(err.value)


# ── token file ───────────────────────────────────────────────────────────────────────────────

def test_token_file_created_0600_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    token = resolve_token(None, data_dir)
    path = data_dir / "control.token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() == token.reveal() and len(token.reveal()) >= 40
    assert resolve_token(None, data_dir) == token
    assert resolve_token("", data_dir) == token
    assert [p.name for p in data_dir.iterdir()] == ["control.token"]  # no temp files left
    assert str(token) == "***" and token.reveal() not in repr(token)


def test_env_token_wins(tmp_path: Path) -> None:
    assert resolve_token("from-env-token", tmp_path).reveal() == "from-env-token"
    assert not (tmp_path / "control.token").exists()


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_token_file_refused_when_readable_by_others(tmp_path: Path, mode: int) -> None:
    value = resolve_token(None, tmp_path).reveal()
    path = tmp_path / "control.token"
    path.chmod(mode)
    with pytest.raises(ConfigError) as err:
        resolve_token(None, tmp_path)
    message = str(err.value)
    assert "readable by group/other" in message and f"{mode:04o}" in message and "chmod 600" in message
    assert "\n" not in message and value not in message


def test_empty_token_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "control.token"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    with pytest.raises(ConfigError, match="is empty"):
        resolve_token(None, tmp_path)


# ── client errors ────────────────────────────────────────────────────────────────────────────

async def test_client_error_for_a_closed_port(token: Secret) -> None:
    url = control_url("127.0.0.1", free_port())
    async with ControlClient(url, token, timeout=1) as ctl:
        with pytest.raises(ControlError) as err:
            await ctl.status()
    message = str(err.value)
    assert message == f"control API at {url}: connection refused (is piyasa-tui --serve running?)"
    assert err.value.status is None and err.value.exit_code == 1
    assert isinstance(err.value, PiyasaError)


async def test_client_error_for_a_wrong_token(server: ControlServer) -> None:
    wrong = Secret("wrong-" + secrets.token_urlsafe(16))
    assert server.url is not None
    async with ControlClient(server.url, wrong, timeout=1) as ctl:
        with pytest.raises(ControlError) as err:
            await ctl.switch_provider("groq")
    message = str(err.value)
    assert message == f"control API at {server.url}: 401: missing or wrong bearer token"
    assert err.value.status == 401 and wrong.reveal() not in message and "\n" not in message


async def test_closed_client_refuses(client: ControlClient) -> None:
    await client.close()
    with pytest.raises(ControlError, match="client is closed"):
        await client.status()


# ── discovery ────────────────────────────────────────────────────────────────────────────────

async def test_discover_finds_a_running_server(target: FakeTarget, tmp_path: Path) -> None:
    token = resolve_token(None, tmp_path)
    srv = ControlServer(target, token, port=0, data_dir=tmp_path)
    port = await srv.start()
    try:
        state = json.loads((tmp_path / "control.json").read_text())
        assert state == {"url": f"http://127.0.0.1:{port}", "pid": os.getpid()}
        assert stat.S_IMODE((tmp_path / "control.json").stat().st_mode) == 0o600
        found = discover(tmp_path)
        assert found == (f"http://127.0.0.1:{port}", token)
        url, found_token = found
        assert await asyncio.to_thread(fetch_status, url, found_token) == target.snapshot_dict()
        assert discover(tmp_path, env_token="from-env")[1].reveal() == "from-env"  # type: ignore[index]
    finally:
        await srv.stop()
    assert not (tmp_path / "control.json").exists()
    assert discover(tmp_path) is None


def test_discover_ignores_stale_and_missing_files(tmp_path: Path) -> None:
    assert discover(tmp_path) is None
    resolve_token(None, tmp_path)
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(proc.stdout)
    (tmp_path / "control.json").write_text(json.dumps({"url": "http://127.0.0.1:1", "pid": dead_pid}))
    assert discover(tmp_path) is None
    (tmp_path / "control.json").write_text("{broken")
    assert discover(tmp_path) is None


def test_fetch_status_error_is_one_line(token: Secret) -> None:
    url = control_url("127.0.0.1", free_port())
    with pytest.raises(ControlError, match=r"connection refused \(is piyasa-tui --serve running\?\)$"):
        fetch_status(url, token, timeout=1)
